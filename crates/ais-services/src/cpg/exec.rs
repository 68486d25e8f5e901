//! CPG's messages on the ring (corosync's `req_exec_cpg_*`, in our own compact layout).
//!
//! Application messages (body of an application envelope), little-endian:
//! - `1` PROCJOIN: group, `pid` u32.
//! - `2` PROCLEAVE: group, `pid` u32, `reason` u8 (a [`CpgReason`]).
//! - `3` MCAST: group, `pid` u32, then the payload to the end.
//! - `4` PARTIAL_MCAST: group, `pid` u32, `msglen` u32, `kind` u8 (1 first, 2 continued,
//!   3 last), then the fragment to the end.
//!
//! Sync message (body of a sync envelope): `1` JOINLIST: `count` u32, then `count` entries of
//! group, `pid` u32: the processes of the sender's node that are members of a group.
//!
//! A group is `len` u8 then `len` (at most 128) bytes. The sender's node is the message's
//! origin, which Totem authenticated, so it is never carried.

use ais_wire::ipc::{CpgName, CpgReason, FragmentKind};
use bytes::{BufMut, Bytes};

/// A decoded application message. Payloads share the delivered buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CpgMessage {
    ProcJoin {
        group: CpgName,
        pid: u32,
    },
    ProcLeave {
        group: CpgName,
        pid: u32,
        reason: CpgReason,
    },
    Mcast {
        group: CpgName,
        pid: u32,
        payload: Bytes,
    },
    PartialMcast {
        group: CpgName,
        pid: u32,
        msglen: u32,
        kind: FragmentKind,
        data: Bytes,
    },
}

/// Why bytes from the ring are not a CPG message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Malformed;

const PROC_JOIN: u8 = 1;
const PROC_LEAVE: u8 = 2;
const MCAST: u8 = 3;
const PARTIAL_MCAST: u8 = 4;
const JOINLIST: u8 = 1;

impl CpgMessage {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Self::ProcJoin { group, pid } => {
                out.put_u8(PROC_JOIN);
                put_group(&mut out, group);
                out.put_u32_le(*pid);
            }
            Self::ProcLeave { group, pid, reason } => {
                out.put_u8(PROC_LEAVE);
                put_group(&mut out, group);
                out.put_u32_le(*pid);
                out.put_u8(*reason as u8);
            }
            Self::Mcast {
                group,
                pid,
                payload,
            } => {
                out.reserve(6 + group.as_bytes().len() + payload.len());
                out.put_u8(MCAST);
                put_group(&mut out, group);
                out.put_u32_le(*pid);
                out.put_slice(payload);
            }
            Self::PartialMcast {
                group,
                pid,
                msglen,
                kind,
                data,
            } => {
                out.reserve(11 + group.as_bytes().len() + data.len());
                out.put_u8(PARTIAL_MCAST);
                put_group(&mut out, group);
                out.put_u32_le(*pid);
                out.put_u32_le(*msglen);
                out.put_u8(fragment_kind_to_wire(*kind));
                out.put_slice(data);
            }
        }
        out
    }

    pub(crate) fn decode(body: &Bytes) -> Result<Self, Malformed> {
        let mut r = Cursor { buf: body, pos: 0 };
        Ok(match r.u8()? {
            PROC_JOIN => {
                let group = r.group()?;
                let pid = r.u32()?;
                r.end()?;
                Self::ProcJoin { group, pid }
            }
            PROC_LEAVE => {
                let group = r.group()?;
                let pid = r.u32()?;
                let reason = match r.u8()? {
                    2 => CpgReason::Leave,
                    5 => CpgReason::ProcDown,
                    _ => return Err(Malformed),
                };
                r.end()?;
                Self::ProcLeave { group, pid, reason }
            }
            MCAST => {
                let group = r.group()?;
                let pid = r.u32()?;
                Self::Mcast {
                    group,
                    pid,
                    payload: r.rest(),
                }
            }
            PARTIAL_MCAST => {
                let group = r.group()?;
                let pid = r.u32()?;
                let msglen = r.u32()?;
                let kind = match r.u8()? {
                    1 => FragmentKind::First,
                    2 => FragmentKind::Continued,
                    3 => FragmentKind::Last,
                    _ => return Err(Malformed),
                };
                Self::PartialMcast {
                    group,
                    pid,
                    msglen,
                    kind,
                    data: r.rest(),
                }
            }
            _ => return Err(Malformed),
        })
    }
}

fn fragment_kind_to_wire(kind: FragmentKind) -> u8 {
    match kind {
        FragmentKind::First => 1,
        FragmentKind::Continued => 2,
        FragmentKind::Last => 3,
    }
}

/// The most joinlist entries one sync message carries (each at most 133 bytes), so that a
/// node with very many joined processes stays under Totem's message limit.
pub(crate) const JOINLIST_CHUNK: usize = 4096;

pub(crate) fn encode_joinlist(entries: &[(CpgName, u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.put_u8(JOINLIST);
    out.put_u32_le(entries.len() as u32);
    for (group, pid) in entries {
        put_group(&mut out, group);
        out.put_u32_le(*pid);
    }
    out
}

pub(crate) fn decode_joinlist(body: &Bytes) -> Result<Vec<(CpgName, u32)>, Malformed> {
    let mut r = Cursor { buf: body, pos: 0 };
    if r.u8()? != JOINLIST {
        return Err(Malformed);
    }
    let count = r.u32()? as usize;
    // Each entry takes at least 5 bytes: a count beyond that is a lie, not an allocation.
    if count > body.len() / 5 {
        return Err(Malformed);
    }
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let group = r.group()?;
        let pid = r.u32()?;
        entries.push((group, pid));
    }
    r.end()?;
    Ok(entries)
}

fn put_group(out: &mut Vec<u8>, group: &CpgName) {
    let name = group.as_bytes();
    // CpgName holds at most 128 bytes.
    out.put_u8(name.len() as u8);
    out.put_slice(name);
}

struct Cursor<'a> {
    buf: &'a Bytes,
    pos: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Malformed> {
        let end = self.pos.checked_add(n).ok_or(Malformed)?;
        let s = self.buf.get(self.pos..end).ok_or(Malformed)?;
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, Malformed> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn group(&mut self) -> Result<CpgName, Malformed> {
        let len = self.u8()? as usize;
        let name = self.take(len)?.to_vec();
        CpgName::new(name).map_err(|_| Malformed)
    }

    fn rest(&mut self) -> Bytes {
        let rest = self.buf.slice(self.pos..);
        self.pos = self.buf.len();
        rest
    }

    fn end(&self) -> Result<(), Malformed> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(Malformed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn group() -> impl Strategy<Value = CpgName> {
        proptest::collection::vec(any::<u8>(), 0..=128).prop_map(|v| CpgName::new(v).unwrap())
    }

    fn message() -> impl Strategy<Value = CpgMessage> {
        prop_oneof![
            (group(), any::<u32>()).prop_map(|(group, pid)| CpgMessage::ProcJoin { group, pid }),
            (
                group(),
                any::<u32>(),
                prop_oneof![Just(CpgReason::Leave), Just(CpgReason::ProcDown)]
            )
                .prop_map(|(group, pid, reason)| CpgMessage::ProcLeave {
                    group,
                    pid,
                    reason
                }),
            (
                group(),
                any::<u32>(),
                proptest::collection::vec(any::<u8>(), 0..300)
            )
                .prop_map(|(group, pid, p)| CpgMessage::Mcast {
                    group,
                    pid,
                    payload: Bytes::from(p)
                }),
            (
                group(),
                any::<u32>(),
                any::<u32>(),
                prop_oneof![
                    Just(FragmentKind::First),
                    Just(FragmentKind::Continued),
                    Just(FragmentKind::Last)
                ],
                proptest::collection::vec(any::<u8>(), 0..300)
            )
                .prop_map(|(group, pid, msglen, kind, d)| CpgMessage::PartialMcast {
                    group,
                    pid,
                    msglen,
                    kind,
                    data: Bytes::from(d)
                }),
        ]
    }

    proptest! {
        #[test]
        fn messages_round_trip(m in message()) {
            let bytes = Bytes::from(m.encode());
            prop_assert_eq!(CpgMessage::decode(&bytes), Ok(m));
        }

        #[test]
        fn joinlists_round_trip(entries in proptest::collection::vec((group(), any::<u32>()), 0..20)) {
            let bytes = Bytes::from(encode_joinlist(&entries));
            prop_assert_eq!(decode_joinlist(&bytes), Ok(entries));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let bytes = Bytes::from(bytes);
            let _ = CpgMessage::decode(&bytes);
            let _ = decode_joinlist(&bytes);
        }
    }

    #[test]
    fn truncated_messages_are_rejected() {
        let m = CpgMessage::ProcLeave {
            group: CpgName::new(b"g".to_vec()).unwrap(),
            pid: 7,
            reason: CpgReason::Leave,
        };
        let full = m.encode();
        for cut in 0..full.len() {
            assert_eq!(
                CpgMessage::decode(&Bytes::copy_from_slice(&full[..cut])),
                Err(Malformed),
                "cut at {cut}"
            );
        }
    }
}
