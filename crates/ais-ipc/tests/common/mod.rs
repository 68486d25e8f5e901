//! Test harness: an `IpcServer` in its own thread with its own mio loop, driven by commands
//! and reporting its events over a channel.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use ais_ipc::{Access, ConnId, IpcMode, IpcServer, ServerConfig, ServerEvent};
use ais_wire::ipc::Errno;
use mio::{Events, Poll, Token, Waker};

/// Give-up bound for anything the tests wait for (never an assertion on speed).
pub const GIVE_UP: Duration = Duration::from_secs(60);

pub type Responder = Box<dyn FnMut(usize, &[u8]) -> Option<Vec<u8>> + Send>;

pub struct Options {
    pub mode: IpcMode,
    pub services: Vec<String>,
    /// Answer every request with a copy of itself.
    pub echo: bool,
    pub responder: Option<Responder>,
    pub deny: Option<Errno>,
    pub event_queue_limit: usize,
    pub max_connections: usize,
    pub max_msg_size: u32,
    /// Use the services' names without prefix inside a private network namespace.
    pub netns: bool,
}

impl Options {
    pub fn new(mode: IpcMode) -> Self {
        Self {
            mode,
            services: vec!["svc".into()],
            echo: true,
            responder: None,
            deny: None,
            event_queue_limit: 16 << 20,
            max_connections: 4096,
            max_msg_size: 1 << 20,
            netns: false,
        }
    }
}

type Query = Box<dyn FnOnce(&mut IpcServer) + Send>;

enum Cmd {
    Respond(ConnId, Vec<u8>),
    Events(ConnId, Vec<Vec<u8>>),
    Flow(usize, i32),
    Disconnect(ConnId),
    Query(Query),
    Stop,
}

pub struct TestServer {
    cmds: mpsc::Sender<Cmd>,
    waker: Arc<Waker>,
    pub events: mpsc::Receiver<ServerEvent>,
    thread: Option<JoinHandle<()>>,
    /// Full names of the services, as clients connect to them.
    pub names: Vec<String>,
    pub shm_dir: tempfile::TempDir,
    /// Thread id of the server thread (for `nsenter` into its namespace).
    pub tid: i32,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

pub fn unique_prefix() -> String {
    format!(
        "ais-ipc-test-{}-{}-",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl TestServer {
    pub fn start(mut opts: Options) -> Self {
        let prefix = if opts.netns {
            String::new()
        } else {
            unique_prefix()
        };
        let shm_dir = tempfile::tempdir_in("/dev/shm").unwrap();
        let config = ServerConfig {
            prefix: prefix.clone(),
            services: opts.services.clone(),
            mode: opts.mode,
            max_msg_size: opts.max_msg_size,
            event_queue_limit: opts.event_queue_limit,
            max_connections: opts.max_connections,
            shm_dir: shm_dir.path().to_path_buf(),
            ..ServerConfig::default()
        };
        let names = opts
            .services
            .iter()
            .map(|s| format!("{prefix}{s}"))
            .collect();
        let (cmd_tx, cmd_rx) = mpsc::channel::<Cmd>();
        let (ev_tx, ev_rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("ipc-server".into())
            .spawn(move || {
                if opts.netns {
                    // SAFETY: unshare affects only this thread's network namespace.
                    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
                    assert_eq!(
                        rc,
                        0,
                        "unshare(CLONE_NEWNET): {}",
                        std::io::Error::last_os_error()
                    );
                }
                // SAFETY: gettid has no preconditions.
                let tid = unsafe { libc::gettid() };
                let mut poll = Poll::new().unwrap();
                let waker = Arc::new(Waker::new(poll.registry(), Token(0)).unwrap());
                let mut server = IpcServer::bind(config).unwrap();
                server.register(poll.registry(), 1).unwrap();
                ready_tx.send((waker, tid)).unwrap();
                let deny = opts.deny;
                let mut access = move |_svc: usize, _c: &ais_ipc::Credentials| match deny {
                    Some(e) => Access::Deny(e),
                    None => Access::Allow,
                };
                let mut events = Events::with_capacity(256);
                loop {
                    let timeout = if server.has_backlog() {
                        Duration::from_millis(1)
                    } else {
                        Duration::from_millis(50)
                    };
                    poll.poll(&mut events, Some(timeout)).unwrap();
                    for event in &events {
                        if server.owns(event.token()) {
                            server.handle_ready(poll.registry(), event, &mut access);
                        }
                    }
                    while let Ok(cmd) = cmd_rx.try_recv() {
                        match cmd {
                            Cmd::Respond(c, m) => server.respond(c, &m),
                            Cmd::Events(c, ms) => {
                                for m in ms {
                                    server.send_event(c, &m);
                                }
                            }
                            Cmd::Flow(s, l) => server.set_flow_control(s, l),
                            Cmd::Disconnect(c) => server.disconnect(c),
                            Cmd::Query(f) => f(&mut server),
                            Cmd::Stop => return,
                        }
                    }
                    server.flush(poll.registry());
                    while let Some(ev) = server.poll_event() {
                        if let ServerEvent::Request { conn, service, msg } = &ev {
                            if let Some(r) = opts.responder.as_mut() {
                                if let Some(resp) = r(*service, msg) {
                                    server.respond(*conn, &resp);
                                }
                            } else if opts.echo {
                                server.respond(*conn, msg);
                            }
                        }
                        let _ = ev_tx.send(ev);
                    }
                    server.flush_notifications();
                }
            })
            .unwrap();
        let (waker, tid) = ready_rx.recv_timeout(GIVE_UP).expect("server started");
        Self {
            cmds: cmd_tx,
            waker,
            events: ev_rx,
            thread: Some(thread),
            names,
            shm_dir,
            tid,
        }
    }

    fn cmd(&self, cmd: Cmd) {
        self.cmds.send(cmd).unwrap();
        self.waker.wake().unwrap();
    }

    pub fn respond(&self, conn: ConnId, msg: Vec<u8>) {
        self.cmd(Cmd::Respond(conn, msg));
    }

    pub fn send_events(&self, conn: ConnId, msgs: Vec<Vec<u8>>) {
        self.cmd(Cmd::Events(conn, msgs));
    }

    pub fn flow(&self, service: usize, level: i32) {
        self.cmd(Cmd::Flow(service, level));
        self.query(|_| ()); // applied once the query returns
    }

    pub fn disconnect(&self, conn: ConnId) {
        self.cmd(Cmd::Disconnect(conn));
    }

    pub fn query<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut IpcServer) -> T + Send + 'static,
    ) -> T {
        let (tx, rx) = mpsc::channel();
        self.cmd(Cmd::Query(Box::new(move |s| {
            let _ = tx.send(f(s));
        })));
        rx.recv_timeout(GIVE_UP).expect("server answers queries")
    }

    /// The next server event, waiting at most `GIVE_UP`.
    pub fn next_event(&self) -> ServerEvent {
        self.events.recv_timeout(GIVE_UP).expect("a server event")
    }

    /// Skips events until one matches.
    pub fn wait_for(&self, mut pred: impl FnMut(&ServerEvent) -> bool) -> ServerEvent {
        loop {
            let ev = self.next_event();
            if pred(&ev) {
                return ev;
            }
        }
    }

    pub fn wait_connected(&self) -> ConnId {
        match self.wait_for(|e| matches!(e, ServerEvent::Connected { .. })) {
            ServerEvent::Connected { conn, .. } => conn,
            _ => unreachable!(),
        }
    }

    /// Polls `f` on the server until it holds (give up after `GIVE_UP`).
    pub fn eventually(
        &self,
        what: &str,
        f: impl Fn(&mut IpcServer) -> bool + Send + Sync + Clone + 'static,
    ) {
        for _ in 0..(GIVE_UP.as_millis() / 10) {
            let g = f.clone();
            if self.query(move |s| g(s)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("gave up waiting for {what}");
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.cmds.send(Cmd::Stop);
        let _ = self.waker.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A request-like message: header id, size = len, then a pattern.
pub fn message(id: i32, len: usize, seed: u8) -> Vec<u8> {
    assert!(len >= 16);
    let mut m: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed))
        .collect();
    m[0..4].copy_from_slice(&id.to_ne_bytes());
    m[4..8].fill(0);
    m[8..12].copy_from_slice(&(len as i32).to_ne_bytes());
    m[12..16].fill(0);
    m
}

/// Entries in a directory.
pub fn dir_entries(path: &std::path::Path) -> usize {
    std::fs::read_dir(path).map(|d| d.count()).unwrap_or(0)
}

/// Open fds of this process.
pub fn open_fds() -> usize {
    dir_entries(std::path::Path::new("/proc/self/fd"))
}

/// A raw stream connection to an abstract name with the full 110-byte address.
pub fn raw_connect(name: &str) -> std::os::unix::net::UnixStream {
    use std::os::fd::FromRawFd;
    // SAFETY: plain syscalls on a fresh fd and a zeroed sockaddr_un we fill in.
    unsafe {
        let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let mut addr: libc::sockaddr_un = std::mem::zeroed();
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (d, s) in addr.sun_path[1..].iter_mut().zip(name.bytes()) {
            *d = s as libc::c_char;
        }
        let rc = libc::connect(
            fd,
            (&raw const addr).cast(),
            size_of::<libc::sockaddr_un>() as libc::socklen_t,
        );
        assert_eq!(rc, 0, "connect {name}: {}", std::io::Error::last_os_error());
        std::os::unix::net::UnixStream::from_raw_fd(fd)
    }
}
