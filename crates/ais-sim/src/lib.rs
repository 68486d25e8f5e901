//! A deterministic simulator of whole Totem clusters.
//!
//! One seed decides everything: the cluster size, the timers, the swarm of fault
//! probabilities, the workload, and every random choice during the run. A run has a
//! **safety phase** (faults on: loss, duplication, reordering, delay spikes, partitions of
//! every shape, crashes and restarts, pauses, graceful leaves, corrupted packets) in which the
//! extended virtual synchrony invariants (`invariants/`) are checked at every step, then a
//! **liveness phase**: the network heals around a random core of nodes, which must form one
//! ring and deliver everything it submits.
//!
//! ```
//! let report = ais_sim::run_seed(42, &ais_sim::RunOptions::default());
//! assert!(report.violation.is_none(), "{}", report.describe());
//! ```

pub mod invariants;
pub mod rng;
pub mod scenario;
pub mod services;
pub mod trace;
pub mod workload;
pub mod world;

use std::ops::RangeInclusive;

pub use ais_totem::PlantedBug;
pub use invariants::Violation;
pub use scenario::Scenario;
pub use trace::Trace;
pub use world::World;

/// How to run seeds.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Cluster sizes a seed may pick from.
    pub nodes: RangeInclusive<usize>,
    /// A deliberate protocol bug to plant.
    pub bug: Option<PlantedBug>,
    /// Print the per-event trace.
    pub trace: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            nodes: 3..=7,
            bug: None,
            trace: false,
        }
    }
}

/// The outcome of one seed.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// The seed.
    pub seed: u64,
    /// Cluster size.
    pub nodes: usize,
    /// Options it ran with.
    pub options: RunOptions,
    /// Events simulated.
    pub events: u64,
    /// Hash of the trace.
    pub trace_hash: u64,
    /// Virtual time at the end.
    pub sim_time_s: f64,
    /// Messages delivered, summed over nodes.
    pub delivered: u64,
    /// The first broken invariant.
    pub violation: Option<Violation>,
}

impl RunReport {
    /// One line: the verdict, and how to replay a failure.
    pub fn describe(&self) -> String {
        match &self.violation {
            None => format!(
                "seed={:#x} nodes={} ok: {} events, {:.1}s simulated, {} deliveries, trace {:016x}",
                self.seed,
                self.nodes,
                self.events,
                self.sim_time_s,
                self.delivered,
                self.trace_hash
            ),
            Some(v) => format!(
                "{}: {} | seed={:#x} nodes={} | replay: {}",
                v.invariant,
                v.detail,
                self.seed,
                self.nodes,
                self.replay_command()
            ),
        }
    }

    /// The command that replays this seed.
    pub fn replay_command(&self) -> String {
        let mut cmd = format!(
            "cargo run -p ais-sim --release -- run --seed {:#x} --nodes {}..{}",
            self.seed,
            self.options.nodes.start(),
            self.options.nodes.end()
        );
        if let Some(bug) = self.options.bug {
            cmd.push_str(&format!(" --bug {}", bug_name(bug)));
        }
        cmd
    }
}

/// The command-line name of a planted bug.
pub fn bug_name(bug: PlantedBug) -> &'static str {
    match bug {
        PlantedBug::DeliverBeforeGap => "deliver-before-gap",
        PlantedBug::SkipRetransmission => "skip-retransmission",
        PlantedBug::InstallWithoutConsensus => "install-without-consensus",
        PlantedBug::SafeWhenAgreed => "safe-when-agreed",
        PlantedBug::LoseFifthFrame => "lose-fifth-frame",
    }
}

/// Parses a planted bug's command-line name.
pub fn parse_bug(name: &str) -> Option<PlantedBug> {
    [
        PlantedBug::DeliverBeforeGap,
        PlantedBug::SkipRetransmission,
        PlantedBug::InstallWithoutConsensus,
        PlantedBug::SafeWhenAgreed,
        PlantedBug::LoseFifthFrame,
    ]
    .into_iter()
    .find(|b| bug_name(*b) == name)
}

/// Runs one seed: safety phase, heal, liveness phase, end-of-run checks.
pub fn run_seed(seed: u64, options: &RunOptions) -> RunReport {
    let scenario = Scenario::from_seed(seed, options.nodes.clone());
    let nodes = scenario.nodes;
    let mut world = World::new(seed, scenario, options.bug, Trace::new(options.trace));
    let result = world
        .run_safety()
        .and_then(|()| {
            let core = world.heal_core()?;
            world.run_liveness(&core)
        })
        .and_then(|()| world.checker.finish());
    let delivered = world
        .checker
        .history()
        .lives
        .values()
        .map(|l| l.delivered.len() as u64)
        .sum();
    RunReport {
        seed,
        nodes,
        options: options.clone(),
        events: world.trace.events(),
        trace_hash: world.trace.hash(),
        sim_time_s: world.now.0 as f64 / 1e9,
        delivered,
        violation: result.err(),
    }
}

/// Simulated time from crashing one node of an idle, formed `nodes`-node ring (corosync's
/// default timers) to every survivor's new regular configuration. `fail_fast = false` gives
/// corosync's behaviour (wait for the consensus timeout).
pub fn measure_failover(nodes: usize, fail_fast: bool) -> Option<std::time::Duration> {
    use ais_types::{Instant, NodeId};
    use std::time::Duration;

    let mut scenario = Scenario::quiet(nodes);
    scenario.totem.fail_fast = if fail_fast { FAIL_FAST } else { Duration::ZERO };
    let mut world = World::new(1, scenario, None, Trace::new(false));
    let all: Vec<NodeId> = (1..=nodes as u32).map(NodeId).collect();
    let formed = world
        .run_until(Instant(600_000_000_000), |w| {
            invariants::converged(w.checker.history(), &all)
        })
        .ok()?;
    if !formed {
        return None;
    }
    let settle = world.now + Duration::from_secs(5);
    world.run_until(settle, |_| false).ok()?;
    let victim = NodeId((nodes as u32).div_ceil(2));
    let survivors: Vec<NodeId> = all.iter().copied().filter(|n| *n != victim).collect();
    let t0 = world.now;
    world.crash_node(victim);
    let deadline = t0 + Duration::from_secs(300);
    let done = world
        .run_until(deadline, |w| {
            invariants::converged(w.checker.history(), &survivors)
        })
        .ok()?;
    done.then(|| world.now - t0)
}

/// The `fail_fast` the measurements compare with corosync's rule: the value it had by
/// default before they showed its cost under bursty loss.
pub const FAIL_FAST: std::time::Duration = std::time::Duration::from_millis(500);

/// What [`count_spurious`] found in one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spurious {
    /// Rings node 1 installed after the first whole ring: every one is spurious, since no
    /// node crashes, pauses or is cut off.
    pub rings: u64,
    /// Those of them that left a live node out.
    pub splits: u64,
}

/// Spurious membership changes: `nodes` nodes with corosync's default timers that never
/// crash, pause or partition, on links with bursty loss (`burst`) and delay spikes (one
/// packet in `spike_every` delayed by up to `spike_delay`), for `length` of simulated time,
/// with our `fail_fast` rule (500 ms) or without it (corosync's: consensus only). The
/// invariants are checked throughout; a violation is returned as an error.
pub fn count_spurious(
    seed: u64,
    nodes: usize,
    burst: scenario::Burst,
    spike: (f64, std::time::Duration),
    fail_fast: bool,
    length: std::time::Duration,
) -> Result<Spurious, Violation> {
    use ais_types::{Instant, NodeId};

    let mut scenario = Scenario::quiet(nodes);
    scenario.totem.fail_fast = if fail_fast {
        FAIL_FAST
    } else {
        std::time::Duration::ZERO
    };
    scenario.faults.burst = Some(burst);
    (scenario.faults.spike, scenario.faults.spike_delay) = spike;
    scenario.safety = length;
    let mut world = World::new(seed, scenario, None, Trace::new(false));
    let all: Vec<NodeId> = (1..=nodes as u32).map(NodeId).collect();
    let formed = world.run_until(Instant(600_000_000_000), |w| {
        invariants::converged(w.checker.history(), &all)
    })?;
    if !formed {
        return Err(Violation {
            invariant: "liveness",
            detail: "the first ring never formed".to_owned(),
        });
    }
    let first = rings_of(&world, NodeId(1));
    world.run_safety()?;
    let rings = &rings_of(&world, NodeId(1))[first.len()..];
    Ok(Spurious {
        rings: rings.len() as u64,
        splits: rings.iter().filter(|members| members.len() < nodes).count() as u64,
    })
}

/// The members of every ring `node` installed so far.
fn rings_of(world: &World, node: ais_types::NodeId) -> Vec<Vec<ais_types::NodeId>> {
    world
        .checker
        .history()
        .running(node)
        .map(|(_, lh)| lh.regular.iter().map(|(_, m)| m.clone()).collect())
        .unwrap_or_default()
}
