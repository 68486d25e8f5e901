//! Everything a seed decides before the run starts: cluster size, timers, the swarm of fault
//! probabilities (TigerBeetle's VOPR picks a different mix per seed) and the workload.

use std::ops::RangeInclusive;
use std::time::Duration;

use ais_services::votequorum::{Settings, TieBreaker};
use ais_totem::TotemConfig;
use ais_types::NodeId;

use crate::rng::SimRng;

/// Fault probabilities and rates for the safety phase.
#[derive(Clone, Debug)]
pub struct FaultMix {
    /// Probability a packet is lost.
    pub loss: f64,
    /// Probability a packet is delivered twice.
    pub duplicate: f64,
    /// Random extra delay per packet, up to this (reorders packets).
    pub jitter: Duration,
    /// Probability of a delay spike on one packet.
    pub spike: f64,
    /// Length of a spike, up to this.
    pub spike_delay: Duration,
    /// Probability a packet is corrupted (truncated): the receiver must reject it.
    pub corrupt: f64,
    /// Mean time between network events (partition, heal, asymmetric cut).
    pub partition_every: Option<Duration>,
    /// Mean time between crashes.
    pub crash_every: Option<Duration>,
    /// Mean time between pauses.
    pub pause_every: Option<Duration>,
    /// Mean time between graceful leaves (the node restarts later).
    pub leave_every: Option<Duration>,
    /// Bursty loss on every link, on top of `loss`.
    pub burst: Option<Burst>,
}

/// A Gilbert–Elliott channel per link (in time rather than per packet): the link stays
/// good for an exponentially distributed time of mean `good`, then bad for one of mean
/// `bad`, and so on; while bad it loses each packet with probability `loss`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Burst {
    /// Mean length of a good period.
    pub good: Duration,
    /// Mean length of a bad period.
    pub bad: Duration,
    /// Packet loss while bad.
    pub loss: f64,
}

impl Burst {
    /// The burst a seed draws, from a stream of its own (the rest of the seed's scenario
    /// does not depend on it): none in most seeds.
    pub fn from_seed(seed: u64) -> Option<Self> {
        let mut rng = SimRng::new(seed ^ 0xb0_25_70_00_00_00_00_00);
        rng.chance(0.35).then(|| Self {
            good: Duration::from_millis(rng.range(500, 20_000)),
            bad: Duration::from_millis(rng.range(20, 1500)),
            loss: rng.range_f64(0.3, 1.0),
        })
    }
}

/// The whole setting of one run.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Number of nodes, ids 1..=n.
    pub nodes: usize,
    /// Totem configuration of node 1; the others differ only in their id and seed.
    pub totem: TotemConfig,
    /// Base one-way network delay.
    pub base_delay: Duration,
    /// Faults of the safety phase.
    pub faults: FaultMix,
    /// Length of the safety phase.
    pub safety: Duration,
    /// Messages per second per node.
    pub submit_rate: f64,
    /// Fraction of messages submitted for safe delivery.
    pub safe_fraction: f64,
    /// Whether messages above 64 KiB (up to 1 MiB) appear.
    pub huge_messages: bool,
    /// Fraction of workload steps that are CPG client actions (connect, join, multicast,
    /// leave, disconnect) rather than raw Totem messages.
    pub cpg_fraction: f64,
    /// votequorum's settings, the same on every node.
    pub quorum: Settings,
}

impl Scenario {
    /// The scenario seed `seed` selects, with a cluster size in `nodes`.
    pub fn from_seed(seed: u64, nodes: RangeInclusive<usize>) -> Self {
        let mut rng = SimRng::new(seed ^ 0x5ce0_a110);
        let n = rng.range(*nodes.start() as u64, *nodes.end() as u64 + 1) as usize;
        let mut totem = TotemConfig::new(NodeId(1), n);
        totem.token_coefficient = Duration::from_millis(rng.range(0, 100));
        totem.derive_from_token(Duration::from_millis(rng.range(200, 1200)));
        totem.join = Duration::from_millis(rng.range(20, 80));
        totem.merge = Duration::from_millis(rng.range(100, 400));
        totem.fail_fast = if rng.chance(0.25) {
            Duration::ZERO
        } else {
            totem.join * rng.range(6, 20) as u32
        };
        totem.window_size = rng.range(10, 80) as u32;
        totem.max_messages = rng.range(2, 20) as u32;
        totem.miss_count_const = rng.range(1, 6) as u32;
        totem.seqno_unchanged_const = rng.range(3, 31) as u32;
        totem.fail_recv_const = rng.range(50, 2500) as u32;
        totem.netmtu = *rng.pick(&[600usize, 1500, 1500, 9000]);
        totem.max_send_queue_bytes = 4 * 1024 * 1024;

        let on = |rng: &mut SimRng, p: f64| rng.chance(p);
        let every = |rng: &mut SimRng, p: f64, lo: u64, hi: u64| {
            if rng.chance(p) {
                Some(Duration::from_millis(rng.range(lo, hi)))
            } else {
                None
            }
        };
        let faults = FaultMix {
            loss: if on(&mut rng, 0.7) {
                rng.range_f64(0.0, 0.12)
            } else {
                0.0
            },
            duplicate: if on(&mut rng, 0.5) {
                rng.range_f64(0.0, 0.05)
            } else {
                0.0
            },
            jitter: Duration::from_micros(rng.range(0, 3000)),
            spike: if on(&mut rng, 0.5) {
                rng.range_f64(0.0, 0.01)
            } else {
                0.0
            },
            spike_delay: totem.token_timeout().mul_f64(rng.range_f64(0.1, 2.0)),
            corrupt: if on(&mut rng, 0.5) {
                rng.range_f64(0.0, 0.01)
            } else {
                0.0
            },
            partition_every: every(&mut rng, 0.7, 1000, 8000),
            crash_every: every(&mut rng, 0.6, 1500, 10_000),
            pause_every: every(&mut rng, 0.5, 1500, 10_000),
            leave_every: every(&mut rng, 0.3, 3000, 15_000),
            burst: Burst::from_seed(seed),
        };
        Self {
            nodes: n,
            base_delay: Duration::from_micros(rng.range(100, 1500)),
            faults,
            safety: Duration::from_millis(rng.range(5_000, 15_000)),
            submit_rate: rng.range_f64(5.0, 120.0),
            safe_fraction: *rng.pick(&[0.0, 0.3, 0.5, 1.0]),
            huge_messages: rng.chance(0.15),
            cpg_fraction: *rng.pick(&[0.0, 0.3, 0.6, 0.9]),
            quorum: quorum_from_seed(seed, n),
            totem,
        }
    }

    /// The Totem configuration of node `id`.
    pub fn totem_for(&self, id: NodeId, seed: u64) -> TotemConfig {
        let mut c = self.totem.clone();
        c.node_id = id;
        c.rng_seed = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ u64::from(id.0);
        c
    }
}

impl Scenario {
    /// A fault-free cluster of `nodes` with corosync's default timers and a light workload,
    /// for measurements.
    pub fn quiet(nodes: usize) -> Self {
        Self {
            nodes,
            totem: TotemConfig::new(NodeId(1), nodes),
            base_delay: Duration::from_micros(200),
            faults: FaultMix {
                loss: 0.0,
                duplicate: 0.0,
                jitter: Duration::from_micros(50),
                spike: 0.0,
                spike_delay: Duration::ZERO,
                corrupt: 0.0,
                partition_every: None,
                crash_every: None,
                pause_every: None,
                leave_every: None,
                burst: None,
            },
            safety: Duration::ZERO,
            submit_rate: 20.0,
            safe_fraction: 0.0,
            huge_messages: false,
            cpg_fraction: 0.0,
            quorum: Settings::votequorum((1..=nodes as u32).map(|i| (NodeId(i), 1)).collect()),
        }
    }
}

/// votequorum for `n` nodes of one vote each (expected votes `n`), and per seed one of the
/// special features: wait_for_all, auto_tie_breaker (lowest, highest or a list), or
/// last_man_standing with a short window. Drawn from a stream of its own, so the rest of a
/// seed's scenario does not depend on it.
fn quorum_from_seed(seed: u64, n: usize) -> Settings {
    let mut rng = SimRng::new(seed ^ 0x0907_e0c0_0000_0000);
    let mut s = Settings::votequorum((1..=n as u32).map(|i| (NodeId(i), 1)).collect());
    s.wait_for_all = Some(rng.chance(0.3));
    let r = rng.unit();
    if (0.55..0.8).contains(&r) || r >= 0.9 {
        let mut ids: Vec<NodeId> = (1..=n as u32 + 1).map(NodeId).collect();
        rng.shuffle(&mut ids);
        ids.truncate(rng.range(1, 4) as usize);
        s.auto_tie_breaker = Some(match rng.range(0, 3) {
            0 => TieBreaker::Lowest,
            1 => TieBreaker::Highest,
            _ => TieBreaker::List(ids),
        });
    }
    if r >= 0.8 {
        s.last_man_standing = true;
        s.last_man_standing_window = Duration::from_millis(rng.range(200, 3000));
        if s.auto_tie_breaker.is_some() && n % 2 == 1 {
            // corosync refuses the tie-breaker with last_man_standing in an odd cluster
            // without wait_for_all.
            s.wait_for_all = Some(true);
        }
    }
    s
}
