//! votequorum's messages on the ring (corosync's `req_exec_quorum_*`, in our own compact
//! layout), little-endian.
//!
//! Sync message (body of a sync envelope): `0` NODEINFO: `votes` u32, `expected_votes` u32,
//! `flags` u8 (1 quorate, 2 waiting for all, 4 leaving, 8 last-man-standing window running),
//! `downscale_floor` u32, `tracking_floor` u32, then two node lists, the tie-breaker and the
//! previous ring, each `count` u16 and `count` node ids u32 (at most
//! [`PROCESSOR_COUNT_MAX`]).
//!
//! Application messages (body of an application envelope), applied on delivery by every
//! member:
//! - `1` SET_EXPECTED: `value` u32 (corosync's RECONFIGURE of the expected votes).
//! - `2` SET_VOTES: `nodeid` u32, `votes` u32 (RECONFIGURE of a node's votes).
//! - `3` LAST_MAN_STANDING: the ring it was sent for (`rep` u32, `seq` u64): the window
//!   ended there; a copy delivered in another ring is stale and ignored.
//! - `4` LEAVE: the sender shuts down cleanly (NODEINFO with `NODE_FLAGS_LEAVING`).
//!
//! The sender is the message's origin, which Totem authenticated, so it is never carried.

use std::collections::BTreeSet;

use ais_types::{NodeId, PROCESSOR_COUNT_MAX, RingId};
use bytes::BufMut;

use super::calc::Report;

/// Why bytes from the ring are not a votequorum message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Malformed;

/// A decoded application message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Exec {
    SetExpected { value: u32 },
    SetVotes { nodeid: NodeId, votes: u32 },
    LastManStanding { ring: RingId },
    Leave,
}

const NODEINFO: u8 = 0;
const SET_EXPECTED: u8 = 1;
const SET_VOTES: u8 = 2;
const LAST_MAN_STANDING: u8 = 3;
const LEAVE: u8 = 4;

const QUORATE: u8 = 1;
const WAITING: u8 = 2;
const LEAVING: u8 = 4;
const LMS_ARMED: u8 = 8;

impl Exec {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(13);
        match self {
            Self::SetExpected { value } => {
                out.put_u8(SET_EXPECTED);
                out.put_u32_le(*value);
            }
            Self::SetVotes { nodeid, votes } => {
                out.put_u8(SET_VOTES);
                out.put_u32_le(nodeid.0);
                out.put_u32_le(*votes);
            }
            Self::LastManStanding { ring } => {
                out.put_u8(LAST_MAN_STANDING);
                out.put_u32_le(ring.rep.0);
                out.put_u64_le(ring.seq);
            }
            Self::Leave => out.put_u8(LEAVE),
        }
        out
    }

    pub(crate) fn decode(buf: &[u8]) -> Result<Self, Malformed> {
        let mut r = Reader(buf);
        let message = match r.u8()? {
            SET_EXPECTED => Self::SetExpected { value: r.u32()? },
            SET_VOTES => Self::SetVotes {
                nodeid: NodeId(r.u32()?),
                votes: r.u32()?,
            },
            LAST_MAN_STANDING => {
                let rep = NodeId(r.u32()?);
                Self::LastManStanding {
                    ring: RingId::new(rep, r.u64()?),
                }
            }
            LEAVE => Self::Leave,
            _ => return Err(Malformed),
        };
        r.end()?;
        Ok(message)
    }
}

pub(crate) fn encode_report(report: &Report) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        22 + 4 * (report.tie_breaker.len() + report.previous.len()).min(2 * PROCESSOR_COUNT_MAX),
    );
    out.put_u8(NODEINFO);
    out.put_u32_le(report.votes);
    out.put_u32_le(report.expected_votes);
    let flags = [
        (report.quorate, QUORATE),
        (report.waiting_for_all, WAITING),
        (report.leaving, LEAVING),
        (report.lms_armed, LMS_ARMED),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .fold(0, |f, (_, bit)| f | bit);
    out.put_u8(flags);
    out.put_u32_le(report.downscale_floor);
    out.put_u32_le(report.tracking_floor);
    for list in [&report.tie_breaker, &report.previous] {
        // A ring never holds more than PROCESSOR_COUNT_MAX nodes; a longer list (a union
        // over a long history) keeps its lowest ids, which only makes the receivers more
        // careful: a tie-breaker they cannot see is one they cannot hold.
        let n = list.len().min(PROCESSOR_COUNT_MAX);
        out.put_u16_le(n as u16);
        for node in list.iter().take(n) {
            out.put_u32_le(node.0);
        }
    }
    out
}

pub(crate) fn decode_report(buf: &[u8]) -> Result<Report, Malformed> {
    let mut r = Reader(buf);
    if r.u8()? != NODEINFO {
        return Err(Malformed);
    }
    let votes = r.u32()?;
    let expected_votes = r.u32()?;
    let flags = r.u8()?;
    if flags & !(QUORATE | WAITING | LEAVING | LMS_ARMED) != 0 {
        return Err(Malformed);
    }
    let downscale_floor = r.u32()?;
    let tracking_floor = r.u32()?;
    let tie_breaker = r.nodes()?;
    let previous = r.nodes()?;
    r.end()?;
    Ok(Report {
        votes,
        expected_votes,
        quorate: flags & QUORATE != 0,
        waiting_for_all: flags & WAITING != 0,
        leaving: flags & LEAVING != 0,
        lms_armed: flags & LMS_ARMED != 0,
        tie_breaker,
        previous,
        downscale_floor,
        tracking_floor,
    })
}

/// A cursor that fails rather than panics on short input.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], Malformed> {
        let (head, rest) = self.0.split_first_chunk::<N>().ok_or(Malformed)?;
        self.0 = rest;
        Ok(*head)
    }

    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, Malformed> {
        Ok(u32::from_le_bytes(self.take()?))
    }

    fn u64(&mut self) -> Result<u64, Malformed> {
        Ok(u64::from_le_bytes(self.take()?))
    }

    fn nodes(&mut self) -> Result<BTreeSet<NodeId>, Malformed> {
        let n = usize::from(u16::from_le_bytes(self.take()?));
        if n > PROCESSOR_COUNT_MAX {
            return Err(Malformed);
        }
        (0..n).map(|_| self.u32().map(NodeId)).collect()
    }

    fn end(&self) -> Result<(), Malformed> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Malformed)
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn every_message_round_trips() {
        let report = Report {
            votes: 2,
            expected_votes: 5,
            quorate: true,
            waiting_for_all: false,
            leaving: true,
            lms_armed: true,
            tie_breaker: BTreeSet::from([NodeId(1)]),
            previous: BTreeSet::from([NodeId(1), NodeId(7)]),
            downscale_floor: 3,
            tracking_floor: 9,
        };
        assert_eq!(decode_report(&encode_report(&report)), Ok(report));
        for m in [
            Exec::SetExpected { value: 7 },
            Exec::SetVotes {
                nodeid: NodeId(3),
                votes: 0,
            },
            Exec::LastManStanding {
                ring: RingId::new(NodeId(2), 40),
            },
            Exec::Leave,
        ] {
            assert_eq!(Exec::decode(&m.encode()), Ok(m));
        }
    }

    #[test]
    fn truncated_or_padded_messages_are_malformed() {
        let body = Exec::SetVotes {
            nodeid: NodeId(3),
            votes: 1,
        }
        .encode();
        for cut in 0..body.len() {
            assert_eq!(Exec::decode(&body[..cut]), Err(Malformed));
        }
        let mut long = body.clone();
        long.push(0);
        assert_eq!(Exec::decode(&long), Err(Malformed));
        let report = encode_report(&Report::default());
        for cut in 0..report.len() {
            assert_eq!(decode_report(&report[..cut]), Err(Malformed));
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Exec::decode(&bytes);
            let _ = decode_report(&bytes);
        }
    }
}
