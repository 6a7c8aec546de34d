#![no_main]
//! `noisescope::fuzzing::model_metadata` under libFuzzer.

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| noisescope::fuzzing::model_metadata(bytes));
