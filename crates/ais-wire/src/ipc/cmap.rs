//! cmap client messages (libcmap): get, set, delete, adjust, iterate and track the keys of
//! the configuration map, and typed values as corosync-cmapctl reads and prints them.
//!
//! Reference §2.1 and §2.5; corosync 3.1.7 `include/corosync/ipc_cmap.h`, `exec/cmap.c`,
//! `lib/cmap.c`, `tools/corosync-cmapctl.c`. Keys travel as `mar_name_t` (length u16 @0,
//! `value[256]` @8, 264 bytes); libcmap refuses keys of 256 bytes or more, so one always
//! ends in a NUL. Values travel as a type code, a u64 length and the bytes after the struct.
//!
//! GET is the odd one: the client says how many value bytes it can take (`value_len`, 0 to
//! ask only the type and length) and the response is 40 bytes plus exactly that many, with
//! the value's real length @24 ([`CmapResponse::get_reply`] builds it as corosync does).
//! libcmap therefore reads strings and binaries in two GETs.
//!
//! Invariants: a decoded key is at most [`CMAP_KEY_MAX`] bytes of NUL-free UTF-8, a decoded
//! value at most [`CMAP_VALUE_MAX`] bytes. Unlike the other codecs, keys are `String`s and
//! values [`CmapValue`]s, so `to_vec` checks both and returns [`IpcEncodeError`] for an
//! over-long key or value; whatever decodes re-encodes.

use std::fmt;

use super::{CsStatus, Frame, IPC_MSG_SIZE_MAX, IpcDecodeError, IpcEncodeError, View};
use super::{RequestHeader, ResponseHeader};

/// The longest key (`CMAP_KEYNAME_MAXLEN`): 255 bytes and the NUL fill `value[256]`.
pub const CMAP_KEY_MAX: usize = 255;

/// The longest value this codec carries: two of them (a change's new and old value) fit a
/// NOTIFY_CALLBACK event within [`IPC_MSG_SIZE_MAX`]. corosync itself keeps values of at
/// most 16 KiB (`ICMAP_MAX_VALUE_LEN`); enforcing that is the service's business.
pub const CMAP_VALUE_MAX: usize = (IPC_MSG_SIZE_MAX - NOTIFY_VALUES) / 2;

/// `MESSAGE_REQ_CMAP_*`: request header ids.
pub mod cmap_request_id {
    /// Set a key.
    pub const SET: i32 = 0;
    /// Delete a key.
    pub const DELETE: i32 = 1;
    /// Read a key's type, length and value.
    pub const GET: i32 = 2;
    /// Add a step to an integer key.
    pub const ADJUST_INT: i32 = 3;
    /// Start iterating over the keys with a prefix.
    pub const ITER_INIT: i32 = 4;
    /// The next key of an iteration.
    pub const ITER_NEXT: i32 = 5;
    /// End an iteration.
    pub const ITER_FINALIZE: i32 = 6;
    /// Start tracking a key or prefix.
    pub const TRACK_ADD: i32 = 7;
    /// Stop tracking.
    pub const TRACK_DELETE: i32 = 8;
    /// Choose the map (default or stats); sent by `cmap_initialize_map()`.
    pub const SET_CURRENT_MAP: i32 = 9;
}

/// `MESSAGE_RES_CMAP_*` ids of responses.
pub mod cmap_response_id {
    /// SET's response; also the dispatcher's generic error reply (§2.1).
    pub const SET: i32 = 0;
    /// DELETE's response.
    pub const DELETE: i32 = 1;
    /// GET's response.
    pub const GET: i32 = 2;
    /// ADJUST_INT's response.
    pub const ADJUST_INT: i32 = 3;
    /// ITER_INIT's response.
    pub const ITER_INIT: i32 = 4;
    /// ITER_NEXT's response.
    pub const ITER_NEXT: i32 = 5;
    /// ITER_FINALIZE's response.
    pub const ITER_FINALIZE: i32 = 6;
    /// TRACK_ADD's response.
    pub const TRACK_ADD: i32 = 7;
    /// TRACK_DELETE's response.
    pub const TRACK_DELETE: i32 = 8;
    /// SET_CURRENT_MAP's response (10: 9 is the notify event).
    pub const SET_CURRENT_MAP: i32 = 10;
}

/// `MESSAGE_RES_CMAP_*` ids of events.
pub mod cmap_event_id {
    /// A tracked key changed.
    pub const NOTIFY_CALLBACK: i32 = 9;
}

/// `cmap_value_types_t`: the type codes of [`CmapValue`].
pub mod cmap_value_type {
    /// `CMAP_VALUETYPE_INT8`.
    pub const INT8: u8 = 1;
    /// `CMAP_VALUETYPE_UINT8`.
    pub const UINT8: u8 = 2;
    /// `CMAP_VALUETYPE_INT16`.
    pub const INT16: u8 = 3;
    /// `CMAP_VALUETYPE_UINT16`.
    pub const UINT16: u8 = 4;
    /// `CMAP_VALUETYPE_INT32`.
    pub const INT32: u8 = 5;
    /// `CMAP_VALUETYPE_UINT32`.
    pub const UINT32: u8 = 6;
    /// `CMAP_VALUETYPE_INT64`.
    pub const INT64: u8 = 7;
    /// `CMAP_VALUETYPE_UINT64`.
    pub const UINT64: u8 = 8;
    /// `CMAP_VALUETYPE_FLOAT`.
    pub const FLOAT: u8 = 9;
    /// `CMAP_VALUETYPE_DOUBLE`.
    pub const DOUBLE: u8 = 10;
    /// `CMAP_VALUETYPE_STRING`: NUL-terminated, the NUL counted in the length.
    pub const STRING: u8 = 11;
    /// `CMAP_VALUETYPE_BINARY`.
    pub const BINARY: u8 = 12;
}

/// `CMAP_TRACK_*`: the bits of TRACK_ADD's `track_type` and of a notification's `event`.
pub mod cmap_track {
    /// A key was deleted.
    pub const DELETE: i32 = 1;
    /// A key's value changed.
    pub const MODIFY: i32 = 2;
    /// A key was created.
    pub const ADD: i32 = 4;
    /// Track every key starting with the name, not just the key.
    pub const PREFIX: i32 = 8;
}

/// `CMAP_SETMAP_*`: SET_CURRENT_MAP's `map`.
pub mod cmap_map {
    /// The configuration and runtime map.
    pub const DEFAULT: i32 = 0;
    /// The statistics map (`stats.*`), read-only.
    pub const STATS: i32 = 1;
}

/// The response id corosync's library waits for after cmap request `id`, if it is one: lets
/// a service answer a request it cannot decode (corosync answers a bad type or length
/// `CS_ERR_INVALID_PARAM` rather than dropping the client).
pub fn cmap_response_id_for(id: i32) -> Option<i32> {
    match id {
        0..=8 => Some(id),
        cmap_request_id::SET_CURRENT_MAP => Some(cmap_response_id::SET_CURRENT_MAP),
        _ => None,
    }
}

/// A typed cmap value. Strings hold their bytes without the terminating NUL: they are
/// encoded with it (and the length counts it) and decoding strips one trailing NUL if
/// present, because libcmap callers may send `strlen` bytes without it.
#[derive(Clone, Debug, PartialEq)]
pub enum CmapValue {
    /// `i8`.
    I8(i8),
    /// `u8`.
    U8(u8),
    /// `i16`.
    I16(i16),
    /// `u16`.
    U16(u16),
    /// `i32`.
    I32(i32),
    /// `u32`.
    U32(u32),
    /// `i64`.
    I64(i64),
    /// `u64`.
    U64(u64),
    /// `flt`.
    Float(f32),
    /// `dbl`.
    Double(f64),
    /// `str`: the bytes without the trailing NUL.
    Str(Vec<u8>),
    /// `bin`.
    Binary(Vec<u8>),
}

/// cmapctl's type names, indexed by type code - 1.
const TYPE_NAMES: [&str; 12] = [
    "i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "flt", "dbl", "str", "bin",
];

impl CmapValue {
    /// The `cmap_value_types_t` code.
    pub fn type_code(&self) -> u8 {
        use cmap_value_type as t;
        match self {
            Self::I8(_) => t::INT8,
            Self::U8(_) => t::UINT8,
            Self::I16(_) => t::INT16,
            Self::U16(_) => t::UINT16,
            Self::I32(_) => t::INT32,
            Self::U32(_) => t::UINT32,
            Self::I64(_) => t::INT64,
            Self::U64(_) => t::UINT64,
            Self::Float(_) => t::FLOAT,
            Self::Double(_) => t::DOUBLE,
            Self::Str(_) => t::STRING,
            Self::Binary(_) => t::BINARY,
        }
    }

    /// corosync-cmapctl's name for the type (`u32`, `str`, `bin`, ...).
    pub fn type_name(&self) -> &'static str {
        TYPE_NAMES[usize::from(self.type_code()) - 1]
    }

    /// The type code for one of cmapctl's type names.
    pub fn type_code_of(type_name: &str) -> Option<u8> {
        let i = TYPE_NAMES.iter().position(|n| *n == type_name)?;
        Some(i as u8 + 1)
    }

    /// The length on the wire (`value_len`): a string's includes its NUL.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::I8(_) | Self::U8(_) => 1,
            Self::I16(_) | Self::U16(_) => 2,
            Self::I32(_) | Self::U32(_) | Self::Float(_) => 4,
            Self::I64(_) | Self::U64(_) | Self::Double(_) => 8,
            Self::Str(s) => s.len() + 1,
            Self::Binary(b) => b.len(),
        }
    }

    /// The value's bytes on the wire (host order, a string with its NUL).
    pub fn encode_value(&self) -> Vec<u8> {
        match self {
            Self::I8(v) => v.to_le_bytes().to_vec(),
            Self::U8(v) => v.to_le_bytes().to_vec(),
            Self::I16(v) => v.to_le_bytes().to_vec(),
            Self::U16(v) => v.to_le_bytes().to_vec(),
            Self::I32(v) => v.to_le_bytes().to_vec(),
            Self::U32(v) => v.to_le_bytes().to_vec(),
            Self::I64(v) => v.to_le_bytes().to_vec(),
            Self::U64(v) => v.to_le_bytes().to_vec(),
            Self::Float(v) => v.to_le_bytes().to_vec(),
            Self::Double(v) => v.to_le_bytes().to_vec(),
            Self::Str(s) => {
                let mut out = Vec::with_capacity(s.len() + 1);
                out.extend_from_slice(s);
                out.push(0);
                out
            }
            Self::Binary(b) => b.clone(),
        }
    }

    /// A value of type `type_code` from its wire bytes. An unknown type, or a length that
    /// is not the type's size, is an error.
    pub fn decode_value(type_code: u8, bytes: &[u8]) -> Result<Self, IpcDecodeError> {
        use cmap_value_type as t;
        fn fixed<const N: usize>(bytes: &[u8]) -> Result<[u8; N], IpcDecodeError> {
            bytes.try_into().map_err(|_| IpcDecodeError::InvalidValue {
                what: "cmap value length",
                value: bytes.len() as i64,
            })
        }
        Ok(match type_code {
            t::INT8 => Self::I8(i8::from_le_bytes(fixed(bytes)?)),
            t::UINT8 => Self::U8(u8::from_le_bytes(fixed(bytes)?)),
            t::INT16 => Self::I16(i16::from_le_bytes(fixed(bytes)?)),
            t::UINT16 => Self::U16(u16::from_le_bytes(fixed(bytes)?)),
            t::INT32 => Self::I32(i32::from_le_bytes(fixed(bytes)?)),
            t::UINT32 => Self::U32(u32::from_le_bytes(fixed(bytes)?)),
            t::INT64 => Self::I64(i64::from_le_bytes(fixed(bytes)?)),
            t::UINT64 => Self::U64(u64::from_le_bytes(fixed(bytes)?)),
            t::FLOAT => Self::Float(f32::from_le_bytes(fixed(bytes)?)),
            t::DOUBLE => Self::Double(f64::from_le_bytes(fixed(bytes)?)),
            t::STRING => Self::Str(bytes.strip_suffix(&[0]).unwrap_or(bytes).to_vec()),
            t::BINARY => Self::Binary(bytes.to_vec()),
            other => {
                return Err(IpcDecodeError::InvalidValue {
                    what: "cmap value type",
                    value: other.into(),
                });
            }
        })
    }

    /// Parses `text` as corosync-cmapctl's `-s key type value` does, `type_name` being one
    /// of `i8 u8 i16 u16 i32 u32 i64 u64 flt dbl str bin`. Integers are decimal and must fit
    /// the type. For `str` and `bin` the text itself is the value (cmapctl reads a `bin`
    /// value from the file the text names: a tool that wants that reads the file and builds
    /// [`CmapValue::Binary`] itself).
    ///
    /// ```
    /// use ais_wire::ipc::CmapValue;
    ///
    /// assert_eq!(CmapValue::parse("u32", "5000"), Ok(CmapValue::U32(5000)));
    /// assert_eq!(CmapValue::parse("str", "udpu"), Ok(CmapValue::Str(b"udpu".to_vec())));
    /// assert!(CmapValue::parse("u8", "256").is_err());
    /// assert_eq!(CmapValue::U32(5000).to_string(), "(u32) = 5000");
    /// ```
    pub fn parse(type_name: &str, text: &str) -> Result<Self, CmapParseError> {
        let type_code = Self::type_code_of(type_name)
            .ok_or_else(|| CmapParseError::UnknownType(type_name.to_owned()))?;
        let type_name = TYPE_NAMES[usize::from(type_code) - 1];
        let invalid = || CmapParseError::Invalid {
            type_name,
            text: text.to_owned(),
        };
        let range = || CmapParseError::OutOfRange {
            type_name,
            text: text.to_owned(),
        };
        let signed = || text.trim().parse::<i64>().map_err(|_| invalid());
        let unsigned = || text.trim().parse::<u64>().map_err(|_| invalid());
        use cmap_value_type as t;
        Ok(match type_code {
            t::INT8 => Self::I8(signed()?.try_into().map_err(|_| range())?),
            t::INT16 => Self::I16(signed()?.try_into().map_err(|_| range())?),
            t::INT32 => Self::I32(signed()?.try_into().map_err(|_| range())?),
            t::INT64 => Self::I64(signed()?),
            t::UINT8 => Self::U8(unsigned()?.try_into().map_err(|_| range())?),
            t::UINT16 => Self::U16(unsigned()?.try_into().map_err(|_| range())?),
            t::UINT32 => Self::U32(unsigned()?.try_into().map_err(|_| range())?),
            t::UINT64 => Self::U64(unsigned()?),
            t::FLOAT => Self::Float(text.trim().parse().map_err(|_| invalid())?),
            t::DOUBLE => Self::Double(text.trim().parse().map_err(|_| invalid())?),
            t::STRING => Self::Str(text.as_bytes().to_vec()),
            _ => Self::Binary(text.as_bytes().to_vec()),
        })
    }

    /// Checks that the value fits [`CMAP_VALUE_MAX`].
    fn check_len(&self) -> Result<(), IpcEncodeError> {
        check_value_len(self.encoded_len())
    }
}

macro_rules! cmap_value_from {
    ($($ty:ty => $variant:ident),+ $(,)?) => {
        $(
            impl From<$ty> for CmapValue {
                fn from(v: $ty) -> Self {
                    Self::$variant(v)
                }
            }
        )+
    };
}

cmap_value_from!(
    i8 => I8, u8 => U8, i16 => I16, u16 => U16, i32 => I32, u32 => U32, i64 => I64,
    u64 => U64, f32 => Float, f64 => Double,
);

/// A string value (`CMAP_VALUETYPE_STRING`).
impl From<&str> for CmapValue {
    fn from(s: &str) -> Self {
        Self::Str(s.as_bytes().to_vec())
    }
}

/// A string value (`CMAP_VALUETYPE_STRING`).
impl From<String> for CmapValue {
    fn from(s: String) -> Self {
        Self::Str(s.into_bytes())
    }
}

/// Prints the value as corosync-cmapctl's `print_key` does after the key name: `(u32) =
/// 5000`, `(str) = udpu`, `(flt) = 1.500000` (C's `%f`), a string up to its first NUL.
/// Binary values print as with `cmapctl -b`: printable ASCII as is, `\` doubled, other
/// bytes as `\xHH` (cmapctl sign-extends bytes above 0x7f to `\xFFFFFF80`; this does not).
/// The alternate form `{:#}` prints a binary value as plain `cmapctl` does: `(bin)` alone.
impl fmt::Display for CmapValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({})", self.type_name())?;
        match self {
            Self::I8(v) => write!(f, " = {v}"),
            Self::U8(v) => write!(f, " = {v}"),
            Self::I16(v) => write!(f, " = {v}"),
            Self::U16(v) => write!(f, " = {v}"),
            Self::I32(v) => write!(f, " = {v}"),
            Self::U32(v) => write!(f, " = {v}"),
            Self::I64(v) => write!(f, " = {v}"),
            Self::U64(v) => write!(f, " = {v}"),
            Self::Float(v) => write!(f, " = {}", c_f64(f64::from(*v))),
            Self::Double(v) => write!(f, " = {}", c_f64(*v)),
            Self::Str(s) => {
                let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
                write!(f, " = {}", String::from_utf8_lossy(&s[..end]))
            }
            Self::Binary(_) if f.alternate() => Ok(()),
            Self::Binary(b) => {
                f.write_str(" = ")?;
                for &byte in b {
                    match byte {
                        b'\\' => f.write_str("\\\\")?,
                        b' '..=0x7e => write!(f, "{}", char::from(byte))?,
                        _ => write!(f, "\\x{byte:02X}")?,
                    }
                }
                Ok(())
            }
        }
    }
}

/// C's `%f`: six decimals; glibc spells the non-finite values `inf`, `-inf`, `nan`, `-nan`.
fn c_f64(v: f64) -> String {
    if v.is_nan() {
        if v.is_sign_negative() { "-nan" } else { "nan" }.to_owned()
    } else {
        format!("{v:.6}")
    }
}

/// Why text is not a value of a cmapctl type; the messages are cmapctl's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CmapParseError {
    /// Not one of `i8 u8 i16 u16 i32 u32 i64 u64 flt dbl str bin`.
    #[error("Unknown type {0}")]
    UnknownType(String),
    /// Not a number.
    #[error("{text} is not valid {type_name} type value")]
    Invalid {
        /// The type name.
        type_name: &'static str,
        /// The text.
        text: String,
    },
    /// A number outside the type's range.
    #[error("{text} is not valid {type_name} integer")]
    OutOfRange {
        /// The type name.
        type_name: &'static str,
        /// The text.
        text: String,
    },
}

/// A request from a cmap client (header ids in [`cmap_request_id`]).
#[derive(Clone, Debug, PartialEq)]
pub enum CmapRequest {
    /// `req_lib_cmap_set` (296 + value_len): `key_name` @16, `value_len` u64 @280, `type` u8
    /// @288, `value` @296.
    Set {
        /// The key.
        key: String,
        /// The new value.
        value: CmapValue,
    },
    /// `req_lib_cmap_delete` (280): `key_name` @16.
    Delete {
        /// The key.
        key: String,
    },
    /// `req_lib_cmap_get` (288): `key_name` @16, `value_len` u64 @280, the bytes the client
    /// can take (0: only the type and length).
    Get {
        /// The key.
        key: String,
        /// The client's buffer size.
        value_len: u64,
    },
    /// `req_lib_cmap_adjust_int` (288): `key_name` @16, `step` i32 @280.
    AdjustInt {
        /// The key.
        key: String,
        /// What to add (1 for `cmap_inc`, -1 for `cmap_dec`).
        step: i32,
    },
    /// `req_lib_cmap_iter_init` (280): `prefix` @16, empty for every key.
    IterInit {
        /// The prefix.
        prefix: String,
    },
    /// `req_lib_cmap_iter_next` (24): `iter_handle` u64 @16.
    IterNext {
        /// The iteration.
        iter_handle: u64,
    },
    /// `req_lib_cmap_iter_finalize` (24): `iter_handle` u64 @16.
    IterFinalize {
        /// The iteration.
        iter_handle: u64,
    },
    /// `req_lib_cmap_track_add` (296): `key_name` @16, `track_type` i32 @280
    /// ([`cmap_track`] bits), `track_inst_handle` u64 @288.
    TrackAdd {
        /// The key or prefix (empty with [`cmap_track::PREFIX`]: every key).
        key: String,
        /// What to track.
        track_type: i32,
        /// The client's cookie, echoed in each notification.
        track_inst_handle: u64,
    },
    /// `req_lib_cmap_track_delete` (24): `track_handle` u64 @16.
    TrackDelete {
        /// The daemon's handle from TRACK_ADD.
        track_handle: u64,
    },
    /// `req_lib_cmap_set_current_map` (24): `map` i32 @16 ([`cmap_map`]).
    SetCurrentMap {
        /// The map.
        map: i32,
    },
}

const REQ_KEY: usize = RequestHeader::LEN;
const NAME_LEN: usize = 264;
const REQ_AFTER_KEY: usize = REQ_KEY + NAME_LEN;
const SET_TYPE: usize = REQ_AFTER_KEY + 8;
const SET_VALUE: usize = REQ_AFTER_KEY + 16;
const TRACK_ADD_LEN: usize = REQ_AFTER_KEY + 16;
const REQ_HANDLE_LEN: usize = 24;

impl CmapRequest {
    /// Decodes exactly one request.
    pub fn decode(buf: &[u8]) -> Result<Self, IpcDecodeError> {
        use cmap_request_id as id;
        let v = View::open(buf, "cmap request", RequestHeader::LEN)?;
        Ok(match v.id()? {
            id::SET => {
                v.need(SET_VALUE)?;
                let len = value_len(&v, REQ_AFTER_KEY)?;
                v.exact(SET_VALUE + len)?;
                Self::Set {
                    key: decode_key(&v, REQ_KEY)?,
                    value: checked_value(v.u8(SET_TYPE)?, v.bytes(SET_VALUE, len)?)?,
                }
            }
            id::DELETE => {
                v.exact(REQ_AFTER_KEY)?;
                Self::Delete {
                    key: decode_key(&v, REQ_KEY)?,
                }
            }
            id::GET => {
                v.exact(REQ_AFTER_KEY + 8)?;
                Self::Get {
                    key: decode_key(&v, REQ_KEY)?,
                    value_len: v.u64(REQ_AFTER_KEY)?,
                }
            }
            id::ADJUST_INT => {
                v.exact(REQ_AFTER_KEY + 8)?;
                Self::AdjustInt {
                    key: decode_key(&v, REQ_KEY)?,
                    step: v.i32(REQ_AFTER_KEY)?,
                }
            }
            id::ITER_INIT => {
                v.exact(REQ_AFTER_KEY)?;
                Self::IterInit {
                    prefix: decode_key(&v, REQ_KEY)?,
                }
            }
            id::ITER_NEXT => {
                v.exact(REQ_HANDLE_LEN)?;
                Self::IterNext {
                    iter_handle: v.u64(REQ_KEY)?,
                }
            }
            id::ITER_FINALIZE => {
                v.exact(REQ_HANDLE_LEN)?;
                Self::IterFinalize {
                    iter_handle: v.u64(REQ_KEY)?,
                }
            }
            id::TRACK_ADD => {
                v.exact(TRACK_ADD_LEN)?;
                Self::TrackAdd {
                    key: decode_key(&v, REQ_KEY)?,
                    track_type: v.i32(REQ_AFTER_KEY)?,
                    track_inst_handle: v.u64(REQ_AFTER_KEY + 8)?,
                }
            }
            id::TRACK_DELETE => {
                v.exact(REQ_HANDLE_LEN)?;
                Self::TrackDelete {
                    track_handle: v.u64(REQ_KEY)?,
                }
            }
            id::SET_CURRENT_MAP => {
                v.exact(REQ_HANDLE_LEN)?;
                Self::SetCurrentMap {
                    map: v.i32(REQ_KEY)?,
                }
            }
            other => {
                return Err(IpcDecodeError::UnknownId {
                    what: "cmap request",
                    id: other,
                });
            }
        })
    }

    /// The header id.
    pub fn id(&self) -> i32 {
        use cmap_request_id as id;
        match self {
            Self::Set { .. } => id::SET,
            Self::Delete { .. } => id::DELETE,
            Self::Get { .. } => id::GET,
            Self::AdjustInt { .. } => id::ADJUST_INT,
            Self::IterInit { .. } => id::ITER_INIT,
            Self::IterNext { .. } => id::ITER_NEXT,
            Self::IterFinalize { .. } => id::ITER_FINALIZE,
            Self::TrackAdd { .. } => id::TRACK_ADD,
            Self::TrackDelete { .. } => id::TRACK_DELETE,
            Self::SetCurrentMap { .. } => id::SET_CURRENT_MAP,
        }
    }

    /// The id of the response the library waits for.
    pub fn response_id(&self) -> i32 {
        match self {
            Self::SetCurrentMap { .. } => cmap_response_id::SET_CURRENT_MAP,
            // Requests 0 to 8 are answered by the response of the same number.
            other => other.id(),
        }
    }

    /// The encoded length, also the header's `size`.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::Set { value, .. } => SET_VALUE + value.encoded_len(),
            Self::Delete { .. } | Self::IterInit { .. } => REQ_AFTER_KEY,
            Self::Get { .. } | Self::AdjustInt { .. } => REQ_AFTER_KEY + 8,
            Self::TrackAdd { .. } => TRACK_ADD_LEN,
            Self::IterNext { .. }
            | Self::IterFinalize { .. }
            | Self::TrackDelete { .. }
            | Self::SetCurrentMap { .. } => REQ_HANDLE_LEN,
        }
    }

    /// Appends the encoding to `out`; on `Err` (a key over [`CMAP_KEY_MAX`] bytes or with a
    /// NUL, a value over [`CMAP_VALUE_MAX`]) `out` is unchanged.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), IpcEncodeError> {
        match self {
            Self::Set { key, value } => {
                check_key(key)?;
                value.check_len()?;
            }
            Self::Delete { key }
            | Self::Get { key, .. }
            | Self::AdjustInt { key, .. }
            | Self::IterInit { prefix: key }
            | Self::TrackAdd { key, .. } => check_key(key)?,
            Self::IterNext { .. }
            | Self::IterFinalize { .. }
            | Self::TrackDelete { .. }
            | Self::SetCurrentMap { .. } => {}
        }
        let mut f = Frame::append(out, self.encoded_len());
        f.request_header(self.id());
        match self {
            Self::Set { key, value } => {
                encode_key(&mut f, REQ_KEY, key);
                f.u64(REQ_AFTER_KEY, value.encoded_len() as u64);
                f.u8(SET_TYPE, value.type_code());
                f.bytes(SET_VALUE, &value.encode_value());
            }
            Self::Delete { key } | Self::IterInit { prefix: key } => {
                encode_key(&mut f, REQ_KEY, key);
            }
            Self::Get { key, value_len } => {
                encode_key(&mut f, REQ_KEY, key);
                f.u64(REQ_AFTER_KEY, *value_len);
            }
            Self::AdjustInt { key, step } => {
                encode_key(&mut f, REQ_KEY, key);
                f.i32(REQ_AFTER_KEY, *step);
            }
            Self::TrackAdd {
                key,
                track_type,
                track_inst_handle,
            } => {
                encode_key(&mut f, REQ_KEY, key);
                f.i32(REQ_AFTER_KEY, *track_type);
                f.u64(REQ_AFTER_KEY + 8, *track_inst_handle);
            }
            Self::IterNext { iter_handle } | Self::IterFinalize { iter_handle } => {
                f.u64(REQ_KEY, *iter_handle);
            }
            Self::TrackDelete { track_handle } => f.u64(REQ_KEY, *track_handle),
            Self::SetCurrentMap { map } => f.i32(REQ_KEY, *map),
        }
        Ok(())
    }

    /// The encoding as a new buffer.
    pub fn to_vec(&self) -> Result<Vec<u8>, IpcEncodeError> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out)?;
        Ok(out)
    }
}

/// A response to a cmap request (header ids in [`cmap_response_id`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CmapResponse {
    /// A bare 24-byte response: SET's, DELETE's, ADJUST_INT's, ITER_FINALIZE's and
    /// SET_CURRENT_MAP's, or the dispatcher's generic reply (id 0, §2.1). Every 24-byte
    /// response decodes as this, whatever its id.
    Status {
        /// The response id.
        id: i32,
        /// The result.
        error: CsStatus,
    },
    /// `res_lib_cmap_get` (40 + the requested length): `value_len` u64 @24 (the value's
    /// real length), `type` u8 @32, the requested number of bytes @40, the value first.
    /// An error (`CS_ERR_NOT_EXIST`, a buffer too small) is the bare 40 bytes.
    Get {
        /// The result.
        error: CsStatus,
        /// The value's type code (0 in an error reply).
        value_type: u8,
        /// The value's length on the wire, even when `buffer` is shorter (a length query).
        value_len: u64,
        /// The bytes after the struct: as many as the request asked for.
        buffer: Vec<u8>,
    },
    /// `res_lib_cmap_iter_init` (32): `iter_handle` u64 @24.
    IterInit {
        /// The result.
        error: CsStatus,
        /// The new iteration.
        iter_handle: u64,
    },
    /// `res_lib_cmap_iter_next` (304): `key_name` @24, `value_len` u64 @288, `type` u8
    /// @296. The end of the iteration is `CS_ERR_NO_SECTIONS` with an empty key.
    IterNext {
        /// The result.
        error: CsStatus,
        /// The key.
        key: String,
        /// Its value's length on the wire.
        value_len: u64,
        /// Its value's type code.
        value_type: u8,
    },
    /// `res_lib_cmap_track_add` (32): `track_handle` u64 @24.
    TrackAdd {
        /// The result.
        error: CsStatus,
        /// The daemon's handle for the tracker.
        track_handle: u64,
    },
    /// `res_lib_cmap_track_delete` (32): `track_inst_handle` u64 @24, the client's cookie.
    TrackDelete {
        /// The result.
        error: CsStatus,
        /// The cookie TRACK_ADD gave.
        track_inst_handle: u64,
    },
}

const RES_BODY: usize = ResponseHeader::LEN;
const RES_ARG_LEN: usize = RES_BODY + 8;
const GET_TYPE: usize = 32;
const GET_VALUE: usize = 40;
const ITER_NEXT_LEN_OFF: usize = RES_BODY + NAME_LEN;
const ITER_NEXT_TYPE: usize = ITER_NEXT_LEN_OFF + 8;
const ITER_NEXT_LEN: usize = ITER_NEXT_TYPE + 8;

impl CmapResponse {
    /// corosync's answer to `GET key` with a `requested`-byte buffer, given the key's value
    /// (`exec/cmap.c` and `icmap_get`): no value is `CS_ERR_NOT_EXIST`; a request of 0 bytes
    /// gets the type and length only; a buffer too small for the value is
    /// `CS_ERR_INVALID_PARAM`; otherwise the value comes zero-padded to `requested` bytes.
    /// A buffer over [`CMAP_VALUE_MAX`] is refused with `CS_ERR_NO_MEMORY`, as corosync's
    /// allocation would be.
    pub fn get_reply(value: Option<&CmapValue>, requested: u64) -> Self {
        let error = |error| Self::Get {
            error,
            value_type: 0,
            value_len: 0,
            buffer: Vec::new(),
        };
        let Some(value) = value else {
            return error(CsStatus::ERR_NOT_EXIST);
        };
        let len = value.encoded_len();
        if requested == 0 {
            return Self::Get {
                error: CsStatus::OK,
                value_type: value.type_code(),
                value_len: len as u64,
                buffer: Vec::new(),
            };
        }
        let requested = match usize::try_from(requested) {
            Ok(n) if n <= CMAP_VALUE_MAX => n,
            _ => return error(CsStatus::ERR_NO_MEMORY),
        };
        if requested < len {
            return error(CsStatus::ERR_INVALID_PARAM);
        }
        let mut buffer = value.encode_value();
        buffer.resize(requested, 0);
        Self::Get {
            error: CsStatus::OK,
            value_type: value.type_code(),
            value_len: len as u64,
            buffer,
        }
    }

    /// The value a GET response carries whole: `None` for another response, an error
    /// status, or a buffer shorter than the value (a length query).
    pub fn get_value(&self) -> Option<Result<CmapValue, IpcDecodeError>> {
        let Self::Get {
            error: CsStatus::OK,
            value_type,
            value_len,
            buffer,
        } = self
        else {
            return None;
        };
        let len = usize::try_from(*value_len).ok()?;
        let bytes = buffer.get(..len)?;
        Some(CmapValue::decode_value(*value_type, bytes))
    }

    /// Decodes exactly one response.
    pub fn decode(buf: &[u8]) -> Result<Self, IpcDecodeError> {
        use cmap_response_id as id;
        let v = View::open(buf, "cmap response", ResponseHeader::LEN)?;
        let error = CsStatus(v.i32(16)?);
        let response_id = v.id()?;
        if !(id::SET..=id::SET_CURRENT_MAP).contains(&response_id)
            || response_id == cmap_event_id::NOTIFY_CALLBACK
        {
            return Err(IpcDecodeError::UnknownId {
                what: "cmap response",
                id: response_id,
            });
        }
        if buf.len() == RES_BODY {
            return Ok(Self::Status {
                id: response_id,
                error,
            });
        }
        Ok(match response_id {
            id::GET => {
                v.need(GET_VALUE)?;
                let requested = buf.len() - GET_VALUE;
                if requested > CMAP_VALUE_MAX {
                    return Err(too_large("cmap response", requested));
                }
                Self::Get {
                    error,
                    value_type: v.u8(GET_TYPE)?,
                    value_len: v.u64(RES_BODY)?,
                    buffer: v.bytes(GET_VALUE, requested)?.to_vec(),
                }
            }
            id::ITER_INIT => {
                v.exact(RES_ARG_LEN)?;
                Self::IterInit {
                    error,
                    iter_handle: v.u64(RES_BODY)?,
                }
            }
            id::ITER_NEXT => {
                v.exact(ITER_NEXT_LEN)?;
                Self::IterNext {
                    error,
                    key: decode_key(&v, RES_BODY)?,
                    value_len: v.u64(ITER_NEXT_LEN_OFF)?,
                    value_type: v.u8(ITER_NEXT_TYPE)?,
                }
            }
            id::TRACK_ADD => {
                v.exact(RES_ARG_LEN)?;
                Self::TrackAdd {
                    error,
                    track_handle: v.u64(RES_BODY)?,
                }
            }
            id::TRACK_DELETE => {
                v.exact(RES_ARG_LEN)?;
                Self::TrackDelete {
                    error,
                    track_inst_handle: v.u64(RES_BODY)?,
                }
            }
            // The other responses are header-only.
            _ => {
                return Err(IpcDecodeError::TrailingBytes {
                    what: "cmap response",
                    extra: buf.len() - RES_BODY,
                });
            }
        })
    }

    /// The header id.
    pub fn id(&self) -> i32 {
        use cmap_response_id as id;
        match self {
            Self::Status { id, .. } => *id,
            Self::Get { .. } => id::GET,
            Self::IterInit { .. } => id::ITER_INIT,
            Self::IterNext { .. } => id::ITER_NEXT,
            Self::TrackAdd { .. } => id::TRACK_ADD,
            Self::TrackDelete { .. } => id::TRACK_DELETE,
        }
    }

    /// The `cs_error_t` in the header.
    pub fn error(&self) -> CsStatus {
        match self {
            Self::Status { error, .. }
            | Self::Get { error, .. }
            | Self::IterInit { error, .. }
            | Self::IterNext { error, .. }
            | Self::TrackAdd { error, .. }
            | Self::TrackDelete { error, .. } => *error,
        }
    }

    /// The encoded length, also the header's `size`.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::Status { .. } => RES_BODY,
            Self::Get { buffer, .. } => GET_VALUE + buffer.len(),
            Self::IterInit { .. } | Self::TrackAdd { .. } | Self::TrackDelete { .. } => RES_ARG_LEN,
            Self::IterNext { .. } => ITER_NEXT_LEN,
        }
    }

    /// Appends the encoding to `out`; on `Err` (a key over [`CMAP_KEY_MAX`] bytes or with a
    /// NUL, a GET buffer over [`CMAP_VALUE_MAX`]) `out` is unchanged.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), IpcEncodeError> {
        match self {
            Self::Get { buffer, .. } => check_value_len(buffer.len())?,
            Self::IterNext { key, .. } => check_key(key)?,
            _ => {}
        }
        let mut f = Frame::append(out, self.encoded_len());
        f.response_header(self.id(), self.error());
        match self {
            Self::Status { .. } => {}
            Self::Get {
                value_type,
                value_len,
                buffer,
                ..
            } => {
                f.u64(RES_BODY, *value_len);
                f.u8(GET_TYPE, *value_type);
                f.bytes(GET_VALUE, buffer);
            }
            Self::IterInit {
                iter_handle: handle,
                ..
            }
            | Self::TrackAdd {
                track_handle: handle,
                ..
            }
            | Self::TrackDelete {
                track_inst_handle: handle,
                ..
            } => f.u64(RES_BODY, *handle),
            Self::IterNext {
                key,
                value_len,
                value_type,
                ..
            } => {
                encode_key(&mut f, RES_BODY, key);
                f.u64(ITER_NEXT_LEN_OFF, *value_len);
                f.u8(ITER_NEXT_TYPE, *value_type);
            }
        }
        Ok(())
    }

    /// The encoding as a new buffer.
    pub fn to_vec(&self) -> Result<Vec<u8>, IpcEncodeError> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out)?;
        Ok(out)
    }
}

/// An event on the cmap event channel (header ids in [`cmap_event_id`]).
#[derive(Clone, Debug, PartialEq)]
pub enum CmapEvent {
    /// `res_lib_cmap_notify_callback` (336 + new + old): `track_inst_handle` u64 @24,
    /// `key_name` @32, `event` i32 @296, `new_value_type` u8 @304, `old_value_type` u8 @312,
    /// `new_value_len` u64 @320, `old_value_len` u64 @328, then the new value's bytes @336
    /// immediately followed by the old value's. A missing value (no new value after a
    /// delete, no old one after an add) is type 0 and length 0.
    Notify {
        /// The client's cookie from TRACK_ADD.
        track_inst_handle: u64,
        /// The key that changed.
        key: String,
        /// What happened: one of [`cmap_track`]'s ADD, DELETE, MODIFY.
        event: i32,
        /// The value after the change.
        new: Option<CmapValue>,
        /// The value before the change.
        old: Option<CmapValue>,
    },
}

const NOTIFY_KEY: usize = 32;
const NOTIFY_EVENT: usize = NOTIFY_KEY + NAME_LEN;
const NOTIFY_NEW_TYPE: usize = 304;
const NOTIFY_OLD_TYPE: usize = 312;
const NOTIFY_NEW_LEN: usize = 320;
const NOTIFY_OLD_LEN: usize = 328;
const NOTIFY_VALUES: usize = 336;

impl CmapEvent {
    /// Decodes exactly one event. The header's `error` is not read (corosync sends `CS_OK`).
    pub fn decode(buf: &[u8]) -> Result<Self, IpcDecodeError> {
        let v = View::open(buf, "cmap event", ResponseHeader::LEN)?;
        match v.id()? {
            cmap_event_id::NOTIFY_CALLBACK => {
                v.need(NOTIFY_VALUES)?;
                let new_len = value_len(&v, NOTIFY_NEW_LEN)?;
                let old_len = value_len(&v, NOTIFY_OLD_LEN)?;
                v.exact(NOTIFY_VALUES + new_len + old_len)?;
                let new_type = v.u8(NOTIFY_NEW_TYPE)?;
                let old_type = v.u8(NOTIFY_OLD_TYPE)?;
                Ok(Self::Notify {
                    track_inst_handle: v.u64(RES_BODY)?,
                    key: decode_key(&v, NOTIFY_KEY)?,
                    event: v.i32(NOTIFY_EVENT)?,
                    new: optional_value(new_type, v.bytes(NOTIFY_VALUES, new_len)?)?,
                    old: optional_value(old_type, v.bytes(NOTIFY_VALUES + new_len, old_len)?)?,
                })
            }
            other => Err(IpcDecodeError::UnknownId {
                what: "cmap event",
                id: other,
            }),
        }
    }

    /// The header id.
    pub fn id(&self) -> i32 {
        cmap_event_id::NOTIFY_CALLBACK
    }

    /// The encoded length, also the header's `size`.
    pub fn encoded_len(&self) -> usize {
        let Self::Notify { new, old, .. } = self;
        let len = |v: &Option<CmapValue>| v.as_ref().map_or(0, CmapValue::encoded_len);
        NOTIFY_VALUES + len(new) + len(old)
    }

    /// Appends the encoding to `out`; on `Err` (a key over [`CMAP_KEY_MAX`] bytes or with a
    /// NUL, a value over [`CMAP_VALUE_MAX`]) `out` is unchanged.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), IpcEncodeError> {
        let Self::Notify {
            track_inst_handle,
            key,
            event,
            new,
            old,
        } = self;
        check_key(key)?;
        for value in [new, old].into_iter().flatten() {
            value.check_len()?;
        }
        let mut f = Frame::append(out, self.encoded_len());
        f.response_header(self.id(), CsStatus::OK);
        f.u64(RES_BODY, *track_inst_handle);
        encode_key(&mut f, NOTIFY_KEY, key);
        f.i32(NOTIFY_EVENT, *event);
        let new = new.as_ref().map(|v| (v.type_code(), v.encode_value()));
        let old = old.as_ref().map(|v| (v.type_code(), v.encode_value()));
        let (new_type, new) = new.unwrap_or_default();
        let (old_type, old) = old.unwrap_or_default();
        f.u8(NOTIFY_NEW_TYPE, new_type);
        f.u8(NOTIFY_OLD_TYPE, old_type);
        f.u64(NOTIFY_NEW_LEN, new.len() as u64);
        f.u64(NOTIFY_OLD_LEN, old.len() as u64);
        f.bytes(NOTIFY_VALUES, &new);
        f.bytes(NOTIFY_VALUES + new.len(), &old);
        Ok(())
    }

    /// The encoding as a new buffer.
    pub fn to_vec(&self) -> Result<Vec<u8>, IpcEncodeError> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out)?;
        Ok(out)
    }
}

/// A notification's value: type 0 with no bytes is "none".
fn optional_value(type_code: u8, bytes: &[u8]) -> Result<Option<CmapValue>, IpcDecodeError> {
    if type_code == 0 && bytes.is_empty() {
        return Ok(None);
    }
    checked_value(type_code, bytes).map(Some)
}

/// A decoded value that also re-encodes: a string sent without its NUL grows by one byte.
fn checked_value(type_code: u8, bytes: &[u8]) -> Result<CmapValue, IpcDecodeError> {
    let value = CmapValue::decode_value(type_code, bytes)?;
    if value.encoded_len() > CMAP_VALUE_MAX {
        return Err(too_large("cmap value", value.encoded_len()));
    }
    Ok(value)
}

/// A u64 value length at `off`, at most [`CMAP_VALUE_MAX`].
fn value_len(v: &View<'_>, off: usize) -> Result<usize, IpcDecodeError> {
    let len = v.u64(off)?;
    match usize::try_from(len) {
        Ok(n) if n <= CMAP_VALUE_MAX => Ok(n),
        _ => Err(too_large(
            v.what,
            usize::try_from(len).unwrap_or(usize::MAX),
        )),
    }
}

fn too_large(what: &'static str, len: usize) -> IpcDecodeError {
    IpcDecodeError::PayloadTooLarge {
        what,
        len: u32::try_from(len).unwrap_or(u32::MAX),
        max: CMAP_VALUE_MAX,
    }
}

fn check_value_len(len: usize) -> Result<(), IpcEncodeError> {
    if len > CMAP_VALUE_MAX {
        return Err(IpcEncodeError::PayloadTooLarge {
            len,
            max: CMAP_VALUE_MAX,
        });
    }
    Ok(())
}

/// A `mar_name_t` key at `off`: `length` u16, then `length` bytes @off+8 of NUL-free UTF-8.
fn decode_key(v: &View<'_>, off: usize) -> Result<String, IpcDecodeError> {
    const WHAT: &str = "cmap key";
    let len = usize::from(v.u16(off)?);
    if len > CMAP_KEY_MAX {
        return Err(IpcDecodeError::StringTooLong {
            what: WHAT,
            len,
            max: CMAP_KEY_MAX,
        });
    }
    let bytes = v.bytes(off + 8, len)?;
    match std::str::from_utf8(bytes) {
        Ok(key) if !bytes.contains(&0) => Ok(key.to_owned()),
        _ => Err(IpcDecodeError::BadText { what: WHAT }),
    }
}

fn check_key(key: &str) -> Result<(), IpcEncodeError> {
    if key.len() > CMAP_KEY_MAX || key.as_bytes().contains(&0) {
        return Err(IpcEncodeError::BadString {
            len: key.len(),
            max: CMAP_KEY_MAX,
        });
    }
    Ok(())
}

/// Writes a checked key; the rest of `value[256]` stays zero, so the key is NUL-terminated.
fn encode_key(f: &mut Frame<'_>, off: usize, key: &str) {
    f.u16(off, key.len() as u16);
    f.bytes(off + 8, key.as_bytes());
}

#[cfg(test)]
pub(super) mod tests;
