//! `aisexec`: see `ais_exec`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    ais_exec::main(ais_exec::cli::Args::parse())
}
