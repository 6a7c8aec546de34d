//! Soak benchmark (prints figures; asserts nothing).
//!
//!     cargo bench --bench soak [-- RUNS]      (default 200 runs)
//!
//! Drives the explorer through the same restless runs as `tests/soak.rs`
//! (sampler, steps and scene change; every other run is cancelled in the
//! middle) and prints, after each run, the process's resident memory, the GPU
//! memory the window holds and its threads, then the growth after the
//! 60-run warm-up.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "../common/mod.rs"]
mod common;

use common::soak::WARM_UP_RUNS;

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

fn main() {
    let runs = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse::<usize>().ok())
        .unwrap_or(200);
    println!("run,scene,cancelled,resident_mib,heap_mib,gpu_mib,threads");
    let samples = common::soak::soak(runs, |s| {
        println!(
            "{},{},{},{:.1},{:.1},{:.2},{}",
            s.run,
            s.scene,
            s.cancelled,
            mib(s.resident_bytes),
            mib(s.heap_bytes),
            mib(s.gpu_bytes),
            s.threads
        );
    });
    let Some(last) = samples.last() else {
        return;
    };
    let warm = &samples[WARM_UP_RUNS.min(samples.len()) - 1];
    let peak = samples.iter().map(|s| s.resident_bytes).max().unwrap();
    println!(
        "resident: {:.1} MiB after the warm-up (run {}), {:.1} MiB after run {}, peak {:.1} MiB; growth {:+.1} MiB",
        mib(warm.resident_bytes),
        warm.run,
        mib(last.resident_bytes),
        last.run,
        mib(peak),
        mib(last.resident_bytes) - mib(warm.resident_bytes)
    );
}
