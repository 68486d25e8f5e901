//! CPG, closed process groups: join a named group, multicast to it, and receive every
//! member's messages and membership changes in the one order all members see.
//!
//! [`Cpg`] is one connection to the local daemon's `cpg` service, as a `cpg_handle_t` of
//! libcpg is: requests are answered in turn (every request gets exactly one response except
//! MCAST, reference §2.1), events wait on a separate channel until [`Cpg::dispatch`] reads
//! them. Like libcpg, one connection joins at most one group at a time (the daemon answers
//! `CS_ERR_EXIST` to a second join).
//!
//! Invariants: a response is read only right after its request, so a response never
//! belongs to another call; events read while a request is retried under flow control are
//! kept, in order, and handed out by the next dispatch before any newer event.
//!
//! ```no_run
//! use std::ops::ControlFlow;
//! use ais_client::cpg::{Cpg, Dispatch, Event};
//! use ais_client::{Error, Options};
//! use ais_wire::ipc::Guarantee;
//!
//! let mut cpg = Cpg::connect(&Options::from_env())?;
//! cpg.join(b"example")?;
//! // Under flow control mcast answers TryAgain: read events, then retry.
//! while let Err(Error::TryAgain) = cpg.mcast(Guarantee::AGREED, b"hello") {
//!     cpg.dispatch(Dispatch::All, &mut |_| ControlFlow::Continue(()))?;
//!     cpg.wait(Some(std::time::Duration::from_millis(1)))?;
//! }
//! cpg.dispatch(Dispatch::Blocking, &mut |event| match event {
//!     Event::Deliver { nodeid, pid, data, .. } => {
//!         println!("{nodeid}/{pid}: {} bytes", data.len());
//!         ControlFlow::Break(()) // stop at our own message
//!     }
//!     _ => ControlFlow::Continue(()),
//! })?;
//! cpg.finalize()?;
//! # Ok::<(), ais_client::Error>(())
//! ```

mod event;
mod fragment;

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use ais_ipc::client::{ClientError, IpcClient};
use ais_types::{MESSAGE_SIZE_MAX, NodeId};
use ais_wire::ipc::{
    CPG_FRAGMENT_MAX, CPG_MCAST_PAYLOAD_MAX, CpgEvent, CpgName, CpgPayload, CpgRequest,
    CpgResponse, CsStatus, FragmentKind, Guarantee, IPC_MSG_SIZE_MAX, IterationType,
    PartialFragment,
};
use bytes::Bytes;

pub use crate::Dispatch;
use crate::Options;
use crate::error::{Error, Result};
pub use event::{Event, GroupMembers, Iteration, IterationEntry, Member, MemberChange, Reason};
use fragment::{FRAGMENT_THRESHOLD, Reassembly, split};

/// The largest message sent as one MCAST; longer ones go as PARTIAL_MCAST fragments.
const SINGLE_MAX: usize = min(FRAGMENT_THRESHOLD, CPG_MCAST_PAYLOAD_MAX);
/// The largest PARTIAL_MCAST fragment sent.
const FRAGMENT_MAX: usize = min(FRAGMENT_THRESHOLD, CPG_FRAGMENT_MAX);
/// The largest message [`Cpg::mcast`] accepts: what the ring carries (`MESSAGE_SIZE_MAX`).
pub const MESSAGE_MAX: usize = MESSAGE_SIZE_MAX;
/// Pause between retries of a request the daemon is not ready to take.
const RETRY_PAUSE: Duration = Duration::from_millis(1);
/// How many times a request (or a fragment after the first) is retried under flow control
/// before the call gives up with [`Error::TryAgain`]: about ten seconds.
const RETRY_LIMIT: u32 = 10_000;

const fn min(a: usize, b: usize) -> usize {
    if a < b { a } else { b }
}

/// How a join behaves (`cpg_model_v1_data_t` flags).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JoinOptions {
    /// Deliver an [`Event::TotemConfchg`] with the current ring right after the join
    /// (`CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF`).
    pub deliver_initial_totem_conf: bool,
}

/// One connection to the local daemon's CPG service.
pub struct Cpg {
    ipc: IpcClient,
    /// The IPC name connected to, for error messages.
    name: String,
    pid: u32,
    response: Vec<u8>,
    event: Vec<u8>,
    /// Events read while a request waited under flow control, oldest first.
    stashed: VecDeque<Vec<u8>>,
    reassembly: Reassembly,
}

impl Cpg {
    /// Connects to `<prefix>cpg` (`cpg_initialize`). Flow-control level 2 blocks this
    /// connection's sends, as libcpg sets it.
    pub fn connect(options: &Options) -> Result<Self> {
        let name = options.ipc_name("cpg");
        let mut ipc = IpcClient::connect(&name, IPC_MSG_SIZE_MAX as u32)
            .map_err(|e| Error::from_ipc(e, &name))?;
        ipc.set_flow_control_max(2);
        Ok(Self {
            ipc,
            name,
            pid: std::process::id(),
            response: Vec::new(),
            event: Vec::new(),
            stashed: VecDeque::new(),
            reassembly: Reassembly::default(),
        })
    }

    /// Joins `group` (at most 128 bytes) as this process. The first event of the group is
    /// the [`Event::Confchg`] that lists this process as joined.
    pub fn join(&mut self, group: &[u8]) -> Result<()> {
        self.join_with(group, JoinOptions::default())
    }

    /// Joins `group` with `options`.
    pub fn join_with(&mut self, group: &[u8], options: JoinOptions) -> Result<()> {
        let flags = if options.deliver_initial_totem_conf {
            CpgRequest::JOIN_DELIVER_INITIAL_TOTEM_CONF
        } else {
            0
        };
        let request = CpgRequest::Join {
            group: name(group)?,
            pid: self.pid,
            flags,
        };
        match self.request(&request)? {
            CpgResponse::Join(status) => Error::check(status),
            other => unexpected(&other),
        }
    }

    /// Leaves `group`; the group's members, this process included, get an
    /// [`Event::Confchg`] listing it as left.
    pub fn leave(&mut self, group: &[u8]) -> Result<()> {
        let request = CpgRequest::Leave {
            group: name(group)?,
            pid: self.pid,
        };
        match self.request(&request)? {
            CpgResponse::Leave(status) => Error::check(status),
            other => unexpected(&other),
        }
    }

    /// Multicasts `data` (at most [`MESSAGE_MAX`] bytes) to the joined group
    /// (`cpg_mcast_joined`). Every member, this process included, receives it as an
    /// [`Event::Deliver`] in the same order; the daemon delivers all messages in agreed
    /// order whatever `guarantee` says.
    ///
    /// Returns [`Error::TryAgain`] when the daemon applies flow control: nothing was sent.
    /// Applications then dispatch pending events (or wait on [`Cpg::fd`]) and retry.
    ///
    /// Messages longer than 1 047 552 bytes go as PARTIAL_MCAST fragments, each answered by
    /// the daemon, like libcpg does; once the first fragment is sent, later ones are retried
    /// under flow control (events read meanwhile are kept for the next dispatch).
    pub fn mcast(&mut self, guarantee: Guarantee, data: &[u8]) -> Result<()> {
        if data.len() <= SINGLE_MAX {
            let payload = CpgPayload::new(Bytes::copy_from_slice(data))
                .map_err(|e| Error::Invalid(e.to_string()))?;
            let msg = CpgRequest::Mcast { guarantee, payload }.to_vec();
            // MCAST is never answered.
            return self.ipc.send(&msg).map_err(|e| self.ipc_error(e));
        }
        if data.len() > MESSAGE_MAX {
            return Err(Error::Invalid(format!(
                "message of {} bytes exceeds the {MESSAGE_MAX}-byte limit",
                data.len()
            )));
        }
        let data = Bytes::copy_from_slice(data);
        for (kind, bytes) in split(&data, FRAGMENT_MAX) {
            let fragment = PartialFragment::new(data.len() as u32, kind, bytes)
                .map_err(|e| Error::Invalid(e.to_string()))?;
            let msg = CpgRequest::PartialMcast {
                guarantee,
                fragment,
            }
            .to_vec();
            self.send_fragment(&msg, kind == FragmentKind::First)?;
        }
        Ok(())
    }

    /// The members of `group` (`cpg_membership_get`), in the daemon's order.
    pub fn membership(&mut self, group: &[u8]) -> Result<Vec<Member>> {
        let request = CpgRequest::MembershipGet {
            group: name(group)?,
        };
        match self.request(&request)? {
            CpgResponse::Membership { error, members } => {
                Error::check(error)?;
                Ok(members.iter().map(Member::from).collect())
            }
            other => unexpected(&other),
        }
    }

    /// This node's id (`cpg_local_get`).
    pub fn local_nodeid(&mut self) -> Result<NodeId> {
        match self.request(&CpgRequest::LocalGet)? {
            CpgResponse::LocalGet {
                error,
                local_nodeid,
            } => Error::check(error).map(|()| local_nodeid),
            other => unexpected(&other),
        }
    }

    /// Lists groups or members (`cpg_iteration_*`), in the daemon's order; the iteration is
    /// finalized before returning, also after an error.
    pub fn iterate(&mut self, what: Iteration) -> Result<Vec<IterationEntry>> {
        let (group, iteration_type) = match what {
            Iteration::NameOnly => (CpgName::default(), IterationType::NameOnly),
            Iteration::OneGroup(g) => (name(&g)?, IterationType::OneGroup),
            Iteration::All => (CpgName::default(), IterationType::All),
        };
        let request = CpgRequest::IterationInitialize {
            group,
            iteration_type,
        };
        let handle = match self.request(&request)? {
            CpgResponse::IterationInitialize { error, handle } => {
                Error::check(error)?;
                handle
            }
            other => return unexpected(&other),
        };
        let entries = self.iteration_entries(handle);
        let finalized = match self.request(&CpgRequest::IterationFinalize { handle }) {
            Ok(CpgResponse::IterationFinalize(status)) => Error::check(status),
            Ok(other) => unexpected(&other),
            Err(e) => Err(e),
        };
        let entries = entries?;
        finalized?;
        Ok(entries)
    }

    /// Every group with its members (a `CPG_ITERATION_ALL` iteration).
    pub fn groups(&mut self) -> Result<Vec<GroupMembers>> {
        let mut groups: Vec<GroupMembers> = Vec::new();
        for entry in self.iterate(Iteration::All)? {
            let member = Member {
                nodeid: entry.nodeid,
                pid: entry.pid,
            };
            match groups.last_mut() {
                Some(last) if last.group == entry.group => last.members.push(member),
                _ => groups.push(GroupMembers {
                    group: entry.group,
                    members: vec![member],
                }),
            }
        }
        Ok(groups)
    }

    /// The names of all groups (a `CPG_ITERATION_NAME_ONLY` iteration).
    pub fn group_names(&mut self) -> Result<Vec<Vec<u8>>> {
        let entries = self.iterate(Iteration::NameOnly)?;
        Ok(entries.into_iter().map(|e| e.group).collect())
    }

    /// The fd to poll for events (`cpg_fd_get`): readable when the daemon queued one.
    /// Events read while a request was retried sit inside the library and do not make the
    /// fd readable: check [`Cpg::pending`] (or dispatch with [`Dispatch::All`]) before
    /// polling.
    pub fn fd(&self) -> RawFd {
        self.ipc.as_raw_fd()
    }

    /// Whether events already read from the daemon wait for a dispatch.
    pub fn pending(&self) -> bool {
        !self.stashed.is_empty()
    }

    /// Waits at most `timeout` (`None`: forever) until an event is ready; `Ok(false)` on
    /// timeout.
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<bool> {
        if self.pending() {
            return Ok(true);
        }
        self.ipc.wait_event(timeout).map_err(|e| self.ipc_error(e))
    }

    /// Hands events to `handler` (`cpg_dispatch`); returns how many it got. The handler
    /// returns [`ControlFlow::Break`] to stop early in any mode; the event it was given
    /// counts. Fragments of large messages are consumed without an event until the message
    /// is whole; a process that left takes its half-delivered message with it.
    pub fn dispatch(
        &mut self,
        mode: Dispatch,
        handler: &mut dyn FnMut(Event) -> ControlFlow<()>,
    ) -> Result<usize> {
        let mut count = 0;
        loop {
            match self.next_event()? {
                Some(event) => {
                    count += 1;
                    if handler(event).is_break() || mode == Dispatch::One {
                        return Ok(count);
                    }
                }
                None if mode == Dispatch::Blocking => {
                    self.ipc.wait_event(None).map_err(|e| self.ipc_error(e))?;
                }
                None => return Ok(count),
            }
        }
    }

    /// Leaves every group and closes the connection (`cpg_finalize`). Dropping a [`Cpg`]
    /// closes it too; the daemon then reports this process as gone
    /// ([`Reason::ProcDown`]) rather than as having left.
    pub fn finalize(mut self) -> Result<()> {
        match self.request(&CpgRequest::Finalize)? {
            CpgResponse::Finalize(status) => Error::check(status),
            other => unexpected(&other),
        }
    }

    /// The IPC name this connection uses, prefix included.
    pub fn ipc_name(&self) -> &str {
        &self.name
    }

    /// Sends `request`, retrying under flow control, and reads its response.
    fn request(&mut self, request: &CpgRequest) -> Result<CpgResponse> {
        let msg = request.to_vec();
        let mut tries = 0;
        loop {
            match self.ipc.send(&msg) {
                Ok(()) => break,
                Err(ClientError::TryAgain) if tries < RETRY_LIMIT => {
                    tries += 1;
                    self.pause()?;
                }
                Err(e) => return Err(self.ipc_error(e)),
            }
        }
        self.read_response()
    }

    /// Sends one PARTIAL_MCAST and checks its PARTIAL_SEND. Flow control before the first
    /// fragment is the caller's `TryAgain`; after it, the message is half sent and the
    /// rest must follow, so it is retried.
    fn send_fragment(&mut self, msg: &[u8], first: bool) -> Result<()> {
        let mut tries = 0;
        loop {
            let status = match self.ipc.send(msg) {
                Ok(()) => match self.read_response()? {
                    CpgResponse::PartialSend(status) | CpgResponse::Join(status) => status,
                    other => return unexpected(&other),
                },
                Err(ClientError::TryAgain) => CsStatus::ERR_TRY_AGAIN,
                Err(e) => return Err(self.ipc_error(e)),
            };
            if status != CsStatus::ERR_TRY_AGAIN || first || tries >= RETRY_LIMIT {
                return Error::check(status);
            }
            tries += 1;
            self.pause()?;
        }
    }

    fn read_response(&mut self) -> Result<CpgResponse> {
        if let Err(e) = self.ipc.recv_response(&mut self.response, None) {
            return Err(self.ipc_error(e));
        }
        CpgResponse::decode(&self.response).map_err(|e| Error::Protocol(e.to_string()))
    }

    /// Waits a little before a retry, keeping the events that arrive meanwhile (the daemon
    /// may need this client to read them to make progress).
    fn pause(&mut self) -> Result<()> {
        let mut buf = Vec::new();
        while self
            .ipc
            .try_recv_event(&mut buf)
            .map_err(|e| self.ipc_error(e))?
        {
            self.stashed.push_back(std::mem::take(&mut buf));
        }
        std::thread::sleep(RETRY_PAUSE);
        Ok(())
    }

    fn iteration_entries(
        &mut self,
        handle: ais_wire::ipc::IterationHandle,
    ) -> Result<Vec<IterationEntry>> {
        let mut entries = Vec::new();
        loop {
            match self.request(&CpgRequest::IterationNext { handle })? {
                CpgResponse::IterationNext { error, .. } if error == CsStatus::ERR_NO_SECTIONS => {
                    return Ok(entries);
                }
                CpgResponse::IterationNext { error, description } => {
                    Error::check(error)?;
                    entries.push(IterationEntry {
                        group: description.group.as_bytes().to_vec(),
                        nodeid: description.nodeid,
                        pid: description.pid,
                    });
                }
                other => return unexpected(&other),
            }
        }
    }

    /// The next whole event: stashed ones first, then the daemon's.
    fn next_event(&mut self) -> Result<Option<Event>> {
        loop {
            let event = if let Some(raw) = self.stashed.pop_front() {
                convert(&mut self.reassembly, &raw)?
            } else {
                let ready = self.ipc.try_recv_event(&mut self.event);
                if !ready.map_err(|e| self.ipc_error(e))? {
                    return Ok(None);
                }
                convert(&mut self.reassembly, &self.event)?
            };
            if event.is_some() {
                return Ok(event);
            }
        }
    }

    fn ipc_error(&self, e: ClientError) -> Error {
        Error::from_ipc(e, &self.name)
    }
}

impl AsRawFd for Cpg {
    fn as_raw_fd(&self) -> RawFd {
        self.fd()
    }
}

impl std::fmt::Debug for Cpg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cpg")
            .field("name", &self.name)
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

/// Decodes one raw event; `None` for a fragment that does not complete its message.
fn convert(reassembly: &mut Reassembly, raw: &[u8]) -> Result<Option<Event>> {
    let event = CpgEvent::decode(raw).map_err(|e| Error::Protocol(e.to_string()))?;
    Ok(Some(match event {
        CpgEvent::Deliver(d) => Event::Deliver {
            group: d.group.as_bytes().to_vec(),
            nodeid: d.nodeid,
            pid: d.pid,
            data: d.payload.bytes().clone(),
        },
        CpgEvent::PartialDeliver(p) => {
            let group = p.group.as_bytes();
            let Some(data) = reassembly.push((p.nodeid, p.pid), group, &p.fragment)? else {
                return Ok(None);
            };
            Event::Deliver {
                group: group.to_vec(),
                nodeid: p.nodeid,
                pid: p.pid,
                data,
            }
        }
        CpgEvent::Confchg(c) => {
            for gone in c.left.iter() {
                reassembly.forget((gone.nodeid, gone.pid));
            }
            Event::Confchg {
                group: c.group.as_bytes().to_vec(),
                members: c.members.iter().map(Member::from).collect(),
                left: c.left.iter().map(MemberChange::from).collect(),
                joined: c.joined.iter().map(MemberChange::from).collect(),
            }
        }
        CpgEvent::TotemConfchg(t) => Event::TotemConfchg {
            ring_id: t.ring_id,
            members: t.members.to_vec(),
        },
    }))
}

fn name(group: &[u8]) -> Result<CpgName> {
    CpgName::new(group).map_err(|e| Error::Invalid(e.to_string()))
}

/// A response of the wrong kind. The daemon's generic answer to a request it cannot take
/// is a JOIN-id response with an error status (reference §2.1): report that status.
fn unexpected<T>(response: &CpgResponse) -> Result<T> {
    if let CpgResponse::Join(status) = response {
        Error::check(*status)?;
    }
    Err(Error::Protocol(format!(
        "unexpected response id {}",
        response.id()
    )))
}

#[cfg(test)]
mod tests {
    use ais_types::RingId;
    use ais_wire::ipc::{
        ConfchgEvent, CpgAddress, CpgReason, DeliverEvent, MemberList, PartialDeliverEvent,
        TotemConfchgEvent,
    };

    use super::*;

    fn group() -> CpgName {
        CpgName::new(b"g".to_vec()).unwrap()
    }

    fn addr(nodeid: u32, pid: u32, reason: CpgReason) -> CpgAddress {
        CpgAddress {
            nodeid: NodeId(nodeid),
            pid,
            reason,
        }
    }

    fn partial(kind: FragmentKind, msglen: u32, data: &'static [u8]) -> Vec<u8> {
        CpgEvent::PartialDeliver(PartialDeliverEvent {
            group: group(),
            nodeid: NodeId(1),
            pid: 7,
            fragment: PartialFragment::new(msglen, kind, Bytes::from_static(data)).unwrap(),
        })
        .to_vec()
    }

    #[test]
    fn limits_follow_libcpg() {
        assert_eq!(SINGLE_MAX, 1_047_552);
        assert_eq!(FRAGMENT_MAX, 1_047_552);
        const { assert!(MESSAGE_MAX > SINGLE_MAX) };
    }

    #[test]
    fn events_convert_to_friendly_values() {
        let mut r = Reassembly::default();
        let deliver = CpgEvent::Deliver(DeliverEvent {
            group: group(),
            nodeid: NodeId(2),
            pid: 9,
            payload: CpgPayload::new(Bytes::from_static(b"hi")).unwrap(),
        });
        assert_eq!(
            convert(&mut r, &deliver.to_vec()).unwrap(),
            Some(Event::Deliver {
                group: b"g".to_vec(),
                nodeid: NodeId(2),
                pid: 9,
                data: Bytes::from_static(b"hi"),
            })
        );
        let confchg = CpgEvent::Confchg(ConfchgEvent {
            group: group(),
            members: MemberList::new(vec![addr(1, 5, CpgReason::Undefined)]).unwrap(),
            left: MemberList::new(vec![addr(3, 6, CpgReason::NodeDown)]).unwrap(),
            joined: MemberList::new(vec![addr(1, 5, CpgReason::Join)]).unwrap(),
        });
        let m = |nodeid, pid| Member {
            nodeid: NodeId(nodeid),
            pid,
        };
        assert_eq!(
            convert(&mut r, &confchg.to_vec()).unwrap(),
            Some(Event::Confchg {
                group: b"g".to_vec(),
                members: vec![m(1, 5)],
                left: vec![MemberChange {
                    member: m(3, 6),
                    reason: Reason::NodeDown
                }],
                joined: vec![MemberChange {
                    member: m(1, 5),
                    reason: Reason::Join
                }],
            })
        );
        let totem = CpgEvent::TotemConfchg(TotemConfchgEvent {
            ring_id: RingId::new(NodeId(1), 8),
            members: MemberList::new(vec![NodeId(1), NodeId(2)]).unwrap(),
        });
        assert_eq!(
            convert(&mut r, &totem.to_vec()).unwrap(),
            Some(Event::TotemConfchg {
                ring_id: RingId::new(NodeId(1), 8),
                members: vec![NodeId(1), NodeId(2)],
            })
        );
    }

    #[test]
    fn partial_delivers_become_one_deliver() {
        let mut r = Reassembly::default();
        let first = partial(FragmentKind::First, 5, b"abc");
        assert_eq!(convert(&mut r, &first).unwrap(), None);
        let last = partial(FragmentKind::Last, 5, b"de");
        assert_eq!(
            convert(&mut r, &last).unwrap(),
            Some(Event::Deliver {
                group: b"g".to_vec(),
                nodeid: NodeId(1),
                pid: 7,
                data: Bytes::from_static(b"abcde"),
            })
        );
    }

    #[test]
    fn a_leaving_sender_drops_its_partial_message() {
        let mut r = Reassembly::default();
        convert(&mut r, &partial(FragmentKind::First, 5, b"abc")).unwrap();
        let confchg = CpgEvent::Confchg(ConfchgEvent {
            group: group(),
            members: MemberList::new(vec![]).unwrap(),
            left: MemberList::new(vec![addr(1, 7, CpgReason::ProcDown)]).unwrap(),
            joined: MemberList::new(vec![]).unwrap(),
        });
        convert(&mut r, &confchg.to_vec()).unwrap();
        let last = partial(FragmentKind::Last, 5, b"de");
        assert!(matches!(convert(&mut r, &last), Err(Error::Protocol(_))));
    }

    #[test]
    fn garbage_events_are_protocol_errors() {
        let mut r = Reassembly::default();
        assert!(matches!(
            convert(&mut r, &[0u8; 3]),
            Err(Error::Protocol(_))
        ));
    }

    #[test]
    fn generic_error_responses_report_their_status() {
        let busy = CpgResponse::Join(CsStatus::ERR_TRY_AGAIN);
        assert!(matches!(unexpected::<()>(&busy), Err(Error::TryAgain)));
        let invalid = CpgResponse::Join(CsStatus::ERR_INVALID_PARAM);
        assert!(matches!(
            unexpected::<()>(&invalid),
            Err(Error::Cs(CsStatus::ERR_INVALID_PARAM))
        ));
        let other = CpgResponse::Finalize(CsStatus::OK);
        assert!(matches!(unexpected::<()>(&other), Err(Error::Protocol(_))));
    }
}
