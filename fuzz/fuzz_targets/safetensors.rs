#![no_main]
//! `noisescope::fuzzing::safetensors` under libFuzzer.

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| noisescope::fuzzing::safetensors(bytes));
