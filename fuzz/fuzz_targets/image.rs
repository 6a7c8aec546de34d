#![no_main]
//! `noisescope::fuzzing::image` under libFuzzer.

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| noisescope::fuzzing::image(bytes));
