//! The soak: the explorer driven through 200 runs (the sampler, the steps and
//! the scene change; every other run is cancelled in the middle) holds its
//! resident memory, its heap, its GPU memory and its threads flat after a
//! warm-up, and never shows a frame of a run that was replaced (checked after
//! every frame, in `common::soak`). A test binary of its own, so no other
//! test's threads or memory share the process it measures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use common::soak::{RunSample, WARM_UP_RUNS};
/// How far the heap may rise above the warm-up's largest value: the exact
/// leak measure (free memory the allocator keeps does not count). A 40-step 2D
/// run's frames (x_t, x̂0 and ε̂ of 2000 points) are 2 MiB, so keeping one
/// run's frames per run would cross it within 16 runs.
const HEAP_GROWTH_LIMIT_BYTES: u64 = 32 << 20;
/// The same for resident memory, looser: the driver's pools (lavapipe keeps
/// GPU memory in the process) and the allocator's free lists move it by tens
/// of MiB from run to run.
const RESIDENT_GROWTH_LIMIT_BYTES: u64 = 96 << 20;

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

/// The largest value of `field` over `samples`.
fn peak(samples: &[RunSample], field: fn(&RunSample) -> u64) -> u64 {
    samples.iter().map(field).max().unwrap()
}

#[test]
fn a_soak_of_200_runs_holds_memory_and_threads_flat_and_never_shows_a_cancelled_frame() {
    let samples = common::soak::soak(200, |_| {});
    let (warm_up, rest) = samples.split_at(WARM_UP_RUNS);
    let warm_resident = peak(warm_up, |s| s.resident_bytes);
    let warm_heap = peak(warm_up, |s| s.heap_bytes);
    let warm_gpu = peak(warm_up, |s| s.gpu_bytes);
    let warm_threads = warm_up.last().unwrap().threads;
    for sample in rest {
        let run = sample.run;
        let within = |what: &str, bytes: u64, warm: u64, limit: u64| {
            assert!(
                bytes <= warm + limit,
                "run {run}: {what} {:.0} MiB grew past the warm-up's {:.0} MiB + {:.0} MiB",
                mib(bytes),
                mib(warm),
                mib(limit)
            );
        };
        within(
            "resident memory",
            sample.resident_bytes,
            warm_resident,
            RESIDENT_GROWTH_LIMIT_BYTES,
        );
        within("the heap", sample.heap_bytes, warm_heap, HEAP_GROWTH_LIMIT_BYTES);
        assert!(
            sample.gpu_bytes <= warm_gpu,
            "run {run}: GPU memory {:.1} MiB grew past the warm-up's {:.1} MiB",
            mib(sample.gpu_bytes),
            mib(warm_gpu)
        );
        assert!(
            sample.threads <= warm_threads,
            "run {run}: {} threads, {warm_threads} after the warm-up",
            sample.threads
        );
    }
    println!(
        "soak: resident {:.0} MiB at most in the warm-up, {:.0} MiB at most after it; heap {:.0} / {:.0} MiB; \
         GPU {:.1} / {:.1} MiB; threads {warm_threads} / {}",
        mib(warm_resident),
        mib(peak(rest, |s| s.resident_bytes)),
        mib(warm_heap),
        mib(peak(rest, |s| s.heap_bytes)),
        mib(warm_gpu),
        mib(peak(rest, |s| s.gpu_bytes)),
        rest.iter().map(|s| s.threads).max().unwrap()
    );
}
