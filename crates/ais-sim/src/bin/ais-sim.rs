//! `ais-sim`: replay one seed with a per-event trace, sweep many seeds, or measure failover.

use std::ops::RangeInclusive;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use ais_sim::{RunOptions, measure_failover, parse_bug, run_seed};

/// Deterministic simulator of Totem clusters under faults.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay one seed, printing one line per event.
    Run {
        /// The seed (decimal or 0x-hex).
        #[arg(long, value_parser = parse_seed)]
        seed: u64,
        /// Cluster sizes the seed picks from, `A..B` (inclusive) or `N`.
        #[arg(long, default_value = "3..7", value_parser = parse_nodes)]
        nodes: RangeInclusive<usize>,
        /// Plant a protocol bug: deliver-before-gap, skip-retransmission,
        /// install-without-consensus, safe-when-agreed, lose-fifth-frame.
        #[arg(long)]
        bug: Option<String>,
        /// Print only the verdict, not the trace.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Run many seeds and count invariant violations.
    Sweep {
        /// Number of seeds.
        #[arg(long)]
        seeds: u64,
        /// First seed.
        #[arg(long, default_value = "0", value_parser = parse_seed)]
        start: u64,
        /// Cluster sizes, `A..B` (inclusive) or `N`.
        #[arg(long, default_value = "3..7", value_parser = parse_nodes)]
        nodes: RangeInclusive<usize>,
        /// Plant a protocol bug (see `run`).
        #[arg(long)]
        bug: Option<String>,
        /// Worker threads.
        #[arg(long, default_value_t = 2)]
        jobs: usize,
    },
    /// Time from a crash to the survivors' new configuration, default timers.
    Failover {
        /// Cluster sizes, comma-separated.
        #[arg(long, default_value = "3,16,64", value_delimiter = ',')]
        nodes: Vec<usize>,
    },
}

fn parse_seed(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    r.map_err(|e| format!("bad seed {s:?}: {e}"))
}

fn parse_nodes(s: &str) -> Result<RangeInclusive<usize>, String> {
    let (a, b) = match s.split_once("..") {
        Some((a, b)) => (a, b.trim_start_matches('=')),
        None => (s, s),
    };
    let a: usize = a.parse().map_err(|_| format!("bad node count {a:?}"))?;
    let b: usize = b.parse().map_err(|_| format!("bad node count {b:?}"))?;
    if a == 0 || a > b || b > 64 {
        return Err(format!("node range {s:?} must be within 1..64"));
    }
    Ok(a..=b)
}

fn bug(name: Option<String>) -> anyhow::Result<Option<ais_sim::PlantedBug>> {
    match name {
        None => Ok(None),
        Some(n) => match parse_bug(&n) {
            Some(b) => Ok(Some(b)),
            None => bail!(
                "unknown bug {n:?}: deliver-before-gap, skip-retransmission, \
                 install-without-consensus, safe-when-agreed, lose-fifth-frame"
            ),
        },
    }
}

fn main() -> anyhow::Result<ExitCode> {
    match Args::parse().command {
        Command::Run {
            seed,
            nodes,
            bug: b,
            quiet,
        } => {
            let options = RunOptions {
                nodes,
                bug: bug(b)?,
                trace: !quiet,
            };
            let report = run_seed(seed, &options);
            println!("{}", report.describe());
            Ok(if report.violation.is_some() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Sweep {
            seeds,
            start,
            nodes,
            bug: b,
            jobs,
        } => {
            let options = RunOptions {
                nodes,
                bug: bug(b)?,
                trace: false,
            };
            let next = AtomicU64::new(0);
            let violations = AtomicU64::new(0);
            let events = AtomicU64::new(0);
            let failures = Mutex::new(Vec::new());
            std::thread::scope(|s| {
                for _ in 0..jobs.max(1) {
                    s.spawn(|| {
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= seeds {
                                break;
                            }
                            let report = run_seed(start.wrapping_add(i), &options);
                            events.fetch_add(report.events, Ordering::Relaxed);
                            if report.violation.is_some() {
                                violations.fetch_add(1, Ordering::Relaxed);
                                let line = report.describe();
                                eprintln!("{line}");
                                failures.lock().expect("no panics while held").push(line);
                            }
                            if (i + 1).is_multiple_of(1000) {
                                eprintln!("... {} seeds", i + 1);
                            }
                        }
                    });
                }
            });
            let k = violations.load(Ordering::Relaxed);
            for line in failures.lock().expect("threads joined").iter() {
                println!("{line}");
            }
            println!("{} events simulated", events.load(Ordering::Relaxed));
            println!("{seeds} seeds, {k} violations");
            Ok(if k > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Failover { nodes } => {
            println!(
                "{:>6} {:>14} {:>20} {:>22}",
                "nodes", "token+consensus", "corosync-like (sim)", "ais fail_fast (sim)"
            );
            for n in nodes {
                let c = ais_totem::TotemConfig::new(ais_types::NodeId(1), n);
                let slow = measure_failover(n, false).context("ring did not re-form")?;
                let fast = measure_failover(n, true).context("ring did not re-form")?;
                println!(
                    "{n:>6} {:>13.2}s {:>19.3}s {:>21.3}s",
                    (c.token_timeout() + c.consensus).as_secs_f64(),
                    slow.as_secs_f64(),
                    fast.as_secs_f64()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
