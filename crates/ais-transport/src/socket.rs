//! UDP sockets for one link, set up with socket2 before mio takes them: large buffers,
//! non-blocking, and for multicast the group membership, interface, TTL and loopback.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

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

/// A unicast socket bound to `addr` (`transport: udpu`).
pub(crate) fn unicast(addr: SocketAddr) -> io::Result<mio::net::UdpSocket> {
    let socket = new_socket(addr)?;
    socket.bind(&addr.into())?;
    Ok(mio::net::UdpSocket::from_std(socket.into()))
}

/// A socket that receives the group's packets and unicasts to the group's port, bound to the
/// wildcard address so both arrive.
pub(crate) fn multicast(m: &Multicast) -> io::Result<mio::net::UdpSocket> {
    let socket = new_socket(m.group)?;
    socket.set_reuse_address(true)?;
    match (m.group.ip(), m.interface) {
        (IpAddr::V4(group), IpAddr::V4(interface)) => {
            socket.bind(&SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), m.group.port()).into())?;
            socket.join_multicast_v4(&group, &interface)?;
            socket.set_multicast_if_v4(&interface)?;
            socket.set_multicast_ttl_v4(m.ttl)?;
            // Several daemons on one host hear each other; our own copies are dropped as
            // "from self" after authentication.
            socket.set_multicast_loop_v4(true)?;
        }
        (IpAddr::V6(group), IpAddr::V6(_)) => {
            socket.set_only_v6(true)?;
            socket.bind(&SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), m.group.port()).into())?;
            socket.join_multicast_v6(&group, m.ifindex)?;
            if m.ifindex != 0 {
                socket.set_multicast_if_v6(m.ifindex)?;
            }
            socket.set_multicast_hops_v6(m.ttl)?;
            socket.set_multicast_loop_v6(true)?;
        }
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "multicast group and interface are of different IP families",
            ));
        }
    }
    Ok(mio::net::UdpSocket::from_std(socket.into()))
}

fn new_socket(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_nonblocking(true)?;
    // Best effort: an unprivileged process may get less than it asks for.
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER_BYTES);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER_BYTES);
    Ok(socket)
}
