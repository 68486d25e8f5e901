//! The simulator's seeds as tests: a fixed range over 3–7 nodes with every fault kind, and
//! every seed that ever failed (`seeds/regressions.txt`). Run them with `--release`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use ais_sim::{RunOptions, run_seed};

/// Seeds in the fixed range. With `AIS_SIM_SEEDS=N` a run can take more.
const DEFAULT_SEEDS: u64 = 1000;

fn run_all(jobs: Vec<(u64, RunOptions)>) -> Vec<String> {
    let next = AtomicU64::new(0);
    let failures = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(4);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some((seed, options)) = jobs.get(i) else {
                        break;
                    };
                    let report = run_seed(*seed, options);
                    if report.violation.is_some() {
                        failures.lock().unwrap().push(report.describe());
                    }
                }
            });
        }
    });
    let mut f = failures.into_inner().unwrap();
    f.sort();
    f
}

#[test]
fn fixed_seed_range_keeps_every_invariant() {
    let n: u64 = std::env::var("AIS_SIM_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_SEEDS);
    let jobs = (0..n)
        .map(|s| (0x1000_0000 + s, RunOptions::default()))
        .collect();
    let failures = run_all(jobs);
    assert!(
        failures.is_empty(),
        "{n} seeds, {} violations:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_regression_seed_passes() {
    let text = include_str!("../seeds/regressions.txt");
    let mut jobs = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap().trim();
        if line.is_empty() {
            continue;
        }
        let mut parts = line.split_whitespace();
        let seed = parts.next().unwrap();
        let seed = u64::from_str_radix(seed.trim_start_matches("0x"), 16).unwrap();
        let (a, b) = parts.next().unwrap().split_once("..").unwrap();
        let options = RunOptions {
            nodes: a.parse().unwrap()..=b.parse().unwrap(),
            ..RunOptions::default()
        };
        jobs.push((seed, options));
    }
    assert!(jobs.len() >= 10);
    let failures = run_all(jobs);
    assert!(
        failures.is_empty(),
        "regressions failed:\n{}",
        failures.join("\n")
    );
}

/// Even clusters, where votequorum's tie-breaker can decide an exact half split
/// (`invariants/quorum.rs`); odd clusters are the fixed range's majority.
#[test]
fn even_clusters_keep_the_quorum_invariants() {
    let jobs = [4usize, 6]
        .into_iter()
        .flat_map(|nodes| {
            (0..60).map(move |s| {
                let options = RunOptions {
                    nodes: nodes..=nodes,
                    ..RunOptions::default()
                };
                (0x0a7b_0000 + s, options)
            })
        })
        .collect();
    let failures = run_all(jobs);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
