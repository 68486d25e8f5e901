//! Misbehaving clients against a real daemon: garbage at connection setup, malformed and
//! unknown requests, a client that never reads its events, a client killed mid-request, and
//! 1,000 connect/disconnect cycles. The daemon must drop or answer each, keep serving a
//! well-behaved client throughout, report the departed CPG members PROCDOWN, and return to
//! its memory baseline.

#![allow(clippy::disallowed_methods)] // Tests read the clock and sleep.

mod common;

use std::io::{Read, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixStream};
use std::time::{Duration, Instant};

use ais_ipc::client::{ClientError, IpcClient};
use ais_wire::ipc::{
    CpgEvent, CpgName, CpgPayload, CpgReason, CpgRequest, CpgResponse, CsStatus, Guarantee,
    IPC_MSG_SIZE_MAX,
};
use bytes::Bytes;
use common::{Cluster, Layout};
use rustix::process::Signal;

const GROUP: &[u8] = b"abuse";

/// A raw CPG client: requests and events as `ais_wire` values.
struct Client {
    ipc: IpcClient,
    pid: u32,
}

impl Client {
    fn connect(prefix: &str, pid: u32) -> Self {
        let ipc = IpcClient::connect(&format!("{prefix}cpg"), IPC_MSG_SIZE_MAX as u32)
            .expect("connect to cpg");
        Self { ipc, pid }
    }

    fn call(&mut self, request: &CpgRequest) -> CpgResponse {
        self.ipc.send(&request.to_vec()).expect("send");
        let mut buf = Vec::new();
        self.ipc
            .recv_response(&mut buf, Some(Duration::from_secs(30)))
            .expect("response");
        CpgResponse::decode(&buf).expect("decodable response")
    }

    fn join(&mut self) {
        self.join_group(GROUP);
    }

    fn join_group(&mut self, group: &[u8]) {
        let reply = self.call(&CpgRequest::Join {
            group: CpgName::new(group.to_vec()).unwrap(),
            pid: self.pid,
            flags: 0,
        });
        assert_eq!(reply, CpgResponse::Join(CsStatus::OK));
    }

    /// Multicasts, retrying while flow control is on (reading events meanwhile).
    fn mcast(&mut self, data: &[u8], events: &mut Vec<CpgEvent>) {
        let request = CpgRequest::Mcast {
            guarantee: Guarantee::AGREED,
            payload: CpgPayload::new(Bytes::copy_from_slice(data)).unwrap(),
        }
        .to_vec();
        let deadline = Instant::now() + common::PATIENCE;
        loop {
            match self.ipc.send(&request) {
                Ok(()) => return,
                Err(ClientError::TryAgain) => {
                    assert!(Instant::now() < deadline, "flow control never lifted");
                    self.read_events(events, Duration::from_millis(1));
                }
                Err(e) => panic!("mcast: {e}"),
            }
        }
    }

    /// Reads every event available within `wait`.
    fn read_events(&mut self, events: &mut Vec<CpgEvent>, wait: Duration) {
        let mut buf = Vec::new();
        if !self.ipc.wait_event(Some(wait)).expect("wait for events") {
            return;
        }
        while self.ipc.try_recv_event(&mut buf).expect("event") {
            events.push(CpgEvent::decode(&buf).expect("decodable event"));
        }
    }

    /// Reads events until `done` holds for one of them.
    fn wait_for(&mut self, events: &mut Vec<CpgEvent>, done: impl Fn(&CpgEvent) -> bool) {
        let deadline = Instant::now() + common::PATIENCE;
        loop {
            if events.iter().any(&done) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "event never came; got {events:?}"
            );
            self.read_events(events, Duration::from_millis(50));
        }
    }
}

fn left_with(reason: CpgReason, pid: u32) -> impl Fn(&CpgEvent) -> bool {
    move |e| match e {
        CpgEvent::Confchg(c) => c.left.iter().any(|a| a.pid == pid && a.reason == reason),
        _ => false,
    }
}

/// The daemon's RSS once it settled: the lowest reading over a few seconds (it trims its
/// heap a second after a burst ends), or as soon as it is back near `baseline`.
fn settled_rss(pid: u32, baseline: u64) -> u64 {
    let mut low = rss_kib(pid);
    for _ in 0..25 {
        if low < baseline + 4 * 1024 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        low = low.min(rss_kib(pid));
    }
    low
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}

/// The abstract address libqb uses: the name zero-padded to the whole `sun_path`.
fn libqb_addr(name: &str) -> SocketAddr {
    let mut padded = name.as_bytes().to_vec();
    padded.resize(107, 0);
    SocketAddr::from_abstract_name(&padded).unwrap()
}

#[test]
fn misbehaving_clients_are_dropped_and_the_others_served() {
    let mut c = Cluster::new(&Layout::loopback(1, 25905, 1000));
    c.start(1);
    c.wait_members(&[1], &[1]);
    let prefix = c.ipc_prefix(1);
    let daemon = c.pid(1);
    let mut events = Vec::new();

    // The well-behaved member.
    let mut good = Client::connect(&prefix, 1_000_001);
    good.join();
    good.wait_for(&mut events, |e| matches!(e, CpgEvent::Confchg(_)));

    // Warm up, then take the memory baseline.
    for _ in 0..50 {
        drop(Client::connect(&prefix, 7));
    }
    let baseline = rss_kib(daemon);

    // Garbage instead of the 24-byte setup request: the daemon hangs up.
    let mut raw = UnixStream::connect_addr(&libqb_addr(&format!("{prefix}cpg"))).unwrap();
    raw.write_all(&[0xff; 64]).unwrap();
    raw.set_read_timeout(Some(common::PATIENCE)).unwrap();
    let mut sink = Vec::new();
    // The hang-up itself: end of stream, or a reset since the daemon closed with our bytes
    // unread; a read timeout (WouldBlock) would be neither.
    match raw.read_to_end(&mut sink) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the daemon did not hang up on garbage: {other:?}, {sink:?}"),
    }

    // A request whose header size lies: the connection is dropped.
    let mut liar = Client::connect(&prefix, 2);
    let mut bad = CpgRequest::LocalGet.to_vec();
    bad[8..12].copy_from_slice(&4096i32.to_le_bytes());
    liar.ipc.send(&bad).unwrap();
    let mut buf = Vec::new();
    assert!(matches!(
        liar.ipc
            .recv_response(&mut buf, Some(Duration::from_secs(30))),
        Err(ClientError::Disconnected)
    ));

    // An unknown request id is answered, as corosync does: id 0, INVALID_PARAM.
    let mut odd = Client::connect(&prefix, 3);
    let mut unknown = CpgRequest::LocalGet.to_vec();
    unknown[0..4].copy_from_slice(&99i32.to_le_bytes());
    odd.ipc.send(&unknown).unwrap();
    odd.ipc
        .recv_response(&mut buf, Some(Duration::from_secs(30)))
        .unwrap();
    assert_eq!(
        CpgResponse::decode(&buf),
        Ok(CpgResponse::Join(CsStatus::ERR_INVALID_PARAM))
    );
    assert!(matches!(
        odd.call(&CpgRequest::LocalGet),
        CpgResponse::LocalGet { .. }
    ));
    drop(odd);

    // Killed mid-request: a member asks to leave and vanishes before the answer. Whichever
    // the daemon sees first, the request or the hang-up, the group learns it left.
    let mut ghost = Client::connect(&prefix, 4);
    ghost.join();
    ghost
        .ipc
        .send(
            &CpgRequest::Leave {
                group: CpgName::new(GROUP.to_vec()).unwrap(),
                pid: 4,
            }
            .to_vec(),
        )
        .unwrap();
    drop(ghost);
    good.wait_for(&mut events, |e| {
        left_with(CpgReason::ProcDown, 4)(e) || left_with(CpgReason::Leave, 4)(e)
    });

    // A member that never reads: once its queue passes the limit it is dropped, and the
    // group is told. Twice: the second time must not cost more memory than the first.
    let mut after_deaf = Vec::new();
    for (round, pid) in [(1u32, 5u32), (2, 6)] {
        let mut deaf = Client::connect(&prefix, pid);
        deaf.join();
        let payload = vec![0x5a; 8192];
        let mut sent = 0u64;
        let deadline = Instant::now() + Duration::from_secs(300);
        while !events.iter().any(left_with(CpgReason::ProcDown, pid)) {
            assert!(
                Instant::now() < deadline,
                "the deaf client was never dropped (round {round})"
            );
            good.mcast(&payload, &mut events);
            sent += 1;
            if sent.is_multiple_of(64) {
                good.read_events(&mut events, Duration::ZERO);
                // Keep only the confchgs: the deliveries are not needed and would fill memory.
                events.retain(|e| matches!(e, CpgEvent::Confchg(_)));
            }
        }
        drop(deaf);
        after_deaf.push(settled_rss(daemon, baseline));
    }

    // 1000 connect/disconnect cycles.
    for i in 0..1000 {
        let mut client = Client::connect(&prefix, 10_000 + i);
        if i.is_multiple_of(10) {
            assert!(matches!(
                client.call(&CpgRequest::LocalGet),
                CpgResponse::LocalGet { .. }
            ));
        }
    }

    // The good client still works: its own message comes back.
    events.clear();
    good.mcast(b"still here", &mut events);
    good.wait_for(
        &mut events,
        |e| matches!(e, CpgEvent::Deliver(d) if d.payload.bytes().as_ref() == b"still here"),
    );

    // Memory back to the baseline: the queues are freed (a slow client's queue is one
    // allocation, returned whole) and nothing is left per connection.
    let after = settled_rss(daemon, baseline);
    eprintln!(
        "daemon RSS: baseline {baseline} KiB, after each deaf client {after_deaf:?} KiB, \
         after 1000 connections {after} KiB"
    );
    for rss in after_deaf.iter().chain([&after]) {
        assert!(
            *rss < baseline + 4 * 1024,
            "daemon RSS did not return to its baseline {baseline} KiB: {after_deaf:?}, {after} KiB"
        );
    }
    let stats = c.stats(1);
    assert!(common::stat(&stats, "malformed") >= 1, "{stats:?}");
    assert!(common::stat(&stats, "disconnected_slow") >= 1, "{stats:?}");
}

/// Many clients that ignore CPG's flow control each write maximum-size multicasts as fast
/// as their channels take them: together far more than the daemon's queue holds. libcpg
/// has said CS_OK for every message a channel took, and MCAST is never answered, so every
/// one of them must be delivered, in order, none twice.
#[test]
fn every_multicast_accepted_from_many_clients_at_once_is_delivered() {
    const CLIENTS: u32 = 64;
    const EACH: u32 = 3;
    // Two nodes: the token travels, so a multicast waits in the daemon's queue for it.
    let mut c = Cluster::new(&Layout::loopback(2, 25945, 1000));
    c.start(1);
    c.start(2);
    c.wait_members(&[1, 2], &[1, 2]);
    let prefix = c.ipc_prefix(1);
    // Each client in a group of its own: it receives its own messages only.
    let mut clients: Vec<Client> = (0..CLIENTS)
        .map(|i| {
            let mut client = Client::connect(&prefix, 3_000_000 + i);
            client.join_group(format!("flood{i}").as_bytes());
            client
        })
        .collect();
    let message = |pid: u32, seq: u32| {
        let mut data = vec![(seq as u8) ^ 0x5a; ais_wire::ipc::CPG_MCAST_PAYLOAD_MAX];
        data[..4].copy_from_slice(&pid.to_le_bytes());
        data[4..8].copy_from_slice(&seq.to_le_bytes());
        data
    };
    let mcast = |client: &mut Client, seq: u32| {
        let request = CpgRequest::Mcast {
            guarantee: Guarantee::AGREED,
            payload: CpgPayload::new(Bytes::from(message(client.pid, seq))).unwrap(),
        }
        .to_vec();
        match client.ipc.send(&request) {
            Ok(()) => true,
            Err(ClientError::TryAgain) => false,
            Err(e) => panic!("mcast: {e}"),
        }
    };
    let mut accepted = vec![0u32; CLIENTS as usize];
    let mut delivered = vec![0u32; CLIENTS as usize];
    let mut buf = Vec::new();
    // All at once: with the daemon stopped, every client's channel takes one message
    // (64 MiB in all, twice what the daemon may queue), all found together on waking.
    c.signal(1, Signal::STOP);
    for (i, client) in clients.iter_mut().enumerate() {
        assert!(
            mcast(client, 0),
            "client {i}: an empty channel refused a message"
        );
        accepted[i] = 1;
    }
    c.signal(1, Signal::CONT);
    let deadline = Instant::now() + common::PATIENCE;
    while delivered.iter().any(|&d| d < EACH) {
        assert!(
            Instant::now() < deadline,
            "accepted {accepted:?}, delivered only {delivered:?}"
        );
        for (i, client) in clients.iter_mut().enumerate() {
            if accepted[i] < EACH && mcast(client, accepted[i]) {
                accepted[i] += 1;
            }
            while client.ipc.try_recv_event(&mut buf).expect("event") {
                let CpgEvent::Deliver(d) = CpgEvent::decode(&buf).expect("decodable event") else {
                    continue;
                };
                let want = message(client.pid, delivered[i]);
                assert!(
                    d.payload.bytes().as_ref() == want.as_slice(),
                    "client {i}: delivery {} is not its message {} (duplicate, gap or \
                     corruption)",
                    delivered[i],
                    delivered[i]
                );
                delivered[i] += 1;
                assert!(
                    delivered[i] <= accepted[i],
                    "client {i}: delivered more than sent"
                );
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let stats = c.stats(1);
    let gated = common::stat(&stats, "requests_gated");
    eprintln!("requests left unread for want of room: {gated}");
    assert!(
        gated > 0,
        "the burst never exceeded the daemon's room: {stats:?}"
    );
}
