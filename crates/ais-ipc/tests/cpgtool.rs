//! Compatibility with real libqb clients: Debian's `corosync-cpgtool` (libcpg, libqb 2.0.6)
//! against our server with a tiny fake CPG responder, in both transports.
//!
//! The names are corosync's own ("cpg"), which are global per network namespace, so the
//! server thread moves into a private namespace first and the tool joins it with `nsenter`.
//! Skipped (with a message) when not root or when the tool is missing.

mod common;

use std::path::Path;
use std::process::Command;

use ais_ipc::{IpcMode, ServerEvent};
use common::{Options, TestServer};

const CPGTOOL: &str = "/usr/sbin/corosync-cpgtool";
const CS_OK: i32 = 1;
const CS_ERR_INVALID_PARAM: i32 = 7;
const CS_ERR_NO_SECTIONS: i32 = 27;

fn response(id: i32, size: usize, error: i32) -> Vec<u8> {
    let mut r = vec![0u8; size];
    r[0..4].copy_from_slice(&id.to_ne_bytes());
    r[8..12].copy_from_slice(&(size as i32).to_ne_bytes());
    r[16..20].copy_from_slice(&error.to_ne_bytes());
    r
}

/// Requests -> the responses corosync would give on an empty node. cpgtool also opens
/// `cfg` (service 1) to print addresses.
fn fake_corosync(service: usize, req: &[u8]) -> Option<Vec<u8>> {
    let id = i32::from_ne_bytes(req[0..4].try_into().unwrap());
    if service == 1 {
        return Some(fake_cfg(id));
    }
    Some(match id {
        // LOCAL_GET -> RES 7: local_nodeid @24.
        4 => {
            let mut r = response(7, 32, CS_OK);
            r[24..28].copy_from_slice(&1u32.to_ne_bytes());
            r
        }
        // ITERATIONINITIALIZE -> RES 9: handle @24.
        5 => {
            let mut r = response(9, 32, CS_OK);
            r[24..32].copy_from_slice(&42u64.to_ne_bytes());
            r
        }
        // ITERATIONNEXT -> RES 10: no (more) groups.
        6 => response(10, 168, CS_ERR_NO_SECTIONS),
        7 => response(11, 24, CS_OK),
        8 => response(12, 24, CS_OK),
        _ => response(0, 24, CS_ERR_INVALID_PARAM),
    })
}

/// cfg requests (reference §2.6).
fn fake_cfg(id: i32) -> Vec<u8> {
    match id {
        // GET_NODE_ADDRS -> RES 11: family AF_INET @24, no addresses.
        5 => {
            let mut r = response(11, 32, CS_OK);
            r[24..28].copy_from_slice(&2u32.to_ne_bytes());
            r
        }
        // LOCAL_GET -> RES 12: local_nodeid @24.
        6 => {
            let mut r = response(12, 32, CS_OK);
            r[24..28].copy_from_slice(&1u32.to_ne_bytes());
            r
        }
        _ => response(0, 24, CS_ERR_INVALID_PARAM),
    }
}

fn skip_reason() -> Option<&'static str> {
    if !rustix::process::geteuid().is_root() {
        return Some("not root (needs unshare(CLONE_NEWNET) and nsenter)");
    }
    if !Path::new(CPGTOOL).exists() {
        return Some("corosync-cpgtool is not installed");
    }
    None
}

fn run_cpgtool(mode: IpcMode) {
    let mut opts = Options::new(mode);
    opts.services = vec!["cpg".into(), "cfg".into()];
    opts.netns = true;
    opts.echo = false;
    opts.responder = Some(Box::new(fake_corosync));
    let server = TestServer::start(opts);
    let netns = format!("/proc/{}/task/{}/ns/net", std::process::id(), server.tid);
    let out = Command::new("timeout")
        .args(["60", "nsenter", &format!("--net={netns}"), CPGTOOL])
        .output()
        .expect("run nsenter");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{mode:?}: cpgtool failed: {:?}\n{stdout}\n{stderr}",
        out.status
    );
    let mut requests = Vec::new();
    while let Ok(ev) = server.events.try_recv() {
        if let ServerEvent::Request { msg, service, .. } = ev {
            requests.push((service, i32::from_ne_bytes(msg[0..4].try_into().unwrap())));
        }
    }
    assert!(
        requests.contains(&(0, 5)),
        "{mode:?}: cpgtool iterated: {requests:?}"
    );
    server.eventually("cpgtool disconnected", |s| s.connection_count() == 0);
    assert_eq!(common::dir_entries(server.shm_dir.path()), 0);
    println!("{mode:?}: cpgtool requests {requests:?}, output:\n{stdout}");
}

#[test]
fn corosync_cpgtool_works_in_shm_mode() {
    if let Some(why) = skip_reason() {
        assert!(
            std::env::var_os("CI").is_none(),
            "this test must run under CI, but {why}"
        );
        println!("SKIPPED corosync_cpgtool_works_in_shm_mode: {why}");
        return;
    }
    run_cpgtool(IpcMode::Shm);
}

#[test]
fn corosync_cpgtool_works_in_socket_mode() {
    if let Some(why) = skip_reason() {
        assert!(
            std::env::var_os("CI").is_none(),
            "this test must run under CI, but {why}"
        );
        println!("SKIPPED corosync_cpgtool_works_in_socket_mode: {why}");
        return;
    }
    run_cpgtool(IpcMode::Socket);
}
