//! The cmap, quorum, votequorum and cfg clients against a small in-process daemon: ais-ipc's
//! server in its own thread, answering with the ais-wire codecs the way corosync's services
//! do (the real services are not written yet). This checks, over real IPC in both
//! transports, that requests and responses pair up, that the two-step GET, iteration,
//! trackers and the shutdown conversation work, and that events reach `dispatch`.

#![allow(missing_docs)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::IpAddr;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use ais_client::cfg::{Cfg, Event as CfgEvent, ShutdownFlags, ShutdownReply};
use ais_client::cmap::{Change, Cmap, CmapValue, Map, track, value_type};
use ais_client::quorum::{Quorum, TrackFlags};
use ais_client::votequorum::{Event as VqEvent, Votequorum, node_state};
use ais_client::{Dispatch, Error, Options};
use ais_ipc::{Access, ConnId, IpcMode, IpcServer, ServerConfig, ServerEvent};
use ais_types::{NodeId, RingId};
use ais_wire::ipc::{self as wire, CsStatus, MemberList};
use mio::{Events, Poll, Token, Waker};

const MODES: [IpcMode; 2] = [IpcMode::Socket, IpcMode::Shm];
const SERVICES: [&str; 4] = ["cmap", "quorum", "votequorum", "cfg"];
/// Give-up bound for anything a test waits for (never an assertion on speed).
const GIVE_UP: Duration = Duration::from_secs(60);

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The daemon thread; stopped and joined on drop.
struct Daemon {
    stop: mpsc::Sender<()>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<()>>,
    options: Options,
    _shm_dir: tempfile::TempDir,
}

impl Daemon {
    fn start(mode: IpcMode) -> Self {
        let prefix = format!(
            "ais-client-test-{}-{}-",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let shm_dir = tempfile::tempdir_in("/dev/shm").unwrap();
        let config = ServerConfig {
            prefix: prefix.clone(),
            services: SERVICES.iter().map(|s| s.to_string()).collect(),
            mode,
            shm_dir: shm_dir.path().to_path_buf(),
            ..ServerConfig::default()
        };
        let (stop, stopped) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("fake-daemon".into())
            .spawn(move || {
                let mut poll = Poll::new().unwrap();
                let waker = Arc::new(Waker::new(poll.registry(), Token(0)).unwrap());
                let mut server = IpcServer::bind(config).unwrap();
                server.register(poll.registry(), 1).unwrap();
                ready_tx.send(waker).unwrap();
                let mut state = State::default();
                let mut events = Events::with_capacity(256);
                loop {
                    let timeout = if server.has_backlog() { 1 } else { 20 };
                    poll.poll(&mut events, Some(Duration::from_millis(timeout)))
                        .unwrap();
                    for event in &events {
                        if server.owns(event.token()) {
                            server.handle_ready(poll.registry(), event, &mut |_, _| Access::Allow);
                        }
                    }
                    if stopped.try_recv().is_ok() {
                        return;
                    }
                    server.flush(poll.registry());
                    while let Some(event) = server.poll_event() {
                        state.handle(&mut server, event);
                    }
                    server.flush_notifications();
                }
            })
            .unwrap();
        let waker = ready_rx.recv_timeout(GIVE_UP).expect("daemon started");
        Self {
            stop,
            waker,
            thread: Some(thread),
            options: Options::with_prefix(prefix),
            _shm_dir: shm_dir,
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.stop.send(());
        let _ = self.waker.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What the fake services remember.
#[derive(Default)]
struct State {
    keys: BTreeMap<String, CmapValue>,
    iterators: BTreeMap<u64, VecDeque<String>>,
    /// cmap trackers by handle: connection, key, track type, cookie.
    trackers: BTreeMap<u64, (ConnId, String, i32, u64)>,
    next_handle: u64,
    /// votequorum trackers with their context.
    vq_trackers: BTreeMap<ConnId, u64>,
    cfg_trackers: BTreeSet<ConnId>,
    /// A TRYSHUTDOWN waiting for answers: requester, flags, who must answer, refused.
    shutdown: Option<(ConnId, u32, BTreeSet<ConnId>, bool)>,
}

impl State {
    fn handle(&mut self, server: &mut IpcServer, event: ServerEvent) {
        let ServerEvent::Request { conn, service, msg } = event else {
            if let ServerEvent::Disconnected { conn, .. } = event {
                self.trackers.retain(|_, t| t.0 != conn);
                self.vq_trackers.remove(&conn);
                self.cfg_trackers.remove(&conn);
            }
            return;
        };
        let response = match SERVICES[service] {
            "cmap" => self.cmap(server, conn, &msg).to_vec().unwrap(),
            "quorum" => self.quorum(server, conn, &msg).to_vec(),
            "votequorum" => self.votequorum(server, conn, &msg).to_vec(),
            _ => match self.cfg(server, conn, &msg) {
                Some(response) => response.to_vec(),
                None => return, // answered later
            },
        };
        server.respond(conn, &response);
    }

    fn cmap(&mut self, server: &mut IpcServer, conn: ConnId, msg: &[u8]) -> wire::CmapResponse {
        use wire::{CmapRequest as Req, CmapResponse as Res, cmap_response_id as id};
        let ok = |id| Res::Status {
            id,
            error: CsStatus::OK,
        };
        match Req::decode(msg).unwrap() {
            Req::Set { key, value } => {
                let old = self.keys.insert(key.clone(), value.clone());
                let event = if old.is_some() {
                    track::MODIFY
                } else {
                    track::ADD
                };
                self.notify(server, &key, event, Some(value), old);
                ok(id::SET)
            }
            Req::Delete { key } => match self.keys.remove(&key) {
                Some(old) => {
                    self.notify(server, &key, track::DELETE, None, Some(old));
                    ok(id::DELETE)
                }
                None => Res::Status {
                    id: id::DELETE,
                    error: CsStatus::ERR_NOT_EXIST,
                },
            },
            Req::Get { key, value_len } => Res::get_reply(self.keys.get(&key), value_len),
            Req::AdjustInt { key, step } => match self.keys.get_mut(&key) {
                Some(CmapValue::U32(v)) => {
                    *v = v.wrapping_add_signed(step);
                    ok(id::ADJUST_INT)
                }
                _ => Res::Status {
                    id: id::ADJUST_INT,
                    error: CsStatus::ERR_INVALID_PARAM,
                },
            },
            Req::IterInit { prefix } => {
                self.next_handle += 1;
                let keys = self.keys.keys().filter(|k| k.starts_with(&prefix));
                self.iterators
                    .insert(self.next_handle, keys.cloned().collect());
                Res::IterInit {
                    error: CsStatus::OK,
                    iter_handle: self.next_handle,
                }
            }
            Req::IterNext { iter_handle } => {
                let next = self.iterators.get_mut(&iter_handle).unwrap().pop_front();
                match next {
                    Some(key) => {
                        let value = &self.keys[&key];
                        Res::IterNext {
                            error: CsStatus::OK,
                            value_len: value.encoded_len() as u64,
                            value_type: value.type_code(),
                            key,
                        }
                    }
                    None => Res::IterNext {
                        error: CsStatus::ERR_NO_SECTIONS,
                        key: String::new(),
                        value_len: 0,
                        value_type: 0,
                    },
                }
            }
            Req::IterFinalize { iter_handle } => {
                assert!(self.iterators.remove(&iter_handle).is_some());
                ok(id::ITER_FINALIZE)
            }
            Req::TrackAdd {
                key,
                track_type,
                track_inst_handle,
            } => {
                self.next_handle += 1;
                let handle = self.next_handle;
                self.trackers
                    .insert(handle, (conn, key, track_type, track_inst_handle));
                Res::TrackAdd {
                    error: CsStatus::OK,
                    track_handle: handle,
                }
            }
            Req::TrackDelete { track_handle } => match self.trackers.remove(&track_handle) {
                Some((_, _, _, cookie)) => Res::TrackDelete {
                    error: CsStatus::OK,
                    track_inst_handle: cookie,
                },
                None => Res::TrackDelete {
                    error: CsStatus::ERR_BAD_HANDLE,
                    track_inst_handle: 0,
                },
            },
            Req::SetCurrentMap { map } => Res::Status {
                id: id::SET_CURRENT_MAP,
                error: if matches!(map, 0 | 1) {
                    CsStatus::OK
                } else {
                    CsStatus::ERR_INVALID_PARAM
                },
            },
        }
    }

    fn notify(
        &self,
        server: &mut IpcServer,
        key: &str,
        event: i32,
        new: Option<CmapValue>,
        old: Option<CmapValue>,
    ) {
        for (conn, tracked, track_type, cookie) in self.trackers.values() {
            let matches = if track_type & track::PREFIX != 0 {
                key.starts_with(tracked.as_str())
            } else {
                key == tracked
            };
            if matches && track_type & event != 0 {
                let notify = wire::CmapEvent::Notify {
                    track_inst_handle: *cookie,
                    key: key.to_owned(),
                    event,
                    new: new.clone(),
                    old: old.clone(),
                };
                server.send_event(*conn, &notify.to_vec().unwrap());
            }
        }
    }

    fn quorum(&mut self, server: &mut IpcServer, conn: ConnId, msg: &[u8]) -> wire::QuorumResponse {
        use wire::{QuorumRequest as Req, QuorumResponse as Res, quorum_response_id as id};
        match Req::decode(msg).unwrap() {
            Req::GetType | Req::ModelGetType { .. } => Res::GetType {
                error: CsStatus::OK,
                quorum_type: wire::quorum_type::SET,
            },
            Req::GetQuorate => Res::GetQuorate {
                error: CsStatus::OK,
                quorate: true,
            },
            Req::TrackStart { flags } => {
                if flags.contains(TrackFlags::CURRENT) || flags.contains(TrackFlags::CHANGES) {
                    let event = wire::QuorumEvent::Notification {
                        quorate: true,
                        ring_seq: 5,
                        view_list: MemberList::new(vec![NodeId(1), NodeId(2)]).unwrap(),
                    };
                    server.send_event(conn, &event.to_vec());
                }
                Res::Status {
                    id: id::TRACKSTART,
                    error: CsStatus::OK,
                }
            }
            Req::TrackStop => Res::Status {
                id: id::TRACKSTOP,
                error: CsStatus::OK,
            },
        }
    }

    fn votequorum(
        &mut self,
        server: &mut IpcServer,
        conn: ConnId,
        msg: &[u8],
    ) -> wire::VotequorumResponse {
        use wire::{VotequorumRequest as Req, VotequorumResponse as Res};
        match Req::decode(msg).unwrap() {
            Req::GetInfo { nodeid } if matches!(nodeid.0, 0 | 1) => Res::GetInfo {
                error: CsStatus::OK,
                info: wire::VotequorumInfo {
                    nodeid: NodeId(1),
                    state: node_state::MEMBER,
                    votes: 1,
                    expected_votes: 2,
                    highest_expected: 2,
                    total_votes: 2,
                    quorum: 2,
                    flags: wire::votequorum_info_flags::QUORATE,
                    ..Default::default()
                },
            },
            Req::GetInfo { .. } => Res::GetInfo {
                error: CsStatus::ERR_NOT_EXIST,
                info: wire::VotequorumInfo::default(),
            },
            Req::SetVotes { nodeid, .. } if nodeid.0 > 2 => {
                Res::Status(CsStatus::ERR_NAME_NOT_FOUND)
            }
            Req::SetExpected { expected_votes } => {
                for (conn, context) in &self.vq_trackers {
                    let event = wire::VotequorumEvent::ExpectedVotes {
                        context: *context,
                        expected_votes,
                    };
                    server.send_event(*conn, &event.to_vec());
                }
                Res::Status(CsStatus::OK)
            }
            Req::TrackStart { context, .. } => {
                let nodelist = wire::VotequorumEvent::Nodelist {
                    context,
                    ring_id: RingId::new(NodeId(1), 5),
                    nodes: MemberList::new(vec![NodeId(1), NodeId(2)]).unwrap(),
                };
                let quorum = wire::VotequorumEvent::Quorum {
                    context,
                    quorate: true,
                    nodes: MemberList::new(vec![wire::VotequorumNode {
                        nodeid: NodeId(1),
                        state: node_state::MEMBER,
                    }])
                    .unwrap(),
                };
                server.send_event(conn, &nodelist.to_vec());
                server.send_event(conn, &quorum.to_vec());
                self.vq_trackers.insert(conn, context);
                Res::Status(CsStatus::OK)
            }
            Req::TrackStop => Res::Status(match self.vq_trackers.remove(&conn) {
                Some(_) => CsStatus::OK,
                None => CsStatus::ERR_NOT_EXIST,
            }),
            _ => Res::Status(CsStatus::OK),
        }
    }

    /// `None` when the answer must wait (a TRYSHUTDOWN asking the trackers).
    fn cfg(
        &mut self,
        server: &mut IpcServer,
        conn: ConnId,
        msg: &[u8],
    ) -> Option<wire::CfgResponse> {
        use wire::{CfgRequest as Req, CfgResponse as Res, cfg_response_id as id};
        let request = Req::decode(msg).unwrap();
        let bare = |error| Res::Bare {
            id: request.response_id().unwrap(),
            error,
        };
        Some(match &request {
            Req::LocalGet => Res::LocalGet {
                local_nodeid: NodeId(1),
            },
            Req::GetNodeAddrs { .. } => Res::NodeAddrs {
                error: CsStatus::OK,
                addrs: vec!["127.0.0.1".parse().unwrap()],
            },
            Req::NodeStatusGet { nodeid, version: 1 } => {
                let mut status = wire::CfgNodeStatus {
                    version: 1,
                    nodeid: *nodeid,
                    reachable: true,
                    ..Default::default()
                };
                status.links[0].enabled = true;
                status.links[0].connected = true;
                Res::NodeStatus {
                    error: CsStatus::OK,
                    status: Box::new(status),
                }
            }
            Req::NodeStatusGet { version, .. } => Res::NodeStatusVersion {
                error: CsStatus::ERR_NOT_SUPPORTED,
                version: *version,
            },
            Req::RingStatusGet => Res::RingStatus {
                error: CsStatus::OK,
                interfaces: wire::CfgRingStatus::new(vec![(
                    wire::CfgInterfaceName::new("127.0.0.1").unwrap(),
                    wire::CfgInterfaceStatus::new("OK").unwrap(),
                )])
                .unwrap(),
            },
            Req::KillNode { reason, .. } => {
                assert_eq!(reason.as_bytes(), b"test");
                bare(CsStatus::OK)
            }
            Req::TrackStart { .. } => {
                self.cfg_trackers.insert(conn);
                bare(CsStatus::OK)
            }
            Req::TrackStop => {
                self.cfg_trackers.remove(&conn);
                bare(CsStatus::OK)
            }
            Req::TryShutdown { flags } => {
                let waiting: BTreeSet<ConnId> = self.cfg_trackers.clone();
                if *flags == wire::cfg_shutdown_flags::IMMEDIATE || waiting.is_empty() {
                    return Some(bare(CsStatus::OK));
                }
                for tracker in &waiting {
                    let event = wire::CfgEvent::TestShutdown { flags: *flags };
                    server.send_event(*tracker, &event.to_vec());
                }
                self.shutdown = Some((conn, *flags, waiting, false));
                return None;
            }
            Req::ReplyToShutdown { response } => {
                let (requester, flags, mut waiting, mut refused) = self.shutdown.take().unwrap();
                waiting.remove(&conn);
                refused |= *response == wire::cfg_shutdown_reply::NO;
                if waiting.is_empty() {
                    let error = if refused && flags == wire::cfg_shutdown_flags::REQUEST {
                        CsStatus::ERR_BUSY
                    } else {
                        CsStatus::OK
                    };
                    let done = Res::Bare {
                        id: id::TRYSHUTDOWN,
                        error,
                    };
                    server.respond(requester, &done.to_vec());
                } else {
                    self.shutdown = Some((requester, flags, waiting, refused));
                }
                bare(CsStatus::OK)
            }
            _ => bare(CsStatus::OK),
        })
    }
}

#[test]
fn cmap_get_set_iterate_and_track() {
    for mode in MODES {
        let daemon = Daemon::start(mode);
        let mut cmap = Cmap::connect_map(&daemon.options, Map::Default).unwrap();

        cmap.set("test.counter", 1u32).unwrap();
        cmap.inc("test.counter").unwrap();
        assert_eq!(cmap.get_u32("test.counter").unwrap(), 2);
        cmap.dec("test.counter").unwrap();
        assert_eq!(cmap.get("test.counter").unwrap(), CmapValue::U32(1));
        // The typed getter refuses another type, as libcmap does.
        assert!(matches!(
            cmap.get_u8("test.counter"),
            Err(Error::Cs(CsStatus::ERR_INVALID_PARAM))
        ));

        // A string takes two GETs; a long one needs more than the fixed 16 bytes.
        let long = "x".repeat(1000);
        cmap.set("test.name", long.as_str()).unwrap();
        assert_eq!(cmap.get_string("test.name").unwrap(), long);
        cmap.set("test.blob", CmapValue::Binary(vec![])).unwrap();
        assert_eq!(cmap.get("test.blob").unwrap(), CmapValue::Binary(vec![]));

        assert_eq!(cmap.try_get("test.missing").unwrap(), None);
        assert!(matches!(
            cmap.get("test.missing"),
            Err(Error::Cs(CsStatus::ERR_NOT_EXIST))
        ));

        let keys = cmap.iter("test.").unwrap();
        let listed: Vec<(&str, u8, u64)> = keys
            .iter()
            .map(|k| (k.key.as_str(), k.value_type, k.value_len))
            .collect();
        assert_eq!(
            listed,
            [
                ("test.blob", value_type::BINARY, 0),
                ("test.counter", value_type::UINT32, 4),
                ("test.name", value_type::STRING, 1001),
            ]
        );
        assert!(cmap.iter("nothing.").unwrap().is_empty());

        let tracker = cmap
            .track_add(
                "test.",
                track::ADD | track::MODIFY | track::DELETE | track::PREFIX,
            )
            .unwrap();
        cmap.set("test.new", 7u8).unwrap();
        cmap.delete("test.counter").unwrap();
        let mut seen = Vec::new();
        while seen.len() < 2 {
            assert!(cmap.wait(Some(GIVE_UP)).unwrap());
            cmap.dispatch(Dispatch::All, &mut |n| {
                seen.push(n);
                ControlFlow::Continue(())
            })
            .unwrap();
        }
        assert_eq!(seen[0].track, tracker);
        assert_eq!(
            (
                seen[0].key.as_str(),
                seen[0].change,
                &seen[0].new,
                &seen[0].old
            ),
            ("test.new", Change::Added, &Some(CmapValue::U8(7)), &None)
        );
        assert_eq!(
            (seen[1].key.as_str(), seen[1].change, &seen[1].old),
            ("test.counter", Change::Deleted, &Some(CmapValue::U32(1)))
        );
        cmap.track_delete(tracker).unwrap();
        assert!(matches!(
            cmap.track_delete(tracker),
            Err(Error::Cs(CsStatus::ERR_BAD_HANDLE))
        ));

        // The statistics map is selected the same way.
        Cmap::connect_map(&daemon.options, Map::Stats).unwrap();
        assert!(matches!(
            cmap.set(&"k".repeat(300), 1u8),
            Err(Error::Invalid(_))
        ));
    }
}

#[test]
fn quorum_state_and_notifications() {
    for mode in MODES {
        let daemon = Daemon::start(mode);
        let mut quorum = Quorum::connect(&daemon.options).unwrap();
        assert_eq!(quorum.quorum_type(), wire::quorum_type::SET);
        assert!(quorum.get_quorate().unwrap());
        quorum.track_start(TrackFlags::CURRENT).unwrap();
        let mut got = None;
        quorum
            .dispatch(Dispatch::Blocking, &mut |n| {
                got = Some(n);
                ControlFlow::Break(())
            })
            .unwrap();
        let n = got.unwrap();
        assert!(n.quorate);
        assert_eq!((n.ring_seq, n.view_list), (5, vec![NodeId(1), NodeId(2)]));
        quorum.track_stop().unwrap();
    }
}

#[test]
fn votequorum_info_votes_and_notifications() {
    for mode in MODES {
        let daemon = Daemon::start(mode);
        let mut vq = Votequorum::connect(&daemon.options).unwrap();
        let info = vq.get_info(NodeId(0)).unwrap();
        assert_eq!((info.nodeid, info.votes, info.quorum), (NodeId(1), 1, 2));
        assert!(matches!(
            vq.get_info(NodeId(9)),
            Err(Error::Cs(CsStatus::ERR_NOT_EXIST))
        ));
        assert!(matches!(
            vq.set_votes(NodeId(9), 2),
            Err(Error::Cs(CsStatus::ERR_NAME_NOT_FOUND))
        ));

        vq.track_start(42, TrackFlags::CURRENT | TrackFlags::CHANGES)
            .unwrap();
        vq.set_expected(3).unwrap();
        let mut events = Vec::new();
        while events.len() < 3 {
            vq.dispatch(Dispatch::Blocking, &mut |e| {
                events.push(e);
                ControlFlow::Break(())
            })
            .unwrap();
        }
        assert!(matches!(
            &events[0],
            VqEvent::Nodelist { context: 42, nodes, .. } if nodes == &[NodeId(1), NodeId(2)]
        ));
        assert!(matches!(
            &events[1],
            VqEvent::Quorum {
                context: 42,
                quorate: true,
                ..
            }
        ));
        assert_eq!(
            events[2],
            VqEvent::ExpectedVotes {
                context: 42,
                expected_votes: 3
            }
        );
        vq.track_stop().unwrap();
        assert!(matches!(
            vq.track_stop(),
            Err(Error::Cs(CsStatus::ERR_NOT_EXIST))
        ));
    }
}

#[test]
fn cfg_status_and_the_shutdown_conversation() {
    for mode in MODES {
        let daemon = Daemon::start(mode);
        let mut cfg = Cfg::connect(&daemon.options).unwrap();
        assert_eq!(cfg.local_nodeid().unwrap(), NodeId(1));
        assert_eq!(
            cfg.node_addrs(NodeId(0)).unwrap(),
            vec!["127.0.0.1".parse::<IpAddr>().unwrap()]
        );
        let status = cfg.node_status(NodeId(2)).unwrap();
        assert_eq!(status.nodeid, NodeId(2));
        assert!(status.reachable && status.links[0].connected);
        assert_eq!(
            cfg.ring_status().unwrap(),
            vec![("127.0.0.1".to_owned(), "OK".to_owned())]
        );
        cfg.reload_config().unwrap();
        cfg.reopen_log_files().unwrap();
        cfg.ring_reenable().unwrap();
        cfg.kill_node(NodeId(2), "test").unwrap();
        assert!(matches!(
            cfg.kill_node(NodeId(2), "a\0b"),
            Err(Error::Invalid(_))
        ));

        // A tracking connection refuses a polite shutdown request.
        let mut tracker = Cfg::connect(&daemon.options).unwrap();
        tracker.track_start().unwrap();
        std::thread::scope(|scope| {
            let requester = scope.spawn(|| cfg.try_shutdown(ShutdownFlags::Request));
            let mut asked = None;
            tracker
                .dispatch(
                    Dispatch::Blocking,
                    &mut |CfgEvent::TestShutdown { flags }| {
                        asked = Some(flags);
                        ControlFlow::Break(())
                    },
                )
                .unwrap();
            assert_eq!(asked, Some(ShutdownFlags::Request));
            tracker.reply_to_shutdown(ShutdownReply::No).unwrap();
            assert!(matches!(
                requester.join().unwrap(),
                Err(Error::Cs(CsStatus::ERR_BUSY))
            ));
        });
        // An immediate shutdown asks nobody.
        cfg.shutdown().unwrap();
        tracker.track_stop().unwrap();
    }
}
