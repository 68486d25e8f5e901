//! votequorum: each node's votes and the cluster's quorum arithmetic, changing expected
//! votes and votes, and notifications of quorum, membership and expected-vote changes
//! (libvotequorum; reference §2.4). The quorum-device calls are left to corosync-qdevice.
//!
//! Invariant: one response is read right after each request; notifications wait until
//! [`Votequorum::dispatch`] reads them.
//!
//! ```no_run
//! use std::ops::ControlFlow;
//! use ais_client::votequorum::{Event, TrackFlags, Votequorum, info_flags};
//! use ais_client::{Dispatch, Options};
//! use ais_types::NodeId;
//!
//! let mut vq = Votequorum::connect(&Options::from_env())?;
//! let info = vq.get_info(NodeId(0))?; // 0: this node
//! println!(
//!     "node {}: {} votes, quorum {}, quorate {}",
//!     info.nodeid,
//!     info.votes,
//!     info.quorum,
//!     info.flags & info_flags::QUORATE != 0
//! );
//! vq.track_start(7, TrackFlags::CURRENT)?;
//! vq.dispatch(Dispatch::Blocking, &mut |event| match event {
//!     Event::Nodelist { nodes, .. } => {
//!         println!("members {nodes:?}");
//!         ControlFlow::Continue(())
//!     }
//!     // The quorum notification follows the node list.
//!     _ => ControlFlow::Break(()),
//! })?;
//! # Ok::<(), ais_client::Error>(())
//! ```

use std::ops::ControlFlow;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use ais_types::{NodeId, RingId};
pub use ais_wire::ipc::{
    TrackFlags, VotequorumInfo, VotequorumNode as Node, votequorum_info_flags as info_flags,
    votequorum_node_state as node_state,
};
use ais_wire::ipc::{VotequorumEvent, VotequorumRequest, VotequorumResponse};

use crate::conn::{Conn, protocol};
use crate::error::{Error, Result};
use crate::{Dispatch, Options};

/// A notification, each carrying the `context` given to [`Votequorum::track_start`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Quorum state and every known node's state
    /// (`votequorum_quorum_notification_fn_t`).
    Quorum {
        /// The tracker's context.
        context: u64,
        /// Whether the cluster is quorate.
        quorate: bool,
        /// Every known node with its [`node_state`]; node 0 is the quorum device.
        nodes: Vec<Node>,
    },
    /// The ring's members (`votequorum_nodelist_notification_fn_t`).
    Nodelist {
        /// The tracker's context.
        context: u64,
        /// The ring.
        ring_id: RingId,
        /// Its members.
        nodes: Vec<NodeId>,
    },
    /// The expected votes changed (`votequorum_expectedvotes_notification_fn_t`).
    ExpectedVotes {
        /// The tracker's context.
        context: u64,
        /// The new expected votes.
        expected_votes: u32,
    },
}

impl From<VotequorumEvent> for Event {
    fn from(e: VotequorumEvent) -> Self {
        match e {
            VotequorumEvent::Quorum {
                context,
                quorate,
                nodes,
            } => Self::Quorum {
                context,
                quorate,
                nodes: nodes.into_vec(),
            },
            VotequorumEvent::Nodelist {
                context,
                ring_id,
                nodes,
            } => Self::Nodelist {
                context,
                ring_id,
                nodes: nodes.into_vec(),
            },
            VotequorumEvent::ExpectedVotes {
                context,
                expected_votes,
            } => Self::ExpectedVotes {
                context,
                expected_votes,
            },
        }
    }
}

/// One connection to the local daemon's votequorum service.
#[derive(Debug)]
pub struct Votequorum {
    conn: Conn,
}

impl Votequorum {
    /// Connects to `<prefix>votequorum` (`votequorum_initialize`).
    pub fn connect(options: &Options) -> Result<Self> {
        Ok(Self {
            conn: Conn::connect(options, "votequorum")?,
        })
    }

    /// `nodeid`'s votes and state with the cluster's quorum figures
    /// (`votequorum_getinfo`); `NodeId(0)` is this node. An unknown node is
    /// `CS_ERR_NOT_EXIST`.
    pub fn get_info(&mut self, nodeid: NodeId) -> Result<VotequorumInfo> {
        match self.request(&VotequorumRequest::GetInfo { nodeid })? {
            VotequorumResponse::GetInfo { info, .. } => Ok(info),
            other => unexpected(&other),
        }
    }

    /// Sets the cluster's expected votes (`votequorum_setexpected`); a value that would
    /// make the cluster lose quorum is `CS_ERR_INVALID_PARAM`.
    pub fn set_expected(&mut self, expected_votes: u32) -> Result<()> {
        self.status(&VotequorumRequest::SetExpected { expected_votes })
    }

    /// Sets `nodeid`'s votes (`votequorum_setvotes`); an unknown node is
    /// `CS_ERR_NAME_NOT_FOUND`.
    pub fn set_votes(&mut self, nodeid: NodeId, votes: u32) -> Result<()> {
        self.status(&VotequorumRequest::SetVotes { votes, nodeid })
    }

    /// Starts notifications (`votequorum_trackstart`), each carrying `context`. With
    /// [`TrackFlags::CURRENT`] or [`TrackFlags::CHANGES`] an [`Event::Nodelist`] then an
    /// [`Event::Quorum`] are sent at once; with CHANGES or [`TrackFlags::CHANGES_ONLY`]
    /// every later change.
    pub fn track_start(&mut self, context: u64, flags: TrackFlags) -> Result<()> {
        self.status(&VotequorumRequest::TrackStart { context, flags })
    }

    /// Stops notifications (`votequorum_trackstop`); not tracking is `CS_ERR_NOT_EXIST`.
    pub fn track_stop(&mut self) -> Result<()> {
        self.status(&VotequorumRequest::TrackStop)
    }

    /// The fd to poll for notifications (`votequorum_fd_get`). Check
    /// [`Votequorum::pending`] first.
    pub fn fd(&self) -> RawFd {
        self.conn.fd()
    }

    /// Whether notifications already read from the daemon wait for a dispatch.
    pub fn pending(&self) -> bool {
        self.conn.pending()
    }

    /// Waits at most `timeout` (`None`: forever) until a notification is ready; `Ok(false)`
    /// on timeout.
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<bool> {
        self.conn.wait(timeout)
    }

    /// Hands notifications to `handler` (`votequorum_dispatch`); returns how many it got.
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

    /// Sends `req` and decodes its response, whose status must be `CS_OK`.
    fn request(&mut self, req: &VotequorumRequest) -> Result<VotequorumResponse> {
        let raw = self.conn.request(&req.to_vec())?;
        let response = VotequorumResponse::decode(raw).map_err(protocol)?;
        Error::check(response.error())?;
        Ok(response)
    }

    /// A request answered by the bare STATUS response.
    fn status(&mut self, req: &VotequorumRequest) -> Result<()> {
        match self.request(req)? {
            VotequorumResponse::Status(_) => Ok(()),
            other => unexpected(&other),
        }
    }
}

impl AsRawFd for Votequorum {
    fn as_raw_fd(&self) -> RawFd {
        self.fd()
    }
}

fn unexpected<T>(response: &VotequorumResponse) -> Result<T> {
    Err(Error::Protocol(format!(
        "unexpected votequorum response id {}",
        response.id()
    )))
}

fn convert(raw: &[u8]) -> Result<Event> {
    VotequorumEvent::decode(raw)
        .map(Event::from)
        .map_err(protocol)
}

#[cfg(test)]
mod tests {
    use ais_wire::ipc::{CsStatus, MemberList, QdeviceName};

    use super::*;

    #[test]
    fn events_convert() {
        let raw = VotequorumEvent::Quorum {
            context: 7,
            quorate: true,
            nodes: MemberList::new(vec![Node {
                nodeid: NodeId(1),
                state: node_state::MEMBER,
            }])
            .unwrap(),
        }
        .to_vec();
        assert_eq!(
            convert(&raw).unwrap(),
            Event::Quorum {
                context: 7,
                quorate: true,
                nodes: vec![Node {
                    nodeid: NodeId(1),
                    state: node_state::MEMBER
                }],
            }
        );
        let raw = VotequorumEvent::Nodelist {
            context: 7,
            ring_id: RingId::new(NodeId(1), 4),
            nodes: MemberList::new(vec![NodeId(1), NodeId(2)]).unwrap(),
        }
        .to_vec();
        assert_eq!(
            convert(&raw).unwrap(),
            Event::Nodelist {
                context: 7,
                ring_id: RingId::new(NodeId(1), 4),
                nodes: vec![NodeId(1), NodeId(2)],
            }
        );
        let raw = VotequorumEvent::ExpectedVotes {
            context: 7,
            expected_votes: 3,
        }
        .to_vec();
        assert_eq!(
            convert(&raw).unwrap(),
            Event::ExpectedVotes {
                context: 7,
                expected_votes: 3
            }
        );
        assert!(matches!(convert(&[1; 30]), Err(Error::Protocol(_))));
    }

    #[test]
    fn getinfo_decodes_from_the_services_encoding() {
        let info = VotequorumInfo {
            nodeid: NodeId(2),
            state: node_state::MEMBER,
            votes: 1,
            expected_votes: 2,
            highest_expected: 2,
            total_votes: 2,
            quorum: 2,
            flags: info_flags::QUORATE | info_flags::TWONODE,
            qdevice_votes: 0,
            qdevice_name: QdeviceName::default(),
        };
        let raw = VotequorumResponse::GetInfo {
            error: CsStatus::OK,
            info: info.clone(),
        }
        .to_vec();
        assert_eq!(
            VotequorumResponse::decode(&raw),
            Ok(VotequorumResponse::GetInfo {
                error: CsStatus::OK,
                info
            })
        );
        let status = VotequorumResponse::Status(CsStatus::OK);
        assert!(matches!(unexpected::<()>(&status), Err(Error::Protocol(_))));
    }
}
