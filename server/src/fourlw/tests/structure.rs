//! zkrs' own values rendered with Apache's structure.

use super::mntr::{parse_mntr, parse_value};
use super::*;

/// Replaces version strings, then every number (decimal or `0x` hex) by `#`.
fn mask(text: &str, versions: &[&str]) -> String {
    let mut s = text.to_string();
    for v in versions {
        s = s.replace(v, "<VERSION>");
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '0' && chars.get(i + 1) == Some(&'x') {
            out.push_str("0x#");
            i += 2;
            while i < chars.len() && chars[i].is_ascii_hexdigit() {
                i += 1;
            }
        } else if chars[i].is_ascii_digit() {
            out.push('#');
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

pub(super) fn zkrs_snapshot() -> ServerSnapshot {
    let mut lat = LatencyStats::default();
    for ms in [1, 2, 2, 7] {
        lat.record(ms);
    }
    let session = |port: u16, sid: i64, lop: &str| ConnectionStats {
        interest_ops: 1,
        received: 12,
        sent: 11,
        session_id: sid,
        last_op: lop.into(),
        established_ms: 1_767_225_600_000,
        session_timeout_ms: 10000,
        last_cxid: 10,
        last_zxid: 0x1f,
        last_response_ms: 123_456,
        last_latency_ms: 1,
        min_latency_ms: 0,
        avg_latency_ms: 2,
        max_latency_ms: 7,
        ..ConnectionStats::new(addr(&format!("10.1.2.3:{port}")))
    };
    let (s0, s1) = (0x7a0000000001_i64, 0x7a0000000002_i64);
    ServerSnapshot {
        version: "3.8.0-zkrs-0.1.0".into(),
        build_date: "2026-01-01 00:00 UTC".into(),
        latency: lat,
        packets_received: 40,
        packets_sent: 39,
        num_alive_connections: 3,
        last_zxid: 0x1f,
        node_count: 12,
        ephemerals_count: 2,
        watch_count: 6,
        watch_summary: WatchSummary {
            connections: 2,
            paths: 4,
            watches: 5,
        },
        conf: ConfInfo {
            client_port: 2181,
            data_dir: "/var/lib/zkrs/data".into(),
            data_log_dir: "/var/lib/zkrs/log".into(),
            ..ConfInfo::default()
        },
        data_dir_size: 4096,
        data_log_size: 8192,
        environment: Environment::from_process(),
        connections: vec![
            brief("[::1]:50000", 0, 1, 0),
            session(50001, s0, "GETC"),
            session(50002, s1, "EXIS"),
        ],
        watches_by_session: vec![
            (s0, vec!["/a".into(), "/b".into()]),
            (s1, vec!["/c".into(), "/a".into(), "/d".into()]),
        ],
        watches_by_path: vec![
            ("/a".into(), vec![s1]),
            ("/b".into(), vec![s0, s1]),
            ("/c".into(), vec![s1]),
            ("/d".into(), vec![s0]),
        ],
        dump: DumpInfo {
            sessions: SessionDump::ExpiryBuckets(vec![ExpiryBucket {
                expires_at_ms: utc_ms("2026-11-25T09:00:00Z"),
                items: vec![s0, s1],
            }]),
            ephemerals: vec![(s1, vec!["/e".into()])],
            connection_buckets: vec![
                ExpiryBucket {
                    expires_at_ms: utc_ms("2026-11-25T09:00:02Z"),
                    items: vec![DumpConnection {
                        remote: addr("10.1.2.3:50000"),
                        session_id: 0,
                    }],
                },
                ExpiryBucket {
                    expires_at_ms: utc_ms("2026-11-25T09:00:04Z"),
                    items: vec![
                        DumpConnection {
                            remote: addr("10.1.2.3:50001"),
                            session_id: s0,
                        },
                        DumpConnection {
                            remote: addr("10.1.2.3:50002"),
                            session_id: s1,
                        },
                    ],
                },
            ],
        },
        ..ServerSnapshot::default()
    }
}

#[test]
fn zkrs_values_have_apache_structure() {
    let snap = zkrs_snapshot();
    let apache_full = format!("{APACHE_VERSION}, built on {APACHE_BUILD}");
    let ours_full = snap.full_version();
    let versions = [apache_full.as_str(), ours_full.as_str()];
    for w in [
        FourLetterWord::Srvr,
        FourLetterWord::Stat,
        FourLetterWord::Cons,
        FourLetterWord::Wchs,
        FourLetterWord::Wchc,
        FourLetterWord::Wchp,
        FourLetterWord::Dirs,
        FourLetterWord::Dump,
        FourLetterWord::Ruok,
        FourLetterWord::Isro,
        FourLetterWord::Crst,
        FourLetterWord::Srst,
        FourLetterWord::Gtmk,
        FourLetterWord::Hash,
    ] {
        let ours = render(w, &snap).replace("/[0:0:0:0:0:0:0:1]:", "/127.0.0.1:");
        let theirs = fixture(&format!("standalone/{}.txt", w.name()));
        // Paths differ in wchc/wchp/dump; compare the shape of those lines only.
        let shape = |t: &str| -> String {
            mask(t, &versions)
                .lines()
                .map(|l| {
                    if l.starts_with("\t/") {
                        "\t<path>".to_string()
                    } else if l.starts_with('/') {
                        "<path>".to_string()
                    } else {
                        l.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(shape(&ours), shape(&theirs), "{w}");
    }
    // key=value words: same keys in the same order.
    let keys = |t: &str| -> Vec<String> {
        t.lines()
            .map(|l| l.split('=').next().unwrap().to_string())
            .collect()
    };
    for w in [FourLetterWord::Conf, FourLetterWord::Envi] {
        let ours = render(w, &snap);
        let theirs = fixture(&format!("standalone/{}.txt", w.name()));
        assert_eq!(keys(&ours), keys(&theirs), "{w}");
    }
    // mntr: same keys, and every value of the same type.
    let ours = parse_mntr(&render(FourLetterWord::Mntr, &snap));
    let theirs = parse_mntr(&fixture("standalone_empty/mntr.txt"));
    assert_eq!(ours.len(), theirs.len());
    let kind = |v: &str| match parse_value(v) {
        MetricValue::Int(_) => 0,
        MetricValue::Float(_) => 1,
        _ => 2,
    };
    for ((ok, ov), (tk, tv)) in ours.iter().zip(&theirs) {
        assert_eq!(ok, tk);
        assert_eq!(kind(ov), kind(tv), "{ok}: {ov} vs {tv}");
    }
    assert!(ours.contains(&("zk_avg_latency".into(), "3.0".into())));
    assert!(ours.contains(&(
        "zk_version".into(),
        "3.8.0-zkrs-0.1.0, built on 2026-01-01 00:00 UTC".into()
    )));
}
