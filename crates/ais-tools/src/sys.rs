//! The two C library calls the tools make to print what corosync's tools print: reverse
//! name resolution (`getnameinfo`, so `ais-quorumtool` names nodes exactly as
//! `corosync-quorumtool` does, through nsswitch, `/etc/hosts` and DNS) and the local time of
//! day (`localtime_r`, for its `Date:` line). Both are blocking and touch the world, so the
//! formatting modules never call them: the shells pass their results in.

use std::ffi::CStr;
use std::mem::{MaybeUninit, size_of};
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

/// `NI_MAXHOST`: the longest host name `getnameinfo` writes, NUL included.
const NI_MAXHOST: usize = 1025;

/// `getnameinfo(addr)` without a port: the host's name, or with `numeric` its address as
/// text. `None` when the lookup fails, where corosync-quorumtool prints nothing.
pub fn name_info(addr: IpAddr, numeric: bool) -> Option<String> {
    let flags = if numeric { libc::NI_NUMERICHOST } else { 0 };
    let mut host = [0 as libc::c_char; NI_MAXHOST];
    let rc = match addr {
        IpAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: `sin` is a complete sockaddr_in of the length given, `host` a writable
            // buffer of the length given; getnameinfo keeps neither pointer.
            unsafe {
                libc::getnameinfo(
                    (&raw const sin).cast(),
                    size_of::<libc::sockaddr_in>() as libc::socklen_t,
                    host.as_mut_ptr(),
                    NI_MAXHOST as libc::socklen_t,
                    std::ptr::null_mut(),
                    0,
                    flags,
                )
            }
        }
        IpAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: 0,
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: as above, for a sockaddr_in6.
            unsafe {
                libc::getnameinfo(
                    (&raw const sin6).cast(),
                    size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                    host.as_mut_ptr(),
                    NI_MAXHOST as libc::socklen_t,
                    std::ptr::null_mut(),
                    0,
                    flags,
                )
            }
        }
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: on success getnameinfo wrote a NUL-terminated string into `host`.
    let name = unsafe { CStr::from_ptr(host.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
}

/// The broken-down local time `ctime` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalTime {
    /// Days since Sunday, 0 to 6.
    pub weekday: u32,
    /// Months since January, 0 to 11.
    pub month: u32,
    /// Day of the month, 1 to 31.
    pub day: u32,
    /// Hours, 0 to 23.
    pub hour: u32,
    /// Minutes, 0 to 59.
    pub minute: u32,
    /// Seconds, 0 to 60.
    pub second: u32,
    /// The year, e.g. 2026.
    pub year: i32,
}

impl LocalTime {
    /// Now, in the local time zone (`time` then `localtime_r`).
    pub fn now() -> Option<Self> {
        // The Date line is wall-clock time by definition; nothing else here reads a clock.
        #[allow(clippy::disallowed_methods)]
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
        let t = libc::time_t::try_from(secs).ok()?;
        let mut tm = MaybeUninit::<libc::tm>::zeroed();
        // SAFETY: both pointers are valid for the call; localtime_r fills `tm` or fails.
        let filled = unsafe { libc::localtime_r(&t, tm.as_mut_ptr()) };
        if filled.is_null() {
            return None;
        }
        // SAFETY: localtime_r succeeded, so `tm` is initialised (it was zeroed anyway).
        let tm = unsafe { tm.assume_init() };
        let field = |v: libc::c_int| u32::try_from(v).unwrap_or(0);
        Some(Self {
            weekday: field(tm.tm_wday),
            month: field(tm.tm_mon),
            day: field(tm.tm_mday),
            hour: field(tm.tm_hour),
            minute: field(tm.tm_min),
            second: field(tm.tm_sec),
            year: tm.tm_year + 1900,
        })
    }

    /// As `ctime` prints it, without the newline: `Mon Nov 23 09:24:26 2026` (glibc's
    /// `"%.3s %.3s%3d %.2d:%.2d:%.2d %d"`).
    pub fn ctime(&self) -> String {
        const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let day = DAYS.get(self.weekday as usize).unwrap_or(&"???");
        let month = MONTHS.get(self.month as usize).unwrap_or(&"???");
        format!(
            "{day} {month}{:3} {:02}:{:02}:{:02} {}",
            self.day, self.hour, self.minute, self.second, self.year
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctime_pads_the_day_with_a_space() {
        let t = LocalTime {
            weekday: 1,
            month: 10,
            day: 23,
            hour: 9,
            minute: 24,
            second: 26,
            year: 2026,
        };
        assert_eq!(t.ctime(), "Mon Nov 23 09:24:26 2026");
        let early = LocalTime { day: 3, ..t };
        assert_eq!(early.ctime(), "Mon Nov  3 09:24:26 2026");
    }

    #[test]
    fn numeric_lookups_print_the_address() {
        assert_eq!(
            name_info("10.1.2.3".parse().unwrap(), true).as_deref(),
            Some("10.1.2.3")
        );
        assert_eq!(
            name_info("fe80::1".parse().unwrap(), true).as_deref(),
            Some("fe80::1")
        );
    }
}
