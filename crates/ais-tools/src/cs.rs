//! What the corosync-compatible tools share: corosync's names for `cs_error_t` statuses
//! (`cs_strerror`), the status a client-library error stands for, corosync's number
//! parsing (`util_strtonum`) and C's `%f`.
//!
//! Invariant: every [`ais_client::Error`] maps to exactly one status, the one corosync's
//! own libraries would have returned in the same situation, so the tools' messages and
//! exit codes match corosync's.

use std::io;

use ais_client::Error;
use ais_wire::ipc::CsStatus;

/// The `cs_error_t` an error of the client library stands for. A daemon that is not
/// running is `CS_ERR_LIBRARY`, as libqb's failed connect is in corosync's libraries.
pub fn status_of(e: &Error) -> CsStatus {
    match e {
        Error::NotRunning { .. } | Error::Disconnected | Error::Protocol(_) => {
            CsStatus::ERR_LIBRARY
        }
        Error::Access => CsStatus::ERR_ACCESS,
        Error::TryAgain => CsStatus::ERR_TRY_AGAIN,
        Error::Cs(status) => *status,
        Error::Invalid(_) => CsStatus::ERR_INVALID_PARAM,
        Error::Io(io) if io.kind() == io::ErrorKind::TimedOut => CsStatus::ERR_TIMEOUT,
        Error::Io(_) => CsStatus::ERR_LIBRARY,
    }
}

/// `cs_strerror(status_of(e))`: what corosync's tools print after "Error ".
pub fn strerror(e: &Error) -> &'static str {
    cs_strerror(status_of(e))
}

/// The `cs_error_t` number corosync's tools print with `%d`.
pub fn number(e: &Error) -> i32 {
    status_of(e).0
}

/// corosync 3.1.7's `cs_strerror` (libcorosync_common), word for word.
pub fn cs_strerror(status: CsStatus) -> &'static str {
    match status.0 {
        1 => "success",
        2 => "CS_ERR_LIBRARY",
        3 => "CS_ERR_VERSION",
        4 => "CS_ERR_INIT",
        5 => "CS_ERR_TIMEOUT",
        6 => "CS_ERR_TRY_AGAIN",
        7 => "CS_ERR_INVALID_PARAM",
        8 => "CS_ERR_NO_MEMORY",
        9 => "CS_ERR_BAD_HANDLE",
        10 => "CS_ERR_BUSY",
        11 => "CS_ERR_ACCESS",
        12 => "CS_ERR_NOT_EXIST",
        13 => "CS_ERR_NAME_TOO_LONG",
        14 => "CS_ERR_EXIST",
        15 => "CS_ERR_NO_SPACE",
        16 => "CS_ERR_INTERRUPT",
        17 => "CS_ERR_NAME_NOT_FOUND",
        18 => "CS_ERR_NO_RESOURCES",
        19 => "CS_ERR_NOT_SUPPORTED",
        20 => "CS_ERR_BAD_OPERATION",
        21 => "CS_ERR_FAILED_OPERATION",
        22 => "CS_ERR_MESSAGE_ERROR",
        23 => "CS_ERR_QUEUE_FULL",
        24 => "CS_ERR_QUEUE_NOT_AVAILABLE",
        25 => "CS_ERR_BAD_FLAGS",
        26 => "CS_ERR_TOO_BIG",
        27 => "CS_ERR_NO_SECTIONS",
        28 => "CS_ERR_CONTEXT_NOT_FOUND",
        30 => "CS_ERR_TOO_MANY_GROUPS",
        100 => "CS_ERR_SECURITY",
        _ => "unknown error",
    }
}

/// corosync's `util_strtonum`: `strtoll` in base 10 (leading blanks and a sign allowed),
/// the whole text consumed, the value within `min..=max`.
pub fn strtonum(text: &str, min: i64, max: i64) -> Option<i64> {
    let (value, rest) = strtoll(text)?;
    if !rest.is_empty() || value < min || value > max {
        return None;
    }
    Some(value)
}

/// `strtoll(text, &end, 10)` that fails on overflow (`errno == ERANGE`) or when no digit
/// was read: the value and the unread rest.
fn strtoll(text: &str) -> Option<(i64, &str)> {
    let (negative, digits, rest) = split_number(text)?;
    let magnitude: i128 = digits.parse().ok()?;
    let value = if negative { -magnitude } else { magnitude };
    Some((i64::try_from(value).ok()?, rest))
}

/// C's number syntax: leading white space, an optional sign, then at least one decimal
/// digit. Returns the sign, the digits and the rest.
pub fn split_number(text: &str) -> Option<(bool, &str, &str)> {
    let text = text.trim_start_matches(is_c_space);
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let end = unsigned
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(unsigned.len());
    if end == 0 {
        return None;
    }
    Some((negative, &unsigned[..end], &unsigned[end..]))
}

/// C's `isspace` in the C locale.
pub fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// C's `%f`: six decimals; glibc spells the non-finite values `inf`, `-inf`, `nan`, `-nan`.
pub fn c_float(v: f64) -> String {
    if v.is_nan() {
        if v.is_sign_negative() { "-nan" } else { "nan" }.to_owned()
    } else {
        format!("{v:.6}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_corosync_statuses() {
        let not_running = Error::NotRunning {
            name: "cmap".into(),
        };
        assert_eq!(strerror(&not_running), "CS_ERR_LIBRARY");
        assert_eq!(number(&not_running), 2);
        assert_eq!(strerror(&Error::Access), "CS_ERR_ACCESS");
        assert_eq!(strerror(&Error::TryAgain), "CS_ERR_TRY_AGAIN");
        assert_eq!(
            strerror(&Error::Cs(CsStatus::ERR_NOT_EXIST)),
            "CS_ERR_NOT_EXIST"
        );
        let timeout = Error::Io(io::Error::new(io::ErrorKind::TimedOut, "slow"));
        assert_eq!(strerror(&timeout), "CS_ERR_TIMEOUT");
        assert_eq!(cs_strerror(CsStatus(29)), "unknown error");
        assert_eq!(cs_strerror(CsStatus::OK), "success");
    }

    #[test]
    fn strtonum_follows_strtoll() {
        assert_eq!(strtonum("3", 1, 10), Some(3));
        assert_eq!(strtonum(" +3", 1, 10), Some(3));
        assert_eq!(strtonum("0", 1, 10), None);
        assert_eq!(strtonum("3x", 1, 10), None);
        assert_eq!(strtonum("", 1, 10), None);
        assert_eq!(strtonum("-", 0, 10), None);
        assert_eq!(strtonum("4294967295", 1, u32::MAX.into()), Some(4294967295));
        assert_eq!(strtonum("4294967296", 1, u32::MAX.into()), None);
        assert_eq!(strtonum("99999999999999999999", 0, i64::MAX), None);
    }

    #[test]
    fn floats_print_like_printf() {
        assert_eq!(c_float(0.0), "0.000000");
        assert_eq!(c_float(1.5), "1.500000");
        assert_eq!(c_float(f64::INFINITY), "inf");
        assert_eq!(c_float(f64::NEG_INFINITY), "-inf");
        assert_eq!(c_float(f64::NAN), "nan");
    }
}
