#![no_main]
//! `noisescope::fuzzing::mixture_json` under libFuzzer.

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| noisescope::fuzzing::mixture_json(bytes));
