//! The Rust client library of `aisexec`: blocking connections to the local daemon's
//! services over libqb IPC, speaking the same bytes as corosync's C libraries (so it also
//! talks to a real corosync).
//!
//! One module per service, each shaped the same way: a connection type with `connect`,
//! request methods that block until the daemon's answer, `fd` to poll for events, and
//! `dispatch` handing events to a closure: [`cpg`] (process groups), [`cmap`] (the
//! configuration map), [`quorum`] and [`votequorum`] (quorum state and votes),
//! [`cfg`](mod@cfg) (node status, reload, shutdown). Each encodes and decodes with
//! `ais_wire::ipc`.
//!
//! Every call returns [`Result`]; [`Error::TryAgain`] means "the daemon is busy: dispatch
//! pending events and retry", whichever layer said it.
//!
//! ```no_run
//! use std::ops::ControlFlow;
//! use ais_client::cpg::{Cpg, Dispatch, Event};
//! use ais_client::Options;
//!
//! // Honours AIS_IPC_PREFIX, like our tools' --ipc-prefix.
//! let mut cpg = Cpg::connect(&Options::from_env())?;
//! println!("local node {}", cpg.local_nodeid()?);
//! for group in cpg.groups()? {
//!     println!("{}: {} members", String::from_utf8_lossy(&group.group), group.members.len());
//! }
//! cpg.join(b"demo")?;
//! cpg.dispatch(Dispatch::Blocking, &mut |event| {
//!     if let Event::Confchg { members, .. } = &event {
//!         println!("{} members now", members.len());
//!     }
//!     ControlFlow::Break(())
//! })?;
//! # Ok::<(), ais_client::Error>(())
//! ```

pub mod cfg;
pub mod cmap;
mod conn;
pub mod cpg;
mod error;
pub mod quorum;
pub mod votequorum;

pub use error::{Error, Result};

/// The environment variable naming the IPC prefix, read by [`Options::from_env`].
pub const IPC_PREFIX_ENV: &str = "AIS_IPC_PREFIX";

/// How much a `dispatch` call reads (`cs_dispatch_flags_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dispatch {
    /// Hand out at most one event, if one is ready; never wait.
    One,
    /// Hand out every event ready now; never wait.
    All,
    /// Hand out events as they come, waiting for more, until the handler returns
    /// [`std::ops::ControlFlow::Break`] or the connection fails (the daemon closing it is
    /// [`Error::Disconnected`]).
    Blocking,
}

/// Where to find the daemon.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Prepended to each service's IPC name: the daemon serves CPG at `<prefix>cpg`. Empty
    /// (the default) is corosync's own naming, which unmodified corosync tools use; a local
    /// test cluster runs each daemon under its own prefix.
    pub ipc_prefix: String,
}

impl Options {
    /// Options with the given IPC prefix.
    pub fn with_prefix(ipc_prefix: impl Into<String>) -> Self {
        Self {
            ipc_prefix: ipc_prefix.into(),
        }
    }

    /// Options from the environment: the prefix from `AIS_IPC_PREFIX`, empty if unset.
    pub fn from_env() -> Self {
        Self::with_prefix(std::env::var(IPC_PREFIX_ENV).unwrap_or_default())
    }

    /// The abstract socket name of `service`.
    pub(crate) fn ipc_name(&self, service: &str) -> String {
        format!("{}{service}", self.ipc_prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_precedes_the_service_name() {
        assert_eq!(Options::default().ipc_name("cpg"), "cpg");
        assert_eq!(Options::with_prefix("n1-").ipc_name("cpg"), "n1-cpg");
    }
}
