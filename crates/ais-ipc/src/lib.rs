//! Both sides of the libqb IPC protocol that corosync's client libraries (libcpg, libcmap,
//! libquorum, libvotequorum, libcfg; libqb 2.0.6) speak, so that unmodified clients can talk
//! to `aisexec` and our own tools can talk to either daemon.
//!
//! Reference: `reference/corosync-ipc-compat.md` §1. A service listens on an abstract
//! `AF_UNIX` stream socket named after it; the client sends a 24-byte connection request,
//! the server answers with a 12 328-byte response that picks the transport:
//!
//! - [`IpcMode::Shm`] (`QB_IPC_SHM`, corosync's default and the only one Pacemaker accepts):
//!   three shared-memory rings (request, response, event) under a per-connection directory
//!   in `/dev/shm`, glibc process-shared semaphores, and one-byte notifications on the setup
//!   socket (the `ring` module holds the ring code both sides share).
//! - [`IpcMode::Socket`] (`QB_IPC_SOCKET`): datagram sockets with abstract names plus a
//!   24-byte control file carrying the flow-control level.
//!
//! [`IpcServer`] is the daemon side, driven by the daemon's mio loop; [`client::IpcClient`]
//! is the blocking client side. Handshake codecs come from [`ais_wire::ipc`].
//!
//! Invariants: nothing a client sends or writes into shared memory can panic the server;
//! every index and size read from a peer is bounded by the ring size and `max_msg_size`, and
//! a violation drops that one connection.

mod addr;
pub mod client;
mod ring;
mod server;
mod sigbus;

pub use server::{
    Access, ConnStats, HANDSHAKE_DEADLINE, IpcServer, IpcStats, ServerConfig, ServerEvent,
    TOKEN_SPAN,
};

/// The transport a server offers to its clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IpcMode {
    /// `QB_IPC_SHM`: shared-memory rings; corosync's default ("native").
    #[default]
    Shm,
    /// `QB_IPC_SOCKET`: datagram sockets.
    Socket,
}

pub use ais_types::Credentials;

/// One client connection; unique per server and never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

impl std::fmt::Display for ConnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}
