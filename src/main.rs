//! The `noisescope` binary: the command line over the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    limit_candle_thread_lookup();
    let mut stdout = std::io::stdout().lock();
    match noisescope::cli::run(std::env::args_os(), &mut stdout) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// candle 0.11 re-reads /proc for the CPU count on every matmul unless
/// `RAYON_NUM_THREADS` is set (../shared/STACK.md); set it once, up front.
fn limit_candle_thread_lookup() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        // SAFETY: called first thing in main, before any other thread exists.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", threads.to_string()) };
    }
}
