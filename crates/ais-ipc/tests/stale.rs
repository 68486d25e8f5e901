//! At bind, the server removes per-connection directories left by dead servers, and only
//! those.

use ais_ipc::{IpcServer, ServerConfig};

#[test]
fn directories_of_dead_servers_are_removed_and_live_ones_kept() {
    let shm = tempfile::tempdir().unwrap();
    // A pid that certainly exited: a child we waited for.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = shm.path().join(format!("ais-ipc-{dead}-7-1-abcdef"));
    // pid 1 always runs.
    let live = shm.path().join("ais-ipc-1-7-1-abcdef");
    let foreign = shm.path().join("qb-123-456-7-abcdef");
    for d in [&stale, &live, &foreign] {
        std::fs::create_dir(d).unwrap();
        std::fs::write(d.join("qb-request-cpg-header"), b"x").unwrap();
    }
    let _server = IpcServer::bind(ServerConfig {
        prefix: format!("ais-ipc-stale-{}-", std::process::id()),
        services: vec!["cpg".into()],
        shm_dir: shm.path().to_owned(),
        ..ServerConfig::default()
    })
    .unwrap();
    assert!(!stale.exists(), "a dead server's directory is removed");
    assert!(live.exists(), "a live server's directory is kept");
    assert!(
        foreign.exists(),
        "libqb's own directories are not ours to remove"
    );
}
