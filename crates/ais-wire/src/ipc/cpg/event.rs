//! CPG events, daemon to client, for its dispatch loop: `res_lib_cpg_*_callback`.

use super::*;

/// `res_lib_cpg_confchg_callback`: a group's membership changed. Sent to every member of
/// the group, including the joiner or leaver.
///
/// Layout: `group_name` @24, `member_list_entries` @160, `joined_list_entries` @168,
/// `left_list_entries` @176, then one array of `mar_cpg_address_t` @184 in the order
/// members, left, joined (not the order of the count fields). Size 184 + 24 × (m + l + j).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfchgEvent {
    /// The group.
    pub group: CpgName,
    /// Its members after the change.
    pub members: MemberList<CpgAddress>,
    /// Processes that left, with the reason.
    pub left: MemberList<CpgAddress>,
    /// Processes that joined, with the reason.
    pub joined: MemberList<CpgAddress>,
}

/// `res_lib_cpg_deliver_callback`: a message for a joined group, delivered to all members
/// including the sender, in agreed order. Layout: `group_name` @24, `msglen` @160, `nodeid`
/// @168, `pid` @176, `message` @184; size 184 + msglen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliverEvent {
    /// The group.
    pub group: CpgName,
    /// The sender's node.
    pub nodeid: NodeId,
    /// The sender's pid.
    pub pid: u32,
    /// The message.
    pub payload: CpgPayload,
}

/// `res_lib_cpg_partial_deliver_callback`: a fragment; the library reassembles by (nodeid,
/// pid). Layout: `group_name` @24, `msglen` @160, `fraglen` @168, `nodeid` @176, `pid` @184,
/// `type` @192, `message` @200; size 200 + fraglen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartialDeliverEvent {
    /// The group.
    pub group: CpgName,
    /// The sender's node.
    pub nodeid: NodeId,
    /// The sender's pid.
    pub pid: u32,
    /// The fragment.
    pub fragment: PartialFragment,
}

/// `res_lib_cpg_totem_confchg_callback`: the ring's membership changed. Sent to every CPG
/// connection, and once after JOIN with [`CpgRequest::JOIN_DELIVER_INITIAL_TOTEM_CONF`].
/// Layout: `ring_id` {nodeid u32 @24, seq u64 @32}, `member_list_entries` @40,
/// `member_list` u32[] @44; size 48 + 4n, i.e. `sizeof` (48) plus the array although the
/// array starts at 44, leaving 4 zero bytes at the end (§2.1 says to reproduce both).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TotemConfchgEvent {
    /// The new ring (`mar_cpg_ring_id_t`: representative and sequence number).
    pub ring_id: RingId,
    /// Its members.
    pub members: MemberList<NodeId>,
}

/// An event on the CPG event channel (header ids in [`cpg_event_id`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CpgEvent {
    /// A group's membership changed.
    Confchg(ConfchgEvent),
    /// A message.
    Deliver(DeliverEvent),
    /// A fragment of a large message.
    PartialDeliver(PartialDeliverEvent),
    /// The ring's membership changed.
    TotemConfchg(TotemConfchgEvent),
}

const EV_GROUP: usize = ResponseHeader::LEN;
const EV_AFTER_GROUP: usize = EV_GROUP + CpgName::LEN;
const CONFCHG_LIST: usize = EV_AFTER_GROUP + 24;
pub(super) const DELIVER_DATA: usize = EV_AFTER_GROUP + 24;
pub(super) const PARTIAL_DELIVER_DATA: usize = EV_AFTER_GROUP + 40;
const TOTEM_CONFCHG_LIST: usize = 44;
const TOTEM_CONFCHG_SIZEOF: usize = 48;

impl CpgEvent {
    /// Decodes exactly one event. The header's `error` is not read: corosync leaves it
    /// uninitialised in DELIVER (§2.1); we send `CS_OK`.
    pub fn decode(buf: &[u8]) -> Result<Self, IpcDecodeError> {
        use cpg_event_id as id;
        let v = View::open(buf, "cpg event", ResponseHeader::LEN)?;
        Ok(match v.id()? {
            id::CONFCHG => {
                v.need(CONFCHG_LIST)?;
                let group = CpgName::decode(&v, EV_GROUP)?;
                let m = list_count(&v, EV_AFTER_GROUP, "cpg confchg members")?;
                let j = list_count(&v, EV_AFTER_GROUP + 8, "cpg confchg joined")?;
                let l = list_count(&v, EV_AFTER_GROUP + 16, "cpg confchg left")?;
                v.exact(CONFCHG_LIST + (m + l + j) * CpgAddress::LEN)?;
                let left_at = CONFCHG_LIST + m * CpgAddress::LEN;
                let joined_at = left_at + l * CpgAddress::LEN;
                Self::Confchg(ConfchgEvent {
                    group,
                    members: decode_list(&v, CONFCHG_LIST, m)?,
                    left: decode_list(&v, left_at, l)?,
                    joined: decode_list(&v, joined_at, j)?,
                })
            }
            id::DELIVER => {
                v.need(DELIVER_DATA)?;
                Self::Deliver(DeliverEvent {
                    group: CpgName::decode(&v, EV_GROUP)?,
                    nodeid: NodeId(v.u32(EV_AFTER_GROUP + 8)?),
                    pid: v.u32(EV_AFTER_GROUP + 16)?,
                    payload: CpgPayload::decode(&v, EV_AFTER_GROUP, DELIVER_DATA)?,
                })
            }
            id::PARTIAL_DELIVER => {
                v.need(PARTIAL_DELIVER_DATA)?;
                Self::PartialDeliver(PartialDeliverEvent {
                    group: CpgName::decode(&v, EV_GROUP)?,
                    nodeid: NodeId(v.u32(EV_AFTER_GROUP + 16)?),
                    pid: v.u32(EV_AFTER_GROUP + 24)?,
                    fragment: PartialFragment::decode(
                        &v,
                        EV_AFTER_GROUP,
                        EV_AFTER_GROUP + 32,
                        PARTIAL_DELIVER_DATA,
                    )?,
                })
            }
            id::TOTEM_CONFCHG => {
                v.need(TOTEM_CONFCHG_SIZEOF)?;
                let n = list_count(&v, 40, "cpg totem confchg members")?;
                v.exact(TOTEM_CONFCHG_SIZEOF + n * 4)?;
                Self::TotemConfchg(TotemConfchgEvent {
                    ring_id: RingId::new(NodeId(v.u32(24)?), v.u64(32)?),
                    members: decode_list(&v, TOTEM_CONFCHG_LIST, n)?,
                })
            }
            other => {
                return Err(IpcDecodeError::UnknownId {
                    what: "cpg event",
                    id: other,
                });
            }
        })
    }

    /// The header id.
    pub fn id(&self) -> i32 {
        use cpg_event_id as id;
        match self {
            Self::Confchg(_) => id::CONFCHG,
            Self::Deliver(_) => id::DELIVER,
            Self::PartialDeliver(_) => id::PARTIAL_DELIVER,
            Self::TotemConfchg(_) => id::TOTEM_CONFCHG,
        }
    }

    /// The encoded length, also the header's `size`.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::Confchg(c) => {
                CONFCHG_LIST + (c.members.len() + c.left.len() + c.joined.len()) * CpgAddress::LEN
            }
            Self::Deliver(d) => DELIVER_DATA + d.payload.0.len(),
            Self::PartialDeliver(p) => PARTIAL_DELIVER_DATA + p.fragment.data.len(),
            Self::TotemConfchg(t) => TOTEM_CONFCHG_SIZEOF + t.members.len() * 4,
        }
    }

    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut f = Frame::append(out, self.encoded_len());
        f.response_header(self.id(), CsStatus::OK);
        match self {
            Self::Confchg(c) => {
                c.group.encode(&mut f, EV_GROUP);
                f.u32(EV_AFTER_GROUP, c.members.len() as u32);
                f.u32(EV_AFTER_GROUP + 8, c.joined.len() as u32);
                f.u32(EV_AFTER_GROUP + 16, c.left.len() as u32);
                let left_at = encode_list(&c.members, &mut f, CONFCHG_LIST);
                let joined_at = encode_list(&c.left, &mut f, left_at);
                encode_list(&c.joined, &mut f, joined_at);
            }
            Self::Deliver(d) => {
                d.group.encode(&mut f, EV_GROUP);
                f.u32(EV_AFTER_GROUP, d.payload.0.len() as u32);
                f.u32(EV_AFTER_GROUP + 8, d.nodeid.0);
                f.u32(EV_AFTER_GROUP + 16, d.pid);
                f.bytes(DELIVER_DATA, &d.payload.0);
            }
            Self::PartialDeliver(p) => {
                p.group.encode(&mut f, EV_GROUP);
                f.u32(EV_AFTER_GROUP + 16, p.nodeid.0);
                f.u32(EV_AFTER_GROUP + 24, p.pid);
                p.fragment.encode(
                    &mut f,
                    EV_AFTER_GROUP,
                    EV_AFTER_GROUP + 32,
                    PARTIAL_DELIVER_DATA,
                );
            }
            Self::TotemConfchg(t) => {
                f.u32(24, t.ring_id.rep.0);
                f.u64(32, t.ring_id.seq);
                f.u32(40, t.members.len() as u32);
                encode_list(&t.members, &mut f, TOTEM_CONFCHG_LIST);
            }
        }
    }

    /// The encoding as a new buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }
}
