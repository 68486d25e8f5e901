//! The delivery checks of `ais-bench`: per sender, DATA sequence numbers arrive 0, 1, 2, …
//! with no gap and no duplicate (FIFO, no loss), and a running hash of the delivery order
//! that every member compares at the end of a run (one agreed order).

use std::collections::BTreeMap;

use ais_client::cpg::Member;

/// A delivery that breaks FIFO or loses messages.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    /// A sequence number skipped ahead: messages lost (or reordered).
    #[error("from {sender}: expected seq {expected}, got {got} (gap: lost or reordered)")]
    Gap {
        /// The sender.
        sender: Member,
        /// The next seq expected.
        expected: u64,
        /// The seq delivered.
        got: u64,
    },
    /// A sequence number already delivered (or one delivered out of order).
    #[error("from {sender}: expected seq {expected}, got {got} again (duplicate or reordered)")]
    Duplicate {
        /// The sender.
        sender: Member,
        /// The next seq expected.
        expected: u64,
        /// The seq delivered.
        got: u64,
    },
    /// A sender's END counts more DATA than were delivered.
    #[error("from {sender}: END says {sent} sent, {delivered} delivered")]
    Lost {
        /// The sender.
        sender: Member,
        /// DATA it sent.
        sent: u64,
        /// DATA delivered here.
        delivered: u64,
    },
}

/// FNV-1a 64-bit offset basis.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64-bit prime.
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The checks of one run, at one member.
#[derive(Clone, Debug)]
pub struct OrderChecker {
    next: BTreeMap<Member, u64>,
    hash: u64,
    delivered: u64,
}

impl Default for OrderChecker {
    fn default() -> Self {
        Self {
            next: BTreeMap::new(),
            hash: FNV_OFFSET,
            delivered: 0,
        }
    }
}

impl OrderChecker {
    /// Records the delivery of `sender`'s DATA number `seq`.
    pub fn deliver(&mut self, sender: Member, seq: u64) -> Result<(), OrderError> {
        let expected = self.next.get(&sender).copied().unwrap_or(0);
        if seq > expected {
            return Err(OrderError::Gap {
                sender,
                expected,
                got: seq,
            });
        }
        if seq < expected {
            return Err(OrderError::Duplicate {
                sender,
                expected,
                got: seq,
            });
        }
        self.next.insert(sender, seq + 1);
        self.delivered += 1;
        let mut bytes = [0u8; 16];
        bytes[0..4].copy_from_slice(&sender.nodeid.0.to_le_bytes());
        bytes[4..8].copy_from_slice(&sender.pid.to_le_bytes());
        bytes[8..16].copy_from_slice(&seq.to_le_bytes());
        for b in bytes {
            self.hash = (self.hash ^ u64::from(b)).wrapping_mul(FNV_PRIME);
        }
        Ok(())
    }

    /// Checks `sender`'s END: every one of its `sent` DATA was delivered here.
    pub fn end(&self, sender: Member, sent: u64) -> Result<(), OrderError> {
        let delivered = self.next.get(&sender).copied().unwrap_or(0);
        if delivered != sent {
            return Err(OrderError::Lost {
                sender,
                sent,
                delivered,
            });
        }
        Ok(())
    }

    /// The hash of the delivery order so far.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// DATA delivered so far.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }
}

#[cfg(test)]
mod tests {
    use ais_types::NodeId;

    use super::*;

    fn m(nodeid: u32, pid: u32) -> Member {
        Member {
            nodeid: NodeId(nodeid),
            pid,
        }
    }

    #[test]
    fn fifo_deliveries_pass_and_count() {
        let mut c = OrderChecker::default();
        for seq in 0..3 {
            c.deliver(m(1, 10), seq).unwrap();
            c.deliver(m(2, 20), seq).unwrap();
        }
        assert_eq!(c.delivered(), 6);
        c.end(m(1, 10), 3).unwrap();
        c.end(m(2, 20), 3).unwrap();
    }

    #[test]
    fn a_gap_is_detected() {
        let mut c = OrderChecker::default();
        c.deliver(m(1, 10), 0).unwrap();
        assert_eq!(
            c.deliver(m(1, 10), 2),
            Err(OrderError::Gap {
                sender: m(1, 10),
                expected: 1,
                got: 2
            })
        );
    }

    #[test]
    fn a_duplicate_is_detected() {
        let mut c = OrderChecker::default();
        c.deliver(m(1, 10), 0).unwrap();
        c.deliver(m(1, 10), 1).unwrap();
        assert_eq!(
            c.deliver(m(1, 10), 1),
            Err(OrderError::Duplicate {
                sender: m(1, 10),
                expected: 2,
                got: 1
            })
        );
    }

    #[test]
    fn a_reorder_is_detected_at_the_early_message() {
        let mut c = OrderChecker::default();
        c.deliver(m(1, 10), 0).unwrap();
        let e = c.deliver(m(1, 10), 2).unwrap_err();
        assert_eq!(
            e.to_string(),
            "from 1/10: expected seq 1, got 2 (gap: lost or reordered)"
        );
    }

    #[test]
    fn loss_at_the_end_is_detected() {
        let mut c = OrderChecker::default();
        c.deliver(m(1, 10), 0).unwrap();
        assert_eq!(
            c.end(m(1, 10), 2),
            Err(OrderError::Lost {
                sender: m(1, 10),
                sent: 2,
                delivered: 1
            })
        );
        assert!(c.end(m(3, 1), 1).is_err());
        c.end(m(3, 1), 0).unwrap();
    }

    #[test]
    fn the_hash_depends_on_the_interleaving() {
        let mut a = OrderChecker::default();
        let mut b = OrderChecker::default();
        let mut same = OrderChecker::default();
        a.deliver(m(1, 10), 0).unwrap();
        a.deliver(m(2, 20), 0).unwrap();
        b.deliver(m(2, 20), 0).unwrap();
        b.deliver(m(1, 10), 0).unwrap();
        same.deliver(m(1, 10), 0).unwrap();
        same.deliver(m(2, 20), 0).unwrap();
        assert_ne!(a.hash(), b.hash());
        assert_eq!(a.hash(), same.hash());
        assert_eq!(a.delivered(), b.delivered());
    }
}
