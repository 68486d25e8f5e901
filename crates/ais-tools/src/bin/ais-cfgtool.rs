//! `ais-cfgtool`: corosync-cfgtool's flags and output. See [`ais_tools::cfgtool`].

use std::process::ExitCode;

use ais_tools::cfgtool::{self, CfgtoolArgs};
use clap::Parser;

fn main() -> anyhow::Result<ExitCode> {
    cfgtool::run(CfgtoolArgs::parse())
}
