//! The processor: its state, the public entry points, and dispatch to the protocol modules.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use ais_types::{Instant, MESSAGE_SIZE_MAX, NodeId, RingId};
use ais_wire::{CommitToken, Mcast, Order, Packet, PacketKind, Token};
use bytes::Bytes;
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

use crate::packing::{Reassembly, SendQueue};
use crate::ring_log::RingLog;
use crate::timers::{Timer, TimerTable};
use crate::{ConfigChange, Dest, Output, Persisted, SubmitError, TotemConfig};

/// Bound of the output queue. The shell drains it after every input, so reaching it is a bug.
const OUTBOX_MAX: usize = 1 << 20;

/// One processor's view of the single ring.
#[derive(Debug)]
pub struct Totem {
    pub(crate) me: NodeId,
    pub(crate) config: TotemConfig,
    pub(crate) state: State,
    /// The ring frames are ordered on: the installed ring, or the new one during recovery.
    pub(crate) ring: RingLog,
    /// During recovery: the installed (old) ring, which receives recovered frames.
    pub(crate) old: Option<RingLog>,
    /// Members of the installed ring, ascending.
    pub(crate) members: Vec<NodeId>,
    /// Corosync's `my_proc_list` and `my_failed_list`.
    pub(crate) proc_set: BTreeSet<NodeId>,
    pub(crate) fail_set: BTreeSet<NodeId>,
    /// For each failed processor, the ring seq it had announced when it was failed.
    pub(crate) fail_seq: BTreeMap<NodeId, u64>,
    /// The highest ring seq each processor announced in a Join.
    pub(crate) join_seq_seen: BTreeMap<NodeId, u64>,
    /// Highest ring seq adopted (persisted before use).
    pub(crate) adopted_seq: u64,
    /// Highest ring seq seen in any Join (corosync's `token_ring_id_seq`).
    pub(crate) max_seq_seen: u64,
    /// The seq of the newest commit token that listed me but that I refused (my view had
    /// changed); my Joins carry at least this seq so the ring's members leave commit.
    pub(crate) refused_seq: u64,
    /// When a packet last came from each processor.
    pub(crate) last_heard: BTreeMap<NodeId, Instant>,
    /// When each processor entered my proc set (it gets `fail_fast` from then to be heard).
    pub(crate) known_since: BTreeMap<NodeId, Instant>,
    pub(crate) tok: TokenState,
    pub(crate) send: SendQueue,
    pub(crate) reasm: Reassembly,
    pub(crate) timers: TimerTable,
    pub(crate) outbox: Outbox,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) stats: TotemStats,
}

/// The membership state, a struct per state so fields exist only where they mean something.
#[derive(Debug)]
pub(crate) enum State {
    Operational,
    Gather(Gather),
    Commit(Commit),
    Recovery(Box<Recovery>),
    /// Left the ring gracefully; inert.
    Left,
}

#[derive(Debug)]
pub(crate) struct Gather {
    /// Processors whose Join matched my sets (corosync's `consensus[]`).
    pub(crate) consensus: BTreeSet<NodeId>,
    /// When this round of gathering began (for `fail_fast`).
    pub(crate) started: Instant,
}

#[derive(Debug)]
pub(crate) struct Commit {
    pub(crate) ring_id: RingId,
    pub(crate) members: Vec<NodeId>,
}

#[derive(Debug)]
pub(crate) struct Recovery {
    pub(crate) ring_id: RingId,
    pub(crate) new_members: Vec<NodeId>,
    /// Members of the new ring coming from my old ring (the transitional configuration).
    pub(crate) trans_members: Vec<NodeId>,
    /// Highest seq any transitional member delivered on the old ring.
    pub(crate) high_ring_delivered: u64,
    /// Old-ring frames still to re-send, encapsulated, on the new ring.
    pub(crate) retrans_queue: VecDeque<Mcast>,
    /// Old-ring seqs some member already re-sent on the new ring.
    pub(crate) resent_by_others: BTreeSet<u64>,
    pub(crate) set_retrans_flg: bool,
    pub(crate) retrans_flg_count: u32,
    pub(crate) install_seq: u64,
    pub(crate) rotation_counter: u32,
    /// The representative originated the first token already.
    pub(crate) originated: bool,
}

impl State {
    /// The ring being formed, in commit or recovery: its id and members.
    pub(crate) fn forming(&self) -> Option<(RingId, &[NodeId])> {
        match self {
            Self::Commit(c) => Some((c.ring_id, &c.members)),
            Self::Recovery(r) => Some((r.ring_id, &r.new_members)),
            _ => None,
        }
    }
}

impl Recovery {
    /// The next old-ring frame to re-send that no other member re-sent yet.
    pub(crate) fn take_next_to_resend(&mut self) -> Option<Mcast> {
        while let Some(frame) = self.retrans_queue.pop_front() {
            if !self.resent_by_others.contains(&frame.seq) {
                return Some(frame);
            }
        }
        None
    }
}

/// Per-ring token bookkeeping; reset when a new ring starts.
#[derive(Debug, Default)]
pub(crate) struct TokenState {
    /// `token_seq` of the last token accepted; older copies are duplicates.
    pub(crate) last_token_seq: Option<u64>,
    /// The token's aru as received on my previous visit.
    pub(crate) prev_aru: u64,
    /// Frames at or below this seq are held by every member (safe delivery point).
    pub(crate) safe_point: u64,
    pub(crate) aru_count: u32,
    pub(crate) last_seq_seen: u64,
    pub(crate) seq_unchanged: u32,
    /// Frames I sent on my last visit (corosync's `my_trc`) and my backlog then (`my_pbl`).
    pub(crate) trc: u32,
    pub(crate) pbl: u32,
    /// The idle token, held by the representative.
    pub(crate) held: Option<Token>,
    /// `seq` of the last token I forwarded.
    pub(crate) forwarded_seq: Option<u64>,
    /// The last token or commit token sent (which of the two, for the counters), for
    /// retransmission.
    pub(crate) last_sent: Option<(NodeId, PacketKind, Bytes)>,
    /// Visits on which each missing seq was found missing.
    pub(crate) missing: BTreeMap<u64, u32>,
    pub(crate) hold_cancel_sent: bool,
}

/// Counters for operators (cmap `stats.srp.*`, under corosync's names where they mean the
/// same) and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TotemStats {
    /// Tokens sent (retransmitted copies included).
    pub orf_token_tx: u64,
    /// Tokens received.
    pub orf_token_rx: u64,
    /// Commit tokens sent.
    pub memb_commit_token_tx: u64,
    /// Commit tokens received.
    pub memb_commit_token_rx: u64,
    /// Join messages sent.
    pub memb_join_tx: u64,
    /// Join messages received.
    pub memb_join_rx: u64,
    /// Merge-detect messages sent.
    pub memb_merge_detect_tx: u64,
    /// Merge-detect messages received.
    pub memb_merge_detect_rx: u64,
    /// Token-hold-cancel messages sent.
    pub token_hold_cancel_tx: u64,
    /// Token-hold-cancel messages received.
    pub token_hold_cancel_rx: u64,
    /// Multicast frames received (retransmitted copies included).
    pub mcast_rx: u64,
    /// Entries into gather.
    pub gather_entered: u64,
    /// Entries into commit.
    pub commit_entered: u64,
    /// Entries into recovery.
    pub recovery_entered: u64,
    /// Token timeouts in commit.
    pub commit_token_lost: u64,
    /// Token timeouts in recovery.
    pub recovery_token_lost: u64,
    /// Token timeouts in operational.
    pub operational_token_lost: u64,
    /// Consensus timeouts in gather.
    pub consensus_timeouts: u64,
    /// Entries into gather since the last operational ring (corosync warns from 3 on:
    /// a firewall or a NIC failure).
    pub continuous_gather: u32,
    /// When the last token of my ring arrived.
    pub last_token_received: Option<Instant>,
    /// The last token rotation times (interval between my tokens), in microseconds,
    /// oldest first.
    pub token_rotations_us: VecDeque<u64>,
    /// Packets that failed to decode.
    pub rx_malformed: u64,
    /// Tokens of another ring, or duplicates.
    pub tokens_discarded: u64,
    /// Frames re-sent on request.
    pub retransmits_sent: u64,
    /// Sequence numbers requested for retransmission.
    pub retransmits_requested: u64,
    /// Frames originated.
    pub frames_sent: u64,
    /// Messages delivered.
    pub delivered: u64,
    /// Regular configurations installed.
    pub configurations: u64,
    /// Processors failed by `fail_fast` rather than by the consensus timeout.
    pub fast_failed: u64,
    /// Times this processor ejected itself for failing to receive.
    pub failed_to_receive: u64,
}

/// Token rotations kept for [`TotemStats::mean_token_rotation_us`].
const ROTATIONS_KEPT: usize = 16;

impl TotemStats {
    /// The mean of the last token rotation times (corosync's `mtt_rx_token`), if any.
    pub fn mean_token_rotation_us(&self) -> Option<u64> {
        let n = self.token_rotations_us.len() as u64;
        (n > 0).then(|| self.token_rotations_us.iter().sum::<u64>() / n)
    }

    /// A token of my ring arrived at `now`.
    pub(crate) fn token_received(&mut self, now: Instant) {
        if let Some(last) = self.last_token_received {
            if self.token_rotations_us.len() == ROTATIONS_KEPT {
                self.token_rotations_us.pop_front();
            }
            let us = now.saturating_duration_since(last).as_micros();
            self.token_rotations_us
                .push_back(u64::try_from(us).unwrap_or(u64::MAX));
        }
        self.last_token_received = Some(now);
    }

    /// A packet of `kind` sent. Frames are counted where they are made (`frames_sent`,
    /// `retransmits_sent`).
    pub(crate) fn count_tx(&mut self, kind: PacketKind) {
        match kind {
            PacketKind::Token => self.orf_token_tx += 1,
            PacketKind::Commit => self.memb_commit_token_tx += 1,
            PacketKind::Join => self.memb_join_tx += 1,
            PacketKind::MergeDetect => self.memb_merge_detect_tx += 1,
            PacketKind::TokenHoldCancel => self.token_hold_cancel_tx += 1,
            PacketKind::Mcast => {}
        }
    }

    fn count_rx(&mut self, kind: PacketKind) {
        match kind {
            PacketKind::Token => self.orf_token_rx += 1,
            PacketKind::Commit => self.memb_commit_token_rx += 1,
            PacketKind::Join => self.memb_join_rx += 1,
            PacketKind::MergeDetect => self.memb_merge_detect_rx += 1,
            PacketKind::TokenHoldCancel => self.token_hold_cancel_rx += 1,
            PacketKind::Mcast => self.mcast_rx += 1,
        }
    }

    /// A ring was installed: the gathering that led to it is over.
    pub(crate) fn ring_installed(&mut self) {
        self.configurations += 1;
        self.continuous_gather = 0;
    }
}

impl Totem {
    /// A processor starting (or restarting) at `now`. It installs a singleton ring whose seq
    /// is above anything it adopted before, then gathers to find the others.
    pub fn new(config: TotemConfig, persisted: Persisted, now: Instant) -> Self {
        let me = config.node_id;
        assert!(me.0 != 0, "node id 0 is reserved");
        if let Err(e) = config.validate() {
            panic!("invalid Totem configuration: {e}");
        }
        let adopted_seq = persisted.ring_seq + 1;
        let ring_id = RingId::new(me, adopted_seq);
        let mut t = Self {
            me,
            rng: ChaCha8Rng::seed_from_u64(config.rng_seed),
            config,
            state: State::Gather(Gather {
                consensus: BTreeSet::new(),
                started: now,
            }),
            ring: RingLog::new(ring_id),
            old: None,
            members: vec![me],
            proc_set: BTreeSet::from([me]),
            fail_set: BTreeSet::new(),
            fail_seq: BTreeMap::new(),
            join_seq_seen: BTreeMap::new(),
            adopted_seq,
            max_seq_seen: adopted_seq,
            refused_seq: 0,
            last_heard: BTreeMap::new(),
            known_since: BTreeMap::new(),
            tok: TokenState::default(),
            send: SendQueue::default(),
            reasm: Reassembly::default(),
            timers: TimerTable::default(),
            outbox: Outbox::default(),
            stats: TotemStats::default(),
        };
        t.push(Output::Persist(adopted_seq));
        t.push(Output::Configuration(ConfigChange::Regular {
            ring_id,
            members: vec![me],
            joined: vec![me],
            left: vec![],
        }));
        t.stats.configurations += 1;
        t.gather_enter(now);
        t
    }

    /// A packet that the transport already authenticated. Malformed, stale or foreign
    /// packets are counted and dropped.
    pub fn handle_packet(&mut self, now: Instant, packet: Bytes) {
        let (from, packet) = match Packet::decode(packet) {
            Ok(p) => p,
            Err(e) => {
                self.stats.rx_malformed += 1;
                tracing::debug!(error = %e, "malformed packet dropped");
                return;
            }
        };
        if matches!(self.state, State::Left) {
            return;
        }
        // The token and commit token of a one-node ring come back to their sender; anything
        // else from myself is a looped-back multicast.
        if from == self.me && !matches!(packet, Packet::Token(_) | Packet::Commit(_)) {
            return;
        }
        self.last_heard.insert(from, now);
        self.stats.count_rx(packet.kind());
        match packet {
            Packet::Token(t) => self.on_token(now, from, t),
            Packet::Mcast(m) => self.on_mcast(now, from, m),
            Packet::Join(j) => self.on_join(now, from, j),
            Packet::Commit(c) => self.on_commit(now, from, c),
            Packet::MergeDetect { ring_id } => self.on_merge_detect(now, from, ring_id),
            Packet::TokenHoldCancel { ring_id } => self.on_hold_cancel(now, ring_id),
        }
    }

    /// Fires every timer due at `now`, earliest first; an early call does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_expired(now) {
            self.on_timer(now, timer);
        }
    }

    /// Queues a message for agreed or safe delivery. On `Err`, nothing changed.
    pub fn submit(
        &mut self,
        now: Instant,
        payload: Bytes,
        order: Order,
    ) -> Result<(), SubmitError> {
        if matches!(self.state, State::Left) {
            return Err(SubmitError::Left);
        }
        if payload.len() > MESSAGE_SIZE_MAX {
            return Err(SubmitError::TooLarge(payload.len()));
        }
        let queued = self.send.bytes();
        if queued + payload.len() > self.config.max_send_queue_bytes {
            return Err(SubmitError::Backlog { queued });
        }
        self.send.push(order, payload);
        self.request_token(now);
        Ok(())
    }

    /// Takes new settings at runtime (a configuration reload): the timers and limits apply
    /// from the next time each timer is set; the node id, the MTU and the random seed stay
    /// what they were. Settings that do not validate are refused and nothing changes.
    pub fn reconfigure(&mut self, new: &TotemConfig) -> Result<(), crate::ConfigError> {
        let mut next = new.clone();
        next.node_id = self.config.node_id;
        next.netmtu = self.config.netmtu;
        next.rng_seed = self.config.rng_seed;
        next.validate()?;
        self.config = next;
        Ok(())
    }

    /// Leaves the ring gracefully: the others drop this processor at once instead of after
    /// a token timeout. The processor is inert afterwards.
    pub fn leave(&mut self, _now: Instant) {
        let mut fail = self.fail_set.clone();
        fail.insert(self.me);
        let join = ais_wire::Join {
            ring_seq: self.adopted_seq,
            leave: true,
            proc_list: self
                .proc_set
                .iter()
                .copied()
                .filter(|n| *n != self.me)
                .collect(),
            fail_list: fail.into_iter().collect(),
        };
        // Twice: a lost leave costs the others a token timeout.
        for _ in 0..2 {
            self.transmit(Dest::Ring, &Packet::Join(join.clone()));
        }
        self.state = State::Left;
        self.timers.stop_all();
    }

    /// The next output for the shell to carry out.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outbox.0.pop_front()
    }

    /// When the shell must call [`Totem::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// This processor's id.
    pub fn node_id(&self) -> NodeId {
        self.me
    }

    /// The installed ring.
    pub fn ring_id(&self) -> RingId {
        self.old.as_ref().map_or(self.ring.id, |o| o.id)
    }

    /// Members of the installed ring.
    pub fn members(&self) -> &[NodeId] {
        &self.members
    }

    /// Is the ring operational (not forming a new membership)?
    pub fn is_operational(&self) -> bool {
        matches!(self.state, State::Operational)
    }

    /// A short name of the membership state, for traces.
    pub fn state_name(&self) -> &'static str {
        match self.state {
            State::Operational => "OPER",
            State::Gather(_) => "GATH",
            State::Commit(_) => "COMM",
            State::Recovery(_) => "RECO",
            State::Left => "LEFT",
        }
    }

    /// Does this processor hold (or did it release as held by all) frame `seq` of `ring`?
    /// The simulator uses it to check safe delivery.
    pub fn holds(&self, ring: RingId, seq: u64) -> bool {
        [Some(&self.ring), self.old.as_ref()]
            .into_iter()
            .flatten()
            .any(|log| log.id == ring && log.holds(seq))
    }

    /// The ordering counters of the current ring: (aru, highest seq received, delivered).
    pub fn ordering(&self) -> (u64, u64, u64) {
        (self.ring.aru, self.ring.high_seq, self.ring.high_delivered)
    }

    /// Frames of the current ring kept for retransmission (not yet known to every member).
    pub fn retained_frames(&self) -> usize {
        self.ring.frames.len()
    }

    /// Counters.
    pub fn stats(&self) -> &TotemStats {
        &self.stats
    }

    /// Bytes of application messages not yet sent.
    pub fn send_queue_bytes(&self) -> usize {
        self.send.bytes()
    }

    pub(crate) fn push(&mut self, output: Output) {
        self.outbox.push(output);
    }

    pub(crate) fn transmit(&mut self, to: Dest, packet: &Packet) {
        self.stats.count_tx(packet.kind());
        let packet = packet.encode(self.me);
        self.push(Output::Transmit { to, packet });
    }

    fn on_timer(&mut self, now: Instant, timer: Timer) {
        match timer {
            Timer::Token => self.on_token_loss(now),
            Timer::TokenRetransmit => self.retransmit_token(now),
            Timer::TokenHoldRetransmit => self.release_held_token(now),
            Timer::Join => self.on_join_timer(now),
            Timer::Consensus => self.on_consensus_timeout(now),
            Timer::MergeDetect => self.on_merge_timer(),
        }
    }

    pub(crate) fn commit_token_for_me(&self, c: &CommitToken) -> bool {
        c.members.get(c.entries.len()) == Some(&self.me)
    }
}

/// The successor of `me` in `members` (ascending, wrapping): where the token goes next.
pub(crate) fn successor(me: NodeId, members: &[NodeId]) -> NodeId {
    members
        .iter()
        .copied()
        .find(|n| *n > me)
        .unwrap_or(members[0])
}

/// Outputs waiting for the shell; bounded, since the shell drains it after every input.
#[derive(Debug, Default)]
pub(crate) struct Outbox(VecDeque<Output>);

impl Outbox {
    pub(crate) fn push(&mut self, output: Output) {
        assert!(
            self.0.len() < OUTBOX_MAX,
            "outbox overflow: the shell must drain it"
        );
        self.0.push_back(output);
    }
}

#[cfg(test)]
mod tests;
