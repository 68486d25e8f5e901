//! Operator tools. Each `src/bin/ais-*.rs` parses its arguments and calls the `run` of its
//! module here, so the logic is testable without a process.

pub mod bench;
pub mod cpgtool;
pub mod keygen;
