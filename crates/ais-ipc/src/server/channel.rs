//! A connection's data path, in either transport: three SHM rings, or SOCKET mode's
//! datagram sockets and control file; and the per-connection directory holding their
//! files. The server (`super`) decides what to send and when; this moves the bytes.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};

use ais_wire::ipc::{IpcPath, IpcTransport};
use tracing::warn;

use super::{Close, Out, Warning};
use crate::ConnId;
use crate::addr::{self, AbstractAddr};
use crate::ring::{Mapping, Ring, RingError};

pub(super) struct NewChannel {
    pub(super) paths: [IpcPath; 3],
    pub(super) channel: Channel,
}

impl NewChannel {
    pub(super) fn transport(&self) -> IpcTransport {
        match self.channel {
            Channel::Shm(_) => IpcTransport::Shm,
            Channel::Socket(_) => IpcTransport::Socket,
        }
    }
}

/// A connection's data path.
pub(super) enum Channel {
    Shm(ShmChannel),
    Socket(SocketChannel),
}

pub(super) struct ShmChannel {
    pub(super) request: Ring,
    pub(super) response: Ring,
    pub(super) event: Ring,
    /// Event notification bytes not yet written to the setup socket.
    pub(super) unsent_notifications: usize,
    /// Declared last: removed after the rings have unmapped and unlinked their files.
    pub(super) _dir: ConnDir,
}

pub(super) struct SocketChannel {
    /// The 24-byte control file; `request.flow_control` at offset 4.
    pub(super) control: Mapping,
    /// Receives requests, sends responses.
    pub(super) request: DgramEnd,
    /// Sends events.
    pub(super) event_tx: DgramEnd,
    /// The admitted client's process (`SO_PEERCRED` of its setup socket). Every request
    /// must come from it: anyone in the network namespace can read the abstract names in
    /// `/proc/net/unix` and send to them, or bind the client's names before it does.
    pub(super) client_pid: u32,
    /// A request from `client_pid` on the client's response address has arrived. Until
    /// then nothing is sent: whoever holds the client's names before that may be someone
    /// else. Once it has, the client bound both names (a client binds them before it can
    /// send), and an abstract name has one holder at a time.
    pub(super) verified: bool,
    /// Slab keys of the two sockets once registered.
    pub(super) keys: Option<[usize; 2]>,
    pub(super) _dir: ConnDir,
}

/// Our datagram socket and the client's socket it sends to.
pub(super) struct DgramEnd {
    pub(super) fd: OwnedFd,
    pub(super) peer: AbstractAddr,
    pub(super) connected: bool,
    /// The send buffer was raised once for an oversized datagram.
    pub(super) raised: bool,
}

impl DgramEnd {
    pub(super) fn new(fd: OwnedFd, peer: AbstractAddr) -> Self {
        Self {
            fd,
            peer,
            connected: false,
            raised: false,
        }
    }

    /// Sends one datagram to the peer. `Ok(false)` when it must be retried later: the
    /// peer's queue or our buffer is full, or the client has not bound its socket yet.
    pub(super) fn send(&mut self, msg: &[u8], out: &mut Out) -> Result<bool, Close> {
        if !self.connected {
            // Connected, so that writability reflects the peer's queue (libqb connects
            // lazily too).
            match addr::connect(&self.fd, &self.peer) {
                Ok(()) => self.connected = true,
                Err(_) => return Ok(false),
            }
        }
        loop {
            match addr::send(self.fd.as_raw_fd(), msg) {
                Ok(_) => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) && !self.raised => {
                    // Larger than our send buffer: raise it (forced when root) and retry.
                    self.raised = true;
                    addr::raise_sndbuf(self.fd.as_raw_fd(), 2 * msg.len() + 4096);
                }
                Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) => {
                    out.stats.too_big += 1;
                    return Err(Close::Failed(format!(
                        "datagram of {} bytes exceeds the socket buffer",
                        msg.len()
                    )));
                }
                // The client's socket is gone; its setup socket will hang up too.
                Err(_) => return Ok(false),
            }
        }
    }
}

impl Channel {
    pub(super) fn set_flow_control(&self, level: i32) {
        match self {
            Self::Shm(shm) => shm.request.set_flow_control(level),
            Self::Socket(sock) => {
                // SAFETY: offset 4 of the 24-byte control mapping, 4-byte aligned; shared
                // memory is only accessed atomically.
                let fc = unsafe { &*sock.control.at(4).cast::<AtomicI32>() };
                fc.store(level, Ordering::Release);
            }
        }
    }

    pub(super) fn unsent_notifications(&self) -> usize {
        match self {
            Self::Shm(shm) => shm.unsent_notifications,
            Self::Socket(_) => 0,
        }
    }

    /// SHM: writes owed event notification bytes to the setup socket.
    pub(super) fn send_notifications(&mut self, setup: &UnixStream) -> Result<(), Close> {
        let Self::Shm(shm) = self else {
            return Ok(());
        };
        let zeros = [0u8; 512];
        while shm.unsent_notifications > 0 {
            let n = shm.unsent_notifications.min(zeros.len());
            match addr::send(setup.as_raw_fd(), &zeros[..n]) {
                Ok(sent) => shm.unsent_notifications -= sent,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(Close::Gone),
            }
        }
        Ok(())
    }

    /// `Ok(false)` when the channel is full.
    pub(super) fn send_response(&mut self, msg: &[u8], out: &mut Out) -> Result<bool, Close> {
        let sent = match self {
            Self::Shm(shm) => ring_write(&mut shm.response, msg)?,
            Self::Socket(sock) => sock.verified && sock.request.send(msg, out)?,
        };
        if sent {
            out.stats.responses += 1;
        }
        Ok(sent)
    }

    /// `Ok(false)` when the channel is full.
    /// The wake-up byte is owed, not sent: `send_notifications` sends what is owed.
    pub(super) fn send_event(&mut self, msg: &[u8], out: &mut Out) -> Result<bool, Close> {
        let sent = match self {
            Self::Shm(shm) => {
                let sent = ring_write(&mut shm.event, msg)?;
                if sent {
                    // The byte goes out only after the chunk is committed: the client
                    // reads the chunk, then exactly one byte.
                    shm.unsent_notifications += 1;
                }
                sent
            }
            Self::Socket(sock) => sock.verified && sock.event_tx.send(msg, out)?,
        };
        if sent {
            out.stats.events += 1;
        }
        Ok(sent)
    }

    /// The next request, if any.
    pub(super) fn recv_request(
        &mut self,
        max_msg_size: u32,
        out: &mut Out,
    ) -> Result<Received, Close> {
        match self {
            Self::Shm(shm) => {
                let mut msg = Vec::new();
                match shm.request.try_read(&mut msg) {
                    Ok(true) => Ok(Received::Message(msg)),
                    Ok(false) => Ok(Received::Nothing),
                    Err(e) => Err(Close::Malformed(format!("request ring: {e}"))),
                }
            }
            Self::Socket(sock) => loop {
                if sock.control.truncated() {
                    return Err(Close::Malformed("the control file was truncated".into()));
                }
                let want = max_msg_size as usize + 1;
                if out.scratch.len() < want {
                    out.scratch.resize(want, 0);
                }
                let fd = sock.request.fd.as_raw_fd();
                match addr::recv_with_creds(fd, &mut out.scratch[..want]) {
                    Ok(dgram) => {
                        // Only the admitted process, sending from its bound response
                        // socket, speaks for the client; the kernel vouches for the pid.
                        if !sock.request.peer.matches(&dgram.from, dgram.from_len)
                            || dgram.pid != Some(sock.client_pid)
                        {
                            out.stats.foreign_datagrams += 1;
                            if let Some(held) = out.warn(Warning::ForeignDatagram) {
                                warn!(sender_pid = ?dgram.pid, client_pid = sock.client_pid,
                                      held_back = held,
                                      "IPC request datagram from another process ignored");
                            }
                            return Ok(Received::Skipped);
                        }
                        sock.verified = true;
                        let n = dgram.len;
                        if n > max_msg_size as usize {
                            return Err(Close::Malformed(format!("request of {n} bytes")));
                        }
                        return Ok(Received::Message(out.scratch[..n].to_vec()));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        return Ok(Received::Nothing);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(Close::Failed(format!("request socket: {e}"))),
                }
            },
        }
    }
}

/// What reading the request channel gave.
pub(super) enum Received {
    /// One whole message (not yet checked).
    Message(Vec<u8>),
    /// A datagram from someone other than the client, dropped.
    Skipped,
    /// Nothing queued.
    Nothing,
}

/// `Ok(false)` when the ring is full.
pub(super) fn ring_write(ring: &mut Ring, msg: &[u8]) -> Result<bool, Close> {
    match ring.write(msg) {
        Ok(()) => Ok(true),
        Err(RingError::Full) => Ok(false),
        Err(RingError::TooLarge) => Err(Close::Failed("message exceeds the ring".into())),
        // The client scribbled over the ring header.
        Err(e @ (RingError::Corrupt(_) | RingError::Truncated)) => {
            Err(Close::Malformed(e.to_string()))
        }
    }
}

/// A per-connection directory under `shm_dir`, removed with everything in it on drop.
pub(super) struct ConnDir {
    pub(super) path: PathBuf,
}

impl ConnDir {
    pub(super) fn create(
        shm_dir: &Path,
        server_pid: u32,
        client_pid: u32,
        id: ConnId,
    ) -> io::Result<Self> {
        // A fresh directory with a random suffix, created exclusively (mkdtemp's guarantee).
        let path = tempfile::Builder::new()
            .prefix(&format!("ais-ipc-{server_pid}-{client_pid}-{id}-"))
            .rand_bytes(6)
            .tempdir_in(shm_dir)?
            .keep();
        let this = Self { path };
        // Ours, and only searchable by others: the client opens its files by name (each
        // 0600 and its own) but can neither list the directory nor put another file in
        // place of one of them (libqb makes it 0770 and the client's, which would let the
        // client's whole group swap the files before the client opens them).
        std::fs::set_permissions(&this.path, std::fs::Permissions::from_mode(0o711))?;
        Ok(this)
    }
}

impl Drop for ConnDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The SOCKET-mode control file: three `{sent, flow_control}` pairs, 24 bytes.
pub(super) fn create_control_file(path: &Path, owner: Option<(u32, u32)>) -> io::Result<Mapping> {
    let file = crate::ring::create_client_file(path, 24, owner)?;
    Mapping::file(&file, 24)?.guarded()
}
