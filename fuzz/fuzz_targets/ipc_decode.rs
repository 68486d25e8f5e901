#![no_main]
//! Arbitrary bytes into every client IPC decoder (libqb setup and headers, CPG messages).
libfuzzer_sys::fuzz_target!(|data: &[u8]| ais_wire::ipc::fuzzing::fuzz_ipc_decode(data));
