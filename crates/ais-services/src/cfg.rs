//! cfg, the configuration and status service (corosync's `exec/cfg.c`): this node's id, a
//! node's addresses, link status per node and link, configuration reload on every node,
//! killing a node, and a local shutdown that tracking clients may veto (the dance Pacemaker
//! takes part in), on this node or on every node (ours: each node asks its own clients, so
//! a node whose application refuses stays while the others go).
//!
//! Status comes from the node's key store: the daemon publishes each peer's link state as
//! `stats.knet.node<N>.link<L>.*` and the MTU as `runtime.config.totem.netmtu`. Reload and
//! kill go through the ring so that every node sees them in one order; a local shutdown
//! stays local, a cluster-wide one goes through the ring as a safe message. Nothing here is
//! replicated state, so cfg has no sync phase.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use ais_types::{ConnId, Credentials, NodeId};
use ais_wire::Order;
use ais_wire::ipc::{
    CFG_INTERFACES_MAX, CFG_LINKS_MAX, CfgEvent, CfgInterfaceName, CfgInterfaceStatus,
    CfgLinkAddress, CfgLinkStatus, CfgNodeStatus, CfgRequest, CfgResponse, CfgRingStatus,
    CmapValue, CsStatus, cfg_response_id, cfg_response_id_for, cfg_shutdown_flags,
    cfg_shutdown_reply,
};
use bytes::Bytes;

use crate::{Control, Effects, Membership, Service, ServiceId, ServiceSettings};

/// How long tracking clients have to answer a shutdown request (corosync's
/// `SHUTDOWN_TIMEOUT`, 5 s); one that does not answer does not block it.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Ring message kinds.
const MSG_RELOAD: u8 = 1;
const MSG_KILL: u8 = 2;
const MSG_SHUTDOWN_ALL: u8 = 3;

/// The requester of a shutdown asked on another node: nobody here to answer.
const NO_REQUESTER: ConnId = ConnId(u64::MAX);

/// A shutdown waiting for the tracking clients' answers.
#[derive(Clone, Debug)]
struct Shutdown {
    requester: ConnId,
    /// The response the requester waits for (TRYSHUTDOWN's or SHUTDOWN_CLUSTER's).
    reply_id: i32,
    flags: u32,
    /// Clients asked that have not answered yet.
    waiting: BTreeSet<ConnId>,
    /// Some client said no.
    vetoed: bool,
    /// When the question was asked (set by the next tick).
    asked_at: Option<Duration>,
}

/// The cfg service of one node.
pub struct Cfg {
    me: NodeId,
    /// Every configured node's addresses, link 0 first.
    addrs: BTreeMap<NodeId, Vec<IpAddr>>,
    /// Clients tracking shutdowns (`corosync_cfg_trackstart`).
    trackers: BTreeSet<ConnId>,
    shutdown: Option<Shutdown>,
    /// The latest tick.
    now: Duration,
}

impl Cfg {
    /// cfg on node `me`, which knows the configured addresses of every node.
    pub fn new(me: NodeId, addrs: BTreeMap<NodeId, Vec<IpAddr>>) -> Self {
        Self {
            me,
            addrs,
            trackers: BTreeSet::new(),
            shutdown: None,
            now: Duration::ZERO,
        }
    }

    fn node_addrs(&self, nodeid: NodeId) -> CfgResponse {
        let nodeid = if nodeid.0 == 0 { self.me } else { nodeid };
        let addrs = self.addrs.get(&nodeid).cloned().unwrap_or_default();
        CfgResponse::NodeAddrs {
            error: if addrs.is_empty() {
                CsStatus::ERR_NOT_EXIST
            } else {
                CsStatus::OK
            },
            addrs,
        }
    }

    /// A node's status per link, as `corosync-cfgtool -s` and `-n` show it.
    fn node_status(&self, fx: &mut Effects<'_>, nodeid: NodeId, version: u32) -> CfgResponse {
        if version != CfgNodeStatus::V1 {
            return CfgResponse::NodeStatusVersion {
                error: CsStatus::ERR_NOT_SUPPORTED,
                version,
            };
        }
        let nodeid = if nodeid.0 == 0 { self.me } else { nodeid };
        let (Some(mine), Some(theirs)) = (self.addrs.get(&self.me), self.addrs.get(&nodeid)) else {
            return CfgResponse::Bare {
                id: cfg_response_id::NODESTATUSGET,
                error: CsStatus::ERR_NOT_EXIST,
            };
        };
        let all = fx.keys();
        let mtu = match all.default.get("runtime.config.totem.netmtu") {
            Some(CmapValue::U32(mtu)) => *mtu,
            _ => 0,
        };
        // As corosync fills it: knet gives both ends (`corosync-cfgtool` prints
        // "src->dst") and whether the peer is remote; udpu gives the peer's address as the
        // source and no destination (`-s` prints it as the link's "addr").
        let knet =
            matches!(all.default.get("totem.transport"), Some(CmapValue::Str(t)) if t == b"knet");
        let keys = &all.stats;
        let mut status = CfgNodeStatus {
            version: CfgNodeStatus::V1,
            nodeid,
            remote: knet && nodeid != self.me,
            ..CfgNodeStatus::default()
        };
        let keys_connected = |link: usize| {
            matches!(
                keys.get(&format!("stats.knet.node{}.link{link}.connected", nodeid.0)),
                Some(CmapValue::U8(1))
            )
        };
        for (link, slot) in status.links.iter_mut().enumerate().take(CFG_LINKS_MAX) {
            let (Some(src), Some(dst)) = (mine.get(link), theirs.get(link)) else {
                continue;
            };
            let connected = nodeid == self.me || keys_connected(link);
            let (src, dst) = if knet {
                (src.to_string(), dst.to_string())
            } else {
                (dst.to_string(), String::new())
            };
            *slot = CfgLinkStatus {
                enabled: true,
                connected,
                dynconnected: knet && connected,
                mtu,
                src_ipaddr: CfgLinkAddress::new(src).unwrap_or_default(),
                dst_ipaddr: CfgLinkAddress::new(dst).unwrap_or_default(),
            };
        }
        status.reachable = status.links.iter().any(|l| l.connected);
        CfgResponse::NodeStatus {
            error: CsStatus::OK,
            status: Box::new(status),
        }
    }

    /// corosync 1/2's ring status: one line per link of this node, as corosync 3 still
    /// answers it (`corosync-cfgtool` of those versions, and old scripts).
    fn ring_status(&self, fx: &mut Effects<'_>) -> CfgResponse {
        let mine = self.addrs.get(&self.me).cloned().unwrap_or_default();
        let peers: Vec<NodeId> = self
            .addrs
            .keys()
            .copied()
            .filter(|n| *n != self.me)
            .collect();
        let stats = &fx.keys().stats;
        let interfaces = mine
            .iter()
            .enumerate()
            .take(CFG_INTERFACES_MAX)
            .map(|(link, addr)| {
                let down: Vec<String> = peers
                    .iter()
                    .filter(|p| {
                        !matches!(
                            stats.get(&format!("stats.knet.node{}.link{link}.connected", p.0)),
                            Some(CmapValue::U8(1))
                        )
                    })
                    .map(|p| p.0.to_string())
                    .collect();
                let text = if down.is_empty() {
                    format!("ring {link} active with no faults")
                } else {
                    format!(
                        "ring {link} faulty: no contact with node(s) {}",
                        down.join(" ")
                    )
                };
                (
                    CfgInterfaceName::new(addr.to_string()).unwrap_or_default(),
                    CfgInterfaceStatus::new(text).unwrap_or_default(),
                )
            })
            .collect();
        CfgResponse::RingStatus {
            error: CsStatus::OK,
            interfaces: CfgRingStatus::new(interfaces).unwrap_or_default(),
        }
    }

    /// TRYSHUTDOWN: ask the tracking clients unless told not to; `None` when the answer
    /// waits for them.
    fn try_shutdown(
        &mut self,
        fx: &mut Effects<'_>,
        conn: ConnId,
        reply_id: i32,
        flags: u32,
    ) -> Option<CsStatus> {
        if self.shutdown.is_some() {
            return Some(CsStatus::ERR_EXIST);
        }
        let asked: BTreeSet<ConnId> = if flags == cfg_shutdown_flags::IMMEDIATE {
            BTreeSet::new()
        } else {
            self.trackers
                .iter()
                .copied()
                .filter(|c| *c != conn)
                .collect()
        };
        for &client in &asked {
            fx.event(client, CfgEvent::TestShutdown { flags }.to_vec());
        }
        self.shutdown = Some(Shutdown {
            requester: conn,
            reply_id,
            flags,
            waiting: asked,
            vetoed: false,
            asked_at: None,
        });
        self.settle_shutdown(fx)
    }

    /// Decides the pending shutdown once every asked client answered (or the time is up):
    /// a veto refuses a plain REQUEST with BUSY; otherwise the node goes.
    fn settle_shutdown(&mut self, fx: &mut Effects<'_>) -> Option<CsStatus> {
        let pending = self.shutdown.as_ref()?;
        let timed_out = pending
            .asked_at
            .is_some_and(|t| self.now.saturating_sub(t) >= SHUTDOWN_TIMEOUT);
        if !pending.waiting.is_empty() && !timed_out {
            return None;
        }
        let pending = self.shutdown.take()?;
        if pending.vetoed && pending.flags == cfg_shutdown_flags::REQUEST {
            tracing::info!("shutdown refused: a client said no");
            return Some(CsStatus::ERR_BUSY);
        }
        if timed_out {
            tracing::warn!(
                clients = pending.waiting.len(),
                "shutdown: clients did not answer within {SHUTDOWN_TIMEOUT:?}; going anyway"
            );
        }
        fx.control(Control::Exit {
            reason: "cfg shutdown requested".to_owned(),
        });
        Some(CsStatus::OK)
    }

    fn reply_shutdown(fx: &mut Effects<'_>, status: Option<CsStatus>, conn: ConnId, reply_id: i32) {
        if let Some(error) = status
            && conn != NO_REQUESTER
        {
            fx.reply(
                conn,
                CfgResponse::Bare {
                    id: reply_id,
                    error,
                }
                .to_vec(),
            );
        }
    }

    /// A client left or answered: the pending shutdown may be decided now.
    fn shutdown_progress(&mut self, fx: &mut Effects<'_>) {
        let Some((requester, reply_id)) = self.shutdown.as_ref().map(|s| (s.requester, s.reply_id))
        else {
            return;
        };
        let status = self.settle_shutdown(fx);
        Self::reply_shutdown(fx, status, requester, reply_id);
    }

    /// A cluster-wide shutdown reached this node: it asks its own tracking clients. The
    /// requesting node's client hears this node's outcome.
    fn shutdown_all_delivered(
        &mut self,
        fx: &mut Effects<'_>,
        origin: NodeId,
        flags: u32,
        conn: ConnId,
    ) {
        let requester = if origin == self.me {
            conn
        } else {
            NO_REQUESTER
        };
        let reply_id = cfg_response_id::SHUTDOWN_CLUSTER;
        tracing::info!(%origin, flags, "cluster-wide shutdown requested");
        let status = self.try_shutdown(fx, requester, reply_id, flags);
        Self::reply_shutdown(fx, status, requester, reply_id);
    }
}

/// The requesting connection carried in a ring message at `at` (little-endian u64); the
/// caller checked the length.
fn conn_at(body: &[u8], at: usize) -> ConnId {
    let mut conn = [0u8; 8];
    conn.copy_from_slice(&body[at..at + 8]);
    ConnId(u64::from_le_bytes(conn))
}

/// The answer corosync's library waits for after RELOAD_CONFIG, with the reload's result.
pub fn reload_response(ok: bool) -> Vec<u8> {
    CfgResponse::Bare {
        id: cfg_response_id::RELOAD_CONFIG,
        error: if ok {
            CsStatus::OK
        } else {
            CsStatus::ERR_INVALID_PARAM
        },
    }
    .to_vec()
}

impl Service for Cfg {
    fn id(&self) -> ServiceId {
        ServiceId::CFG
    }

    fn connect(
        &mut self,
        _fx: &mut Effects<'_>,
        _conn: ConnId,
        _client: Credentials,
        _channel: u8,
    ) {
    }

    fn disconnect(&mut self, fx: &mut Effects<'_>, conn: ConnId) {
        self.trackers.remove(&conn);
        if let Some(pending) = &mut self.shutdown {
            if pending.requester == conn {
                // Nobody to answer, but the request stands, as in corosync.
                pending.requester = NO_REQUESTER;
            }
            pending.waiting.remove(&conn);
        }
        self.shutdown_progress(fx);
    }

    fn request(&mut self, fx: &mut Effects<'_>, conn: ConnId, msg: &[u8], _room: usize) {
        let request = match CfgRequest::decode(msg) {
            Ok(request) => request,
            Err(e) => {
                tracing::warn!(%conn, "cfg client sent a bad request ({e}); disconnecting it");
                fx.disconnect(conn);
                return;
            }
        };
        let bare = |id, error| CfgResponse::Bare { id, error };
        let response = match request {
            CfgRequest::LocalGet => CfgResponse::LocalGet {
                local_nodeid: self.me,
            },
            CfgRequest::GetNodeAddrs { nodeid } => self.node_addrs(nodeid),
            CfgRequest::NodeStatusGet { nodeid, version } => self.node_status(fx, nodeid, version),
            CfgRequest::RingStatusGet => self.ring_status(fx),
            CfgRequest::RingReenable => bare(cfg_response_id::RINGREENABLE, CsStatus::OK),
            CfgRequest::ReloadConfig => {
                // Every node reloads when this is delivered; this node answers then.
                let mut body = vec![MSG_RELOAD];
                body.extend_from_slice(&conn.0.to_le_bytes());
                fx.multicast(&body, Order::Agreed);
                return;
            }
            CfgRequest::ReopenLogFiles => {
                fx.control(Control::ReopenLogs);
                bare(cfg_response_id::REOPEN_LOG_FILES, CsStatus::OK)
            }
            CfgRequest::KillNode { nodeid, reason } => {
                if !self.addrs.contains_key(&nodeid) {
                    bare(cfg_response_id::KILLNODE, CsStatus::ERR_NOT_EXIST)
                } else {
                    let mut body = vec![MSG_KILL];
                    body.extend_from_slice(&nodeid.0.to_le_bytes());
                    body.extend_from_slice(reason.as_bytes());
                    fx.multicast(&body, Order::Agreed);
                    bare(cfg_response_id::KILLNODE, CsStatus::OK)
                }
            }
            CfgRequest::TryShutdown { flags } => {
                if flags > cfg_shutdown_flags::IMMEDIATE {
                    bare(cfg_response_id::TRYSHUTDOWN, CsStatus::ERR_INVALID_PARAM)
                } else {
                    let reply_id = cfg_response_id::TRYSHUTDOWN;
                    let status = self.try_shutdown(fx, conn, reply_id, flags);
                    Self::reply_shutdown(fx, status, conn, reply_id);
                    return;
                }
            }
            CfgRequest::ShutdownCluster { flags } => {
                if flags > cfg_shutdown_flags::IMMEDIATE {
                    bare(
                        cfg_response_id::SHUTDOWN_CLUSTER,
                        CsStatus::ERR_INVALID_PARAM,
                    )
                } else {
                    // Safe delivery: every member holds it before any node acts on it, so
                    // the first node to go cannot take it down with it.
                    let mut body = vec![MSG_SHUTDOWN_ALL];
                    body.extend_from_slice(&flags.to_le_bytes());
                    body.extend_from_slice(&conn.0.to_le_bytes());
                    fx.multicast(&body, Order::Safe);
                    return;
                }
            }
            CfgRequest::ReplyToShutdown { response } => {
                fx.reply(
                    conn,
                    bare(cfg_response_id::REPLYTOSHUTDOWN, CsStatus::OK).to_vec(),
                );
                if let Some(pending) = &mut self.shutdown
                    && pending.waiting.remove(&conn)
                {
                    if response == cfg_shutdown_reply::NO {
                        pending.vetoed = true;
                    }
                    self.shutdown_progress(fx);
                }
                return;
            }
            CfgRequest::TrackStart { .. } => {
                self.trackers.insert(conn);
                bare(cfg_response_id::TRACKSTART, CsStatus::OK)
            }
            CfgRequest::TrackStop => {
                self.trackers.remove(&conn);
                bare(cfg_response_id::TRACKSTOP, CsStatus::OK)
            }
            CfgRequest::Other { id } => match cfg_response_id_for(id) {
                Some(id) => bare(id, CsStatus::ERR_NOT_SUPPORTED),
                // corosync's dispatcher: an unknown request id gets id 0, INVALID_PARAM.
                None => bare(0, CsStatus::ERR_INVALID_PARAM),
            },
        };
        fx.reply(conn, response.to_vec());
    }

    fn deliver(&mut self, fx: &mut Effects<'_>, origin: NodeId, body: Bytes) {
        match body.first() {
            Some(&MSG_RELOAD) if body.len() == 9 => {
                let reply = (origin == self.me).then(|| conn_at(&body, 1));
                tracing::info!(%origin, "configuration reload requested");
                fx.control(Control::ReloadConfig { reply });
            }
            Some(&MSG_KILL) if body.len() >= 5 => {
                let target = NodeId(u32::from_le_bytes([body[1], body[2], body[3], body[4]]));
                if target == self.me {
                    let reason = String::from_utf8_lossy(&body[5..]);
                    fx.control(Control::Exit {
                        reason: format!("killed by node {origin} (cfg killnode: {reason})"),
                    });
                }
            }
            Some(&MSG_SHUTDOWN_ALL) if body.len() == 13 => {
                let flags = u32::from_le_bytes([body[1], body[2], body[3], body[4]]);
                self.shutdown_all_delivered(fx, origin, flags, conn_at(&body, 5));
            }
            _ => tracing::warn!(%origin, "undecodable cfg message dropped"),
        }
    }

    fn configuration(&mut self, _fx: &mut Effects<'_>, _membership: &Membership) {}

    fn sync_init(&mut self, _fx: &mut Effects<'_>, _membership: &Membership) {}

    fn sync_deliver(&mut self, _origin: NodeId, _body: Bytes) {}

    fn sync_activate(&mut self, _fx: &mut Effects<'_>) {}

    fn sync_abort(&mut self) {}

    fn needs_sync(&self) -> bool {
        false
    }

    fn tick(&mut self, fx: &mut Effects<'_>, now: Duration) {
        self.now = now;
        if let Some(pending) = &mut self.shutdown
            && pending.asked_at.is_none()
        {
            pending.asked_at = Some(now);
        }
        self.shutdown_progress(fx);
    }

    fn reconfigure(&mut self, _fx: &mut Effects<'_>, settings: &ServiceSettings) {
        self.addrs.clone_from(&settings.node_addrs);
    }

    fn digest(&self) -> u64 {
        0
    }

    fn describe(&self) -> String {
        "cfg {}".to_owned()
    }
}

#[cfg(test)]
mod tests;
