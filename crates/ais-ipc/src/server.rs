//! The daemon side: listeners, handshakes, per-connection channels, queues and flow control.
//!
//! [`IpcServer`] is driven by the daemon's mio loop: it registers its fds under a block of
//! [`TOKEN_SPAN`] tokens, reacts to readiness in [`IpcServer::handle_ready`], and reports what
//! happened through [`IpcServer::poll_event`]. It owns no thread and no clock.
//!
//! Invariants:
//! - A connection's events come out as `Connected`, then its `Request`s in order, then one
//!   `Disconnected`; nothing is reported for a connection that never finished its handshake.
//! - A request is exactly one whole message: `16 <= len <= max_msg_size` and the header's
//!   `size == len`. Anything else from a client is counted in [`IpcStats::malformed`] and
//!   drops that connection only.
//! - Every queue has a limit: at most [`REQUEST_BUDGET`] requests are read per connection
//!   per call, requests are not read while a response waits for channel space, and queued
//!   events beyond [`ServerConfig::event_queue_limit`] bytes disconnect the client.
//! - Events and responses are never dropped silently: they go into the channel, into the
//!   connection's queue, or the connection is closed (and `Disconnected` reported).

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ais_types::{Instant, LogLimit};
use ais_wire::ipc::{
    ConnectionAccepted, ConnectionRequest, ConnectionResponse, Errno, IPC_MSG_SIZE_MAX, IpcPath,
    RequestHeader,
};
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use tracing::{debug, info, warn};

use crate::addr::{self, AbstractAddr};

mod channel;

use crate::ring::Ring;
use crate::{ConnId, Credentials, IpcMode};
use channel::{
    Channel, ConnDir, DgramEnd, NewChannel, Received, ShmChannel, SocketChannel,
    create_control_file,
};

/// How many mio tokens the server may use, starting at the `first_token` given to
/// [`IpcServer::register`]: one per listener and up to three per connection.
pub const TOKEN_SPAN: usize = 1 << 20;

/// Requests read from one connection per `handle_ready`/`flush` call, so that one busy
/// client cannot starve the others (or the token).
const REQUEST_BUDGET: usize = 64;

/// The largest `max_msg_size` a client may ask for. libqb echoes max(client, server); we do
/// too, but bounded, so a client cannot make us map gigabytes.
const MAX_MSG_SIZE_CAP: u32 = 64 << 20;

/// Connections still in their handshake beyond `max_connections` (they are refused with
/// `EMFILE` once their request arrives); past this, new connections of unprivileged
/// clients are closed at once.
const HANDSHAKE_EXTRA: usize = 64;

/// Handshakes one unprivileged uid may have open at once; more are closed at once, so
/// that one local user cannot hold the daemon's connection slots (or its fds) idle.
const HANDSHAKES_PER_UID: usize = 32;

/// A client that has not sent its 24-byte request this long after connecting is dropped
/// (libqb clients send it at once).
pub const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(5);

/// At most one warning of a kind per this interval; the rest are counted.
const WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// Bytes read from a setup socket per call (SHM notifications are one byte per request).
const SETUP_READ_MAX: usize = 64 * 1024;

/// `ENAMETOOLONG`, when the per-connection names do not fit.
const ENAMETOOLONG: u16 = 36;

/// The server's configuration.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Prefix of every abstract socket name: the name is prefix + service name (an empty
    /// prefix gives corosync's names, which stock clients use).
    pub prefix: String,
    /// The services, e.g. `["cpg"]`; a service is referred to by its index here.
    pub services: Vec<String>,
    /// The transport offered to clients.
    pub mode: IpcMode,
    /// Our largest message; the handshake answers max(client's request, this).
    pub max_msg_size: u32,
    /// Bytes of events queued in daemon memory per connection, beyond what the channel
    /// holds; exceeding it disconnects the client.
    pub event_queue_limit: usize,
    /// Established connections; beyond, new ones are refused with `EMFILE`.
    pub max_connections: usize,
    /// Established connections of one unprivileged uid (neither uid nor gid 0); beyond,
    /// its new ones are refused with `EMFILE`. Privileged clients are never limited, so
    /// root's tools connect whatever other users do.
    pub max_connections_per_uid: usize,
    /// Where SHM rings and SOCKET control files live (`/dev/shm`).
    pub shm_dir: PathBuf,
    /// What handling one request may add to the daemon's queues beyond the request's own
    /// length (CPG wraps a multicast's payload in its group and sender); charged against
    /// [`IpcServer::set_request_room`] for every request read.
    pub request_overhead: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            prefix: String::new(),
            services: Vec::new(),
            mode: IpcMode::Shm,
            max_msg_size: IPC_MSG_SIZE_MAX as u32,
            event_queue_limit: 64 << 20,
            max_connections: 4096,
            max_connections_per_uid: 1024,
            shm_dir: PathBuf::from("/dev/shm"),
            request_overhead: 0,
        }
    }
}

/// The daemon's verdict on a connecting client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Accept the connection.
    Allow,
    /// Refuse with this errno: `EACCES` (not allowed) or `EAGAIN` (not ready yet).
    Deny(Errno),
}

/// What happened on the server, pulled with [`IpcServer::poll_event`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerEvent {
    /// A client finished its handshake and was allowed in.
    Connected {
        /// The connection.
        conn: ConnId,
        /// Index into [`ServerConfig::services`].
        service: usize,
        /// The client's credentials.
        creds: Credentials,
    },
    /// One whole request: `16 <= msg.len() <= max_msg_size`, header size == `msg.len()`.
    Request {
        /// The connection.
        conn: ConnId,
        /// Index into [`ServerConfig::services`].
        service: usize,
        /// The message, header included.
        msg: Vec<u8>,
    },
    /// The connection is gone (client left, error, overflow, or [`IpcServer::disconnect`]).
    Disconnected {
        /// The connection.
        conn: ConnId,
        /// Index into [`ServerConfig::services`].
        service: usize,
    },
}

/// Counters, as cmap `stats.ipc.*`-like keys would show them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpcStats {
    /// Connections that finished the handshake.
    pub accepted: u64,
    /// Connections refused (access denied, too many connections, setup failure).
    pub refused: u64,
    /// Connections that failed or abandoned the handshake.
    pub handshake_failed: u64,
    /// Malformed setup requests, requests or ring contents (each dropped a connection).
    pub malformed: u64,
    /// Connections closed because their event queue exceeded the limit.
    pub disconnected_slow: u64,
    /// All `Disconnected` events reported.
    pub disconnected: u64,
    /// Requests reported.
    pub requests: u64,
    /// Responses put into a channel.
    pub responses: u64,
    /// Events put into a channel.
    pub events: u64,
    /// SOCKET datagrams to a request socket from someone other than the client (ignored).
    pub foreign_datagrams: u64,
    /// Events or responses the datagram socket could not carry even with a raised buffer.
    pub too_big: u64,
}

/// One established connection's counters (corosync's `stats.ipcs.service<S>.<pid>.<conn>.*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnStats {
    /// The connection.
    pub conn: ConnId,
    /// Index into [`ServerConfig::services`].
    pub service: usize,
    /// The client's process id.
    pub pid: u32,
    /// Its process name when it connected (`/proc/<pid>/comm`, as corosync reads it from
    /// `/proc/<pid>/stat`); empty if it could not be read.
    pub procname: String,
    /// Requests read.
    pub requests: u64,
    /// Responses put into the channel.
    pub responses: u64,
    /// Events put into the channel.
    pub dispatched: u64,
    /// Responses and events that found the channel full and waited in the daemon.
    pub send_retries: u64,
    /// Events waiting in the daemon now.
    pub queued: u32,
    /// The request flow-control level now (0 none).
    pub flow_control: u32,
    /// Times the flow-control level changed.
    pub flow_control_count: u64,
}

/// Counts kept per connection for [`ConnStats`].
#[derive(Clone, Copy, Debug, Default)]
struct ConnCounters {
    requests: u64,
    responses: u64,
    dispatched: u64,
    send_retries: u64,
    flow_control_count: u64,
}

/// The daemon side of libqb IPC for a set of services.
pub struct IpcServer {
    config: ServerConfig,
    listeners: Vec<UnixListener>,
    /// Listeners with connections possibly left in the backlog (accept hit a limit).
    accept_pending: Vec<bool>,
    first_token: Option<usize>,
    slab: Slab,
    conns: BTreeMap<ConnId, Conn>,
    established: usize,
    next_conn: u64,
    flow_control: Vec<i32>,
    out: Out,
    /// Connections with events written since the last `flush_notifications`.
    notify_pending: Vec<ConnId>,
    server_pid: u32,
    /// Root can chown the per-connection files to the client.
    root: bool,
    /// Connections per uid, handshaking and established.
    per_uid: BTreeMap<u32, UidCount>,
    /// Handshakes in the order they began, with their deadlines (entries of connections
    /// that finished or left are skipped when they come up).
    deadlines: VecDeque<(Instant, ConnId)>,
    /// Where `flush` starts its round.
    flush_from: ConnId,
}

/// One uid's connections.
#[derive(Clone, Copy, Debug, Default)]
struct UidCount {
    handshaking: usize,
    established: usize,
}

/// What connection code reports into, split from the connection map for borrowing.
struct Out {
    events: VecDeque<ServerEvent>,
    stats: IpcStats,
    scratch: Vec<u8>,
    /// The time last given to [`IpcServer::handle_timeout`].
    now: Instant,
    warnings: LogLimit<Warning>,
    /// Bytes the daemon can still take in (see [`IpcServer::set_request_room`]).
    request_room: usize,
    /// Charged for requests read but not yet handed out by `poll_event`.
    request_reserved: usize,
    request_overhead: usize,
    /// The daemon's own `max_msg_size`.
    request_max: u32,
    /// Times a connection's requests were left unread for want of room.
    gated: u64,
}

/// Warnings that a misbehaving client could otherwise repeat without bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Warning {
    HandshakeLimit,
    HandshakeDeadline,
    ForeignDatagram,
    Malformed,
}

impl Out {
    /// `Some(held back)` if a warning of `kind` may be logged now.
    fn warn(&mut self, kind: Warning) -> Option<u64> {
        self.warnings.allow(self.now, kind)
    }

    /// What a request read counts against the room until it is handed out.
    fn charge(&self, msg: &[u8]) -> usize {
        msg.len() + self.request_overhead
    }

    /// Whether a request of up to `max_msg_size` bytes may be read now. What one request
    /// can add to the daemon's queues is bounded by the daemon's own `max_msg_size` too
    /// (nothing it multicasts is larger), however large a message the client negotiated.
    fn has_room(&self, max_msg_size: u32) -> bool {
        let worst = (max_msg_size.min(self.request_max) as usize) + self.request_overhead;
        self.request_reserved.saturating_add(worst) <= self.request_room
    }
}

impl IpcServer {
    /// Binds one listener per service (abstract `AF_UNIX` stream socket, full 110-byte
    /// address) and removes stale per-connection directories of dead servers in `shm_dir`.
    pub fn bind(config: ServerConfig) -> io::Result<Self> {
        let server_pid = std::process::id();
        remove_stale_dirs(&config.shm_dir, server_pid);
        let mut listeners = Vec::with_capacity(config.services.len());
        for service in &config.services {
            let name = format!("{}{}", config.prefix, service);
            let addr = AbstractAddr::new(name.as_bytes())?;
            let fd = addr::unix_socket(libc::SOCK_STREAM, true)?;
            addr::bind(&fd, &addr).map_err(|e| {
                if e.raw_os_error() == Some(libc::EADDRINUSE) {
                    io::Error::new(
                        io::ErrorKind::AddrInUse,
                        format!("another daemon serves IPC name {name:?}"),
                    )
                } else {
                    io::Error::new(e.kind(), format!("bind IPC name {name:?}: {e}"))
                }
            })?;
            addr::listen(&fd, 128)?;
            debug!(name = %addr.display(), "IPC listener bound");
            listeners.push(UnixListener::from(fd));
        }
        let root = rustix::process::geteuid().is_root();
        let (request_overhead, request_max) = (config.request_overhead, config.max_msg_size);
        Ok(Self {
            accept_pending: vec![false; listeners.len()],
            flow_control: vec![0; listeners.len()],
            listeners,
            config,
            first_token: None,
            slab: Slab::default(),
            conns: BTreeMap::new(),
            established: 0,
            next_conn: 1,
            out: Out {
                events: VecDeque::new(),
                stats: IpcStats::default(),
                scratch: Vec::new(),
                now: Instant::ZERO,
                warnings: LogLimit::new(WARNING_INTERVAL),
                request_room: usize::MAX,
                request_reserved: 0,
                request_overhead,
                request_max,
                gated: 0,
            },
            notify_pending: Vec::new(),
            server_pid,
            root,
            per_uid: BTreeMap::new(),
            deadlines: VecDeque::new(),
            flush_from: ConnId(0),
        })
    }

    /// Tells the server the time: handshakes past [`HANDSHAKE_DEADLINE`] are dropped, and
    /// warnings held back are summed up. Call it before [`IpcServer::handle_ready`] in every
    /// round of the loop, and by [`IpcServer::poll_timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        self.out.now = now;
        while let Some(&(deadline, id)) = self.deadlines.front() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_front();
            let Some(conn) = self.conns.get(&id) else {
                continue;
            };
            if !matches!(conn.phase, Phase::Handshake { .. }) {
                continue;
            }
            self.out.stats.handshake_failed += 1;
            let (pid, uid) = (conn.creds.pid, conn.creds.uid);
            if let Some(held) = self.out.warn(Warning::HandshakeDeadline) {
                warn!(conn = %id, pid, uid, held_back = held,
                      "IPC client sent no connection request within {HANDSHAKE_DEADLINE:?}; \
                       dropping it");
            }
            self.close(id, &Close::Requested);
        }
        for (kind, count) in self.out.warnings.overdue(now) {
            warn!(
                ?kind,
                count, "more IPC warnings of this kind were held back"
            );
        }
    }

    /// When [`IpcServer::handle_timeout`] has work next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.front().map(|&(deadline, _)| deadline)
    }

    /// Registers the listeners; the server uses tokens in
    /// `[first_token, first_token + TOKEN_SPAN)` from now on.
    pub fn register(&mut self, registry: &Registry, first_token: usize) -> io::Result<()> {
        self.first_token = Some(first_token);
        for (service, listener) in self.listeners.iter().enumerate() {
            let key = self.slab.insert(Source::Listener(service))?;
            let fd = listener.as_raw_fd();
            registry.register(
                &mut SourceFd(&fd),
                Token(first_token + key),
                Interest::READABLE,
            )?;
        }
        Ok(())
    }

    /// Whether `token` is one of the server's.
    pub fn owns(&self, token: Token) -> bool {
        self.first_token
            .is_some_and(|first| token.0 >= first && token.0 - first < TOKEN_SPAN)
    }

    /// Handles one readiness event for one of our tokens. `access` decides, per service and
    /// client credentials, whether a handshake is answered with success.
    pub fn handle_ready(
        &mut self,
        registry: &Registry,
        event: &mio::event::Event,
        access: &mut dyn FnMut(usize, &Credentials) -> Access,
    ) {
        let Some(first) = self.first_token.filter(|_| self.owns(event.token())) else {
            return;
        };
        let key = event.token().0 - first;
        match self.slab.get(key) {
            Some(Source::Listener(service)) => self.accept_all(registry, service),
            Some(Source::Setup(id)) => {
                let Some(conn) = self.conns.get_mut(&id) else {
                    return;
                };
                conn.setup_more = true;
                if matches!(conn.phase, Phase::Handshake { .. }) {
                    self.continue_handshake(registry, id, access);
                } else {
                    // SHM: every notification byte announces a request in the ring.
                    conn.more_requests = true;
                    self.pump(id);
                }
            }
            Some(Source::Request(id)) => {
                if let Some(conn) = self.conns.get_mut(&id) {
                    conn.more_requests = true;
                    self.pump(id);
                }
            }
            Some(Source::EventTx(id)) => self.pump(id),
            None => {}
        }
    }

    /// The next thing that happened, if any.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        let event = self.out.events.pop_front()?;
        if let ServerEvent::Request { msg, .. } = &event {
            self.out.request_reserved -= self.out.charge(msg);
        }
        Some(event)
    }

    /// How many bytes the daemon can take in from requests now (e.g. the room left in its
    /// multicast queue). A connection's next request is read only if its largest possible
    /// message, plus what requests read but not yet handed out by
    /// [`IpcServer::poll_event`] may need, fits; otherwise it stays in the client's channel
    /// (whose filling makes the client's library answer TRY_AGAIN) until the daemon gives
    /// more room. So whatever the number of connections, the daemon never holds more than
    /// this in accepted requests: nothing it reads must be dropped for want of space.
    /// Unlimited until first called.
    pub fn set_request_room(&mut self, room: usize) {
        self.out.request_room = room;
    }

    /// Times a connection's requests were left unread for want of room.
    pub fn requests_gated(&self) -> u64 {
        self.out.gated
    }

    /// Sends the response to a request. If the response channel is full the response is
    /// kept, and the connection's requests are not read until it has been sent.
    pub fn respond(&mut self, conn: ConnId, msg: &[u8]) {
        let Some(c) = self.conns.get_mut(&conn) else {
            debug!(%conn, "response for a closed connection dropped");
            return;
        };
        let result = c.queue_response(msg, &mut self.out);
        self.finish(conn, result);
    }

    /// Sends an event: into the event channel, or into the connection's queue if the channel
    /// is full. A queue over `event_queue_limit` bytes disconnects the client.
    pub fn send_event(&mut self, conn: ConnId, msg: &[u8]) {
        let limit = self.config.event_queue_limit;
        let Some(c) = self.conns.get_mut(&conn) else {
            debug!(%conn, "event for a closed connection dropped");
            return;
        };
        let result = c.queue_event(msg, limit, &mut self.out);
        if result.is_ok() && !c.notify_pending {
            c.notify_pending = true;
            self.notify_pending.push(conn);
        }
        self.finish(conn, result);
    }

    /// Sends the wake-up bytes (SHM: one per event) for every event written since the last
    /// call: one `send` per client per loop iteration instead of one per event. The daemon
    /// calls it once its outputs are carried out, before it polls again.
    pub fn flush_notifications(&mut self) {
        for id in std::mem::take(&mut self.notify_pending) {
            let Some(c) = self.conns.get_mut(&id) else {
                continue;
            };
            c.notify_pending = false;
            let result = match &mut c.phase {
                Phase::Open(channel) => channel.send_notifications(&c.setup),
                Phase::Handshake { .. } => Ok(()),
            };
            self.finish(id, result);
        }
    }

    /// Closes a connection (e.g. after FINALIZE); reports `Disconnected`.
    pub fn disconnect(&mut self, conn: ConnId) {
        self.close(conn, &Close::Requested);
    }

    /// Sets the request `flow_control` level (0 none, 1 block all, 2 block only libcpg's
    /// mcast) for every connection of `service`, current and future.
    pub fn set_flow_control(&mut self, service: usize, level: i32) {
        let Some(slot) = self.flow_control.get_mut(service) else {
            return;
        };
        if *slot == level {
            return;
        }
        *slot = level;
        for conn in self.conns.values_mut().filter(|c| c.service == service) {
            if let Phase::Open(channel) = &conn.phase {
                channel.set_flow_control(level);
                conn.counters.flow_control_count += 1;
            }
        }
    }

    /// Whether some connection has work left that no readiness event will announce:
    /// unread requests (budget hit), or queued responses/events/notifications. The daemon
    /// then calls [`IpcServer::flush`] again within about a millisecond.
    pub fn has_backlog(&self) -> bool {
        self.accept_pending.iter().any(|&p| p) || self.conns.values().any(Conn::has_backlog)
    }

    /// Continues budgeted request reading and moves queued responses and events into their
    /// channels.
    pub fn flush(&mut self, registry: &Registry) {
        for service in 0..self.listeners.len() {
            if self.accept_pending[service] {
                self.accept_all(registry, service);
            }
        }
        // Starting after the connection served first last time, so that when room is
        // short every connection gets its turn.
        let start = self.flush_from;
        let busy: Vec<ConnId> = self
            .conns
            .range(start..)
            .chain(self.conns.range(..start))
            .filter(|(_, c)| c.has_backlog())
            .map(|(&id, _)| id)
            .collect();
        if let Some(first) = busy.first() {
            self.flush_from = ConnId(first.0 + 1);
        }
        for id in busy {
            self.pump(id);
        }
    }

    /// Connections, established or in their handshake.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Bytes of events queued in daemon memory for `conn`.
    pub fn queued_event_bytes(&self, conn: ConnId) -> usize {
        self.conns.get(&conn).map_or(0, |c| c.queued_event_bytes)
    }

    /// The counters.
    pub fn stats(&self) -> &IpcStats {
        &self.out.stats
    }

    /// Every established connection's counters, in connection order.
    pub fn connection_stats(&self) -> Vec<ConnStats> {
        self.conns
            .values()
            .filter(|c| matches!(c.phase, Phase::Open(_)))
            .map(|c| ConnStats {
                conn: c.id,
                service: c.service,
                pid: c.creds.pid,
                procname: c.procname.clone(),
                requests: c.counters.requests,
                responses: c.counters.responses,
                dispatched: c.counters.dispatched,
                send_retries: c.counters.send_retries,
                queued: u32::try_from(c.events.lens.len()).unwrap_or(u32::MAX),
                flow_control: u32::try_from(self.flow_control[c.service]).unwrap_or(0),
                flow_control_count: c.counters.flow_control_count,
            })
            .collect()
    }

    fn accept_all(&mut self, registry: &Registry, service: usize) {
        self.accept_pending[service] = false;
        loop {
            let stream = match self.listeners[service].accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE/ENFILE/ENOMEM: leave the rest in the backlog and retry in flush.
                    warn!(service = %self.config.services[service], error = %e, "accept failed");
                    self.accept_pending[service] = true;
                    return;
                }
            };
            self.add_connection(registry, service, stream);
        }
    }

    fn add_connection(&mut self, registry: &Registry, service: usize, stream: UnixStream) {
        let creds = match peer_credentials(&stream) {
            Ok(creds) => creds,
            Err(e) => {
                self.out.stats.handshake_failed += 1;
                warn!(error = %e, "SO_PEERCRED failed");
                return;
            }
        };
        let handshaking = self.per_uid.get(&creds.uid).map_or(0, |c| c.handshaking);
        if !creds.is_privileged()
            && (handshaking >= HANDSHAKES_PER_UID
                || self.conns.len() >= self.config.max_connections + HANDSHAKE_EXTRA)
        {
            self.out.stats.refused += 1;
            if let Some(held) = self.out.warn(Warning::HandshakeLimit) {
                warn!(
                    pid = creds.pid,
                    uid = creds.uid,
                    held_back = held,
                    "too many IPC connections in their handshake; closing a new one"
                );
            }
            return;
        }
        if stream.set_nonblocking(true).is_err() {
            self.out.stats.handshake_failed += 1;
            return;
        }
        let id = ConnId(self.next_conn);
        self.next_conn += 1;
        let Ok(key) = self.slab.insert(Source::Setup(id)) else {
            self.out.stats.refused += 1;
            return;
        };
        let fd = stream.as_raw_fd();
        let token = Token(self.first_token.unwrap_or(0) + key);
        if let Err(e) = registry.register(
            &mut SourceFd(&fd),
            token,
            Interest::READABLE | Interest::WRITABLE,
        ) {
            warn!(error = %e, "registering an IPC connection failed");
            self.slab.remove(key);
            self.out.stats.handshake_failed += 1;
            return;
        }
        debug!(conn = %id, pid = creds.pid, uid = creds.uid, "IPC connection accepted");
        self.per_uid.entry(creds.uid).or_default().handshaking += 1;
        self.deadlines
            .push_back((self.out.now + HANDSHAKE_DEADLINE, id));
        self.conns.insert(
            id,
            Conn {
                id,
                service,
                creds,
                setup: stream,
                setup_key: key,
                max_msg_size: self.config.max_msg_size,
                phase: Phase::Handshake {
                    buf: [0; ConnectionRequest::LEN],
                    got: 0,
                },
                responses: VecDeque::new(),
                events: EventQueue::default(),
                queued_event_bytes: 0,
                counters: ConnCounters::default(),
                procname: String::new(),
                more_requests: false,
                setup_more: true,
                notify_pending: false,
            },
        );
        // Registration reports data that is already there; nothing else to do now.
    }

    /// Reads more of the 24-byte connection request; answers it once complete.
    fn continue_handshake(
        &mut self,
        registry: &Registry,
        id: ConnId,
        access: &mut dyn FnMut(usize, &Credentials) -> Access,
    ) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let Phase::Handshake { buf, got } = &mut conn.phase else {
            return;
        };
        loop {
            if *got == buf.len() {
                break;
            }
            match conn.setup.read(&mut buf[*got..]) {
                Ok(0) => {
                    self.out.stats.handshake_failed += 1;
                    return self.close(id, &Close::Gone);
                }
                Ok(n) => *got += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.out.stats.handshake_failed += 1;
                    return self.close(id, &Close::Gone);
                }
            }
        }
        let request = match ConnectionRequest::decode(buf) {
            Ok(request) => request,
            Err(e) => {
                self.out.stats.handshake_failed += 1;
                return self.close(id, &Close::Malformed(format!("connection request: {e}")));
            }
        };
        let (service, creds) = (conn.service, conn.creds);
        let uid_established = self.per_uid.get(&creds.uid).map_or(0, |c| c.established);
        let verdict = if self.established >= self.config.max_connections
            || (!creds.is_privileged() && uid_established >= self.config.max_connections_per_uid)
        {
            Access::Deny(Errno::EMFILE)
        } else {
            access(service, &creds)
        };
        if let Access::Deny(errno) = verdict {
            return self.refuse(id, errno);
        }
        let max_msg_size = request
            .max_msg_size
            .min(MAX_MSG_SIZE_CAP)
            .max(self.config.max_msg_size);
        let opened = self
            .open_channel(id, service, creds, max_msg_size)
            .and_then(|mut channel| {
                self.register_channel(registry, id, &mut channel.channel)?;
                Ok(channel)
            });
        let channel = match opened {
            Ok(channel) => channel,
            Err(e) => {
                warn!(conn = %id, error = %e, "IPC connection setup failed");
                let errno = e
                    .raw_os_error()
                    .and_then(|n| u16::try_from(n).ok())
                    .and_then(Errno::new)
                    .unwrap_or(Errno::EAGAIN);
                return self.refuse(id, errno);
            }
        };
        let response = ConnectionResponse::Accepted(ConnectionAccepted {
            transport: channel.transport(),
            max_msg_size,
            connection: id.0,
            request: channel.paths[0].clone(),
            response: channel.paths[1].clone(),
            event: channel.paths[2].clone(),
        });
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        channel.channel.set_flow_control(self.flow_control[service]);
        conn.max_msg_size = max_msg_size;
        conn.phase = Phase::Open(channel.channel);
        if !write_whole(&conn.setup, &response.to_vec()) {
            self.out.stats.handshake_failed += 1;
            // Not yet announced: close without a Disconnected event.
            conn.phase = Phase::Handshake {
                buf: [0; ConnectionRequest::LEN],
                got: 0,
            };
            return self.close(id, &Close::Gone);
        }
        self.established += 1;
        let count = self.per_uid.entry(creds.uid).or_default();
        count.handshaking -= 1;
        count.established += 1;
        self.out.stats.accepted += 1;
        conn.procname = process_name(creds.pid);
        self.out.events.push_back(ServerEvent::Connected {
            conn: id,
            service,
            creds,
        });
        debug!(conn = %id, service = %self.config.services[service], pid = creds.pid,
               "IPC client connected");
        // SHM clients may have written requests already.
        conn.more_requests = true;
        self.pump(id);
    }

    /// SOCKET mode: registers the request socket (requests in, responses out) and the
    /// event socket (events out) under two more tokens.
    fn register_channel(
        &mut self,
        registry: &Registry,
        id: ConnId,
        channel: &mut Channel,
    ) -> io::Result<()> {
        let Channel::Socket(sock) = channel else {
            return Ok(());
        };
        let first = self.first_token.unwrap_or(0);
        let request = self.slab.insert(Source::Request(id))?;
        let event = match self.slab.insert(Source::EventTx(id)) {
            Ok(key) => key,
            Err(e) => {
                self.slab.remove(request);
                return Err(e);
            }
        };
        sock.keys = Some([request, event]);
        let result = registry
            .register(
                &mut SourceFd(&sock.request.fd.as_raw_fd()),
                Token(first + request),
                Interest::READABLE | Interest::WRITABLE,
            )
            .and_then(|()| {
                registry.register(
                    &mut SourceFd(&sock.event_tx.fd.as_raw_fd()),
                    Token(first + event),
                    Interest::WRITABLE,
                )
            });
        if result.is_err() {
            self.slab.remove(request);
            self.slab.remove(event);
            sock.keys = None;
        }
        result
    }

    fn refuse(&mut self, id: ConnId, errno: Errno) {
        self.out.stats.refused += 1;
        if let Some(conn) = self.conns.get(&id) {
            debug!(conn = %id, errno = errno.get(), "IPC connection refused");
            let _ = write_whole(&conn.setup, &ConnectionResponse::Refused(errno).to_vec());
        }
        self.close(id, &Close::Requested);
    }

    /// Creates the per-connection directory, files and sockets for the configured mode.
    fn open_channel(
        &mut self,
        id: ConnId,
        service: usize,
        creds: Credentials,
        max_msg_size: u32,
    ) -> io::Result<NewChannel> {
        let owner = self.root.then_some((creds.uid, creds.gid));
        let dir = ConnDir::create(&self.config.shm_dir, self.server_pid, creds.pid, id)?;
        let svc = &self.config.services[service];
        let desc = dir.path.join("qb");
        let name = |kind: &str| PathBuf::from(format!("{}-{kind}-{svc}", desc.display()));
        let ipc_path = |p: &Path| {
            IpcPath::new(p.as_os_str().as_bytes().to_vec())
                .map_err(|_| io::Error::from_raw_os_error(i32::from(ENAMETOOLONG)))
        };
        match self.config.mode {
            IpcMode::Shm => {
                let (req, resp, ev) = (name("request"), name("response"), name("event"));
                let paths = [ipc_path(&req)?, ipc_path(&resp)?, ipc_path(&ev)?];
                let request = Ring::create(&req, max_msg_size, true, owner)?;
                let response = Ring::create(&resp, max_msg_size, false, owner)?;
                let event = Ring::create(&ev, max_msg_size, false, owner)?;
                Ok(NewChannel {
                    paths,
                    channel: Channel::Shm(ShmChannel {
                        request,
                        response,
                        event,
                        unsent_notifications: 0,
                        _dir: dir,
                    }),
                })
            }
            IpcMode::Socket => {
                let control_path = name("control");
                let base = format!("{}-{svc}", desc.display());
                let paths = [
                    ipc_path(&control_path)?,
                    ipc_path(Path::new(&base))?,
                    IpcPath::default(),
                ];
                let control = create_control_file(&control_path, owner)?;
                let too_long = |_| io::Error::from_raw_os_error(i32::from(ENAMETOOLONG));
                let request_addr =
                    AbstractAddr::new(format!("{base}-request").as_bytes()).map_err(too_long)?;
                let event_tx_addr =
                    AbstractAddr::new(format!("{base}-event-tx").as_bytes()).map_err(too_long)?;
                let response_addr =
                    AbstractAddr::new(format!("{base}-response").as_bytes()).map_err(too_long)?;
                let event_addr =
                    AbstractAddr::new(format!("{base}-event").as_bytes()).map_err(too_long)?;
                let request = addr::unix_socket(libc::SOCK_DGRAM, true)?;
                addr::bind(&request, &request_addr)?;
                addr::set_buffers(request.as_raw_fd(), max_msg_size);
                addr::set_passcred(request.as_raw_fd())?;
                let event_tx = addr::unix_socket(libc::SOCK_DGRAM, true)?;
                addr::bind(&event_tx, &event_tx_addr)?;
                addr::set_buffers(event_tx.as_raw_fd(), max_msg_size);
                Ok(NewChannel {
                    paths,
                    channel: Channel::Socket(SocketChannel {
                        control,
                        request: DgramEnd::new(request, response_addr),
                        event_tx: DgramEnd::new(event_tx, event_addr),
                        client_pid: creds.pid,
                        verified: false,
                        keys: None,
                        _dir: dir,
                    }),
                })
            }
        }
    }

    /// Runs one connection's pending work and handles the outcome.
    fn pump(&mut self, id: ConnId) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let result = conn.pump(&mut self.out);
        self.finish(id, result);
    }

    fn finish(&mut self, id: ConnId, result: Result<(), Close>) {
        if let Err(close) = result {
            self.close(id, &close);
        }
    }

    /// Removes a connection: reports `Disconnected` if it was announced, frees its tokens,
    /// closes its fds (which removes them from epoll) and deletes its files.
    fn close(&mut self, id: ConnId, why: &Close) {
        let Some(conn) = self.conns.remove(&id) else {
            return;
        };
        self.slab.remove(conn.setup_key);
        let announced = matches!(conn.phase, Phase::Open(_));
        if let Phase::Open(Channel::Socket(sock)) = &conn.phase
            && let Some(keys) = sock.keys
        {
            self.slab.remove(keys[0]);
            self.slab.remove(keys[1]);
        }
        match why {
            Close::Malformed(what) => {
                self.out.stats.malformed += 1;
                if let Some(held) = self.out.warn(Warning::Malformed) {
                    warn!(conn = %id, pid = conn.creds.pid, problem = %what, held_back = held,
                          "malformed IPC input; dropping the client");
                }
            }
            Close::Slow => {
                self.out.stats.disconnected_slow += 1;
                warn!(conn = %id, pid = conn.creds.pid, queued = conn.queued_event_bytes,
                      "IPC client does not read its events; disconnecting it");
            }
            Close::Failed(what) => {
                warn!(conn = %id, pid = conn.creds.pid, problem = %what,
                      "IPC connection failed");
            }
            Close::Gone | Close::Requested => {}
        }
        if !matches!(why, Close::Gone) {
            // Dropped by the daemon: requests it read but not yet handed out are not served.
            let out = &mut self.out;
            let mut freed = 0;
            out.events.retain(|e| match e {
                ServerEvent::Request { conn, msg, .. } if *conn == id => {
                    freed += msg.len() + out.request_overhead;
                    false
                }
                _ => true,
            });
            out.request_reserved -= freed;
        }
        if let Some(count) = self.per_uid.get_mut(&conn.creds.uid) {
            if announced {
                count.established -= 1;
            } else {
                count.handshaking -= 1;
            }
            if count.handshaking == 0 && count.established == 0 {
                self.per_uid.remove(&conn.creds.uid);
            }
        }
        if announced {
            self.established -= 1;
            self.out.stats.disconnected += 1;
            self.out.events.push_back(ServerEvent::Disconnected {
                conn: id,
                service: conn.service,
            });
            debug!(conn = %id, "IPC client disconnected");
        }
        let _ = conn.setup.shutdown(std::net::Shutdown::Both);
        drop(conn);
    }
}

/// Why a connection is closed.
enum Close {
    /// EOF, hang-up or a socket error from the client's side.
    Gone,
    /// The daemon asked (or refused the handshake).
    Requested,
    /// The client broke the protocol.
    Malformed(String),
    /// The event queue overflowed.
    Slow,
    /// Something failed on our side.
    Failed(String),
}

/// One client connection.
struct Conn {
    id: ConnId,
    service: usize,
    creds: Credentials,
    setup: UnixStream,
    setup_key: usize,
    max_msg_size: u32,
    phase: Phase,
    /// Responses the channel could not take yet, oldest first.
    responses: VecDeque<Vec<u8>>,
    /// Events the channel could not take yet, oldest first.
    events: EventQueue,
    queued_event_bytes: usize,
    counters: ConnCounters,
    /// The client's process name, read once it is established.
    procname: String,
    /// Requests may be waiting (readiness seen, not yet read to exhaustion).
    more_requests: bool,
    /// The setup socket may hold unread bytes.
    setup_more: bool,
    /// Listed in the server's `notify_pending`.
    notify_pending: bool,
}

#[allow(clippy::large_enum_variant, reason = "one per connection")]
enum Phase {
    /// Reading the 24-byte connection request.
    Handshake {
        buf: [u8; ConnectionRequest::LEN],
        got: usize,
    },
    /// Handshake answered; `Connected` reported.
    Open(Channel),
}

impl Conn {
    fn has_backlog(&self) -> bool {
        let Phase::Open(channel) = &self.phase else {
            return false;
        };
        !self.responses.is_empty()
            || !self.events.is_empty()
            || self.more_requests
            || channel.unsent_notifications() > 0
            || self.setup_more
    }

    /// Everything a readiness event or a flush may unblock, in order: setup socket bytes,
    /// notifications, queued responses, queued events, then up to the budget of requests.
    fn pump(&mut self, out: &mut Out) -> Result<(), Close> {
        let Phase::Open(channel) = &mut self.phase else {
            return Ok(());
        };
        if self.setup_more {
            self.setup_more = drain_setup(&self.setup)?;
        }
        channel.send_notifications(&self.setup)?;
        while let Some(msg) = self.responses.front() {
            if !channel.send_response(msg, out)? {
                break;
            }
            self.counters.responses += 1;
            self.responses.pop_front();
        }
        while let Some(msg) = self.events.front() {
            if !channel.send_event(msg, out)? {
                break;
            }
            self.counters.dispatched += 1;
            self.queued_event_bytes -= msg.len();
            self.events.pop_front();
            channel.send_notifications(&self.setup)?;
        }
        if self.more_requests && self.responses.is_empty() {
            self.read_requests(out)?;
        }
        Ok(())
    }

    fn read_requests(&mut self, out: &mut Out) -> Result<(), Close> {
        let Phase::Open(channel) = &mut self.phase else {
            return Ok(());
        };
        for _ in 0..REQUEST_BUDGET {
            if !self.responses.is_empty() {
                // A response is stuck: stop reading until the client makes room.
                return Ok(());
            }
            if !out.has_room(self.max_msg_size) {
                // The daemon cannot take a message this large now: it stays in the
                // client's channel (`more_requests` stays set, so flush comes back).
                out.gated += 1;
                return Ok(());
            }
            let msg = match channel.recv_request(self.max_msg_size, out)? {
                Received::Message(msg) => msg,
                // A foreign datagram costs budget too, so a flood cannot spin the loop.
                Received::Skipped => continue,
                Received::Nothing => {
                    self.more_requests = false;
                    return Ok(());
                }
            };
            check_request(&msg, self.max_msg_size).map_err(Close::Malformed)?;
            out.request_reserved += out.charge(&msg);
            out.stats.requests += 1;
            self.counters.requests += 1;
            out.events.push_back(ServerEvent::Request {
                conn: self.id,
                service: self.service,
                msg,
            });
        }
        Ok(())
    }

    fn queue_response(&mut self, msg: &[u8], out: &mut Out) -> Result<(), Close> {
        let Phase::Open(channel) = &mut self.phase else {
            return Ok(());
        };
        if msg.len() > self.max_msg_size as usize {
            return Err(Close::Failed(format!(
                "daemon response of {} bytes exceeds max_msg_size",
                msg.len()
            )));
        }
        if self.responses.is_empty() && channel.send_response(msg, out)? {
            self.counters.responses += 1;
            return Ok(());
        }
        self.counters.send_retries += 1;
        self.responses.push_back(msg.to_vec());
        Ok(())
    }

    fn queue_event(&mut self, msg: &[u8], limit: usize, out: &mut Out) -> Result<(), Close> {
        let Phase::Open(channel) = &mut self.phase else {
            return Ok(());
        };
        if msg.len() > self.max_msg_size as usize {
            return Err(Close::Failed(format!(
                "daemon event of {} bytes exceeds max_msg_size",
                msg.len()
            )));
        }
        if self.events.is_empty() && channel.send_event(msg, out)? {
            self.counters.dispatched += 1;
            return Ok(());
        }
        if self.queued_event_bytes + msg.len() > limit {
            return Err(Close::Slow);
        }
        self.counters.send_retries += 1;
        self.queued_event_bytes += msg.len();
        self.events.push_back(msg);
        Ok(())
    }
}

/// Events waiting for a client's channel, in one buffer rather than one allocation each:
/// a queue that grew to tens of megabytes for a slow client is one large allocation, which
/// the allocator hands back to the system whole when it is dropped or shrunk, instead of
/// thousands of small blocks that fragment the heap.
#[derive(Default)]
struct EventQueue {
    data: Vec<u8>,
    /// Where the oldest event starts in `data`.
    head: usize,
    /// Event lengths, oldest first.
    lens: VecDeque<usize>,
}

impl EventQueue {
    /// Capacity kept once the queue is empty again.
    const KEEP: usize = 256 * 1024;

    fn is_empty(&self) -> bool {
        self.lens.is_empty()
    }

    fn front(&self) -> Option<&[u8]> {
        let len = *self.lens.front()?;
        self.data.get(self.head..self.head + len)
    }

    fn push_back(&mut self, msg: &[u8]) {
        // Reclaim the consumed front before growing.
        if self.head > 0 && self.data.len() + msg.len() > self.data.capacity() {
            self.data.drain(..self.head);
            self.head = 0;
        }
        self.data.extend_from_slice(msg);
        self.lens.push_back(msg.len());
    }

    fn pop_front(&mut self) {
        if let Some(len) = self.lens.pop_front() {
            self.head += len;
        }
        if self.lens.is_empty() {
            self.data.clear();
            self.head = 0;
            if self.data.capacity() > Self::KEEP {
                self.data = Vec::new();
                self.lens = VecDeque::new();
            }
        }
    }
}

/// A process's name as `/proc/<pid>/comm` gives it; empty if it is gone or hidden.
fn process_name(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim_end().to_owned())
        .unwrap_or_default()
}

/// A request is one whole message whose header size is its length (§2.1).
fn check_request(msg: &[u8], max_msg_size: u32) -> Result<(), String> {
    if msg.len() < RequestHeader::LEN || msg.len() > max_msg_size as usize {
        return Err(format!("request of {} bytes", msg.len()));
    }
    let size = i32::from_ne_bytes([msg[8], msg[9], msg[10], msg[11]]);
    if usize::try_from(size).ok() != Some(msg.len()) {
        return Err(format!(
            "request header size {size} but {} bytes",
            msg.len()
        ));
    }
    Ok(())
}

/// Reads and discards what the client wrote on the setup socket (SHM: one notification
/// byte per request; SOCKET: nothing is expected). Returns whether more may remain.
fn drain_setup(setup: &UnixStream) -> Result<bool, Close> {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    let mut reader = setup;
    while total < SETUP_READ_MAX {
        match reader.read(&mut buf) {
            Ok(0) => return Err(Close::Gone),
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err(Close::Gone),
        }
    }
    Ok(true)
}

fn write_whole(stream: &UnixStream, buf: &[u8]) -> bool {
    let mut writer = stream;
    matches!(writer.write(buf), Ok(n) if n == buf.len())
}

/// Removes `ais-ipc-<pid>-*` directories left by servers that are no longer running.
fn remove_stale_dirs(shm_dir: &Path, own_pid: u32) {
    let Ok(entries) = std::fs::read_dir(shm_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("ais-ipc-")) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        if pid <= 0 || pid as u32 == own_pid {
            continue;
        }
        let alive = rustix::process::Pid::from_raw(pid).is_none_or(|pid| {
            !matches!(
                rustix::process::test_kill_process(pid),
                Err(rustix::io::Errno::SRCH)
            )
        });
        if !alive {
            info!(dir = %entry.path().display(), "removing stale IPC directory");
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn peer_credentials(stream: &UnixStream) -> io::Result<Credentials> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: the pointer and length describe a live ucred.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Credentials {
        pid: cred.pid as u32,
        uid: cred.uid,
        gid: cred.gid,
    })
}

/// What a token stands for.
#[derive(Clone, Copy)]
enum Source {
    Listener(usize),
    Setup(ConnId),
    Request(ConnId),
    EventTx(ConnId),
}

/// Token slots: a vector with a free list, bounded by [`TOKEN_SPAN`].
#[derive(Default)]
struct Slab {
    entries: Vec<Option<Source>>,
    free: Vec<usize>,
}

impl Slab {
    fn insert(&mut self, source: Source) -> io::Result<usize> {
        if let Some(key) = self.free.pop() {
            self.entries[key] = Some(source);
            return Ok(key);
        }
        if self.entries.len() >= TOKEN_SPAN {
            return Err(io::Error::other("IPC token space exhausted"));
        }
        self.entries.push(Some(source));
        Ok(self.entries.len() - 1)
    }

    fn get(&self, key: usize) -> Option<Source> {
        self.entries.get(key).copied().flatten()
    }

    fn remove(&mut self, key: usize) {
        if let Some(slot) = self.entries.get_mut(key)
            && slot.take().is_some()
        {
            self.free.push(key);
        }
    }
}

#[cfg(test)]
mod event_queue_tests {
    use super::EventQueue;

    #[test]
    fn events_come_out_whole_and_in_order_and_a_drained_queue_lets_go_of_its_memory() {
        let mut q = EventQueue::default();
        let mut expected = std::collections::VecDeque::new();
        for round in 0..3u8 {
            for i in 0..5000u32 {
                let msg = vec![round ^ (i as u8); 100 + (i as usize % 300)];
                q.push_back(&msg);
                expected.push_back(msg);
                if i % 3 == 0 {
                    assert_eq!(q.front(), expected.front().map(Vec::as_slice));
                    q.pop_front();
                    expected.pop_front();
                }
            }
            while let Some(want) = expected.pop_front() {
                assert_eq!(q.front(), Some(want.as_slice()));
                q.pop_front();
            }
            assert!(q.is_empty() && q.front().is_none());
            assert!(q.data.capacity() <= EventQueue::KEEP, "round {round}");
        }
    }
}
