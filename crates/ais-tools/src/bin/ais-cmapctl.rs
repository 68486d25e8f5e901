//! `ais-cmapctl`: corosync-cmapctl's flags and output. See [`ais_tools::cmapctl`].

use std::process::ExitCode;

use ais_tools::cmapctl::{self, CmapctlArgs};
use clap::Parser;

fn main() -> anyhow::Result<ExitCode> {
    cmapctl::run(CmapctlArgs::parse())
}
