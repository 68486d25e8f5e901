//! The bytes of `ais-bench` messages: a 40-byte header on every message, filler up to the
//! requested size on DATA, a fixed summary after the header on REPORT. Little-endian.
//!
//! Header: `magic` u32 @0, `kind` u32 @4, `nodeid` u32 @8, `pid` u32 @12, `run` u32 @16,
//! reserved u32 @20, `seq` u64 @24, `send_ns` u64 @32 (the sender's `CLOCK_MONOTONIC`,
//! comparable across the processes of one machine).

use ais_types::NodeId;

/// "AISB".
pub const MAGIC: u32 = u32::from_le_bytes(*b"AISB");
/// Encoded header length, the smallest message.
pub const HEADER_LEN: usize = 40;
/// Encoded REPORT length.
pub const REPORT_LEN: usize = HEADER_LEN + Report::LEN;

/// What a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A measured message; `seq` counts a sender's DATA in a run from 0.
    Data = 1,
    /// A sender is done with a run; `seq` is how many DATA it sent.
    End = 2,
    /// A member's summary of a run ([`Report`] follows the header).
    Report = 3,
}

/// The header of every message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// What the message is.
    pub kind: Kind,
    /// The sender's node.
    pub nodeid: NodeId,
    /// The sender's pid.
    pub pid: u32,
    /// Which phase (size) of the benchmark.
    pub run: u32,
    /// Sequence number (see [`Kind`]).
    pub seq: u64,
    /// When it was sent, `CLOCK_MONOTONIC` nanoseconds.
    pub send_ns: u64,
}

/// Why bytes are not a benchmark message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Shorter than what its kind needs.
    #[error("message of {0} bytes is too short")]
    Short(usize),
    /// Not ours (another application in the group?).
    #[error("bad magic {0:#010x}")]
    Magic(u32),
    /// Unknown kind.
    #[error("unknown message kind {0}")]
    Kind(u32),
}

impl Header {
    /// Writes the header into the first [`HEADER_LEN`] bytes of `out`.
    pub fn encode(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&MAGIC.to_le_bytes());
        out[4..8].copy_from_slice(&(self.kind as u32).to_le_bytes());
        out[8..12].copy_from_slice(&self.nodeid.0.to_le_bytes());
        out[12..16].copy_from_slice(&self.pid.to_le_bytes());
        out[16..20].copy_from_slice(&self.run.to_le_bytes());
        out[20..24].fill(0);
        out[24..32].copy_from_slice(&self.seq.to_le_bytes());
        out[32..40].copy_from_slice(&self.send_ns.to_le_bytes());
    }

    /// A message of `size` bytes (at least [`HEADER_LEN`]): the header, then filler.
    pub fn message(&self, size: usize) -> Vec<u8> {
        let mut out = vec![0xa5; size.max(HEADER_LEN)];
        self.encode(&mut out);
        out
    }

    /// Reads the header of `buf`.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        if buf.len() < HEADER_LEN {
            return Err(DecodeError::Short(buf.len()));
        }
        let magic = u32_at(buf, 0);
        if magic != MAGIC {
            return Err(DecodeError::Magic(magic));
        }
        let kind = match u32_at(buf, 4) {
            1 => Kind::Data,
            2 => Kind::End,
            3 if buf.len() >= REPORT_LEN => Kind::Report,
            3 => return Err(DecodeError::Short(buf.len())),
            k => return Err(DecodeError::Kind(k)),
        };
        Ok(Self {
            kind,
            nodeid: NodeId(u32_at(buf, 8)),
            pid: u32_at(buf, 12),
            run: u32_at(buf, 16),
            seq: u64_at(buf, 24),
            send_ns: u64_at(buf, 32),
        })
    }
}

/// One member's summary of a run, multicast at its end so that every member can compare.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// DATA messages delivered.
    pub delivered: u64,
    /// Hash of (sender nodeid, pid, seq) of every DATA in delivery order.
    pub order_hash: u64,
    /// First DATA delivery, `CLOCK_MONOTONIC` ns.
    pub first_ns: u64,
    /// Last DATA delivery, `CLOCK_MONOTONIC` ns.
    pub last_ns: u64,
    /// DATA this member sent.
    pub sent: u64,
    /// How often its mcast answered TRY_AGAIN.
    pub try_again: u64,
    /// Latency samples (own messages delivered back); 0 for a member that did not send.
    pub latency_count: u64,
    /// Median latency, ns.
    pub p50_ns: u64,
    /// 99th percentile latency, ns.
    pub p99_ns: u64,
    /// Largest latency, ns.
    pub max_ns: u64,
}

impl Report {
    /// Encoded length.
    pub const LEN: usize = 80;

    /// The REPORT message: `header` (kind REPORT) followed by the summary.
    pub fn message(&self, header: &Header) -> Vec<u8> {
        let mut out = vec![0; REPORT_LEN];
        header.encode(&mut out);
        let fields = [
            self.delivered,
            self.order_hash,
            self.first_ns,
            self.last_ns,
            self.sent,
            self.try_again,
            self.latency_count,
            self.p50_ns,
            self.p99_ns,
            self.max_ns,
        ];
        for (i, v) in fields.iter().enumerate() {
            let at = HEADER_LEN + 8 * i;
            out[at..at + 8].copy_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// Reads the summary of a REPORT message whose header decoded.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        if buf.len() < REPORT_LEN {
            return Err(DecodeError::Short(buf.len()));
        }
        let f = |i: usize| u64_at(buf, HEADER_LEN + 8 * i);
        Ok(Self {
            delivered: f(0),
            order_hash: f(1),
            first_ns: f(2),
            last_ns: f(3),
            sent: f(4),
            try_again: f(5),
            latency_count: f(6),
            p50_ns: f(7),
            p99_ns: f(8),
            max_ns: f(9),
        })
    }
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    let mut b = [0; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    u32::from_le_bytes(b)
}

fn u64_at(buf: &[u8], at: usize) -> u64 {
    let mut b = [0; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: Kind) -> Header {
        Header {
            kind,
            nodeid: NodeId(3),
            pid: 4242,
            run: 2,
            seq: 1 << 40,
            send_ns: 123_456_789,
        }
    }

    #[test]
    fn data_round_trips_with_filler() {
        let h = header(Kind::Data);
        let msg = h.message(64);
        assert_eq!(msg.len(), 64);
        assert_eq!(&msg[0..4], b"AISB");
        assert_eq!(&msg[8..12], &[3, 0, 0, 0]);
        assert!(msg[HEADER_LEN..].iter().all(|&b| b == 0xa5));
        assert_eq!(Header::decode(&msg), Ok(h));
        // Sizes below the header are raised to it.
        assert_eq!(h.message(1).len(), HEADER_LEN);
    }

    #[test]
    fn report_round_trips() {
        let h = header(Kind::Report);
        let r = Report {
            delivered: 1,
            order_hash: 2,
            first_ns: 3,
            last_ns: 4,
            sent: 5,
            try_again: 6,
            latency_count: 7,
            p50_ns: 8,
            p99_ns: 9,
            max_ns: 10,
        };
        let msg = r.message(&h);
        assert_eq!(msg.len(), REPORT_LEN);
        assert_eq!(Header::decode(&msg), Ok(h));
        assert_eq!(Report::decode(&msg), Ok(r));
    }

    #[test]
    fn foreign_and_short_messages_are_rejected() {
        assert_eq!(Header::decode(b"short"), Err(DecodeError::Short(5)));
        let mut msg = header(Kind::Data).message(48);
        msg[0] = b'X';
        assert!(matches!(Header::decode(&msg), Err(DecodeError::Magic(_))));
        let mut bad_kind = header(Kind::Data).message(48);
        bad_kind[4] = 9;
        assert_eq!(Header::decode(&bad_kind), Err(DecodeError::Kind(9)));
        // A REPORT header without its summary.
        let short_report = header(Kind::Report).message(HEADER_LEN);
        assert_eq!(
            Header::decode(&short_report),
            Err(DecodeError::Short(HEADER_LEN))
        );
    }
}
