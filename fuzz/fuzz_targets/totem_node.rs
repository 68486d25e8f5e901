#![no_main]
//! Arbitrary packet sequences and time steps into one Totem processor.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ais_totem::testing::fuzz_node(data));
