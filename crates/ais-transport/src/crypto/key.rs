//! Key derivation and the per-packet primitives; the only file that names `ring`.
//!
//! Every sender's packets of one epoch are sealed under their own key:
//! `HKDF-SHA256(salt = "ais-transport v1", ikm = authkey, info = mode || sender || epoch)`,
//! with the sender as u32 LE and the epoch as u64 LE. Since the key is unique to one boot
//! of one node, the nonce is just the packet counter (8 bytes LE, then 4 zero bytes).
//! The mode is part of `info` so that two modes never share key bytes.

use ring::{aead, digest, hkdf, hmac};

use super::{CryptoMode, HEADER_LEN, OpenError};

/// HKDF salt: fixed, so every node derives the same keys; versioned, so a future layout
/// derives different ones.
const SALT: &[u8] = b"ais-transport v1";

/// The authkey, extracted once; expands into each sender's key.
pub(super) struct KeySchedule {
    mode: CryptoMode,
    prk: hkdf::Prk,
}

impl KeySchedule {
    pub(super) fn new(mode: CryptoMode, authkey: &[u8]) -> Self {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, SALT).extract(authkey);
        Self { mode, prk }
    }

    /// The key `sender` seals under in `epoch`.
    pub(super) fn sender_key(&self, sender: u32, epoch: u64) -> SenderKey {
        let mut info = [0u8; 13];
        info[0] = self.mode.to_wire();
        info[1..5].copy_from_slice(&sender.to_le_bytes());
        info[5..13].copy_from_slice(&epoch.to_le_bytes());
        let info = [&info[..]];
        // `expand` fails only for outputs past 255 hash lengths; ours are one key.
        const FITS: &str = "one key is within HKDF's output limit";
        let aead_key = |algorithm: &'static aead::Algorithm| {
            let okm = self.prk.expand(&info, algorithm).expect(FITS);
            SenderKey::Aead(aead::LessSafeKey::new(aead::UnboundKey::from(okm)))
        };
        match self.mode {
            CryptoMode::None => SenderKey::Plain,
            CryptoMode::AuthOnly => {
                let okm = self.prk.expand(&info, hmac::HMAC_SHA256).expect(FITS);
                SenderKey::Hmac(hmac::Key::from(okm))
            }
            CryptoMode::Aes128Gcm => aead_key(&aead::AES_128_GCM),
            CryptoMode::Aes256Gcm => aead_key(&aead::AES_256_GCM),
            CryptoMode::ChaCha20Poly1305 => aead_key(&aead::CHACHA20_POLY1305),
        }
    }
}

/// One sender's key in one epoch, of the schedule's mode.
// Every key of one `Crypto` is the same variant, so boxing the large one would save no
// memory and add a pointer chase to every packet.
#[allow(clippy::large_enum_variant)]
pub(super) enum SenderKey {
    /// [`CryptoMode::None`]: nothing to compute.
    Plain,
    /// [`CryptoMode::AuthOnly`].
    Hmac(hmac::Key),
    /// The AEAD modes.
    Aead(aead::LessSafeKey),
}

impl SenderKey {
    /// `packet` holds header and payload; encrypts the payload in place (AEAD) and appends
    /// the tag.
    pub(super) fn seal(&self, counter: u64, packet: &mut Vec<u8>) {
        match self {
            Self::Plain => {}
            Self::Hmac(key) => {
                let tag = hmac::sign(key, packet);
                packet.extend_from_slice(tag.as_ref());
            }
            Self::Aead(key) => {
                let (header, payload) = packet.split_at_mut(HEADER_LEN);
                let tag = key
                    .seal_in_place_separate_tag(nonce(counter), aead::Aad::from(&*header), payload)
                    .expect("payload within the AEAD's per-message limit");
                packet.extend_from_slice(tag.as_ref());
            }
        }
    }

    /// Verifies `packet` (at least header plus tag long) and writes its plaintext payload
    /// into the empty `out`. On `Err`, `out` holds garbage the caller clears.
    pub(super) fn open(
        &self,
        counter: u64,
        packet: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), OpenError> {
        match self {
            Self::Plain => {
                out.extend_from_slice(&packet[HEADER_LEN..]);
                Ok(())
            }
            Self::Hmac(key) => {
                let (signed, tag) = packet.split_at(packet.len() - digest::SHA256_OUTPUT_LEN);
                // Constant-time comparison inside `verify`.
                hmac::verify(key, signed, tag).map_err(|_| OpenError::InvalidDigest)?;
                out.extend_from_slice(&signed[HEADER_LEN..]);
                Ok(())
            }
            Self::Aead(key) => {
                let tag_len = key.algorithm().tag_len();
                let (sealed, tag) = packet.split_at(packet.len() - tag_len);
                let tag = aead::Tag::try_from(tag).map_err(|_| OpenError::InvalidDigest)?;
                let (header, ciphertext) = sealed.split_at(HEADER_LEN);
                out.extend_from_slice(ciphertext);
                key.open_in_place_separate_tag(
                    nonce(counter),
                    aead::Aad::from(header),
                    tag,
                    out,
                    0..,
                )
                .map_err(|_| OpenError::InvalidDigest)?;
                Ok(())
            }
        }
    }
}

/// The counter, little-endian, then four zero bytes: unique under one key (module doc).
fn nonce(counter: u64) -> aead::Nonce {
    let mut n = [0u8; aead::NONCE_LEN];
    n[..8].copy_from_slice(&counter.to_le_bytes());
    aead::Nonce::assume_unique_for_key(n)
}
