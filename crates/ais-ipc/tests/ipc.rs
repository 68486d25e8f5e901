//! End-to-end tests of `IpcServer` against `IpcClient`, in both transports.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use ais_ipc::client::{ClientError, IpcClient};
use ais_ipc::{IpcMode, ServerEvent};
use ais_wire::ipc::{ConnectionRequest, ConnectionResponse, Errno};
use common::{GIVE_UP, Options, TestServer, message};

const MODES: [IpcMode; 2] = [IpcMode::Shm, IpcMode::Socket];

fn connect(server: &TestServer) -> IpcClient {
    IpcClient::connect(&server.names[0], 1 << 20).unwrap()
}

/// One request and its response. In SOCKET mode the server sends nothing to a client
/// before its first request has proved that the names it sends from are the client's.
fn hello(client: &mut IpcClient) {
    let mut buf = Vec::new();
    client.send(&message(1, 16, 0)).unwrap();
    client.recv_response(&mut buf, Some(GIVE_UP)).unwrap();
}

fn recv_event(client: &mut IpcClient, buf: &mut Vec<u8>) {
    loop {
        if client.try_recv_event(buf).unwrap() {
            return;
        }
        assert!(
            client.wait_event(Some(GIVE_UP)).unwrap(),
            "gave up waiting for an event"
        );
    }
}

#[test]
fn request_response_both_modes() {
    for mode in MODES {
        let server = TestServer::start(Options::new(mode));
        let mut client = connect(&server);
        assert_eq!(client.mode(), mode);
        assert_eq!(client.max_msg_size(), 1 << 20);
        match server.next_event() {
            ServerEvent::Connected { service, creds, .. } => {
                assert_eq!(service, 0);
                assert_eq!(creds.pid, std::process::id());
            }
            other => panic!("{other:?}"),
        }
        let mut buf = Vec::new();
        for i in 0..200 {
            let msg = message(i, 16 + (i as usize * 13) % 3000, i as u8);
            client.send(&msg).unwrap();
            client.recv_response(&mut buf, Some(GIVE_UP)).unwrap();
            assert_eq!(buf, msg, "{mode:?} request {i}");
        }
        assert_eq!(server.query(|s| s.stats().requests), 200);
    }
}

#[test]
fn one_mib_messages_both_ways() {
    for mode in MODES {
        let server = TestServer::start(Options::new(mode));
        let mut client = connect(&server);
        let conn = server.wait_connected();
        // SHM carries max_msg_size; SOCKET as much as the sockets allow: with root's
        // SO_SNDBUFFORCE that is 1 MiB too, otherwise about 2 x wmem_max.
        let root = rustix::process::geteuid().is_root();
        let len = if mode == IpcMode::Shm || root {
            1 << 20
        } else {
            200_000
        };
        let msg = message(7, len, 3);
        let mut buf = Vec::new();
        client.send(&msg).unwrap();
        client.recv_response(&mut buf, Some(GIVE_UP)).unwrap();
        assert_eq!(buf.len(), len);
        assert_eq!(buf, msg);
        server.send_events(conn, vec![message(9, len, 5), message(10, len, 6)]);
        recv_event(&mut client, &mut buf);
        assert_eq!(buf, message(9, len, 5));
        recv_event(&mut client, &mut buf);
        assert_eq!(buf, message(10, len, 6));
        let too_big = message(1, (1 << 20) + 1, 0);
        assert!(matches!(
            client.send(&too_big),
            Err(ClientError::TooLarge { .. })
        ));
    }
}

#[test]
fn many_events_arrive_in_order() {
    for mode in MODES {
        let server = TestServer::start(Options::new(mode));
        let mut client = connect(&server);
        let conn = server.wait_connected();
        hello(&mut client);
        let count = 5000;
        let events: Vec<Vec<u8>> = (0..count)
            .map(|i| message(i, 24 + (i as usize * 97) % 4000, i as u8))
            .collect();
        server.send_events(conn, events.clone());
        let mut buf = Vec::new();
        for (i, want) in events.iter().enumerate() {
            recv_event(&mut client, &mut buf);
            assert_eq!(&buf, want, "{mode:?} event {i}");
        }
        assert!(!client.try_recv_event(&mut buf).unwrap());
        // Requests still work after the flood.
        client.send(&message(1, 16, 0)).unwrap();
        client.recv_response(&mut buf, Some(GIVE_UP)).unwrap();
        assert_eq!(server.query(move |s| s.queued_event_bytes(conn)), 0);
        // The connection's own counters: every event dispatched, none left queued.
        let stats = server.query(|s| s.connection_stats());
        assert_eq!(stats.len(), 1, "{mode:?}");
        let c = &stats[0];
        assert_eq!((c.conn, c.pid), (conn, std::process::id()));
        let own = std::fs::read_to_string("/proc/self/comm").unwrap();
        assert_eq!(c.procname, own.trim_end(), "{mode:?}");
        assert_eq!((c.requests, c.responses), (2, 2), "{mode:?}");
        assert_eq!(c.dispatched, count as u64, "{mode:?}");
        assert_eq!(c.queued, 0, "{mode:?}");
    }
}

/// With no room in the daemon a request stays in the client's channel, unread, until room
/// comes; a client that negotiated a larger message size than the daemon's is charged the
/// daemon's, since nothing larger can come of one request.
#[test]
fn requests_wait_in_their_channel_until_the_daemon_has_room() {
    for mode in MODES {
        let server = TestServer::start(Options::new(mode));
        let mut client = connect(&server);
        let mut big = IpcClient::connect(&server.names[0], 8 << 20).unwrap();
        server.wait_connected();
        server.wait_connected();
        hello(&mut client);
        server.query(|s| s.set_request_room(100));
        let msg = message(1, 32, 1);
        client.send(&msg).unwrap();
        let mut buf = Vec::new();
        assert!(
            client
                .recv_response(&mut buf, Some(Duration::from_millis(300)))
                .is_err(),
            "{mode:?}: a request was read without room"
        );
        assert!(server.query(|s| s.requests_gated()) > 0);
        // Room for one message of the daemon's size: both are read, the big client's too.
        server.query(|s| s.set_request_room(2 << 20));
        client.recv_response(&mut buf, Some(GIVE_UP)).unwrap();
        assert_eq!(buf, msg, "{mode:?}");
        big.send(&msg).unwrap();
        big.recv_response(&mut buf, Some(GIVE_UP)).unwrap();
        assert_eq!(buf, msg, "{mode:?}");
    }
}

#[test]
fn flow_control_makes_the_client_try_again() {
    for mode in MODES {
        let server = TestServer::start(Options::new(mode));
        let mut client = connect(&server);
        server.wait_connected();
        let msg = message(1, 32, 1);
        let mut buf = Vec::new();
        server.flow(0, 1);
        assert!(
            matches!(client.send(&msg), Err(ClientError::TryAgain)),
            "{mode:?}"
        );
        server.flow(0, 2);
        // Level 2 blocks only clients that opted in (libcpg sets the max to 2).
        client.send(&msg).unwrap();
        client.recv_response(&mut buf, Some(GIVE_UP)).unwrap();
        client.set_flow_control_max(2);
        assert!(matches!(client.send(&msg), Err(ClientError::TryAgain)));
        // New connections get the current level too.
        let mut late = connect(&server);
        late.set_flow_control_max(2);
        assert_eq!(late.flow_control(), 2);
        server.flow(0, 0);
        client.send(&msg).unwrap();
        client.recv_response(&mut buf, Some(GIVE_UP)).unwrap();
        assert_eq!(buf, msg);
        // Three changes of level reached the first connection; the late one saw one.
        let counts: Vec<u64> = server.query(|s| {
            s.connection_stats()
                .iter()
                .map(|c| c.flow_control_count)
                .collect()
        });
        assert_eq!(counts, vec![3, 1], "{mode:?}");
    }
}

#[test]
fn access_denied_is_refused_with_the_errno() {
    for mode in MODES {
        let mut opts = Options::new(mode);
        opts.deny = Some(Errno::EACCES);
        let server = TestServer::start(opts);
        match IpcClient::connect(&server.names[0], 1 << 20) {
            Err(ClientError::Refused(e)) => assert_eq!(e, Errno::EACCES),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("connected"),
        }
        server.eventually("connection closed", |s| s.connection_count() == 0);
        assert_eq!(server.query(|s| s.stats().refused), 1);
        assert_eq!(common::dir_entries(server.shm_dir.path()), 0);
    }
}

#[test]
fn nobody_listening_is_not_running() {
    let name = format!("{}nothing", common::unique_prefix());
    assert!(matches!(
        IpcClient::connect(&name, 1 << 20),
        Err(ClientError::NotRunning)
    ));
}

#[test]
fn max_connections_refuses_with_emfile() {
    let mut opts = Options::new(IpcMode::Shm);
    opts.max_connections = 2;
    let server = TestServer::start(opts);
    let _a = connect(&server);
    let _b = connect(&server);
    assert!(matches!(
        IpcClient::connect(&server.names[0], 1 << 20),
        Err(ClientError::Refused(e)) if e == Errno::EMFILE
    ));
}

#[test]
fn client_drop_reports_disconnected() {
    for mode in MODES {
        let server = TestServer::start(Options::new(mode));
        let client = connect(&server);
        let conn = server.wait_connected();
        drop(client);
        let ev = server.wait_for(|e| matches!(e, ServerEvent::Disconnected { .. }));
        assert_eq!(ev, ServerEvent::Disconnected { conn, service: 0 });
        server.eventually("connection removed", |s| s.connection_count() == 0);
        assert_eq!(common::dir_entries(server.shm_dir.path()), 0);
    }
}

#[test]
fn server_disconnect_is_seen_by_the_client() {
    for mode in MODES {
        let server = TestServer::start(Options::new(mode));
        let mut client = connect(&server);
        let conn = server.wait_connected();
        server.disconnect(conn);
        server.wait_for(|e| matches!(e, ServerEvent::Disconnected { .. }));
        let mut buf = Vec::new();
        assert!(matches!(
            client.recv_response(&mut buf, Some(GIVE_UP)),
            Err(ClientError::Disconnected)
        ));
        assert!(matches!(
            client.wait_event(Some(GIVE_UP)),
            Err(ClientError::Disconnected)
        ));
    }
}

#[test]
fn slow_reader_is_disconnected_and_others_are_unaffected() {
    for mode in MODES {
        let mut opts = Options::new(mode);
        opts.event_queue_limit = 64 * 1024;
        let server = TestServer::start(opts);
        let mut slow = connect(&server);
        let slow_conn = server.wait_connected();
        hello(&mut slow);
        let mut fast = connect(&server);
        let fast_conn = server.wait_connected();
        hello(&mut fast);
        // 40 MB of events: far more than the channel plus the 64 KiB queue holds.
        for batch in 0..100 {
            let events = (0..100).map(|i| message(i, 4096, batch as u8)).collect();
            server.send_events(slow_conn, events);
            if server.query(move |s| {
                s.queued_event_bytes(slow_conn) == 0 && s.stats().disconnected_slow > 0
            }) {
                break;
            }
        }
        let ev = server.wait_for(|e| matches!(e, ServerEvent::Disconnected { .. }));
        assert_eq!(
            ev,
            ServerEvent::Disconnected {
                conn: slow_conn,
                service: 0
            },
            "{mode:?}"
        );
        assert_eq!(server.query(|s| s.stats().disconnected_slow), 1);
        // The other client still gets its events and responses.
        let mut buf = Vec::new();
        for batch in 0..30 {
            server.send_events(
                fast_conn,
                (0..10).map(|i| message(i, 4096, batch)).collect(),
            );
            for i in 0..10 {
                recv_event(&mut fast, &mut buf);
                assert_eq!(buf, message(i, 4096, batch));
            }
        }
        fast.send(&message(1, 100, 2)).unwrap();
        fast.recv_response(&mut buf, Some(GIVE_UP)).unwrap();
        drop(slow);
    }
}

/// A client that connects and never sends its request is dropped at the handshake
/// deadline; one that is on time is not.
#[test]
fn a_silent_handshake_is_dropped_at_the_deadline() {
    let server = TestServer::start(Options::new(IpcMode::Shm));
    let name = server.names[0].clone();
    let start = ais_types::Instant::ZERO + Duration::from_secs(100);
    server.query(move |s| s.handle_timeout(start));
    let mut silent = common::raw_connect(&name);
    // Accepted (it counts as a connection) before the clock moves.
    while server.query(|s| s.connection_count()) == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let due = server.query(|s| s.poll_timeout());
    assert_eq!(due, Some(start + ais_ipc::HANDSHAKE_DEADLINE));
    server.query(move |s| s.handle_timeout(start + Duration::from_secs(1)));
    assert_eq!(
        server.query(|s| s.connection_count()),
        1,
        "dropped too early"
    );
    server.query(move |s| s.handle_timeout(start + ais_ipc::HANDSHAKE_DEADLINE));
    silent.set_read_timeout(Some(GIVE_UP)).unwrap();
    let mut rest = Vec::new();
    assert_eq!(
        silent.read_to_end(&mut rest).unwrap(),
        0,
        "the daemon hung up without an answer"
    );
    assert_eq!(server.query(|s| s.stats().handshake_failed), 1);
    // Others still connect.
    let mut client = connect(&server);
    hello(&mut client);
}

#[test]
fn bad_setup_requests_are_dropped_and_others_served() {
    for mode in MODES {
        let server = TestServer::start(Options::new(mode));
        let name = server.names[0].clone();
        // Garbage of the right length.
        let mut s = common::raw_connect(&name);
        s.write_all(&[0xAB; 24]).unwrap();
        let mut rest = Vec::new();
        s.set_read_timeout(Some(GIVE_UP)).unwrap();
        assert_eq!(
            s.read_to_end(&mut rest).unwrap(),
            0,
            "closed without an answer"
        );
        // Short, then the client gives up.
        let mut s = common::raw_connect(&name);
        s.write_all(&[1, 2, 3]).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        s.set_read_timeout(Some(GIVE_UP)).unwrap();
        assert_eq!(s.read_to_end(&mut rest).unwrap(), 0);
        // Oversized: a header claiming 100 bytes.
        let mut req = ConnectionRequest {
            max_msg_size: 1 << 20,
        }
        .to_vec();
        req[8..12].copy_from_slice(&100i32.to_ne_bytes());
        req.resize(100, 0);
        let mut s = common::raw_connect(&name);
        s.write_all(&req).unwrap();
        s.set_read_timeout(Some(GIVE_UP)).unwrap();
        let _ = s.read_to_end(&mut rest);
        assert!(rest.is_empty());
        // A well-formed handshake by hand gets the whole 12 328-byte response.
        let mut s = common::raw_connect(&name);
        s.write_all(&ConnectionRequest { max_msg_size: 4096 }.to_vec())
            .unwrap();
        let mut resp = vec![0; ConnectionResponse::LEN];
        s.read_exact(&mut resp).unwrap();
        match ConnectionResponse::decode(&resp).unwrap() {
            ConnectionResponse::Accepted(a) => {
                assert_eq!(a.max_msg_size, 1 << 20, "max(ours, theirs)")
            }
            other => panic!("{other:?}"),
        }
        drop(s);
        // Everyone else is still served.
        let mut client = connect(&server);
        let mut buf = Vec::new();
        client.send(&message(3, 64, 3)).unwrap();
        client.recv_response(&mut buf, Some(GIVE_UP)).unwrap();
        assert_eq!(buf, message(3, 64, 3));
        assert!(server.query(|s| s.stats().handshake_failed) >= 3);
    }
}

#[test]
fn garbage_requests_drop_only_that_connection() {
    for mode in MODES {
        let server = TestServer::start(Options::new(mode));
        let mut bad = connect(&server);
        let bad_conn = server.wait_connected();
        let mut good = connect(&server);
        server.wait_connected();
        let mut buf = Vec::new();
        // Header size says 16, the message has 40 bytes.
        let mut garbage = message(1, 40, 0);
        garbage[8..12].copy_from_slice(&16i32.to_ne_bytes());
        bad.send(&garbage).unwrap();
        let ev = server.wait_for(|e| matches!(e, ServerEvent::Disconnected { .. }));
        assert_eq!(
            ev,
            ServerEvent::Disconnected {
                conn: bad_conn,
                service: 0
            }
        );
        assert!(matches!(
            bad.recv_response(&mut buf, Some(GIVE_UP)),
            Err(ClientError::Disconnected)
        ));
        // Too short to hold a header.
        let mut short = connect(&server);
        server.wait_connected();
        short.send(&[0u8; 8]).unwrap();
        server.wait_for(|e| matches!(e, ServerEvent::Disconnected { .. }));
        assert_eq!(server.query(|s| s.stats().malformed), 2, "{mode:?}");
        good.send(&message(2, 20, 2)).unwrap();
        good.recv_response(&mut buf, Some(GIVE_UP)).unwrap();
        assert_eq!(buf, message(2, 20, 2));
    }
}

#[test]
fn a_taken_name_is_a_clear_error() {
    let server = TestServer::start(Options::new(IpcMode::Shm));
    let prefix = server.names[0].strip_suffix("svc").unwrap().to_string();
    let err = ais_ipc::IpcServer::bind(ais_ipc::ServerConfig {
        prefix,
        services: vec!["svc".into()],
        shm_dir: server.shm_dir.path().to_path_buf(),
        ..Default::default()
    })
    .err()
    .expect("bind must fail");
    assert!(
        err.to_string().contains("another daemon serves IPC name"),
        "{err}"
    );
}

#[test]
fn responses_wait_when_the_channel_is_full() {
    // Requests are answered only when the test says so; several pipelined requests with
    // big responses fill the SHM response ring, and the server keeps the rest.
    let mut opts = Options::new(IpcMode::Shm);
    opts.echo = false;
    let server = TestServer::start(opts);
    let mut client = connect(&server);
    let conn = server.wait_connected();
    let big = message(5, 600_000, 1);
    for _ in 0..3 {
        server.respond(conn, big.clone());
    }
    assert!(
        server.query(|s| s.has_backlog()),
        "two responses do not fit the ring"
    );
    let mut buf = Vec::new();
    for _ in 0..3 {
        client.recv_response(&mut buf, Some(GIVE_UP)).unwrap();
        assert_eq!(buf, big);
    }
    server.eventually("backlog drained", |s| !s.has_backlog());
    let _ = Duration::ZERO;
}
