//! Fixtures from Apache's own classes (server/tests/fixtures/quorum, see its README) and
//! malformed input.

use zkrs_proto::Id;

use super::auth::{AuthStatus, QuorumAuthPacket, QUORUM_AUTH_MAGIC};
use super::handshake::{
    election_frame, frame_election_message, ElectionAddr, InitialMessage, ELECTION_PACKET_MAX,
    OBSERVER_ID, PROTOCOL_VERSION_V1, PROTOCOL_VERSION_V2,
};
use super::notification::{Notification, PeerState, NOTIFICATION_VERSION};
use super::packet::{
    ack_epoch, decode_int_payload, leader_info, LearnerInfo, LearnerInfoFields, PacketType,
    QuorumPacket, DEFAULT_MAX_BUFFER, ZAB_PROTOCOL_VERSION,
};
use super::WireError;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../../tests/fixtures/quorum/", $name)).as_slice()
    };
}

const CONFIG: &[u8] = fixture!("notification_config.txt");

fn zxid(epoch: i64, counter: i64) -> i64 {
    epoch << 32 | counter
}

// ---- notifications ----

#[test]
fn current_notifications_decode_and_re_encode() {
    let vote = |state, leader, zx, election_epoch, peer_epoch, config: &[u8]| Notification {
        state,
        leader,
        zxid: zx,
        election_epoch,
        peer_epoch,
        version: NOTIFICATION_VERSION,
        config: Some(config.to_vec()),
    };
    let min = i64::MIN;
    let cases = [
        (
            fixture!("notification_looking.bin"),
            vote(PeerState::Looking, 2, zxid(5, 7), 9, 5, CONFIG),
        ),
        (
            fixture!("notification_following.bin"),
            vote(PeerState::Following, 3, zxid(6, 0), 4, 6, CONFIG),
        ),
        (
            fixture!("notification_leading_no_config.bin"),
            vote(PeerState::Leading, 3, zxid(6, 1), 4, 6, b""),
        ),
        (
            fixture!("notification_observing.bin"),
            vote(PeerState::Observing, min, min, 1, min, CONFIG),
        ),
    ];
    for (bytes, expected) in cases {
        let n = Notification::decode(bytes).expect("decodes");
        assert_eq!(n, expected);
        assert_eq!(n.encode(), bytes, "{:?} re-encodes", n.state);
    }
    assert!(CONFIG.starts_with(b"server.1=127.0.0.1:2888:3888:participant\n"));
}

#[test]
fn old_notification_forms_decode_as_apache_reads_them() {
    let forty = fixture!("notification_40.bin");
    assert_eq!(forty.len(), 40);
    let n = Notification::decode(forty).unwrap();
    // The version word (1) is not read from a 40-byte message.
    let expected = Notification {
        state: PeerState::Looking,
        leader: 1,
        zxid: zxid(2, 3),
        election_epoch: 7,
        peer_epoch: 2,
        version: 0,
        config: None,
    };
    assert_eq!(n, expected);
    assert_eq!(n.encode_40(), forty);

    let short = fixture!("notification_28.bin");
    let n = Notification::decode(short).unwrap();
    // No peerEpoch: the zxid's epoch stands in, which is 2 here too.
    assert_eq!(n, expected);
    assert_eq!(n.encode_28(), short);
    let mut other = short.to_vec();
    other[12..20].copy_from_slice(&zxid(9, 1).to_be_bytes());
    assert_eq!(Notification::decode(&other).unwrap().peer_epoch, 9);
}

#[test]
fn notification_lengths_apache_refuses_or_tolerates() {
    let full = fixture!("notification_looking.bin");
    for len in 0..28 {
        assert_eq!(
            Notification::decode(&full[..len]),
            Err(WireError::ShortNotification(len))
        );
    }
    // 29..=39 (but 28 and 40 are the old forms): the version read underflows.
    for len in (29..40).chain(41..44) {
        assert!(
            matches!(
                Notification::decode(&full[..len]),
                Err(WireError::Truncated { .. })
            ),
            "{len} bytes"
        );
    }
    // The config cut short.
    assert!(matches!(
        Notification::decode(&full[..full.len() - 1]),
        Err(WireError::Truncated { .. })
    ));
    // Trailing bytes are ignored.
    let mut longer = full.to_vec();
    longer.extend_from_slice(b"junk");
    assert_eq!(Notification::decode(&longer), Notification::decode(full));
    // A version of 1 or less reads no config, whatever follows.
    let mut v1 = full.to_vec();
    v1[36..40].copy_from_slice(&1i32.to_be_bytes());
    let n = Notification::decode(&v1).unwrap();
    assert_eq!((n.version, n.config), (1, None));
    v1[36..40].copy_from_slice(&(-7i32).to_be_bytes());
    assert_eq!(Notification::decode(&v1).unwrap().version, -7);
    // Config lengths: negative, or above the message's own length.
    for bad in [-1i32, i32::MIN, full.len() as i32 + 1, i32::MAX] {
        let mut m = full.to_vec();
        m[40..44].copy_from_slice(&bad.to_be_bytes());
        assert_eq!(
            Notification::decode(&m),
            Err(WireError::ConfigLength {
                len: bad,
                capacity: full.len()
            })
        );
    }
    // Within the message's length but past its end: underflow.
    let mut m = full.to_vec();
    m[40..44].copy_from_slice(&(full.len() as i32).to_be_bytes());
    assert!(matches!(
        Notification::decode(&m),
        Err(WireError::Truncated { .. })
    ));
    // Unknown states.
    for state in [4, -1, i32::MAX] {
        let mut m = full.to_vec();
        m[..4].copy_from_slice(&state.to_be_bytes());
        assert_eq!(
            Notification::decode(&m),
            Err(WireError::UnknownPeerState(state))
        );
    }
}

#[test]
fn peer_state_codes_are_apache_ordinals() {
    for (code, state) in [
        (0, PeerState::Looking),
        (1, PeerState::Following),
        (2, PeerState::Leading),
        (3, PeerState::Observing),
    ] {
        assert_eq!(PeerState::from_code(code), Some(state));
        assert_eq!(state.code(), code);
    }
    assert_eq!(PeerState::from_code(4), None);
}

// ---- election handshake and framing ----

/// `initial_parsed.txt`: `name sid=N addrs=host#port,...` as Apache's parser read each file.
fn apache_parsed(name: &str) -> (i64, Vec<ElectionAddr>) {
    let text = std::str::from_utf8(fixture!("initial_parsed.txt")).unwrap();
    let line = text
        .lines()
        .find(|l| l.split(' ').next() == Some(name))
        .unwrap_or_else(|| panic!("{name} not in initial_parsed.txt"));
    let mut fields = line.split(' ').skip(1);
    let sid = fields
        .next()
        .unwrap()
        .strip_prefix("sid=")
        .unwrap()
        .parse()
        .unwrap();
    let addrs = fields.next().unwrap().strip_prefix("addrs=").unwrap();
    let addrs = addrs
        .split(',')
        .filter(|a| !a.is_empty())
        .map(|a| {
            let (host, port) = a.rsplit_once('#').unwrap();
            ElectionAddr::new(host, port.parse().unwrap())
        })
        .collect();
    (sid, addrs)
}

#[test]
fn initial_messages_decode_as_apache_parses_them() {
    let cases: [(&str, &[u8], i64); 5] = [
        (
            "initial_v1",
            fixture!("initial_v1.bin"),
            PROTOCOL_VERSION_V1,
        ),
        (
            "initial_v1_ipv6",
            fixture!("initial_v1_ipv6.bin"),
            PROTOCOL_VERSION_V1,
        ),
        (
            "initial_v2_multi",
            fixture!("initial_v2_multi.bin"),
            PROTOCOL_VERSION_V2,
        ),
        (
            "initial_v1_wildcard",
            fixture!("initial_v1_wildcard.bin"),
            PROTOCOL_VERSION_V1,
        ),
        (
            "initial_observer_id",
            fixture!("initial_observer_id.bin"),
            PROTOCOL_VERSION_V1,
        ),
    ];
    for (name, bytes, version) in cases {
        let (sid, addresses) = apache_parsed(name);
        let (msg, used) = InitialMessage::decode(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(used, bytes.len(), "{name}");
        assert_eq!(
            msg,
            InitialMessage::Versioned {
                protocol_version: version,
                sid,
                addresses: addresses.clone(),
            },
            "{name}"
        );
        if name != "initial_v1_wildcard" {
            assert_eq!(msg.encode(), bytes, "{name} re-encodes");
        }
        // Whatever follows the message on the socket is not part of it.
        let mut more = bytes.to_vec();
        more.extend_from_slice(&[0, 0, 0, 44]);
        assert_eq!(InitialMessage::decode(&more).unwrap().1, bytes.len());
    }
    let v1 = InitialMessage::v1(1, ElectionAddr::new("127.0.0.1", 3888));
    assert_eq!(v1.encode(), fixture!("initial_v1.bin"));
    assert_eq!(v1.sid(), 1);

    let old = fixture!("initial_sid_only.bin");
    assert_eq!(
        InitialMessage::decode(old),
        Ok((InitialMessage::SidOnly { sid: 5 }, 8))
    );
    assert_eq!(InitialMessage::SidOnly { sid: 5 }.encode(), old);
}

fn initial(version: i64, sid: i64, addr: &[u8]) -> Vec<u8> {
    let mut out = version.to_be_bytes().to_vec();
    out.extend_from_slice(&sid.to_be_bytes());
    out.extend_from_slice(&(addr.len() as i32).to_be_bytes());
    out.extend_from_slice(addr);
    out
}

fn addrs_of(bytes: &[u8]) -> Result<Vec<ElectionAddr>, WireError> {
    match InitialMessage::decode(bytes)?.0 {
        InitialMessage::Versioned { addresses, .. } => Ok(addresses),
        InitialMessage::SidOnly { .. } => panic!("not versioned"),
    }
}

#[test]
fn initial_message_refusals_follow_apache() {
    let good = fixture!("initial_v1.bin");
    for len in 0..good.len() {
        assert!(
            InitialMessage::decode(&good[..len])
                .unwrap_err()
                .is_incomplete(),
            "{len} bytes"
        );
    }
    for version in [-1i64, -65534, -65537, i64::MIN] {
        assert_eq!(
            InitialMessage::decode(&initial(version, 1, b"h:1")),
            Err(WireError::UnknownProtocolVersion(version))
        );
    }
    // Address lengths: 1..=2048.
    for n in [0i32, -1, 2049, i32::MAX] {
        let mut m = initial(PROTOCOL_VERSION_V1, 1, b"");
        m[16..20].copy_from_slice(&n.to_be_bytes());
        assert_eq!(InitialMessage::decode(&m), Err(WireError::AddressLength(n)));
    }
    let long_host = format!("{}:1", "h".repeat(2046));
    assert_eq!(
        addrs_of(&initial(PROTOCOL_VERSION_V1, 1, long_host.as_bytes()))
            .unwrap()
            .len(),
        1
    );
    // Shapes Apache's host:port split accepts, and what it makes of them.
    type Want = &'static [(&'static str, u16)];
    let ok: [(&[u8], Want); 8] = [
        (b"h:1", &[("h", 1)]),
        (b"h:1:", &[("h", 1)]),
        (b"h:1|", &[("h", 1)]),
        (b"[::1]:7", &[("::1", 7)]),
        (b"[::1]x7", &[("::1", 7)]),
        (b":5", &[("", 5)]),
        (b"h:+5|i:0", &[("h", 5), ("i", 0)]),
        (b"0.0.0.0:1|[::]:2|h:3", &[("h", 3)]),
    ];
    for (addr, want) in ok {
        let want: Vec<_> = want.iter().map(|&(h, p)| ElectionAddr::new(h, p)).collect();
        assert_eq!(
            addrs_of(&initial(PROTOCOL_VERSION_V2, 1, addr)),
            Ok(want),
            "{addr:?}"
        );
    }
    assert_eq!(addrs_of(&initial(PROTOCOL_VERSION_V2, 1, b"|")), Ok(vec![]));
    for addr in [
        &b"h"[..],
        b"h:1:2",
        b"|h:1",
        b"[::1]",
        b"[::1]:",
        b"[::1:5",
        b"::1:5",
        b":",
        b"h::1",
    ] {
        assert!(
            matches!(
                addrs_of(&initial(PROTOCOL_VERSION_V1, 1, addr)),
                Err(WireError::BadAddress(_))
            ),
            "{addr:?}"
        );
    }
    for addr in [
        &b"h:x"[..],
        b"h:65536",
        b"h:-1",
        b"h:99999999999",
        b"h:+",
        b"h: 1",
        b"h:\xff",
    ] {
        assert!(
            matches!(
                addrs_of(&initial(PROTOCOL_VERSION_V1, 1, addr)),
                Err(WireError::BadPort(_))
            ),
            "{addr:?}"
        );
    }
}

#[test]
fn election_frames() {
    let body = fixture!("notification_looking.bin");
    let framed = frame_election_message(body);
    assert_eq!(election_frame(&framed), Ok(Some(4..4 + body.len())));
    for len in 0..framed.len() {
        assert_eq!(election_frame(&framed[..len]), Ok(None), "{len}");
    }
    for len in [0i32, -1, ELECTION_PACKET_MAX as i32 + 1, i32::MIN] {
        assert_eq!(
            election_frame(&len.to_be_bytes()),
            Err(WireError::ElectionFrameLength(len))
        );
    }
    assert_eq!(
        election_frame(&(ELECTION_PACKET_MAX as i32).to_be_bytes()),
        Ok(None)
    );
}

// ---- quorum packets ----

fn decode_whole(bytes: &[u8]) -> QuorumPacket {
    let (p, used) = QuorumPacket::decode(bytes, DEFAULT_MAX_BUFFER).expect("decodes");
    assert_eq!(used, bytes.len());
    assert_eq!(p.encode(), bytes, "{:?} re-encodes", p.kind);
    p
}

#[test]
fn packet_types_match_apache_constants() {
    let text = std::str::from_utf8(fixture!("packet_types.txt")).unwrap();
    let mut n = 0;
    for line in text.lines() {
        let (name, value) = line.split_once('=').unwrap();
        assert_eq!(PacketType(value.parse().unwrap()).name(), Some(name));
        n += 1;
    }
    assert_eq!(n, 19);
    let consts = [
        PacketType::REQUEST,
        PacketType::PROPOSAL,
        PacketType::ACK,
        PacketType::COMMIT,
        PacketType::PING,
        PacketType::REVALIDATE,
        PacketType::SYNC,
        PacketType::INFORM,
        PacketType::COMMITANDACTIVATE,
        PacketType::NEWLEADER,
        PacketType::FOLLOWERINFO,
        PacketType::UPTODATE,
        PacketType::DIFF,
        PacketType::TRUNC,
        PacketType::SNAP,
        PacketType::OBSERVERINFO,
        PacketType::LEADERINFO,
        PacketType::ACKEPOCH,
        PacketType::INFORMANDACTIVATE,
    ];
    for (line, kind) in text.lines().zip(consts) {
        assert_eq!(line, format!("{}={}", kind.name().unwrap(), kind.0));
    }
    assert_eq!(PacketType(42).name(), None);
    assert_eq!(PacketType::INFORMANDACTIVATE, PacketType(19));
}

#[test]
fn handshake_packets_decode_and_re_encode() {
    let info = fixture!("learner_info.bin");
    let li = LearnerInfo::new(3, 0x1_0000_0000);
    assert_eq!(LearnerInfo::decode(info), Ok(li));
    assert_eq!(li.encode(), info);

    let p = decode_whole(fixture!("packet_followerinfo.bin"));
    assert_eq!(
        p,
        QuorumPacket::new(PacketType::FOLLOWERINFO, zxid(5, 0), Some(info.to_vec()))
    );
    let p = decode_whole(fixture!("packet_observerinfo.bin"));
    assert_eq!(
        p,
        QuorumPacket::new(PacketType::OBSERVERINFO, zxid(5, 0), Some(info.to_vec()))
    );

    let p = decode_whole(fixture!("packet_leaderinfo.bin"));
    assert_eq!(p, leader_info(6));
    assert_eq!(
        decode_int_payload(p.data.as_deref()),
        Ok(ZAB_PROTOCOL_VERSION)
    );

    let p = decode_whole(fixture!("packet_ackepoch.bin"));
    assert_eq!(p, ack_epoch(zxid(5, 7), 5));
    assert_eq!(decode_int_payload(p.data.as_deref()), Ok(5));
    let p = decode_whole(fixture!("packet_ackepoch_minus1.bin"));
    assert_eq!(decode_int_payload(p.data.as_deref()), Ok(-1));

    let p = decode_whole(fixture!("packet_newleader.bin"));
    assert_eq!(
        p,
        QuorumPacket::new(
            PacketType::NEWLEADER,
            zxid(6, 0),
            Some(b"server.1=127.0.0.1:2888:3888:participant\nversion=0".to_vec())
        )
    );
    assert_eq!(
        decode_whole(fixture!("packet_ack.bin")),
        QuorumPacket::new(PacketType::ACK, zxid(6, 0), None)
    );
    assert_eq!(
        decode_whole(fixture!("packet_uptodate.bin")),
        QuorumPacket::new(PacketType::UPTODATE, -1, None)
    );
}

#[test]
fn broadcast_and_sync_packets_decode_and_re_encode() {
    let p = |kind, zx, data: Option<&[u8]>| QuorumPacket::new(kind, zx, data.map(<[u8]>::to_vec));
    let cases = [
        (
            fixture!("packet_ping.bin"),
            p(PacketType::PING, zxid(6, 9), None),
        ),
        (
            fixture!("packet_proposal.bin"),
            p(
                PacketType::PROPOSAL,
                zxid(6, 2),
                Some(&[1, 2, 3, 4, 5, 6, 7, 8, 9]),
            ),
        ),
        (
            fixture!("packet_commit.bin"),
            p(PacketType::COMMIT, zxid(6, 2), None),
        ),
        (
            fixture!("packet_diff.bin"),
            p(PacketType::DIFF, zxid(6, 2), None),
        ),
        (
            fixture!("packet_trunc.bin"),
            p(PacketType::TRUNC, zxid(5, 3), None),
        ),
        (
            fixture!("packet_snap.bin"),
            p(PacketType::SNAP, zxid(6, 2), None),
        ),
        (fixture!("packet_sync.bin"), p(PacketType::SYNC, 0, None)),
        (
            fixture!("packet_inform.bin"),
            p(
                PacketType::INFORM,
                zxid(6, 2),
                Some(&[1, 2, 3, 4, 5, 6, 7, 8, 9]),
            ),
        ),
        (
            fixture!("packet_informandactivate.bin"),
            p(
                PacketType::INFORMANDACTIVATE,
                zxid(6, 3),
                Some(&[0, 0, 0, 0, 0, 0, 0, 2, 7, 8, 9]),
            ),
        ),
        (
            fixture!("packet_commitandactivate.bin"),
            p(
                PacketType::COMMITANDACTIVATE,
                zxid(6, 3),
                Some(&2i64.to_be_bytes()),
            ),
        ),
        (
            fixture!("packet_empty_data.bin"),
            p(PacketType::REVALIDATE, -1, Some(&[])),
        ),
    ];
    for (bytes, expected) in cases {
        assert_eq!(decode_whole(bytes), expected);
    }
    // Authinfo: present and empty on a PING reply, two ids on a forwarded request.
    let p = decode_whole(fixture!("packet_ping_reply.bin"));
    assert_eq!(
        (p.kind, p.data.as_ref().map(Vec::len), p.authinfo),
        (PacketType::PING, Some(24), Some(vec![]))
    );
    let p = decode_whole(fixture!("packet_request.bin"));
    assert_eq!(p.kind, PacketType::REQUEST);
    assert_eq!(
        p.authinfo,
        Some(vec![
            Id {
                scheme: "digest".into(),
                id: "alice:x2kCgeUfESTwL3V3JrHDuqH4fJo=".into()
            },
            Id {
                scheme: "ip".into(),
                id: "127.0.0.1".into()
            },
        ])
    );
    // A type nobody defined is kept as its number.
    let p = decode_whole(fixture!("packet_unknown_type.bin"));
    assert_eq!(p, QuorumPacket::new(PacketType(42), 7, Some(vec![9])));
}

#[test]
fn learner_stream_has_no_length_prefix() {
    let mut buf = fixture!("stream_handshake.bin");
    let mut kinds = Vec::new();
    while !buf.is_empty() {
        let (p, used) = QuorumPacket::decode(buf, DEFAULT_MAX_BUFFER).unwrap();
        kinds.push(p.kind);
        buf = &buf[used..];
    }
    assert_eq!(
        kinds,
        [
            PacketType::FOLLOWERINFO,
            PacketType::LEADERINFO,
            PacketType::ACKEPOCH,
            PacketType::ACK
        ]
    );
}

#[test]
fn packet_refusals() {
    let request = fixture!("packet_request.bin");
    // Every proper prefix needs more bytes.
    for len in 0..request.len() {
        assert!(
            QuorumPacket::decode(&request[..len], DEFAULT_MAX_BUFFER)
                .unwrap_err()
                .is_incomplete(),
            "{len}"
        );
    }
    // Data lengths below -1 or above the limit are refused before any allocation.
    for len in [-2i32, i32::MIN, (DEFAULT_MAX_BUFFER + 1) as i32, i32::MAX] {
        let mut m = request.to_vec();
        m[12..16].copy_from_slice(&len.to_be_bytes());
        assert_eq!(
            QuorumPacket::decode(&m, DEFAULT_MAX_BUFFER),
            Err(WireError::UnreasonableLength {
                len,
                limit: DEFAULT_MAX_BUFFER
            })
        );
    }
    // The limit is the caller's.
    assert!(matches!(
        QuorumPacket::decode(request, 8),
        Err(WireError::UnreasonableLength { len: 17, limit: 8 })
    ));
    // A huge authinfo count is bounded by the bytes present.
    let mut m = fixture!("packet_ack.bin").to_vec();
    let n = m.len();
    m[n - 4..].copy_from_slice(&i32::MAX.to_be_bytes());
    assert!(QuorumPacket::decode(&m, DEFAULT_MAX_BUFFER)
        .unwrap_err()
        .is_incomplete());
    // A count below -1 is an empty vector to Java's reader.
    m[n - 4..].copy_from_slice(&(-5i32).to_be_bytes());
    assert_eq!(
        QuorumPacket::decode(&m, DEFAULT_MAX_BUFFER)
            .unwrap()
            .0
            .authinfo,
        Some(vec![])
    );
    // Invalid UTF-8 in an id is replaced, as Java decodes it.
    let mut bad = request.to_vec();
    let at = bad.windows(6).position(|w| w == b"digest").unwrap();
    bad[at] = 0xff;
    let ids = QuorumPacket::decode(&bad, DEFAULT_MAX_BUFFER)
        .unwrap()
        .0
        .authinfo
        .unwrap();
    assert_eq!(ids[0].scheme, "\u{fffd}igest");
}

#[test]
fn payload_decoders_tolerate_what_apache_tolerates() {
    assert_eq!(decode_int_payload(None), Err(WireError::MissingPayload));
    assert!(decode_int_payload(Some(&[0, 1, 0]))
        .unwrap_err()
        .is_incomplete());
    assert_eq!(decode_int_payload(Some(&[0, 1, 0, 0, 9])), Ok(0x10000));
    let info = fixture!("learner_info.bin");
    assert!(LearnerInfo::decode(&info[..19]).is_err());
    for (len, fields) in [
        (0, (None, None, None)),
        (7, (None, None, None)),
        (8, (Some(3), None, None)),
        (12, (Some(3), Some(ZAB_PROTOCOL_VERSION), None)),
        (19, (Some(3), Some(ZAB_PROTOCOL_VERSION), None)),
        (
            20,
            (Some(3), Some(ZAB_PROTOCOL_VERSION), Some(0x1_0000_0000)),
        ),
    ] {
        assert_eq!(
            LearnerInfo::decode_fields(Some(&info[..len])),
            LearnerInfoFields {
                server_id: fields.0,
                protocol_version: fields.1,
                config_version: fields.2
            },
            "{len}"
        );
    }
    assert_eq!(LearnerInfo::decode_fields(None).server_id, None);
}

#[test]
fn garbage_never_panics() {
    // A deterministic sweep; the fuzz target covers far more.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for len in 0..200usize {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let _ = Notification::decode(&bytes);
        let _ = InitialMessage::decode(&bytes);
        let _ = QuorumPacket::decode(&bytes, DEFAULT_MAX_BUFFER);
        let _ = election_frame(&bytes);
    }
}

#[test]
fn fuzz_body_accepts_every_fixture() {
    // The fuzz target's round-trip checks must hold on Apache's own bytes.
    for bytes in [
        fixture!("initial_v1.bin"),
        fixture!("initial_v2_multi.bin"),
        fixture!("initial_sid_only.bin"),
        fixture!("stream_handshake.bin"),
        fixture!("packet_request.bin"),
        fixture!("packet_ping_reply.bin"),
        fixture!("learner_info.bin"),
    ] {
        super::fuzz::decode_quorum_inputs(bytes);
    }
    for bytes in [
        fixture!("notification_looking.bin"),
        fixture!("notification_40.bin"),
        fixture!("notification_28.bin"),
    ] {
        let framed = frame_election_message(bytes);
        assert_eq!(
            super::fuzz::decode_quorum_inputs(&framed),
            2,
            "framed twice over"
        );
    }
}

#[test]
fn observer_id_is_apaches() {
    let (msg, _) = InitialMessage::decode(fixture!("initial_observer_id.bin")).unwrap();
    assert_eq!(msg.sid(), OBSERVER_ID);
}

#[test]
fn quorum_auth_frames_are_recognised() {
    let auth = |status, token: Option<&[u8]>| QuorumAuthPacket {
        status,
        token: token.map(<[u8]>::to_vec),
    };
    let cases = [
        (
            fixture!("auth_in_progress.bin"),
            auth(AuthStatus::IN_PROGRESS, Some(b"challenge")),
        ),
        (
            fixture!("auth_success.bin"),
            auth(AuthStatus::SUCCESS, None),
        ),
        (
            fixture!("auth_error.bin"),
            auth(AuthStatus::ERROR, Some(b"")),
        ),
    ];
    for (bytes, expected) in cases {
        assert_eq!(QuorumAuthPacket::is_next(bytes), Some(true));
        let decoded = QuorumAuthPacket::decode(bytes, DEFAULT_MAX_BUFFER).unwrap();
        assert_eq!(decoded, Some((expected.clone(), bytes.len())));
        assert_eq!(expected.encode(), bytes);
    }
    assert_eq!(QUORUM_AUTH_MAGIC, 0x5f24_3501_3501_edcc);
    // The protocol's own first bytes are not auth frames.
    let initial = fixture!("initial_v1.bin");
    assert_eq!(QuorumAuthPacket::is_next(initial), Some(false));
    assert_eq!(
        QuorumAuthPacket::decode(initial, DEFAULT_MAX_BUFFER),
        Ok(None)
    );
    assert_eq!(QuorumAuthPacket::is_next(&initial[..7]), None);
    let progress = fixture!("auth_in_progress.bin");
    assert!(
        QuorumAuthPacket::decode(&progress[..progress.len() - 1], DEFAULT_MAX_BUFFER)
            .unwrap_err()
            .is_incomplete()
    );
}

#[test]
fn address_strings_get_apaches_verdict() {
    // initial_address_cases.txt: Apache's InitialMessage.parse on each string (see README).
    let text = std::str::from_utf8(fixture!("initial_address_cases.txt")).unwrap();
    let mut n = 0;
    for line in text.lines() {
        let (addr, verdict) = line.split_once('\t').unwrap();
        let ours = addrs_of(&initial(PROTOCOL_VERSION_V1, 1, addr.as_bytes()));
        let ours = match ours {
            Ok(addrs) => {
                let mut v = "ok".to_string();
                for a in addrs {
                    v.push_str(&format!(" {}", a.port));
                }
                v
            }
            Err(_) => "refused".to_string(),
        };
        assert_eq!(ours, verdict, "{addr:?}");
        n += 1;
    }
    assert!(n >= 20);
}
