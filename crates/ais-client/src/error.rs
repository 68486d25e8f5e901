//! The one error type of the client library, and how IPC failures and `cs_error_t` statuses
//! map onto it.
//!
//! Invariant: a status that means "retry" (`CS_ERR_TRY_AGAIN` from the daemon, flow control
//! or `EAGAIN` from the IPC layer) always becomes [`Error::TryAgain`], whichever layer said
//! it, so applications test for one variant.

use std::io;

use ais_ipc::client::ClientError;
use ais_wire::ipc::{CsStatus, Errno};

/// What the library's calls return.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nobody serves the IPC name: the daemon is not running, or runs with another prefix.
    #[error(
        "cannot connect to IPC name \"{name}\": is aisexec running? \
         (set --ipc-prefix or AIS_IPC_PREFIX if it serves under a prefix)"
    )]
    NotRunning {
        /// The abstract socket name tried, prefix included.
        name: String,
    },
    /// The daemon refused this user (`EACCES` at connect, or `CS_ERR_ACCESS`).
    #[error("access denied by the daemon (needs root, or a uidgid entry for this user)")]
    Access,
    /// Flow control, a full queue, or a membership change in progress: dispatch pending
    /// events, then retry.
    #[error("try again: the daemon is busy (flow control or membership change)")]
    TryAgain,
    /// Any other `cs_error_t` the daemon answered.
    #[error("the daemon answered {}", cs_name(*.0))]
    Cs(CsStatus),
    /// The daemon closed the connection.
    #[error("the daemon closed the connection")]
    Disconnected,
    /// An argument the library refuses before sending anything (name or message too long).
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// The daemon broke the protocol (a message that does not decode, an unexpected
    /// response, a fragment out of sequence).
    #[error("protocol error: {0}")]
    Protocol(String),
    /// An operating-system error.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Error {
    /// Maps an IPC failure; `name` is the IPC name involved, for [`Error::NotRunning`].
    pub(crate) fn from_ipc(e: ClientError, name: &str) -> Self {
        match e {
            ClientError::NotRunning => Self::NotRunning { name: name.into() },
            ClientError::Refused(errno) if errno == Errno::EACCES => Self::Access,
            ClientError::Refused(errno) if errno == Errno::EAGAIN => Self::TryAgain,
            ClientError::Refused(errno) if errno == Errno::ENOSYS => {
                Self::NotRunning { name: name.into() }
            }
            ClientError::Refused(errno) => {
                Self::Io(io::Error::from_raw_os_error(i32::from(errno.get())))
            }
            ClientError::TryAgain => Self::TryAgain,
            ClientError::Disconnected => Self::Disconnected,
            ClientError::Timeout => Self::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                "no answer from the daemon",
            )),
            ClientError::TooLarge { len } => Self::Invalid(format!(
                "message of {len} bytes exceeds the connection's limit"
            )),
            ClientError::Protocol(what) => Self::Protocol(what),
            ClientError::Io(e) => Self::Io(e),
        }
    }

    /// `Ok` for `CS_OK`, the matching error otherwise.
    pub(crate) fn check(status: CsStatus) -> Result<()> {
        match status {
            CsStatus::OK => Ok(()),
            CsStatus::ERR_TRY_AGAIN => Err(Self::TryAgain),
            CsStatus::ERR_ACCESS => Err(Self::Access),
            other => Err(Self::Cs(other)),
        }
    }
}

/// corosync's name for a `cs_error_t` (`cs_strerror`), with its number.
fn cs_name(status: CsStatus) -> String {
    let name = match status.0 {
        1 => "CS_OK",
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
        _ => "an unknown status",
    };
    format!("{name} ({})", status.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errno(n: u16) -> Errno {
        Errno::new(n).unwrap()
    }

    #[test]
    fn ipc_failures_map_to_library_errors() {
        let map = |e| Error::from_ipc(e, "n1-cpg");
        assert!(
            matches!(map(ClientError::NotRunning), Error::NotRunning { name } if name == "n1-cpg")
        );
        assert!(matches!(
            map(ClientError::Refused(Errno::EACCES)),
            Error::Access
        ));
        assert!(matches!(
            map(ClientError::Refused(Errno::EAGAIN)),
            Error::TryAgain
        ));
        assert!(matches!(
            map(ClientError::Refused(Errno::ENOSYS)),
            Error::NotRunning { .. }
        ));
        assert!(matches!(
            map(ClientError::Refused(errno(24))),
            Error::Io(e) if e.raw_os_error() == Some(24)
        ));
        assert!(matches!(map(ClientError::TryAgain), Error::TryAgain));
        assert!(matches!(
            map(ClientError::Disconnected),
            Error::Disconnected
        ));
        assert!(matches!(
            map(ClientError::Timeout),
            Error::Io(e) if e.kind() == io::ErrorKind::TimedOut
        ));
        assert!(matches!(
            map(ClientError::TooLarge { len: 9 }),
            Error::Invalid(_)
        ));
        assert!(matches!(map(ClientError::Protocol("x".into())), Error::Protocol(w) if w == "x"));
    }

    #[test]
    fn statuses_map_to_library_errors() {
        assert!(Error::check(CsStatus::OK).is_ok());
        assert!(matches!(
            Error::check(CsStatus::ERR_TRY_AGAIN),
            Err(Error::TryAgain)
        ));
        assert!(matches!(
            Error::check(CsStatus::ERR_ACCESS),
            Err(Error::Access)
        ));
        assert!(matches!(
            Error::check(CsStatus::ERR_EXIST),
            Err(Error::Cs(CsStatus::ERR_EXIST))
        ));
    }

    #[test]
    fn messages_help_the_operator() {
        let e = Error::NotRunning { name: "cpg".into() };
        assert_eq!(
            e.to_string(),
            "cannot connect to IPC name \"cpg\": is aisexec running? \
             (set --ipc-prefix or AIS_IPC_PREFIX if it serves under a prefix)"
        );
        assert_eq!(
            Error::Cs(CsStatus::ERR_EXIST).to_string(),
            "the daemon answered CS_ERR_EXIST (14)"
        );
        assert_eq!(
            Error::Cs(CsStatus(77)).to_string(),
            "the daemon answered an unknown status (77)"
        );
    }
}
