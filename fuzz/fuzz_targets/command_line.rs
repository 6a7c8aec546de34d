#![no_main]
//! `noisescope::fuzzing::command_line` under libFuzzer.

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| noisescope::fuzzing::command_line(bytes));
