//! The part of corosync's cfg messages (`ipc_cfg.h`, reference §2.6) that the CPG tools
//! need: the local node id and a node's addresses. The rest of cfg comes with the cfg
//! service; its requests decode as [`CfgRequest::Other`] so the daemon can answer each with
//! the response id the library waits for.

use std::net::IpAddr;

use ais_types::NodeId;

use super::{CsStatus, Frame, IpcDecodeError, View};
use super::{RequestHeader, ResponseHeader};

/// Request ids (`MESSAGE_REQ_CFG_*`).
pub mod cfg_request_id {
    /// `GET_NODE_ADDRS`.
    pub const GET_NODE_ADDRS: i32 = 5;
    /// `LOCAL_GET`.
    pub const LOCAL_GET: i32 = 6;
}

/// Response ids (`MESSAGE_RES_CFG_*`).
pub mod cfg_response_id {
    /// `GET_NODE_ADDRS`.
    pub const GET_NODE_ADDRS: i32 = 11;
    /// `LOCAL_GET`.
    pub const LOCAL_GET: i32 = 12;
}

/// A request from a cfg client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CfgRequest {
    /// `req_lib_cfg_get_node_addrs` (24): `nodeid` u32 @16, 0 for the local node.
    GetNodeAddrs {
        /// The node.
        nodeid: NodeId,
    },
    /// `req_lib_cfg_local_get` (16).
    LocalGet,
    /// Any other cfg request, by id.
    Other {
        /// Its id.
        id: i32,
    },
}

impl CfgRequest {
    /// Decodes exactly one request.
    pub fn decode(buf: &[u8]) -> Result<Self, IpcDecodeError> {
        let v = View::open(buf, "cfg request", RequestHeader::LEN)?;
        Ok(match v.id()? {
            cfg_request_id::GET_NODE_ADDRS => {
                v.exact(24)?;
                Self::GetNodeAddrs {
                    nodeid: NodeId(v.u32(16)?),
                }
            }
            cfg_request_id::LOCAL_GET => {
                v.exact(16)?;
                Self::LocalGet
            }
            id => Self::Other { id },
        })
    }

    /// The encoded request (for clients and tests).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Self::GetNodeAddrs { nodeid } => {
                let mut f = Frame::append(&mut out, 24);
                f.request_header(cfg_request_id::GET_NODE_ADDRS);
                f.u32(16, nodeid.0);
            }
            Self::LocalGet => {
                Frame::append(&mut out, 16).request_header(cfg_request_id::LOCAL_GET);
            }
            Self::Other { id } => {
                Frame::append(&mut out, 16).request_header(*id);
            }
        }
        out
    }
}

/// The most addresses one node has (`INTERFACE_MAX`, one per link).
pub const CFG_ADDRS_MAX: usize = 8;

/// A response to a cfg request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CfgResponse {
    /// `res_lib_cfg_get_node_addrs` (32 + 16n): `family` u32 @24 (AF_INET 2, AF_INET6 10),
    /// `num_addrs` u32 @28, then one 16-byte slot per address @32 (the raw `in_addr` or
    /// `in6_addr`, zero padded). No address is `CS_ERR_NOT_EXIST`.
    NodeAddrs {
        /// The result.
        error: CsStatus,
        /// The node's addresses, link 0 first; all of one family.
        addrs: Vec<IpAddr>,
    },
    /// `res_lib_cfg_local_get` (32): `local_nodeid` u32 @24.
    LocalGet {
        /// This node.
        local_nodeid: NodeId,
    },
    /// A bare 24-byte response with the given id: the answer to a request this build does
    /// not implement (with `CS_ERR_NOT_SUPPORTED`).
    Bare {
        /// Response id.
        id: i32,
        /// The result.
        error: CsStatus,
    },
}

impl CfgResponse {
    /// The encoded response.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Self::NodeAddrs { error, addrs } => {
                let n = addrs.len().min(CFG_ADDRS_MAX);
                let mut f = Frame::append(&mut out, 32 + 16 * n);
                f.response_header(cfg_response_id::GET_NODE_ADDRS, *error);
                let family = match addrs.first() {
                    Some(IpAddr::V6(_)) => 10,
                    _ => 2,
                };
                f.u32(24, family);
                f.u32(28, n as u32);
                for (i, addr) in addrs.iter().take(n).enumerate() {
                    match addr {
                        IpAddr::V4(a) => f.bytes(32 + 16 * i, &a.octets()),
                        IpAddr::V6(a) => f.bytes(32 + 16 * i, &a.octets()),
                    }
                }
            }
            Self::LocalGet { local_nodeid } => {
                let mut f = Frame::append(&mut out, 32);
                f.response_header(cfg_response_id::LOCAL_GET, CsStatus::OK);
                f.u32(24, local_nodeid.0);
            }
            Self::Bare { id, error } => {
                Frame::append(&mut out, ResponseHeader::LEN).response_header(*id, *error);
            }
        }
        out
    }
}

/// The response id corosync's library waits for after cfg request `id`, if it is one.
pub fn cfg_response_id_for(id: i32) -> Option<i32> {
    Some(match id {
        0 => 0,  // RINGSTATUSGET
        1 => 1,  // RINGREENABLE
        2 => 8,  // KILLNODE
        3 => 9,  // TRYSHUTDOWN
        4 => 13, // REPLYTOSHUTDOWN
        5 => 11, // GET_NODE_ADDRS
        6 => 12, // LOCAL_GET
        7 => 14, // RELOAD_CONFIG
        8 => 15, // REOPEN_LOG_FILES
        9 => 16, // NODESTATUSGET
        10 => 2, // TRACKSTART
        11 => 3, // TRACKSTOP
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn node_addrs_layout() {
        let bytes = CfgResponse::NodeAddrs {
            error: CsStatus::OK,
            addrs: vec![IpAddr::V4(Ipv4Addr::new(10, 77, 0, 2))],
        }
        .to_vec();
        assert_eq!(bytes.len(), 48);
        assert_eq!(&bytes[0..4], &11i32.to_le_bytes());
        assert_eq!(&bytes[8..12], &48i32.to_le_bytes());
        assert_eq!(&bytes[16..20], &1i32.to_le_bytes());
        assert_eq!(&bytes[24..28], &2u32.to_le_bytes());
        assert_eq!(&bytes[28..32], &1u32.to_le_bytes());
        assert_eq!(&bytes[32..36], &[10, 77, 0, 2]);
        assert_eq!(&bytes[36..48], &[0; 12]);
    }

    #[test]
    fn requests_round_trip_and_bad_sizes_fail() {
        for r in [
            CfgRequest::LocalGet,
            CfgRequest::GetNodeAddrs { nodeid: NodeId(3) },
            CfgRequest::Other { id: 9 },
        ] {
            assert_eq!(CfgRequest::decode(&r.to_vec()), Ok(r));
        }
        let mut short = CfgRequest::GetNodeAddrs { nodeid: NodeId(3) }.to_vec();
        short.truncate(20);
        short[8..12].copy_from_slice(&20i32.to_le_bytes());
        assert!(CfgRequest::decode(&short).is_err());
    }
}
