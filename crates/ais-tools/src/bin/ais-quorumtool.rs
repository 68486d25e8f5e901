//! `ais-quorumtool`: corosync-quorumtool's flags and output. See [`ais_tools::quorumtool`].

use std::process::ExitCode;

use ais_tools::quorumtool::{self, QuorumtoolArgs};
use clap::Parser;

fn main() -> anyhow::Result<ExitCode> {
    quorumtool::run(QuorumtoolArgs::parse())
}
