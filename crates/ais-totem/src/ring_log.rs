//! The frames of one ring, by sequence number, with the ordering counters of TOCS95 §5.1.
//!
//! Invariants: `released <= high_delivered <= aru <= high_seq`; every seq in
//! `(released, aru]` is present; nothing at or below `released` is stored.

use std::collections::BTreeMap;

use ais_types::RingId;
use ais_wire::{Mcast, McastPayload, Order};

#[derive(Debug)]
pub(crate) struct RingLog {
    pub(crate) id: RingId,
    pub(crate) frames: BTreeMap<u64, Mcast>,
    /// All received up to: every seq at or below is held (or was released).
    pub(crate) aru: u64,
    /// Highest seq received.
    pub(crate) high_seq: u64,
    /// Highest seq delivered to the application.
    pub(crate) high_delivered: u64,
    /// Highest seq whose frame was dropped because every member holds it.
    pub(crate) released: u64,
}

impl RingLog {
    pub(crate) fn new(id: RingId) -> Self {
        Self {
            id,
            frames: BTreeMap::new(),
            aru: 0,
            high_seq: 0,
            high_delivered: 0,
            released: 0,
        }
    }

    /// Stores a frame of this ring. Returns false for a duplicate or an already released seq.
    pub(crate) fn insert(&mut self, frame: Mcast) -> bool {
        debug_assert_eq!(frame.ring_id, self.id);
        let seq = frame.seq;
        if seq <= self.released || self.frames.contains_key(&seq) {
            return false;
        }
        self.frames.insert(seq, frame);
        self.high_seq = self.high_seq.max(seq);
        while self.frames.contains_key(&(self.aru + 1)) {
            self.aru += 1;
        }
        true
    }

    pub(crate) fn holds(&self, seq: u64) -> bool {
        seq <= self.released || self.frames.contains_key(&seq)
    }

    /// Drops frames every member holds and this processor delivered.
    pub(crate) fn release(&mut self, upto: u64) {
        let upto = upto.min(self.high_delivered);
        if upto <= self.released {
            return;
        }
        let keep = self.frames.split_off(&(upto + 1));
        self.frames = keep;
        self.released = upto;
    }
}

/// Does delivering this frame wait for the safe point?
pub(crate) fn needs_safe(frame: &Mcast) -> bool {
    match &frame.payload {
        McastPayload::Regular(chunks) => chunks.iter().any(|c| c.order == Order::Safe),
        McastPayload::Recovered(_) => false,
    }
}
