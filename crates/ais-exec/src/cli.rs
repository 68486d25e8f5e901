//! `aisexec`'s command line: corosync's flags, plus the local cluster.

use std::path::PathBuf;

/// The executive daemon of the ais cluster engine: runs the Totem ring on this node.
#[derive(clap::Parser, Debug)]
#[command(about, disable_version_flag = true)]
pub struct Args {
    /// Stay in the foreground (do not daemonize).
    #[arg(short = 'f')]
    pub foreground: bool,
    /// Configuration file [default: $AIS_MAIN_CONFIG_FILE, else /etc/ais/ais.conf, else the
    /// embedded single-node configuration].
    #[arg(short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Test the configuration and exit: 0 if it is valid, 1 with file:line errors if not.
    #[arg(short = 't')]
    pub test_config: bool,
    /// Print the version and exit.
    #[arg(short = 'v')]
    pub version: bool,
    /// Start a cluster of `--nodes` daemons on 127.0.0.1… with their own state directories,
    /// key and configuration, show it forming, carrying messages, losing a node and taking
    /// it back, then keep it running until interrupted.
    #[arg(long)]
    pub local_cluster: bool,
    /// Nodes of the local cluster.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(2..=16))]
    pub nodes: u32,
    /// First UDP port of the local cluster.
    #[arg(long, default_value_t = 15405)]
    pub port: u16,
    /// With --local-cluster: stop after the demonstration instead of running on.
    #[arg(long, hide = true)]
    pub once: bool,
    /// Prefix every log line with TAG.
    #[arg(long, value_name = "TAG", hide = true)]
    pub log_tag: Option<String>,
}
