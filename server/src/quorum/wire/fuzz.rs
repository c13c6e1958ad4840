//! The body of the `quorum_decoders` fuzz target (reached through
//! `zkrs_server::fuzzing`). It panics only on a bug: a decoder that panics, reads past
//! what it reports, or decodes to a value that does not survive its own encoding (for a
//! SNAP stream: a loaded tree that does not load back to the same bytes).

use super::auth::QuorumAuthPacket;
use super::handshake::{election_frame, InitialMessage, MAX_ADDRESS_BYTES};
use super::notification::{Notification, NOTIFICATION_VERSION};
use super::packet::{decode_int_payload, LearnerInfo, QuorumPacket, DEFAULT_MAX_BUFFER};
use super::snap::{read_signature, read_snap, write_signature, write_snap};

/// Reads `data` four ways, as each port would: an election handshake followed by election
/// frames holding notifications, the whole input as election frames, a stream of
/// learner-port packets, and a snapshot streamed after SNAP with its trailer. Returns how many handshakes, notifications and packets decoded,
/// so that a test driving it can tell whether its inputs get past the length checks.
pub(crate) fn decode_quorum_inputs(data: &[u8]) -> usize {
    let mut decoded = 0;
    let mut rest = data;
    if let Ok((msg, used)) = InitialMessage::decode(data) {
        decoded += 1;
        assert!(
            used > 0 && used <= data.len(),
            "handshake took {used} of {}",
            data.len()
        );
        handshake_round_trips(&msg);
        rest = &data[used..];
    }
    decoded += election_frames(rest);
    decoded += election_frames(data);
    decoded += packet_stream(data);
    decoded += snap_stream(data);
    if let Ok(Some((auth, used))) = QuorumAuthPacket::decode(data, DEFAULT_MAX_BUFFER) {
        assert!(used <= data.len());
        let bytes = auth.encode();
        assert_eq!(
            QuorumAuthPacket::decode(&bytes, DEFAULT_MAX_BUFFER),
            Ok(Some((auth, bytes.len()))),
            "auth packet does not round-trip"
        );
        decoded += 1;
    }
    // The payload decoders see the raw input too: packets carry arbitrary data.
    let _ = decode_int_payload(Some(data));
    let _ = LearnerInfo::decode_fields(Some(data));
    if let Ok(info) = LearnerInfo::decode(data) {
        assert_eq!(LearnerInfo::decode(&info.encode()), Ok(info));
    }
    decoded
}

fn handshake_round_trips(msg: &InitialMessage) {
    let bytes = msg.encode();
    let sendable = match msg {
        InitialMessage::SidOnly { .. } => true,
        // Apache refuses an empty list and one over its limit; invalid UTF-8 that became
        // replacement characters can make the re-encoded addresses longer than the input.
        InitialMessage::Versioned { addresses, .. } => {
            !addresses.is_empty() && bytes.len() - 20 <= MAX_ADDRESS_BYTES
        }
    };
    if sendable {
        assert_eq!(
            InitialMessage::decode(&bytes),
            Ok((msg.clone(), bytes.len())),
            "initial message does not round-trip"
        );
    }
}

fn election_frames(mut buf: &[u8]) -> usize {
    let mut decoded = 0;
    while let Ok(Some(range)) = election_frame(buf) {
        assert!(range.start == 4 && range.end <= buf.len() && range.start < range.end);
        decoded += usize::from(notification_round_trips(&buf[range.clone()]));
        buf = &buf[range.end..];
    }
    decoded
}

/// Whether `msg` decoded.
fn notification_round_trips(msg: &[u8]) -> bool {
    let Ok(n) = Notification::decode(msg) else {
        return false;
    };
    let (bytes, expected) = match msg.len() {
        28 => (n.encode_28(), n.clone()),
        40 => (n.encode_40(), n.clone()),
        // Anything else is sent back in the current form, whatever version it came in.
        _ => (
            n.encode(),
            Notification {
                version: NOTIFICATION_VERSION,
                config: Some(n.config.clone().unwrap_or_default()),
                ..n.clone()
            },
        ),
    };
    assert_eq!(
        Notification::decode(&bytes),
        Ok(expected),
        "notification does not round-trip"
    );
    true
}

fn packet_stream(mut buf: &[u8]) -> usize {
    let mut decoded = 0;
    while let Ok((packet, used)) = QuorumPacket::decode(buf, DEFAULT_MAX_BUFFER) {
        // Type, zxid, data length and vector count: 20 bytes at least.
        assert!(
            used >= 20 && used <= buf.len(),
            "packet took {used} of {}",
            buf.len()
        );
        let bytes = packet.encode();
        assert_eq!(
            QuorumPacket::decode(&bytes, DEFAULT_MAX_BUFFER),
            Ok((packet.clone(), bytes.len())),
            "packet does not round-trip"
        );
        let _ = (
            packet.kind.name(),
            decode_int_payload(packet.data.as_deref()),
        );
        let _ = LearnerInfo::decode_fields(packet.data.as_deref());
        buf = &buf[used..];
        decoded += 1;
    }
    decoded
}

/// The input as the body that follows a SNAP packet, then the trailer. Counts the tree
/// and the trailer.
fn snap_stream(data: &[u8]) -> usize {
    let mut rest = data;
    let Ok(tree) = read_snap(&mut rest, 1, DEFAULT_MAX_BUFFER) else {
        return 0;
    };
    let signed = usize::from(read_signature(&mut rest).is_ok());
    // What we write of a loaded tree loads back and writes the same bytes (the input's
    // own bytes need not come back: its ACL numbers and orders are the sender's).
    let mut bytes = Vec::new();
    let wrote = write_snap(&tree, &mut bytes).and_then(|()| write_signature(&mut bytes));
    assert!(wrote.is_ok(), "writing to a Vec failed");
    let mut again = bytes.as_slice();
    let back = match read_snap(&mut again, 1, DEFAULT_MAX_BUFFER) {
        Ok(t) => t,
        Err(e) => panic!("a written snapshot does not load: {e}"),
    };
    assert!(read_signature(&mut again).is_ok() && again.is_empty());
    assert_eq!(
        back.digest(),
        tree.digest(),
        "digest changed on a round trip"
    );
    let mut twice = Vec::new();
    assert!(write_snap(&back, &mut twice)
        .and_then(|()| write_signature(&mut twice))
        .is_ok());
    assert_eq!(twice, bytes, "snapshot does not round-trip");
    1 + signed
}
