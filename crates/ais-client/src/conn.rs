//! One IPC connection to a service, as the cmap, quorum, votequorum and cfg clients share
//! it: a request is sent (retried a bounded number of times under flow control) and its
//! one response read at once; events wait on their own channel until a dispatch reads them.
//!
//! Invariants: a response is read only right after its request, so it never belongs to
//! another call; events read while a request waits under flow control are kept in order
//! and handed out before any newer event; at most [`STASH_MAX`] of them are kept, past that
//! the daemon is flooding a client that is not dispatching and the call fails.

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::os::fd::RawFd;
use std::time::Duration;

use ais_ipc::client::{ClientError, IpcClient};
use ais_wire::ipc::IPC_MSG_SIZE_MAX;

use crate::error::{Error, Result};
use crate::{Dispatch, Options};

/// Pause between retries of a request the daemon is not ready to take.
const RETRY_PAUSE: Duration = Duration::from_millis(1);
/// How many times a request is retried under flow control before the call gives up with
/// [`Error::TryAgain`]: about ten seconds.
const RETRY_LIMIT: u32 = 10_000;
/// The most events kept while a request waits under flow control.
const STASH_MAX: usize = 65_536;

/// A connection to `<prefix><service>`.
pub(crate) struct Conn {
    ipc: IpcClient,
    /// The IPC name connected to, for error messages.
    name: String,
    response: Vec<u8>,
    event: Vec<u8>,
    /// Events read while a request waited under flow control, oldest first.
    stashed: VecDeque<Vec<u8>>,
}

impl Conn {
    /// Connects to the service's IPC name, asking for corosync's message size limit.
    pub(crate) fn connect(options: &Options, service: &str) -> Result<Self> {
        let name = options.ipc_name(service);
        let ipc = IpcClient::connect(&name, IPC_MSG_SIZE_MAX as u32)
            .map_err(|e| Error::from_ipc(e, &name))?;
        Ok(Self {
            ipc,
            name,
            response: Vec::new(),
            event: Vec::new(),
            stashed: VecDeque::new(),
        })
    }

    /// Sends `msg`, retrying under flow control, and returns the response's bytes.
    pub(crate) fn request(&mut self, msg: &[u8]) -> Result<&[u8]> {
        let mut tries = 0;
        loop {
            match self.ipc.send(msg) {
                Ok(()) => break,
                Err(ClientError::TryAgain) if tries < RETRY_LIMIT => {
                    tries += 1;
                    self.pause()?;
                }
                Err(e) => return Err(self.ipc_error(e)),
            }
        }
        if let Err(e) = self.ipc.recv_response(&mut self.response, None) {
            return Err(self.ipc_error(e));
        }
        Ok(&self.response)
    }

    /// The fd to poll for events.
    pub(crate) fn fd(&self) -> RawFd {
        self.ipc.as_raw_fd()
    }

    /// Whether events already read from the daemon wait for a dispatch.
    pub(crate) fn pending(&self) -> bool {
        !self.stashed.is_empty()
    }

    /// Waits at most `timeout` (`None`: forever) until an event is ready.
    pub(crate) fn wait(&mut self, timeout: Option<Duration>) -> Result<bool> {
        if self.pending() {
            return Ok(true);
        }
        self.ipc.wait_event(timeout).map_err(|e| self.ipc_error(e))
    }

    /// Hands events to `handler` after `convert` turned their bytes into values; an event
    /// `convert` maps to `None` is consumed without a call. Returns how many the handler
    /// got; it stops early on [`ControlFlow::Break`] (the event counts).
    pub(crate) fn dispatch<E>(
        &mut self,
        mode: Dispatch,
        convert: &mut dyn FnMut(&[u8]) -> Result<Option<E>>,
        handler: &mut dyn FnMut(E) -> ControlFlow<()>,
    ) -> Result<usize> {
        let mut count = 0;
        loop {
            let event = if let Some(raw) = self.stashed.pop_front() {
                convert(&raw)?
            } else if self
                .ipc
                .try_recv_event(&mut self.event)
                .map_err(|e| Error::from_ipc(e, &self.name))?
            {
                convert(&self.event)?
            } else if mode == Dispatch::Blocking {
                self.ipc.wait_event(None).map_err(|e| self.ipc_error(e))?;
                continue;
            } else {
                return Ok(count);
            };
            let Some(event) = event else { continue };
            count += 1;
            if handler(event).is_break() || mode == Dispatch::One {
                return Ok(count);
            }
        }
    }

    /// The IPC name, prefix included.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Waits a little before a retry, keeping the events that arrive meanwhile (the daemon
    /// may need this client to read them to make progress).
    fn pause(&mut self) -> Result<()> {
        let mut buf = Vec::new();
        while self
            .ipc
            .try_recv_event(&mut buf)
            .map_err(|e| self.ipc_error(e))?
        {
            if self.stashed.len() >= STASH_MAX {
                return Err(Error::Protocol(format!(
                    "more than {STASH_MAX} events arrived while a request waited"
                )));
            }
            self.stashed.push_back(std::mem::take(&mut buf));
        }
        std::thread::sleep(RETRY_PAUSE);
        Ok(())
    }

    fn ipc_error(&self, e: ClientError) -> Error {
        Error::from_ipc(e, &self.name)
    }
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A decode error of a daemon's message: the daemon broke the protocol.
pub(crate) fn protocol(e: impl std::fmt::Display) -> Error {
    Error::Protocol(e.to_string())
}
