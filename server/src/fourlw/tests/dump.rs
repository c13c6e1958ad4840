//! `dump` for every kind of server.

use super::*;

#[test]
fn dump_standalone_and_leader() {
    let (s0, s1) = (0x100000d07290000_i64, 0x100000d07290001_i64);
    let conn = |a: &str, session_id: i64| DumpConnection {
        remote: addr(a),
        session_id,
    };
    let snap = ServerSnapshot {
        dump: DumpInfo {
            sessions: SessionDump::ExpiryBuckets(vec![ExpiryBucket {
                expires_at_ms: utc_ms("2026-11-25T11:06:08Z"),
                items: vec![s0, s1],
            }]),
            ephemerals: vec![(s0, vec!["/app/eph".into()])],
            connection_buckets: vec![
                ExpiryBucket {
                    expires_at_ms: utc_ms("2026-11-25T11:05:50Z"),
                    items: vec![conn("127.0.0.1:42052", 0)],
                },
                ExpiryBucket {
                    expires_at_ms: utc_ms("2026-11-25T11:06:10Z"),
                    items: vec![conn("127.0.0.1:41894", s0), conn("127.0.0.1:41900", s1)],
                },
            ],
        },
        ..apache_standalone()
    };
    assert_eq!(
        render(FourLetterWord::Dump, &snap),
        fixture("standalone/dump.txt")
    );

    let (l0, l1) = (0x300000d8ddd0000_i64, 0x300000d8ddd0001_i64);
    let leader = ServerSnapshot {
        role: role(ServerMode::Leader),
        dump: DumpInfo {
            sessions: SessionDump::ExpiryBuckets(vec![
                ExpiryBucket {
                    expires_at_ms: utc_ms("2026-11-25T11:06:48Z"),
                    items: vec![],
                },
                ExpiryBucket {
                    expires_at_ms: utc_ms("2026-11-25T11:06:50Z"),
                    items: vec![l0, l1],
                },
            ]),
            ephemerals: vec![(l0, vec!["/app/eph".into()])],
            connection_buckets: vec![
                ExpiryBucket {
                    expires_at_ms: utc_ms("2026-11-25T11:06:30Z"),
                    items: vec![conn("127.0.0.1:40506", 0)],
                },
                ExpiryBucket {
                    expires_at_ms: utc_ms("2026-11-25T11:06:50Z"),
                    items: vec![conn("127.0.0.1:40358", l1), conn("127.0.0.1:40348", l0)],
                },
            ],
        },
        ..apache_standalone()
    };
    assert_eq!(
        render(FourLetterWord::Dump, &leader),
        fixture("leader/dump.txt")
    );

    let empty = ServerSnapshot {
        dump: DumpInfo {
            connection_buckets: vec![ExpiryBucket {
                expires_at_ms: utc_ms("2026-11-25T11:08:20Z"),
                items: vec![conn("127.0.0.1:48342", 0)],
            }],
            ..DumpInfo::default()
        },
        ..apache_standalone()
    };
    assert_eq!(
        render(FourLetterWord::Dump, &empty),
        fixture("standalone_empty/dump.txt")
    );
}

#[test]
fn dump_learner_and_read_only() {
    let (l0, l1) = (0x300000d8ddd0000_i64, 0x300000d8ddd0001_i64);
    let conn = |a: &str| DumpConnection {
        remote: addr(a),
        session_id: 0,
    };
    let follower = ServerSnapshot {
        role: role(ServerMode::Follower),
        dump: DumpInfo {
            sessions: SessionDump::Global(vec![(l0, 30000), (l1, 30000)]),
            ephemerals: vec![(l0, vec!["/app/eph".into()])],
            connection_buckets: vec![
                ExpiryBucket {
                    expires_at_ms: utc_ms("2026-11-25T11:06:20Z"),
                    items: vec![],
                },
                ExpiryBucket {
                    expires_at_ms: utc_ms("2026-11-25T11:06:30Z"),
                    items: vec![conn("127.0.0.1:56606")],
                },
            ],
        },
        ..apache_standalone()
    };
    assert_eq!(
        render(FourLetterWord::Dump, &follower),
        fixture("follower/dump.txt")
    );
    let ro = ServerSnapshot {
        role: role(ServerMode::ReadOnly),
        dump: DumpInfo {
            sessions: SessionDump::Global(vec![]),
            ephemerals: vec![],
            connection_buckets: vec![ExpiryBucket {
                expires_at_ms: utc_ms("2026-11-25T11:09:10Z"),
                items: vec![conn("127.0.0.1:37808")],
            }],
        },
        ..apache_standalone()
    };
    assert_eq!(
        render(FourLetterWord::Dump, &ro),
        fixture("read_only/dump.txt")
    );
}
