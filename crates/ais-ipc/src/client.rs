//! The client side of libqb IPC: blocking std code for our tools and client library.
//!
//! It behaves like libqb 2.0's `qb_ipcc_*` (reference §1.2, §1.4, §1.5), so it talks to
//! `aisexec` and to a real corosync alike: connect to the abstract name, send the 24-byte
//! request, follow the transport the server picks. The fd to poll for events
//! ([`IpcClient::as_raw_fd`]) is what `qb_ipcc_fd_get` returns: the setup socket in SHM
//! mode (one notification byte per event), the event datagram socket in SOCKET mode.
//!
//! Invariants: a message handed out is exactly one whole message whose header size is its
//! length; every index and size read from the server's shared memory is bounds-checked by
//! the `ring` module; SHM event notification bytes are read exactly once per event consumed.
//!
//! ```no_run
//! use ais_ipc::client::IpcClient;
//! let mut client = IpcClient::connect("cpg", 1 << 20)?;
//! // CPG LOCAL_GET: id 4, size 16.
//! let mut request = vec![0u8; 16];
//! request[0..4].copy_from_slice(&4i32.to_ne_bytes());
//! request[8..12].copy_from_slice(&16i32.to_ne_bytes());
//! client.send(&request)?;
//! let mut response = Vec::new();
//! client.recv_response(&mut response, None)?;
//! # Ok::<(), ais_ipc::client::ClientError>(())
//! ```

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use ais_wire::ipc::{ConnectionRequest, ConnectionResponse, Errno, IpcTransport};

use crate::IpcMode;
use crate::addr::{self, AbstractAddr};
use crate::ring::{Mapping, Ring, RingError};

/// How long `connect` waits for the handshake response.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// libqb's smallest `max_msg_size`: the connection response itself.
const MIN_MSG_SIZE: u32 = ConnectionResponse::LEN as u32;
/// Longest single wait on the response semaphore before checking the setup socket for a
/// hang-up (libqb uses 2 s slices).
const SEM_SLICE: Duration = Duration::from_millis(100);

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered the handshake with this errno (`EACCES`, `EAGAIN`, `EMFILE`, ...).
    #[error("connection refused by the server (errno {})", .0.get())]
    Refused(Errno),
    /// Nobody listens on that name.
    #[error("no server is listening on that IPC name")]
    NotRunning,
    /// Flow control is on, or the request channel is full; retry later.
    #[error("try again: flow control or full channel")]
    TryAgain,
    /// The server closed the connection.
    #[error("the server disconnected")]
    Disconnected,
    /// No response within the timeout.
    #[error("timed out")]
    Timeout,
    /// The message exceeds what the connection carries.
    #[error("message of {len} bytes exceeds the connection's limit")]
    TooLarge {
        /// The message's length.
        len: usize,
    },
    /// The server broke the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// An operating-system error.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// One connection to one service.
pub struct IpcClient {
    setup: UnixStream,
    max_msg_size: u32,
    fc_enable_max: i32,
    channel: Channel,
    /// SHM: notification bytes still to read, one per event chunk consumed.
    owed_bytes: usize,
}

#[allow(clippy::large_enum_variant, reason = "one per connection")]
enum Channel {
    Shm {
        request: Ring,
        response: Ring,
        event: Ring,
    },
    Socket {
        /// The server's 24-byte control file; `request.flow_control` at offset 4.
        control: Mapping,
        /// Bound to `base-response`, connected to `base-request`.
        request: OwnedFd,
        /// Bound to `base-event`, connected to `base-event-tx`.
        event: OwnedFd,
    },
}

impl IpcClient {
    /// Connects to the service listening on the abstract name `name` (prefix included,
    /// e.g. `"cpg"`), asking for `max_msg_size`.
    pub fn connect(name: &str, max_msg_size: u32) -> Result<Self, ClientError> {
        let addr = AbstractAddr::new(name.as_bytes())?;
        let fd = addr::unix_socket(libc::SOCK_STREAM, false)?;
        if let Err(e) = addr::connect(&fd, &addr) {
            return Err(match e.raw_os_error() {
                Some(libc::ECONNREFUSED | libc::ENOENT) => ClientError::NotRunning,
                _ => ClientError::Io(e),
            });
        }
        let mut setup = UnixStream::from(fd);
        let request = ConnectionRequest {
            max_msg_size: max_msg_size.max(MIN_MSG_SIZE),
        };
        setup.write_all(&request.to_vec()).map_err(gone)?;
        setup.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
        let mut response = vec![0u8; ConnectionResponse::LEN];
        setup
            .read_exact(&mut response)
            .map_err(|e| match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ClientError::Timeout,
                _ => gone(e),
            })?;
        let accepted = match ConnectionResponse::decode(&response) {
            Ok(ConnectionResponse::Accepted(a)) => a,
            Ok(ConnectionResponse::Refused(errno)) => return Err(ClientError::Refused(errno)),
            Err(e) => return Err(ClientError::Protocol(format!("connection response: {e}"))),
        };
        let max_msg_size = accepted.max_msg_size;
        let path = |p: &ais_wire::ipc::IpcPath| {
            Path::new(std::ffi::OsStr::from_bytes(p.as_bytes())).to_path_buf()
        };
        let channel = match accepted.transport {
            IpcTransport::Shm => Channel::Shm {
                request: Ring::open(&path(&accepted.request), max_msg_size, true)?,
                response: Ring::open(&path(&accepted.response), max_msg_size, false)?,
                event: Ring::open(&path(&accepted.event), max_msg_size, false)?,
            },
            IpcTransport::Socket => {
                let control = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(path(&accepted.request))?;
                if control.metadata()?.len() < 24 {
                    return Err(ClientError::Protocol("control file too short".into()));
                }
                let control = Mapping::file(&control, 24)?;
                let base = accepted.response.as_bytes();
                let named = |suffix: &str| AbstractAddr::new(&[base, suffix.as_bytes()].concat());
                let request = dgram_pair(&named("-response")?, &named("-request")?, max_msg_size)?;
                let event = dgram_pair(&named("-event")?, &named("-event-tx")?, max_msg_size)?;
                Channel::Socket {
                    control,
                    request,
                    event,
                }
            }
        };
        setup.set_read_timeout(None)?;
        setup.set_nonblocking(true)?;
        Ok(Self {
            setup,
            max_msg_size,
            fc_enable_max: 1,
            channel,
            owed_bytes: 0,
        })
    }

    /// The transport the server picked.
    pub fn mode(&self) -> IpcMode {
        match self.channel {
            Channel::Shm { .. } => IpcMode::Shm,
            Channel::Socket { .. } => IpcMode::Socket,
        }
    }

    /// The message size both sides use.
    pub fn max_msg_size(&self) -> u32 {
        self.max_msg_size
    }

    /// Flow-control levels `1..=max` make [`IpcClient::send`] return `TryAgain` (libqb's
    /// `qb_ipcc_fc_enable_max_set`; default 1, libcpg uses 2).
    pub fn set_flow_control_max(&mut self, max: i32) {
        self.fc_enable_max = max;
    }

    /// Sends one request (header included).
    pub fn send(&mut self, msg: &[u8]) -> Result<(), ClientError> {
        if msg.len() > self.max_msg_size as usize {
            return Err(ClientError::TooLarge { len: msg.len() });
        }
        let level = self.flow_control();
        if level >= 1 && level <= self.fc_enable_max {
            return Err(ClientError::TryAgain);
        }
        match &mut self.channel {
            Channel::Shm { request, .. } => {
                if request.refs() != 2 {
                    // libqb: -ENOTCONN once the server has let go of the ring.
                    return Err(ClientError::Disconnected);
                }
                request.write(msg).map_err(ring_error)?;
                // One notification byte per request wakes the server.
                loop {
                    match addr::send(self.setup.as_raw_fd(), &[0]) {
                        Ok(_) => return Ok(()),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            addr::poll_one(self.setup.as_raw_fd(), libc::POLLOUT, 100)?;
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => return Err(ClientError::Disconnected),
                    }
                }
            }
            Channel::Socket { request, .. } => match addr::send(request.as_raw_fd(), msg) {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(ClientError::TryAgain),
                Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) => {
                    Err(ClientError::TooLarge { len: msg.len() })
                }
                Err(e) => Err(gone(e)),
            },
        }
    }

    /// Receives one response into `buf` (resized to the message), waiting at most `timeout`
    /// (`None`: forever).
    pub fn recv_response(
        &mut self,
        buf: &mut Vec<u8>,
        timeout: Option<Duration>,
    ) -> Result<(), ClientError> {
        let deadline = timeout.map(|t| now() + t);
        loop {
            let remaining = remaining(deadline);
            match &mut self.channel {
                Channel::Shm { response, .. } => {
                    if response.try_read(buf).map_err(ring_error)? {
                        return check_message(buf);
                    }
                    if hung_up(&self.setup)? {
                        return Err(ClientError::Disconnected);
                    }
                    let slice = remaining.map_or(SEM_SLICE, |r| r.min(SEM_SLICE));
                    if response
                        .read_until(buf, &realtime_after(slice))
                        .map_err(ring_error)?
                    {
                        return check_message(buf);
                    }
                }
                Channel::Socket { request, .. } => {
                    if recv_datagram(request.as_raw_fd(), buf, self.max_msg_size)? {
                        return check_message(buf);
                    }
                    let fds = [request.as_raw_fd(), self.setup.as_raw_fd()];
                    let ready = poll_fds(&fds, remaining)?;
                    if ready[1] & HANGUP != 0 && ready[0] & libc::POLLIN == 0 {
                        return Err(ClientError::Disconnected);
                    }
                }
            }
            if remaining == Some(Duration::ZERO) {
                return Err(ClientError::Timeout);
            }
        }
    }

    /// Takes one pending event into `buf`; `Ok(false)` when there is none.
    pub fn try_recv_event(&mut self, buf: &mut Vec<u8>) -> Result<bool, ClientError> {
        match &mut self.channel {
            Channel::Shm { event, .. } => {
                self.owed_bytes = settle_bytes(&self.setup, self.owed_bytes)?;
                if event.try_read(buf).map_err(ring_error)? {
                    self.owed_bytes = settle_bytes(&self.setup, self.owed_bytes + 1)?;
                    check_message(buf)?;
                    return Ok(true);
                }
                if hung_up(&self.setup)? {
                    return Err(ClientError::Disconnected);
                }
                Ok(false)
            }
            Channel::Socket { event, .. } => {
                if recv_datagram(event.as_raw_fd(), buf, self.max_msg_size)? {
                    check_message(buf)?;
                    return Ok(true);
                }
                if hung_up(&self.setup)? {
                    return Err(ClientError::Disconnected);
                }
                Ok(false)
            }
        }
    }

    /// Waits until an event is pending, at most `timeout` (`None`: forever). `Ok(false)` on
    /// timeout.
    pub fn wait_event(&mut self, timeout: Option<Duration>) -> Result<bool, ClientError> {
        let deadline = timeout.map(|t| now() + t);
        loop {
            let remaining = remaining(deadline);
            match &mut self.channel {
                Channel::Shm { event, .. } => {
                    if event.sem_value() > 0 {
                        return Ok(true);
                    }
                    self.owed_bytes = settle_bytes(&self.setup, self.owed_bytes)?;
                    let ready = poll_fds(&[self.setup.as_raw_fd()], remaining)?;
                    if event.sem_value() > 0 {
                        return Ok(true);
                    }
                    if ready[0] & HANGUP != 0 {
                        return Err(ClientError::Disconnected);
                    }
                    if ready[0] & libc::POLLIN != 0 && self.owed_bytes == 0 {
                        // A byte ahead of its chunk: let the caller look.
                        return Ok(true);
                    }
                }
                Channel::Socket { event, .. } => {
                    let ready = poll_fds(&[event.as_raw_fd(), self.setup.as_raw_fd()], remaining)?;
                    if ready[0] & libc::POLLIN != 0 {
                        return Ok(true);
                    }
                    if ready[1] & HANGUP != 0 {
                        return Err(ClientError::Disconnected);
                    }
                }
            }
            if remaining == Some(Duration::ZERO) {
                return Ok(false);
            }
        }
    }

    /// The current request flow-control level set by the server.
    pub fn flow_control(&self) -> i32 {
        match &self.channel {
            Channel::Shm { request, .. } => request.flow_control(),
            Channel::Socket { control, .. } => {
                // SAFETY: offset 4 of the 24-byte control mapping, 4-byte aligned; shared
                // memory is only accessed atomically.
                let fc = unsafe { &*control.at(4).cast::<AtomicI32>() };
                fc.load(Ordering::Acquire)
            }
        }
    }
}

impl AsRawFd for IpcClient {
    /// The fd to poll for events, as `qb_ipcc_fd_get`.
    fn as_raw_fd(&self) -> RawFd {
        match &self.channel {
            Channel::Shm { .. } => self.setup.as_raw_fd(),
            Channel::Socket { event, .. } => event.as_raw_fd(),
        }
    }
}

impl IpcClient {
    /// The fd to poll for events, as `qb_ipcc_fd_get`.
    pub fn as_raw_fd(&self) -> RawFd {
        AsRawFd::as_raw_fd(self)
    }
}

impl Drop for IpcClient {
    fn drop(&mut self) {
        // The rings drop their references; the server sees EOF on the setup socket.
        let _ = self.setup.shutdown(std::net::Shutdown::Both);
    }
}

const HANGUP: i16 = libc::POLLHUP | libc::POLLRDHUP | libc::POLLERR;

/// A datagram socket bound to `local` and connected to `remote`, buffers sized for
/// `max_msg_size`.
fn dgram_pair(
    local: &AbstractAddr,
    remote: &AbstractAddr,
    max_msg_size: u32,
) -> Result<OwnedFd, ClientError> {
    let fd = addr::unix_socket(libc::SOCK_DGRAM, true)?;
    addr::bind(&fd, local)?;
    addr::set_buffers(fd.as_raw_fd(), max_msg_size);
    addr::connect(&fd, remote).map_err(gone)?;
    Ok(fd)
}

/// One datagram into `buf`; `Ok(false)` if none is queued.
fn recv_datagram(fd: RawFd, buf: &mut Vec<u8>, max_msg_size: u32) -> Result<bool, ClientError> {
    buf.resize(max_msg_size as usize + 1, 0);
    loop {
        match addr::recv_from(fd, buf) {
            Ok((n, _, _)) if n > max_msg_size as usize => {
                return Err(ClientError::Protocol(format!("datagram of {n} bytes")));
            }
            Ok((n, _, _)) => {
                buf.truncate(n);
                return Ok(true);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                buf.clear();
                return Ok(false);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(gone(e)),
        }
    }
}

/// A message is whole: at least a request header, and its size field is its length.
fn check_message(buf: &[u8]) -> Result<(), ClientError> {
    if buf.len() < 16 {
        return Err(ClientError::Protocol(format!(
            "message of {} bytes",
            buf.len()
        )));
    }
    let size = i32::from_ne_bytes([buf[8], buf[9], buf[10], buf[11]]);
    if usize::try_from(size).ok() != Some(buf.len()) {
        return Err(ClientError::Protocol(format!(
            "header size {size} but {} bytes",
            buf.len()
        )));
    }
    Ok(())
}

/// Reads up to `owed` notification bytes without blocking; returns how many are still owed.
fn settle_bytes(setup: &UnixStream, mut owed: usize) -> Result<usize, ClientError> {
    let mut buf = [0u8; 256];
    let mut reader = setup;
    while owed > 0 {
        let n = owed.min(buf.len());
        match reader.read(&mut buf[..n]) {
            Ok(0) => return Err(ClientError::Disconnected),
            Ok(got) => owed -= got,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err(ClientError::Disconnected),
        }
    }
    Ok(owed)
}

/// Whether the server closed the setup socket (checked without blocking or consuming).
fn hung_up(setup: &UnixStream) -> Result<bool, ClientError> {
    let revents = addr::poll_one(setup.as_raw_fd(), libc::POLLRDHUP, 0)?;
    Ok(revents & HANGUP != 0)
}

/// Polls `fds` (POLLIN | POLLRDHUP) for at most `timeout`; returns each fd's revents.
fn poll_fds(fds: &[RawFd], timeout: Option<Duration>) -> Result<Vec<i16>, ClientError> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN | libc::POLLRDHUP,
            revents: 0,
        })
        .collect();
    let ms = timeout.map_or(-1, |t| {
        i32::try_from(t.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
    });
    loop {
        // SAFETY: `pfds` is a live array of pollfd of the given length.
        let rc = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
        if rc >= 0 {
            return Ok(pfds.iter().map(|p| p.revents).collect());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err.into());
        }
    }
}

fn ring_error(e: RingError) -> ClientError {
    match e {
        RingError::Full => ClientError::TryAgain,
        RingError::TooLarge => ClientError::Protocol("message exceeds the ring".into()),
        RingError::Corrupt(what) => ClientError::Protocol(what.into()),
        RingError::Truncated => ClientError::Protocol("a ring file was truncated".into()),
    }
}

fn gone(e: io::Error) -> ClientError {
    match e.raw_os_error() {
        Some(libc::EPIPE | libc::ECONNRESET | libc::ECONNREFUSED | libc::ENOTCONN) => {
            ClientError::Disconnected
        }
        _ if e.kind() == io::ErrorKind::UnexpectedEof => ClientError::Disconnected,
        _ => ClientError::Io(e),
    }
}

/// Blocking client code measures its own timeouts; the daemon's clock rule does not apply.
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

fn remaining(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(now()))
}

/// `CLOCK_REALTIME` + `after`, as `sem_timedwait` wants its deadline.
fn realtime_after(after: Duration) -> libc::timespec {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    let nanos = ts.tv_nsec as u64 + u64::from(after.subsec_nanos());
    ts.tv_sec += after.as_secs() as libc::time_t + (nanos / 1_000_000_000) as libc::time_t;
    ts.tv_nsec = (nanos % 1_000_000_000) as libc::c_long;
    ts
}
