//! Totem packet codecs.
//!
//! Every packet starts with a fixed header: magic `0xA15E`, a version byte, a type byte and
//! the sender's node id, all little-endian. The body layouts follow corosync's Totem
//! messages (`orf_token`, `mcast`, `memb_merge_detect`, `memb_join`, `memb_commit_token`,
//! `token_hold_cancel`) with two changes: sequence numbers are 64 bits (they never wrap, so
//! no wrap-around comparisons are needed) and the byte order is fixed, never the sender's.
//!
//! Invariants: [`Packet::decode`] never panics, whatever the input, and returns a typed
//! [`DecodeError`]; `decode(encode(p)) == p` for every packet (proptest below).

pub mod ipc;
mod packet;
mod reader;

pub use packet::{
    Chunk, CommitEntry, CommitToken, Frag, Join, MAGIC, Mcast, McastPayload, Order, Packet,
    PacketKind, Token, VERSION,
};
pub use reader::DecodeError;

/// Bytes taken by the common header: magic, version, type, sender.
pub const HEADER_LEN: usize = 8;

/// Bytes a regular `mcast` adds around its chunks (header, ring id, seq, origin, counts).
pub const MCAST_OVERHEAD: usize = HEADER_LEN + 12 + 8 + 4 + 1 + 2;

/// Bytes one chunk header takes, at most (a fragment's header).
pub const CHUNK_OVERHEAD_MAX: usize = 1 + 4 + 8 + 4 + 4;

/// The most entries a token's retransmission request list carries.
pub const RTR_MAX: usize = 64;
