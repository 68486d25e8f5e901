#![no_main]
//! Arbitrary bytes as ring messages and client requests into a node's services (sync, CPG,
//! cfg).
libfuzzer_sys::fuzz_target!(|data: &[u8]| ais_services::fuzzing::fuzz_services(data));
