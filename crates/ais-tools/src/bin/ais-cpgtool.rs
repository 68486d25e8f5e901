//! `ais-cpgtool`: lists CPG groups and members. See [`ais_tools::cpgtool`].

use std::process::ExitCode;

use ais_tools::cpgtool::{self, CpgtoolArgs};
use clap::Parser;

fn main() -> anyhow::Result<ExitCode> {
    cpgtool::run(CpgtoolArgs::parse())
}
