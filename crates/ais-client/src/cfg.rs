//! cfg, the configuration and status service (libcfg; reference §2.6): the local node id,
//! a node's addresses and link status, reloading the configuration, reopening the logs,
//! killing a node, and shutting the local daemon down.
//!
//! Shutdown is a conversation. [`Cfg::try_shutdown`] asks the daemon to stop; unless the
//! request is [`ShutdownFlags::Immediate`], the daemon first sends an
//! [`Event::TestShutdown`] to every connection that called [`Cfg::track_start`], and each
//! answers with [`Cfg::reply_to_shutdown`] (Pacemaker answers no while it runs). The
//! `try_shutdown` call returns once they all answered or the daemon stopped waiting.
//!
//! Invariant: one response is read right after each request; events wait until
//! [`Cfg::dispatch`] reads them.
//!
//! ```no_run
//! use std::ops::ControlFlow;
//! use ais_client::cfg::{Cfg, Event, ShutdownReply};
//! use ais_client::{Dispatch, Options};
//!
//! let mut cfg = Cfg::connect(&Options::from_env())?;
//! let me = cfg.local_nodeid()?;
//! let status = cfg.node_status(me)?;
//! println!("node {me}: reachable {}", status.reachable);
//!
//! // Refuse shutdown requests while we are busy.
//! cfg.track_start()?;
//! let mut asked = false;
//! cfg.dispatch(Dispatch::Blocking, &mut |Event::TestShutdown { .. }| {
//!     asked = true;
//!     ControlFlow::Break(())
//! })?;
//! if asked {
//!     cfg.reply_to_shutdown(ShutdownReply::No)?;
//! }
//! # Ok::<(), ais_client::Error>(())
//! ```

use std::net::IpAddr;
use std::ops::ControlFlow;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use ais_types::NodeId;
use ais_wire::ipc::{
    CfgEvent, CfgRequest, CfgResponse, CsName, cfg_shutdown_flags, cfg_shutdown_reply,
};
pub use ais_wire::ipc::{CfgLinkStatus, CfgNodeStatus};

use crate::conn::{Conn, protocol};
use crate::error::{Error, Result};
use crate::{Dispatch, Options};

/// How a shutdown request treats the tracking clients (`corosync_cfg_shutdown_flags_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShutdownFlags {
    /// Stop only if no tracking client says no (`COROSYNC_CFG_SHUTDOWN_FLAG_REQUEST`).
    Request,
    /// Ask the tracking clients, then stop whatever they say
    /// (`COROSYNC_CFG_SHUTDOWN_FLAG_REGARDLESS`).
    Regardless,
    /// Stop without asking (`COROSYNC_CFG_SHUTDOWN_FLAG_IMMEDIATE`).
    Immediate,
}

impl ShutdownFlags {
    fn to_wire(self) -> u32 {
        match self {
            Self::Request => cfg_shutdown_flags::REQUEST,
            Self::Regardless => cfg_shutdown_flags::REGARDLESS,
            Self::Immediate => cfg_shutdown_flags::IMMEDIATE,
        }
    }

    fn from_wire(flags: u32) -> Option<Self> {
        Some(match flags {
            cfg_shutdown_flags::REQUEST => Self::Request,
            cfg_shutdown_flags::REGARDLESS => Self::Regardless,
            cfg_shutdown_flags::IMMEDIATE => Self::Immediate,
            _ => return None,
        })
    }
}

/// A tracking client's answer to a shutdown request (`corosync_cfg_shutdown_reply_flags_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShutdownReply {
    /// Do not stop (`COROSYNC_CFG_SHUTDOWN_FLAG_NO`).
    No,
    /// Fine to stop (`COROSYNC_CFG_SHUTDOWN_FLAG_YES`).
    Yes,
}

/// Something the daemon tells a cfg connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A shutdown was requested (`corosync_cfg_shutdown_callback_t`): answer with
    /// [`Cfg::reply_to_shutdown`]. Only sent after [`Cfg::track_start`].
    TestShutdown {
        /// How the requester asked.
        flags: ShutdownFlags,
    },
}

/// One connection to the local daemon's cfg service.
#[derive(Debug)]
pub struct Cfg {
    conn: Conn,
}

impl Cfg {
    /// Connects to `<prefix>cfg` (`corosync_cfg_initialize`).
    pub fn connect(options: &Options) -> Result<Self> {
        Ok(Self {
            conn: Conn::connect(options, "cfg")?,
        })
    }

    /// This node's id (`corosync_cfg_local_get`).
    pub fn local_nodeid(&mut self) -> Result<NodeId> {
        match self.request(&CfgRequest::LocalGet)? {
            CfgResponse::LocalGet { local_nodeid } => Ok(local_nodeid),
            other => unexpected(&other),
        }
    }

    /// The configured addresses of `nodeid` (`NodeId(0)`: this node), link 0 first
    /// (`corosync_cfg_get_node_addrs`). A node without addresses is `CS_ERR_NOT_EXIST`.
    pub fn node_addrs(&mut self, nodeid: NodeId) -> Result<Vec<IpAddr>> {
        match self.request(&CfgRequest::GetNodeAddrs { nodeid })? {
            CfgResponse::NodeAddrs { addrs, .. } => Ok(addrs),
            other => unexpected(&other),
        }
    }

    /// `nodeid`'s reachability and per-link status (`corosync_cfg_node_status_get` with
    /// `CFG_NODE_STATUS_V1`, what `corosync-cfgtool -s` prints).
    pub fn node_status(&mut self, nodeid: NodeId) -> Result<CfgNodeStatus> {
        let request = CfgRequest::NodeStatusGet {
            nodeid,
            version: CfgNodeStatus::V1,
        };
        match self.request(&request)? {
            CfgResponse::NodeStatus { status, .. } => Ok(*status),
            other => unexpected(&other),
        }
    }

    /// The legacy per-interface status strings, name and status for each
    /// (`corosync_cfg_ring_status_get`).
    pub fn ring_status(&mut self) -> Result<Vec<(String, String)>> {
        match self.request(&CfgRequest::RingStatusGet)? {
            CfgResponse::RingStatus { interfaces, .. } => Ok(interfaces
                .iter()
                .map(|(name, status)| (name.to_string_lossy(), status.to_string_lossy()))
                .collect()),
            other => unexpected(&other),
        }
    }

    /// Re-enables faulty rings (`corosync_cfg_ring_reenable`; `corosync-cfgtool -r`).
    pub fn ring_reenable(&mut self) -> Result<()> {
        self.bare(&CfgRequest::RingReenable)
    }

    /// Reloads corosync.conf on every node (`corosync_cfg_reload_config`;
    /// `corosync-cfgtool -R`).
    pub fn reload_config(&mut self) -> Result<()> {
        self.bare(&CfgRequest::ReloadConfig)
    }

    /// Reopens the log files (`corosync_cfg_reopen_log_files`; `corosync-cfgtool -L`).
    pub fn reopen_log_files(&mut self) -> Result<()> {
        self.bare(&CfgRequest::ReopenLogFiles)
    }

    /// Tells `nodeid` to leave the cluster, logging `reason` there (at most 255 bytes, no
    /// NUL) (`corosync_cfg_kill_node`; `corosync-cfgtool -k`).
    pub fn kill_node(&mut self, nodeid: NodeId, reason: &str) -> Result<()> {
        let reason = CsName::new(reason).map_err(|e| Error::Invalid(e.to_string()))?;
        self.bare(&CfgRequest::KillNode { nodeid, reason })
    }

    /// Asks the local daemon to shut down (`corosync_cfg_try_shutdown`;
    /// `corosync-cfgtool -H`). Returns when the daemon has decided: `Ok` when it will stop,
    /// `CS_ERR_BUSY` when a tracking client said no. Do not call it from a connection that
    /// tracks shutdowns itself and must answer: this call blocks until the answers are in.
    pub fn try_shutdown(&mut self, flags: ShutdownFlags) -> Result<()> {
        self.bare(&CfgRequest::TryShutdown {
            flags: flags.to_wire(),
        })
    }

    /// Asks every node of the cluster to shut down (ours, not in corosync's library): each
    /// node asks its own tracking clients as `flags` says, so a node whose client refuses
    /// stays. The answer is this node's own outcome ([`Error::Busy`] if refused here).
    pub fn shutdown_cluster(&mut self, flags: ShutdownFlags) -> Result<()> {
        self.bare(&CfgRequest::ShutdownCluster {
            flags: flags.to_wire(),
        })
    }

    /// Shuts the local daemon down without asking the tracking clients: `try_shutdown`
    /// with [`ShutdownFlags::Immediate`], what Pacemaker does when it stops the cluster.
    pub fn shutdown(&mut self) -> Result<()> {
        self.try_shutdown(ShutdownFlags::Immediate)
    }

    /// Starts receiving [`Event::TestShutdown`] (`corosync_cfg_trackstart`).
    pub fn track_start(&mut self) -> Result<()> {
        self.bare(&CfgRequest::TrackStart { flags: 0 })
    }

    /// Stops receiving them (`corosync_cfg_trackstop`).
    pub fn track_stop(&mut self) -> Result<()> {
        self.bare(&CfgRequest::TrackStop)
    }

    /// Answers a shutdown request (`corosync_cfg_replyto_shutdown`).
    pub fn reply_to_shutdown(&mut self, reply: ShutdownReply) -> Result<()> {
        let response = match reply {
            ShutdownReply::No => cfg_shutdown_reply::NO,
            ShutdownReply::Yes => cfg_shutdown_reply::YES,
        };
        self.bare(&CfgRequest::ReplyToShutdown { response })
    }

    /// The fd to poll for events (`corosync_cfg_fd_get`). Check [`Cfg::pending`] first.
    pub fn fd(&self) -> RawFd {
        self.conn.fd()
    }

    /// Whether events already read from the daemon wait for a dispatch.
    pub fn pending(&self) -> bool {
        self.conn.pending()
    }

    /// Waits at most `timeout` (`None`: forever) until an event is ready; `Ok(false)` on
    /// timeout.
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<bool> {
        self.conn.wait(timeout)
    }

    /// Hands events to `handler` (`corosync_cfg_dispatch`); returns how many it got. The
    /// handler cannot call back into this connection: note the request and answer it with
    /// [`Cfg::reply_to_shutdown`] after the dispatch.
    pub fn dispatch(
        &mut self,
        mode: Dispatch,
        handler: &mut dyn FnMut(Event) -> ControlFlow<()>,
    ) -> Result<usize> {
        self.conn
            .dispatch(mode, &mut |raw| convert(raw).map(Some), handler)
    }

    /// The IPC name this connection uses, prefix included.
    pub fn ipc_name(&self) -> &str {
        self.conn.name()
    }

    /// Sends `request` and decodes its response, whose status must be `CS_OK`.
    fn request(&mut self, request: &CfgRequest) -> Result<CfgResponse> {
        decode_response(self.conn.request(&request.to_vec())?)
    }

    /// A request answered by a bare response with the id libcfg waits for.
    fn bare(&mut self, request: &CfgRequest) -> Result<()> {
        match self.request(request)? {
            CfgResponse::Bare { id, .. } if Some(id) == request.response_id() => Ok(()),
            other => unexpected(&other),
        }
    }
}

impl AsRawFd for Cfg {
    fn as_raw_fd(&self) -> RawFd {
        self.fd()
    }
}

/// Decodes a response and checks its status.
fn decode_response(raw: &[u8]) -> Result<CfgResponse> {
    let response = CfgResponse::decode(raw).map_err(protocol)?;
    Error::check(response.error())?;
    Ok(response)
}

fn unexpected<T>(response: &CfgResponse) -> Result<T> {
    Err(Error::Protocol(format!(
        "unexpected cfg response id {} of {} bytes",
        response.id(),
        response.encoded_len()
    )))
}

fn convert(raw: &[u8]) -> Result<Event> {
    let CfgEvent::TestShutdown { flags } = CfgEvent::decode(raw).map_err(protocol)?;
    let flags = ShutdownFlags::from_wire(flags)
        .ok_or_else(|| Error::Protocol(format!("cfg shutdown flags {flags}")))?;
    Ok(Event::TestShutdown { flags })
}

#[cfg(test)]
mod tests {
    use ais_wire::ipc::{CsStatus, cfg_response_id};

    use super::*;

    #[test]
    fn node_addresses_decode_from_the_services_encoding() {
        let addrs: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap(), "10.1.2.3".parse().unwrap()];
        let buf = CfgResponse::NodeAddrs {
            error: CsStatus::OK,
            addrs: addrs.clone(),
        }
        .to_vec();
        assert!(matches!(
            decode_response(&buf),
            Ok(CfgResponse::NodeAddrs { addrs: got, .. }) if got == addrs
        ));
        let v6: Vec<IpAddr> = vec!["fe80::1".parse().unwrap()];
        let buf = CfgResponse::NodeAddrs {
            error: CsStatus::OK,
            addrs: v6.clone(),
        }
        .to_vec();
        assert!(matches!(
            decode_response(&buf),
            Ok(CfgResponse::NodeAddrs { addrs: got, .. }) if got == v6
        ));
    }

    #[test]
    fn an_unknown_node_is_an_error_status() {
        let buf = CfgResponse::NodeAddrs {
            error: CsStatus::ERR_NOT_EXIST,
            addrs: Vec::new(),
        }
        .to_vec();
        assert!(matches!(
            decode_response(&buf),
            Err(Error::Cs(CsStatus::ERR_NOT_EXIST))
        ));
        assert!(matches!(decode_response(&[0; 8]), Err(Error::Protocol(_))));
        // The dispatcher's generic reply to a request it cannot take.
        let busy = CfgResponse::Bare {
            id: 0,
            error: CsStatus::ERR_TRY_AGAIN,
        }
        .to_vec();
        assert!(matches!(decode_response(&busy), Err(Error::TryAgain)));
        // An unsupported node status layout.
        let version = CfgResponse::NodeStatusVersion {
            error: CsStatus::ERR_NOT_SUPPORTED,
            version: 2,
        }
        .to_vec();
        assert!(matches!(
            decode_response(&version),
            Err(Error::Cs(CsStatus::ERR_NOT_SUPPORTED))
        ));
    }

    #[test]
    fn shutdown_events_convert() {
        let raw = CfgEvent::TestShutdown {
            flags: cfg_shutdown_flags::REGARDLESS,
        }
        .to_vec();
        assert_eq!(
            convert(&raw).unwrap(),
            Event::TestShutdown {
                flags: ShutdownFlags::Regardless
            }
        );
        let raw = CfgEvent::TestShutdown { flags: 9 }.to_vec();
        assert!(matches!(convert(&raw), Err(Error::Protocol(_))));
        for flags in [
            ShutdownFlags::Request,
            ShutdownFlags::Regardless,
            ShutdownFlags::Immediate,
        ] {
            assert_eq!(ShutdownFlags::from_wire(flags.to_wire()), Some(flags));
        }
    }

    #[test]
    fn bare_replies_must_answer_the_request() {
        let request = CfgRequest::KillNode {
            nodeid: NodeId(2),
            reason: CsName::new("test").unwrap(),
        };
        assert_eq!(request.response_id(), Some(cfg_response_id::KILLNODE));
        let raw = CfgResponse::Bare {
            id: cfg_response_id::KILLNODE,
            error: CsStatus::OK,
        }
        .to_vec();
        assert!(matches!(
            decode_response(&raw),
            Ok(CfgResponse::Bare { id, .. }) if Some(id) == request.response_id()
        ));
    }
}
