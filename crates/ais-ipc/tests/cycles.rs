//! 1000 connect/disconnect cycles per transport: no fd, file or connection may leak. Its
//! own test binary, so that no concurrently running test changes the fd count.

mod common;

use ais_ipc::IpcMode;
use ais_ipc::client::IpcClient;
use common::{GIVE_UP, Options, TestServer, message};

const MODES: [IpcMode; 2] = [IpcMode::Shm, IpcMode::Socket];

fn connect(server: &TestServer) -> IpcClient {
    IpcClient::connect(&server.names[0], 1 << 20).unwrap()
}

#[test]
fn thousand_connect_disconnect_cycles_leak_nothing() {
    for mode in MODES {
        let server = TestServer::start(Options::new(mode));
        let warm = connect(&server);
        drop(warm);
        server.eventually("warm-up closed", |s| s.connection_count() == 0);
        let fds_before = common::open_fds();
        let mut buf = Vec::new();
        for i in 0..1000 {
            let mut client = connect(&server);
            if i % 100 == 0 {
                client.send(&message(1, 16, 0)).unwrap();
                client.recv_response(&mut buf, Some(GIVE_UP)).unwrap();
            }
        }
        server.eventually("all connections closed", |s| s.connection_count() == 0);
        // Drain the server's event channel so the forwarded events don't pile up.
        while server.events.try_recv().is_ok() {}
        assert_eq!(common::open_fds(), fds_before, "{mode:?}: fds leaked");
        assert_eq!(
            common::dir_entries(server.shm_dir.path()),
            0,
            "{mode:?}: dirs left"
        );
        let stats = server.query(|s| s.stats().clone());
        assert_eq!(stats.accepted, 1001);
        assert_eq!(stats.disconnected, 1001);
    }
}
