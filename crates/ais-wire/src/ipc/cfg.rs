//! cfg client messages (libcfg): the local node id, node addresses and link status,
//! reloading the configuration, reopening the logs, killing a node, and the shutdown dance
//! (a TRYSHUTDOWN, TESTSHUTDOWN events to the tracking clients, their REPLYTOSHUTDOWN).
//!
//! Reference §2.1 and §2.6; corosync 3.1.7 `include/corosync/ipc_cfg.h`, `cfg.h`
//! (`corosync_cfg_node_status_v1`), `exec/cfg.c`, `lib/cfg.c`. Response ids are
//! `MESSAGE_RES_CFG_*`, numbered apart from the requests and with gaps (KILLNODE is request 2
//! but response 8): [`cfg_response_id_for`] maps one to the other.
//!
//! Header-only responses are not typed one by one: every 24-byte response decodes as
//! [`CfgResponse::Bare`] with its id, which also covers the dispatcher's generic id-0 reply.
//! Request ids this codec does not know decode as [`CfgRequest::Other`], so the service can
//! still answer with the generic reply.
//!
//! Invariants: strings are [`FixedCStr`]s or [`CsName`]s (bounded, NUL-free), lists are
//! bounded by their constructors or cut to their limit, so every value encodes within
//! [`super::IPC_MSG_SIZE_MAX`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Deref;

use ais_types::NodeId;

use super::{CsStatus, FixedCStr, Frame, IpcDecodeError, IpcEncodeError, View};
use super::{RequestHeader, ResponseHeader};

/// Request ids (`MESSAGE_REQ_CFG_*`).
pub mod cfg_request_id {
    /// The legacy per-link status strings.
    pub const RINGSTATUSGET: i32 = 0;
    /// Re-enable faulty rings (a no-op with knet).
    pub const RINGREENABLE: i32 = 1;
    /// Ask a node to leave the cluster.
    pub const KILLNODE: i32 = 2;
    /// Ask this node to shut down.
    pub const TRYSHUTDOWN: i32 = 3;
    /// A tracking client's answer to a TESTSHUTDOWN event.
    pub const REPLYTOSHUTDOWN: i32 = 4;
    /// A node's addresses.
    pub const GET_NODE_ADDRS: i32 = 5;
    /// The local node id.
    pub const LOCAL_GET: i32 = 6;
    /// Reload corosync.conf.
    pub const RELOAD_CONFIG: i32 = 7;
    /// Reopen the log files.
    pub const REOPEN_LOG_FILES: i32 = 8;
    /// A node's reachability and link status (corosync 3.1).
    pub const NODESTATUSGET: i32 = 9;
    /// Start receiving TESTSHUTDOWN events.
    pub const TRACKSTART: i32 = 10;
    /// Stop receiving them.
    pub const TRACKSTOP: i32 = 11;
    /// Ours, not corosync's: ask every node to shut down, each asking its own tracking
    /// clients (`req_lib_cfg_tryshutdown`'s layout). Far above corosync's ids.
    pub const SHUTDOWN_CLUSTER: i32 = 0x4149_0001;
}

/// Response ids (`MESSAGE_RES_CFG_*`).
pub mod cfg_response_id {
    /// RINGSTATUSGET's response; also the dispatcher's generic error reply (24 bytes).
    pub const RINGSTATUSGET: i32 = 0;
    /// RINGREENABLE's response.
    pub const RINGREENABLE: i32 = 1;
    /// TRACKSTART's response.
    pub const TRACKSTART: i32 = 2;
    /// TRACKSTOP's response.
    pub const TRACKSTOP: i32 = 3;
    /// KILLNODE's response.
    pub const KILLNODE: i32 = 8;
    /// TRYSHUTDOWN's response, sent once the tracking clients answered or timed out.
    pub const TRYSHUTDOWN: i32 = 9;
    /// `GET_NODE_ADDRS`.
    pub const GET_NODE_ADDRS: i32 = 11;
    /// `LOCAL_GET`.
    pub const LOCAL_GET: i32 = 12;
    /// REPLYTOSHUTDOWN's response.
    pub const REPLYTOSHUTDOWN: i32 = 13;
    /// RELOAD_CONFIG's response.
    pub const RELOAD_CONFIG: i32 = 14;
    /// REOPEN_LOG_FILES's response.
    pub const REOPEN_LOG_FILES: i32 = 15;
    /// NODESTATUSGET's response.
    pub const NODESTATUSGET: i32 = 16;
    /// Ours: SHUTDOWN_CLUSTER's response, with this node's own outcome.
    pub const SHUTDOWN_CLUSTER: i32 = 0x4149_0001;
}

/// Event ids (`MESSAGE_RES_CFG_*` sent on the event channel).
pub mod cfg_event_id {
    /// A shutdown was requested: may this client's application stop?
    pub const TESTSHUTDOWN: i32 = 10;
}

/// `corosync_cfg_shutdown_flags_t`: TRYSHUTDOWN's `flags`, echoed in TESTSHUTDOWN.
pub mod cfg_shutdown_flags {
    /// Shut down if no tracking client objects.
    pub const REQUEST: u32 = 0;
    /// Ask the tracking clients, then shut down whatever they answer.
    pub const REGARDLESS: u32 = 1;
    /// Shut down without asking.
    pub const IMMEDIATE: u32 = 2;
}

/// `corosync_cfg_shutdown_reply_flags_t`: REPLYTOSHUTDOWN's `response`.
pub mod cfg_shutdown_reply {
    /// Do not shut down.
    pub const NO: u32 = 0;
    /// Fine to shut down.
    pub const YES: u32 = 1;
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
        cfg_request_id::SHUTDOWN_CLUSTER => cfg_response_id::SHUTDOWN_CLUSTER,
        _ => return None,
    })
}

/// `cs_name_t` (258 bytes): `length` u16 @0, `value[256]` @2, KILLNODE's reason. libcfg
/// counts the NUL in `length`; decoding reads up to the first NUL (or `length` bytes).
/// At most 255 bytes, no NUL.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CsName(Vec<u8>);

impl CsName {
    /// Encoded length.
    pub const LEN: usize = 258;
    /// The longest name (`CS_MAX_NAME_LENGTH` less the NUL).
    pub const MAX: usize = 255;

    /// A name, if it has at most [`Self::MAX`] bytes and no NUL.
    pub fn new(name: impl Into<Vec<u8>>) -> Result<Self, IpcEncodeError> {
        let name = name.into();
        if name.len() > Self::MAX || name.contains(&0) {
            return Err(IpcEncodeError::BadString {
                len: name.len(),
                max: Self::MAX,
            });
        }
        Ok(Self(name))
    }

    /// The bytes, without the NUL.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn decode(view: &View<'_>, off: usize) -> Result<Self, IpcDecodeError> {
        const WHAT: &str = "cfg kill reason";
        let len = usize::from(view.u16(off)?);
        if len > Self::MAX + 1 {
            return Err(IpcDecodeError::StringTooLong {
                what: WHAT,
                len,
                max: Self::MAX + 1,
            });
        }
        let value = view.bytes(off + 2, len)?;
        let end = value.iter().position(|&b| b == 0).unwrap_or(len);
        if end > Self::MAX {
            return Err(IpcDecodeError::StringUnterminated { what: WHAT });
        }
        Ok(Self(value[..end].to_vec()))
    }

    fn encode(&self, f: &mut Frame<'_>, off: usize) {
        f.u16(off, self.0.len() as u16 + 1);
        f.bytes(off + 2, &self.0);
    }
}

/// A request from a cfg client (header ids in [`cfg_request_id`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CfgRequest {
    /// `req_lib_cfg_ringstatusget` (16).
    RingStatusGet,
    /// `req_lib_cfg_ringreenable` (16).
    RingReenable,
    /// `req_lib_cfg_killnode` (288): `nodeid` u32 @16, `reason` `cs_name_t` @24.
    KillNode {
        /// The node to kill.
        nodeid: NodeId,
        /// Why, for its log.
        reason: CsName,
    },
    /// `req_lib_cfg_tryshutdown` (24): `flags` u32 @16 ([`cfg_shutdown_flags`]).
    TryShutdown {
        /// How insistent.
        flags: u32,
    },
    /// Ours (24): `flags` u32 @16, as TRYSHUTDOWN, for every node of the cluster.
    ShutdownCluster {
        /// How insistent, on every node.
        flags: u32,
    },
    /// `req_lib_cfg_replytoshutdown` (24): `response` u32 @16 ([`cfg_shutdown_reply`]).
    ReplyToShutdown {
        /// The answer.
        response: u32,
    },
    /// `req_lib_cfg_get_node_addrs` (24): `nodeid` u32 @16, 0 for the local node.
    GetNodeAddrs {
        /// The node.
        nodeid: NodeId,
    },
    /// `req_lib_cfg_local_get` (16).
    LocalGet,
    /// `req_lib_cfg_reload_config` (16).
    ReloadConfig,
    /// `req_lib_cfg_reopen_log_files` (16).
    ReopenLogFiles,
    /// `req_lib_cfg_nodestatusget` (32): `nodeid` u32 @16, `version` u32 @24 (1).
    NodeStatusGet {
        /// The node.
        nodeid: NodeId,
        /// The status layout asked for; only [`CfgNodeStatus::V1`] exists.
        version: u32,
    },
    /// `req_lib_cfg_trackstart` (24): `track_flags` u8 @16.
    TrackStart {
        /// Unused by corosync (Pacemaker sends 0).
        flags: u8,
    },
    /// `req_lib_cfg_trackstop` (16).
    TrackStop,
    /// A request id this codec does not know, whatever its length.
    Other {
        /// Its id.
        id: i32,
    },
}

const REQ_BODY: usize = RequestHeader::LEN;
const REQ_ARG_LEN: usize = 24;
const KILLNODE_REASON: usize = 24;
const KILLNODE_LEN: usize = 288;
const NODESTATUSGET_LEN: usize = 32;

impl CfgRequest {
    /// Decodes exactly one request.
    pub fn decode(buf: &[u8]) -> Result<Self, IpcDecodeError> {
        use cfg_request_id as id;
        let v = View::open(buf, "cfg request", RequestHeader::LEN)?;
        let bare = |request| v.exact(RequestHeader::LEN).map(|()| request);
        Ok(match v.id()? {
            id::RINGSTATUSGET => bare(Self::RingStatusGet)?,
            id::RINGREENABLE => bare(Self::RingReenable)?,
            id::KILLNODE => {
                v.exact(KILLNODE_LEN)?;
                Self::KillNode {
                    nodeid: NodeId(v.u32(REQ_BODY)?),
                    reason: CsName::decode(&v, KILLNODE_REASON)?,
                }
            }
            id::TRYSHUTDOWN => {
                v.exact(REQ_ARG_LEN)?;
                Self::TryShutdown {
                    flags: v.u32(REQ_BODY)?,
                }
            }
            id::SHUTDOWN_CLUSTER => {
                v.exact(REQ_ARG_LEN)?;
                Self::ShutdownCluster {
                    flags: v.u32(REQ_BODY)?,
                }
            }
            id::REPLYTOSHUTDOWN => {
                v.exact(REQ_ARG_LEN)?;
                Self::ReplyToShutdown {
                    response: v.u32(REQ_BODY)?,
                }
            }
            id::GET_NODE_ADDRS => {
                v.exact(REQ_ARG_LEN)?;
                Self::GetNodeAddrs {
                    nodeid: NodeId(v.u32(REQ_BODY)?),
                }
            }
            id::LOCAL_GET => bare(Self::LocalGet)?,
            id::RELOAD_CONFIG => bare(Self::ReloadConfig)?,
            id::REOPEN_LOG_FILES => bare(Self::ReopenLogFiles)?,
            id::NODESTATUSGET => {
                v.exact(NODESTATUSGET_LEN)?;
                Self::NodeStatusGet {
                    nodeid: NodeId(v.u32(REQ_BODY)?),
                    version: v.u32(REQ_BODY + 8)?,
                }
            }
            id::TRACKSTART => {
                v.exact(REQ_ARG_LEN)?;
                Self::TrackStart {
                    flags: v.u8(REQ_BODY)?,
                }
            }
            id::TRACKSTOP => bare(Self::TrackStop)?,
            id => Self::Other { id },
        })
    }

    /// The header id.
    pub fn id(&self) -> i32 {
        use cfg_request_id as id;
        match self {
            Self::RingStatusGet => id::RINGSTATUSGET,
            Self::RingReenable => id::RINGREENABLE,
            Self::KillNode { .. } => id::KILLNODE,
            Self::TryShutdown { .. } => id::TRYSHUTDOWN,
            Self::ShutdownCluster { .. } => id::SHUTDOWN_CLUSTER,
            Self::ReplyToShutdown { .. } => id::REPLYTOSHUTDOWN,
            Self::GetNodeAddrs { .. } => id::GET_NODE_ADDRS,
            Self::LocalGet => id::LOCAL_GET,
            Self::ReloadConfig => id::RELOAD_CONFIG,
            Self::ReopenLogFiles => id::REOPEN_LOG_FILES,
            Self::NodeStatusGet { .. } => id::NODESTATUSGET,
            Self::TrackStart { .. } => id::TRACKSTART,
            Self::TrackStop => id::TRACKSTOP,
            Self::Other { id } => *id,
        }
    }

    /// The id of the response the library waits for (`None` for an unknown request).
    pub fn response_id(&self) -> Option<i32> {
        cfg_response_id_for(self.id())
    }

    /// The encoded length, also the header's `size`.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::KillNode { .. } => KILLNODE_LEN,
            Self::TryShutdown { .. }
            | Self::ShutdownCluster { .. }
            | Self::ReplyToShutdown { .. }
            | Self::GetNodeAddrs { .. }
            | Self::TrackStart { .. } => REQ_ARG_LEN,
            Self::NodeStatusGet { .. } => NODESTATUSGET_LEN,
            Self::RingStatusGet
            | Self::RingReenable
            | Self::LocalGet
            | Self::ReloadConfig
            | Self::ReopenLogFiles
            | Self::TrackStop
            | Self::Other { .. } => RequestHeader::LEN,
        }
    }

    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut f = Frame::append(out, self.encoded_len());
        f.request_header(self.id());
        match self {
            Self::KillNode { nodeid, reason } => {
                f.u32(REQ_BODY, nodeid.0);
                reason.encode(&mut f, KILLNODE_REASON);
            }
            Self::TryShutdown { flags: arg }
            | Self::ShutdownCluster { flags: arg }
            | Self::ReplyToShutdown { response: arg } => {
                f.u32(REQ_BODY, *arg);
            }
            Self::GetNodeAddrs { nodeid } => f.u32(REQ_BODY, nodeid.0),
            Self::NodeStatusGet { nodeid, version } => {
                f.u32(REQ_BODY, nodeid.0);
                f.u32(REQ_BODY + 8, *version);
            }
            Self::TrackStart { flags } => f.u8(REQ_BODY, *flags),
            Self::RingStatusGet
            | Self::RingReenable
            | Self::LocalGet
            | Self::ReloadConfig
            | Self::ReopenLogFiles
            | Self::TrackStop
            | Self::Other { .. } => {}
        }
    }

    /// The encoded request.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }
}

/// The most addresses one node has (`INTERFACE_MAX`, one per link).
pub const CFG_ADDRS_MAX: usize = 8;

/// The interface slots of the RINGSTATUSGET response (`CFG_MAX_INTERFACES`).
pub const CFG_INTERFACES_MAX: usize = 16;

/// The link slots of a node status (`CFG_MAX_LINKS`, knet's `KNET_MAX_LINK`).
pub const CFG_LINKS_MAX: usize = 8;

/// An interface name of RINGSTATUSGET (`char[CFG_INTERFACE_NAME_MAX_LEN]`).
pub type CfgInterfaceName = FixedCStr<128>;

/// An interface status of RINGSTATUSGET (`char[CFG_INTERFACE_STATUS_MAX_LEN]`).
pub type CfgInterfaceStatus = FixedCStr<512>;

/// A link's address in a node status (`char[CFG_MAX_HOST_LEN]`).
pub type CfgLinkAddress = FixedCStr<256>;

/// The interfaces of a RINGSTATUSGET response: at most [`CFG_INTERFACES_MAX`], each a name
/// and a status text (corosync 3 prints the link addresses and their state).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CfgRingStatus(Vec<(CfgInterfaceName, CfgInterfaceStatus)>);

impl CfgRingStatus {
    /// The interfaces, if there are at most [`CFG_INTERFACES_MAX`].
    pub fn new(
        interfaces: Vec<(CfgInterfaceName, CfgInterfaceStatus)>,
    ) -> Result<Self, IpcEncodeError> {
        if interfaces.len() > CFG_INTERFACES_MAX {
            return Err(IpcEncodeError::ListTooLong {
                count: interfaces.len(),
            });
        }
        Ok(Self(interfaces))
    }
}

impl Deref for CfgRingStatus {
    type Target = [(CfgInterfaceName, CfgInterfaceStatus)];

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// `struct corosync_knet_link_status_v1` (520 bytes): `enabled` u8 @0, `connected` @1,
/// `dynconnected` @2, `mtu` u32 @4, `src_ipaddr[256]` @8, `dst_ipaddr[256]` @264.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CfgLinkStatus {
    /// The link is configured.
    pub enabled: bool,
    /// The link is up.
    pub connected: bool,
    /// The link is up as dynamically discovered.
    pub dynconnected: bool,
    /// Its path MTU.
    pub mtu: u32,
    /// The local address.
    pub src_ipaddr: CfgLinkAddress,
    /// The peer's address.
    pub dst_ipaddr: CfgLinkAddress,
}

impl CfgLinkStatus {
    /// Encoded length.
    pub const LEN: usize = 520;

    fn decode(v: &View<'_>, off: usize) -> Result<Self, IpcDecodeError> {
        const WHAT: &str = "cfg link address";
        Ok(Self {
            enabled: v.u8(off)? != 0,
            connected: v.u8(off + 1)? != 0,
            dynconnected: v.u8(off + 2)? != 0,
            mtu: v.u32(off + 4)?,
            src_ipaddr: CfgLinkAddress::decode(v, off + 8, WHAT)?,
            dst_ipaddr: CfgLinkAddress::decode(v, off + 8 + CfgLinkAddress::LEN, WHAT)?,
        })
    }

    fn encode(&self, f: &mut Frame<'_>, off: usize) {
        f.u8(off, u8::from(self.enabled));
        f.u8(off + 1, u8::from(self.connected));
        f.u8(off + 2, u8::from(self.dynconnected));
        f.u32(off + 4, self.mtu);
        self.src_ipaddr.encode(f, off + 8);
        self.dst_ipaddr.encode(f, off + 8 + CfgLinkAddress::LEN);
    }
}

/// `struct corosync_cfg_node_status_v1` (4176 bytes): `version` u32 @0, `nodeid` @4,
/// `reachable` u8 @8, `remote` @9, `external` @10, `onwire_min` @11, `onwire_max` @12,
/// `onwire_ver` @13, `link_status[8]` @16.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CfgNodeStatus {
    /// The layout version, [`Self::V1`].
    pub version: u32,
    /// The node.
    pub nodeid: NodeId,
    /// Some link to it is up.
    pub reachable: bool,
    /// It is another node (knet's view).
    pub remote: bool,
    /// It is outside the cluster (knet's view).
    pub external: bool,
    /// The oldest on-wire protocol it speaks.
    pub onwire_min: u8,
    /// The newest on-wire protocol it speaks.
    pub onwire_max: u8,
    /// The protocol in use.
    pub onwire_ver: u8,
    /// Its links, by link number.
    pub links: [CfgLinkStatus; CFG_LINKS_MAX],
}

impl CfgNodeStatus {
    /// `CFG_NODE_STATUS_V1`.
    pub const V1: u32 = 1;
    /// Encoded length.
    pub const LEN: usize = 16 + CFG_LINKS_MAX * CfgLinkStatus::LEN;

    fn decode(v: &View<'_>, off: usize) -> Result<Self, IpcDecodeError> {
        let mut links: [CfgLinkStatus; CFG_LINKS_MAX] = Default::default();
        for (i, link) in links.iter_mut().enumerate() {
            *link = CfgLinkStatus::decode(v, off + 16 + i * CfgLinkStatus::LEN)?;
        }
        Ok(Self {
            version: v.u32(off)?,
            nodeid: NodeId(v.u32(off + 4)?),
            reachable: v.u8(off + 8)? != 0,
            remote: v.u8(off + 9)? != 0,
            external: v.u8(off + 10)? != 0,
            onwire_min: v.u8(off + 11)?,
            onwire_max: v.u8(off + 12)?,
            onwire_ver: v.u8(off + 13)?,
            links,
        })
    }

    fn encode(&self, f: &mut Frame<'_>, off: usize) {
        f.u32(off, self.version);
        f.u32(off + 4, self.nodeid.0);
        f.u8(off + 8, u8::from(self.reachable));
        f.u8(off + 9, u8::from(self.remote));
        f.u8(off + 10, u8::from(self.external));
        f.u8(off + 11, self.onwire_min);
        f.u8(off + 12, self.onwire_max);
        f.u8(off + 13, self.onwire_ver);
        for (i, link) in self.links.iter().enumerate() {
            link.encode(f, off + 16 + i * CfgLinkStatus::LEN);
        }
    }
}

/// A response to a cfg request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CfgResponse {
    /// `res_lib_cfg_get_node_addrs` (32 + 16n): `family` u32 @24 (AF_INET 2, AF_INET6 10),
    /// `num_addrs` u32 @28, then one 16-byte slot per address @32 (the raw `in_addr` or
    /// `in6_addr`, zero padded). No address is `CS_ERR_NOT_EXIST`. The addresses must be
    /// of one family (the first one's); more than [`CFG_ADDRS_MAX`] are cut.
    NodeAddrs {
        /// The result.
        error: CsStatus,
        /// The node's addresses, link 0 first; all of one family.
        addrs: Vec<IpAddr>,
    },
    /// `res_lib_cfg_local_get` (32): `local_nodeid` u32 @24, always with `CS_OK`.
    LocalGet {
        /// This node.
        local_nodeid: NodeId,
    },
    /// `res_lib_cfg_ringstatusget` (10 272): `interface_count` u32 @24,
    /// `interface_name[16][128]` @32, `interface_status[16][512]` @2080.
    RingStatus {
        /// The result.
        error: CsStatus,
        /// The interfaces.
        interfaces: CfgRingStatus,
    },
    /// `res_lib_cfg_nodestatusget_v1` (4200): `node_status` @24.
    NodeStatus {
        /// The result.
        error: CsStatus,
        /// The node's status.
        status: Box<CfgNodeStatus>,
    },
    /// `res_lib_cfg_nodestatusget_version` (32): `version` u32 @24, corosync's reply to a
    /// NODESTATUSGET for a layout it does not know (`CS_ERR_NOT_SUPPORTED`).
    NodeStatusVersion {
        /// The result.
        error: CsStatus,
        /// The version asked for.
        version: u32,
    },
    /// A bare 24-byte response with the given id: the answer to every header-only request
    /// (RINGREENABLE, KILLNODE, TRYSHUTDOWN, REPLYTOSHUTDOWN, RELOAD_CONFIG,
    /// REOPEN_LOG_FILES, TRACKSTART, TRACKSTOP), any error reply, and the dispatcher's
    /// generic id-0 reply. Every 24-byte response decodes as this.
    Bare {
        /// Response id.
        id: i32,
        /// The result.
        error: CsStatus,
    },
}

const RES_BODY: usize = ResponseHeader::LEN;
const RES_ARG_LEN: usize = RES_BODY + 8;
const ADDRS: usize = 32;
const ADDR_SLOT: usize = 16;
const AF_INET: u32 = 2;
const AF_INET6: u32 = 10;
const RING_NAMES: usize = 32;
const RING_STATUSES: usize = RING_NAMES + CFG_INTERFACES_MAX * CfgInterfaceName::LEN;
const RING_STATUS_LEN: usize = RING_STATUSES + CFG_INTERFACES_MAX * CfgInterfaceStatus::LEN;
const NODE_STATUS_LEN: usize = RES_BODY + CfgNodeStatus::LEN;

impl CfgResponse {
    /// Decodes exactly one response.
    pub fn decode(buf: &[u8]) -> Result<Self, IpcDecodeError> {
        use cfg_response_id as id;
        let v = View::open(buf, "cfg response", ResponseHeader::LEN)?;
        let error = CsStatus(v.i32(16)?);
        let response_id = v.id()?;
        if !matches!(response_id, 0..=3 | 8 | 9 | 11..=16 | id::SHUTDOWN_CLUSTER) {
            return Err(IpcDecodeError::UnknownId {
                what: "cfg response",
                id: response_id,
            });
        }
        if buf.len() == RES_BODY {
            return Ok(Self::Bare {
                id: response_id,
                error,
            });
        }
        Ok(match response_id {
            id::GET_NODE_ADDRS => decode_node_addrs(&v, error)?,
            id::LOCAL_GET => {
                v.exact(RES_ARG_LEN)?;
                if error != CsStatus::OK {
                    return Err(IpcDecodeError::InvalidValue {
                        what: "cfg local_get status",
                        value: error.0.into(),
                    });
                }
                Self::LocalGet {
                    local_nodeid: NodeId(v.u32(RES_BODY)?),
                }
            }
            id::RINGSTATUSGET => {
                v.exact(RING_STATUS_LEN)?;
                let count = v.u32(RES_BODY)?;
                if count as usize > CFG_INTERFACES_MAX {
                    return Err(IpcDecodeError::ListTooLong {
                        what: "cfg interfaces",
                        count,
                        max: CFG_INTERFACES_MAX,
                    });
                }
                let interfaces = (0..count as usize)
                    .map(|i| {
                        let name = RING_NAMES + i * CfgInterfaceName::LEN;
                        let status = RING_STATUSES + i * CfgInterfaceStatus::LEN;
                        Ok((
                            CfgInterfaceName::decode(&v, name, "cfg interface name")?,
                            CfgInterfaceStatus::decode(&v, status, "cfg interface status")?,
                        ))
                    })
                    .collect::<Result<_, IpcDecodeError>>()?;
                Self::RingStatus {
                    error,
                    interfaces: CfgRingStatus(interfaces),
                }
            }
            id::NODESTATUSGET if buf.len() == RES_ARG_LEN => Self::NodeStatusVersion {
                error,
                version: v.u32(RES_BODY)?,
            },
            id::NODESTATUSGET => {
                v.exact(NODE_STATUS_LEN)?;
                Self::NodeStatus {
                    error,
                    status: Box::new(CfgNodeStatus::decode(&v, RES_BODY)?),
                }
            }
            // The others are header-only.
            _ => {
                return Err(IpcDecodeError::TrailingBytes {
                    what: "cfg response",
                    extra: buf.len() - RES_BODY,
                });
            }
        })
    }

    /// The header id.
    pub fn id(&self) -> i32 {
        use cfg_response_id as id;
        match self {
            Self::NodeAddrs { .. } => id::GET_NODE_ADDRS,
            Self::LocalGet { .. } => id::LOCAL_GET,
            Self::RingStatus { .. } => id::RINGSTATUSGET,
            Self::NodeStatus { .. } | Self::NodeStatusVersion { .. } => id::NODESTATUSGET,
            Self::Bare { id, .. } => *id,
        }
    }

    /// The `cs_error_t` in the header.
    pub fn error(&self) -> CsStatus {
        match self {
            Self::LocalGet { .. } => CsStatus::OK,
            Self::NodeAddrs { error, .. }
            | Self::RingStatus { error, .. }
            | Self::NodeStatus { error, .. }
            | Self::NodeStatusVersion { error, .. }
            | Self::Bare { error, .. } => *error,
        }
    }

    /// The encoded length, also the header's `size`.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::NodeAddrs { addrs, .. } => ADDRS + ADDR_SLOT * addrs.len().min(CFG_ADDRS_MAX),
            Self::LocalGet { .. } | Self::NodeStatusVersion { .. } => RES_ARG_LEN,
            Self::RingStatus { .. } => RING_STATUS_LEN,
            Self::NodeStatus { .. } => NODE_STATUS_LEN,
            Self::Bare { .. } => RES_BODY,
        }
    }

    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut f = Frame::append(out, self.encoded_len());
        f.response_header(self.id(), self.error());
        match self {
            Self::NodeAddrs { addrs, .. } => {
                let family = match addrs.first() {
                    Some(IpAddr::V6(_)) => AF_INET6,
                    _ => AF_INET,
                };
                f.u32(24, family);
                let n = addrs.len().min(CFG_ADDRS_MAX);
                f.u32(28, n as u32);
                for (i, addr) in addrs.iter().take(n).enumerate() {
                    match addr {
                        IpAddr::V4(a) => f.bytes(ADDRS + ADDR_SLOT * i, &a.octets()),
                        IpAddr::V6(a) => f.bytes(ADDRS + ADDR_SLOT * i, &a.octets()),
                    }
                }
            }
            Self::LocalGet { local_nodeid } => f.u32(RES_BODY, local_nodeid.0),
            Self::RingStatus { interfaces, .. } => {
                f.u32(RES_BODY, interfaces.len() as u32);
                for (i, (name, status)) in interfaces.iter().enumerate() {
                    name.encode(&mut f, RING_NAMES + i * CfgInterfaceName::LEN);
                    status.encode(&mut f, RING_STATUSES + i * CfgInterfaceStatus::LEN);
                }
            }
            Self::NodeStatus { status, .. } => status.encode(&mut f, RES_BODY),
            Self::NodeStatusVersion { version, .. } => f.u32(RES_BODY, *version),
            Self::Bare { .. } => {}
        }
    }

    /// The encoded response.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }
}

/// `res_lib_cfg_get_node_addrs`: with no address the family is not looked at (corosync
/// leaves it unset with `CS_ERR_NOT_EXIST`).
fn decode_node_addrs(v: &View<'_>, error: CsStatus) -> Result<CfgResponse, IpcDecodeError> {
    v.need(ADDRS)?;
    let family = v.u32(24)?;
    let count = v.u32(28)?;
    if count as usize > CFG_ADDRS_MAX {
        return Err(IpcDecodeError::ListTooLong {
            what: "cfg node addresses",
            count,
            max: CFG_ADDRS_MAX,
        });
    }
    let count = count as usize;
    v.exact(ADDRS + ADDR_SLOT * count)?;
    if count > 0 && family != AF_INET && family != AF_INET6 {
        return Err(IpcDecodeError::InvalidValue {
            what: "cfg address family",
            value: family.into(),
        });
    }
    let addrs = (0..count)
        .map(|i| {
            let slot: [u8; ADDR_SLOT] = v.array(ADDRS + ADDR_SLOT * i)?;
            Ok(if family == AF_INET {
                IpAddr::V4(Ipv4Addr::new(slot[0], slot[1], slot[2], slot[3]))
            } else {
                IpAddr::V6(Ipv6Addr::from(slot))
            })
        })
        .collect::<Result<_, IpcDecodeError>>()?;
    Ok(CfgResponse::NodeAddrs { error, addrs })
}

/// An event on the cfg event channel (header ids in [`cfg_event_id`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CfgEvent {
    /// `res_lib_cfg_testshutdown` (32): `flags` u32 @24, the TRYSHUTDOWN's. Sent to the
    /// tracking clients, which answer with REPLYTOSHUTDOWN.
    TestShutdown {
        /// The requester's [`cfg_shutdown_flags`].
        flags: u32,
    },
}

impl CfgEvent {
    /// Decodes exactly one event. The header's `error` is not read (corosync sends `CS_OK`).
    pub fn decode(buf: &[u8]) -> Result<Self, IpcDecodeError> {
        let v = View::open(buf, "cfg event", ResponseHeader::LEN)?;
        match v.id()? {
            cfg_event_id::TESTSHUTDOWN => {
                v.exact(RES_ARG_LEN)?;
                Ok(Self::TestShutdown {
                    flags: v.u32(RES_BODY)?,
                })
            }
            other => Err(IpcDecodeError::UnknownId {
                what: "cfg event",
                id: other,
            }),
        }
    }

    /// The header id.
    pub fn id(&self) -> i32 {
        cfg_event_id::TESTSHUTDOWN
    }

    /// The encoded length, also the header's `size`.
    pub fn encoded_len(&self) -> usize {
        RES_ARG_LEN
    }

    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let Self::TestShutdown { flags } = self;
        let mut f = Frame::append(out, self.encoded_len());
        f.response_header(self.id(), CsStatus::OK);
        f.u32(RES_BODY, *flags);
    }

    /// The encoded event.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }
}

#[cfg(test)]
pub(super) mod tests;
