//! Large CPG messages: splitting one into PARTIAL_MCAST fragments on the way out, and
//! putting PARTIAL_DELIVER fragments back together on the way in, as libcpg does.
//!
//! Invariants: a reassembly never grows past the message length its first fragment
//! announced (itself at most `MESSAGE_SIZE_MAX`, checked by the codec), at most
//! [`MAX_ASSEMBLIES`] messages are in progress at once, and a message is handed out only
//! when its LAST fragment arrives and every byte announced is there.

use std::collections::BTreeMap;

use ais_types::NodeId;
use ais_wire::ipc::{FragmentKind, PartialFragment};
use bytes::{Bytes, BytesMut};

use crate::error::{Error, Result};

/// libcpg sends a message as fragments when it exceeds `IPC_REQUEST_SIZE - 1024` bytes
/// (reference §2.2); each fragment then carries at most that many bytes.
pub(crate) const FRAGMENT_THRESHOLD: usize = 1_047_552;

/// How many senders may have a message half-delivered at once. A process sends one message
/// at a time, so this is the number of group members sending large messages concurrently;
/// past it the daemon is broken, not busy.
pub(crate) const MAX_ASSEMBLIES: usize = 4096;

/// Splits `data` into fragments of at most `max` bytes, kinds FIRST, CONTINUED…, LAST.
/// `data` is longer than `max` (shorter messages go as one MCAST).
pub(crate) fn split(data: &Bytes, max: usize) -> Vec<(FragmentKind, Bytes)> {
    let count = data.len().div_ceil(max);
    (0..count)
        .map(|i| {
            let kind = match i {
                0 => FragmentKind::First,
                i if i + 1 == count => FragmentKind::Last,
                _ => FragmentKind::Continued,
            };
            let end = data.len().min((i + 1) * max);
            (kind, data.slice(i * max..end))
        })
        .collect()
}

/// One message being put back together.
struct Assembly {
    group: Vec<u8>,
    msglen: usize,
    data: BytesMut,
}

/// Messages in reassembly, by sender `(nodeid, pid)`.
#[derive(Default)]
pub(crate) struct Reassembly {
    by_sender: BTreeMap<(NodeId, u32), Assembly>,
}

impl Reassembly {
    /// Takes one fragment from `sender` for `group`; returns the whole message once its last
    /// fragment is in.
    pub(crate) fn push(
        &mut self,
        sender: (NodeId, u32),
        group: &[u8],
        fragment: &PartialFragment,
    ) -> Result<Option<Bytes>> {
        let msglen = fragment.msglen() as usize;
        if fragment.kind() == FragmentKind::First {
            // A FIRST from a sender with a message still open means that sender restarted
            // its message (libcpg does the same: the new one replaces the old).
            if !self.by_sender.contains_key(&sender) && self.by_sender.len() >= MAX_ASSEMBLIES {
                return Err(Error::Protocol(format!(
                    "more than {MAX_ASSEMBLIES} fragmented messages in progress"
                )));
            }
            let assembly = Assembly {
                group: group.to_vec(),
                msglen,
                // The length is the sender's claim: grow as fragments arrive.
                data: BytesMut::with_capacity(msglen.min(1 << 20)),
            };
            self.by_sender.insert(sender, assembly);
        }
        let Some(assembly) = self.by_sender.get_mut(&sender) else {
            return Err(Error::Protocol(format!(
                "fragment from node {} pid {} without a first fragment",
                sender.0, sender.1
            )));
        };
        let fits = assembly.data.len() + fragment.data().len() <= assembly.msglen;
        if assembly.msglen != msglen || assembly.group != group || !fits {
            self.by_sender.remove(&sender);
            return Err(Error::Protocol(format!(
                "fragment from node {} pid {} does not fit its message",
                sender.0, sender.1
            )));
        }
        assembly.data.extend_from_slice(fragment.data());
        if fragment.kind() != FragmentKind::Last {
            return Ok(None);
        }
        let Some(done) = self.by_sender.remove(&sender) else {
            return Ok(None);
        };
        if done.data.len() != done.msglen {
            return Err(Error::Protocol(format!(
                "message from node {} pid {} ends after {} of {} bytes",
                sender.0,
                sender.1,
                done.data.len(),
                done.msglen
            )));
        }
        Ok(Some(done.data.freeze()))
    }

    /// Forgets a half-delivered message of a process that left: its rest never comes.
    pub(crate) fn forget(&mut self, sender: (NodeId, u32)) {
        self.by_sender.remove(&sender);
    }

    /// How many messages are in progress.
    #[cfg(test)]
    pub(crate) fn in_progress(&self) -> usize {
        self.by_sender.len()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const A: (NodeId, u32) = (NodeId(1), 100);
    const B: (NodeId, u32) = (NodeId(2), 200);

    fn frag(msglen: usize, kind: FragmentKind, data: &[u8]) -> PartialFragment {
        PartialFragment::new(msglen as u32, kind, Bytes::copy_from_slice(data)).unwrap()
    }

    #[test]
    fn split_marks_first_continued_last() {
        let data = Bytes::from_static(b"abcdefgh");
        let kinds: Vec<_> = split(&data, 3).into_iter().collect();
        assert_eq!(
            kinds,
            [
                (FragmentKind::First, Bytes::from_static(b"abc")),
                (FragmentKind::Continued, Bytes::from_static(b"def")),
                (FragmentKind::Last, Bytes::from_static(b"gh")),
            ]
        );
        let two: Vec<_> = split(&data, 4).into_iter().map(|(k, _)| k).collect();
        assert_eq!(two, [FragmentKind::First, FragmentKind::Last]);
    }

    #[test]
    fn interleaved_senders_reassemble_separately() {
        let mut r = Reassembly::default();
        assert_eq!(
            r.push(A, b"g", &frag(4, FragmentKind::First, b"ab"))
                .unwrap(),
            None
        );
        assert_eq!(
            r.push(B, b"g", &frag(3, FragmentKind::First, b"x"))
                .unwrap(),
            None
        );
        let a = r
            .push(A, b"g", &frag(4, FragmentKind::Last, b"cd"))
            .unwrap();
        assert_eq!(a, Some(Bytes::from_static(b"abcd")));
        assert_eq!(
            r.push(B, b"g", &frag(3, FragmentKind::Continued, b"y"))
                .unwrap(),
            None
        );
        let b = r.push(B, b"g", &frag(3, FragmentKind::Last, b"z")).unwrap();
        assert_eq!(b, Some(Bytes::from_static(b"xyz")));
        assert_eq!(r.in_progress(), 0);
    }

    #[test]
    fn a_fragment_without_first_is_a_protocol_error() {
        let mut r = Reassembly::default();
        let e = r
            .push(A, b"g", &frag(4, FragmentKind::Last, b"cd"))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "protocol error: fragment from node 1 pid 100 without a first fragment"
        );
    }

    #[test]
    fn overflow_and_short_messages_are_protocol_errors() {
        let mut r = Reassembly::default();
        r.push(A, b"g", &frag(3, FragmentKind::First, b"ab"))
            .unwrap();
        assert!(matches!(
            r.push(A, b"g", &frag(3, FragmentKind::Last, b"cd")),
            Err(Error::Protocol(_))
        ));
        assert_eq!(r.in_progress(), 0);
        r.push(A, b"g", &frag(5, FragmentKind::First, b"ab"))
            .unwrap();
        assert!(matches!(
            r.push(A, b"g", &frag(5, FragmentKind::Last, b"c")),
            Err(Error::Protocol(_))
        ));
        r.push(A, b"g", &frag(5, FragmentKind::First, b"ab"))
            .unwrap();
        assert!(matches!(
            r.push(A, b"g", &frag(6, FragmentKind::Last, b"cde")),
            Err(Error::Protocol(_))
        ));
    }

    #[test]
    fn a_new_first_fragment_restarts_the_message() {
        let mut r = Reassembly::default();
        r.push(A, b"g", &frag(4, FragmentKind::First, b"ab"))
            .unwrap();
        r.push(A, b"g", &frag(2, FragmentKind::First, b"x"))
            .unwrap();
        let m = r.push(A, b"g", &frag(2, FragmentKind::Last, b"y")).unwrap();
        assert_eq!(m, Some(Bytes::from_static(b"xy")));
    }

    #[test]
    fn forgetting_a_sender_drops_its_message() {
        let mut r = Reassembly::default();
        r.push(A, b"g", &frag(4, FragmentKind::First, b"ab"))
            .unwrap();
        r.forget(A);
        assert_eq!(r.in_progress(), 0);
        assert!(
            r.push(A, b"g", &frag(4, FragmentKind::Last, b"cd"))
                .is_err()
        );
    }

    #[test]
    fn assemblies_are_bounded() {
        let mut r = Reassembly::default();
        for pid in 0..MAX_ASSEMBLIES as u32 {
            r.push((NodeId(1), pid), b"g", &frag(4, FragmentKind::First, b"a"))
                .unwrap();
        }
        let over = (NodeId(2), 0);
        assert!(
            r.push(over, b"g", &frag(4, FragmentKind::First, b"a"))
                .is_err()
        );
        // A sender already in progress may still restart.
        r.push((NodeId(1), 0), b"g", &frag(4, FragmentKind::First, b"a"))
            .unwrap();
    }

    proptest! {
        #[test]
        fn split_then_reassemble_is_identity(
            data in proptest::collection::vec(any::<u8>(), 2..2000),
            max in 1usize..700,
        ) {
            prop_assume!(data.len() > max);
            let data = Bytes::from(data);
            let mut r = Reassembly::default();
            let fragments = split(&data, max);
            prop_assert!(fragments.iter().all(|(_, f)| !f.is_empty() && f.len() <= max));
            let mut out = None;
            for (i, (kind, bytes)) in fragments.iter().enumerate() {
                let f = PartialFragment::new(data.len() as u32, *kind, bytes.clone()).unwrap();
                // Another sender's fragments interleave without disturbing this one.
                r.push(B, b"g", &frag(1, FragmentKind::First, b"z")).unwrap();
                let got = r.push(A, b"g", &f).unwrap();
                if i + 1 < fragments.len() {
                    prop_assert_eq!(got, None);
                } else {
                    out = got;
                }
            }
            prop_assert_eq!(out, Some(data));
        }
    }
}
