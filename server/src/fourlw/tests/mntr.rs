//! `mntr`: captures reproduced from their own values, and the key set of every mode.

use super::*;

pub(super) fn parse_mntr(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(|l| {
            let (k, v) = l.split_once('\t').unwrap_or_else(|| panic!("line {l:?}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// Smallest (count, sum) whose Apache-rounded average is `avg`.
pub(super) fn latency_for(avg: f64, min: u64, max: u64) -> LatencyStats {
    if avg == 0.0 && max == 0 {
        return LatencyStats::default();
    }
    for count in 1..100_000u64 {
        let sum = (avg * count as f64).round() as u64;
        if summary_avg(count, sum as f64) == avg {
            return latency(count, sum, min, max);
        }
    }
    panic!("no latency for {avg}");
}

pub(super) fn parse_value(v: &str) -> MetricValue {
    if let Ok(i) = v.parse::<i64>() {
        MetricValue::Int(i)
    } else if let Ok(f) = v.parse::<f64>() {
        MetricValue::Float(f)
    } else {
        MetricValue::Text(v.to_string())
    }
}

/// Rebuilds the snapshot an Apache `mntr` capture came from: typed fields for the keys
/// that have one, `metrics` for the other fixed keys, `extra_metrics` for the rest (in
/// capture order).
pub(super) fn snapshot_from_mntr(text: &str, mode: ServerMode) -> ServerSnapshot {
    let lines = parse_mntr(text);
    let map: BTreeMap<&str, &str> = lines
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let get = |k: &str| -> &str { map.get(k).copied().unwrap_or_else(|| panic!("{k}")) };
    let num = |k: &str| -> u64 { get(k).parse().unwrap() };
    let ival = |k: &str| -> i64 { get(k).parse().unwrap() };
    let (version, build) = get("zk_version").split_once(", built on ").unwrap();
    assert_eq!(get("zk_server_state"), mode.as_str());
    let mut snap = ServerSnapshot {
        role: role(mode),
        version: version.into(),
        build_date: build.into(),
        latency: latency_for(
            get("zk_avg_latency").parse().unwrap(),
            num("zk_min_latency"),
            num("zk_max_latency"),
        ),
        packets_received: num("zk_packets_received"),
        packets_sent: num("zk_packets_sent"),
        num_alive_connections: num("zk_num_alive_connections"),
        outstanding_requests: num("zk_outstanding_requests"),
        node_count: num("zk_znode_count"),
        ephemerals_count: num("zk_ephemerals_count"),
        approximate_data_size: num("zk_approximate_data_size"),
        watch_count: num("zk_watch_count"),
        global_sessions: num("zk_global_sessions"),
        local_sessions: num("zk_local_sessions"),
        uptime_ms: num("zk_uptime"),
        open_file_descriptor_count: num("zk_open_file_descriptor_count"),
        max_file_descriptor_count: num("zk_max_file_descriptor_count"),
        ..ServerSnapshot::default()
    };
    if mode.in_quorum() {
        snap.role.quorum = Some(QuorumInfo {
            quorum_size: num("zk_quorum_size"),
            leader: (mode == ServerMode::Leader).then(|| LeaderInfo {
                last_proposal_size: ival("zk_last_proposal_size"),
                min_proposal_size: ival("zk_min_proposal_size"),
                max_proposal_size: ival("zk_max_proposal_size"),
                synced_followers: num("zk_synced_followers"),
                synced_non_voting_followers: num("zk_synced_non_voting_followers"),
                synced_observers: num("zk_synced_observers"),
                pending_syncs: num("zk_pending_syncs"),
                leader_uptime_ms: num("zk_leader_uptime"),
                learners: num("zk_learners"),
            }),
            ..QuorumInfo::default()
        });
        assert_eq!(get("zk_peer_state"), snap.role.peer_state());
    }
    let summary = |base: &str, advanced: bool| -> SummaryValue {
        let s = |stat: &str| ival(&format!("zk_{stat}_{base}"));
        SummaryValue {
            count: s("cnt") as u64,
            sum: s("sum"),
            min: s("min"),
            max: s("max"),
            percentiles: advanced.then(|| [s("p50"), s("p95"), s("p99"), s("p999")]),
        }
    };
    let mut covered = BTreeSet::new();
    for e in MNTR_TABLE
        .iter()
        .filter(|e| e.presence.applies(&role(mode)))
    {
        match e.kind {
            MntrKind::BasicSummary | MntrKind::AdvancedSummary => {
                let advanced = e.kind == MntrKind::AdvancedSummary;
                let v = summary(e.name, advanced);
                if v != SummaryValue::default() || advanced {
                    snap.metrics
                        .insert(e.name.to_string(), MetricValue::Summary(v));
                }
                let n = if advanced { 9 } else { 5 };
                for stat in &SUMMARY_STATS[..n] {
                    covered.insert(format!("zk_{stat}_{}", e.name));
                }
            }
            _ => {
                let key = format!("zk_{}", e.name);
                if typed_metric(&snap, e.name).is_none() {
                    snap.metrics
                        .insert(e.name.to_string(), parse_value(get(&key)));
                }
                covered.insert(key);
            }
        }
    }
    // Dynamic summaries, in capture order.
    let rest: Vec<&(String, String)> = lines.iter().filter(|(k, _)| !covered.contains(k)).collect();
    let mut i = 0;
    while i < rest.len() {
        let base = rest[i].0.strip_prefix("zk_avg_").expect("dynamic summary");
        let advanced = rest
            .get(i + 5)
            .is_some_and(|(k, _)| *k == format!("zk_p50_{base}"));
        snap.extra_metrics.push((
            base.to_string(),
            MetricValue::Summary(summary(base, advanced)),
        ));
        i += if advanced { 9 } else { 5 };
    }
    snap
}

#[test]
fn mntr_reproduces_captures() {
    let cases = [
        ("standalone/mntr.txt", ServerMode::Standalone),
        ("standalone/after_reset/mntr.txt", ServerMode::Standalone),
        ("standalone_empty/mntr.txt", ServerMode::Standalone),
        ("read_only/mntr.txt", ServerMode::ReadOnly),
        ("follower/mntr.txt", ServerMode::Follower),
    ];
    for (path, mode) in cases {
        let captured = fixture(path);
        let snap = snapshot_from_mntr(&captured, mode);
        let rendered = render(FourLetterWord::Mntr, &snap);
        for (i, (ours, theirs)) in rendered.lines().zip(captured.lines()).enumerate() {
            assert_eq!(ours, theirs, "{path} line {}", i + 1);
        }
        assert_eq!(rendered, captured, "{path}");
    }
}

#[test]
fn mntr_leader() {
    // Apache interleaves the dynamic per-learner entries among the dynamic
    // per-namespace ones; we print all dynamic entries after the fixed keys.
    let captured = fixture("leader/mntr.txt");
    let snap = snapshot_from_mntr(&captured, ServerMode::Leader);
    let rendered = render(FourLetterWord::Mntr, &snap);
    let fixed: BTreeSet<String> = mntr_keys(&role(ServerMode::Leader)).into_iter().collect();
    let split = |text: &str| -> (Vec<String>, BTreeSet<String>) {
        let (f, d): (Vec<&str>, Vec<&str>) = text
            .lines()
            .partition(|l| fixed.contains(l.split('\t').next().unwrap()));
        (
            f.into_iter().map(String::from).collect(),
            d.into_iter().map(String::from).collect(),
        )
    };
    let (ours_fixed, ours_dynamic) = split(&rendered);
    let (theirs_fixed, theirs_dynamic) = split(&captured);
    assert_eq!(ours_fixed, theirs_fixed);
    assert_eq!(ours_dynamic, theirs_dynamic);
    assert!(!theirs_dynamic.is_empty());
}

#[test]
fn mntr_key_sets_per_mode() {
    let keys_of = |text: &str| -> Vec<String> {
        parse_mntr(text)
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| !k.contains("per_namespace") && !k.contains("learner_handler"))
            .collect()
    };
    let cases = [
        ("standalone_empty/mntr.txt", ServerMode::Standalone),
        ("standalone/mntr.txt", ServerMode::Standalone),
        ("read_only/mntr.txt", ServerMode::ReadOnly),
        ("follower/mntr.txt", ServerMode::Follower),
        ("leader/mntr.txt", ServerMode::Leader),
    ];
    for (path, mode) in cases {
        assert_eq!(mntr_keys(&role(mode)), keys_of(&fixture(path)), "{path}");
        // A default snapshot prints exactly those keys too.
        let snap = ServerSnapshot {
            role: role(mode),
            ..ServerSnapshot::default()
        };
        let ours: Vec<String> = parse_mntr(&render(FourLetterWord::Mntr, &snap))
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(ours, mntr_keys(&role(mode)), "{path}");
    }
    assert_eq!(mntr_keys(&role(ServerMode::Standalone)).len(), 485);
    assert_eq!(mntr_keys(&role(ServerMode::Follower)).len(), 487);
    assert_eq!(mntr_keys(&role(ServerMode::Observer)).len(), 487);
    assert_eq!(mntr_keys(&role(ServerMode::Leader)).len(), 496);
    assert!(!mntr_keys(&role(ServerMode::Leader))
        .iter()
        .any(|k| k.starts_with("zk_jvm_") || k.starts_with("jvm_")));
    assert_eq!(mntr_metrics().count(), MNTR_TABLE.len());
}

#[test]
fn mntr_extra_metrics_and_unknown_names() {
    let mut snap = ServerSnapshot::default();
    snap.metrics
        .insert("packets_sent".into(), MetricValue::Int(99)); // typed field wins
    snap.metrics.insert("fsynctime".into(), MetricValue::Int(5)); // wrong kind: zero summary
    snap.metrics
        .insert("zz_custom".into(), MetricValue::Float(0.5));
    snap.extra_metrics.push((
        "app_read_per_namespace".into(),
        MetricValue::Summary(SummaryValue {
            count: 4,
            sum: 305,
            min: 75,
            max: 77,
            percentiles: None,
        }),
    ));
    let out = render(FourLetterWord::Mntr, &snap);
    assert!(out.contains("zk_packets_sent\t0\n"));
    assert!(out.contains("zk_avg_fsynctime\t0.0\nzk_min_fsynctime\t0\n"));
    assert!(out.ends_with(
        "zk_avg_app_read_per_namespace\t76.25\nzk_min_app_read_per_namespace\t75\n\
         zk_max_app_read_per_namespace\t77\nzk_cnt_app_read_per_namespace\t4\n\
         zk_sum_app_read_per_namespace\t305\nzk_zz_custom\t0.5\n"
    ));
    assert!(out.contains("zk_last_client_response_size\t-1\n"));
    assert!(out.contains("zk_connection_drop_probability\t0.0\n"));
}
