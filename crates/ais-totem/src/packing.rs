//! Packing of small application messages into frames, fragmentation of large ones, and
//! reassembly on delivery (corosync's totempg layer, folded into the core).
//!
//! Invariants: a message that fits in an empty frame is never fragmented; the fragments of
//! one message are sent in order on one ring (a partly sent message starts again from its
//! first byte on the next ring, and receivers drop partial reassemblies at every
//! configuration change), so a message is delivered whole or not at all.

use std::collections::{BTreeMap, VecDeque};

use ais_types::NodeId;
use ais_wire::{Chunk, Frag, Order};
use bytes::{Bytes, BytesMut};

const WHOLE_HEADER: usize = 1 + 4;
const FRAGMENT_HEADER: usize = WHOLE_HEADER + 16;

#[derive(Debug)]
struct Pending {
    order: Order,
    data: Bytes,
    msg_no: u64,
    /// Bytes already sent as fragments on the current ring.
    sent: usize,
}

/// Application messages waiting for the token.
#[derive(Debug, Default)]
pub(crate) struct SendQueue {
    msgs: VecDeque<Pending>,
    bytes: usize,
    next_msg_no: u64,
}

impl SendQueue {
    pub(crate) fn push(&mut self, order: Order, data: Bytes) {
        self.bytes += data.len();
        self.next_msg_no += 1;
        self.msgs.push_back(Pending {
            order,
            data,
            msg_no: self.next_msg_no,
            sent: 0,
        });
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Frames needed to send everything queued, for flow control's backlog.
    pub(crate) fn backlog_frames(&self, budget: usize) -> u32 {
        let per_msg = self.msgs.len() * WHOLE_HEADER;
        u32::try_from((self.bytes + per_msg).div_ceil(budget.max(1))).unwrap_or(u32::MAX)
    }

    /// Takes the chunks of the next frame, at most `budget` bytes of chunk encoding.
    pub(crate) fn next_frame(&mut self, budget: usize) -> Vec<Chunk> {
        let mut room = budget;
        let mut chunks = Vec::new();
        while let Some(head) = self.msgs.front_mut() {
            let len = head.data.len();
            if head.sent == 0 && len + WHOLE_HEADER <= room {
                room -= len + WHOLE_HEADER;
                self.bytes -= len;
                let head = self.msgs.pop_front().expect("front exists");
                chunks.push(Chunk {
                    order: head.order,
                    frag: None,
                    data: head.data,
                });
                continue;
            }
            // Start a fresh frame rather than fragment a message that fits in one.
            let fits_alone = len + WHOLE_HEADER <= budget;
            if (head.sent == 0 && fits_alone && !chunks.is_empty()) || room <= FRAGMENT_HEADER {
                break;
            }
            let take = (len - head.sent).min(room - FRAGMENT_HEADER);
            let frag = Frag {
                msg_no: head.msg_no,
                total: len as u32,
                offset: head.sent as u32,
            };
            chunks.push(Chunk {
                order: head.order,
                frag: Some(frag),
                data: head.data.slice(head.sent..head.sent + take),
            });
            head.sent += take;
            room -= FRAGMENT_HEADER + take;
            if head.sent == len {
                self.bytes -= len;
                self.msgs.pop_front();
            } else {
                break;
            }
        }
        chunks
    }

    /// A new ring starts: a message partly sent on the old one is sent again from its start.
    pub(crate) fn restart_partial(&mut self) {
        if let Some(head) = self.msgs.front_mut() {
            head.sent = 0;
        }
    }
}

#[derive(Debug)]
struct Partial {
    msg_no: u64,
    total: usize,
    buf: BytesMut,
}

/// Fragments being put back together, per originator.
#[derive(Debug, Default)]
pub(crate) struct Reassembly {
    partial: BTreeMap<NodeId, Partial>,
}

impl Reassembly {
    /// Feeds one chunk in delivery order; returns a complete message.
    pub(crate) fn push(&mut self, origin: NodeId, chunk: &Chunk) -> Option<Bytes> {
        let Some(frag) = chunk.frag else {
            self.partial.remove(&origin);
            return Some(chunk.data.clone());
        };
        if frag.offset == 0 {
            let mut buf = BytesMut::with_capacity(frag.total as usize);
            buf.extend_from_slice(&chunk.data);
            self.partial.insert(
                origin,
                Partial {
                    msg_no: frag.msg_no,
                    total: frag.total as usize,
                    buf,
                },
            );
        } else {
            match self.partial.get_mut(&origin) {
                Some(p)
                    if p.msg_no == frag.msg_no
                        && p.buf.len() == frag.offset as usize
                        && p.total == frag.total as usize =>
                {
                    p.buf.extend_from_slice(&chunk.data);
                }
                // A fragment whose predecessors were never delivered (a gap skipped in the
                // transitional configuration): the message cannot be delivered whole.
                _ => {
                    self.partial.remove(&origin);
                    return None;
                }
            }
        }
        let done = self
            .partial
            .get(&origin)
            .is_some_and(|p| p.buf.len() >= p.total);
        if done {
            let p = self.partial.remove(&origin).expect("checked above");
            return Some(p.buf.freeze());
        }
        None
    }

    /// A configuration change: no message straddles two rings.
    pub(crate) fn clear(&mut self) {
        self.partial.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(q: &mut SendQueue, budget: usize) -> Vec<Vec<Chunk>> {
        let mut frames = Vec::new();
        while !q.is_empty() {
            let f = q.next_frame(budget);
            assert!(!f.is_empty(), "no progress");
            frames.push(f);
        }
        frames
    }

    #[test]
    fn small_messages_pack_into_one_frame() {
        let mut q = SendQueue::default();
        for i in 0..10u8 {
            q.push(Order::Agreed, Bytes::from(vec![i; 64]));
        }
        let frames = drain(&mut q, 1400);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].len(), 10);
        assert!(frames[0].iter().all(|c| c.frag.is_none()));
        assert_eq!(q.bytes(), 0);
    }

    #[test]
    fn a_message_that_fits_alone_is_not_fragmented() {
        let mut q = SendQueue::default();
        q.push(Order::Agreed, Bytes::from(vec![1; 1000]));
        q.push(Order::Safe, Bytes::from(vec![2; 1000]));
        let frames = drain(&mut q, 1400);
        assert_eq!(frames.len(), 2);
        assert!(frames.iter().flatten().all(|c| c.frag.is_none()));
    }

    #[test]
    fn large_messages_fragment_and_reassemble_in_order() {
        let mut q = SendQueue::default();
        let big: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        q.push(Order::Agreed, Bytes::from(big.clone()));
        q.push(Order::Agreed, Bytes::from_static(b"tail"));
        let frames = drain(&mut q, 1400);
        assert!(frames.len() > 70);
        let mut r = Reassembly::default();
        let out: Vec<Bytes> = frames
            .iter()
            .flatten()
            .filter_map(|c| r.push(NodeId(1), c))
            .collect();
        assert_eq!(out.len(), 2);
        assert_eq!(&out[0][..], &big[..]);
        assert_eq!(&out[1][..], b"tail");
    }

    #[test]
    fn a_missing_fragment_loses_only_that_message() {
        let mut q = SendQueue::default();
        q.push(Order::Agreed, Bytes::from(vec![7; 5000]));
        q.push(Order::Agreed, Bytes::from(vec![8; 10]));
        let mut frames = drain(&mut q, 1400);
        frames.remove(1);
        let mut r = Reassembly::default();
        let out: Vec<Bytes> = frames
            .iter()
            .flatten()
            .filter_map(|c| r.push(NodeId(1), c))
            .collect();
        assert_eq!(out, vec![Bytes::from(vec![8; 10])]);
    }

    #[test]
    fn restart_partial_resends_from_the_first_byte() {
        let mut q = SendQueue::default();
        q.push(Order::Agreed, Bytes::from(vec![3; 5000]));
        let first = q.next_frame(1400);
        assert_eq!(first[0].frag.unwrap().offset, 0);
        q.restart_partial();
        let again = q.next_frame(1400);
        assert_eq!(again, first);
    }
}

#[cfg(test)]
mod proptests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever the sizes and the frame budget, the frames carry every message, in
        /// order, whole, and no message that fits in one frame is split.
        #[test]
        fn frames_reassemble_to_the_messages(
            sizes in vec(0usize..5000, 1..40),
            budget in 64usize..9000,
        ) {
            let mut q = SendQueue::default();
            let msgs: Vec<Bytes> = sizes
                .iter()
                .enumerate()
                .map(|(i, s)| Bytes::from(vec![i as u8; *s]))
                .collect();
            for m in &msgs {
                q.push(Order::Agreed, m.clone());
            }
            let mut r = Reassembly::default();
            let mut out = Vec::new();
            while !q.is_empty() {
                let frame = q.next_frame(budget);
                prop_assert!(!frame.is_empty());
                let used: usize = frame.iter().map(Chunk::encoded_len).sum();
                prop_assert!(used <= budget);
                for c in &frame {
                    if c.frag.is_some() {
                        prop_assert!(c.frag.unwrap().total as usize + WHOLE_HEADER > budget);
                    }
                    out.extend(r.push(NodeId(1), c));
                }
            }
            prop_assert_eq!(out, msgs);
        }
    }
}
