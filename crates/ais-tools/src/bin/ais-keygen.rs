//! `ais-keygen`: writes the cluster's shared authentication key. See [`ais_tools::keygen`].

use std::process::ExitCode;

use ais_tools::keygen::{self, KeygenArgs};
use clap::Parser;

fn main() -> anyhow::Result<ExitCode> {
    keygen::run(KeygenArgs::parse())
}
