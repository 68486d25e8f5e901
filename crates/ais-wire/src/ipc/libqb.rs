//! libqb's IPC framing: the message headers and the connection handshake.
//!
//! Reference §1.2 and §1.4; libqb 2.0.6 `include/qb/qbipc_common.h`
//! (`qb_ipc_request_header`, `qb_ipc_response_header`) and `lib/ipc_int.h`
//! (`qb_ipc_connection_request`, `qb_ipc_connection_response`). The handshake travels on the
//! setup stream socket: the client sends the 24-byte request, the daemon answers with the
//! whole 12 328-byte response at once, which also picks the transport (the client simply
//! follows `connection_type`). libqb has not changed these structs since 2012 (§1.8).
//!
//! Invariants: an [`IpcPath`] always fits its 4096-byte field with its NUL; a refusal always
//! carries a non-zero errno, so an accepted and a refused response cannot be confused.

use std::num::NonZeroU16;

use super::{CsStatus, Frame, IPC_MSG_SIZE_MAX, IpcDecodeError, IpcEncodeError, View};

/// `QB_IPC_MSG_AUTHENTICATE`: the header id of both handshake messages.
pub const MSG_AUTHENTICATE: i32 = -1;

/// The longest path a handshake field holds: `PATH_MAX` (4096) less the terminating NUL.
pub const IPC_PATH_MAX: usize = PATH_FIELD - 1;

/// One path field of the response: `char[PATH_MAX]`.
const PATH_FIELD: usize = 4096;

/// `qb_ipc_request_header` (16 bytes): `id` i32 @0, `size` i32 @8, the size of the whole
/// message including the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestHeader {
    /// The service's `MESSAGE_REQ_*` id.
    pub id: i32,
    /// Length of the whole message.
    pub size: u32,
}

impl RequestHeader {
    /// Encoded length.
    pub const LEN: usize = 16;

    /// Reads the header at the front of `buf`, as libqb peeks it before receiving `size`
    /// bytes (§1.4). The size must cover the header and stay within [`IPC_MSG_SIZE_MAX`].
    pub fn peek(buf: &[u8]) -> Result<Self, IpcDecodeError> {
        let view = View {
            buf,
            what: "request header",
        };
        view.need(Self::LEN)?;
        let size = checked_size(&view, Self::LEN)?;
        Ok(Self {
            id: view.id()?,
            size,
        })
    }

    /// Appends the 16 header bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut f = Frame::append(out, Self::LEN);
        f.i32(0, self.id);
        f.u32(8, self.size);
    }
}

/// `qb_ipc_response_header` (24 bytes): `id` i32 @0, `size` i32 @8, `error` i32 @16. Also
/// the header of every event (§1.6), whose `id` is a `MESSAGE_RES_*` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseHeader {
    /// The service's `MESSAGE_RES_*` id.
    pub id: i32,
    /// Length of the whole message.
    pub size: u32,
    /// The `cs_error_t` result.
    pub error: CsStatus,
}

impl ResponseHeader {
    /// Encoded length.
    pub const LEN: usize = 24;

    /// Reads the header at the front of `buf`; the size must cover the header and stay
    /// within [`IPC_MSG_SIZE_MAX`].
    pub fn peek(buf: &[u8]) -> Result<Self, IpcDecodeError> {
        let view = View {
            buf,
            what: "response header",
        };
        view.need(Self::LEN)?;
        let size = checked_size(&view, Self::LEN)?;
        Ok(Self {
            id: view.id()?,
            size,
            error: CsStatus(view.i32(16)?),
        })
    }

    /// Appends the 24 header bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut f = Frame::append(out, Self::LEN);
        f.i32(0, self.id);
        f.u32(8, self.size);
        f.i32(16, self.error.0);
    }
}

/// The `size` field of a bare header, within `min..=IPC_MSG_SIZE_MAX`.
fn checked_size(view: &View<'_>, min: usize) -> Result<u32, IpcDecodeError> {
    let size = view.i32(8)?;
    match usize::try_from(size) {
        Ok(n) if (min..=IPC_MSG_SIZE_MAX).contains(&n) => Ok(n as u32),
        _ => Err(IpcDecodeError::BadSize {
            what: view.what,
            size,
            len: IPC_MSG_SIZE_MAX,
        }),
    }
}

/// `qb_ipc_connection_request` (24 bytes): header {id -1, size 24}, `max_msg_size` u32 @16.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionRequest {
    /// The largest message the client wants to exchange; corosync's libraries ask for
    /// 1 048 576 ([`IPC_MSG_SIZE_MAX`]).
    pub max_msg_size: u32,
}

impl ConnectionRequest {
    /// Encoded length.
    pub const LEN: usize = 24;

    /// Decodes exactly one connection request.
    pub fn decode(buf: &[u8]) -> Result<Self, IpcDecodeError> {
        let view = View::open(buf, "connection request", RequestHeader::LEN)?;
        view.exact(Self::LEN)?;
        authenticate_id(&view)?;
        Ok(Self {
            max_msg_size: view.u32(16)?,
        })
    }

    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut f = Frame::append(out, Self::LEN);
        f.request_header(MSG_AUTHENTICATE);
        f.u32(16, self.max_msg_size);
    }

    /// The encoding as a new buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::LEN);
        self.encode(&mut out);
        out
    }
}

fn authenticate_id(view: &View<'_>) -> Result<(), IpcDecodeError> {
    match view.id()? {
        MSG_AUTHENTICATE => Ok(()),
        id => Err(IpcDecodeError::UnknownId {
            what: view.what,
            id,
        }),
    }
}

/// `enum qb_ipc_type` as the response's `connection_type`: the transport the server picked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum IpcTransport {
    /// `QB_IPC_SOCKET`: datagram sockets (§1.4).
    Socket = 0,
    /// `QB_IPC_SHM`: shared-memory ring buffers (§1.5).
    Shm = 1,
}

/// A positive errno with which the server refuses a connection; the wire carries `-errno`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(NonZeroU16);

impl Errno {
    /// `EAGAIN`: not ready yet (before the first membership sync); clients retry.
    pub const EAGAIN: Self = Self(NonZeroU16::new(11).expect("non-zero"));
    /// `EACCES`: uid/gid not allowed.
    pub const EACCES: Self = Self(NonZeroU16::new(13).expect("non-zero"));
    /// `EMFILE`: out of file descriptors.
    pub const EMFILE: Self = Self(NonZeroU16::new(24).expect("non-zero"));
    /// `ENOSYS`: the service is absent.
    pub const ENOSYS: Self = Self(NonZeroU16::new(38).expect("non-zero"));

    /// An errno; `None` for zero, which means success on the wire.
    pub fn new(errno: u16) -> Option<Self> {
        NonZeroU16::new(errno).map(Self)
    }

    /// The positive errno value.
    pub fn get(self) -> u16 {
        self.0.get()
    }
}

/// An absolute path or abstract socket name sent in the handshake: at most [`IPC_PATH_MAX`]
/// bytes, no NUL. SOCKET mode sends an empty event path.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct IpcPath(Vec<u8>);

impl IpcPath {
    /// A path, if it fits its field.
    pub fn new(path: impl Into<Vec<u8>>) -> Result<Self, IpcEncodeError> {
        let path = path.into();
        if path.len() > IPC_PATH_MAX || path.contains(&0) {
            return Err(IpcEncodeError::BadPath { len: path.len() });
        }
        Ok(Self(path))
    }

    /// The path's bytes, without the NUL.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Reads a `char[4096]` field: the bytes up to the first NUL (the rest is padding).
    fn decode(view: &View<'_>, off: usize, what: &'static str) -> Result<Self, IpcDecodeError> {
        let field = view.bytes(off, PATH_FIELD)?;
        let len = field.iter().position(|&b| b == 0);
        let len = len.ok_or(IpcDecodeError::PathUnterminated { what })?;
        Ok(Self(field[..len].to_vec()))
    }
}

/// The server's terms when it accepts a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionAccepted {
    /// The transport the client must use.
    pub transport: IpcTransport,
    /// The size both sides use: libqb's server sends max(client's, its own).
    pub max_msg_size: u32,
    /// The server's connection pointer (`intptr_t`); the client ignores it.
    pub connection: u64,
    /// SOCKET: the control file path. SHM: the request ring name.
    pub request: IpcPath,
    /// SOCKET: the base name of the datagram sockets. SHM: the response ring name.
    pub response: IpcPath,
    /// SOCKET: empty. SHM: the event ring name.
    pub event: IpcPath,
}

/// `qb_ipc_connection_response` (12 328 bytes): header {id -1, size 12 328, error}
/// @0, `connection_type` i32 @24, `max_msg_size` u32 @28, `connection` intptr @32,
/// `request[4096]` @40, `response[4096]` @4136, `event[4096]` @8232.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectionResponse {
    /// `error` 0: the client sets up the transport named in the response.
    Accepted(ConnectionAccepted),
    /// `error` = `-errno`; the client's connect fails with that errno. The other fields are
    /// sent as zeros and ignored on input.
    Refused(Errno),
}

impl ConnectionResponse {
    /// Encoded length.
    pub const LEN: usize = 12_328;

    const TYPE: usize = 24;
    const MAX_MSG_SIZE: usize = 28;
    const CONNECTION: usize = 32;
    const REQUEST: usize = 40;
    const RESPONSE: usize = Self::REQUEST + PATH_FIELD;
    const EVENT: usize = Self::RESPONSE + PATH_FIELD;

    /// Decodes exactly one connection response.
    pub fn decode(buf: &[u8]) -> Result<Self, IpcDecodeError> {
        let view = View::open(buf, "connection response", ResponseHeader::LEN)?;
        view.exact(Self::LEN)?;
        authenticate_id(&view)?;
        match view.i32(16)? {
            0 => {}
            e if e < 0 => {
                let errno = e.checked_neg().and_then(|n| u16::try_from(n).ok());
                return errno.and_then(Errno::new).map(Self::Refused).ok_or(
                    IpcDecodeError::InvalidValue {
                        what: "connection error",
                        value: e.into(),
                    },
                );
            }
            // libqb sends only 0 or a negative errno.
            e => {
                return Err(IpcDecodeError::InvalidValue {
                    what: "connection error",
                    value: e.into(),
                });
            }
        }
        let transport = match view.i32(Self::TYPE)? {
            0 => IpcTransport::Socket,
            1 => IpcTransport::Shm,
            // POSIX_MQ (2) and SYSV_MQ (3) are refused by libqb 2.0 clients, so by us too.
            t => {
                return Err(IpcDecodeError::InvalidValue {
                    what: "connection type",
                    value: t.into(),
                });
            }
        };
        Ok(Self::Accepted(ConnectionAccepted {
            transport,
            max_msg_size: view.u32(Self::MAX_MSG_SIZE)?,
            connection: view.u64(Self::CONNECTION)?,
            request: IpcPath::decode(&view, Self::REQUEST, "request")?,
            response: IpcPath::decode(&view, Self::RESPONSE, "response")?,
            event: IpcPath::decode(&view, Self::EVENT, "event")?,
        }))
    }

    /// Appends the encoding to `out`, always the full 12 328 bytes: libqb 2.0.6 clients fail
    /// on a partial read of the response (§1.2).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut f = Frame::append(out, Self::LEN);
        f.request_header(MSG_AUTHENTICATE);
        match self {
            Self::Refused(errno) => f.i32(16, -i32::from(errno.get())),
            Self::Accepted(a) => {
                f.i32(Self::TYPE, a.transport as i32);
                f.u32(Self::MAX_MSG_SIZE, a.max_msg_size);
                f.u64(Self::CONNECTION, a.connection);
                // The NUL that ends each path is already there: the frame is zero-filled.
                f.bytes(Self::REQUEST, a.request.as_bytes());
                f.bytes(Self::RESPONSE, a.response.as_bytes());
                f.bytes(Self::EVENT, a.event.as_bytes());
            }
        }
    }

    /// The encoding as a new buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::LEN);
        self.encode(&mut out);
        out
    }
}
