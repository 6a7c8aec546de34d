#![no_main]
//! `noisescope::fuzzing::session_file` under libFuzzer.

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| noisescope::fuzzing::session_file(bytes));
