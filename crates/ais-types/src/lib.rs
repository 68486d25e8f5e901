//! Identifiers, time and limits shared by every layer of the cluster engine.
//!
//! This crate has no dependencies and owns no I/O. Everything here is a plain value type:
//! processors are [`NodeId`]s, rings are [`RingId`]s and time is an [`Instant`] handed in by
//! whoever drives the protocol (the daemon's clock or the simulator's virtual clock).

mod log_limit;

pub use log_limit::LogLimit;

use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

/// A processor (node) identifier, as in corosync's `nodeid`. Zero is never a valid node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NodeId(pub u32);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One client connection to the local executive, unique for the daemon's life (never
/// reused), so a late reply can never reach a newer client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn {}", self.0)
    }
}

/// The identity of one ring (one regular configuration): its representative (the lowest
/// node id among its members) and a sequence number that only ever rises.
///
/// Totem §6.2.2: "the ring identifier ... consists of the ring sequence number and the
/// identifier of the representative". Ordered by `seq` first, so a newer ring compares greater.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RingId {
    /// Ring sequence number, persisted so that it rises across restarts.
    pub seq: u64,
    /// Representative: the member with the lowest node id.
    pub rep: NodeId,
}

impl RingId {
    /// A ring id from its parts.
    pub const fn new(rep: NodeId, seq: u64) -> Self {
        Self { seq, rep }
    }
}

impl fmt::Display for RingId {
    /// Printed as corosync prints it everywhere (its membership line, `corosync-quorumtool`,
    /// votequorum's log): `<rep>.<seq>`, both in hexadecimal, so one ring reads the same in
    /// every log line and tool.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}.{:x}", self.rep.0, self.seq)
    }
}

/// A list of nodes as operators read them in corosync's logs: plain numbers separated by
/// spaces (`1 2 3`), the empty list as nothing.
#[derive(Clone, Copy, Debug)]
pub struct NodeList<'a>(pub &'a [NodeId]);

impl fmt::Display for NodeList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, node) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{}", node.0)?;
        }
        Ok(())
    }
}

/// A local client's identity as the kernel reports it (`SO_PEERCRED` when it connects):
/// who may connect, and what a connection may change, are decided on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Credentials {
    /// Process id.
    pub pid: u32,
    /// Effective user id.
    pub uid: u32,
    /// Effective group id.
    pub gid: u32,
}

impl Credentials {
    /// A process of `root`'s (uid and gid 0).
    pub const fn root(pid: u32) -> Self {
        Self {
            pid,
            uid: 0,
            gid: 0,
        }
    }

    /// Root, or a member of group root: corosync admits such a client without any `uidgid`
    /// entry, and only such a client may change who else is admitted.
    pub const fn is_privileged(&self) -> bool {
        self.uid == 0 || self.gid == 0
    }
}

/// A point in time: nanoseconds since an arbitrary epoch chosen by the driver.
///
/// The protocol core never reads a clock; every input carries an `Instant`. It never goes
/// backwards, but may jump far ahead (a paused process).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(pub u64);

impl Instant {
    /// The epoch.
    pub const ZERO: Self = Self(0);

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Self;
    fn add(self, d: Duration) -> Self {
        Self(
            self.0
                .saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        )
    }
}

impl Sub<Self> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Self) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl fmt::Display for Instant {
    /// Seconds with millisecond precision, as trace columns print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:06}",
            self.0 / 1_000_000_000,
            (self.0 / 1_000) % 1_000_000
        )
    }
}

/// The largest application message the ring carries (corosync's `MESSAGE_SIZE_MAX`).
pub const MESSAGE_SIZE_MAX: usize = 1024 * 1024;

/// The most processors one ring may hold (corosync's `PROCESSOR_COUNT_MAX`).
pub const PROCESSOR_COUNT_MAX: usize = 384;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_ids_order_by_seq_then_rep() {
        assert!(RingId::new(NodeId(9), 4) < RingId::new(NodeId(1), 8));
        assert!(RingId::new(NodeId(1), 8) < RingId::new(NodeId(2), 8));
        assert_eq!(RingId::new(NodeId(3), 12).to_string(), "3.c");
        assert_eq!(RingId::new(NodeId(26), 0x13).to_string(), "1a.13");
    }

    #[test]
    fn node_lists_print_as_plain_numbers() {
        assert_eq!(
            NodeList(&[NodeId(1), NodeId(2), NodeId(10)]).to_string(),
            "1 2 10"
        );
        assert_eq!(NodeList(&[]).to_string(), "");
        assert!(
            Credentials {
                pid: 9,
                uid: 0,
                gid: 5
            }
            .is_privileged()
        );
        assert!(
            Credentials {
                pid: 9,
                uid: 5,
                gid: 0
            }
            .is_privileged()
        );
        assert!(
            !Credentials {
                pid: 9,
                uid: 5,
                gid: 5
            }
            .is_privileged()
        );
    }

    #[test]
    fn instant_arithmetic_saturates() {
        let t = Instant(5) + Duration::from_nanos(10);
        assert_eq!(t, Instant(15));
        assert_eq!(Instant(3) - t, Duration::ZERO);
        assert_eq!(Instant(1_500_000_000).to_string(), "1.500000");
    }
}
