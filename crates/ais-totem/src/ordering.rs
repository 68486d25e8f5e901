//! The operational protocol (TOCS95 §5, Fig. 3; corosync `message_handler_orf_token`):
//! token handling, sequencing, retransmission, flow control, agreed and safe delivery.
//!
//! Invariants: only the token holder assigns sequence numbers; a frame is delivered only
//! when every lower seq of its ring was delivered (agreed), and a frame holding a safe
//! message only once the token's aru covered it on two successive visits (safe).

use ais_types::{Instant, NodeId, RingId};
use ais_wire::{MCAST_OVERHEAD, Mcast, McastPayload, Packet, RTR_MAX, Token};

use crate::node::{Outbox, State, TotemStats, successor};
use crate::packing::Reassembly;
use crate::ring_log::needs_safe;
use crate::timers::Timer;
use crate::{Delivery, Dest, Output, Totem};

/// Frames a ring may hold beyond the last released one (corosync's sort-queue size): the
/// token holder stops originating rather than overrun a slow member.
const SORT_WINDOW: u64 = 16_384;

/// How far past its aru a processor looks for missing frames on one visit.
const MISSING_SCAN: u64 = 4 * RTR_MAX as u64;

impl Totem {
    pub(crate) fn on_token(&mut self, now: Instant, _from: NodeId, mut t: Token) {
        let in_recovery = match &self.state {
            State::Operational => false,
            State::Recovery(_) => true,
            // Gather and commit discard tokens (corosync's `orf_token_discard`).
            _ => {
                self.stats.tokens_discarded += 1;
                return;
            }
        };
        // A token of another ring, a retransmitted copy, or one whose seq is below frames
        // already sequenced on this ring (sequencing from it would reuse their seqs).
        if t.ring_id != self.ring.id
            || self
                .tok
                .last_token_seq
                .is_some_and(|last| t.token_seq <= last)
            || t.seq < self.ring.high_seq
        {
            self.stats.tokens_discarded += 1;
            return;
        }
        self.stats.token_received(now);
        self.timers.stop(Timer::TokenRetransmit);
        self.timers
            .set(Timer::Token, now + self.config.token_timeout());

        if !in_recovery {
            self.note_idle(now, t.seq);
        }
        self.tok.last_seq_seen = t.seq;

        // The frames every member holds: "aru ≥ seq on two successive visits" (TOCS95 §5.2).
        let last_visit_aru = self.tok.prev_aru;
        self.tok.prev_aru = t.aru;
        self.tok.safe_point = self.tok.safe_point.max(t.aru.min(last_visit_aru));
        if !in_recovery {
            self.ring.release(self.tok.safe_point);
        }

        let budget = self.frame_budget();
        let cbl = match &self.state {
            State::Recovery(r) => r.retrans_queue.len() as u32,
            _ => self.send.backlog_frames(budget),
        };
        let mut allowed = self.fcc_calculate(&t, cbl);

        // Requests for frames every member holds are stale (the requester got them since).
        let safe_point = self.tok.safe_point;
        t.rtr.retain(|seq| *seq > safe_point);
        let resent = self.serve_retransmissions(&mut t, allowed);
        allowed -= resent;
        self.request_missing(&mut t);
        // Recovery re-sends a bounded set (the old ring's frames) and releases nothing until
        // it ends, so the window only binds new messages.
        if !in_recovery
            && t.seq
                >= (self.ring.released + SORT_WINDOW)
                    .saturating_sub(u64::from(self.config.window_size))
        {
            allowed = 0;
        }
        let sent = self.originate(&mut t, allowed, budget, in_recovery);

        // Flow control (TOCS95 §8): fcc counts this rotation's frames, backlog the queues.
        let total = sent + resent;
        t.fcc = (i64::from(t.fcc) + i64::from(total) - i64::from(self.tok.trc)).max(0) as u32;
        self.tok.trc = total;
        t.backlog = (i64::from(t.backlog) + i64::from(cbl) - i64::from(self.tok.pbl)).max(0) as u32;
        self.tok.pbl = cbl;

        // The aru rule (corosync's exact form of TOCS95 Fig. 3): lower it to mine, or raise
        // it if I was the one who lowered it.
        let my_aru = self.ring.aru;
        if my_aru < t.aru || t.aru_addr == Some(self.me) || t.aru_addr.is_none() {
            t.aru = my_aru;
            t.aru_addr = if t.aru == t.seq { None } else { Some(self.me) };
        }
        if t.aru == last_visit_aru && t.aru_addr.is_some() {
            self.tok.aru_count += 1;
        } else {
            self.tok.aru_count = 0;
        }
        if self.tok.aru_count > self.config.fail_recv_const && t.aru_addr == Some(self.me) {
            self.self_eject(now);
            return;
        }

        if in_recovery {
            self.recovery_token(now, &mut t);
        }
        self.tok.last_token_seq = Some(t.token_seq);
        t.token_seq += 1;

        let idle = self.tok.seq_unchanged > self.config.seqno_unchanged_const;
        if matches!(self.state, State::Operational)
            && self.ring.id.rep == self.me
            && idle
            && self.send.is_empty()
            && t.rtr.is_empty()
        {
            // Token hold (corosync): an idle ring rotates once per `hold`, not continuously.
            self.tok.held = Some(t);
            self.timers
                .set(Timer::TokenHoldRetransmit, now + self.config.hold);
        } else {
            self.forward_token(now, t);
        }
        // Deliver after forwarding, to keep the rotation fast.
        if matches!(self.state, State::Operational) {
            self.deliver_ready();
        }
    }

    fn note_idle(&mut self, now: Instant, seq: u64) {
        if seq == self.tok.last_seq_seen {
            self.tok.seq_unchanged += 1;
            if self.timers.get(Timer::MergeDetect).is_none() {
                self.timers.set(Timer::MergeDetect, now + self.config.merge);
            }
        } else {
            self.tok.seq_unchanged = 0;
            self.tok.hold_cancel_sent = false;
            self.timers.stop(Timer::MergeDetect);
        }
    }

    /// corosync's `fcc_calculate`, with the paper's fair share of the window.
    fn fcc_calculate(&self, t: &Token, cbl: u32) -> u32 {
        let window = self.config.window_size;
        let mut allowed = self.config.max_messages.min(window.saturating_sub(t.fcc));
        let denom = i64::from(t.backlog) + i64::from(cbl) - i64::from(self.tok.pbl);
        if denom > 0 {
            let share = i64::from(window) * i64::from(cbl) / denom;
            if share > 0 {
                allowed = allowed.min(share as u32);
            }
        }
        allowed
    }

    /// Re-sends requested frames I hold, up to `allowed`; returns how many.
    fn serve_retransmissions(&mut self, t: &mut Token, allowed: u32) -> u32 {
        #[cfg(feature = "planted-bugs")]
        if self.config.planted_bug == Some(crate::PlantedBug::SkipRetransmission) {
            return 0;
        }
        let me = self.me;
        let mut resent = 0;
        let (frames, outbox) = (&self.ring.frames, &mut self.outbox);
        t.rtr.retain(|seq| match frames.get(seq) {
            Some(frame) if resent < allowed => {
                outbox.push(Output::Transmit {
                    to: Dest::Ring,
                    packet: frame.encode(me),
                });
                resent += 1;
                false
            }
            _ => true,
        });
        self.stats.retransmits_sent += u64::from(resent);
        resent
    }

    /// Adds the frames I have been missing for `miss_count_const` visits to the token's rtr.
    fn request_missing(&mut self, t: &mut Token) {
        let aru = self.ring.aru;
        let frames = &self.ring.frames;
        self.tok
            .missing
            .retain(|seq, _| *seq > aru && !frames.contains_key(seq));
        let hi = t.seq.min(aru + MISSING_SCAN);
        for seq in aru + 1..=hi {
            if frames.contains_key(&seq) {
                continue;
            }
            let misses = self.tok.missing.entry(seq).or_insert(0);
            *misses += 1;
            if *misses >= self.config.miss_count_const
                && t.rtr.len() < RTR_MAX
                && !t.rtr.contains(&seq)
            {
                t.rtr.push(seq);
                self.stats.retransmits_requested += 1;
            }
        }
    }

    /// Sequences and multicasts up to `allowed` new frames; returns how many.
    fn originate(&mut self, t: &mut Token, allowed: u32, budget: usize, in_recovery: bool) -> u32 {
        let mut sent = 0;
        while sent < allowed {
            let payload = if in_recovery {
                let State::Recovery(r) = &mut self.state else {
                    break;
                };
                // A frame another member already re-sent on the new ring reaches everyone
                // through the new ring's own retransmissions: sending it again is waste.
                let Some(old) = r.take_next_to_resend() else {
                    break;
                };
                McastPayload::Recovered(Box::new(old))
            } else {
                if self.send.is_empty() {
                    break;
                }
                McastPayload::Regular(self.send.next_frame(budget))
            };
            t.seq += 1;
            let frame = Mcast {
                ring_id: self.ring.id,
                seq: t.seq,
                origin: self.me,
                payload,
            };
            self.push(Output::Transmit {
                to: Dest::Ring,
                packet: frame.encode(self.me),
            });
            let fresh = self.ring.insert(frame);
            assert!(
                fresh,
                "token seq {} already held on ring {}",
                t.seq, self.ring.id
            );
            sent += 1;
        }
        self.stats.frames_sent += u64::from(sent);
        sent
    }

    /// Bytes of chunks per frame: room is kept for the encapsulation of recovery.
    pub(crate) fn frame_budget(&self) -> usize {
        self.config
            .netmtu
            .saturating_sub(2 * MCAST_OVERHEAD)
            .max(64)
    }

    pub(crate) fn forward_token(&mut self, now: Instant, t: Token) {
        let members = match &self.state {
            State::Recovery(r) => &r.new_members,
            _ => &self.members,
        };
        let to = successor(self.me, members);
        self.tok.forwarded_seq = Some(t.seq);
        self.send_token_like(now, to, &Packet::Token(t));
    }

    /// Sends a token or commit token, keeping a copy to retransmit.
    pub(crate) fn send_token_like(&mut self, now: Instant, to: NodeId, packet: &Packet) {
        self.stats.count_tx(packet.kind());
        let bytes = packet.encode(self.me);
        self.push(Output::Transmit {
            to: Dest::Node(to),
            packet: bytes.clone(),
        });
        self.tok.last_sent = Some((to, packet.kind(), bytes));
        self.timers
            .set(Timer::TokenRetransmit, now + self.config.token_retransmit);
    }

    pub(crate) fn retransmit_token(&mut self, now: Instant) {
        if let Some((to, kind, bytes)) = self.tok.last_sent.clone() {
            self.stats.count_tx(kind);
            self.push(Output::Transmit {
                to: Dest::Node(to),
                packet: bytes,
            });
            self.timers
                .set(Timer::TokenRetransmit, now + self.config.token_retransmit);
        }
    }

    pub(crate) fn release_held_token(&mut self, now: Instant) {
        self.timers.stop(Timer::TokenHoldRetransmit);
        if let Some(t) = self.tok.held.take() {
            self.forward_token(now, t);
        }
    }

    /// A message was queued while I hold the idle ring's token: sequence it now, on the
    /// token in my hands, instead of passing the token on empty and waiting a whole rotation
    /// for it to come back. The token already carries my visit (its aru, my token_seq);
    /// this only adds frames, exactly as if they had been queued a moment before it came.
    fn send_on_held_token(&mut self, now: Instant) {
        let Some(mut t) = self.tok.held.take() else {
            return;
        };
        self.timers.stop(Timer::TokenHoldRetransmit);
        let budget = self.frame_budget();
        let cbl = self.send.backlog_frames(budget);
        let mut allowed = self.fcc_calculate(&t, cbl);
        if t.seq
            >= (self.ring.released + SORT_WINDOW).saturating_sub(u64::from(self.config.window_size))
        {
            allowed = 0;
        }
        let sent = self.originate(&mut t, allowed, budget, false);
        t.fcc = t.fcc.saturating_add(sent);
        self.tok.trc += sent;
        // The aru rule as on arrival: an idle ring's token had aru = seq, and my own new
        // frames are the only ones above it, all of which I hold.
        let my_aru = self.ring.aru;
        if my_aru < t.aru || t.aru_addr == Some(self.me) || t.aru_addr.is_none() {
            t.aru = my_aru;
            t.aru_addr = if t.aru == t.seq { None } else { Some(self.me) };
        }
        if sent > 0 {
            self.tok.seq_unchanged = 0;
        }
        self.forward_token(now, t);
        self.deliver_ready();
    }

    /// Something was queued: make sure the token comes by soon.
    pub(crate) fn request_token(&mut self, now: Instant) {
        if !matches!(self.state, State::Operational) {
            return;
        }
        if self.tok.held.is_some() {
            self.send_on_held_token(now);
        } else if self.ring.id.rep != self.me
            // The representative counts each idle rotation before the others, so it holds
            // once my count reaches the threshold, a rotation before my count passes it
            // (corosync's `my_token_held`: `>` for the representative, `>=` for the rest).
            && self.tok.seq_unchanged >= self.config.seqno_unchanged_const
            && !self.tok.hold_cancel_sent
        {
            self.tok.hold_cancel_sent = true;
            self.transmit(
                Dest::Ring,
                &Packet::TokenHoldCancel {
                    ring_id: self.ring.id,
                },
            );
        }
    }

    pub(crate) fn on_hold_cancel(&mut self, now: Instant, ring_id: RingId) {
        if matches!(self.state, State::Operational) && ring_id == self.ring.id {
            self.tok.seq_unchanged = 0;
            self.release_held_token(now);
        }
    }

    pub(crate) fn on_mcast(&mut self, now: Instant, from: NodeId, m: Mcast) {
        if m.ring_id == self.ring.id {
            match self.state {
                // Late frames of the old ring are not taken once my commit entry reported
                // what I hold: the others must end recovery with exactly the same set.
                State::Commit(_) | State::Left => return,
                _ => {}
            }
            // Only the token holder sends: a frame sequenced after the token I forwarded
            // means it moved on. (A reordered older frame proves nothing.)
            if self.tok.forwarded_seq.is_some_and(|s| m.seq > s) {
                self.timers.stop(Timer::TokenRetransmit);
            }
            if let (McastPayload::Recovered(inner), Some(old)) = (&m.payload, self.old.as_mut())
                && inner.ring_id == old.id
            {
                old.insert((**inner).clone());
                if let State::Recovery(r) = &mut self.state {
                    r.resent_by_others.insert(inner.seq);
                }
            }
            self.ring.insert(m);
            if matches!(self.state, State::Operational) {
                self.deliver_ready();
            }
            return;
        }
        self.on_foreign(now, from, m.ring_id);
    }

    /// A packet of another ring: a partition to merge, unless it is a stale one of ours.
    pub(crate) fn on_foreign(&mut self, now: Instant, from: NodeId, ring_id: RingId) {
        match self.state {
            State::Operational => {
                if self.members.contains(&from) && ring_id.seq < self.ring.id.seq {
                    return;
                }
                self.add_proc(now, from);
                self.gather_enter(now);
            }
            State::Gather(_) if !self.proc_set.contains(&from) => {
                self.add_proc(now, from);
                self.gather_enter(now);
            }
            _ => {}
        }
    }

    /// Delivers every frame that is ready, in seq order.
    pub(crate) fn deliver_ready(&mut self) {
        loop {
            let next = self.ring.high_delivered + 1;
            let frame = match self.ring.frames.get(&next) {
                Some(f) if next <= self.ring.aru => f,
                _ => {
                    #[cfg(feature = "planted-bugs")]
                    if self.config.planted_bug == Some(crate::PlantedBug::DeliverBeforeGap)
                        && let Some((&seq, f)) = self.ring.frames.range(next..).next()
                    {
                        deliver_frame(f, &mut self.reasm, &mut self.outbox, &mut self.stats);
                        self.ring.high_delivered = seq;
                        continue;
                    }
                    break;
                }
            };
            let wait_for_safe = needs_safe(frame);
            #[cfg(feature = "planted-bugs")]
            let wait_for_safe =
                wait_for_safe && self.config.planted_bug != Some(crate::PlantedBug::SafeWhenAgreed);
            if wait_for_safe && next > self.tok.safe_point {
                break;
            }
            #[cfg(feature = "planted-bugs")]
            if self.config.planted_bug == Some(crate::PlantedBug::LoseFifthFrame) && next == 5 {
                self.ring.high_delivered = next;
                continue;
            }
            deliver_frame(frame, &mut self.reasm, &mut self.outbox, &mut self.stats);
            self.ring.high_delivered = next;
        }
    }
}

/// Hands the messages a frame completes to the application. A function of the fields it
/// touches rather than a method, so frames are delivered straight from the ring's store
/// (the borrow checker sees the store and the outbox apart) instead of being copied first.
pub(crate) fn deliver_frame(
    frame: &Mcast,
    reasm: &mut Reassembly,
    outbox: &mut Outbox,
    stats: &mut TotemStats,
) {
    let McastPayload::Regular(chunks) = &frame.payload else {
        return;
    };
    let mut index = 0;
    for chunk in chunks {
        if let Some(payload) = reasm.push(frame.origin, chunk) {
            outbox.push(Output::Deliver(Delivery {
                origin: frame.origin,
                ring_id: frame.ring_id,
                seq: frame.seq,
                index,
                order: chunk.order,
                payload,
            }));
            index += 1;
            stats.delivered += 1;
        }
    }
}
