//! Surviving a client that truncates a file the daemon has mapped.
//!
//! The SHM ring files and the SOCKET-mode control file belong to the client (libqb chowns
//! them to it), so an admitted client can `ftruncate` one while the daemon has it mapped.
//! The daemon's next access to a page beyond the new end raises `SIGBUS`, which would kill
//! the whole node. As `wl_shm` does in Wayland compositors, the daemon registers each such
//! mapping here; a `SIGBUS` inside a registered mapping replaces that mapping with
//! anonymous zero pages (the faulting access then completes on them) and marks it
//! poisoned, and the owner of the mapping drops the client when it sees the mark. A
//! `SIGBUS` anywhere else is a real bug: the previous disposition is restored and the
//! fault, repeated on return, ends the process as before.
//!
//! Invariants:
//! - A registered range is a mapping of ours from [`Guard::new`] until the [`Guard`] is
//!   dropped, which its owner does before unmapping it.
//! - The handler only reads the table and calls `mmap`; the table is a fixed array of
//!   atomics, so the handler neither allocates nor locks.

use std::io;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Mappings that can be registered at once: six per SHM connection (three rings, header
/// and data each) for the default 4096 connections plus the handshakes' extra.
const SLOTS: usize = 32 * 1024;

/// A slot's `len` while it is being filled in.
const CLAIMED: usize = usize::MAX;

struct Slot {
    start: AtomicUsize,
    /// 0: free; [`CLAIMED`]: being filled in; else the registered length.
    len: AtomicUsize,
    poisoned: AtomicBool,
}

static TABLE: [Slot; SLOTS] = [const {
    Slot {
        start: AtomicUsize::new(0),
        len: AtomicUsize::new(0),
        poisoned: AtomicBool::new(false),
    }
}; SLOTS];

/// Where the next registration starts looking for a free slot.
static NEXT: AtomicUsize = AtomicUsize::new(0);

static INSTALL: Once = Once::new();
/// Whether the handler is in place.
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// The disposition before ours, restored for a fault outside every registered mapping.
static mut PREVIOUS: Option<libc::sigaction> = None;

/// One registered mapping; unregistered on drop.
#[derive(Debug)]
pub(crate) struct Guard {
    slot: usize,
}

impl Guard {
    /// Registers `[start, start + len)`, a shared mapping of a file someone else may
    /// truncate. Installs the handler on first use.
    pub(crate) fn new(start: usize, len: usize) -> io::Result<Self> {
        INSTALL.call_once(install);
        if !INSTALLED.load(Ordering::Acquire) {
            return Err(io::Error::other("cannot install the SIGBUS handler"));
        }
        let first = NEXT.load(Ordering::Relaxed);
        for i in 0..SLOTS {
            let slot = (first + i) % SLOTS;
            let entry = &TABLE[slot];
            if entry
                .len
                .compare_exchange(0, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                entry.poisoned.store(false, Ordering::Relaxed);
                entry.start.store(start, Ordering::Relaxed);
                entry.len.store(len, Ordering::Release);
                NEXT.store((slot + 1) % SLOTS, Ordering::Relaxed);
                return Ok(Self { slot });
            }
        }
        Err(io::Error::from_raw_os_error(libc::ENOMEM))
    }

    /// Whether a fault in the mapping replaced it with zero pages: the file was truncated.
    pub(crate) fn poisoned(&self) -> bool {
        TABLE[self.slot].poisoned.load(Ordering::Acquire)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let entry = &TABLE[self.slot];
        entry.len.store(CLAIMED, Ordering::Release);
        entry.start.store(0, Ordering::Relaxed);
        entry.poisoned.store(false, Ordering::Relaxed);
        entry.len.store(0, Ordering::Release);
    }
}

fn install() {
    // SAFETY: sigaction is plain old data; all zeroes is a valid value.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = on_sigbus as *const () as libc::sighandler_t;
    action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
    // SAFETY: an empty set for sa_mask; then the handler is installed, saving the old one.
    // PREVIOUS is written once, here, before the handler can run.
    unsafe {
        libc::sigemptyset(&mut action.sa_mask);
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGBUS, &action, &mut old) == 0 {
            PREVIOUS = Some(old);
            INSTALLED.store(true, Ordering::Release);
        }
    }
}

extern "C" fn on_sigbus(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers; si_addr is the
    // faulting address for SIGBUS.
    let addr = unsafe { (*info).si_addr() } as usize;
    for entry in &TABLE {
        let len = entry.len.load(Ordering::Acquire);
        if len == 0 || len == CLAIMED {
            continue;
        }
        let start = entry.start.load(Ordering::Relaxed);
        if addr < start || addr - start >= len {
            continue;
        }
        // SAFETY: [start, start + len) is a mapping of ours (the table's invariant);
        // replacing it with private zero pages keeps every pointer into it valid.
        let remapped = unsafe {
            libc::mmap(
                start as *mut libc::c_void,
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if remapped != libc::MAP_FAILED {
            entry.poisoned.store(true, Ordering::Release);
            return;
        }
        break;
    }
    // Not ours (or we cannot repair it): the old disposition takes the repeated fault.
    // SAFETY: PREVIOUS was set before the handler was installed and is never written again.
    unsafe {
        let previous = PREVIOUS.unwrap_or_else(|| {
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            dfl
        });
        libc::sigaction(libc::SIGBUS, &previous, std::ptr::null_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    /// A truncated file's mapping reads zeros instead of killing the process, and the
    /// guard says so.
    #[test]
    fn a_truncated_mapping_is_repaired_and_reported() {
        let file = tempfile::tempfile().unwrap();
        let page = rustix::param::page_size();
        file.set_len(2 * page as u64).unwrap();
        // SAFETY: a fresh shared mapping of a file of two pages.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                2 * page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        assert_ne!(ptr, libc::MAP_FAILED);
        let guard = Guard::new(ptr as usize, 2 * page).unwrap();
        let word = ptr.cast::<u8>().wrapping_add(page).cast::<AtomicUsize>();
        // SAFETY: inside the mapping, aligned.
        unsafe { (*word).store(7, Ordering::SeqCst) };
        assert!(!guard.poisoned());
        file.set_len(0).unwrap();
        // SAFETY: still our mapping; the access faults and the handler repairs it.
        let seen = unsafe { (*word).load(Ordering::SeqCst) };
        assert_eq!(seen, 0);
        assert!(guard.poisoned());
        drop(guard);
        // SAFETY: our mapping, unmapped once.
        unsafe { libc::munmap(ptr, 2 * page) };
    }
}
