#![no_main]
//! `noisescope::fuzzing::idx` under libFuzzer.

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| noisescope::fuzzing::idx(bytes));
