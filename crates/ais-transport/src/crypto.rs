//! Sealing and opening every transport packet: authentication, encryption and replay checks.
//!
//! A sealed packet is a clear header, authenticated as associated data, then the payload
//! (encrypted in the AEAD modes) and a tag:
//!
//! ```text
//! 0      2    3    4    5     6       10      18        26
//! +------+----+----+----+-----+-------+-------+---------+----------------------+-----+
//! |magic |ver |mode|kind|rsvd |sender |epoch  |counter  | payload              | tag |
//! |u16 LE| 1  | u8 | u8 |  0  |u32 LE |u64 LE |u64 LE   | (ciphertext in AEAD) |     |
//! +------+----+----+----+-----+-------+-------+---------+----------------------+-----+
//! ```
//!
//! The tag is 16 bytes in the AEAD modes, a 32-byte HMAC-SHA256 over header and payload in
//! [`CryptoMode::AuthOnly`], and absent in [`CryptoMode::None`], which keeps the header and
//! the duplicate check but authenticates nothing.
//!
//! Invariants this module keeps:
//! - **One key per sender and boot.** Keys come from HKDF-SHA256 over the shared authkey with
//!   the mode, sender and epoch as `info`, so the 96-bit nonce can be the packet counter: the
//!   counter restarts at 0 with every epoch, and the daemon makes every epoch of a node
//!   strictly larger than the last, so no (key, nonce) pair is ever used twice.
//! - **Nothing changes before authentication.** A packet that fails any check leaves the
//!   replay windows and the cached keys as they were; only the rejection counters move.
//! - **Every sender's epoch proves itself to this boot.** A replay window lives in memory,
//!   so after this node restarts, packets captured earlier from a sender that has since
//!   gone quiet would all look fresh. A sender's epoch is therefore *unproven* until it
//!   answers a challenge of this boot (our epoch, which no boot repeats) with a packet
//!   sealed in that epoch ([`Crypto::prove`]); its window then starts past that packet's
//!   counter, so whatever it sealed before — everything an attacker could have captured
//!   before we started — is a replay. Until then its packets open as [`Opened::proven`]
//!   false and the transport acts on nothing but the proof.
//! - **Bounded state.** At most [`PEERS_MAX`] senders are remembered, each with a fixed-size
//!   replay window.
//! - **Decoding never panics**, whatever the bytes.

mod key;
mod replay;

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU32;

use ais_types::PROCESSOR_COUNT_MAX;

use self::key::{KeySchedule, SenderKey};
use self::replay::ReplayWindow;

/// Bytes of the clear header that starts every sealed packet.
pub const HEADER_LEN: usize = 30;
/// The first two bytes of every sealed packet, little-endian: "AIS" in hex-speak.
pub const MAGIC: u16 = 0xA15C;
/// The header layout this build writes and reads.
pub const VERSION: u8 = 1;
/// Shortest authkey accepted: 1024 bits, as corosync requires.
pub const AUTHKEY_LEN_MIN: usize = 128;
/// Longest authkey accepted, as corosync's `authkey` limit.
pub const AUTHKEY_LEN_MAX: usize = 4096;
/// Senders remembered at once: every node of the largest cluster several times over, since
/// node ids change as machines are replaced. Past it the least recently heard sender goes.
pub const PEERS_MAX: usize = 4 * PROCESSOR_COUNT_MAX;

/// How packets are protected. Every node of a cluster must use the same mode; a packet of
/// another mode is rejected with [`OpenError::ModeMismatch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CryptoMode {
    /// No authentication, no encryption: only the header and the duplicate check. For
    /// trusted, isolated networks and tests.
    None,
    /// HMAC-SHA256 over header and payload; the payload travels in clear.
    AuthOnly,
    /// AES-128-GCM: authenticated encryption with a 128-bit key.
    Aes128Gcm,
    /// AES-256-GCM: authenticated encryption with a 256-bit key.
    Aes256Gcm,
    /// ChaCha20-Poly1305: authenticated encryption, fast without AES instructions.
    ChaCha20Poly1305,
}

impl CryptoMode {
    /// Every mode, in wire order.
    pub const ALL: [Self; 5] = [
        Self::None,
        Self::AuthOnly,
        Self::Aes128Gcm,
        Self::Aes256Gcm,
        Self::ChaCha20Poly1305,
    ];

    /// The mode byte in the header.
    pub const fn to_wire(self) -> u8 {
        match self {
            Self::None => 0,
            Self::AuthOnly => 1,
            Self::Aes128Gcm => 2,
            Self::Aes256Gcm => 3,
            Self::ChaCha20Poly1305 => 4,
        }
    }

    /// The mode of a header's mode byte, if it names one.
    pub const fn from_wire(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(Self::None),
            1 => Some(Self::AuthOnly),
            2 => Some(Self::Aes128Gcm),
            3 => Some(Self::Aes256Gcm),
            4 => Some(Self::ChaCha20Poly1305),
            _ => None,
        }
    }

    /// Bytes of the tag that follows the payload.
    pub const fn tag_len(self) -> usize {
        match self {
            Self::None => 0,
            Self::AuthOnly => 32,
            Self::Aes128Gcm | Self::Aes256Gcm | Self::ChaCha20Poly1305 => 16,
        }
    }

    /// The mode's name in logs, as corosync.conf spells the cipher where it has one.
    pub const fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::AuthOnly => "sha256",
            Self::Aes128Gcm => "aes128-gcm",
            Self::Aes256Gcm => "aes256-gcm",
            Self::ChaCha20Poly1305 => "chacha20-poly1305",
        }
    }
}

impl fmt::Display for CryptoMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a [`Crypto`] could not be built. Both are configuration errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The authkey is shorter than [`AUTHKEY_LEN_MIN`] or longer than [`AUTHKEY_LEN_MAX`].
    #[error("authkey must be {AUTHKEY_LEN_MIN} to {AUTHKEY_LEN_MAX} bytes, got {0}")]
    KeyLength(usize),
    /// The local node id is 0, which is never a valid node.
    #[error("node id 0 is not a valid node")]
    ZeroNode,
}

/// Why a received packet was dropped. Each is an operating error: count it, drop the packet,
/// keep going. [`Crypto::stats`] counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Shorter than its header, or than header plus the mode's tag.
    #[error("packet truncated: need {need} bytes, got {got}")]
    Truncated {
        /// Bytes the packet needs at least.
        need: usize,
        /// Bytes it has.
        got: usize,
    },
    /// Not a packet of this protocol version: bad magic or version, a nonzero reserved byte
    /// or a zero sender.
    #[error("not an ais transport packet of version {VERSION}")]
    NotOurs,
    /// Sealed in another mode: the cluster's nodes disagree on `totem.crypto_*`.
    #[error("crypto mode mismatch: ours is {ours}, the packet's mode byte is {theirs}")]
    ModeMismatch {
        /// Our mode.
        ours: CryptoMode,
        /// The packet's mode byte, which may name no mode at all.
        theirs: u8,
    },
    /// The tag does not match: corrupted, forged, or sealed with another authkey.
    #[error("invalid digest: corrupted, forged or another authkey")]
    InvalidDigest,
    /// A duplicate, or older than the replay window. The same packet sent on two links in
    /// active link mode arrives twice, so this is normal, not an attack.
    #[error("duplicate or replayed packet")]
    Replayed,
    /// Sealed for another node: a unicast packet replayed at the wrong recipient.
    #[error("packet sealed for another node")]
    Misdirected,
    /// From an epoch of the sender older than one already heard: sent before it restarted.
    #[error("packet from a previous epoch of its sender")]
    StaleEpoch,
    /// Sent by this node: our own multicast looped back.
    #[error("packet from this node")]
    FromSelf,
}

/// What an accepted packet's header said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    /// The sending node id, never 0.
    pub sender: u32,
    /// The packet kind the sender passed to [`Crypto::seal`].
    pub kind: u8,
    /// The sender's epoch (boot number).
    pub epoch: u64,
    /// The packet's counter within that epoch.
    pub counter: u64,
    /// The sender's epoch has proved itself live to this boot ([`Crypto::prove`]), and the
    /// packet passed its replay window. When false the packet is authentic but may be a
    /// replay of one captured before this node started: act on nothing but a proof.
    pub proven: bool,
}

/// Counters of sealed, opened and rejected packets, for the `stats.*` keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CryptoStats {
    /// Packets sealed.
    pub sealed: u64,
    /// Packets opened and accepted.
    pub opened: u64,
    /// Rejected: [`OpenError::InvalidDigest`].
    pub invalid_digest: u64,
    /// Rejected: [`OpenError::Replayed`] (duplicates are normal with redundant links).
    pub replayed: u64,
    /// Rejected: [`OpenError::StaleEpoch`].
    pub stale_epoch: u64,
    /// Rejected: [`OpenError::Truncated`].
    pub truncated: u64,
    /// Rejected: [`OpenError::ModeMismatch`].
    pub mode_mismatch: u64,
    /// Rejected: [`OpenError::NotOurs`].
    pub not_ours: u64,
    /// Rejected: [`OpenError::FromSelf`].
    pub from_self: u64,
    /// Rejected: sealed for another node.
    pub misdirected: u64,
    /// Senders' epochs proven to this boot: senders first heard, or restarted.
    pub new_epochs: u64,
    /// Authentic packets of an epoch not yet proven (each may be a replay).
    pub unproven: u64,
}

/// Seals outgoing and opens incoming packets of one node. Holds this node's sending key and,
/// for each sender heard, the key and replay window of its current epoch.
pub struct Crypto {
    mode: CryptoMode,
    local: NonZeroU32,
    epoch: u64,
    keys: KeySchedule,
    /// Our own (local, epoch) key.
    own_key: SenderKey,
    /// The counter of the next packet sealed.
    next_counter: u64,
    peers: BTreeMap<u32, Peer>,
    /// Per sender, the newest epoch heard that has not proved itself yet, and its key.
    candidates: BTreeMap<u32, (u64, SenderKey)>,
    stats: CryptoStats,
}

/// What we know of one sender: the epoch heard last, its key and which counters came.
struct Peer {
    epoch: u64,
    key: SenderKey,
    window: ReplayWindow,
    /// `stats.opened` when this sender's last packet was accepted; picks whom to forget.
    last_heard: u64,
}

impl Crypto {
    /// A sealer and opener for node `local` in boot `epoch`.
    ///
    /// `authkey`: the shared key file's bytes (128..=4096 bytes, else
    /// [`CryptoError::KeyLength`]). `local`: this node's id, nonzero. `epoch`: strictly larger
    /// at every start of this node (the daemon persists it); packets of a sender's older
    /// epoch are rejected.
    pub fn new(
        mode: CryptoMode,
        authkey: &[u8],
        local: u32,
        epoch: u64,
    ) -> Result<Self, CryptoError> {
        if !(AUTHKEY_LEN_MIN..=AUTHKEY_LEN_MAX).contains(&authkey.len()) {
            return Err(CryptoError::KeyLength(authkey.len()));
        }
        let local = NonZeroU32::new(local).ok_or(CryptoError::ZeroNode)?;
        let keys = KeySchedule::new(mode, authkey);
        let own_key = keys.sender_key(local.get(), epoch);
        Ok(Self {
            mode,
            local,
            epoch,
            keys,
            own_key,
            next_counter: 0,
            peers: BTreeMap::new(),
            candidates: BTreeMap::new(),
            stats: CryptoStats::default(),
        })
    }

    /// This boot's challenge: a sender's epoch is proven by a packet sealed in it that
    /// carries this value back (the transport's pong to our ping). Our epoch: strictly
    /// larger at every start, so no earlier answer can carry it.
    pub fn challenge(&self) -> [u8; 8] {
        self.epoch.to_le_bytes()
    }

    /// `opened`, an unproven packet, carried [`Crypto::challenge`] back: its sender's epoch
    /// is live now. From here on that epoch's packets are fresh only past `opened.counter`
    /// (every packet it sealed before, possibly captured before we started, is a replay),
    /// and its older epochs are stale.
    pub fn prove(&mut self, opened: &Opened) {
        if opened.proven
            || self
                .peers
                .get(&opened.sender)
                .is_some_and(|p| p.epoch >= opened.epoch)
        {
            return;
        }
        let key = match self.candidates.remove(&opened.sender) {
            Some((epoch, key)) if epoch == opened.epoch => key,
            _ => self.keys.sender_key(opened.sender, opened.epoch),
        };
        self.stats.new_epochs += 1;
        let peer = Peer {
            epoch: opened.epoch,
            key,
            window: ReplayWindow::seen_through(opened.counter),
            last_heard: self.stats.opened,
        };
        self.remember(opened.sender, peer);
    }

    /// Seals `payload` as a packet of `kind` for node `to` (0: every node) into `out`
    /// (cleared first). Never fails. Binding the recipient matters: a token sealed for my
    /// successor, replayed to another member, would otherwise open there as authentic and
    /// make two processors sequence the same frames.
    pub fn seal(&mut self, kind: u8, to: u32, payload: &[u8], out: &mut Vec<u8>) {
        let counter = self.next_counter;
        // At a million packets a second the counter lasts 584,000 years; running out would
        // reuse a nonce, so it is a broken invariant rather than an error to return.
        self.next_counter = counter
            .checked_add(1)
            .expect("packet counter exhausted within one epoch");
        let header = Header {
            mode: self.mode.to_wire(),
            kind,
            sender: self.local.get(),
            to,
            epoch: self.epoch,
            counter,
        };
        out.clear();
        out.reserve(self.overhead() + payload.len());
        out.extend_from_slice(&header.encode());
        out.extend_from_slice(payload);
        self.own_key.seal(counter, out);
        self.stats.sealed += 1;
    }

    /// Authenticates, decrypts and replay-checks `packet`; the plaintext goes into `out`.
    /// Replay state changes only after authentication succeeded. On `Err`, `out` is empty.
    pub fn open(&mut self, packet: &[u8], out: &mut Vec<u8>) -> Result<Opened, OpenError> {
        out.clear();
        let result = self.try_open(packet, out);
        if let Err(error) = result {
            out.clear();
            self.count(error);
        }
        result
    }

    /// Bytes a sealed packet adds to its payload (header + tag).
    pub fn overhead(&self) -> usize {
        HEADER_LEN + self.mode.tag_len()
    }

    /// The mode this node seals in and accepts.
    pub fn mode(&self) -> CryptoMode {
        self.mode
    }

    /// Counters of sealed, opened and rejected packets.
    pub fn stats(&self) -> &CryptoStats {
        &self.stats
    }

    /// The checks in order, cheapest first; nothing here changes state until the tag has
    /// been verified.
    fn try_open(&mut self, packet: &[u8], out: &mut Vec<u8>) -> Result<Opened, OpenError> {
        let header = Header::decode(packet)?;
        if header.mode != self.mode.to_wire() {
            return Err(OpenError::ModeMismatch {
                ours: self.mode,
                theirs: header.mode,
            });
        }
        let need = self.overhead();
        if packet.len() < need {
            return Err(OpenError::Truncated {
                need,
                got: packet.len(),
            });
        }
        if header.sender == self.local.get() {
            return Err(OpenError::FromSelf);
        }
        // Checked before the tag to save the work; the tag covers `to`, so a forger gains
        // nothing by changing it.
        if header.to != 0 && header.to != self.local.get() {
            return Err(OpenError::Misdirected);
        }
        let mut opened = Opened {
            sender: header.sender,
            kind: header.kind,
            epoch: header.epoch,
            counter: header.counter,
            proven: false,
        };
        match self.peers.get_mut(&header.sender) {
            Some(peer) if header.epoch < peer.epoch => Err(OpenError::StaleEpoch),
            Some(peer) if header.epoch == peer.epoch => {
                // Checked before the tag only to save the decryption; the window moves
                // after it.
                if !peer.window.is_fresh(header.counter) {
                    return Err(OpenError::Replayed);
                }
                peer.key.open(header.counter, packet, out)?;
                peer.window.accept(header.counter);
                self.stats.opened += 1;
                peer.last_heard = self.stats.opened;
                opened.proven = true;
                Ok(opened)
            }
            // A sender first heard, or a newer epoch (it restarted), or a replay of either:
            // authentic perhaps, fresh unknown. Nothing changes but the cached key until
            // the epoch proves itself (`prove`); the proven epoch, if any, stays.
            _ => {
                let cached = self
                    .candidates
                    .get(&header.sender)
                    .filter(|(epoch, _)| *epoch == header.epoch);
                match cached {
                    Some((_, key)) => key.open(header.counter, packet, out)?,
                    None => {
                        let key = self.keys.sender_key(header.sender, header.epoch);
                        key.open(header.counter, packet, out)?;
                        let newer = self
                            .candidates
                            .get(&header.sender)
                            .is_none_or(|(epoch, _)| header.epoch > *epoch);
                        if newer {
                            if self.candidates.len() >= PEERS_MAX
                                && !self.candidates.contains_key(&header.sender)
                            {
                                self.candidates.clear();
                            }
                            self.candidates.insert(header.sender, (header.epoch, key));
                        }
                    }
                }
                self.stats.unproven += 1;
                Ok(opened)
            }
        }
    }

    /// Stores `peer`, first forgetting the least recently heard sender if the table is full
    /// and `sender` is new. O(peers), but only when a new sender arrives at a full table.
    fn remember(&mut self, sender: u32, peer: Peer) {
        if self.peers.len() >= PEERS_MAX && !self.peers.contains_key(&sender) {
            let oldest = self
                .peers
                .iter()
                .min_by_key(|(_, p)| p.last_heard)
                .map(|(&id, _)| id);
            if let Some(id) = oldest {
                self.peers.remove(&id);
            }
        }
        self.peers.insert(sender, peer);
        assert!(
            self.peers.len() <= PEERS_MAX,
            "peer table holds {} senders, limit {PEERS_MAX}",
            self.peers.len()
        );
    }

    fn count(&mut self, error: OpenError) {
        let counter = match error {
            OpenError::Truncated { .. } => &mut self.stats.truncated,
            OpenError::NotOurs => &mut self.stats.not_ours,
            OpenError::ModeMismatch { .. } => &mut self.stats.mode_mismatch,
            OpenError::InvalidDigest => &mut self.stats.invalid_digest,
            OpenError::Replayed => &mut self.stats.replayed,
            OpenError::StaleEpoch => &mut self.stats.stale_epoch,
            OpenError::FromSelf => &mut self.stats.from_self,
            OpenError::Misdirected => &mut self.stats.misdirected,
        };
        *counter += 1;
    }
}

impl fmt::Debug for Crypto {
    /// Never prints key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Crypto")
            .field("mode", &self.mode)
            .field("local", &self.local)
            .field("epoch", &self.epoch)
            .field("next_counter", &self.next_counter)
            .field("peers", &self.peers.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// The clear header, decoded. `mode` stays a byte so a mismatch can report what came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    mode: u8,
    kind: u8,
    sender: u32,
    /// The recipient node, or 0 for every node.
    to: u32,
    epoch: u64,
    counter: u64,
}

impl Header {
    fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..2].copy_from_slice(&MAGIC.to_le_bytes());
        b[2] = VERSION;
        b[3] = self.mode;
        b[4] = self.kind;
        b[5] = 0; // reserved
        b[6..10].copy_from_slice(&self.sender.to_le_bytes());
        b[10..18].copy_from_slice(&self.epoch.to_le_bytes());
        b[18..26].copy_from_slice(&self.counter.to_le_bytes());
        b[26..30].copy_from_slice(&self.to.to_le_bytes());
        b
    }

    /// The header at the start of `packet`. Checks only what needs no key or state.
    fn decode(packet: &[u8]) -> Result<Self, OpenError> {
        let Some(b) = packet.first_chunk::<HEADER_LEN>() else {
            return Err(OpenError::Truncated {
                need: HEADER_LEN,
                got: packet.len(),
            });
        };
        let le16 = |at: usize| u16::from_le_bytes([b[at], b[at + 1]]);
        let le32 = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        let le64 = |at: usize| {
            let mut v = [0u8; 8];
            v.copy_from_slice(&b[at..at + 8]);
            u64::from_le_bytes(v)
        };
        let header = Self {
            mode: b[3],
            kind: b[4],
            sender: le32(6),
            to: le32(26),
            epoch: le64(10),
            counter: le64(18),
        };
        // A zero sender cannot come from `seal`, which refuses node 0.
        if le16(0) != MAGIC || b[2] != VERSION || b[5] != 0 || header.sender == 0 {
            return Err(OpenError::NotOurs);
        }
        Ok(header)
    }
}

/// Bodies of the cargo-fuzz targets; `transport_open` is the one a target calls.
/// Bodies of the cargo-fuzz targets, also replayed over `fuzz/corpus/` by a plain test.
#[doc(hidden)]
pub mod fuzzing {
    /// Arbitrary bytes into [`super::Crypto::open`] in every mode, then the same bytes
    /// as a payload through a seal/open round trip. Must not panic.
    pub fn transport_open(data: &[u8]) {
        super::fuzz_open(data);
    }
}

fn fuzz_open(data: &[u8]) {
    const AUTHKEY: [u8; AUTHKEY_LEN_MIN] = [0x5a; AUTHKEY_LEN_MIN];
    let mut out = Vec::new();
    let mut sealed = Vec::new();
    for mode in CryptoMode::ALL {
        let mut receiver = Crypto::new(mode, &AUTHKEY, 1, 1).expect("valid key and node");
        let mut sender = Crypto::new(mode, &AUTHKEY, 2, 1).expect("valid key and node");
        let before = receiver.stats().clone();
        if receiver.open(data, &mut out).is_err() {
            assert!(out.is_empty(), "a rejected packet left plaintext behind");
            assert_eq!(receiver.stats().opened, before.opened);
        }
        sender.seal(7, 0, data, &mut sealed);
        // A new receiver: `data` itself may have been a valid packet of node 2, epoch 1.
        let mut receiver = Crypto::new(mode, &AUTHKEY, 1, 1).expect("valid key and node");
        let opened = receiver.open(&sealed, &mut out).expect("own packet opens");
        assert_eq!((opened.sender, opened.kind, out.as_slice()), (2, 7, data));
    }
}

#[cfg(test)]
mod tests;
