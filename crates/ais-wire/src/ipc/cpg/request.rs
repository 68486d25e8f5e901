//! CPG requests, client to daemon: `req_lib_cpg_*`.

use super::*;

/// A request from a CPG client (header ids in [`cpg_request_id`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CpgRequest {
    /// `req_lib_cpg_join` (168): `group_name` @16, `pid` u32 @152, `flags` u32 @160.
    Join {
        /// The group.
        group: CpgName,
        /// The joining process.
        pid: u32,
        /// `cpg_model_v1` flags; [`CpgRequest::JOIN_DELIVER_INITIAL_TOTEM_CONF`] is the one.
        flags: u32,
    },
    /// `req_lib_cpg_leave` (160): `group_name` @16, `pid` u32 @152.
    Leave {
        /// The group.
        group: CpgName,
        /// The leaving process.
        pid: u32,
    },
    /// `req_lib_cpg_mcast` (40 + msglen): 24-byte header, `guarantee` @24, `msglen` @32,
    /// `message` @40. Never answered (§2.1).
    Mcast {
        /// The requested ordering (ignored by corosync).
        guarantee: Guarantee,
        /// The message.
        payload: CpgPayload,
    },
    /// `req_lib_cpg_partial_mcast` (56 + fraglen): 24-byte header, `guarantee` @24,
    /// `msglen` @32, `fraglen` @40, `type` @48, `message` @56. Answered with PARTIAL_SEND.
    PartialMcast {
        /// The requested ordering (ignored by corosync).
        guarantee: Guarantee,
        /// The fragment.
        fragment: PartialFragment,
    },
    /// `req_lib_cpg_membership_get` (152): `group_name` @16.
    MembershipGet {
        /// The group.
        group: CpgName,
    },
    /// `req_lib_cpg_local_get` (16): header only.
    LocalGet,
    /// `req_lib_cpg_iterationinitialize` (160): `group_name` @16, `iteration_type` @152.
    IterationInitialize {
        /// The group for `OneGroup`; empty for the others, whose `group_name` libcpg leaves
        /// uninitialized (stack bytes), so it is neither read nor checked.
        group: CpgName,
        /// What to walk.
        iteration_type: IterationType,
    },
    /// `req_lib_cpg_iterationnext` (24): `iteration_handle` u64 @16.
    IterationNext {
        /// The iteration.
        handle: IterationHandle,
    },
    /// `req_lib_cpg_iterationfinalize` (24): `iteration_handle` u64 @16.
    IterationFinalize {
        /// The iteration.
        handle: IterationHandle,
    },
    /// `req_lib_cpg_finalize` (16): header only.
    Finalize,
}

/// Offsets shared by requests that start with a group name.
const REQ_GROUP: usize = 16;
const REQ_AFTER_GROUP: usize = REQ_GROUP + CpgName::LEN;
/// MCAST and PARTIAL_MCAST: `guarantee` @24, `msglen` @32.
const MCAST_GUARANTEE: usize = 24;
const MCAST_MSGLEN: usize = 32;
const MCAST_DATA: usize = 40;
const PARTIAL_MCAST_TYPE: usize = 48;
const PARTIAL_MCAST_DATA: usize = 56;

impl CpgRequest {
    /// `CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF`: send a TOTEM_CONFCHG right after JOIN.
    pub const JOIN_DELIVER_INITIAL_TOTEM_CONF: u32 = 1;

    /// Decodes exactly one request.
    pub fn decode(buf: &[u8]) -> Result<Self, IpcDecodeError> {
        use cpg_request_id as id;
        let v = View::open(buf, "cpg request", RequestHeader::LEN)?;
        Ok(match v.id()? {
            id::JOIN => {
                v.exact(REQ_AFTER_GROUP + 16)?;
                let group = CpgName::decode(&v, REQ_GROUP)?;
                Self::Join {
                    group,
                    pid: v.u32(REQ_AFTER_GROUP)?,
                    flags: v.u32(REQ_AFTER_GROUP + 8)?,
                }
            }
            id::LEAVE => {
                v.exact(REQ_AFTER_GROUP + 8)?;
                Self::Leave {
                    group: CpgName::decode(&v, REQ_GROUP)?,
                    pid: v.u32(REQ_AFTER_GROUP)?,
                }
            }
            id::MCAST => {
                v.need(MCAST_DATA)?;
                Self::Mcast {
                    guarantee: Guarantee(v.u32(MCAST_GUARANTEE)?),
                    payload: CpgPayload::decode(&v, MCAST_MSGLEN, MCAST_DATA)?,
                }
            }
            id::PARTIAL_MCAST => {
                v.need(PARTIAL_MCAST_DATA)?;
                Self::PartialMcast {
                    guarantee: Guarantee(v.u32(MCAST_GUARANTEE)?),
                    fragment: PartialFragment::decode(
                        &v,
                        MCAST_MSGLEN,
                        PARTIAL_MCAST_TYPE,
                        PARTIAL_MCAST_DATA,
                    )?,
                }
            }
            id::MEMBERSHIP => {
                v.exact(REQ_AFTER_GROUP)?;
                Self::MembershipGet {
                    group: CpgName::decode(&v, REQ_GROUP)?,
                }
            }
            id::LOCAL_GET => {
                v.exact(RequestHeader::LEN)?;
                Self::LocalGet
            }
            id::ITERATION_INITIALIZE => {
                v.exact(REQ_AFTER_GROUP + 8)?;
                let iteration_type = match v.u32(REQ_AFTER_GROUP)? {
                    1 => IterationType::NameOnly,
                    2 => IterationType::OneGroup,
                    3 => IterationType::All,
                    t => {
                        return Err(IpcDecodeError::InvalidValue {
                            what: "cpg iteration type",
                            value: t.into(),
                        });
                    }
                };
                let group = match iteration_type {
                    IterationType::OneGroup => CpgName::decode(&v, REQ_GROUP)?,
                    IterationType::NameOnly | IterationType::All => CpgName::default(),
                };
                Self::IterationInitialize {
                    group,
                    iteration_type,
                }
            }
            id::ITERATION_NEXT => {
                v.exact(24)?;
                Self::IterationNext {
                    handle: IterationHandle(v.u64(16)?),
                }
            }
            id::ITERATION_FINALIZE => {
                v.exact(24)?;
                Self::IterationFinalize {
                    handle: IterationHandle(v.u64(16)?),
                }
            }
            id::FINALIZE => {
                v.exact(RequestHeader::LEN)?;
                Self::Finalize
            }
            other => {
                return Err(IpcDecodeError::UnknownId {
                    what: "cpg request",
                    id: other,
                });
            }
        })
    }

    /// The header id.
    pub fn id(&self) -> i32 {
        use cpg_request_id as id;
        match self {
            Self::Join { .. } => id::JOIN,
            Self::Leave { .. } => id::LEAVE,
            Self::Mcast { .. } => id::MCAST,
            Self::PartialMcast { .. } => id::PARTIAL_MCAST,
            Self::MembershipGet { .. } => id::MEMBERSHIP,
            Self::LocalGet => id::LOCAL_GET,
            Self::IterationInitialize { .. } => id::ITERATION_INITIALIZE,
            Self::IterationNext { .. } => id::ITERATION_NEXT,
            Self::IterationFinalize { .. } => id::ITERATION_FINALIZE,
            Self::Finalize => id::FINALIZE,
        }
    }

    /// The encoded length, also the header's `size`.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::Join { .. } => REQ_AFTER_GROUP + 16,
            Self::Leave { .. } | Self::IterationInitialize { .. } => REQ_AFTER_GROUP + 8,
            Self::Mcast { payload, .. } => MCAST_DATA + payload.0.len(),
            Self::PartialMcast { fragment, .. } => PARTIAL_MCAST_DATA + fragment.data.len(),
            Self::MembershipGet { .. } => REQ_AFTER_GROUP,
            Self::LocalGet | Self::Finalize => RequestHeader::LEN,
            Self::IterationNext { .. } | Self::IterationFinalize { .. } => 24,
        }
    }

    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut f = Frame::append(out, self.encoded_len());
        f.request_header(self.id());
        match self {
            Self::Join { group, pid, flags } => {
                group.encode(&mut f, REQ_GROUP);
                f.u32(REQ_AFTER_GROUP, *pid);
                f.u32(REQ_AFTER_GROUP + 8, *flags);
            }
            Self::Leave { group, pid } => {
                group.encode(&mut f, REQ_GROUP);
                f.u32(REQ_AFTER_GROUP, *pid);
            }
            Self::Mcast { guarantee, payload } => {
                f.u32(MCAST_GUARANTEE, guarantee.0);
                f.u32(MCAST_MSGLEN, payload.0.len() as u32);
                f.bytes(MCAST_DATA, &payload.0);
            }
            Self::PartialMcast {
                guarantee,
                fragment,
            } => {
                f.u32(MCAST_GUARANTEE, guarantee.0);
                fragment.encode(&mut f, MCAST_MSGLEN, PARTIAL_MCAST_TYPE, PARTIAL_MCAST_DATA);
            }
            Self::MembershipGet { group } => group.encode(&mut f, REQ_GROUP),
            Self::IterationInitialize {
                group,
                iteration_type,
            } => {
                group.encode(&mut f, REQ_GROUP);
                f.u32(REQ_AFTER_GROUP, *iteration_type as u32);
            }
            Self::IterationNext { handle } | Self::IterationFinalize { handle } => {
                f.u64(16, handle.0);
            }
            Self::LocalGet | Self::Finalize => {}
        }
    }

    /// The encoding as a new buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }
}
