#![no_main]
//! `noisescope::fuzzing::lesson_file` under libFuzzer.

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| noisescope::fuzzing::lesson_file(bytes));
