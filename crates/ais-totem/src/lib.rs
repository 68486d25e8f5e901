//! The Totem single-ring ordering and membership protocol, sans-IO.
//!
//! One [`Totem`] is one processor's view of the ring. Time, packets and application
//! messages come in through `handle_*` and [`Totem::submit`]; packets to send, the next
//! deadline, deliveries and configuration changes come out through [`Totem::poll_output`] and
//! [`Totem::poll_timeout`]. Nothing in this crate reads a clock, opens a socket or spawns a
//! thread, so a whole cluster can run inside the deterministic simulator (`ais-sim`).
//!
//! # Words (TOCS95 = Amir et al., "The Totem Single-Ring Ordering and Membership Protocol")
//! - **ring**: the processors of one regular configuration in ascending node-id order, each
//!   forwarding the token to its successor. Its id is `rep.seq` ([`ais_types::RingId`]).
//! - **token**: "only the processor holding the token may broadcast" (TOCS95 §5); it carries
//!   `seq`, the highest sequence number assigned on the ring, and `aru`.
//! - **seq**: a frame's position in the ring's total order, from 1; 64 bits, never wraps.
//! - **aru** ("all received up to"): the processor holds every frame with a lower or equal
//!   seq. The token's `aru` is the minimum over the ring, kept by the `aru_addr` rule.
//! - **rtr**: the token's list of sequence numbers somebody is missing ("retransmission
//!   request list", TOCS95 §5.1).
//! - **high_delivered**: the highest seq delivered to the application.
//! - **fcc / backlog**: flow-control fields of the token (TOCS95 §8): frames sent in the last
//!   rotation, and the summed send-queue lengths.
//! - **agreed / safe**: "A processor delivers a message in agreed order ... when it has
//!   delivered all messages with lower sequence numbers"; safe, in addition, "only when it
//!   knows that every processor in the configuration has received the message" (TOCS95
//!   §5.2). Safety is known once the token's aru covered the frame on two successive visits.
//! - **gather / commit / recovery**: the membership states (TOCS95 §6–7): Join messages until
//!   consensus on `proc_set − fail_set`; a commit token rotates twice to install the new ring;
//!   old-ring frames are re-sent on the new ring; then the transitional configuration, the
//!   remaining old-ring messages and the regular configuration are delivered.
//! - **transitional configuration**: the members of the new ring that come from my old ring;
//!   old-ring messages that cannot be delivered with their guarantee on the old ring are
//!   delivered in it (extended virtual synchrony).

mod config;
mod membership;
mod node;
mod ordering;
mod packing;
mod ring_log;
mod timers;

#[doc(hidden)]
pub mod testing;

pub use ais_wire::Order;
pub use config::{ConfigError, TotemConfig};
pub use node::{Totem, TotemStats};
pub use timers::Timer;

use ais_types::{NodeId, RingId};
use bytes::Bytes;

/// Where a packet goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dest {
    /// Every configured node but this one (IP multicast, or a unicast to each).
    Ring,
    /// One node (the token and the commit token).
    Node(NodeId),
}

/// One application message delivered in total order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The processor that submitted it.
    pub origin: NodeId,
    /// The ring it was ordered on.
    pub ring_id: RingId,
    /// Its frame's sequence number on that ring.
    pub seq: u64,
    /// Its position among the messages completed by that frame.
    pub index: u32,
    /// The guarantee it was submitted with.
    pub order: Order,
    /// The message.
    pub payload: Bytes,
}

/// A configuration change, delivered in order with the messages (EVS).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigChange {
    /// The members of the new ring that come from this processor's old ring. Old-ring
    /// messages delivered after it are delivered in this smaller configuration.
    Transitional {
        /// The old ring.
        old_ring_id: RingId,
        /// The new ring.
        ring_id: RingId,
        /// Members: the old ring's processors that move to the new ring together.
        members: Vec<NodeId>,
        /// Old-ring members not in it.
        left: Vec<NodeId>,
    },
    /// A new ring is operational.
    Regular {
        /// The ring.
        ring_id: RingId,
        /// Its members, ascending.
        members: Vec<NodeId>,
        /// Members that were not in the transitional configuration.
        joined: Vec<NodeId>,
        /// Members of the previous regular configuration that are not in this one.
        left: Vec<NodeId>,
    },
}

/// What the shell must do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send a packet.
    Transmit {
        /// Destination.
        to: Dest,
        /// Encoded packet.
        packet: Bytes,
    },
    /// Hand a message to the application.
    Deliver(Delivery),
    /// Hand a configuration change to the application.
    Configuration(ConfigChange),
    /// Store the ring sequence number durably before sending anything that follows.
    Persist(u64),
}

/// State that survives a restart (corosync's `ringid_<nodeid>` file).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Persisted {
    /// The highest ring sequence number this processor ever adopted.
    pub ring_seq: u64,
}

/// Why a message was not queued. On error nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The send queue is full; try again once the ring has drained it.
    #[error("send queue full ({queued} bytes queued)")]
    Backlog {
        /// Bytes waiting.
        queued: usize,
    },
    /// Larger than [`ais_types::MESSAGE_SIZE_MAX`].
    #[error("message of {0} bytes exceeds the 1 MiB limit")]
    TooLarge(usize),
    /// The processor has left the ring.
    #[error("processor has left the ring")]
    Left,
}

/// A deliberate protocol bug (feature `planted-bugs`), to prove the simulator's checker
/// catches real mistakes.
#[cfg(feature = "planted-bugs")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlantedBug {
    /// Deliver the next frame held even when lower sequence numbers are missing.
    DeliverBeforeGap,
    /// Never answer retransmission requests.
    SkipRetransmission,
    /// When consensus times out, install `proc − fail` at once, without the commit token
    /// and without recovery.
    InstallWithoutConsensus,
    /// Deliver a safe message as soon as it is agreed, without waiting until every member
    /// holds it.
    SafeWhenAgreed,
    /// Never deliver the messages of each ring's fifth frame (every processor alike, so
    /// the order they agree on has a hole).
    LoseFifthFrame,
}
