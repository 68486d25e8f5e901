//! Abstract `AF_UNIX` addresses as libqb spells them, and the few socket calls that need them.
//!
//! libqb binds and connects with the full `sizeof(struct sockaddr_un)` (110, its
//! `QB_SUN_LEN`): `sun_path` is `\0` + name, zero-padded to 108 bytes (reference §1.1). The
//! kernel compares abstract names over the whole given length, so an address built by std
//! (`SocketAddr::from_abstract_name`, which uses the short length) would never meet a libqb
//! peer. Every bind, connect and send to a name therefore goes through [`AbstractAddr`].
//!
//! Invariant: an [`AbstractAddr`] always holds a name of 1..=107 bytes.

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A full-length abstract socket address.
#[derive(Clone)]
pub(crate) struct AbstractAddr {
    addr: libc::sockaddr_un,
}

/// `QB_SUN_LEN`: the whole `sockaddr_un`.
const SUN_LEN: libc::socklen_t = size_of::<libc::sockaddr_un>() as libc::socklen_t;

impl AbstractAddr {
    /// The address `\0name`, zero padded; fails if the name is empty or longer than 107 bytes.
    pub(crate) fn new(name: &[u8]) -> io::Result<Self> {
        // SAFETY: sockaddr_un is plain old data; all zeroes is a valid value.
        let mut addr: libc::sockaddr_un = unsafe { mem::zeroed() };
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        if name.is_empty() || name.len() >= addr.sun_path.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("abstract socket name of {} bytes does not fit", name.len()),
            ));
        }
        for (dst, &src) in addr.sun_path[1..].iter_mut().zip(name) {
            *dst = src as libc::c_char;
        }
        Ok(Self { addr })
    }

    /// The name without the leading NUL and the padding, for logs.
    pub(crate) fn display(&self) -> String {
        let bytes: Vec<u8> = self.addr.sun_path[1..]
            .iter()
            .map(|&c| c as u8)
            .take_while(|&b| b != 0)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn as_ptr(&self) -> *const libc::sockaddr {
        (&raw const self.addr).cast()
    }

    /// Whether a peer address returned by `recvfrom` is this one.
    pub(crate) fn matches(&self, other: &libc::sockaddr_un, len: libc::socklen_t) -> bool {
        len == SUN_LEN && other.sun_family == self.addr.sun_family && {
            other.sun_path == self.addr.sun_path
        }
    }
}

/// A new non-blocking, close-on-exec `AF_UNIX` socket of `kind` (`SOCK_STREAM`/`SOCK_DGRAM`).
pub(crate) fn unix_socket(kind: libc::c_int, nonblocking: bool) -> io::Result<OwnedFd> {
    let flags = kind | libc::SOCK_CLOEXEC | if nonblocking { libc::SOCK_NONBLOCK } else { 0 };
    // SAFETY: plain syscall with no pointer arguments.
    let fd = unsafe { libc::socket(libc::AF_UNIX, flags, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket() and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `bind(fd, addr, 110)`.
pub(crate) fn bind(fd: &impl AsRawFd, addr: &AbstractAddr) -> io::Result<()> {
    // SAFETY: the pointer and length describe a live sockaddr_un.
    let rc = unsafe { libc::bind(fd.as_raw_fd(), addr.as_ptr(), SUN_LEN) };
    cvt(rc)
}

/// `connect(fd, addr, 110)`.
pub(crate) fn connect(fd: &impl AsRawFd, addr: &AbstractAddr) -> io::Result<()> {
    // SAFETY: the pointer and length describe a live sockaddr_un.
    let rc = unsafe { libc::connect(fd.as_raw_fd(), addr.as_ptr(), SUN_LEN) };
    cvt(rc)
}

/// `listen(fd, backlog)`.
pub(crate) fn listen(fd: &impl AsRawFd, backlog: i32) -> io::Result<()> {
    // SAFETY: plain syscall on a valid fd.
    cvt(unsafe { libc::listen(fd.as_raw_fd(), backlog) })
}

/// `send(fd, buf, MSG_DONTWAIT | MSG_NOSIGNAL)`; returns the bytes sent.
pub(crate) fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: the pointer and length describe `buf`.
    let n = unsafe {
        libc::send(
            fd,
            buf.as_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Receives one datagram (or stream bytes) into `buf` without blocking. For a datagram the
/// returned length is the datagram's real length (`MSG_TRUNC`), which may exceed `buf.len()`.
/// Also returns the sender's address.
pub(crate) fn recv_from(
    fd: RawFd,
    buf: &mut [u8],
) -> io::Result<(usize, libc::sockaddr_un, libc::socklen_t)> {
    // SAFETY: sockaddr_un is plain old data; all zeroes is a valid value.
    let mut from: libc::sockaddr_un = unsafe { mem::zeroed() };
    let mut from_len = SUN_LEN;
    // SAFETY: the pointers and lengths describe `buf` and `from`, both live and writable.
    let n = unsafe {
        libc::recvfrom(
            fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT | libc::MSG_TRUNC,
            (&raw mut from).cast(),
            &mut from_len,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((n as usize, from, from_len))
}

/// Turns on `SO_PASSCRED`: from now on the kernel attaches the sender's credentials to
/// every datagram `fd` receives, whether or not the sender sent them (a sender may only
/// send its own, short of `CAP_SYS_ADMIN`/`CAP_SETUID`).
pub(crate) fn set_passcred(fd: RawFd) -> io::Result<()> {
    setsockopt_int(fd, libc::SO_PASSCRED, 1)
}

/// One datagram received by [`recv_with_creds`].
pub(crate) struct Datagram {
    /// Its real length (`MSG_TRUNC`), which may exceed the buffer.
    pub(crate) len: usize,
    /// The address the sender was bound to.
    pub(crate) from: libc::sockaddr_un,
    /// The length of `from`.
    pub(crate) from_len: libc::socklen_t,
    /// The sending process, as the kernel reports it (`SCM_CREDENTIALS`; needs
    /// [`set_passcred`] on `fd`); `None` if no credentials came with it.
    pub(crate) pid: Option<u32>,
}

/// Receives one datagram into `buf` without blocking, with its sender's address and, when
/// `fd` has `SO_PASSCRED`, the sending process.
pub(crate) fn recv_with_creds(fd: RawFd, buf: &mut [u8]) -> io::Result<Datagram> {
    // Room for one SCM_CREDENTIALS message, aligned for cmsghdr.
    #[repr(C)]
    union CmsgBuf {
        _align: libc::cmsghdr,
        bytes: [u8; 64],
    }
    // SAFETY: sockaddr_un is plain old data; all zeroes is a valid value.
    let mut from: libc::sockaddr_un = unsafe { mem::zeroed() };
    let mut control = CmsgBuf { bytes: [0; 64] };
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain old data; all zeroes is a valid value.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_name = (&raw mut from).cast();
    msg.msg_namelen = SUN_LEN;
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = (&raw mut control).cast();
    msg.msg_controllen = size_of::<CmsgBuf>();
    // SAFETY: every pointer in `msg` refers to a live, writable buffer of the given length.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT | libc::MSG_TRUNC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut pid = None;
    // SAFETY: `msg` was filled by recvmsg; CMSG_FIRSTHDR/CMSG_NXTHDR stay within
    // `msg_controllen`, and CMSG_DATA of an SCM_CREDENTIALS header holds a ucred (read
    // unaligned: the kernel only aligns the header).
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET
                && (*cmsg).cmsg_type == libc::SCM_CREDENTIALS
                && (*cmsg).cmsg_len as usize
                    >= libc::CMSG_LEN(size_of::<libc::ucred>() as u32) as usize
            {
                let cred = libc::CMSG_DATA(cmsg).cast::<libc::ucred>().read_unaligned();
                pid = u32::try_from(cred.pid).ok();
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok(Datagram {
        len: n as usize,
        from,
        from_len: msg.msg_namelen,
        pid,
    })
}

/// Sets `SO_SNDBUF` and `SO_RCVBUF` to `size`, with the `*FORCE` variants when permitted
/// (root), so that datagrams of `max_msg_size` fit although `net.core.wmem_max` is lower.
pub(crate) fn set_buffers(fd: RawFd, size: u32) {
    let size = i32::try_from(size).unwrap_or(i32::MAX);
    for (force, plain) in [
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
    ] {
        if setsockopt_int(fd, force, size).is_err() {
            // Not privileged: the kernel caps the plain option at wmem_max/rmem_max, which is
            // what libqb gets too.
            let _ = setsockopt_int(fd, plain, size);
        }
    }
}

/// Raises `SO_SNDBUF` (forced when permitted) to at least `size`.
pub(crate) fn raise_sndbuf(fd: RawFd, size: usize) {
    let size = i32::try_from(size).unwrap_or(i32::MAX);
    if setsockopt_int(fd, libc::SO_SNDBUFFORCE, size).is_err() {
        let _ = setsockopt_int(fd, libc::SO_SNDBUF, size);
    }
}

fn setsockopt_int(fd: RawFd, opt: libc::c_int, value: i32) -> io::Result<()> {
    // SAFETY: the pointer and length describe a live i32.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&raw const value).cast(),
            size_of::<i32>() as libc::socklen_t,
        )
    };
    cvt(rc)
}

/// Waits until `fd` reports one of `events` (or an error/hang-up), for at most `timeout_ms`
/// (-1 = forever). Returns the revents, 0 on timeout.
pub(crate) fn poll_one(fd: RawFd, events: libc::c_short, timeout_ms: i32) -> io::Result<i16> {
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if rc < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        return Ok(if rc == 0 { 0 } else { pfd.revents });
    }
}

fn cvt(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
