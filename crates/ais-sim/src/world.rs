//! The simulated world: nodes, a network of per-link delays and faults, a workload, and one
//! virtual clock. Each step takes the earliest of: a packet arrival, a node's timer, a
//! workload submission, a fault. Nothing here reads a real clock or iterates a hash map, so
//! one seed always replays the same run.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use ais_services::Votequorum;
use ais_totem::{ConfigChange, Order, Output, Persisted, PlantedBug, Totem};
use ais_types::{Instant, NodeId, RingId};
use bytes::Bytes;

use crate::invariants::{
    Check, Checker, ClusterView, Life, QuorumView, Violation, check_liveness,
    check_quorum_liveness, check_split_brain, converged,
};
use crate::rng::SimRng;
use crate::scenario::Scenario;
use crate::services::{NodeServices, ReplicaChecker, SERVICE_HEADER, SERVICE_TAG, tag};
use crate::trace::Trace;
use crate::workload::{MsgKey, encode_payload, message_size};

mod network;

/// Events one run may take; more means the protocol is spinning without time passing.
const EVENT_BUDGET: u64 = 40_000_000;

/// Packets a paused process's socket buffers before it drops them.
const PAUSED_INBOX_MAX: usize = 4096;

#[derive(Debug)]
enum Event {
    Arrive {
        to: usize,
        from: usize,
        packet: Bytes,
    },
    Submit {
        node: usize,
    },
    Partition,
    Crash,
    Pause,
    Leave,
    Restart {
        node: usize,
    },
    Resume {
        node: usize,
    },
}

struct Queued {
    at: Instant,
    no: u64,
    event: Event,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.no) == (other.at, other.no)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.no).cmp(&(other.at, other.no))
    }
}

/// One simulated node.
pub struct SimNode {
    /// Its id.
    pub id: NodeId,
    /// The protocol, or `None` while crashed.
    pub totem: Option<Totem>,
    persisted: Persisted,
    /// Current incarnation.
    pub inc: u32,
    paused_until: Option<Instant>,
    restart_at: Option<Instant>,
    inbox: Vec<(usize, Bytes)>,
    counter: u64,
    booted: bool,
    /// The services and their simulated clients, or `None` while crashed.
    pub services: Option<NodeServices>,
}

struct Nodes<'a>(&'a [SimNode]);

impl ClusterView for Nodes<'_> {
    fn holds(&self, node: NodeId, ring: RingId, seq: u64) -> Option<bool> {
        let n = self.0.get(node.0 as usize - 1)?;
        n.totem.as_ref().map(|t| t.holds(ring, seq))
    }
}

/// The whole simulated cluster.
pub struct World {
    /// The seed.
    pub seed: u64,
    /// What the seed chose.
    pub scenario: Scenario,
    rng: SimRng,
    /// Virtual time.
    pub now: Instant,
    /// The nodes, node id `i + 1` at index `i`.
    pub nodes: Vec<SimNode>,
    queue: BinaryHeap<Reverse<Queued>>,
    next_no: u64,
    blocked: Vec<Vec<bool>>,
    /// Per link, for a bursty channel: whether it is in a bad period, and until when.
    bursts: Vec<Vec<(bool, Instant)>>,
    faults_on: bool,
    submitting: bool,
    /// Keys submitted by core nodes after the core formed (liveness).
    after: Vec<MsgKey>,
    record_after: Option<Vec<NodeId>>,
    /// The invariant checker.
    pub checker: Checker,
    /// The event trace.
    pub trace: Trace,
    bug: Option<PlantedBug>,
    replicas: ReplicaChecker,
    /// Each node's last traced quorum decision (quorate, expected votes, ring).
    quorum_seen: Vec<Option<(bool, u32, RingId)>>,
}

impl World {
    /// A world for `scenario`; nodes start at time zero.
    pub fn new(seed: u64, scenario: Scenario, bug: Option<PlantedBug>, trace: Trace) -> Self {
        let n = scenario.nodes;
        let mut w = Self {
            seed,
            rng: SimRng::new(seed),
            now: Instant::ZERO,
            nodes: Vec::with_capacity(n),
            queue: BinaryHeap::new(),
            next_no: 0,
            blocked: vec![vec![false; n]; n],
            bursts: vec![vec![(false, Instant::ZERO); n]; n],
            faults_on: false,
            submitting: false,
            after: Vec::new(),
            record_after: None,
            checker: Checker::new(),
            trace,
            bug,
            scenario,
            replicas: ReplicaChecker::default(),
            quorum_seen: vec![None; n],
        };
        for i in 0..n {
            w.nodes.push(SimNode {
                id: NodeId(i as u32 + 1),
                totem: None,
                persisted: Persisted::default(),
                inc: 0,
                paused_until: None,
                restart_at: None,
                inbox: Vec::new(),
                counter: 0,
                booted: false,
                services: None,
            });
        }
        for i in 0..n {
            // Nodes boot a little apart, as real ones do.
            let at = Instant(w.rng.range(0, 50_000_000));
            w.schedule(at, Event::Restart { node: i });
            w.nodes[i].restart_at = Some(at);
        }
        w
    }

    fn schedule(&mut self, at: Instant, event: Event) {
        self.next_no += 1;
        self.queue.push(Reverse(Queued {
            at,
            no: self.next_no,
            event,
        }));
    }

    fn exp(&mut self, mean: Duration) -> Duration {
        let u = self.rng.unit();
        mean.mul_f64(-(1.0 - u).ln()).max(Duration::from_micros(1))
    }

    /// Runs the safety phase: faults on, workload on, for the scenario's length.
    pub fn run_safety(&mut self) -> Check {
        self.faults_on = true;
        self.submitting = true;
        for i in 0..self.nodes.len() {
            let at = self.now + self.exp(Duration::from_secs_f64(1.0 / self.scenario.submit_rate));
            self.schedule(at, Event::Submit { node: i });
        }
        let f = self.scenario.faults.clone();
        for (every, ev) in [
            (f.partition_every, Event::Partition),
            (f.crash_every, Event::Crash),
            (f.pause_every, Event::Pause),
            (f.leave_every, Event::Leave),
        ] {
            if let Some(mean) = every {
                let at = self.now + self.exp(mean);
                self.schedule(at, ev);
            }
        }
        let end = self.now + self.scenario.safety;
        self.run_until(end, |_| false)?;
        Ok(())
    }

    /// Faults off; a random core of nodes is fully connected and running, the rest cut off.
    pub fn heal_core(&mut self) -> Result<Vec<NodeId>, Violation> {
        self.faults_on = false;
        let n = self.nodes.len();
        let mut idx: Vec<usize> = (0..n).collect();
        let core_len = if self.rng.chance(0.75) {
            n
        } else {
            self.rng.range(1, n as u64 + 1) as usize
        };
        self.rng.shuffle(&mut idx);
        let mut core: Vec<usize> = idx[..core_len].to_vec();
        core.sort_unstable();
        for (i, row) in self.blocked.iter_mut().enumerate() {
            for (j, b) in row.iter_mut().enumerate() {
                *b = core.contains(&i) != core.contains(&j);
            }
        }
        for &i in &core {
            if self.nodes[i].paused_until.is_some() {
                self.resume(i)?;
            }
            if self.nodes[i].totem.is_none() {
                self.restart(i)?;
            }
        }
        let core: Vec<NodeId> = core.iter().map(|i| NodeId(*i as u32 + 1)).collect();
        self.trace
            .line(self.now, None, format_args!("heal: core {core:?}"));
        Ok(core)
    }

    /// The liveness phase: the core must converge within the bound, then deliver every
    /// message it submits.
    pub fn run_liveness(&mut self, core: &[NodeId]) -> Check {
        let t = self.scenario.totem.clone();
        // Healing a cluster left in many small rings with stale views can take one round
        // (token loss plus consensus) per group that has to give up its verdicts, so the
        // bound grows with the cluster.
        let rounds = self.nodes.len() as u32 + 2;
        let bound = (t.token_timeout() + t.consensus) * rounds + Duration::from_secs(10);
        let deadline = self.now + bound;
        // Converged means: one configuration equal to the core, which then survives long
        // enough for any member to notice a broken ring (a ring formed before the heal may
        // already be split without its members knowing yet).
        let settle = t.token_timeout() * 2 + t.consensus;
        let formed = loop {
            if !self.run_until(deadline, |w| converged(w.checker.history(), core))? {
                break false;
            }
            let ring = self.regular_of(core[0]).map(|(r, _)| r);
            let until = self.now + settle;
            self.run_until(until, |_| false)?;
            if converged(self.checker.history(), core)
                && self.regular_of(core[0]).map(|(r, _)| r) == ring
            {
                break true;
            }
            if self.now >= deadline {
                break false;
            }
        };
        if !formed {
            return check_liveness(
                self.checker.history(),
                core,
                false,
                &[],
                bound.as_secs_f64(),
            );
        }
        self.record_after = Some(core.to_vec());
        let stop = self.now + Duration::from_secs(2);
        self.run_until(stop, |_| false)?;
        self.submitting = false;
        self.record_after = None;
        // Drain: a backlog takes as long as it takes, so wait while deliveries progress and
        // give up only after a stall longer than any timer, or a generous cap.
        let after = std::mem::take(&mut self.after);
        let stall = t.token_timeout() * 2 + t.consensus + Duration::from_secs(5);
        let cap = self.now + Duration::from_secs(600);
        let missing = |w: &Self| -> usize {
            core.iter()
                .filter_map(|n| w.checker.history().running(*n))
                .map(|(_, lh)| {
                    after
                        .iter()
                        .filter(|k| !lh.delivered.contains_key(k))
                        .count()
                })
                .sum()
        };
        // Progress is any delivery, or any frame ordered: older backlog drains before the
        // last messages, and a 1 MiB message takes thousands of frames before it delivers.
        let progress_mark = |w: &Self| -> usize {
            core.iter()
                .map(|n| {
                    let delivered = w
                        .checker
                        .history()
                        .running(*n)
                        .map_or(0, |(_, lh)| lh.delivered.len());
                    let aru = w.nodes[n.0 as usize - 1]
                        .totem
                        .as_ref()
                        .map_or(0, |t| t.ordering().0 as usize);
                    delivered + aru
                })
                .sum()
        };
        let mut progress = (progress_mark(self), self.now);
        while missing(self) > 0 && self.now < cap && self.now - progress.1 < stall {
            let step = self.now + Duration::from_secs(1);
            self.run_until(step, |_| false)?;
            let d = progress_mark(self);
            if d > progress.0 {
                progress = (d, self.now);
            }
        }
        check_liveness(
            self.checker.history(),
            core,
            true,
            &after,
            bound.as_secs_f64(),
        )?;
        // The services of the converged core finish their sync: it may still sit behind the
        // backlog the workload left, so wait while that drains.
        let syncing = |w: &Self| {
            core.iter().any(|n| {
                w.nodes[n.0 as usize - 1]
                    .services
                    .as_ref()
                    .is_some_and(|s| s.services.is_syncing())
            })
        };
        let until = self.now + stall;
        self.run_until(until, |w| !syncing(w))?;
        for n in core {
            let node = &self.nodes[n.0 as usize - 1];
            if node
                .services
                .as_ref()
                .is_some_and(|s| s.services.is_syncing())
            {
                return crate::invariants::fail(
                    "liveness",
                    format!("n{} never finished the services' sync after the heal", n.0),
                );
            }
            if let (Some(s), Some((life, _))) = (&node.services, self.checker.history().running(*n))
            {
                s.check_clients_complete(life)?;
            }
        }
        // With every node up and synchronized, every vote is present: quorate.
        if core.len() == self.nodes.len() {
            let views: Vec<QuorumView<'_>> = core
                .iter()
                .filter_map(|n| self.quorum_view(n.0 as usize - 1))
                .collect();
            check_quorum_liveness(&views)?;
        }
        Ok(())
    }

    /// Steps until `done` or `deadline`; returns whether `done` held.
    pub fn run_until(
        &mut self,
        deadline: Instant,
        done: impl Fn(&Self) -> bool,
    ) -> Result<bool, Violation> {
        loop {
            if done(self) {
                return Ok(true);
            }
            if self.trace.events() > EVENT_BUDGET {
                return Err(Violation {
                    invariant: "liveness",
                    detail: format!("over {EVENT_BUDGET} events by {}: a livelock", self.now),
                });
            }
            let next_q = self.queue.peek().map(|q| q.0.at);
            let next_t = self
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.paused_until.is_none())
                .filter_map(|(i, n)| n.totem.as_ref()?.poll_timeout().map(|t| (t, i)))
                .min();
            let take_queue = match (next_q, next_t) {
                (Some(q), Some((t, _))) => q <= t,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => return Ok(false),
            };
            if take_queue {
                let at = next_q.expect("queue head");
                if at > deadline {
                    self.now = deadline;
                    return Ok(false);
                }
                let Reverse(q) = self.queue.pop().expect("queue head");
                self.now = q.at;
                self.handle_event(q.event)?;
            } else {
                let (at, i) = next_t.expect("timer");
                if at > deadline {
                    self.now = deadline;
                    return Ok(false);
                }
                self.now = at;
                self.trace
                    .event(self.now, &self.nodes[i], format_args!("timer"));
                self.nodes[i]
                    .totem
                    .as_mut()
                    .expect("running")
                    .handle_timeout(self.now);
                self.drain(i)?;
            }
        }
    }

    fn handle_event(&mut self, event: Event) -> Check {
        let fault = matches!(
            event,
            Event::Partition | Event::Crash | Event::Pause | Event::Leave
        );
        if fault && !self.faults_on {
            return Ok(());
        }
        match event {
            Event::Arrive { to, from, packet } => {
                let node = &mut self.nodes[to];
                if node.totem.is_none() {
                    return Ok(());
                }
                if node.paused_until.is_some() {
                    if node.inbox.len() < PAUSED_INBOX_MAX {
                        node.inbox.push((from, packet));
                    }
                    return Ok(());
                }
                self.deliver_packet(to, from, packet)?;
            }
            Event::Submit { node } => {
                self.submit(node)?;
                if self.submitting {
                    let at = self.now
                        + self.exp(Duration::from_secs_f64(1.0 / self.scenario.submit_rate));
                    self.schedule(at, Event::Submit { node });
                }
            }
            Event::Partition => {
                self.partition();
                self.reschedule(self.scenario.faults.partition_every, Event::Partition);
            }
            Event::Crash => {
                let alive: Vec<usize> = (0..self.nodes.len())
                    .filter(|i| self.nodes[*i].totem.is_some())
                    .collect();
                if !alive.is_empty() {
                    let i = *self.rng.pick(&alive);
                    self.crash(i, "!");
                    if self.rng.chance(0.8) {
                        let after = self
                            .scenario
                            .totem
                            .token_timeout()
                            .mul_f64(self.rng.range_f64(0.1, 3.0));
                        self.schedule_restart(i, after);
                    }
                }
                self.reschedule(self.scenario.faults.crash_every, Event::Crash);
            }
            Event::Pause => {
                let live: Vec<usize> = (0..self.nodes.len())
                    .filter(|i| {
                        self.nodes[*i].totem.is_some() && self.nodes[*i].paused_until.is_none()
                    })
                    .collect();
                if !live.is_empty() {
                    let i = *self.rng.pick(&live);
                    let d = self
                        .scenario
                        .totem
                        .token_timeout()
                        .mul_f64(self.rng.range_f64(0.05, 2.0));
                    let until = self.now + d;
                    self.nodes[i].paused_until = Some(until);
                    self.trace
                        .event(self.now, &self.nodes[i], format_args!("~ paused for {d:?}"));
                    self.schedule(until, Event::Resume { node: i });
                }
                self.reschedule(self.scenario.faults.pause_every, Event::Pause);
            }
            Event::Leave => {
                let alive: Vec<usize> = (0..self.nodes.len())
                    .filter(|i| {
                        self.nodes[*i].totem.is_some() && self.nodes[*i].paused_until.is_none()
                    })
                    .collect();
                if !alive.is_empty() {
                    let i = *self.rng.pick(&alive);
                    self.nodes[i].totem.as_mut().expect("alive").leave(self.now);
                    self.drain(i)?;
                    self.crash(i, "leave");
                    let after = self
                        .scenario
                        .totem
                        .token_timeout()
                        .mul_f64(self.rng.range_f64(0.5, 3.0));
                    self.schedule_restart(i, after);
                }
                self.reschedule(self.scenario.faults.leave_every, Event::Leave);
            }
            Event::Restart { node } => {
                if self.nodes[node].totem.is_none() && self.nodes[node].restart_at == Some(self.now)
                {
                    self.restart(node)?;
                }
            }
            Event::Resume { node } => {
                if self.nodes[node].paused_until == Some(self.now) {
                    self.resume(node)?;
                }
            }
        }
        Ok(())
    }

    fn reschedule(&mut self, every: Option<Duration>, ev: Event) {
        if let (true, Some(mean)) = (self.faults_on, every) {
            let at = self.now + self.exp(mean);
            self.schedule(at, ev);
        }
    }

    fn schedule_restart(&mut self, i: usize, after: Duration) {
        let at = self.now + after;
        self.nodes[i].restart_at = Some(at);
        self.schedule(at, Event::Restart { node: i });
    }

    fn deliver_packet(&mut self, to: usize, from: usize, packet: Bytes) -> Check {
        self.trace.packet(self.now, &self.nodes[to], from, &packet);
        self.nodes[to]
            .totem
            .as_mut()
            .expect("running")
            .handle_packet(self.now, packet);
        self.drain(to)
    }

    fn submit(&mut self, i: usize) -> Check {
        let huge = self.scenario.huge_messages;
        let node = &self.nodes[i];
        if node.totem.is_none() || node.paused_until.is_some() || !self.submitting {
            return Ok(());
        }
        if self.rng.chance(self.scenario.cpg_fraction) {
            let node = &mut self.nodes[i];
            let totem = node.totem.as_ref().expect("running");
            let room = self
                .scenario
                .totem
                .max_send_queue_bytes
                .saturating_sub(totem.send_queue_bytes());
            if let Some(services) = node.services.as_mut() {
                services.act(&mut self.rng, room);
            }
            return self.drain(i);
        }
        let order = if self.rng.chance(self.scenario.safe_fraction) {
            Order::Safe
        } else {
            Order::Agreed
        };
        let len = message_size(&mut self.rng, huge);
        let node = &mut self.nodes[i];
        let key = MsgKey {
            origin: node.id,
            inc: node.inc,
            counter: node.counter + 1,
        };
        let payload = encode_payload(key, order, len);
        let len = payload.len();
        // Service messages waiting for room go first, as every submission goes through
        // one queue in the daemon; a raw message must not overtake them.
        if node
            .services
            .as_ref()
            .is_some_and(|s| !s.pending.is_empty())
        {
            return self.drain(i);
        }
        let totem = node.totem.as_mut().expect("running");
        if totem.submit(self.now, payload, order).is_ok() {
            node.counter += 1;
            self.checker.submitted(key, len, order);
            if self
                .record_after
                .as_ref()
                .is_some_and(|core| core.contains(&key.origin))
            {
                self.after.push(key);
            }
        }
        self.drain(i)
    }

    fn partition(&mut self) {
        let n = self.nodes.len();
        let kind = self.rng.range(0, 5);
        for row in &mut self.blocked {
            row.fill(false);
        }
        let what = match kind {
            0 => "heal".to_string(),
            1 => {
                let groups = self.rng.range(2, 4);
                let g: Vec<u64> = (0..n).map(|_| self.rng.range(0, groups)).collect();
                for i in 0..n {
                    for j in 0..n {
                        self.blocked[i][j] = g[i] != g[j];
                    }
                }
                format!("split {g:?}")
            }
            2 => {
                let v = self.rng.range(0, n as u64) as usize;
                for j in 0..n {
                    if j != v {
                        self.blocked[v][j] = true;
                        self.blocked[j][v] = true;
                    }
                }
                format!("isolate n{}", v + 1)
            }
            3 => {
                let v = self.rng.range(0, n as u64) as usize;
                let outbound = self.rng.chance(0.5);
                for j in 0..n {
                    if j != v && self.rng.chance(0.6) {
                        if outbound {
                            self.blocked[v][j] = true
                        } else {
                            self.blocked[j][v] = true
                        }
                    }
                }
                format!(
                    "asymmetric n{} {}",
                    v + 1,
                    if outbound {
                        "cannot send"
                    } else {
                        "cannot hear"
                    }
                )
            }
            _ => {
                // Random cut links.
                for i in 0..n {
                    for j in 0..n {
                        if i != j && self.rng.chance(0.2) {
                            self.blocked[i][j] = true;
                        }
                    }
                }
                "random links cut".to_string()
            }
        };
        self.trace
            .line(self.now, None, format_args!("network: {what}"));
    }

    fn crash(&mut self, i: usize, mark: &str) {
        self.quorum_seen[i] = None;
        let node = &mut self.nodes[i];
        node.totem = None;
        node.services = None;
        node.paused_until = None;
        node.inbox.clear();
        let life = Life {
            node: node.id,
            inc: node.inc,
        };
        self.checker.ended(life);
        self.trace
            .line(self.now, Some(life), format_args!("{mark} down"));
    }

    fn restart(&mut self, i: usize) -> Check {
        let seed = self.seed;
        let bug = self.bug;
        let node = &mut self.nodes[i];
        if node.booted {
            node.inc += 1;
        }
        node.booted = true;
        node.counter = 0;
        node.restart_at = None;
        let mut config = self
            .scenario
            .totem_for(node.id, seed ^ u64::from(node.inc) << 32);
        config.planted_bug = bug;
        node.totem = Some(Totem::new(config, node.persisted, self.now));
        node.services = Some(NodeServices::new(node.id, node.inc, &self.scenario.quorum));
        let life = Life {
            node: node.id,
            inc: node.inc,
        };
        self.checker.started(life);
        self.trace.line(
            self.now,
            Some(life),
            format_args!("^ up (ring seq {})", node.persisted.ring_seq),
        );
        // The restarted node's first configuration is where its ring id must rise.
        self.drain(i)
    }

    fn resume(&mut self, i: usize) -> Check {
        let node = &mut self.nodes[i];
        node.paused_until = None;
        let inbox = std::mem::take(&mut node.inbox);
        self.trace.event(
            self.now,
            &self.nodes[i],
            format_args!("~ resumed, {} packets waiting", inbox.len()),
        );
        for (from, p) in inbox {
            if self.nodes[i].totem.is_some() {
                self.deliver_packet(i, from, p)?;
            }
        }
        Ok(())
    }

    /// Gives a node's services the time, carries out the node's outputs, then checks its
    /// quorum decision against everyone else's.
    fn drain(&mut self, i: usize) -> Check {
        let life = Life {
            node: self.nodes[i].id,
            inc: self.nodes[i].inc,
        };
        if let Some(s) = self.nodes[i].services.as_mut() {
            s.services
                .handle_tick(Duration::from_nanos(self.now.as_nanos()));
            s.drain(life)?;
        }
        self.drain_outputs(i, life)?;
        self.check_quorum(i)
    }

    /// votequorum's decision on node `i`, if it runs.
    fn quorum_view(&self, i: usize) -> Option<QuorumView<'_>> {
        let node = &self.nodes[i];
        let vq = node.services.as_ref()?.services.engine::<Votequorum>()?;
        let (ring, members) = vq.decided_for();
        Some(QuorumView {
            life: Life {
                node: node.id,
                inc: node.inc,
            },
            quorate: vq.quorate(),
            expected_votes: vq.expected_votes(),
            ring,
            members,
        })
    }

    /// No two partitions are quorate at once (`invariants/quorum.rs`); changes are traced.
    fn check_quorum(&mut self, i: usize) -> Check {
        let Some(me) = self.quorum_view(i) else {
            return Ok(());
        };
        let only = self
            .scenario
            .quorum
            .last_man_standing
            .then_some(self.nodes.len() as u32);
        if me.quorate {
            for j in (0..self.nodes.len()).filter(|j| *j != i) {
                if let Some(other) = self.quorum_view(j) {
                    check_split_brain(&me, &other, only)?;
                }
            }
        }
        let (quorate, expected, ring) = (me.quorate, me.expected_votes, me.ring);
        let seen = Some((quorate, expected, ring));
        if self.quorum_seen[i] != seen {
            self.quorum_seen[i] = seen;
            let total = self.nodes[i]
                .services
                .as_ref()
                .and_then(|s| s.services.engine::<Votequorum>())
                .map_or(0, |vq| vq.status().total_votes);
            self.trace.event(
                self.now,
                &self.nodes[i],
                format_args!(
                    "quorum: {} expected {expected} total {total} ring {ring}",
                    if quorate { "quorate" } else { "inquorate" }
                ),
            );
        }
        Ok(())
    }

    /// Carries out a node's outputs, feeding deliveries and configurations to its services
    /// and their multicasts back to Totem, until nothing is left.
    fn drain_outputs(&mut self, i: usize, life: Life) -> Check {
        loop {
            self.submit_pending(i);
            let mut outputs = Vec::new();
            if let Some(t) = self.nodes[i].totem.as_mut() {
                while let Some(o) = t.poll_output() {
                    outputs.push(o);
                }
            }
            if outputs.is_empty() {
                return Ok(());
            }
            for o in outputs {
                match o {
                    Output::Transmit { to, packet } => self.send(i, to, packet),
                    Output::Deliver(d) => {
                        self.trace.delivery(self.now, life, &d);
                        let view = Nodes(&self.nodes);
                        self.checker.delivered(life, &d, &view)?;
                        if d.payload.first() == Some(&SERVICE_TAG) {
                            self.service_delivery(i, life, &d)?;
                        }
                    }
                    Output::Configuration(c) => {
                        self.trace.configuration(self.now, life, &c);
                        self.checker.configuration(life, &c)?;
                        if let Some(s) = self.nodes[i].services.as_mut() {
                            s.services.handle_configuration(&c);
                            s.drain(life)?;
                        }
                    }
                    Output::Persist(seq) => {
                        let p = &mut self.nodes[i].persisted;
                        p.ring_seq = p.ring_seq.max(seq);
                    }
                }
            }
        }
    }

    fn service_delivery(&mut self, i: usize, life: Life, d: &ais_totem::Delivery) -> Check {
        let Some(s) = self.nodes[i].services.as_mut() else {
            return Ok(());
        };
        let inner = ais_totem::Delivery {
            payload: d.payload.slice(SERVICE_HEADER..),
            ..d.clone()
        };
        s.record(&inner.payload);
        s.services.handle_delivery(&inner);
        s.drain(life)?;
        if !s.services.is_syncing() {
            let transitional_to = match self.checker.history().running(life.node) {
                Some((_, lh)) => match &lh.current {
                    Some(crate::invariants::Config::Transitional { ring, .. }) => Some(*ring),
                    _ => None,
                },
                None => None,
            };
            self.replicas
                .applied(life, d, transitional_to, &s.services)?;
        }
        Ok(())
    }

    /// Hands the services' waiting multicasts to Totem while its send queue has room, each
    /// as the node's next message (one counter with the workload's, as one send queue).
    fn submit_pending(&mut self, i: usize) {
        let SimNode {
            id,
            inc,
            counter,
            totem,
            services,
            ..
        } = &mut self.nodes[i];
        let (Some(totem), Some(services)) = (totem.as_mut(), services.as_mut()) else {
            return;
        };
        while let Some((payload, order)) = services.pending.front() {
            let key = MsgKey {
                origin: *id,
                inc: *inc,
                counter: *counter + 1,
            };
            let tagged = tag(key, *order, payload);
            let len = tagged.len();
            if totem.submit(self.now, tagged, *order).is_err() {
                return;
            }
            *counter += 1;
            self.checker.submitted(key, len, *order);
            services.pending.pop_front();
        }
    }

    /// Crashes node `id` now (for scenario tests and measurements).
    pub fn crash_node(&mut self, id: NodeId) {
        self.crash(id.0 as usize - 1, "!");
    }

    /// The regular configuration node `id` is in, if running.
    pub fn regular_of(&self, id: NodeId) -> Option<(RingId, Vec<NodeId>)> {
        let (_, lh) = self.checker.history().running(id)?;
        match &lh.current {
            Some(crate::invariants::Config::Regular { ring, members }) => {
                Some((*ring, members.clone()))
            }
            _ => None,
        }
    }

    /// Starts the workload without faults (for measurements).
    pub fn start_workload(&mut self) {
        self.submitting = true;
        for i in 0..self.nodes.len() {
            let at = self.now + self.exp(Duration::from_secs_f64(1.0 / self.scenario.submit_rate));
            self.schedule(at, Event::Submit { node: i });
        }
    }
}

/// The change a configuration output announces, for traces.
pub(crate) fn describe(c: &ConfigChange) -> String {
    match c {
        ConfigChange::Transitional {
            old_ring_id,
            ring_id,
            members,
            ..
        } => {
            format!("= transitional {old_ring_id}->{ring_id} {members:?}")
        }
        ConfigChange::Regular {
            ring_id,
            members,
            joined,
            left,
        } => {
            format!("= regular {ring_id} {members:?} joined {joined:?} left {left:?}")
        }
    }
}
