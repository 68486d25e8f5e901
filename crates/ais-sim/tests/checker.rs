//! The checker is not vacuous, and a seed replays exactly.

use ais_sim::{PlantedBug, RunOptions, run_seed};

fn violations(bug: PlantedBug, seeds: u64) -> Vec<&'static str> {
    let options = RunOptions {
        bug: Some(bug),
        ..RunOptions::default()
    };
    (0..seeds)
        .filter_map(|s| {
            run_seed(0x0bad_0000 + s, &options)
                .violation
                .map(|v| v.invariant)
        })
        .collect()
}

/// At least `at_least` of the first `seeds` seeds report the planted bug, and at least one
/// of them as one of `kinds` (any invariant if `kinds` is empty).
fn assert_caught(bug: PlantedBug, seeds: u64, at_least: usize, kinds: &[&str]) {
    let found = violations(bug, seeds);
    assert!(
        found.len() >= at_least,
        "only {} of {seeds} seeds caught {bug:?}: {found:?}",
        found.len()
    );
    assert!(
        kinds.is_empty() || found.iter().any(|i| kinds.contains(i)),
        "{found:?}"
    );
}

#[test]
fn delivering_before_a_gap_is_caught_as_an_ordering_violation() {
    let kinds = ["agreed_order", "virtual_synchrony", "safe_delivery", "fifo"];
    assert_caught(PlantedBug::DeliverBeforeGap, 20, 15, &kinds);
}

#[test]
fn skipping_retransmissions_is_caught() {
    assert_caught(PlantedBug::SkipRetransmission, 60, 1, &[]);
}

#[test]
fn installing_without_consensus_is_caught() {
    let kinds = ["config_agreement", "virtual_synchrony", "transitional"];
    assert_caught(PlantedBug::InstallWithoutConsensus, 60, 5, &kinds);
}

#[test]
fn the_same_seed_gives_the_same_trace() {
    let options = RunOptions::default();
    for seed in [1, 0x5eed_cafe, 77] {
        let a = run_seed(seed, &options);
        let b = run_seed(seed, &options);
        assert_eq!(
            a.trace_hash, b.trace_hash,
            "seed {seed:#x} is not deterministic"
        );
        assert_eq!(a.events, b.events);
    }
    assert_ne!(
        run_seed(1, &options).trace_hash,
        run_seed(2, &options).trace_hash
    );
}
