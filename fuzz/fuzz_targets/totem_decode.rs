#![no_main]
//! Arbitrary bytes into the Totem packet decoder.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ais_totem::testing::fuzz_decode(data));
