//! A short smoke of every fuzz target (`noisescope::fuzzing::TARGETS`): 10⁴
//! inputs each, mutated from the committed corpus with a seeded generator, none
//! of which may panic or make one allocation over the targets' limit. The long
//! runs are coverage-guided, under libFuzzer: `bash fuzz/run`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use noisescope::fuzzing::{ALLOCATION_LIMIT_BYTES, TARGETS, Target};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Counts the largest single allocation this thread has made.
struct LargestAllocation;

thread_local! {
    static LARGEST_BYTES: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// thread-local is a const-initialised `Cell` that never allocates or drops.
unsafe impl GlobalAlloc for LargestAllocation {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LARGEST_BYTES.try_with(|largest| largest.set(largest.get().max(layout.size())));
        // SAFETY: the caller's layout contract is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = LARGEST_BYTES.try_with(|largest| largest.set(largest.get().max(new_size)));
        // SAFETY: as for `alloc`; `ptr` came from this allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

const INPUTS_PER_TARGET: usize = 10_000;

/// Tokens that parsers of numbers and formats trip on.
const TOKENS: &[&[u8]] = &[
    b"0",
    b"-1",
    b"1e308",
    b"nan",
    b"inf",
    b"4294967296",
    b"18446744073709551616",
    b"99999999999",
    b"=",
    b"\n",
    b"[[stop]]\n",
    b"[stop]\n",
    b"\"",
    b",",
    b"--steps",
    b"--train-steps",
    b"\xff\xff\xff\xff",
    b"\x00\x00\x00\x00",
];

fn corpus_dir(target: &Target) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target.name)
}

fn corpus(target: &Target) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir(target))
        .unwrap_or_else(|e| panic!("fuzz/corpus/{}: {e}", target.name))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|path| std::fs::read(path).unwrap()).collect()
}

/// One to eight edits of a corpus entry: bit flips, overwritten, inserted,
/// deleted and duplicated bytes, tokens, truncation and splices.
fn mutate(rng: &mut ChaCha8Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut input = corpus[rng.random_range(0..corpus.len())].clone();
    for _ in 0..rng.random_range(1..=8) {
        let at = rng.random_range(0..=input.len());
        match rng.random_range(0..7) {
            0 if at < input.len() => input[at] ^= 1 << rng.random_range(0..8),
            1 if at < input.len() => input[at] = [0, 0xff, 0x7f, 0x80, b'9'][rng.random_range(0..5)],
            2 => {
                let token = TOKENS[rng.random_range(0..TOKENS.len())];
                input.splice(at..at, token.iter().copied());
            }
            3 => {
                let end = rng.random_range(at..=input.len().min(at + 16));
                input.drain(at..end);
            }
            4 => {
                let end = rng.random_range(at..=input.len().min(at + 32));
                let copy = input[at..end].to_vec();
                let to = rng.random_range(0..=input.len());
                input.splice(to..to, copy);
            }
            5 => input.truncate(at),
            _ => {
                let other = &corpus[rng.random_range(0..corpus.len())];
                let from = rng.random_range(0..=other.len());
                input.truncate(at);
                input.extend_from_slice(&other[from..]);
            }
        }
    }
    input
}

fn hex_prefix(input: &[u8]) -> String {
    input.iter().take(96).map(|b| format!("{b:02x}")).collect()
}

/// Runs one input, returning its largest allocation and how long it took.
fn run_one(target: &Target, input: &[u8]) -> (usize, Duration) {
    LARGEST_BYTES.with(|largest| largest.set(0));
    let started = Instant::now();
    let outcome = std::panic::catch_unwind(|| (target.run)(input));
    let took = started.elapsed();
    assert!(
        outcome.is_ok(),
        "fuzz target {} panicked on {} bytes: {}",
        target.name,
        input.len(),
        hex_prefix(input)
    );
    (LARGEST_BYTES.with(Cell::get), took)
}

#[test]
fn every_fuzz_target_survives_ten_thousand_mutated_inputs() {
    for target in TARGETS {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fuzz/fuzz_targets/{}.rs", target.name));
        assert!(source.is_file(), "no libFuzzer binary for target {}", target.name);
        let corpus = corpus(target);
        assert!(!corpus.is_empty(), "fuzz/corpus/{} is empty", target.name);
        let mut rng = ChaCha8Rng::seed_from_u64(17);
        let (mut largest, mut slowest) = (0, Duration::ZERO);
        for i in 0..INPUTS_PER_TARGET + corpus.len() {
            let input = corpus.get(i).cloned().unwrap_or_else(|| mutate(&mut rng, &corpus));
            let (bytes, took) = run_one(target, &input);
            assert!(
                bytes <= ALLOCATION_LIMIT_BYTES,
                "fuzz target {} allocated {bytes} bytes at once on {}",
                target.name,
                hex_prefix(&input)
            );
            largest = largest.max(bytes);
            slowest = slowest.max(took);
        }
        println!(
            "{:>15}: {} inputs, largest allocation {} KiB, slowest input {:.1} ms",
            target.name,
            INPUTS_PER_TARGET + corpus.len(),
            largest >> 10,
            slowest.as_secs_f64() * 1e3
        );
    }
}
