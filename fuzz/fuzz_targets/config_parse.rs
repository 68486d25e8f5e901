#![no_main]
//! Arbitrary bytes, as lossy UTF-8, into the corosync.conf parser.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ais_config::fuzzing::config_parse(data));
