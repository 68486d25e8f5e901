//! The frame every service message travels in on the ring.
//!
//! Layout (little-endian): `service` u8, `class` u8 (0 application, 1 sync), and for sync
//! messages the ring they were sent for (`rep` u32, `seq` u64); the service's body follows.

use ais_types::{NodeId, RingId};
use bytes::{BufMut, Bytes, BytesMut};

use crate::ServiceId;

/// Application message, or sync message of one ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    App,
    Sync(RingId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Envelope {
    pub(crate) service: ServiceId,
    pub(crate) class: Class,
}

/// Why a ring message is not a service message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Malformed;

const CLASS_APP: u8 = 0;
const CLASS_SYNC: u8 = 1;

impl Envelope {
    pub(crate) fn app(service: ServiceId) -> Self {
        Self {
            service,
            class: Class::App,
        }
    }

    pub(crate) fn sync(service: ServiceId, ring: RingId) -> Self {
        Self {
            service,
            class: Class::Sync(ring),
        }
    }

    pub(crate) fn encode(&self, body: &[u8]) -> Bytes {
        let mut out = BytesMut::with_capacity(14 + body.len());
        out.put_u8(self.service.0);
        match self.class {
            Class::App => out.put_u8(CLASS_APP),
            Class::Sync(ring) => {
                out.put_u8(CLASS_SYNC);
                out.put_u32_le(ring.rep.0);
                out.put_u64_le(ring.seq);
            }
        }
        out.put_slice(body);
        out.freeze()
    }

    /// The envelope and the body, which shares `payload`'s buffer.
    pub(crate) fn decode(payload: &Bytes) -> Result<(Self, Bytes), Malformed> {
        let (&service, rest) = payload.split_first().ok_or(Malformed)?;
        let (&class, rest) = rest.split_first().ok_or(Malformed)?;
        let service = ServiceId(service);
        match class {
            CLASS_APP => Ok((Self::app(service), payload.slice(2..))),
            CLASS_SYNC => {
                let rep = rest.get(..4).ok_or(Malformed)?;
                let seq = rest.get(4..12).ok_or(Malformed)?;
                let ring = RingId::new(
                    NodeId(u32::from_le_bytes(rep.try_into().map_err(|_| Malformed)?)),
                    u64::from_le_bytes(seq.try_into().map_err(|_| Malformed)?),
                );
                Ok((Self::sync(service, ring), payload.slice(14..)))
            }
            _ => Err(Malformed),
        }
    }
}
