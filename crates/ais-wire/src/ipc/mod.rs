//! Byte codecs for corosync's client IPC: the libqb connection protocol and the CPG messages.
//!
//! Reference: `reference/corosync-ipc-compat.md` §1.2 (connection setup), §1.4
//! (`QB_IPC_SOCKET`), §1.6 (events), §2.1 (common rules) and §2.2 (CPG); libqb 2.0.6
//! `include/qb/qbipc_common.h`, `lib/ipc_int.h`; corosync 3.1.7 `include/corosync/ipc_cpg.h`,
//! `mar_gen.h`, `corotypes.h`.
//!
//! The layouts are those of an x86_64 client: host order is little-endian and every struct
//! member is `aligned(8)`, so fields sit at fixed offsets with zeroed padding between them.
//! Each message type states its offsets next to its constants; the golden tests check them
//! byte by byte.
//!
//! Invariants:
//! - `decode` never panics, whatever the input, and returns a typed [`IpcDecodeError`]. A
//!   message is exactly one datagram or ring chunk, so the header's `size` must equal the
//!   number of bytes given; any truncation of a valid message is therefore an error.
//! - `decode(encode(m)) == m` for every message (proptest in `tests.rs`). Padding bytes are
//!   written as zero and ignored on input, as corosync does (it even leaves some
//!   uninitialised, §2.1).
//! - No message a type can hold encodes to more than [`IPC_MSG_SIZE_MAX`] bytes: names,
//!   lists and payloads are bounded by their constructors, so encoding cannot fail.

mod cfg;
mod cpg;
mod libqb;
#[cfg(test)]
mod tests;

use std::fmt;

pub use cfg::{
    CFG_ADDRS_MAX, CfgRequest, CfgResponse, cfg_request_id, cfg_response_id, cfg_response_id_for,
};
pub use cpg::{
    CPG_FRAGMENT_MAX, CPG_MCAST_PAYLOAD_MAX, CPG_NAME_MAX, ConfchgEvent, CpgAddress, CpgEvent,
    CpgName, CpgPayload, CpgReason, CpgRequest, CpgResponse, DeliverEvent, FragmentKind, Guarantee,
    IterationDescription, IterationHandle, IterationType, MemberList, PartialDeliverEvent,
    PartialFragment, TotemConfchgEvent, cpg_event_id, cpg_request_id, cpg_response_id,
};
pub use libqb::{
    ConnectionAccepted, ConnectionRequest, ConnectionResponse, Errno, IPC_PATH_MAX, IpcPath,
    IpcTransport, MSG_AUTHENTICATE, RequestHeader, ResponseHeader,
};

/// The largest message either side sends: corosync's `IPC_REQUEST_SIZE` (8192 × 128), the
/// `max_msg_size` every corosync library asks for and corosync echoes (§1.2).
pub const IPC_MSG_SIZE_MAX: usize = 8192 * 128;

/// A corosync `cs_error_t` as carried in a response header's `error` field (§2.1).
///
/// A newtype rather than an enum: the field is only ever copied between the service and the
/// client, and the client library, not this codec, decides what an unknown value means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CsStatus(pub i32);

impl CsStatus {
    /// `CS_OK`.
    pub const OK: Self = Self(1);
    /// `CS_ERR_LIBRARY`.
    pub const ERR_LIBRARY: Self = Self(2);
    /// `CS_ERR_TRY_AGAIN`: totem queue full or sync in progress; clients retry.
    pub const ERR_TRY_AGAIN: Self = Self(6);
    /// `CS_ERR_INVALID_PARAM`: also the answer to an unknown request id.
    pub const ERR_INVALID_PARAM: Self = Self(7);
    /// `CS_ERR_BAD_HANDLE`.
    pub const ERR_BAD_HANDLE: Self = Self(9);
    /// `CS_ERR_BUSY`.
    pub const ERR_BUSY: Self = Self(10);
    /// `CS_ERR_ACCESS`.
    pub const ERR_ACCESS: Self = Self(11);
    /// `CS_ERR_NOT_EXIST`.
    pub const ERR_NOT_EXIST: Self = Self(12);
    /// `CS_ERR_NAME_TOO_LONG`.
    pub const ERR_NAME_TOO_LONG: Self = Self(13);
    /// `CS_ERR_EXIST`.
    pub const ERR_EXIST: Self = Self(14);
    /// `CS_ERR_NO_RESOURCES`.
    pub const ERR_NO_RESOURCES: Self = Self(18);
    /// `CS_ERR_INTERRUPT`: a fragmented message was cut by a membership change.
    pub const ERR_INTERRUPT: Self = Self(16);
    /// `CS_ERR_NOT_SUPPORTED`.
    pub const ERR_NOT_SUPPORTED: Self = Self(19);
    /// `CS_ERR_NO_SECTIONS`: the end of a CPG iteration.
    pub const ERR_NO_SECTIONS: Self = Self(27);
    /// `CS_ERR_TOO_BIG`.
    pub const ERR_TOO_BIG: Self = Self(26);
}

impl fmt::Display for CsStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cs_error {}", self.0)
    }
}

/// Why bytes from a client or the daemon are not a valid IPC message. Bad input is an
/// operating error: the caller counts it and rejects the message (or the connection).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpcDecodeError {
    /// Fewer bytes than the header or the layout needs.
    #[error("{what} truncated: need {need} bytes, got {got}")]
    Truncated {
        /// The message being decoded.
        what: &'static str,
        /// Bytes the layout needs.
        need: usize,
        /// Bytes given.
        got: usize,
    },
    /// The header's `size` field is not the number of bytes given (or is out of range).
    #[error("{what}: header size {size} but {len} bytes given")]
    BadSize {
        /// The message being decoded.
        what: &'static str,
        /// The `size` field.
        size: i32,
        /// Bytes given (for a bare header, the largest size allowed).
        len: usize,
    },
    /// More bytes than the layout's counts and lengths account for.
    #[error("{what}: {extra} bytes beyond the layout")]
    TrailingBytes {
        /// The message being decoded.
        what: &'static str,
        /// Bytes left over.
        extra: usize,
    },
    /// A header id this service does not know (or this codec does not implement).
    #[error("{what}: unknown id {id}")]
    UnknownId {
        /// The kind of message (CPG request, CPG event, ...).
        what: &'static str,
        /// The id.
        id: i32,
    },
    /// A `mar_cpg_name_t` whose length exceeds [`CPG_NAME_MAX`].
    #[error("group name length {len} exceeds {max}", max = CPG_NAME_MAX)]
    NameTooLong {
        /// The length field.
        len: u32,
    },
    /// A path field with no NUL in its 4096 bytes.
    #[error("{what} path is not NUL-terminated")]
    PathUnterminated {
        /// The field.
        what: &'static str,
    },
    /// A list count over its limit.
    #[error("{what}: {count} entries, limit {max}")]
    ListTooLong {
        /// The list.
        what: &'static str,
        /// The count field.
        count: u32,
        /// The limit.
        max: usize,
    },
    /// A payload length over its limit.
    #[error("{what}: payload of {len} bytes, limit {max}")]
    PayloadTooLarge {
        /// The message.
        what: &'static str,
        /// The length field.
        len: u32,
        /// The limit.
        max: usize,
    },
    /// A field holds a value the protocol does not define.
    #[error("invalid {what}: {value}")]
    InvalidValue {
        /// The field.
        what: &'static str,
        /// Its value.
        value: i64,
    },
}

/// Why a message cannot be built: it would break a protocol limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpcEncodeError {
    /// A group name longer than [`CPG_NAME_MAX`] (the service answers `CS_ERR_NAME_TOO_LONG`).
    #[error("group name of {len} bytes exceeds {max}", max = CPG_NAME_MAX)]
    NameTooLong {
        /// The name's length.
        len: usize,
    },
    /// A path longer than [`IPC_PATH_MAX`] or containing a NUL byte.
    #[error("invalid IPC path of {len} bytes (limit {max}, no NUL)", max = IPC_PATH_MAX)]
    BadPath {
        /// The path's length.
        len: usize,
    },
    /// More list entries than [`MemberList::MAX`].
    #[error("{count} list entries exceed {max}", max = MemberList::<u8>::MAX)]
    ListTooLong {
        /// The number of entries.
        count: usize,
    },
    /// A payload or fragment over its limit.
    #[error("payload of {len} bytes exceeds {max}")]
    PayloadTooLarge {
        /// The length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A fragment longer than the message it belongs to.
    #[error("fragment of {fragment} bytes exceeds its message of {message}")]
    FragmentExceedsMessage {
        /// Fragment length.
        fragment: usize,
        /// Whole message length.
        message: u32,
    },
}

/// A bounds-checked view of one message: every read returns `Err` instead of panicking.
struct View<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> View<'a> {
    /// Opens a message whose header (`header_len` bytes) carries `size` at offset 8, which
    /// must equal the bytes given: one message is exactly one datagram or ring chunk (§1.4).
    fn open(buf: &'a [u8], what: &'static str, header_len: usize) -> Result<Self, IpcDecodeError> {
        let view = Self { buf, what };
        view.need(header_len)?;
        let size = view.i32(8)?;
        if usize::try_from(size).ok() != Some(buf.len()) {
            return Err(IpcDecodeError::BadSize {
                what,
                size,
                len: buf.len(),
            });
        }
        Ok(view)
    }

    /// The header id at offset 0 (requests and responses alike).
    fn id(&self) -> Result<i32, IpcDecodeError> {
        self.i32(0)
    }

    fn need(&self, need: usize) -> Result<(), IpcDecodeError> {
        if self.buf.len() < need {
            return Err(IpcDecodeError::Truncated {
                what: self.what,
                need,
                got: self.buf.len(),
            });
        }
        Ok(())
    }

    /// The layout accounts for exactly `total` bytes.
    fn exact(&self, total: usize) -> Result<(), IpcDecodeError> {
        self.need(total)?;
        match self.buf.len() - total {
            0 => Ok(()),
            extra => Err(IpcDecodeError::TrailingBytes {
                what: self.what,
                extra,
            }),
        }
    }

    fn bytes(&self, off: usize, n: usize) -> Result<&'a [u8], IpcDecodeError> {
        let end = off.saturating_add(n);
        self.buf.get(off..end).ok_or(IpcDecodeError::Truncated {
            what: self.what,
            need: end,
            got: self.buf.len(),
        })
    }

    fn array<const N: usize>(&self, off: usize) -> Result<[u8; N], IpcDecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(off, N)?);
        Ok(a)
    }

    fn u32(&self, off: usize) -> Result<u32, IpcDecodeError> {
        Ok(u32::from_le_bytes(self.array(off)?))
    }

    fn i32(&self, off: usize) -> Result<i32, IpcDecodeError> {
        Ok(i32::from_le_bytes(self.array(off)?))
    }

    fn u64(&self, off: usize) -> Result<u64, IpcDecodeError> {
        Ok(u64::from_le_bytes(self.array(off)?))
    }
}

/// A zero-filled message of a known length being written at fixed offsets, so padding is
/// always zero and no field can land outside the message.
struct Frame<'a> {
    buf: &'a mut [u8],
}

impl<'a> Frame<'a> {
    /// Appends `len` zero bytes to `out` and returns them for writing.
    fn append(out: &'a mut Vec<u8>, len: usize) -> Self {
        // Every type bounds its own contents; this is the last line of that defence.
        assert!(
            len <= IPC_MSG_SIZE_MAX,
            "IPC message of {len} bytes over {IPC_MSG_SIZE_MAX}"
        );
        let start = out.len();
        out.resize(start + len, 0);
        Self {
            buf: &mut out[start..],
        }
    }

    /// The message length as the header's `i32` size (bounded by `append`).
    fn size(&self) -> i32 {
        self.buf.len() as i32
    }

    /// `qb_ipc_request_header`: `id` @0, `size` @8.
    fn request_header(&mut self, id: i32) {
        let size = self.size();
        self.i32(0, id);
        self.i32(8, size);
    }

    /// `qb_ipc_response_header`: `id` @0, `size` @8, `error` @16.
    fn response_header(&mut self, id: i32, error: CsStatus) {
        self.request_header(id);
        self.i32(16, error.0);
    }

    fn bytes(&mut self, off: usize, data: &[u8]) {
        self.buf[off..off + data.len()].copy_from_slice(data);
    }

    fn u32(&mut self, off: usize, v: u32) {
        self.bytes(off, &v.to_le_bytes());
    }

    fn i32(&mut self, off: usize, v: i32) {
        self.bytes(off, &v.to_le_bytes());
    }

    fn u64(&mut self, off: usize, v: u64) {
        self.bytes(off, &v.to_le_bytes());
    }
}

/// Fuzz entry points (STYLE §8); a `cargo fuzz` target only calls into here.
#[doc(hidden)]
pub mod fuzzing {
    use super::{
        ConnectionRequest, ConnectionResponse, CpgEvent, CpgRequest, CpgResponse, RequestHeader,
        ResponseHeader,
    };

    /// Decodes `data` as every IPC message kind. It must not panic; whatever decodes must
    /// re-encode to something that decodes to the same value.
    pub fn fuzz_ipc_decode(data: &[u8]) {
        let _ = RequestHeader::peek(data);
        let _ = ResponseHeader::peek(data);
        if let Ok(m) = ConnectionRequest::decode(data) {
            assert_eq!(ConnectionRequest::decode(&m.to_vec()), Ok(m));
        }
        if let Ok(m) = ConnectionResponse::decode(data) {
            assert_eq!(ConnectionResponse::decode(&m.to_vec()), Ok(m));
        }
        let _ = super::CfgRequest::decode(data);
        if let Ok(m) = CpgRequest::decode(data) {
            assert_eq!(CpgRequest::decode(&m.to_vec()), Ok(m));
        }
        if let Ok(m) = CpgResponse::decode(data) {
            assert_eq!(CpgResponse::decode(&m.to_vec()), Ok(m));
        }
        if let Ok(m) = CpgEvent::decode(data) {
            assert_eq!(CpgEvent::decode(&m.to_vec()), Ok(m));
        }
    }
}
