//! `aisexec`, the executive daemon: reads the configuration, authenticates every packet with
//! the cluster's key, and runs the Totem ring over UDP on one thread.
//!
//! Layout: [`cli`] parses flags; `setup` turns the configuration into the transport's and
//! the core's settings (the local node, its links, the key); `event_loop` is the one
//! thread; `state_dir` keeps what survives a restart; `logging` installs the log sinks;
//! `local_cluster` runs a demonstration cluster on loopback.

pub mod cli;
mod clients;
mod clock;
mod cmap_keys;
mod event_loop;
mod local_cluster;
mod logging;
mod reload;
mod setup;
mod state_dir;

use std::process::{Command, ExitCode, Stdio};

use anyhow::Context;

use crate::cli::Args;

/// Runs `aisexec` with parsed arguments.
pub fn main(args: Args) -> ExitCode {
    if args.version {
        println!(
            "AIS Cluster Engine, version '{}'",
            env!("CARGO_PKG_VERSION")
        );
        return ExitCode::SUCCESS;
    }
    if args.local_cluster {
        return report(local_cluster::run(&args));
    }
    let loaded = match setup::load_config(args.config.as_deref()) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("{e:#}");
            return ExitCode::from(1);
        }
    };
    if args.test_config {
        for warning in &loaded.warnings {
            eprintln!("warning: {warning}");
        }
        println!("{}: configuration is valid", loaded.source);
        return ExitCode::SUCCESS;
    }
    if !args.foreground {
        return report(daemonize());
    }
    report(run_foreground(&args, loaded))
}

fn report(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            // Once logging is installed the error goes where the operator reads the log.
            if tracing::dispatcher::has_been_set() {
                tracing::error!("{e:#}");
            } else {
                eprintln!("aisexec: {e:#}");
            }
            ExitCode::from(1)
        }
    }
}

fn run_foreground(args: &Args, loaded: setup::Loaded) -> anyhow::Result<ExitCode> {
    let mut log = setup::log_settings(&loaded.config);
    log.tag.clone_from(&args.log_tag);
    logging::install(&log)?;
    tracing::info!(
        "AIS Cluster Engine {} starting; configuration {}",
        env!("CARGO_PKG_VERSION"),
        loaded.source
    );
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let clock = clock::Clock::new();
    let now = clock.now();
    let daemon = setup::build(&loaded, clock, now)?;
    setup::apply_system_settings(&loaded.config);
    match daemon.run()? {
        event_loop::Exit::Signal | event_loop::Exit::Requested => Ok(ExitCode::SUCCESS),
    }
}

/// Without `-f`, corosync detaches; so do we: the same command again with `-f`, in a new
/// session, with no terminal. Configuration errors were already reported above.
fn daemonize() -> anyhow::Result<ExitCode> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().context("cannot find the aisexec binary")?;
    let mut command = Command::new(exe);
    command
        .arg("-f")
        .args(std::env::args_os().skip(1))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid(2) is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command.spawn().context("cannot start the daemon")?;
    println!("aisexec running in the background (pid {})", child.id());
    Ok(ExitCode::SUCCESS)
}
