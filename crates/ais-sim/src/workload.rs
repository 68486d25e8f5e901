//! The workload: every node submits agreed and safe messages of random sizes. Each payload
//! names itself (sender, incarnation, counter) and its filler bytes are a function of that
//! name, so the checker can tell a delivered message from a created or altered one.

use ais_totem::Order;
use ais_types::NodeId;
use bytes::Bytes;

use crate::rng::SimRng;

/// The identity of one submitted message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MsgKey {
    /// The sending node.
    pub origin: NodeId,
    /// The sender's incarnation.
    pub inc: u32,
    /// Its per-incarnation counter, from 1.
    pub counter: u64,
}

const HEADER: usize = 4 + 4 + 8 + 1 + 4;

fn filler(key: &MsgKey, i: usize) -> u8 {
    (key.counter as u8).wrapping_add(i as u8) ^ (key.origin.0 as u8)
}

/// The payload of message `key`, `len` bytes long (at least the header).
pub fn encode_payload(key: MsgKey, order: Order, len: usize) -> Bytes {
    let len = len.max(HEADER);
    let mut b = Vec::with_capacity(len);
    b.extend_from_slice(&key.origin.0.to_le_bytes());
    b.extend_from_slice(&key.inc.to_le_bytes());
    b.extend_from_slice(&key.counter.to_le_bytes());
    b.push(u8::from(order == Order::Safe));
    b.extend_from_slice(&(len as u32).to_le_bytes());
    b.extend((HEADER..len).map(|i| filler(&key, i)));
    Bytes::from(b)
}

/// The identity and order a payload claims, if it is intact.
pub fn decode_payload(p: &[u8]) -> Option<(MsgKey, Order)> {
    if p.len() < HEADER {
        return None;
    }
    let u32_at = |i: usize| u32::from_le_bytes(p[i..i + 4].try_into().expect("4 bytes"));
    let key = MsgKey {
        origin: NodeId(u32_at(0)),
        inc: u32_at(4),
        counter: u64::from_le_bytes(p[8..16].try_into().expect("8 bytes")),
    };
    let order = match p[16] {
        0 => Order::Agreed,
        1 => Order::Safe,
        _ => return None,
    };
    if u32_at(17) as usize != p.len() || (HEADER..p.len()).any(|i| p[i] != filler(&key, i)) {
        return None;
    }
    Some((key, order))
}

/// The identity and order of any message on the simulated ring: a workload payload, or a
/// service message behind its tag.
pub fn decode_any(p: &[u8]) -> Option<(MsgKey, Order)> {
    if p.first() == Some(&crate::services::SERVICE_TAG) {
        crate::services::untag(p)
    } else {
        decode_payload(p)
    }
}

/// A message size: mostly small, some spanning several frames, rarely up to 1 MiB.
pub fn message_size(rng: &mut SimRng, huge: bool) -> usize {
    let r = rng.unit();
    if r < 0.70 {
        rng.range(HEADER as u64, 200) as usize
    } else if r < 0.95 {
        rng.range(200, 4000) as usize
    } else if r < 0.995 || !huge {
        rng.range(4000, 64 * 1024) as usize
    } else {
        rng.range(64 * 1024, ais_types::MESSAGE_SIZE_MAX as u64 + 1) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_detect_tampering() {
        let key = MsgKey {
            origin: NodeId(3),
            inc: 2,
            counter: 99,
        };
        let p = encode_payload(key, Order::Safe, 300);
        assert_eq!(p.len(), 300);
        assert_eq!(decode_payload(&p), Some((key, Order::Safe)));
        let mut bad = p.to_vec();
        bad[200] ^= 1;
        assert_eq!(decode_payload(&bad), None);
        assert_eq!(decode_payload(&p[..299]), None);
    }
}
