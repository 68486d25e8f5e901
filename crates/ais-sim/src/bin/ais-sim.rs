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
    /// Spurious membership changes per simulated hour under bursty loss and delay spikes,
    /// with our fail_fast and with corosync's rule, over the same seeds.
    Spurious {
        /// Cluster size.
        #[arg(long, default_value_t = 5)]
        nodes: usize,
        /// Simulated minutes per seed and rule.
        #[arg(long, default_value_t = 10)]
        minutes: u64,
        /// Seeds per channel.
        #[arg(long, default_value_t = 4)]
        seeds: u64,
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
        Command::Spurious {
            nodes,
            minutes,
            seeds,
        } => {
            spurious(nodes, minutes, seeds)?;
            Ok(ExitCode::SUCCESS)
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

/// The bursty channels measured: (name, mean good period, mean bad period, loss while bad).
const CHANNELS: [(&str, u64, u64, f64); 4] = [
    ("short bursts", 10_000, 100, 0.5),
    ("long bursts", 5_000, 400, 0.8),
    ("outages", 3_000, 800, 1.0),
    ("long outages", 20_000, 2_000, 1.0),
];

/// Prints spurious rings per simulated hour, per channel, fail_fast on and off.
fn spurious(nodes: usize, minutes: u64, seeds: u64) -> anyhow::Result<()> {
    let length = std::time::Duration::from_secs(minutes * 60);
    // One packet in 500 is delayed by up to 300 ms on top of the bursts.
    let spike = (0.002, std::time::Duration::from_millis(300));
    println!(
        "{nodes} nodes, default timers (token 1000 ms + coefficient, consensus 1.2 x token, \
         join 50 ms), {seeds} seeds x {minutes} simulated min per channel and rule; delay \
         spikes: 1 packet in 500 up to 300 ms"
    );
    println!(
        "{:<13} {:>6} {:>6} {:>5} | {:>22} | {:>22}",
        "channel",
        "good",
        "bad",
        "loss",
        "fail_fast 500 ms: rings/h (splits/h)",
        "corosync rule: rings/h (splits/h)"
    );
    let hours = (seeds * minutes) as f64 / 60.0;
    for (name, good, bad, loss) in CHANNELS {
        let burst = ais_sim::scenario::Burst {
            good: std::time::Duration::from_millis(good),
            bad: std::time::Duration::from_millis(bad),
            loss,
        };
        let mut totals = [ais_sim::Spurious::default(); 2];
        for seed in 0..seeds {
            for (rule, fail_fast) in [(0, true), (1, false)] {
                let found = ais_sim::count_spurious(
                    0x5b00_0000 + seed,
                    nodes,
                    burst,
                    spike,
                    fail_fast,
                    length,
                )
                .map_err(|v| anyhow::anyhow!("seed {seed}: {}: {}", v.invariant, v.detail))?;
                totals[rule].rings += found.rings;
                totals[rule].splits += found.splits;
            }
        }
        let per_hour = |s: ais_sim::Spurious| {
            format!(
                "{:.1} ({:.1})",
                s.rings as f64 / hours,
                s.splits as f64 / hours
            )
        };
        println!(
            "{name:<13} {:>5}s {:>4}ms {:>4.0}% | {:>36} | {:>33}",
            good / 1000,
            bad,
            loss * 100.0,
            per_hour(totals[0]),
            per_hour(totals[1])
        );
    }
    Ok(())
}
