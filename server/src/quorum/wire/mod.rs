//! The election and learner ports' wire formats (Apache 3.8/3.9).
//!
//! Pure encode/decode, no I/O. Every decoder takes untrusted bytes, checks each length
//! against both Apache's limit and what is actually in the buffer before allocating, and
//! returns a typed [`WireError`] instead of panicking. A [`WireError::Truncated`] from a
//! decoder that reads a stream prefix means "read more bytes and try again"; every other
//! error is one Apache would also close the connection for (or skip the message for).
//!
//! - [`handshake`]: the first bytes a dialing peer sends on the election port, and the
//!   `[int len][bytes]` framing of the election messages that follow.
//! - [`notification`]: fast leader election's notification message.
//! - [`packet`]: `QuorumPacket`, the records of the learner port, and their payloads.
//! - [`auth`]: quorum SASL frames, only to recognise a peer that has SASL turned on.
//! - [`snap`]: the snapshot a leader streams after SNAP, and its `BenWasHere` trailer.
//!
//! The byte layouts were checked against Apache's own classes: see
//! `server/tests/fixtures/quorum/README.md` for the fixtures and how they are made.

pub mod auth;
pub mod handshake;
pub mod notification;
pub mod packet;
pub mod snap;

mod cursor;
pub(crate) mod fuzz;
#[cfg(test)]
mod tests;

/// Why bytes from a peer were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The buffer ends inside a field. For stream decoders: wait for more bytes.
    #[error("truncated: {needed} bytes needed, {remaining} left")]
    Truncated { needed: usize, remaining: usize },
    /// An initial message whose first long is negative but neither known version.
    #[error("unrecognized election protocol version {0}")]
    UnknownProtocolVersion(i64),
    /// The initial message's address length is outside `1..=MAX_ADDRESS_BYTES`.
    #[error("unreasonable election address length {0}")]
    AddressLength(i32),
    /// An address without exactly one host and one port.
    #[error("badly formed election address {0:?}")]
    BadAddress(String),
    /// A port that is not a decimal number in `0..=65535`.
    #[error("bad port number {0:?}")]
    BadPort(String),
    /// An election message length outside `1..=ELECTION_PACKET_MAX`.
    #[error("election message length {0} out of range")]
    ElectionFrameLength(i32),
    /// A notification shorter than the oldest format (28 bytes).
    #[error("notification of {0} bytes is too short")]
    ShortNotification(usize),
    /// A notification's config length is negative or larger than the message.
    #[error("config length {len} invalid in a notification of {capacity} bytes")]
    ConfigLength { len: i32, capacity: usize },
    /// A notification from a peer in a state Apache does not know; Apache drops these.
    #[error("unknown peer state {0}")]
    UnknownPeerState(i32),
    /// A jute buffer or string length above the reader's limit, or negative but not -1.
    #[error("unreasonable jute length {len} (limit {limit})")]
    UnreasonableLength { len: i32, limit: usize },
    /// A payload that must be present (a jute null buffer was sent).
    #[error("missing packet payload")]
    MissingPayload,
}

impl WireError {
    /// Whether more bytes could make the input decode: the only error a stream reader
    /// should answer by reading on rather than closing the connection.
    pub fn is_incomplete(&self) -> bool {
        matches!(self, WireError::Truncated { .. })
    }
}
