//! `ais-bench`: CPG throughput and latency across a cluster. See [`ais_tools::bench`].

use std::process::ExitCode;

use ais_tools::bench::{self, BenchArgs};
use clap::Parser;

fn main() -> anyhow::Result<ExitCode> {
    bench::run(BenchArgs::parse())
}
