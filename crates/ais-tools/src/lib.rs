//! Operator tools. Each `src/bin/ais-*.rs` parses its arguments and calls the `run` of its
//! module here, so the logic is testable without a process.
//!
//! `cmapctl`, `quorumtool`, `cfgtool` and `cpgtool` take corosync 3.1.7's flags and print
//! what its `corosync-*` tools print, byte for byte; each module's doc lists the few
//! differences. Their formatting functions are pure (data in, bytes out), so the unit
//! tests compare them with corosync's own output.

pub mod bench;
pub mod cfgtool;
pub mod cmapctl;
pub mod cpgtool;
pub mod cs;
pub mod keygen;
pub mod quorumtool;
pub mod sys;
