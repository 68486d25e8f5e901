//! Readers for single values: numbers, milliseconds, booleans, keywords, addresses, names.
//! Each either returns the typed value or an [`Expected`] naming what it wanted; the caller
//! adds the position and the text found.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use crate::config::{Account, IpcType, NodeAddr, ProcessPriority, TieBreaker};

/// What a value should have looked like: "milliseconds", "one of udpu, udp, knet".
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Expected(pub(crate) String);

impl Expected {
    fn new(what: impl Into<String>) -> Self {
        Self(what.into())
    }
}

pub(crate) type Read<T> = Result<T, Expected>;

/// A decimal unsigned integer in `min..=max`, without sign or blanks, as corosync's
/// `safe_atoq` reads it (except that a `+` or `-` sign is refused). `kind` names the
/// value ("milliseconds"); the range is added when the text is a number outside it.
pub(crate) fn integer(text: &str, min: u64, max: u64, kind: &str) -> Read<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Expected::new(kind));
    }
    match text.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ if min == max => Err(Expected::new(kind)),
        _ if min == 0 => Err(Expected::new(format!("{kind} up to {max}"))),
        _ if max >= u64::from(u32::MAX) => Err(Expected::new(format!("{kind}, at least {min}"))),
        _ => Err(Expected::new(format!("{kind} from {min} to {max}"))),
    }
}

/// An unsigned 32-bit count in `min..=max`.
pub(crate) fn count(text: &str, min: u32, max: u32) -> Read<u32> {
    let n = integer(text, min.into(), max.into(), "a whole number")?;
    Ok(u32::try_from(n).unwrap_or(max))
}

/// A count of at least 1.
pub(crate) fn nonzero(text: &str) -> Read<NonZeroU32> {
    nonzero_up_to(text, u32::MAX)
}

/// A nonzero count up to `max`.
pub(crate) fn nonzero_up_to(text: &str, max: u32) -> Read<NonZeroU32> {
    let n = count(text, 1, max)?;
    NonZeroU32::new(n).ok_or(Expected::new("a whole number, at least 1"))
}

/// A `u8` in `min..=max`.
pub(crate) fn small(text: &str, min: u8, max: u8, what: &str) -> Read<u8> {
    let n = integer(text, min.into(), max.into(), what)?;
    Ok(u8::try_from(n).unwrap_or(max))
}

/// Milliseconds, as every corosync.conf timeout: a plain unsigned 32-bit integer.
pub(crate) fn millis(text: &str) -> Read<Duration> {
    let n = integer(text, 0, u32::MAX.into(), "milliseconds")?;
    Ok(Duration::from_millis(n))
}

/// Milliseconds, at least 1: for timers the protocol cannot run with at zero.
pub(crate) fn millis_nonzero(text: &str) -> Read<Duration> {
    let n = integer(text, 1, u32::MAX.into(), "milliseconds")?;
    Ok(Duration::from_millis(n))
}

/// A node id: corosync's 32-bit `nodeid`, where zero is reserved.
pub(crate) fn node_id(text: &str) -> Read<u32> {
    let n = integer(text, 1, u32::MAX.into(), "a node id")?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// A boolean, spelled as corosync accepts anywhere: yes/no, on/off, true/false, 1/0.
pub(crate) fn boolean(text: &str) -> Read<bool> {
    match text {
        "yes" | "on" | "true" | "1" => Ok(true),
        "no" | "off" | "false" | "0" => Ok(false),
        _ => Err(Expected::new("yes or no (also on/off, true/false, 1/0)")),
    }
}

/// A keyword of `E`, listing the spellings when it is not one.
pub(crate) fn keyword<E: Copy>(
    text: &str,
    from: fn(&str) -> Option<E>,
    all: &[E],
    spell: fn(E) -> &'static str,
) -> Read<E> {
    from(text).ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|&e| spell(e)).collect();
        Expected::new(format!("one of {}", names.join(", ")))
    })
}

/// An IPv4 or IPv6 literal.
pub(crate) fn ip(text: &str) -> Read<IpAddr> {
    text.parse().map_err(|_| Expected::new("an IP address"))
}

/// A multicast IPv4 or IPv6 literal.
pub(crate) fn multicast(text: &str) -> Read<IpAddr> {
    match text.parse::<IpAddr>() {
        Ok(addr) if addr.is_multicast() => Ok(addr),
        _ => Err(Expected::new("a multicast IP address")),
    }
}

/// A `ringX_addr`: an IP literal, else a host name (RFC 1123 letters, digits, `-`, plus `_`
/// which resolvers accept, in dot-separated labels, not all numeric).
pub(crate) fn node_addr(text: &str) -> Read<NodeAddr> {
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Ok(NodeAddr::Ip(addr));
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let numeric = text.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if text.len() <= 253 && !numeric && text.split('.').all(label_ok) {
        Ok(NodeAddr::Name(text.to_owned()))
    } else {
        Err(Expected::new("an IP address or a host name"))
    }
}

/// A non-empty string (names, paths); the value is taken as written.
pub(crate) fn text(text: &str, what: &str) -> Read<String> {
    if text.is_empty() {
        Err(Expected::new(what))
    } else {
        Ok(text.to_owned())
    }
}

/// `auto_tie_breaker_node`: `lowest`, `highest` or node ids separated by blanks.
pub(crate) fn tie_breaker(text: &str) -> Read<TieBreaker> {
    let what = "lowest, highest or a list of node ids";
    match text {
        "lowest" => Ok(TieBreaker::Lowest),
        "highest" => Ok(TieBreaker::Highest),
        _ => {
            let ids: Read<Vec<u32>> = text.split_whitespace().map(node_id).collect();
            match ids {
                Ok(ids) if !ids.is_empty() => Ok(TieBreaker::Nodes(ids)),
                _ => Err(Expected::new(what)),
            }
        }
    }
}

/// `system.priority`: `max`, `min` or a nice value from −20 to 19.
pub(crate) fn process_priority(text: &str) -> Read<ProcessPriority> {
    match text {
        "max" => Ok(ProcessPriority::Max),
        "min" => Ok(ProcessPriority::Min),
        _ => match text.parse::<i8>() {
            Ok(nice) if (-20..=19).contains(&nice) && !text.starts_with('+') => {
                Ok(ProcessPriority::Nice(nice))
            }
            _ => Err(Expected::new("max, min or a nice value from -20 to 19")),
        },
    }
}

/// `system.qb_ipc_type`.
pub(crate) fn ipc_type(text: &str) -> Read<IpcType> {
    match text {
        "native" | "shm" => Ok(IpcType::Shm),
        "socket" => Ok(IpcType::Socket),
        _ => Err(Expected::new("native, shm or socket")),
    }
}

/// `uidgid.uid` / `uidgid.gid`: a numeric id or a user or group name.
pub(crate) fn account(text: &str) -> Read<Account> {
    if let Ok(id) = integer(text, 0, u32::MAX.into(), "") {
        return Ok(Account::Id(u32::try_from(id).unwrap_or(u32::MAX)));
    }
    let name_ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'$');
    if !text.is_empty() && text.bytes().all(name_ok) && !text.starts_with('-') {
        Ok(Account::Name(text.to_owned()))
    } else {
        Err(Expected::new("a numeric id or a name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_plain_decimal_in_range() {
        assert_eq!(count("17", 1, 100), Ok(17));
        assert_eq!(
            count("0", 1, 100),
            Err(Expected::new("a whole number from 1 to 100"))
        );
        assert_eq!(
            count("+5", 0, u32::MAX),
            Err(Expected::new("a whole number"))
        );
        assert_eq!(millis("fast"), Err(Expected::new("milliseconds")));
        assert_eq!(millis(" 5"), Err(Expected::new("milliseconds")));
        assert_eq!(
            millis("99999999999"),
            Err(Expected::new("milliseconds up to 4294967295"))
        );
        assert_eq!(
            millis_nonzero("0"),
            Err(Expected::new("milliseconds, at least 1"))
        );
        assert_eq!(node_id("0"), Err(Expected::new("a node id, at least 1")));
    }

    #[test]
    fn booleans_take_every_corosync_spelling() {
        for yes in ["yes", "on", "true", "1"] {
            assert_eq!(boolean(yes), Ok(true));
        }
        for no in ["no", "off", "false", "0"] {
            assert_eq!(boolean(no), Ok(false));
        }
        assert!(boolean("Yes").is_err());
    }

    #[test]
    fn node_addresses_are_literals_or_host_names() {
        assert_eq!(
            node_addr("10.0.0.1"),
            Ok(NodeAddr::Ip([10, 0, 0, 1].into()))
        );
        assert_eq!(
            node_addr("node-1.example"),
            Ok(NodeAddr::Name("node-1.example".into()))
        );
        for bad in ["", "a..b", "10.0.0.256", "fe80::1%eth0", "a b"] {
            assert!(node_addr(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tie_breaker_priority_and_accounts() {
        assert_eq!(tie_breaker("1 3  5"), Ok(TieBreaker::Nodes(vec![1, 3, 5])));
        assert!(tie_breaker("1 0").is_err());
        assert_eq!(process_priority("-20"), Ok(ProcessPriority::Nice(-20)));
        assert!(process_priority("20").is_err());
        assert_eq!(account("hacluster"), Ok(Account::Name("hacluster".into())));
        assert_eq!(account("189"), Ok(Account::Id(189)));
    }
}
