//! The `noisescope` binary: the command line over the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    limit_candle_thread_lookup();
    keep_freed_memory();
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
///
/// Also `CANDLE_NUM_THREADS=1`, which leaves candle's element-wise thread pool
/// without workers (the calling thread does the work). perf on `train`
/// (batch 32, 2 cores): its one worker did 0.1% of the element-wise work, since
/// the calling thread claims the chunks before it wakes, yet spun for 11% of
/// all CPU time after each backward add, beside rayon's two workers that run
/// the convolutions. The network's own kernels run on rayon, not on that pool.
fn limit_candle_thread_lookup() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        // SAFETY: called first thing in main, before any other thread exists.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", threads.to_string()) };
    }
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // SAFETY: as above, no other thread exists yet.
        unsafe { std::env::set_var("CANDLE_NUM_THREADS", "1") };
    }
}

/// glibc hands every buffer over its mmap threshold straight back to the
/// kernel on `free`, so each network layer's output was a fresh mapping,
/// page-faulted in again: measured here, a DDIM-50 batch of 16 spent 0.7 s of
/// 2.8 s in the kernel; with freed memory kept for reuse, 0.2 s of 2.35 s.
/// 32 MiB is the largest threshold glibc accepts; it covers a batch-64 activation.
/// The heap's top is trimmed only beyond 1 GiB, so memory stays at the
/// process's peak: with 64 MiB, batch-64 training gave its freed activations
/// back after every step and faulted them in again (perf: 7% of the worker
/// threads' time; 2.06–2.12 against 1.94–1.96 steps/s, peak RSS unchanged).
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const KEEP_BYTES: libc::c_int = 32 << 20;
        // SAFETY: mallopt only sets allocator parameters; it is called before
        // any other thread exists. A refusal (return 0) just keeps the defaults.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, KEEP_BYTES);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        }
    }
}
