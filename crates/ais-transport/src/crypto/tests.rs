use proptest::prelude::*;

use super::*;

const KEY: [u8; 256] = [0x42; 256];
const AUTHENTICATED: [CryptoMode; 4] = [
    CryptoMode::AuthOnly,
    CryptoMode::Aes128Gcm,
    CryptoMode::Aes256Gcm,
    CryptoMode::ChaCha20Poly1305,
];

fn node(mode: CryptoMode, id: u32, epoch: u64) -> Crypto {
    Crypto::new(mode, &KEY, id, epoch).unwrap()
}

fn seal(c: &mut Crypto, kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    c.seal(kind, 0, payload, &mut out);
    out
}

/// Opens `packet` as a receiver whose challenge the sender has answered: a first packet of
/// an epoch proves it (the transport's part, done here by hand).
fn open(c: &mut Crypto, packet: &[u8]) -> Result<(Opened, Vec<u8>), OpenError> {
    let (mut opened, out) = raw_open(c, packet)?;
    if !opened.proven {
        c.prove(&opened);
        opened.proven = true;
    }
    Ok((opened, out))
}

fn raw_open(c: &mut Crypto, packet: &[u8]) -> Result<(Opened, Vec<u8>), OpenError> {
    let mut out = vec![0xee; 3]; // stale contents must go
    c.open(packet, &mut out).map(|o| (o, out))
}

/// After the receiver restarts, packets captured from a sender are not fresh, whatever
/// its epoch: the epoch must answer the new boot's challenge, and then only packets it
/// sealed after that answer count.
#[test]
fn a_restarted_receiver_accepts_no_replay() {
    for mode in CryptoMode::ALL {
        let mut sender = node(mode, 2, 5);
        let mut first_boot = node(mode, 1, 10);
        let pong = seal(&mut sender, 2, &first_boot.challenge());
        let (opened, _) = raw_open(&mut first_boot, &pong).unwrap();
        assert!(!opened.proven);
        first_boot.prove(&opened);
        let captured: Vec<Vec<u8>> = (0..5u8).map(|i| seal(&mut sender, 0, &[i])).collect();
        for p in &captured {
            assert!(raw_open(&mut first_boot, p).unwrap().0.proven, "{mode}");
        }
        // The receiver restarts; the sender has gone quiet; the captures come back.
        let mut second_boot = node(mode, 1, 11);
        for p in captured.iter().chain([&pong]) {
            let (opened, _) = raw_open(&mut second_boot, p).unwrap();
            assert!(!opened.proven, "{mode}: a replay passed as fresh");
        }
        assert_ne!(first_boot.challenge(), second_boot.challenge());
        // The live sender answers the new challenge: from then on the captures are replays
        // and its new packets are fresh.
        let answer = seal(&mut sender, 2, &second_boot.challenge());
        let (opened, plain) = raw_open(&mut second_boot, &answer).unwrap();
        assert!(plain.starts_with(&second_boot.challenge()));
        second_boot.prove(&opened);
        for p in &captured {
            assert_eq!(
                raw_open(&mut second_boot, p),
                Err(OpenError::Replayed),
                "{mode}"
            );
        }
        let fresh = seal(&mut sender, 0, b"after");
        assert!(raw_open(&mut second_boot, &fresh).unwrap().0.proven);
        let stats = second_boot.stats();
        assert_eq!((stats.unproven, stats.new_epochs, stats.opened), (7, 1, 1));
    }
}

/// `count` packets sealed by node 2 in `epoch`.
fn packets(mode: CryptoMode, epoch: u64, count: usize) -> Vec<Vec<u8>> {
    let mut sender = node(mode, 2, epoch);
    (0..count)
        .map(|i| seal(&mut sender, 1, &i.to_le_bytes()))
        .collect()
}

#[test]
fn round_trip_every_mode() {
    for mode in CryptoMode::ALL {
        let mut a = node(mode, 1, 7);
        let mut b = node(mode, 2, 3);
        for payload in [&b""[..], b"x", &[0xab; 1400], &[0u8; 9000]] {
            let packet = seal(&mut a, 9, payload);
            assert_eq!(packet.len(), payload.len() + a.overhead(), "{mode}");
            let (opened, plain) = open(&mut b, &packet).unwrap();
            assert_eq!(plain, payload, "{mode}");
            assert_eq!(opened.sender, 1);
            assert_eq!(opened.kind, 9);
            assert_eq!(opened.epoch, 7);
        }
        assert_eq!(a.stats().sealed, 4);
        // The first proved the epoch (unproven until then), the other three were fresh.
        assert_eq!((b.stats().unproven, b.stats().opened), (1, 3));
        assert_eq!(b.stats().new_epochs, 1);
    }
}

#[test]
fn counters_start_at_zero_and_rise() {
    let mut a = node(CryptoMode::Aes256Gcm, 1, 1);
    let mut b = node(CryptoMode::Aes256Gcm, 2, 1);
    for expected in 0..5 {
        let packet = seal(&mut a, 0, b"p");
        assert_eq!(open(&mut b, &packet).unwrap().0.counter, expected);
    }
}

#[test]
fn header_layout() {
    let mut a = node(
        CryptoMode::ChaCha20Poly1305,
        0x0102_0304,
        0x1122_3344_5566_7788,
    );
    let packet = seal(&mut a, 0x33, b"payload");
    let mut expected = vec![0x5c, 0xa1, 1, 4, 0x33, 0, 4, 3, 2, 1];
    expected.extend_from_slice(&0x1122_3344_5566_7788u64.to_le_bytes());
    expected.extend_from_slice(&0u64.to_le_bytes());
    expected.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(packet[..HEADER_LEN], expected[..]);
    assert_ne!(
        &packet[HEADER_LEN..HEADER_LEN + 7],
        b"payload",
        "AEAD encrypts"
    );
    assert_eq!(packet.len(), HEADER_LEN + 7 + 16);
}

#[test]
fn auth_only_and_none_send_the_payload_in_clear() {
    for (mode, tag) in [(CryptoMode::AuthOnly, 32), (CryptoMode::None, 0)] {
        let packet = seal(&mut node(mode, 1, 1), 0, b"payload");
        assert_eq!(&packet[HEADER_LEN..HEADER_LEN + 7], b"payload");
        assert_eq!(packet.len(), HEADER_LEN + 7 + tag);
    }
}

#[test]
fn new_rejects_bad_key_length_and_node_zero() {
    let mode = CryptoMode::Aes256Gcm;
    assert_eq!(
        Crypto::new(mode, &[0; 127], 1, 0).unwrap_err(),
        CryptoError::KeyLength(127)
    );
    assert_eq!(
        Crypto::new(mode, &[0; 4097], 1, 0).unwrap_err(),
        CryptoError::KeyLength(4097)
    );
    assert_eq!(
        Crypto::new(mode, &KEY, 0, 0).unwrap_err(),
        CryptoError::ZeroNode
    );
    assert!(Crypto::new(mode, &[0; 128], 1, 0).is_ok());
    assert!(Crypto::new(mode, &[0; 4096], 1, 0).is_ok());
}

#[test]
fn another_authkey_is_an_invalid_digest() {
    for mode in AUTHENTICATED {
        let mut a = Crypto::new(mode, &[0x11; 200], 1, 1).unwrap();
        let mut b = Crypto::new(mode, &[0x22; 200], 2, 1).unwrap();
        let packet = seal(&mut a, 0, b"hello");
        assert_eq!(
            open(&mut b, &packet),
            Err(OpenError::InvalidDigest),
            "{mode}"
        );
        assert_eq!(b.stats().invalid_digest, 1);
        assert_eq!(b.stats().opened, 0);
    }
}

#[test]
fn another_mode_is_a_mode_mismatch() {
    let packet = seal(&mut node(CryptoMode::Aes128Gcm, 1, 1), 0, b"hello");
    let mut b = node(CryptoMode::Aes256Gcm, 2, 1);
    let expected = OpenError::ModeMismatch {
        ours: CryptoMode::Aes256Gcm,
        theirs: 2,
    };
    assert_eq!(open(&mut b, &packet), Err(expected));
    assert_eq!(b.stats().mode_mismatch, 1);
}

#[test]
fn own_packets_are_from_self() {
    for mode in CryptoMode::ALL {
        let mut a = node(mode, 1, 1);
        let packet = seal(&mut a, 0, b"looped back");
        assert_eq!(open(&mut a, &packet), Err(OpenError::FromSelf));
        assert_eq!(a.stats().from_self, 1);
    }
}

#[test]
fn replay_of_an_opened_packet_is_rejected() {
    for mode in CryptoMode::ALL {
        let p = packets(mode, 1, 2);
        let mut b = node(mode, 1, 1);
        open(&mut b, &p[0]).unwrap();
        assert_eq!(open(&mut b, &p[0]), Err(OpenError::Replayed), "{mode}");
        open(&mut b, &p[1]).unwrap();
        assert_eq!(open(&mut b, &p[0]), Err(OpenError::Replayed));
        assert_eq!(open(&mut b, &p[1]), Err(OpenError::Replayed));
        assert_eq!(b.stats().replayed, 3);
        assert_eq!((b.stats().unproven, b.stats().opened), (1, 1));
    }
}

#[test]
fn window_accepts_reordering_once_and_rejects_older() {
    let w = replay::WINDOW as usize;
    let p = packets(CryptoMode::Aes256Gcm, 1, 2 * w);
    let mut b = node(CryptoMode::Aes256Gcm, 1, 1);
    // The epoch proves itself with its first packet; then the window works from there.
    open(&mut b, &p[0]).unwrap();
    let high = w + 500;
    open(&mut b, &p[high]).unwrap();
    // Out of order within the window: accepted once.
    assert_eq!(
        open(&mut b, &p[high - 100]).unwrap().0.counter,
        (high - 100) as u64
    );
    assert_eq!(open(&mut b, &p[high - 100]), Err(OpenError::Replayed));
    assert!(
        open(&mut b, &p[high - (w - 1)]).is_ok(),
        "WINDOW - 1 below the highest"
    );
    assert_eq!(
        open(&mut b, &p[high - w]),
        Err(OpenError::Replayed),
        "WINDOW below the highest"
    );
    assert_eq!(open(&mut b, &p[0]), Err(OpenError::Replayed));
    // Moving forward lets the window slide.
    let top = 2 * w - 1;
    open(&mut b, &p[top]).unwrap();
    assert_eq!(open(&mut b, &p[top - w]), Err(OpenError::Replayed));
    assert!(open(&mut b, &p[top - (w - 1)]).is_ok());
    assert_eq!(open(&mut b, &p[high]), Err(OpenError::Replayed));
}

#[test]
fn restarted_sender_is_accepted_and_its_old_epoch_goes_stale() {
    for mode in CryptoMode::ALL {
        let old = packets(mode, 5, 3);
        let new = packets(mode, 6, 2);
        let mut b = node(mode, 1, 1);
        open(&mut b, &old[0]).unwrap();
        // The restarted sender's counters start again at 0.
        let (opened, _) = open(&mut b, &new[0]).unwrap();
        assert_eq!((opened.epoch, opened.counter), (6, 0));
        assert_eq!(open(&mut b, &old[1]), Err(OpenError::StaleEpoch), "{mode}");
        assert_eq!(open(&mut b, &new[0]), Err(OpenError::Replayed));
        open(&mut b, &new[1]).unwrap();
        assert_eq!(b.stats().stale_epoch, 1);
        assert_eq!(b.stats().new_epochs, 2);
    }
}

#[test]
fn forged_newer_epoch_does_not_displace_the_current_one() {
    for mode in AUTHENTICATED {
        let current = packets(mode, 5, 2);
        let mut forger = Crypto::new(mode, &[0x99; 128], 2, 9).unwrap();
        let forged = seal(&mut forger, 1, b"forged");
        let mut b = node(mode, 1, 1);
        open(&mut b, &current[0]).unwrap();
        assert_eq!(open(&mut b, &forged), Err(OpenError::InvalidDigest));
        open(&mut b, &current[1]).unwrap();
    }
}

#[test]
fn truncation_at_every_length_is_an_error() {
    for mode in CryptoMode::ALL {
        let packet = seal(&mut node(mode, 2, 1), 0, &[7; 40]);
        let mut b = node(mode, 1, 1);
        // Without a tag, a shorter payload is still a packet: only the header is checked.
        let checked = if mode == CryptoMode::None {
            HEADER_LEN
        } else {
            packet.len()
        };
        for len in 0..checked {
            assert!(
                open(&mut b, &packet[..len]).is_err(),
                "{mode} at {len} bytes"
            );
        }
        for len in 0..HEADER_LEN {
            let expected = OpenError::Truncated {
                need: HEADER_LEN,
                got: len,
            };
            assert_eq!(open(&mut b, &packet[..len]), Err(expected));
        }
        assert_eq!(b.stats().opened, 0);
        // Nothing above changed the window: the whole packet still opens.
        open(&mut b, &packet).unwrap();
    }
}

#[test]
fn stats_count_each_rejection() {
    let mode = CryptoMode::Aes128Gcm;
    let p = packets(mode, 1, 1);
    let mut b = node(mode, 1, 1);
    let mut bad_magic = p[0].clone();
    bad_magic[0] ^= 1;
    let _ = open(&mut b, &bad_magic);
    let _ = open(&mut b, &p[0][..3]);
    open(&mut b, &p[0]).unwrap();
    let _ = open(&mut b, &p[0]);
    // The first packet is authentic but unproven (not counted as opened); once its epoch
    // is proven, its own copy is a replay.
    let expected = CryptoStats {
        unproven: 1,
        not_ours: 1,
        truncated: 1,
        replayed: 1,
        new_epochs: 1,
        ..CryptoStats::default()
    };
    assert_eq!(b.stats(), &expected);
}

#[test]
fn peer_table_is_bounded() {
    let mode = CryptoMode::None;
    let mut b = node(mode, 1, 1);
    for sender in 2..(PEERS_MAX as u32 + 10) {
        let packet = seal(&mut node(mode, sender, 1), 0, b"");
        open(&mut b, &packet).unwrap();
    }
    assert_eq!(b.peers.len(), PEERS_MAX);
    assert!(
        !b.peers.contains_key(&2),
        "the least recently heard sender went first"
    );
}

fn mode_strategy() -> impl Strategy<Value = CryptoMode> {
    prop::sample::select(CryptoMode::ALL.to_vec())
}

fn authenticated_mode() -> impl Strategy<Value = CryptoMode> {
    prop::sample::select(AUTHENTICATED.to_vec())
}

proptest! {
    /// Any single modified byte of a sealed packet is rejected, and the rejection changes
    /// nothing: the genuine packet opens afterwards.
    #[test]
    fn any_modified_byte_is_rejected(
        mode in authenticated_mode(),
        payload in prop::collection::vec(any::<u8>(), 0..300),
        position in any::<prop::sample::Index>(),
        mask in 1u8..,
        receiver_knows_sender in any::<bool>(),
    ) {
        let p = packets(mode, 5, 2);
        let mut sender = node(mode, 2, 5);
        let _ = seal(&mut sender, 1, b"");
        let _ = seal(&mut sender, 1, b"");
        let packet = seal(&mut sender, 3, &payload);
        let mut b = node(mode, 1, 1);
        if receiver_knows_sender {
            open(&mut b, &p[1]).unwrap();
        }
        let mut modified = packet.clone();
        let i = position.index(modified.len());
        modified[i] ^= mask;
        prop_assert!(open(&mut b, &modified).is_err(), "byte {} ^ {:#x} accepted", i, mask);
        prop_assert_eq!(open(&mut b, &packet).unwrap().1, payload);
    }

    /// Mode `None` authenticates nothing; it still rejects a header of another protocol,
    /// version or mode.
    #[test]
    fn none_mode_checks_its_header(position in 0usize..6, mask in 1u8..) {
        prop_assume!(position != 4); // the kind byte is free
        let packet = seal(&mut node(CryptoMode::None, 2, 1), 0, b"payload");
        let mut modified = packet.clone();
        modified[position] ^= mask;
        prop_assert!(open(&mut node(CryptoMode::None, 1, 1), &modified).is_err());
    }

    /// Arbitrary bytes never panic and are never accepted in an authenticated mode.
    #[test]
    fn arbitrary_bytes_never_panic(
        mode in mode_strategy(),
        bytes in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut b = node(mode, 1, 1);
        let result = open(&mut b, &bytes);
        if mode != CryptoMode::None {
            prop_assert!(result.is_err());
        }
    }

    /// Bytes behind a well-formed header, so they reach the key lookup and the tag check.
    #[test]
    fn arbitrary_bytes_behind_a_valid_header_never_panic(
        mode in mode_strategy(),
        sender in any::<u32>(),
        epoch in any::<u64>(),
        counter in any::<u64>(),
        tail in prop::collection::vec(any::<u8>(), 0..100),
    ) {
        let mut b = node(mode, 1, 1);
        open(&mut b, &packets(mode, 1, 1)[0]).unwrap(); // node 2 known at epoch 1
        let header = Header { mode: mode.to_wire(), kind: 0, sender, to: 0, epoch, counter };
        let mut bytes = header.encode().to_vec();
        bytes.extend_from_slice(&tail);
        let result = open(&mut b, &bytes);
        if mode != CryptoMode::None {
            prop_assert!(result.is_err());
        }
    }

    #[test]
    fn fuzz_body_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        fuzz_open(&bytes);
    }
}

#[test]
fn a_packet_sealed_for_one_node_is_refused_by_another() {
    let mut a = node(CryptoMode::Aes256Gcm, 1, 1);
    let mut b = node(CryptoMode::Aes256Gcm, 2, 1);
    let mut c = node(CryptoMode::Aes256Gcm, 3, 1);
    let mut packet = Vec::new();
    a.seal(0, 2, b"token for 2", &mut packet);
    assert_eq!(open(&mut c, &packet).unwrap_err(), OpenError::Misdirected);
    assert_eq!(c.stats().misdirected, 1);
    assert_eq!(open(&mut b, &packet).unwrap().1, b"token for 2");
    // Sealed for every node: both open it.
    a.seal(0, 0, b"ring", &mut packet);
    assert!(open(&mut b, &packet).is_ok());
    assert!(open(&mut c, &packet).is_ok());
}
