//! CPG responses, daemon to client, one per request: `res_lib_cpg_*`.

use super::*;

/// A response to a CPG request (header ids in [`cpg_response_id`]). Every response carries a
/// `cs_error_t`; when it is not `CS_OK` the body is whatever the daemon wrote (zeros here).
///
/// The daemon's generic error reply (unknown request id, TRY_AGAIN during sync, §2.1) is a
/// 24-byte id-0 response, so it decodes as [`CpgResponse::Join`]: a client that sent another
/// request reads it as that request's failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CpgResponse {
    /// `res_lib_cpg_join` (24).
    Join(CsStatus),
    /// `res_lib_cpg_leave` (24).
    Leave(CsStatus),
    /// `res_lib_cpg_membership_get` (9 248): `member_count` @24, `member_list[384]` @32, the
    /// whole fixed-size array sent whatever the count.
    Membership {
        /// The result.
        error: CsStatus,
        /// The group's members.
        members: MemberList<CpgAddress>,
    },
    /// `res_lib_cpg_local_get` (32): `local_nodeid` u32 @24.
    LocalGet {
        /// The result.
        error: CsStatus,
        /// This node.
        local_nodeid: NodeId,
    },
    /// `res_lib_cpg_iterationinitialize` (32): `iteration_handle` u64 @24.
    IterationInitialize {
        /// The result.
        error: CsStatus,
        /// The new iteration.
        handle: IterationHandle,
    },
    /// `res_lib_cpg_iterationnext` (168): `description` @24 (group @24, nodeid @160, pid
    /// @164). The end of the iteration is `CS_ERR_NO_SECTIONS`.
    IterationNext {
        /// The result.
        error: CsStatus,
        /// The entry.
        description: IterationDescription,
    },
    /// `res_lib_cpg_iterationfinalize` (24).
    IterationFinalize(CsStatus),
    /// `res_lib_cpg_finalize` (24).
    Finalize(CsStatus),
    /// `res_lib_cpg_partial_send` (24).
    PartialSend(CsStatus),
}

const RES_BODY: usize = ResponseHeader::LEN;
const MEMBERSHIP_LIST: usize = 32;
const MEMBERSHIP_LEN: usize = MEMBERSHIP_LIST + PROCESSOR_COUNT_MAX * CpgAddress::LEN;
const ITERATION_NEXT_LEN: usize = RES_BODY + CpgName::LEN + 8;

impl CpgResponse {
    /// Decodes exactly one response.
    pub fn decode(buf: &[u8]) -> Result<Self, IpcDecodeError> {
        use cpg_response_id as id;
        let v = View::open(buf, "cpg response", ResponseHeader::LEN)?;
        let error = CsStatus(v.i32(16)?);
        Ok(match v.id()? {
            id::JOIN | id::LEAVE | id::ITERATION_FINALIZE | id::FINALIZE | id::PARTIAL_SEND => {
                v.exact(RES_BODY)?;
                match v.id()? {
                    id::JOIN => Self::Join(error),
                    id::LEAVE => Self::Leave(error),
                    id::ITERATION_FINALIZE => Self::IterationFinalize(error),
                    id::FINALIZE => Self::Finalize(error),
                    _ => Self::PartialSend(error),
                }
            }
            id::MEMBERSHIP => {
                v.exact(MEMBERSHIP_LEN)?;
                let count = list_count(&v, RES_BODY, "cpg membership")?;
                Self::Membership {
                    error,
                    members: decode_list(&v, MEMBERSHIP_LIST, count)?,
                }
            }
            id::LOCAL_GET => {
                v.exact(RES_BODY + 8)?;
                Self::LocalGet {
                    error,
                    local_nodeid: NodeId(v.u32(RES_BODY)?),
                }
            }
            id::ITERATION_INITIALIZE => {
                v.exact(RES_BODY + 8)?;
                Self::IterationInitialize {
                    error,
                    handle: IterationHandle(v.u64(RES_BODY)?),
                }
            }
            id::ITERATION_NEXT => {
                v.exact(ITERATION_NEXT_LEN)?;
                let description = IterationDescription {
                    group: CpgName::decode(&v, RES_BODY)?,
                    nodeid: NodeId(v.u32(RES_BODY + CpgName::LEN)?),
                    pid: v.u32(RES_BODY + CpgName::LEN + 4)?,
                };
                Self::IterationNext { error, description }
            }
            other => {
                return Err(IpcDecodeError::UnknownId {
                    what: "cpg response",
                    id: other,
                });
            }
        })
    }

    /// The header id.
    pub fn id(&self) -> i32 {
        use cpg_response_id as id;
        match self {
            Self::Join(_) => id::JOIN,
            Self::Leave(_) => id::LEAVE,
            Self::Membership { .. } => id::MEMBERSHIP,
            Self::LocalGet { .. } => id::LOCAL_GET,
            Self::IterationInitialize { .. } => id::ITERATION_INITIALIZE,
            Self::IterationNext { .. } => id::ITERATION_NEXT,
            Self::IterationFinalize(_) => id::ITERATION_FINALIZE,
            Self::Finalize(_) => id::FINALIZE,
            Self::PartialSend(_) => id::PARTIAL_SEND,
        }
    }

    /// The `cs_error_t` in the header.
    pub fn error(&self) -> CsStatus {
        match self {
            Self::Join(e)
            | Self::Leave(e)
            | Self::IterationFinalize(e)
            | Self::Finalize(e)
            | Self::PartialSend(e) => *e,
            Self::Membership { error, .. }
            | Self::LocalGet { error, .. }
            | Self::IterationInitialize { error, .. }
            | Self::IterationNext { error, .. } => *error,
        }
    }

    /// The encoded length, also the header's `size`.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::Membership { .. } => MEMBERSHIP_LEN,
            Self::LocalGet { .. } | Self::IterationInitialize { .. } => RES_BODY + 8,
            Self::IterationNext { .. } => ITERATION_NEXT_LEN,
            _ => RES_BODY,
        }
    }

    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut f = Frame::append(out, self.encoded_len());
        f.response_header(self.id(), self.error());
        match self {
            Self::Membership { members, .. } => {
                f.u32(RES_BODY, members.len() as u32);
                encode_list(members, &mut f, MEMBERSHIP_LIST);
            }
            Self::LocalGet { local_nodeid, .. } => f.u32(RES_BODY, local_nodeid.0),
            Self::IterationInitialize { handle, .. } => f.u64(RES_BODY, handle.0),
            Self::IterationNext { description, .. } => {
                description.group.encode(&mut f, RES_BODY);
                f.u32(RES_BODY + CpgName::LEN, description.nodeid.0);
                f.u32(RES_BODY + CpgName::LEN + 4, description.pid);
            }
            _ => {}
        }
    }

    /// The encoding as a new buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }
}
