//! The Totem packet types and their byte layouts.

use ais_types::{MESSAGE_SIZE_MAX, NodeId, RingId};
use bytes::{BufMut, Bytes, BytesMut};

use crate::reader::{DecodeError, Reader};
use crate::{HEADER_LEN, RTR_MAX};

/// First two bytes of every packet.
pub const MAGIC: u16 = 0xA15E;
/// The wire version this build speaks.
pub const VERSION: u8 = 1;

/// Packet type byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PacketKind {
    /// The ordering/reliability/flow-control token, unicast to the successor.
    Token = 0,
    /// A sequenced frame of application messages, multicast.
    Mcast = 1,
    /// "I am the representative of this ring", multicast while idle to find other rings.
    MergeDetect = 2,
    /// A membership proposal (also a graceful leave), multicast.
    Join = 3,
    /// The commit token that installs a new ring, unicast around it twice.
    Commit = 4,
    /// "Stop holding the idle token: I have something to send", multicast.
    TokenHoldCancel = 5,
}

/// Requested delivery guarantee of one application message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Order {
    /// Totally ordered: delivered once all lower sequence numbers are delivered.
    Agreed,
    /// Agreed, and delivered only once every member of the configuration holds it.
    Safe,
}

/// Where a fragment sits in its message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frag {
    /// The originator's message number, so fragments of different messages never mix.
    pub msg_no: u64,
    /// Length of the whole message.
    pub total: u32,
    /// Offset of this fragment in the whole message.
    pub offset: u32,
}

/// One application message, or a fragment of one, inside a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// Delivery guarantee of the whole message.
    pub order: Order,
    /// `None` for a whole message.
    pub frag: Option<Frag>,
    /// The bytes.
    pub data: Bytes,
}

/// The body of a sequenced frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum McastPayload {
    /// New application messages packed into one frame.
    Regular(Vec<Chunk>),
    /// An old-ring frame re-sent during recovery on the new ring (corosync's encapsulated
    /// message, TOCS95 §7.2). Its own ring id and seq are the old ring's.
    Recovered(Box<Mcast>),
}

/// A sequenced frame: the unit of ordering on a ring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mcast {
    /// The ring the frame was sequenced on.
    pub ring_id: RingId,
    /// Its sequence number on that ring, from 1.
    pub seq: u64,
    /// The processor that originated it (a retransmission may come from another).
    pub origin: NodeId,
    /// The messages.
    pub payload: McastPayload,
}

/// The ordering token (corosync's `orf_token`, TOCS95 §5.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The ring this token belongs to.
    pub ring_id: RingId,
    /// Counts token forwards, so retransmitted copies are recognised and dropped.
    pub token_seq: u64,
    /// Highest sequence number assigned on the ring.
    pub seq: u64,
    /// All-received-up-to: every processor holds every frame up to here (TOCS95 §5.1).
    pub aru: u64,
    /// The processor that last lowered `aru`, or `None`.
    pub aru_addr: Option<NodeId>,
    /// Frames (new and retransmitted) sent during the last rotation.
    pub fcc: u32,
    /// Sum of the processors' send-queue lengths.
    pub backlog: u32,
    /// Set while some processor still has old-ring frames to re-send (recovery).
    pub retrans_flg: bool,
    /// Sequence numbers somebody is missing (retransmission requests).
    pub rtr: Vec<u64>,
}

impl Token {
    /// The first token of a new ring: nothing sequenced, nothing to retransmit.
    pub fn first(ring_id: RingId) -> Self {
        Self {
            ring_id,
            token_seq: 0,
            seq: 0,
            aru: 0,
            aru_addr: None,
            fcc: 0,
            backlog: 0,
            retrans_flg: false,
            rtr: Vec::new(),
        }
    }
}

/// A membership proposal (corosync's `memb_join`, TOCS95 §6.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Join {
    /// Highest ring sequence number the sender has adopted.
    pub ring_seq: u64,
    /// A graceful leave: the sender is in `fail` and not in `proc`.
    pub leave: bool,
    /// Processors the sender believes are alive and reachable, ascending.
    pub proc_list: Vec<NodeId>,
    /// Processors the sender believes have failed, ascending.
    pub fail_list: Vec<NodeId>,
}

/// What each new member reports about the ring it comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitEntry {
    /// The last ring the member installed.
    pub old_ring: RingId,
    /// Its aru on that ring.
    pub aru: u64,
    /// The highest seq it received on that ring.
    pub high_seq: u64,
    /// The highest seq it delivered on that ring.
    pub high_delivered: u64,
}

/// The commit token (corosync's `memb_commit_token`, TOCS95 §6.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitToken {
    /// The new ring.
    pub ring_id: RingId,
    /// Counts forwards, for duplicate detection.
    pub token_seq: u64,
    /// The new ring's members, ascending: the order the token visits them.
    pub members: Vec<NodeId>,
    /// Filled in by each member on the first rotation, in member order.
    pub entries: Vec<CommitEntry>,
}

/// Every Totem packet. The sender's node id travels in the header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet {
    /// See [`Token`].
    Token(Token),
    /// See [`Mcast`].
    Mcast(Mcast),
    /// Idle representative announcing its ring.
    MergeDetect {
        /// The sender's ring.
        ring_id: RingId,
    },
    /// See [`Join`].
    Join(Join),
    /// See [`CommitToken`].
    Commit(CommitToken),
    /// Ask the representative to release a held token.
    TokenHoldCancel {
        /// The ring whose token is held.
        ring_id: RingId,
    },
}

impl Packet {
    /// The type byte.
    pub fn kind(&self) -> PacketKind {
        match self {
            Self::Token(_) => PacketKind::Token,
            Self::Mcast(_) => PacketKind::Mcast,
            Self::MergeDetect { .. } => PacketKind::MergeDetect,
            Self::Join(_) => PacketKind::Join,
            Self::Commit(_) => PacketKind::Commit,
            Self::TokenHoldCancel { .. } => PacketKind::TokenHoldCancel,
        }
    }

    /// Encodes the packet as sent by `sender`.
    pub fn encode(&self, sender: NodeId) -> Bytes {
        let mut b = header(self.kind(), sender, self.encoded_len_hint());
        match self {
            Self::Token(t) => encode_token(&mut b, t),
            Self::Mcast(m) => encode_mcast(&mut b, m),
            Self::MergeDetect { ring_id } | Self::TokenHoldCancel { ring_id } => {
                put_ring(&mut b, *ring_id)
            }
            Self::Join(j) => {
                b.put_u64_le(j.ring_seq);
                b.put_u8(u8::from(j.leave));
                put_nodes(&mut b, &j.proc_list);
                put_nodes(&mut b, &j.fail_list);
            }
            Self::Commit(c) => {
                put_ring(&mut b, c.ring_id);
                b.put_u64_le(c.token_seq);
                put_nodes(&mut b, &c.members);
                b.put_u16_le(c.entries.len() as u16);
                for e in &c.entries {
                    put_ring(&mut b, e.old_ring);
                    b.put_u64_le(e.aru);
                    b.put_u64_le(e.high_seq);
                    b.put_u64_le(e.high_delivered);
                }
            }
        }
        b.freeze()
    }

    fn encoded_len_hint(&self) -> usize {
        match self {
            Self::Mcast(m) => HEADER_LEN + m.encoded_len(),
            Self::Token(t) => HEADER_LEN + 64 + 8 * t.rtr.len(),
            _ => 128,
        }
    }

    /// Decodes one packet and the sender named in its header. Never panics.
    pub fn decode(buf: Bytes) -> Result<(NodeId, Self), DecodeError> {
        let mut r = Reader::new(buf);
        let magic = r.u16("magic")?;
        if magic != MAGIC {
            return Err(DecodeError::BadMagic(magic));
        }
        let version = r.u8("version")?;
        if version != VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let kind = r.u8("type")?;
        let sender = node(r.u32("sender")?)?;
        let packet = match kind {
            0 => Self::Token(decode_token(&mut r)?),
            1 => Self::Mcast(decode_mcast(&mut r, true)?),
            2 => Self::MergeDetect {
                ring_id: get_ring(&mut r)?,
            },
            3 => {
                let ring_seq = r.u64("join.ring_seq")?;
                let leave = r.bool("join.leave")?;
                let proc_list = get_nodes(&mut r, "join.proc_list")?;
                let fail_list = get_nodes(&mut r, "join.fail_list")?;
                Self::Join(Join {
                    ring_seq,
                    leave,
                    proc_list,
                    fail_list,
                })
            }
            4 => {
                let ring_id = get_ring(&mut r)?;
                let token_seq = r.u64("commit.token_seq")?;
                let members = get_nodes(&mut r, "commit.members")?;
                let n = usize::from(r.u16("commit.entries")?);
                if n > members.len() {
                    return Err(DecodeError::Invalid("commit.entries count"));
                }
                let mut entries = Vec::with_capacity(n);
                for _ in 0..n {
                    entries.push(CommitEntry {
                        old_ring: get_ring(&mut r)?,
                        aru: r.u64("commit.aru")?,
                        high_seq: r.u64("commit.high_seq")?,
                        high_delivered: r.u64("commit.high_delivered")?,
                    });
                }
                if members.is_empty() {
                    return Err(DecodeError::Invalid("commit.members empty"));
                }
                Self::Commit(CommitToken {
                    ring_id,
                    token_seq,
                    members,
                    entries,
                })
            }
            5 => Self::TokenHoldCancel {
                ring_id: get_ring(&mut r)?,
            },
            other => return Err(DecodeError::UnknownType(other)),
        };
        r.finish()?;
        Ok((sender, packet))
    }
}

/// A buffer holding the common header.
fn header(kind: PacketKind, sender: NodeId, capacity: usize) -> BytesMut {
    let mut b = BytesMut::with_capacity(capacity);
    b.put_u16_le(MAGIC);
    b.put_u8(VERSION);
    b.put_u8(kind as u8);
    b.put_u32_le(sender.0);
    b
}

impl Mcast {
    /// Encodes the frame as an `mcast` packet sent by `sender`, without first moving it into
    /// a [`Packet`]: frames are sent from the ring's store, which keeps them.
    pub fn encode(&self, sender: NodeId) -> Bytes {
        let mut b = header(PacketKind::Mcast, sender, HEADER_LEN + self.encoded_len());
        encode_mcast(&mut b, self);
        b.freeze()
    }

    /// Bytes the body takes on the wire (without the common header).
    pub fn encoded_len(&self) -> usize {
        12 + 8
            + 4
            + 1
            + 2
            + match &self.payload {
                McastPayload::Regular(chunks) => chunks.iter().map(Chunk::encoded_len).sum(),
                McastPayload::Recovered(inner) => inner.encoded_len(),
            }
    }
}

impl Chunk {
    /// Bytes the chunk takes on the wire.
    pub fn encoded_len(&self) -> usize {
        1 + 4 + if self.frag.is_some() { 16 } else { 0 } + self.data.len()
    }
}

fn node(raw: u32) -> Result<NodeId, DecodeError> {
    if raw == 0 {
        Err(DecodeError::Invalid("node id 0"))
    } else {
        Ok(NodeId(raw))
    }
}

fn put_ring(b: &mut BytesMut, r: RingId) {
    b.put_u32_le(r.rep.0);
    b.put_u64_le(r.seq);
}

fn get_ring(r: &mut Reader) -> Result<RingId, DecodeError> {
    let rep = node(r.u32("ring_id.rep")?)?;
    Ok(RingId::new(rep, r.u64("ring_id.seq")?))
}

fn put_nodes(b: &mut BytesMut, nodes: &[NodeId]) {
    b.put_u16_le(nodes.len() as u16);
    for n in nodes {
        b.put_u32_le(n.0);
    }
}

/// Node lists are strictly ascending on the wire, which makes them sets.
fn get_nodes(r: &mut Reader, what: &'static str) -> Result<Vec<NodeId>, DecodeError> {
    let n = usize::from(r.u16(what)?);
    if n * 4 > r.remaining() {
        return Err(DecodeError::Truncated {
            what,
            need: n * 4,
            got: r.remaining(),
        });
    }
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let id = node(r.u32(what)?)?;
        if v.last().is_some_and(|last: &NodeId| *last >= id) {
            return Err(DecodeError::Invalid(what));
        }
        v.push(id);
    }
    Ok(v)
}

fn encode_token(b: &mut BytesMut, t: &Token) {
    put_ring(b, t.ring_id);
    b.put_u64_le(t.token_seq);
    b.put_u64_le(t.seq);
    b.put_u64_le(t.aru);
    b.put_u32_le(t.aru_addr.map_or(0, |n| n.0));
    b.put_u32_le(t.fcc);
    b.put_u32_le(t.backlog);
    b.put_u8(u8::from(t.retrans_flg));
    b.put_u16_le(t.rtr.len() as u16);
    for s in &t.rtr {
        b.put_u64_le(*s);
    }
}

fn decode_token(r: &mut Reader) -> Result<Token, DecodeError> {
    let ring_id = get_ring(r)?;
    let token_seq = r.u64("token.token_seq")?;
    let seq = r.u64("token.seq")?;
    let aru = r.u64("token.aru")?;
    let aru_addr = match r.u32("token.aru_addr")? {
        0 => None,
        n => Some(NodeId(n)),
    };
    if aru > seq {
        return Err(DecodeError::Invalid("token.aru above token.seq"));
    }
    let fcc = r.u32("token.fcc")?;
    let backlog = r.u32("token.backlog")?;
    let retrans_flg = r.bool("token.retrans_flg")?;
    let n = usize::from(r.u16("token.rtr")?);
    if n > RTR_MAX {
        return Err(DecodeError::Invalid("token.rtr length"));
    }
    let mut rtr = Vec::with_capacity(n);
    for _ in 0..n {
        rtr.push(r.u64("token.rtr")?);
    }
    Ok(Token {
        ring_id,
        token_seq,
        seq,
        aru,
        aru_addr,
        fcc,
        backlog,
        retrans_flg,
        rtr,
    })
}

const ORDER_SAFE: u8 = 0x01;
const FRAGMENT: u8 = 0x02;

fn encode_mcast(b: &mut BytesMut, m: &Mcast) {
    put_ring(b, m.ring_id);
    b.put_u64_le(m.seq);
    b.put_u32_le(m.origin.0);
    match &m.payload {
        McastPayload::Regular(chunks) => {
            b.put_u8(0);
            b.put_u16_le(chunks.len() as u16);
            for c in chunks {
                let mut flags = 0;
                if c.order == Order::Safe {
                    flags |= ORDER_SAFE;
                }
                if c.frag.is_some() {
                    flags |= FRAGMENT;
                }
                b.put_u8(flags);
                b.put_u32_le(c.data.len() as u32);
                if let Some(f) = c.frag {
                    b.put_u64_le(f.msg_no);
                    b.put_u32_le(f.total);
                    b.put_u32_le(f.offset);
                }
                b.put_slice(&c.data);
            }
        }
        McastPayload::Recovered(inner) => {
            b.put_u8(1);
            b.put_u16_le(0);
            encode_mcast(b, inner);
        }
    }
}

fn decode_mcast(r: &mut Reader, outer: bool) -> Result<Mcast, DecodeError> {
    let ring_id = get_ring(r)?;
    let seq = r.u64("mcast.seq")?;
    if seq == 0 {
        return Err(DecodeError::Invalid("mcast.seq 0"));
    }
    let origin = node(r.u32("mcast.origin")?)?;
    let recovered = r.bool("mcast.recovered")?;
    let count = usize::from(r.u16("mcast.chunks")?);
    let payload = if recovered {
        if !outer || count != 0 {
            return Err(DecodeError::Invalid("nested recovered mcast"));
        }
        McastPayload::Recovered(Box::new(decode_mcast(r, false)?))
    } else {
        if count * 5 > r.remaining() {
            return Err(DecodeError::Truncated {
                what: "mcast.chunks",
                need: count * 5,
                got: r.remaining(),
            });
        }
        let mut chunks = Vec::with_capacity(count);
        for _ in 0..count {
            let flags = r.u8("chunk.flags")?;
            if flags & !(ORDER_SAFE | FRAGMENT) != 0 {
                return Err(DecodeError::Invalid("chunk.flags"));
            }
            let order = if flags & ORDER_SAFE != 0 {
                Order::Safe
            } else {
                Order::Agreed
            };
            let len = r.u32("chunk.len")? as usize;
            let frag = if flags & FRAGMENT != 0 {
                let f = Frag {
                    msg_no: r.u64("chunk.msg_no")?,
                    total: r.u32("chunk.total")?,
                    offset: r.u32("chunk.offset")?,
                };
                let end = u64::from(f.offset) + len as u64;
                if end > u64::from(f.total) || len == 0 || f.total as usize > MESSAGE_SIZE_MAX {
                    return Err(DecodeError::Invalid("fragment bounds"));
                }
                Some(f)
            } else {
                None
            };
            let data = r.bytes("chunk.data", len)?;
            chunks.push(Chunk { order, frag, data });
        }
        McastPayload::Regular(chunks)
    };
    Ok(Mcast {
        ring_id,
        seq,
        origin,
        payload,
    })
}

#[cfg(test)]
mod tests;
