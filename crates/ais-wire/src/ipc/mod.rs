//! Byte codecs for corosync's client IPC: the libqb connection protocol and the messages of
//! the cpg, quorum, votequorum, cmap and cfg services.
//!
//! Reference: `reference/corosync-ipc-compat.md` §1.2 (connection setup), §1.4
//! (`QB_IPC_SOCKET`), §1.6 (events), §2.1 (common rules), §2.2 (CPG), §2.3 (quorum), §2.4
//! (votequorum), §2.5 (cmap) and §2.6 (cfg); libqb 2.0.6 `include/qb/qbipc_common.h`,
//! `lib/ipc_int.h`; corosync 3.1.7 `include/corosync/ipc_{cpg,quorum,votequorum,cmap,cfg}.h`,
//! `mar_gen.h`, `corotypes.h`.
//!
//! The layouts are those of an x86_64 client: host order is little-endian and most struct
//! members are `aligned(8)`, so fields sit at fixed offsets with zeroed padding between them
//! (votequorum's and cfg's node-status structs are packed more tightly; their modules say
//! how). Each message type states its offsets next to its constants; the golden tests check
//! them byte by byte.
//!
//! Invariants:
//! - `decode` never panics, whatever the input, and returns a typed [`IpcDecodeError`]. A
//!   message is exactly one datagram or ring chunk, so the header's `size` must equal the
//!   number of bytes given; any truncation of a valid message is therefore an error.
//! - `decode(encode(m)) == m` for every message (proptests in `tests.rs` and each service's
//!   `tests.rs`). Padding bytes are written as zero and ignored on input, as corosync does
//!   (it even leaves some uninitialised, §2.1).
//! - No message a type can hold encodes to more than [`IPC_MSG_SIZE_MAX`] bytes: names,
//!   lists and payloads are bounded by their constructors, so encoding cannot fail. The one
//!   exception is cmap, whose keys are `String`s and values [`CmapValue`]s as the service
//!   stores them: its `to_vec` checks the key and value lengths and returns
//!   [`IpcEncodeError`] instead.

mod cfg;
mod cmap;
mod cpg;
mod libqb;
mod quorum;
#[cfg(test)]
mod tests;
mod votequorum;

use std::fmt;

pub use cfg::{
    CFG_ADDRS_MAX, CFG_INTERFACES_MAX, CFG_LINKS_MAX, CfgEvent, CfgInterfaceName,
    CfgInterfaceStatus, CfgLinkAddress, CfgLinkStatus, CfgNodeStatus, CfgRequest, CfgResponse,
    CfgRingStatus, CsName, cfg_event_id, cfg_request_id, cfg_response_id, cfg_response_id_for,
    cfg_shutdown_flags, cfg_shutdown_reply,
};
pub use cmap::{
    CMAP_KEY_MAX, CMAP_VALUE_MAX, CmapEvent, CmapParseError, CmapRequest, CmapResponse, CmapValue,
    cmap_event_id, cmap_map, cmap_request_id, cmap_response_id, cmap_response_id_for, cmap_track,
    cmap_value_type,
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
pub use quorum::{
    QuorumEvent, QuorumModel, QuorumRequest, QuorumResponse, quorum_event_id, quorum_request_id,
    quorum_response_id, quorum_type,
};
pub use votequorum::{
    QdeviceName, VotequorumEvent, VotequorumInfo, VotequorumNode, VotequorumRequest,
    VotequorumResponse, votequorum_event_id, votequorum_info_flags, votequorum_node_state,
    votequorum_request_id, votequorum_response_id,
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
    /// `CS_ERR_VERSION`.
    pub const ERR_VERSION: Self = Self(3);
    /// `CS_ERR_INIT`.
    pub const ERR_INIT: Self = Self(4);
    /// `CS_ERR_TIMEOUT`.
    pub const ERR_TIMEOUT: Self = Self(5);
    /// `CS_ERR_TRY_AGAIN`: totem queue full or sync in progress; clients retry.
    pub const ERR_TRY_AGAIN: Self = Self(6);
    /// `CS_ERR_INVALID_PARAM`: also the answer to an unknown request id.
    pub const ERR_INVALID_PARAM: Self = Self(7);
    /// `CS_ERR_NO_MEMORY`.
    pub const ERR_NO_MEMORY: Self = Self(8);
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
    /// `CS_ERR_NO_SPACE`.
    pub const ERR_NO_SPACE: Self = Self(15);
    /// `CS_ERR_INTERRUPT`: a fragmented message was cut by a membership change.
    pub const ERR_INTERRUPT: Self = Self(16);
    /// `CS_ERR_NAME_NOT_FOUND`: votequorum SETVOTES for an unknown node.
    pub const ERR_NAME_NOT_FOUND: Self = Self(17);
    /// `CS_ERR_NO_RESOURCES`.
    pub const ERR_NO_RESOURCES: Self = Self(18);
    /// `CS_ERR_NOT_SUPPORTED`.
    pub const ERR_NOT_SUPPORTED: Self = Self(19);
    /// `CS_ERR_BAD_OPERATION`.
    pub const ERR_BAD_OPERATION: Self = Self(20);
    /// `CS_ERR_FAILED_OPERATION`.
    pub const ERR_FAILED_OPERATION: Self = Self(21);
    /// `CS_ERR_MESSAGE_ERROR`: a votequorum qdevice poll for another ring.
    pub const ERR_MESSAGE_ERROR: Self = Self(22);
    /// `CS_ERR_QUEUE_FULL`.
    pub const ERR_QUEUE_FULL: Self = Self(23);
    /// `CS_ERR_QUEUE_NOT_AVAILABLE`.
    pub const ERR_QUEUE_NOT_AVAILABLE: Self = Self(24);
    /// `CS_ERR_BAD_FLAGS`.
    pub const ERR_BAD_FLAGS: Self = Self(25);
    /// `CS_ERR_TOO_BIG`.
    pub const ERR_TOO_BIG: Self = Self(26);
    /// `CS_ERR_NO_SECTIONS`: the end of a CPG or cmap iteration.
    pub const ERR_NO_SECTIONS: Self = Self(27);
    /// `CS_ERR_CONTEXT_NOT_FOUND`.
    pub const ERR_CONTEXT_NOT_FOUND: Self = Self(28);
    /// `CS_ERR_TOO_MANY_GROUPS`.
    pub const ERR_TOO_MANY_GROUPS: Self = Self(30);
    /// `CS_ERR_SECURITY`.
    pub const ERR_SECURITY: Self = Self(100);
}

/// `cs_track_flags_t` (`corotypes.h`), the `track_flags` of quorum and votequorum TRACKSTART.
/// Kept raw: the service, not the codec, decides what an unknown bit means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TrackFlags(pub u32);

impl TrackFlags {
    /// `CS_TRACK_CURRENT`: send the current state now.
    pub const CURRENT: Self = Self(1);
    /// `CS_TRACK_CHANGES`: send the current state now and every change from now on.
    pub const CHANGES: Self = Self(2);
    /// `CS_TRACK_CHANGES_ONLY`: send every change from now on.
    pub const CHANGES_ONLY: Self = Self(4);

    /// Whether every bit of `other` is set.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for TrackFlags {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

/// The header id of a request, if `msg` is long enough to hold a request header: lets a
/// service answer a request it cannot decode with the response id the library waits for.
pub fn request_id(msg: &[u8]) -> Option<i32> {
    let view = View {
        buf: msg,
        what: "request header",
    };
    view.need(RequestHeader::LEN).ok()?;
    view.id().ok()
}

/// A `char[N]` field holding a NUL-terminated string (the qdevice name, cfg's interface
/// names and link addresses): at most `N - 1` bytes and no NUL, so the terminator always
/// fits. Decoding reads up to the first NUL and ignores the padding after it.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FixedCStr<const N: usize>(Vec<u8>);

impl<const N: usize> FixedCStr<N> {
    /// The field's size in bytes, terminator included.
    pub const LEN: usize = N;
    /// The longest string it holds.
    pub const MAX: usize = N - 1;

    /// A string, if it has at most [`Self::MAX`] bytes and no NUL.
    pub fn new(s: impl Into<Vec<u8>>) -> Result<Self, IpcEncodeError> {
        let s = s.into();
        if s.len() > Self::MAX || s.contains(&0) {
            return Err(IpcEncodeError::BadString {
                len: s.len(),
                max: Self::MAX,
            });
        }
        Ok(Self(s))
    }

    /// The bytes, without the terminator.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The string, with invalid UTF-8 replaced (for display).
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }

    fn decode(view: &View<'_>, off: usize, what: &'static str) -> Result<Self, IpcDecodeError> {
        let field = view.bytes(off, N)?;
        match field.iter().position(|&b| b == 0) {
            Some(end) => Ok(Self(field[..end].to_vec())),
            None => Err(IpcDecodeError::StringUnterminated { what }),
        }
    }

    fn encode(&self, f: &mut Frame<'_>, off: usize) {
        f.bytes(off, &self.0);
    }
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
    /// A length-prefixed string (a cmap key, a `cs_name_t`) longer than its field allows.
    #[error("{what} of {len} bytes exceeds {max}")]
    StringTooLong {
        /// The field.
        what: &'static str,
        /// The length field.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A `char[N]` string field with no NUL in its N bytes.
    #[error("{what} is not NUL-terminated")]
    StringUnterminated {
        /// The field.
        what: &'static str,
    },
    /// A string that must be UTF-8 text (a cmap key) is not, or holds a NUL.
    #[error("{what} is not NUL-free UTF-8")]
    BadText {
        /// The field.
        what: &'static str,
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
    /// A string longer than its field holds, or containing a NUL.
    #[error("invalid string of {len} bytes (limit {max}, no NUL)")]
    BadString {
        /// The string's length.
        len: usize,
        /// The limit.
        max: usize,
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

    fn u8(&self, off: usize) -> Result<u8, IpcDecodeError> {
        Ok(self.bytes(off, 1)?[0])
    }

    fn u16(&self, off: usize) -> Result<u16, IpcDecodeError> {
        Ok(u16::from_le_bytes(self.array(off)?))
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

    fn u8(&mut self, off: usize, v: u8) {
        self.buf[off] = v;
    }

    fn u16(&mut self, off: usize, v: u16) {
        self.bytes(off, &v.to_le_bytes());
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
        CfgEvent, CfgRequest, CfgResponse, CmapEvent, CmapRequest, CmapResponse, ConnectionRequest,
        ConnectionResponse, CpgEvent, CpgRequest, CpgResponse, QuorumEvent, QuorumRequest,
        QuorumResponse, RequestHeader, ResponseHeader, VotequorumEvent, VotequorumRequest,
        VotequorumResponse,
    };

    /// Asserts that a decoded message re-encodes to bytes that decode to the same message.
    macro_rules! round_trips {
        ($data:expr, $($ty:ty),+ $(,)?) => {
            $(
                if let Ok(m) = <$ty>::decode($data) {
                    assert_eq!(<$ty>::decode(&m.to_vec()), Ok(m));
                }
            )+
        };
    }

    /// Decodes `data` as every IPC message kind. It must not panic; whatever decodes must
    /// re-encode to something that decodes to the same value.
    pub fn fuzz_ipc_decode(data: &[u8]) {
        let _ = RequestHeader::peek(data);
        let _ = ResponseHeader::peek(data);
        let _ = super::request_id(data);
        round_trips!(
            data,
            ConnectionRequest,
            ConnectionResponse,
            CpgRequest,
            CpgResponse,
            CpgEvent,
            QuorumRequest,
            QuorumResponse,
            QuorumEvent,
            VotequorumRequest,
            VotequorumResponse,
            VotequorumEvent,
            CfgRequest,
            CfgResponse,
            CfgEvent,
        );
        // cmap values may be NaN floats, which are not equal to themselves: compare the
        // re-encodings instead.
        macro_rules! reencodes {
            ($($ty:ty),+) => {
                $(
                    if let Ok(m) = <$ty>::decode(data) {
                        let bytes = m.to_vec().expect("a decoded cmap message re-encodes");
                        let again = <$ty>::decode(&bytes).expect("a re-encoding decodes");
                        assert_eq!(again.to_vec(), Ok(bytes));
                    }
                )+
            };
        }
        reencodes!(CmapRequest, CmapResponse, CmapEvent);
    }
}
