//! Local users against the daemon's IPC: one who may not connect tries to speak with an
//! admitted client's authority, or to starve root's clients with idle connections; an
//! admitted client truncates the shared memory the daemon writes into. The daemon must
//! refuse or drop the offender, keep serving everyone else, and keep its ring.

#![allow(clippy::disallowed_methods)] // Tests read the clock and sleep.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{SocketAddr, UnixStream};
use std::path::Path;
use std::process::{Command, Stdio};

use ais_ipc::client::{ClientError, IpcClient};
use ais_wire::ipc::{
    CmapRequest, CmapResponse, CmapValue, ConnectionRequest, ConnectionResponse, CpgRequest,
    CpgResponse, CsStatus, IPC_MSG_SIZE_MAX, IpcTransport,
};
use common::lab::Lab;
use common::{Cluster, Layout};

/// The abstract address libqb uses: the name zero-padded to the whole `sun_path`.
fn libqb_addr(name: &str) -> SocketAddr {
    let mut padded = name.as_bytes().to_vec();
    padded.resize(107, 0);
    SocketAddr::from_abstract_name(&padded).unwrap()
}

/// The attacker program, built in a directory everybody may read (it runs as nobody).
fn attacker(dir: &Path) -> String {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    common::build_c(dir, "ipc_attacker", &[])
        .display()
        .to_string()
}

fn cmap_get(prefix: &str, key: &str) -> CmapResponse {
    let mut client = IpcClient::connect(&format!("{prefix}cmap"), IPC_MSG_SIZE_MAX as u32)
        .expect("root connects to cmap");
    let request = CmapRequest::Get {
        key: key.to_owned(),
        value_len: 64,
    };
    client.send(&request.to_vec().unwrap()).unwrap();
    let mut buf = Vec::new();
    client
        .recv_response(&mut buf, Some(common::PATIENCE))
        .expect("cmap answers");
    CmapResponse::decode(&buf).expect("decodable response")
}

/// SOCKET mode: a user who may not connect watches an admitted (root) client's handshake,
/// binds the client's response and event names before the client does, and sends a
/// request from them. The daemon must not take it as the client's, and must send it
/// nothing.
#[test]
fn socket_mode_requests_come_only_from_the_admitted_process() {
    if !rustix::process::geteuid().is_root() {
        common::cannot_run("playing another user needs root (to become nobody)");
        return;
    }
    let mut layout = Layout::loopback(1, 25925, 1000);
    layout.ipc_type = "socket";
    let mut c = Cluster::new(&layout);
    c.start(1);
    c.wait_members(&[1], &[1]);
    let prefix = c.ipc_prefix(1);
    let tools = tempfile::tempdir().unwrap();
    let attacker = attacker(tools.path());

    // The victim: root's handshake with cmap, answered, its names not bound yet.
    let mut victim = UnixStream::connect_addr(&libqb_addr(&format!("{prefix}cmap"))).unwrap();
    victim
        .write_all(
            &ConnectionRequest {
                max_msg_size: IPC_MSG_SIZE_MAX as u32,
            }
            .to_vec(),
        )
        .unwrap();
    let mut reply = vec![0; ConnectionResponse::LEN];
    victim.read_exact(&mut reply).unwrap();
    let ConnectionResponse::Accepted(accepted) = ConnectionResponse::decode(&reply).unwrap() else {
        panic!("root was refused");
    };
    assert_eq!(accepted.transport, IpcTransport::Socket);
    let base = String::from_utf8(accepted.response.as_bytes().to_vec()).unwrap();

    // The attacker, as nobody, speaks first from the victim's names: a cmap write only
    // root may make.
    let request = tools.path().join("request");
    let set = CmapRequest::Set {
        key: "attack.owned".to_owned(),
        value: CmapValue::U8(1),
    };
    std::fs::write(&request, set.to_vec().unwrap()).unwrap();
    std::fs::set_permissions(&request, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = Command::new(&attacker)
        .args(["impersonate", &base, request.to_str().unwrap(), "1000"])
        .output()
        .expect("run the attacker");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "attacker: {said} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("sent"), "{said}");
    assert!(
        !said.contains("response") && !said.contains("event"),
        "the daemon answered the impersonator: {said}"
    );
    assert_eq!(
        cmap_get(&prefix, "attack.owned").error(),
        CsStatus::ERR_NOT_EXIST,
        "the impersonated write was carried out"
    );
    let stats = c.stats(1);
    assert!(common::stat(&stats, "foreign_datagrams") >= 1, "{stats:?}");
    drop(victim);

    // Root's own SOCKET-mode clients are served as before.
    let mut cpg = IpcClient::connect(&format!("{prefix}cpg"), IPC_MSG_SIZE_MAX as u32).unwrap();
    cpg.send(&CpgRequest::LocalGet.to_vec()).unwrap();
    let mut buf = Vec::new();
    cpg.recv_response(&mut buf, Some(common::PATIENCE)).unwrap();
    assert!(matches!(
        CpgResponse::decode(&buf),
        Ok(CpgResponse::LocalGet { .. })
    ));
}

/// SHM mode: an admitted client truncates the ring files the daemon writes its responses
/// and events into. The daemon drops that client and goes on; the ring is untouched.
#[test]
fn a_client_truncating_its_rings_is_dropped_and_the_daemon_survives() {
    let mut c = Cluster::new(&Layout::loopback(2, 25935, 1000));
    c.start(1);
    c.start(2);
    c.wait_members(&[1, 2], &[1, 2]);
    let prefix = c.ipc_prefix(1);
    let daemon = c.pid(1);
    let configurations = c.membership_count(1);

    let mut client = IpcClient::connect(&format!("{prefix}cpg"), IPC_MSG_SIZE_MAX as u32).unwrap();
    // Its connection's directory: /dev/shm/ais-ipc-<daemon>-<client>-<conn>-<random>.
    let mine = format!("ais-ipc-{daemon}-{}-", std::process::id());
    let dir = std::fs::read_dir("/dev/shm")
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with(&mine))
        .expect("the connection's directory")
        .path();
    for ring in ["response", "event"] {
        let data = dir.join(format!("qb-{ring}-cpg-data"));
        std::fs::OpenOptions::new()
            .write(true)
            .open(&data)
            .unwrap()
            .set_len(0)
            .unwrap();
    }
    // The response goes into the truncated ring: the daemon's write faults.
    client.send(&CpgRequest::LocalGet.to_vec()).unwrap();
    assert!(
        matches!(
            client.wait_event(Some(common::PATIENCE)),
            Err(ClientError::Disconnected)
        ),
        "the daemon kept a client whose ring it cannot use"
    );
    drop(client);

    // The daemon lives, serves others and stayed in its ring.
    assert!(
        Path::new(&format!("/proc/{daemon}")).exists(),
        "the daemon died"
    );
    let mut other = IpcClient::connect(&format!("{prefix}cpg"), IPC_MSG_SIZE_MAX as u32).unwrap();
    other.send(&CpgRequest::LocalGet.to_vec()).unwrap();
    let mut buf = Vec::new();
    other
        .recv_response(&mut buf, Some(common::PATIENCE))
        .unwrap();
    assert!(matches!(
        CpgResponse::decode(&buf),
        Ok(CpgResponse::LocalGet { .. })
    ));
    let stats = c.stats(1);
    assert!(common::stat(&stats, "malformed") >= 1, "{stats:?}");
    assert_eq!(c.members(1), Some(vec![1, 2]));
    assert_eq!(
        c.membership_count(1),
        configurations,
        "the ring changed meanwhile"
    );
}

/// On a namespace host: uid nobody opens 5,000 idle connections to each of the cpg and
/// cmap endpoints and sends nothing. Root's tools still connect and answer, and the ring
/// sees no membership change.
#[test]
fn idle_connections_of_another_user_do_not_lock_out_root() {
    let Some(lab) = Lab::new("idle", 2, 1) else {
        return;
    };
    if !Path::new("/usr/sbin/corosync-cmapctl").exists() {
        common::cannot_run("corosync-cmapctl is missing (apt-get install corosync)");
        return;
    }
    let mut c = Cluster::new(&Layout::hosts(2));
    lab.start(&mut c, 1);
    lab.start(&mut c, 2);
    c.wait_members(&[1, 2], &[1, 2]);
    let configurations = c.membership_count(1);
    let tools = tempfile::tempdir().unwrap();
    let attacker = attacker(tools.path());

    let mut flood = Command::new("ip")
        .args(["netns", "exec", &lab.host(1), &attacker])
        .args(["hold", "5000", "cpg", "cmap"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run the attacker");
    let mut line = String::new();
    BufReader::new(flood.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("held "), "attacker said {line:?}");

    // While nobody's connections are open: root's corosync tools work.
    let (out, code) = lab.run(1, "/usr/sbin/corosync-cmapctl", &["totem.cluster_name"]);
    assert_eq!(code, 0, "corosync-cmapctl failed: {out}");
    assert!(out.contains("totem.cluster_name"), "{out}");
    let (out, code) = lab.run(1, "/usr/sbin/corosync-cpgtool", &[]);
    assert_eq!(code, 0, "corosync-cpgtool failed: {out}");

    drop(flood.stdin.take());
    let _ = flood.wait();
    let stats = c.stats(1);
    assert!(common::stat(&stats, "refused") >= 5000, "{stats:?}");
    assert_eq!(c.members(1), Some(vec![1, 2]));
    assert_eq!(
        c.membership_count(1),
        configurations,
        "the ring changed under the flood"
    );
}
