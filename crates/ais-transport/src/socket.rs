//! UDP sockets for one link, set up with socket2 before mio takes them: large buffers,
//! non-blocking, and for multicast the group membership, interface, TTL and loopback.

use std::io;
use std::net::{IpAddr, SocketAddr};

use socket2::{Domain, Protocol, Socket, Type};

/// Kernel buffer size asked for: a burst of `window_size` full frames from every member
/// must fit while the loop is busy (corosync asks for 2 MiB as well).
const SOCKET_BUFFER_BYTES: usize = 2 * 1024 * 1024;

/// IP multicast settings of one link (`transport: udp`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Multicast {
    /// Group address and port (`mcastaddr`, `mcastport`).
    pub group: SocketAddr,
    /// The local address whose interface joins the group (from `bindnetaddr`).
    pub interface: IpAddr,
    /// `ttl`.
    pub ttl: u32,
    /// IPv6 interface index (0: the kernel's choice).
    pub ifindex: u32,
}

/// The link's own socket, bound to `addr` without address reuse, so no other local process
/// can take its port: it sends everything and receives the unicast packets (the token).
/// With `multicast`, it also sends to the group through the link's interface.
pub(crate) fn unicast(
    addr: SocketAddr,
    multicast: Option<&Multicast>,
) -> io::Result<mio::net::UdpSocket> {
    let socket = new_socket(addr)?;
    socket.bind(&addr.into())?;
    if let Some(m) = multicast {
        match (m.group.ip(), m.interface) {
            (IpAddr::V4(_), IpAddr::V4(interface)) => {
                socket.set_multicast_if_v4(&interface)?;
                socket.set_multicast_ttl_v4(m.ttl)?;
                // Several daemons on one host hear each other; our own copies are dropped
                // as "from self" after authentication.
                socket.set_multicast_loop_v4(true)?;
            }
            (IpAddr::V6(_), IpAddr::V6(_)) => {
                if m.ifindex != 0 {
                    socket.set_multicast_if_v6(m.ifindex)?;
                }
                socket.set_multicast_hops_v6(m.ttl)?;
                socket.set_multicast_loop_v6(true)?;
            }
            _ => return Err(mixed_families()),
        }
    }
    Ok(mio::net::UdpSocket::from_std(socket.into()))
}

/// A receive-only socket for the group: bound to the group address itself (so it gets only
/// the group's datagrams, never the token) and joined on the link's interface.
pub(crate) fn group(m: &Multicast) -> io::Result<mio::net::UdpSocket> {
    let socket = new_socket(m.group)?;
    // Every daemon of the host that joins the group needs the same group:port.
    socket.set_reuse_address(true)?;
    match (m.group.ip(), m.interface) {
        (IpAddr::V4(group), IpAddr::V4(interface)) => {
            socket.bind(&m.group.into())?;
            socket.join_multicast_v4(&group, &interface)?;
        }
        (IpAddr::V6(group), IpAddr::V6(_)) => {
            socket.set_only_v6(true)?;
            socket.bind(&m.group.into())?;
            socket.join_multicast_v6(&group, m.ifindex)?;
        }
        _ => return Err(mixed_families()),
    }
    Ok(mio::net::UdpSocket::from_std(socket.into()))
}

fn mixed_families() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "multicast group and interface are of different IP families",
    )
}

fn new_socket(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_nonblocking(true)?;
    // Best effort: an unprivileged process may get less than it asks for.
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER_BYTES);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER_BYTES);
    Ok(socket)
}
