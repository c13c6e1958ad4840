//! `srvr`, `stat` and `cons`, standalone and in an ensemble.

use super::*;

#[test]
fn srvr_and_stat_standalone() {
    let snap = apache_standalone();
    assert_eq!(
        render(FourLetterWord::Srvr, &snap),
        fixture("standalone/srvr.txt")
    );
    let [a, b] = standalone_sessions();
    let stat = ServerSnapshot {
        packets_received: 16,
        packets_sent: 15,
        connections: vec![brief("127.0.0.1:41922", 0, 1, 0), a, b],
        ..snap
    };
    assert_eq!(
        render(FourLetterWord::Stat, &stat),
        fixture("standalone/stat.txt")
    );
}

#[test]
fn srvr_stat_cons_after_reset() {
    let [a, b] = standalone_sessions();
    let reset = |c: ConnectionStats| ConnectionStats {
        interest_ops: c.interest_ops,
        session_id: c.session_id,
        established_ms: c.established_ms,
        session_timeout_ms: c.session_timeout_ms,
        ..ConnectionStats::new(c.remote)
    };
    let (a, b) = (reset(a), reset(b));
    let base = ServerSnapshot {
        latency: LatencyStats::default(),
        ..apache_standalone()
    };
    let srvr = ServerSnapshot {
        packets_received: 3,
        packets_sent: 3,
        ..base.clone()
    };
    assert_eq!(
        render(FourLetterWord::Srvr, &srvr),
        fixture("standalone/after_reset/srvr.txt")
    );
    let stat = ServerSnapshot {
        packets_received: 2,
        packets_sent: 2,
        connections: vec![brief("127.0.0.1:42142", 0, 1, 0), a.clone(), b.clone()],
        ..base.clone()
    };
    assert_eq!(
        render(FourLetterWord::Stat, &stat),
        fixture("standalone/after_reset/stat.txt")
    );
    let cons = ServerSnapshot {
        connections: vec![brief("127.0.0.1:42128", 0, 1, 0), a, b],
        ..base
    };
    assert_eq!(
        render(FourLetterWord::Cons, &cons),
        fixture("standalone/after_reset/cons.txt")
    );
}

#[test]
fn cons_standalone() {
    let [a, b] = standalone_sessions();
    let snap = ServerSnapshot {
        connections: vec![brief("127.0.0.1:41956", 0, 1, 0), a, b],
        ..apache_standalone()
    };
    assert_eq!(
        render(FourLetterWord::Cons, &snap),
        fixture("standalone/cons.txt")
    );
    let fresh = ServerSnapshot {
        connections: vec![
            ConnectionStats {
                interest_ops: 1,
                received: 1,
                sent: 1,
                session_id: 0x1000015481e0000,
                last_op: "SESS".into(),
                established_ms: 1795605278837,
                session_timeout_ms: 30000,
                last_cxid: 0,
                last_zxid: 1,
                last_response_ms: 1398345,
                last_latency_ms: 6,
                min_latency_ms: 0,
                avg_latency_ms: 6,
                max_latency_ms: 6,
                ..ConnectionStats::new(addr("127.0.0.1:60342"))
            },
            brief("127.0.0.1:60344", 0, 1, 0),
        ],
        ..apache_standalone()
    };
    assert_eq!(
        render(FourLetterWord::Cons, &fresh),
        fixture("standalone/cons_after_connect.txt")
    );
    let empty = ServerSnapshot {
        connections: vec![brief("127.0.0.1:48252", 0, 1, 0)],
        ..apache_standalone()
    };
    assert_eq!(
        render(FourLetterWord::Cons, &empty),
        fixture("standalone_empty/cons.txt")
    );
}

#[test]
fn leader_srvr_stat_cons() {
    let snap = ServerSnapshot {
        role: Role {
            mode: ServerMode::Leader,
            quorum: Some(QuorumInfo {
                quorum_size: 3,
                leader: Some(LeaderInfo {
                    last_proposal_size: 91,
                    min_proposal_size: 48,
                    max_proposal_size: 93,
                    ..LeaderInfo::default()
                }),
                ..QuorumInfo::default()
            }),
            ..Role::default()
        },
        latency: latency(4, 12, 0, 12),
        packets_received: 16,
        packets_sent: 15,
        last_zxid: 0x100000006,
        ..apache_standalone()
    };
    assert_eq!(
        render(FourLetterWord::Srvr, &snap),
        fixture("leader/srvr.txt")
    );
    let stat = ServerSnapshot {
        packets_received: 17,
        packets_sent: 16,
        connections: vec![
            brief("127.0.0.1:40380", 0, 1, 0),
            brief("127.0.0.1:40358", 1, 5, 5),
            brief("127.0.0.1:40348", 1, 8, 8),
        ],
        ..snap.clone()
    };
    assert_eq!(
        render(FourLetterWord::Stat, &stat),
        fixture("leader/stat.txt")
    );
    let session =
        |port: &str, sid: i64, lop: &str, est: i64, lcxid: i64, lresp: i64| ConnectionStats {
            interest_ops: 1,
            session_id: sid,
            last_op: lop.into(),
            established_ms: est,
            session_timeout_ms: 30000,
            last_cxid: lcxid,
            last_zxid: 0x100000006,
            last_response_ms: lresp,
            ..ConnectionStats::new(addr(&format!("127.0.0.1:{port}")))
        };
    let cons = ServerSnapshot {
        connections: vec![
            brief("127.0.0.1:40406", 0, 1, 0),
            ConnectionStats {
                received: 5,
                sent: 5,
                avg_latency_ms: 1,
                max_latency_ms: 3,
                ..session("40358", 0x300000d8ddd0001, "EXIS", 1795604778260, 4, 897765)
            },
            ConnectionStats {
                received: 8,
                sent: 8,
                avg_latency_ms: 4,
                max_latency_ms: 12,
                ..session("40348", 0x300000d8ddd0000, "GETC", 1795604778243, 7, 897766)
            },
        ],
        ..snap.clone()
    };
    assert_eq!(
        render(FourLetterWord::Cons, &cons),
        fixture("leader/cons.txt")
    );
    // Without leader details Apache-style defaults (-1) are printed.
    let bare = ServerSnapshot {
        role: role(ServerMode::Leader),
        ..snap
    };
    assert!(
        render(FourLetterWord::Srvr, &bare).ends_with("Proposal sizes last/min/max: -1/-1/-1\n")
    );
}

#[test]
fn follower_and_read_only_srvr_stat() {
    let follower = ServerSnapshot {
        role: role(ServerMode::Follower),
        latency: LatencyStats::default(),
        packets_received: 3,
        packets_sent: 2,
        num_alive_connections: 1,
        last_zxid: 0x100000006,
        ..apache_standalone()
    };
    assert_eq!(
        render(FourLetterWord::Srvr, &follower),
        fixture("follower/srvr.txt")
    );
    let ro = ServerSnapshot {
        role: role(ServerMode::ReadOnly),
        latency: LatencyStats::default(),
        packets_received: 2,
        packets_sent: 1,
        num_alive_connections: 1,
        last_zxid: 0,
        node_count: 5,
        ..apache_standalone()
    };
    assert_eq!(
        render(FourLetterWord::Srvr, &ro),
        fixture("read_only/srvr.txt")
    );
    let ro_stat = ServerSnapshot {
        packets_received: 3,
        packets_sent: 2,
        connections: vec![brief("127.0.0.1:37718", 0, 1, 0)],
        ..ro
    };
    assert_eq!(
        render(FourLetterWord::Stat, &ro_stat),
        fixture("read_only/stat.txt")
    );
}

#[test]
fn last_op_codes_match_capture() {
    let mut seen = 0;
    for line in fixture("cons_lop_codes.txt").lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let op_type: i32 = fields[1].strip_prefix("type=").unwrap().parse().unwrap();
        let Some(lop) = fields.iter().find_map(|f| f.strip_prefix("lop=")) else {
            continue; // the connection was closed
        };
        match op_type {
            100 => assert_eq!(last_op_code(op_type), None), // leaves lop as it was
            999 => assert_eq!(last_op_code(op_type), None),
            _ => assert_eq!(last_op_code(op_type), Some(lop), "{line}"),
        }
        seen += 1;
    }
    assert!(seen > 20);
    assert_eq!(last_op_code(-10), Some("SESS"));
    assert_eq!(last_op_code(13), None);
}
