//! quorum: whether this node's partition is quorate, and notifications when that or the
//! membership changes (libquorum's `quorum_initialize` model, V0, as corosync-quorumtool
//! and Pacemaker use it; reference §2.3).
//!
//! Invariant: one response is read right after each request; notifications wait until
//! [`Quorum::dispatch`] reads them.
//!
//! ```no_run
//! use std::ops::ControlFlow;
//! use ais_client::quorum::{Quorum, TrackFlags};
//! use ais_client::{Dispatch, Options};
//!
//! let mut quorum = Quorum::connect(&Options::from_env())?;
//! println!("quorate: {}", quorum.get_quorate()?);
//! // The current state arrives at once as a notification, later changes follow.
//! quorum.track_start(TrackFlags::CURRENT)?;
//! quorum.dispatch(Dispatch::Blocking, &mut |n| {
//!     println!("ring {}: {} nodes, quorate {}", n.ring_seq, n.view_list.len(), n.quorate);
//!     ControlFlow::Break(())
//! })?;
//! quorum.track_stop()?;
//! # Ok::<(), ais_client::Error>(())
//! ```

use std::ops::ControlFlow;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use ais_types::NodeId;
pub use ais_wire::ipc::TrackFlags;
pub use ais_wire::ipc::quorum_type;
use ais_wire::ipc::{QuorumEvent, QuorumRequest, QuorumResponse};

use crate::conn::{Conn, protocol};
use crate::error::{Error, Result};
use crate::{Dispatch, Options};

/// A quorum notification (`quorum_notification_fn_t`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    /// Whether the partition has quorum.
    pub quorate: bool,
    /// The ring's sequence number.
    pub ring_seq: u64,
    /// The nodes of the quorum view.
    pub view_list: Vec<NodeId>,
}

/// One connection to the local daemon's quorum service.
#[derive(Debug)]
pub struct Quorum {
    conn: Conn,
    quorum_type: u32,
}

impl Quorum {
    /// Connects to `<prefix>quorum` and asks the quorum type, as `quorum_initialize` does.
    pub fn connect(options: &Options) -> Result<Self> {
        let mut conn = Conn::connect(options, "quorum")?;
        let quorum_type = match request(&mut conn, QuorumRequest::GetType)? {
            QuorumResponse::GetType { quorum_type, .. } => quorum_type,
            other => return unexpected(&other),
        };
        Ok(Self { conn, quorum_type })
    }

    /// The quorum type the daemon reported at connect: [`quorum_type::SET`] when a
    /// provider (votequorum) decides, [`quorum_type::FREE`] when always quorate.
    pub fn quorum_type(&self) -> u32 {
        self.quorum_type
    }

    /// Whether this node's partition is quorate (`quorum_getquorate`).
    pub fn get_quorate(&mut self) -> Result<bool> {
        match request(&mut self.conn, QuorumRequest::GetQuorate)? {
            QuorumResponse::GetQuorate { quorate, .. } => Ok(quorate),
            other => unexpected(&other),
        }
    }

    /// Starts notifications (`quorum_trackstart`): with [`TrackFlags::CURRENT`] or
    /// [`TrackFlags::CHANGES`] the current state is sent at once, with CHANGES or
    /// [`TrackFlags::CHANGES_ONLY`] every later change. Tracking twice is
    /// `CS_ERR_EXIST`.
    pub fn track_start(&mut self, flags: TrackFlags) -> Result<()> {
        self.status(QuorumRequest::TrackStart { flags })
    }

    /// Stops notifications (`quorum_trackstop`).
    pub fn track_stop(&mut self) -> Result<()> {
        self.status(QuorumRequest::TrackStop)
    }

    /// The fd to poll for notifications (`quorum_fd_get`). Check [`Quorum::pending`]
    /// first: notifications read while a request was retried do not make it readable.
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

    /// Hands notifications to `handler` (`quorum_dispatch`); returns how many it got.
    pub fn dispatch(
        &mut self,
        mode: Dispatch,
        handler: &mut dyn FnMut(Notification) -> ControlFlow<()>,
    ) -> Result<usize> {
        self.conn
            .dispatch(mode, &mut |raw| convert(raw).map(Some), handler)
    }

    /// The IPC name this connection uses, prefix included.
    pub fn ipc_name(&self) -> &str {
        self.conn.name()
    }

    /// A request answered by a bare status.
    fn status(&mut self, req: QuorumRequest) -> Result<()> {
        match request(&mut self.conn, req)? {
            QuorumResponse::Status { id, .. } if id == req.response_id() => Ok(()),
            other => unexpected(&other),
        }
    }
}

impl AsRawFd for Quorum {
    fn as_raw_fd(&self) -> RawFd {
        self.fd()
    }
}

/// Sends `req` and decodes its response, whose status must be `CS_OK`.
fn request(conn: &mut Conn, req: QuorumRequest) -> Result<QuorumResponse> {
    let response = QuorumResponse::decode(conn.request(&req.to_vec())?).map_err(protocol)?;
    Error::check(response.error())?;
    Ok(response)
}

fn unexpected<T>(response: &QuorumResponse) -> Result<T> {
    Err(Error::Protocol(format!(
        "unexpected quorum response id {} of {} bytes",
        response.id(),
        response.encoded_len()
    )))
}

/// A V0 connection gets NOTIFICATION events only; libquorum fails on any other id.
fn convert(raw: &[u8]) -> Result<Notification> {
    match QuorumEvent::decode(raw).map_err(protocol)? {
        QuorumEvent::Notification {
            quorate,
            ring_seq,
            view_list,
        } => Ok(Notification {
            quorate,
            ring_seq,
            view_list: view_list.to_vec(),
        }),
        other => Err(Error::Protocol(format!(
            "quorum event id {} on a V0 connection",
            other.id()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use ais_types::RingId;
    use ais_wire::ipc::{CsStatus, MemberList, quorum_response_id};

    use super::*;

    #[test]
    fn notifications_convert() {
        let raw = QuorumEvent::Notification {
            quorate: true,
            ring_seq: 8,
            view_list: MemberList::new(vec![NodeId(1), NodeId(2)]).unwrap(),
        }
        .to_vec();
        assert_eq!(
            convert(&raw).unwrap(),
            Notification {
                quorate: true,
                ring_seq: 8,
                view_list: vec![NodeId(1), NodeId(2)],
            }
        );
        let v1 = QuorumEvent::V1Quorum {
            quorate: true,
            ring_id: RingId::new(NodeId(1), 8),
            view_list: MemberList::new(vec![]).unwrap(),
        }
        .to_vec();
        assert!(matches!(convert(&v1), Err(Error::Protocol(_))));
        assert!(matches!(convert(&[0; 4]), Err(Error::Protocol(_))));
    }

    #[test]
    fn the_generic_reply_is_its_status() {
        // A TRY_AGAIN during sync comes as the dispatcher's 24-byte id-0 reply.
        let busy = QuorumResponse::Status {
            id: 0,
            error: CsStatus::ERR_TRY_AGAIN,
        };
        let decoded = QuorumResponse::decode(&busy.to_vec()).unwrap();
        assert!(matches!(
            Error::check(decoded.error()),
            Err(Error::TryAgain)
        ));
        // A status for another request is a protocol error, not success.
        let other = QuorumResponse::Status {
            id: quorum_response_id::TRACKSTOP,
            error: CsStatus::OK,
        };
        assert!(matches!(unexpected::<()>(&other), Err(Error::Protocol(_))));
    }
}
