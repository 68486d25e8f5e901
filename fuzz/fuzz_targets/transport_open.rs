#![no_main]
//! Arbitrary bytes into the packet opener, in every crypto mode.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ais_transport::crypto::fuzzing::transport_open(data));
