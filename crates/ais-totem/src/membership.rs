//! The membership protocol (TOCS95 §6–7; corosync `memb_*`): gather with Join messages
//! until consensus, the commit token's two rotations, recovery of old-ring frames on the new
//! ring, and the delivery of the transitional and regular configurations.
//!
//! Invariants: `proc_set` and `fail_set` only grow while gathering (so gathering ends);
//! a ring id is adopted (and persisted) only if its seq is above every seq adopted before;
//! all members of the transitional configuration end recovery holding the same old-ring
//! frames, so they deliver the same messages before the configuration change.

use std::collections::{BTreeSet, VecDeque};
use std::mem;

use ais_types::{Instant, NodeId, NodeList, RingId};
use ais_wire::{CommitEntry, CommitToken, Join, Packet, Token};
use rand_core::RngCore;

use crate::node::{Commit, Gather, Recovery, State, TokenState, successor};
use crate::ordering::deliver_frame;
use crate::ring_log::{RingLog, needs_safe};
use crate::timers::Timer;
use crate::{ConfigChange, Dest, Output, Totem};

impl Totem {
    /// Shift to gather (TOCS95 Fig. 4): announce my sets and wait for agreement.
    pub(crate) fn gather_enter(&mut self, now: Instant) {
        self.stats.gather_entered += 1;
        self.stats.continuous_gather = self.stats.continuous_gather.saturating_add(1);
        if matches!(self.state, State::Recovery(_)) {
            // "Failure of recovery" (TOCS95 §7.2): back to the installed ring's state.
            if let Some(old) = self.old.take() {
                self.ring = old;
            }
        }
        let started = match &self.state {
            State::Gather(g) => g.started,
            _ => now,
        };
        self.proc_set.insert(self.me);
        self.state = State::Gather(Gather {
            consensus: BTreeSet::from([self.me]),
            started,
        });
        self.tok = TokenState::default();
        for t in [
            Timer::Token,
            Timer::TokenRetransmit,
            Timer::TokenHoldRetransmit,
            Timer::MergeDetect,
        ] {
            self.timers.stop(t);
        }
        self.timers
            .set(Timer::Consensus, now + self.config.consensus);
        self.send_join(now);
        self.check_consensus(now);
    }

    fn send_join(&mut self, now: Instant) {
        let join = Join {
            // A refused commit token's seq marks this Join as newer than that token, so its
            // sender, waiting in commit, knows the token will not come back.
            ring_seq: self.adopted_seq.max(self.refused_seq),
            leave: false,
            proc_list: self.proc_set.iter().copied().collect(),
            fail_list: self.fail_set.iter().copied().collect(),
        };
        self.transmit(Dest::Ring, &Packet::Join(join));
        let jitter_ns = self.config.send_join.as_nanos() as u64;
        let jitter = if jitter_ns == 0 {
            0
        } else {
            self.rng.next_u64() % jitter_ns
        };
        self.timers.set(
            Timer::Join,
            now + self.config.join + std::time::Duration::from_nanos(jitter),
        );
    }

    /// Somebody new is known: it is given `fail_fast` from now to be heard.
    pub(crate) fn add_proc(&mut self, now: Instant, node: NodeId) {
        if self.proc_set.insert(node) {
            self.known_since.insert(node, now);
        }
    }

    pub(crate) fn on_join(&mut self, now: Instant, from: NodeId, j: Join) {
        self.max_seq_seen = self.max_seq_seen.max(j.ring_seq);
        let seen = self.join_seq_seen.entry(from).or_insert(0);
        *seen = (*seen).max(j.ring_seq);
        match &self.state {
            State::Left => {}
            State::Operational => {
                if j.fail_list.contains(&self.me) {
                    return;
                }
                // A Join from the gathering that formed my ring, still in flight.
                if self.members.contains(&from) && j.ring_seq < self.ring.id.seq {
                    return;
                }
                self.join_process(now, from, &j);
                if matches!(self.state, State::Operational) {
                    self.gather_enter(now);
                }
            }
            State::Gather(_) => self.join_process(now, from, &j),
            // Forming a new ring: only its own members, in a round at least as new, can
            // send me back to gathering.
            State::Commit(_) | State::Recovery(_) => {
                let (ring_id, members) = self.state.forming().expect("commit or recovery");
                if members.contains(&from) && j.ring_seq >= ring_id.seq {
                    self.join_process(now, from, &j);
                    if !matches!(self.state, State::Gather(_)) {
                        self.gather_enter(now);
                    }
                }
            }
        }
    }

    /// corosync's `memb_join_process` (TOCS95 Fig. 4, "Join message received").
    fn join_process(&mut self, now: Instant, from: NodeId, j: &Join) {
        let jproc: BTreeSet<NodeId> = j.proc_list.iter().copied().collect();
        let jfail: BTreeSet<NodeId> = j.fail_list.iter().copied().collect();
        // A processor I failed has since installed a ring of its own and started a new round
        // (its ring seq rose past what I knew when I failed it): the verdict is obsolete.
        // Keeping it makes rounds that end at different times fail each other forever.
        if self.fail_set.contains(&from)
            && j.ring_seq > self.fail_seq.get(&from).copied().unwrap_or(0)
        {
            self.fail_set.remove(&from);
            self.fail_seq.remove(&from);
            self.gather_enter(now);
        }
        // Agreement is on the ring to install (proc − fail), as the commit token checks; the
        // two sets may differ outside it (TOCS95 compares the sets themselves, which lets
        // processors from different old rings disagree forever about some third one).
        let jlive: BTreeSet<NodeId> = jproc.difference(&jfail).copied().collect();
        if jlive == self.proc_set.difference(&self.fail_set).copied().collect() {
            if let State::Gather(g) = &mut self.state {
                if !j.leave {
                    g.consensus.insert(from);
                }
                self.check_consensus(now);
            }
            return;
        }
        if jproc.is_subset(&self.proc_set) && jfail.is_subset(&self.fail_set) {
            return; // the sender is behind; it will catch up from my Join
        }
        if self.fail_set.contains(&from) {
            return;
        }
        // A Join naming me failed, from a round older than mine: its verdict predates what I
        // have done since (a late Join from before the sender's last commit). Answering it
        // by failing the sender makes two live processors exclude each other for a whole
        // round, and stale Joins keep doing it round after round. Its next Join is fresh.
        if jfail.contains(&self.me) && j.ring_seq < self.adopted_seq {
            return;
        }
        let (procs, fails) = (self.proc_set.len(), self.fail_set.len());
        for n in jproc {
            self.add_proc(now, n);
        }
        if jfail.contains(&self.me) {
            self.fail([from]);
        } else if self.members.contains(&from) {
            self.fail(jfail);
        } else {
            // From another ring, take only verdicts about processors I have not heard from
            // lately myself: a processor I hear is alive to me, whatever the sender thinks.
            let recent = self.config.fail_fast.max(self.config.join * 4);
            let silent: Vec<NodeId> = jfail
                .into_iter()
                .filter(|x| *x != self.me)
                .filter(|x| self.last_heard.get(x).is_none_or(|t| now - *t >= recent))
                .collect();
            self.fail(silent);
        }
        // Re-announce only what changed: answering every differing Join with a Join of my
        // own turns a disagreement that cannot be resolved (a fail set I do not adopt)
        // into a storm. The join timer repeats my view anyway.
        let changed = (procs, fails) != (self.proc_set.len(), self.fail_set.len());
        if changed || !matches!(self.state, State::Gather(_)) {
            self.gather_enter(now);
        }
    }

    /// Adds processors to the fail set, remembering the ring seq each had announced then.
    pub(crate) fn fail(&mut self, nodes: impl IntoIterator<Item = NodeId>) {
        for n in nodes {
            if n != self.me && self.fail_set.insert(n) {
                let seq = self.join_seq_seen.get(&n).copied().unwrap_or(0);
                self.fail_seq.insert(n, seq);
            }
        }
    }

    pub(crate) fn clear_fail(&mut self) {
        self.fail_set.clear();
        self.fail_seq.clear();
    }

    /// Members of the proposed ring: `proc_set − fail_set`, ascending.
    fn live_set(&self) -> Vec<NodeId> {
        self.proc_set.difference(&self.fail_set).copied().collect()
    }

    fn consensus_agreed(&self) -> bool {
        let State::Gather(g) = &self.state else {
            return false;
        };
        self.live_set().iter().all(|n| g.consensus.contains(n))
    }

    fn check_consensus(&mut self, now: Instant) {
        if !self.consensus_agreed() {
            return;
        }
        let live = self.live_set();
        if live.first() == Some(&self.me) {
            // I am the representative: create the commit token (TOCS95 §6.2.2).
            let seq = self
                .adopted_seq
                .max(self.max_seq_seen)
                .max(self.ring.id.seq)
                + 4;
            let token = CommitToken {
                ring_id: RingId::new(self.me, seq),
                token_seq: 0,
                members: live,
                entries: Vec::new(),
            };
            tracing::debug!(node = %self.me, ring = %token.ring_id, "consensus: creating commit token");
            self.commit_enter(now, token);
        }
    }

    pub(crate) fn on_join_timer(&mut self, now: Instant) {
        let State::Gather(g) = &self.state else {
            return;
        };
        let fail_fast = self.config.fail_fast;
        if !fail_fast.is_zero() {
            let silent: Vec<NodeId> = self
                .live_set()
                .into_iter()
                .filter(|n| *n != self.me && !g.consensus.contains(n))
                .filter(|n| {
                    let heard = self.last_heard.get(n).copied().unwrap_or(Instant::ZERO);
                    let known = self.known_since.get(n).copied().unwrap_or(Instant::ZERO);
                    now - heard.max(known).max(g.started) >= fail_fast
                })
                .collect();
            if !silent.is_empty() {
                tracing::debug!(node = %self.me, silent = %NodeList(&silent), "failing processors silent while gathering");
                self.stats.fast_failed += silent.len() as u64;
                self.fail(silent);
                self.gather_enter(now);
                return;
            }
        }
        self.send_join(now);
    }

    pub(crate) fn on_consensus_timeout(&mut self, now: Instant) {
        if !matches!(self.state, State::Gather(_)) {
            return;
        }
        self.stats.consensus_timeouts += 1;
        if self.consensus_agreed() {
            // Agreed, but the representative's commit token never came: ask again.
            if let State::Gather(g) = &mut self.state {
                g.consensus = BTreeSet::from([self.me]);
            }
            self.timers
                .set(Timer::Consensus, now + self.config.consensus);
            return;
        }
        #[cfg(feature = "planted-bugs")]
        if self.config.planted_bug == Some(crate::PlantedBug::InstallWithoutConsensus) {
            self.install_without_consensus(now);
            return;
        }
        let State::Gather(g) = &self.state else {
            return;
        };
        let silent: Vec<NodeId> = self
            .live_set()
            .into_iter()
            .filter(|n| !g.consensus.contains(n))
            .collect();
        self.fail(silent);
        self.gather_enter(now);
    }

    pub(crate) fn on_token_loss(&mut self, now: Instant) {
        let lost = match self.state {
            State::Operational => &mut self.stats.operational_token_lost,
            State::Commit(_) => &mut self.stats.commit_token_lost,
            State::Recovery(_) => &mut self.stats.recovery_token_lost,
            State::Gather(_) | State::Left => return,
        };
        *lost += 1;
        tracing::info!(
            node = %self.me, state = self.state_name(),
            "A processor failed, forming new configuration: token timed out"
        );
        self.gather_enter(now);
    }

    /// Failure to receive (corosync): the token's aru stayed at mine for `fail_recv_const`
    /// rotations, so I cannot receive what the others send. I leave them and form a ring
    /// of my own, which merges back later.
    pub(crate) fn self_eject(&mut self, now: Instant) {
        tracing::warn!(node = %self.me, "FAILED TO RECEIVE: leaving the ring");
        self.stats.failed_to_receive += 1;
        self.proc_set = BTreeSet::from([self.me]);
        self.clear_fail();
        let others = minus(&self.members, &[self.me]);
        self.fail(others);
        self.gather_enter(now);
    }

    pub(crate) fn on_merge_detect(&mut self, now: Instant, from: NodeId, ring_id: RingId) {
        if ring_id == self.ring.id {
            return;
        }
        self.on_foreign(now, from, ring_id);
    }

    pub(crate) fn on_merge_timer(&mut self) {
        if matches!(self.state, State::Operational) && self.ring.id.rep == self.me {
            self.transmit(
                Dest::Ring,
                &Packet::MergeDetect {
                    ring_id: self.ring.id,
                },
            );
        }
    }

    /// First rotation of the commit token: report my old ring, adopt the new ring id.
    fn commit_enter(&mut self, now: Instant, mut c: CommitToken) {
        assert!(
            self.commit_token_for_me(&c),
            "commit token is not at my position"
        );
        c.entries.push(CommitEntry {
            old_ring: self.ring.id,
            aru: self.ring.aru,
            high_seq: self.ring.high_seq,
            high_delivered: self.ring.high_delivered,
        });
        assert!(
            c.ring_id.seq > self.adopted_seq,
            "ring seq {} not above adopted {}",
            c.ring_id.seq,
            self.adopted_seq
        );
        self.adopted_seq = c.ring_id.seq;
        self.max_seq_seen = self.max_seq_seen.max(c.ring_id.seq);
        self.push(Output::Persist(self.adopted_seq));
        // This round of gathering is over: its verdicts are spent. Should the new ring fail
        // to form, the next round starts from the members I agreed to, not from failures
        // that may be long stale (they would keep poisoning every later Join of mine).
        self.proc_set = c.members.iter().copied().collect();
        self.clear_fail();
        self.stats.commit_entered += 1;
        self.state = State::Commit(Commit {
            ring_id: c.ring_id,
            members: c.members.clone(),
        });
        self.timers.stop(Timer::Join);
        self.timers.stop(Timer::Consensus);
        self.timers
            .set(Timer::Token, now + self.config.token_timeout());
        c.token_seq += 1;
        let next = c.members[c.entries.len() % c.members.len()];
        self.send_token_like(now, next, &Packet::Commit(c));
    }

    pub(crate) fn on_commit(&mut self, now: Instant, _from: NodeId, c: CommitToken) {
        let full = c.entries.len() == c.members.len();
        match &mut self.state {
            State::Gather(_) => {
                if !full
                    && c.members == self.live_set()
                    && c.ring_id.seq > self.adopted_seq
                    && c.ring_id.rep == c.members[0]
                    && self.commit_token_for_me(&c)
                {
                    self.commit_enter(now, c);
                } else if !full
                    && c.members.contains(&self.me)
                    && c.ring_id.seq > self.adopted_seq.max(self.refused_seq)
                {
                    // My view changed after I agreed: the token dies here. Tell the members
                    // waiting in commit at once, with a Join newer than their ring, instead
                    // of leaving them to a token timeout while I fail them as silent (seen
                    // on real daemons started at the same moment). Corosync drops the token
                    // silently.
                    self.refused_seq = c.ring_id.seq;
                    self.send_join(now);
                }
            }
            State::Commit(st) => {
                if full && c.ring_id == st.ring_id {
                    self.recovery_enter(now, c);
                }
            }
            State::Recovery(r) => {
                // Only the end of the second rotation: a late retransmission of the first
                // rotation's last hop must not start the ring while others are still in commit.
                let second = c.token_seq >= 2 * c.members.len() as u64;
                if full
                    && second
                    && c.ring_id == r.ring_id
                    && c.ring_id.rep == self.me
                    && !r.originated
                {
                    r.originated = true;
                    let first = Token::first(r.ring_id);
                    self.on_token(now, self.me, first);
                }
            }
            State::Operational | State::Left => {}
        }
    }

    /// Shift to recovery (TOCS95 Fig. 7): work out the transitional configuration and queue
    /// the old-ring frames the others may lack; then pass the commit token on (second
    /// rotation).
    fn recovery_enter(&mut self, now: Instant, mut c: CommitToken) {
        self.stats.recovery_entered += 1;
        let old_id = self.ring.id;
        let trans: Vec<(NodeId, CommitEntry)> = c
            .members
            .iter()
            .zip(&c.entries)
            .filter(|(p, e)| e.old_ring == old_id && self.members.contains(p))
            .map(|(p, e)| (*p, *e))
            .collect();
        let low_aru = trans.iter().map(|(_, e)| e.aru).min().unwrap_or(0);
        let high_aru = trans.iter().map(|(_, e)| e.aru).max().unwrap_or(0);
        let high_ring_delivered = trans
            .iter()
            .map(|(_, e)| e.high_delivered)
            .max()
            .unwrap_or(0);
        // If everyone holds exactly the same frames there is nothing to exchange.
        let exchange = trans
            .iter()
            .any(|(_, e)| e.aru != high_aru || e.high_seq != e.aru);
        let mut retrans_queue = VecDeque::new();
        if exchange {
            debug_assert!(
                low_aru >= self.ring.released,
                "released frames a member lacks"
            );
            retrans_queue.extend(
                self.ring
                    .frames
                    .range(low_aru + 1..)
                    .map(|(_, f)| f.clone()),
            );
        }
        tracing::debug!(
            node = %self.me, ring = %c.ring_id, frames = retrans_queue.len(),
            "entering recovery"
        );
        let old = mem::replace(&mut self.ring, RingLog::new(c.ring_id));
        self.old = Some(old);
        self.tok = TokenState::default();
        self.state = State::Recovery(Box::new(Recovery {
            ring_id: c.ring_id,
            new_members: c.members.clone(),
            trans_members: trans.iter().map(|(p, _)| *p).collect(),
            high_ring_delivered,
            retrans_queue,
            resent_by_others: BTreeSet::new(),
            set_retrans_flg: false,
            retrans_flg_count: 0,
            install_seq: 0,
            rotation_counter: 0,
            originated: false,
        }));
        self.timers
            .set(Timer::Token, now + self.config.token_timeout());
        c.token_seq += 1;
        let next = successor(self.me, &c.members);
        self.send_token_like(now, next, &Packet::Commit(c));
    }

    /// The recovery part of token handling (TOCS95 Fig. 6): once no processor has frames
    /// left to re-send and the token's aru covered them on two visits, go operational.
    pub(crate) fn recovery_token(&mut self, now: Instant, t: &mut Token) {
        let State::Recovery(r) = &mut self.state else {
            return;
        };
        if !r.retrans_queue.is_empty() {
            if !t.retrans_flg {
                t.retrans_flg = true;
                r.set_retrans_flg = true;
            }
        } else if t.retrans_flg && r.set_retrans_flg {
            t.retrans_flg = false;
            r.set_retrans_flg = false;
        }
        r.retrans_flg_count = if t.retrans_flg {
            0
        } else {
            r.retrans_flg_count + 1
        };
        if r.retrans_flg_count == 2 {
            r.install_seq = t.seq;
        }
        if r.retrans_flg_count >= 3 && r.install_seq <= t.aru {
            r.rotation_counter += 1;
        } else {
            r.rotation_counter = 0;
        }
        if r.rotation_counter == 2 {
            self.operational_enter(now);
        }
    }

    /// Shift to operational (TOCS95 §7.2, steps executed atomically): deliver what the old
    /// ring can still deliver, the transitional configuration, the rest of the old ring's
    /// messages, then the regular configuration.
    fn operational_enter(&mut self, _now: Instant) {
        let State::Recovery(r) = mem::replace(&mut self.state, State::Operational) else {
            unreachable!("operational_enter outside recovery");
        };
        let mut old = self.old.take().expect("recovery keeps the old ring");

        // 1. In the old regular configuration: up to the first gap, and safe messages only
        //    up to what some member of the transitional configuration already delivered.
        loop {
            let next = old.high_delivered + 1;
            let Some(frame) = old.frames.get(&next) else {
                break;
            };
            if needs_safe(frame) && next > r.high_ring_delivered {
                break;
            }
            deliver_frame(frame, &mut self.reasm, &mut self.outbox, &mut self.stats);
            old.high_delivered = next;
        }

        // 2. The transitional configuration.
        let trans = r.trans_members;
        let left_trans = minus(&self.members, &trans);
        self.push(Output::Configuration(ConfigChange::Transitional {
            old_ring_id: old.id,
            ring_id: r.ring_id,
            members: trans.clone(),
            left: left_trans,
        }));

        // 3. The remaining old-ring messages, skipping gaps; after a gap only those of
        //    transitional members (the others' may depend on what is missing).
        let mut expected = old.high_delivered + 1;
        let mut gap = false;
        for (&seq, frame) in old.frames.range(expected..) {
            gap |= seq != expected;
            expected = seq + 1;
            if !gap || trans.contains(&frame.origin) {
                deliver_frame(frame, &mut self.reasm, &mut self.outbox, &mut self.stats);
            }
        }
        self.reasm.clear();

        // 4. The regular configuration.
        let joined = minus(&r.new_members, &trans);
        let left = minus(&self.members, &r.new_members);
        // The shell logs the operator's line ("A new membership ... was formed").
        tracing::debug!(
            node = %self.me, ring = %r.ring_id, members = %NodeList(&r.new_members),
            joined = %NodeList(&joined), left = %NodeList(&left),
            "regular configuration installed"
        );
        self.push(Output::Configuration(ConfigChange::Regular {
            ring_id: r.ring_id,
            members: r.new_members.clone(),
            joined,
            left,
        }));
        self.stats.ring_installed();
        self.proc_set = r.new_members.iter().copied().collect();
        self.members = r.new_members;
        self.clear_fail();
        self.send.restart_partial();
    }

    /// Planted bug: install `proc − fail` directly, with no commit token and no recovery.
    #[cfg(feature = "planted-bugs")]
    fn install_without_consensus(&mut self, now: Instant) {
        let members = self.live_set();
        let seq = self.adopted_seq.max(self.max_seq_seen) + 4;
        let ring_id = RingId::new(members[0], seq);
        self.adopted_seq = seq;
        self.push(Output::Persist(seq));
        let trans: Vec<NodeId> = self
            .members
            .iter()
            .copied()
            .filter(|p| members.contains(p))
            .collect();
        self.push(Output::Configuration(ConfigChange::Transitional {
            old_ring_id: self.ring.id,
            ring_id,
            members: trans.clone(),
            left: minus(&self.members, &trans),
        }));
        self.push(Output::Configuration(ConfigChange::Regular {
            ring_id,
            members: members.clone(),
            joined: minus(&members, &trans),
            left: minus(&self.members, &members),
        }));
        self.ring = RingLog::new(ring_id);
        self.proc_set = members.iter().copied().collect();
        self.members = members;
        self.clear_fail();
        self.stats.ring_installed();
        self.state = State::Operational;
        self.tok = TokenState::default();
        self.timers.stop(Timer::Join);
        self.timers.stop(Timer::Consensus);
        self.timers
            .set(Timer::Token, now + self.config.token_timeout());
        if ring_id.rep == self.me {
            self.forward_token(now, Token::first(ring_id));
        }
    }
}

/// The members of `a` not in `b`, in `a`'s order.
fn minus(a: &[NodeId], b: &[NodeId]) -> Vec<NodeId> {
    a.iter().copied().filter(|p| !b.contains(p)).collect()
}
