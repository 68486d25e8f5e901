//! Ring buffer unit tests: chunk round trips, wrap-around over the double mapping, the full
//! ring, semaphore counts, hostile header values, and a proptest against a `VecDeque` model.

use std::collections::VecDeque;

use proptest::prelude::*;

use super::*;

/// A producer ring and a consumer view of the same files, as the two processes would have.
fn pair(max_msg_size: u32) -> (tempfile::TempDir, Ring, Ring) {
    let dir = tempfile::tempdir().unwrap();
    let name = dir.path().join("qb-request-test");
    let producer = Ring::create(&name, max_msg_size, true, None).unwrap();
    let consumer = Ring::open(&name, max_msg_size, true).unwrap();
    (dir, producer, consumer)
}

fn msg(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn sizes_match_libqb() {
    assert_eq!(data_len(1 << 20), 1_052_672);
    let (dir, p, c) = pair(1 << 20);
    assert_eq!(
        std::fs::metadata(dir.path().join("qb-request-test-header"))
            .unwrap()
            .len(),
        8252
    );
    assert_eq!(p.word_size() as usize * 4, 1_052_672);
    assert_eq!(c.refs(), 2, "creator holds 1, the opener adds 1");
    drop(c);
    assert_eq!(p.refs(), 1);
}

#[test]
fn chunk_round_trip_and_semaphore_counts() {
    let (_dir, mut p, mut c) = pair(4096);
    let mut out = Vec::new();
    assert!(!c.try_read(&mut out).unwrap(), "empty ring");
    for (i, len) in [0usize, 1, 3, 4, 5, 100].into_iter().enumerate() {
        p.write(&msg(len, i as u8)).unwrap();
    }
    assert_eq!(c.sem_value(), 6);
    for (i, len) in [0usize, 1, 3, 4, 5, 100].into_iter().enumerate() {
        assert!(c.try_read(&mut out).unwrap());
        assert_eq!(out, msg(len, i as u8));
    }
    assert_eq!(c.sem_value(), 0);
    assert!(!c.try_read(&mut out).unwrap());
}

#[test]
fn chunks_wrap_across_the_double_mapping() {
    let (_dir, mut p, mut c) = pair(4096);
    let ring_bytes = p.word_size() as usize * 4;
    let mut out = Vec::new();
    // Odd sizes move the cursor around the ring many times.
    for i in 0..200u32 {
        let len = 1000 + (i as usize * 37) % 3000;
        p.write(&msg(len, i as u8)).unwrap();
        assert!(c.try_read(&mut out).unwrap());
        assert_eq!(out, msg(len, i as u8), "chunk {i}");
    }
    assert!(200 * 1000 > ring_bytes * 10, "wrapped many times");
}

#[test]
fn full_ring_reports_full_and_recovers() {
    let (_dir, mut p, mut c) = pair(4096);
    let mut written = 0;
    loop {
        match p.write(&msg(1000, written as u8)) {
            Ok(()) => written += 1,
            Err(RingError::Full) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(written >= 4, "a 8 KiB ring holds several 1000-byte chunks");
    assert_eq!(c.sem_value(), written);
    let mut out = Vec::new();
    assert!(c.try_read(&mut out).unwrap());
    p.write(&msg(1000, 99)).unwrap();
    assert_eq!(p.write(&msg(4096, 0)), Err(RingError::Full));
    assert_eq!(p.write(&msg(4097, 0)), Err(RingError::TooLarge));
}

#[test]
fn max_size_chunk_fits_an_empty_ring_exactly() {
    let (_dir, mut p, mut c) = pair(4096);
    let mut out = Vec::new();
    for i in 0..5 {
        p.write(&msg(4096, i)).unwrap();
        assert!(c.try_read(&mut out).unwrap());
        assert_eq!(out, msg(4096, i));
    }
}

#[test]
fn hostile_read_pt_is_rejected() {
    let (_dir, mut p, c) = pair(4096);
    c.poke_header(offsets::READ_PT, u32::MAX);
    assert!(matches!(p.write(b"hello"), Err(RingError::Corrupt(_))));
    c.poke_header(offsets::READ_PT, p.word_size());
    assert!(matches!(p.write(b"hello"), Err(RingError::Corrupt(_))));
}

#[test]
fn hostile_write_pt_does_not_move_our_cursor() {
    let (_dir, mut p, mut c) = pair(4096);
    p.write(b"first").unwrap();
    // The consumer (or anyone) scribbles over write_pt; the producer keeps its own cursor.
    c.poke_header(offsets::WRITE_PT, u32::MAX);
    p.write(b"second").unwrap();
    let mut out = Vec::new();
    assert!(c.try_read(&mut out).unwrap());
    assert_eq!(out, b"first");
    assert!(c.try_read(&mut out).unwrap());
    assert_eq!(out, b"second");
}

#[test]
fn hostile_chunk_length_and_magic_are_rejected() {
    let (_dir, mut p, mut c) = pair(4096);
    let mut out = Vec::new();
    p.write(b"0123456789abcdef").unwrap();
    let at = c.read_cursor();
    p.poke_word(at, u32::MAX);
    assert!(matches!(c.try_read(&mut out), Err(RingError::Corrupt(_))));

    let (_dir, mut p, mut c) = pair(4096);
    p.write(b"0123456789abcdef").unwrap();
    p.poke_word(c.read_cursor(), 4097);
    assert!(matches!(c.try_read(&mut out), Err(RingError::Corrupt(_))));

    let (_dir, mut p, mut c) = pair(4096);
    p.write(b"0123456789abcdef").unwrap();
    p.poke_word(c.read_cursor() + 1, MAGIC_ALLOC);
    assert!(matches!(c.try_read(&mut out), Err(RingError::Corrupt(_))));
}

#[test]
fn open_rejects_a_mismatched_size() {
    let dir = tempfile::tempdir().unwrap();
    let name = dir.path().join("r");
    let _p = Ring::create(&name, 4096, false, None).unwrap();
    assert!(Ring::open(&name, 1 << 20, false).is_err());
    assert!(Ring::open(&dir.path().join("missing"), 4096, false).is_err());
}

#[derive(Debug, Clone)]
enum Op {
    Write(usize),
    Read,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![(0usize..=4096).prop_map(Op::Write), Just(Op::Read)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn ring_behaves_like_a_bounded_fifo(ops in proptest::collection::vec(op(), 1..200)) {
        let (_dir, mut p, mut c) = pair(4096);
        let size = p.word_size() as usize;
        // Model: the queued messages; free space per libqb's formula over the words used.
        let mut model: VecDeque<Vec<u8>> = VecDeque::new();
        let mut out = Vec::new();
        for (n, op) in ops.into_iter().enumerate() {
            match op {
                Op::Write(len) => {
                    let used: usize = model.iter().map(|m| 2 + m.len().div_ceil(4)).sum();
                    let free = if used == 0 { size } else { size.saturating_sub(used + 1) };
                    let data = msg(len, n as u8);
                    let fits = free * 4 >= len + CHUNK_MARGIN;
                    match p.write(&data) {
                        Ok(()) => { prop_assert!(fits); model.push_back(data); }
                        Err(RingError::Full) => prop_assert!(!fits),
                        Err(e) => prop_assert!(false, "unexpected {e}"),
                    }
                }
                Op::Read => {
                    let got = c.try_read(&mut out).unwrap();
                    match model.pop_front() {
                        Some(want) => { prop_assert!(got); prop_assert_eq!(&out, &want); }
                        None => prop_assert!(!got),
                    }
                }
            }
            prop_assert_eq!(c.sem_value() as usize, model.len());
        }
    }
}
