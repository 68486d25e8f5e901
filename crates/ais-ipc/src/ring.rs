//! libqb's shared-memory ring buffer (`lib/ringbuffer.c`), both the producer and the consumer
//! side, as used by `QB_IPC_SHM` (reference §1.5).
//!
//! A ring is two tmpfs files: `<name>-header` (`struct qb_ringbuffer_shared_s`: indices, the
//! two paths, `ref_count`, a process-shared glibc `sem_t`, and for the request ring four bytes
//! of user data carrying `flow_control`) and `<name>-data`, mapped twice back to back so that
//! a chunk that wraps is contiguous in memory. A chunk at word `p` is: word `p` = payload
//! length in bytes, word `p + 1` = magic, payload from word `p + 2`, padded to a word.
//!
//! Invariants kept here:
//! - The other process shares these pages and may write anything into them. Every index and
//!   length read from them is checked against the ring size and `max_msg_size` before use;
//!   a bad value is [`RingError::Corrupt`], never a panic or an out-of-bounds access.
//! - Each side keeps its own copy of the index it owns (`write_pt` as producer, `read_pt` as
//!   consumer) and only publishes it, so a peer scribbling over it cannot move our cursor.
//! - The semaphore counts committed, unconsumed chunks: the producer posts once per commit,
//!   after the magic is stored; the consumer takes one unit per chunk before reading it
//!   (libqb's "ring full" test relies on the count when `read_pt == write_pt`).
//!
//! - The files belong to the client, which may truncate them under us. The creator's
//!   mappings are registered with [`crate::sigbus`]: a truncated file's mapping turns into
//!   zero pages instead of killing the daemon, and the next operation on the ring fails
//!   with [`RingError::Truncated`].

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use crate::sigbus::Guard;

/// Size of the header file of the response and event rings (`sizeof(qb_ringbuffer_shared_s)`).
pub(crate) const HEADER_LEN: usize = 8248;
/// Size of the request ring's header file: four more bytes of user data (`flow_control`).
pub(crate) const REQUEST_HEADER_LEN: usize = HEADER_LEN + 4;

const WRITE_PT: usize = 0;
const READ_PT: usize = 4;
const WORD_SIZE: usize = 8;
const HDR_PATH: usize = 12;
const DATA_PATH: usize = HDR_PATH + PATH_FIELD;
const REF_COUNT: usize = DATA_PATH + PATH_FIELD;
const SEM: usize = 8208;
const USER_DATA: usize = 8240;
const PATH_FIELD: usize = 4096;

/// A chunk being written.
const MAGIC_ALLOC: u32 = 0xA110_CED0;
/// A chunk ready for the consumer.
const MAGIC_COMMITTED: u32 = 0xA1A1_A1A1;
/// A consumed chunk.
const MAGIC_DEAD: u32 = 0xD0D0_D0D0;
/// `QB_RB_CHUNK_MARGIN`: the chunk header plus one word of alignment slack, in bytes.
const CHUNK_MARGIN: usize = 12;

// glibc's `sem_t` is 32 bytes on 64-bit Linux; the layout above depends on it (§1.5).
const _: () = assert!(size_of::<libc::sem_t>() == USER_DATA - SEM);

/// Why a ring operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RingError {
    /// Not enough free space for the chunk (libqb's `EAGAIN`); try again later.
    #[error("ring full")]
    Full,
    /// The payload exceeds the ring's `max_msg_size`.
    #[error("message larger than the ring's max_msg_size")]
    TooLarge,
    /// The shared memory holds a value the protocol does not allow.
    #[error("ring corrupt: {0}")]
    Corrupt(&'static str),
    /// A file of the ring was truncated while mapped (the peer did it).
    #[error("a file of the ring was truncated")]
    Truncated,
}

/// The data file's size for `max_msg_size`: `ROUNDUP(max_msg_size + 13, page)`, the value
/// both sides compute independently (§1.5).
pub(crate) fn data_len(max_msg_size: u32) -> usize {
    let page = page_size();
    (max_msg_size as usize + CHUNK_MARGIN + 1).div_ceil(page) * page
}

/// A new file of `len` zero bytes that only its owner may use (0600, never an existing
/// file), given to the client (`owner` = uid, gid) when the daemon runs as root.
pub(crate) fn create_client_file(
    path: &Path,
    len: usize,
    owner: Option<(u32, u32)>,
) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)?;
    file.set_len(len as u64)?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::fchown(&file, Some(uid), Some(gid))?;
    }
    Ok(file)
}

fn page_size() -> usize {
    rustix::param::page_size()
}

/// One mapped ring buffer.
pub(crate) struct Ring {
    header: Mapping,
    /// `2 * data_len` bytes: the data file mapped twice.
    data: Mapping,
    word_size: u32,
    max_msg_size: usize,
    has_user_data: bool,
    /// Our producer cursor, in words.
    write_pt: u32,
    /// Our consumer cursor, in words.
    read_pt: u32,
    /// The files, when this side created them: unlinked on drop.
    created: Option<[PathBuf; 2]>,
}

impl Ring {
    /// Creates `<name>-header` and `<name>-data` (`O_EXCL`, mode 0600, chowned to `owner`
    /// when given), maps them and initialises the header as libqb's creator does:
    /// indices 0, `ref_count` 1, semaphore `sem_init(pshared = 1, 0)`.
    pub(crate) fn create(
        name: &Path,
        max_msg_size: u32,
        user_data: bool,
        owner: Option<(u32, u32)>,
    ) -> io::Result<Self> {
        let hdr_path = suffixed(name, "-header");
        let data_path = suffixed(name, "-data");
        if hdr_path.as_os_str().len() >= PATH_FIELD || data_path.as_os_str().len() >= PATH_FIELD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "ring path too long",
            ));
        }
        let hdr_len = if user_data {
            REQUEST_HEADER_LEN
        } else {
            HEADER_LEN
        };
        let size = data_len(max_msg_size);
        let hdr_file = create_client_file(&hdr_path, hdr_len, owner)?;
        // From here on the files exist: build the ring early so that its Drop removes them.
        let header = Mapping::file(&hdr_file, hdr_len)?.guarded()?;
        let cleanup = |e: io::Error| {
            let _ = std::fs::remove_file(&hdr_path);
            let _ = std::fs::remove_file(&data_path);
            e
        };
        let data_file = create_client_file(&data_path, size, owner).map_err(cleanup)?;
        let data = Mapping::circular(&data_file, size)
            .and_then(Mapping::guarded)
            .map_err(cleanup)?;
        let ring = Self {
            header,
            data,
            word_size: (size / 4) as u32,
            max_msg_size: max_msg_size as usize,
            has_user_data: user_data,
            write_pt: 0,
            read_pt: 0,
            created: Some([hdr_path.clone(), data_path.clone()]),
        };
        ring.hdr_u32(WORD_SIZE)
            .store(ring.word_size, Ordering::Relaxed);
        ring.write_path(HDR_PATH, hdr_path.as_os_str());
        ring.write_path(DATA_PATH, data_path.as_os_str());
        ring.ref_count().store(1, Ordering::Relaxed);
        // SAFETY: the semaphore field lies inside the header mapping, is suitably aligned
        // (offset 8208 of a page-aligned mapping) and nobody uses it yet: the client learns
        // the path only from the handshake response sent after this.
        let rc = unsafe { libc::sem_init(ring.sem(), 1, 0) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        ring.hdr_u32(WRITE_PT).store(0, Ordering::Release);
        ring.hdr_u32(READ_PT).store(0, Ordering::Release);
        Ok(ring)
    }

    /// Opens a ring created by the other side, as libqb's client does: the header at
    /// `<name>-header`, the data file at the path the header names. Takes a reference
    /// (`ref_count` + 1).
    pub(crate) fn open(name: &Path, max_msg_size: u32, user_data: bool) -> io::Result<Self> {
        let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
        let hdr_len = if user_data {
            REQUEST_HEADER_LEN
        } else {
            HEADER_LEN
        };
        let hdr_file = open_rw(&suffixed(name, "-header"))?;
        if (hdr_file.metadata()?.len() as usize) < hdr_len {
            return Err(bad("ring header file too short"));
        }
        let header = Mapping::file(&hdr_file, hdr_len)?;
        let size = data_len(max_msg_size);
        let word_size = header_u32(&header, WORD_SIZE).load(Ordering::Acquire);
        if word_size as usize * 4 != size {
            return Err(bad("ring word_size does not match max_msg_size"));
        }
        // SAFETY: DATA_PATH + PATH_FIELD <= hdr_len, inside the mapping.
        let field = unsafe { std::slice::from_raw_parts(header.at(DATA_PATH), PATH_FIELD) };
        let len = field.iter().position(|&b| b == 0);
        let data_path = PathBuf::from(OsStr::from_bytes(
            &field[..len.ok_or_else(|| bad("ring data path unterminated"))?],
        ));
        let data_file = open_rw(&data_path)?;
        if (data_file.metadata()?.len() as usize) < size {
            return Err(bad("ring data file too short"));
        }
        let data = Mapping::circular(&data_file, size)?;
        let mut ring = Self {
            header,
            data,
            word_size,
            max_msg_size: max_msg_size as usize,
            has_user_data: user_data,
            write_pt: 0,
            read_pt: 0,
            created: None,
        };
        ring.write_pt = ring.hdr_u32(WRITE_PT).load(Ordering::Acquire);
        ring.read_pt = ring.hdr_u32(READ_PT).load(Ordering::Acquire);
        if ring.write_pt >= word_size || ring.read_pt >= word_size {
            return Err(bad("ring index out of range"));
        }
        ring.ref_count().fetch_add(1, Ordering::AcqRel);
        Ok(ring)
    }

    /// Writes one chunk and posts the semaphore (`qb_rb_chunk_alloc` + `commit`).
    pub(crate) fn write(&mut self, payload: &[u8]) -> Result<(), RingError> {
        self.intact()?;
        let len = payload.len();
        if len > self.max_msg_size || len + CHUNK_MARGIN > self.word_size as usize * 4 {
            return Err(RingError::TooLarge);
        }
        let read_pt = self.hdr_u32(READ_PT).load(Ordering::Acquire);
        if read_pt >= self.word_size {
            return Err(RingError::Corrupt("read_pt out of range"));
        }
        if self.free_bytes(read_pt) < len + CHUNK_MARGIN {
            return Err(RingError::Full);
        }
        let w = self.write_pt;
        self.word(w).store(0, Ordering::Relaxed);
        self.word(self.wrap(w + 1))
            .store(MAGIC_ALLOC, Ordering::Relaxed);
        let start = self.wrap(w + 2) as usize * 4;
        // SAFETY: start < data_len and len + 12 <= data_len, so the copy ends inside the
        // double mapping of 2 * data_len bytes; `payload` is ours and cannot overlap it.
        unsafe { ptr::copy_nonoverlapping(payload.as_ptr(), self.data.at(start), len) };
        self.word(w).store(len as u32, Ordering::Relaxed);
        self.write_pt = self.step(w, len);
        self.hdr_u32(WRITE_PT)
            .store(self.write_pt, Ordering::Release);
        self.word(self.wrap(w + 1))
            .store(MAGIC_COMMITTED, Ordering::Release);
        // SAFETY: the semaphore lives in our header mapping and was initialised by the
        // creator; a peer that corrupted it only makes sem_post fail.
        unsafe { libc::sem_post(self.sem()) };
        self.intact()
    }

    /// `Err(Truncated)` once a file of the ring was truncated under a guarded mapping.
    fn intact(&self) -> Result<(), RingError> {
        if self.header.truncated() || self.data.truncated() {
            return Err(RingError::Truncated);
        }
        Ok(())
    }

    /// Reads the next chunk into `out` if the semaphore says one is committed; `Ok(false)`
    /// when the ring is empty.
    pub(crate) fn try_read(&mut self, out: &mut Vec<u8>) -> Result<bool, RingError> {
        let taken = self.sem_take(None);
        self.intact()?;
        if !taken {
            return Ok(false);
        }
        let read = self.read_claimed(out);
        self.intact()?;
        read.map(|()| true)
    }

    /// Like [`Ring::try_read`], but waits on the semaphore until `deadline`
    /// (`CLOCK_REALTIME`, as `sem_timedwait` wants).
    pub(crate) fn read_until(
        &mut self,
        out: &mut Vec<u8>,
        deadline: &libc::timespec,
    ) -> Result<bool, RingError> {
        if !self.sem_take(Some(deadline)) {
            return Ok(false);
        }
        self.read_claimed(out).map(|()| true)
    }

    /// The semaphore's value: committed chunks not yet claimed by the consumer.
    pub(crate) fn sem_value(&self) -> i32 {
        let mut value = 0;
        // SAFETY: valid semaphore in our mapping, valid out pointer.
        unsafe { libc::sem_getvalue(self.sem(), &mut value) };
        value
    }

    /// The request ring's `flow_control` user data (0 for the other rings).
    pub(crate) fn flow_control(&self) -> i32 {
        if !self.has_user_data {
            return 0;
        }
        self.hdr_i32(USER_DATA).load(Ordering::Acquire)
    }

    /// Sets the request ring's `flow_control` user data.
    pub(crate) fn set_flow_control(&self, level: i32) {
        if self.has_user_data {
            self.hdr_i32(USER_DATA).store(level, Ordering::Release);
        }
    }

    /// The shared `ref_count`: libqb clients send only while it is exactly 2.
    pub(crate) fn refs(&self) -> i32 {
        self.ref_count().load(Ordering::Acquire)
    }

    /// The ring's size in words.
    #[cfg(test)]
    pub(crate) fn word_size(&self) -> u32 {
        self.word_size
    }

    /// Claimed one semaphore unit: consume the chunk at our read cursor.
    fn read_claimed(&mut self, out: &mut Vec<u8>) -> Result<(), RingError> {
        let r = self.read_pt;
        let magic = self.word(self.wrap(r + 1)).load(Ordering::Acquire);
        if magic != MAGIC_COMMITTED {
            return Err(RingError::Corrupt("chunk magic not committed"));
        }
        let len = self.word(r).load(Ordering::Relaxed) as usize;
        if len > self.max_msg_size || len + CHUNK_MARGIN > self.word_size as usize * 4 {
            return Err(RingError::Corrupt("chunk length exceeds the ring"));
        }
        out.clear();
        out.resize(len, 0);
        let start = self.wrap(r + 2) as usize * 4;
        // SAFETY: start < data_len and len + 12 <= data_len: inside the double mapping.
        unsafe { ptr::copy_nonoverlapping(self.data.at(start), out.as_mut_ptr(), len) };
        self.word(r).store(0, Ordering::Relaxed);
        self.word(self.wrap(r + 1))
            .store(MAGIC_DEAD, Ordering::Release);
        self.read_pt = self.step(r, len);
        self.hdr_u32(READ_PT).store(self.read_pt, Ordering::Release);
        Ok(())
    }

    /// libqb's `qb_rb_space_free` in bytes, with our own write cursor.
    fn free_bytes(&self, read_pt: u32) -> usize {
        let (w, r, size) = (self.write_pt, read_pt, self.word_size);
        let words = match w.cmp(&r) {
            std::cmp::Ordering::Greater => r + size - w - 1,
            std::cmp::Ordering::Less => r - w - 1,
            // Equal cursors: empty, unless committed chunks fill the ring exactly.
            std::cmp::Ordering::Equal if self.sem_value() > 0 => 0,
            std::cmp::Ordering::Equal => size,
        };
        words as usize * 4
    }

    fn sem_take(&self, deadline: Option<&libc::timespec>) -> bool {
        loop {
            // SAFETY: valid semaphore in our mapping; `deadline` is a live timespec.
            let rc = unsafe {
                match deadline {
                    None => libc::sem_trywait(self.sem()),
                    Some(t) => libc::sem_timedwait(self.sem(), t),
                }
            };
            if rc == 0 {
                return true;
            }
            if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                return false;
            }
        }
    }

    /// The next chunk's index after a chunk of `len` bytes at `p`.
    fn step(&self, p: u32, len: usize) -> u32 {
        // len + 12 <= data_len was checked, so this cannot overflow.
        let words = 2 + (len as u32).div_ceil(4);
        (p + words) % self.word_size
    }

    fn wrap(&self, i: u32) -> u32 {
        i % self.word_size
    }

    fn word(&self, i: u32) -> &AtomicU32 {
        debug_assert!(i < self.word_size, "word index {i} beyond ring");
        let i = (i % self.word_size) as usize;
        // SAFETY: i < word_size, so the 4 bytes lie in the first copy of the data mapping,
        // which is page aligned; shared memory is only ever accessed atomically here.
        unsafe { &*self.data.at(i * 4).cast::<AtomicU32>() }
    }

    fn hdr_u32(&self, off: usize) -> &AtomicU32 {
        header_u32(&self.header, off)
    }

    fn hdr_i32(&self, off: usize) -> &AtomicI32 {
        assert!(
            off + 4 <= self.header.len && off.is_multiple_of(4),
            "header field {off}"
        );
        // SAFETY: in bounds and aligned (checked above).
        unsafe { &*self.header.at(off).cast::<AtomicI32>() }
    }

    fn ref_count(&self) -> &AtomicI32 {
        self.hdr_i32(REF_COUNT)
    }

    fn sem(&self) -> *mut libc::sem_t {
        self.header.at(SEM).cast()
    }

    fn write_path(&self, off: usize, path: &OsStr) {
        let bytes = path.as_bytes();
        assert!(bytes.len() < PATH_FIELD, "path length checked by create");
        // SAFETY: off + PATH_FIELD <= header length; the field is not yet shared.
        unsafe {
            ptr::write_bytes(self.header.at(off), 0, PATH_FIELD);
            ptr::copy_nonoverlapping(bytes.as_ptr(), self.header.at(off), bytes.len());
        }
    }

    /// Test hook: writes a raw header field, as a hostile peer could.
    #[cfg(test)]
    pub(crate) fn poke_header(&self, off: usize, value: u32) {
        self.hdr_u32(off).store(value, Ordering::Release);
    }

    /// Test hook: writes a raw data word, as a hostile peer could.
    #[cfg(test)]
    pub(crate) fn poke_word(&self, i: u32, value: u32) {
        self.word(i).store(value, Ordering::Release);
    }

    /// Test hook: our consumer cursor.
    #[cfg(test)]
    pub(crate) fn read_cursor(&self) -> u32 {
        self.read_pt
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        self.ref_count().fetch_sub(1, Ordering::AcqRel);
        if let Some(paths) = &self.created {
            for path in paths {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// Offsets of header fields, for tests.
#[cfg(test)]
pub(crate) mod offsets {
    pub(crate) const WRITE_PT: usize = super::WRITE_PT;
    pub(crate) const READ_PT: usize = super::READ_PT;
}

fn header_u32(header: &Mapping, off: usize) -> &AtomicU32 {
    assert!(
        off + 4 <= header.len && off.is_multiple_of(4),
        "header field {off}"
    );
    // SAFETY: in bounds and aligned (checked above); accessed only atomically.
    unsafe { &*header.at(off).cast::<AtomicU32>() }
}

fn suffixed(name: &Path, suffix: &str) -> PathBuf {
    let mut s = name.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn open_rw(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
}

/// A shared memory mapping, unmapped on drop.
pub(crate) struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
    /// Set when a peer may truncate the file under us.
    guard: Option<Guard>,
}

// SAFETY: the mapping is plain memory owned by this value; all shared accesses go through
// atomics or explicit copies, so moving it to another thread is sound.
unsafe impl Send for Mapping {}

impl Mapping {
    /// Maps `len` bytes of `file` read-write, shared.
    pub(crate) fn file(file: &File, len: usize) -> io::Result<Self> {
        // SAFETY: a fresh mapping chosen by the kernel; the fd is valid.
        let ptr = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Self {
            ptr: NonNull::new(ptr.cast()).ok_or_else(io::Error::last_os_error)?,
            len,
            guard: None,
        })
    }

    /// The same mapping, surviving a truncation of its file by someone else (see
    /// [`crate::sigbus`]); [`Mapping::truncated`] then says so.
    pub(crate) fn guarded(mut self) -> io::Result<Self> {
        self.guard = Some(Guard::new(self.ptr.as_ptr() as usize, self.len)?);
        Ok(self)
    }

    /// Whether the file was truncated under a guarded mapping (it reads zeros since).
    pub(crate) fn truncated(&self) -> bool {
        self.guard.as_ref().is_some_and(Guard::poisoned)
    }

    /// `qb_sys_circular_mmap`: `len` (a page multiple) bytes of `file` mapped twice, back to
    /// back, so `[p, p + len)` is contiguous for every `p < len`.
    fn circular(file: &File, len: usize) -> io::Result<Self> {
        // SAFETY: reserve 2 * len bytes of address space that nobody else uses.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                2 * len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let this = Self {
            ptr: NonNull::new(base.cast()).ok_or_else(io::Error::last_os_error)?,
            len: 2 * len,
            guard: None,
        };
        for half in 0..2 {
            // SAFETY: MAP_FIXED replaces pages of our own reservation only.
            let addr = unsafe {
                libc::mmap(
                    base.cast::<u8>().add(half * len).cast(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED | libc::MAP_FIXED,
                    file.as_raw_fd(),
                    0,
                )
            };
            if addr == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(this)
    }

    /// Pointer to byte `off`; `off` must be below the length.
    pub(crate) fn at(&self, off: usize) -> *mut u8 {
        assert!(
            off < self.len,
            "offset {off} beyond mapping of {}",
            self.len
        );
        // SAFETY: in bounds (checked above).
        unsafe { self.ptr.as_ptr().add(off) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // Unregistered first: the address range may be reused once unmapped.
        self.guard = None;
        // SAFETY: ptr/len describe a mapping we own; nothing refers to it any more.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

#[cfg(test)]
mod tests;
