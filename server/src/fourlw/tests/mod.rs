//! Every answer is checked against captures of a real Apache ZooKeeper 3.8.0 server in
//! `tests/fixtures/4lw/` (see the README there): byte for byte when the view carries the
//! captured values, and structurally (numbers and addresses masked) for a view with zkrs'
//! own values. The helpers here build the captured servers' views; each file checks one
//! group of words.

mod conf;
mod dump;
mod formats;
mod mntr;
mod quorum;
mod stat;
mod structure;
mod watches;
mod words;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use super::java::{java_date, java_double, java_socket_addr, summary_avg};
use super::mntr::{typed_metric, MNTR_TABLE, SUMMARY_STATS};
use super::process::{max_file_descriptor_count, open_file_descriptor_count};
use super::*;

const APACHE_VERSION: &str = "3.8.0-${mvngit.commit.id}";
const APACHE_BUILD: &str = "2024-12-29 17:54 UTC";

/// A serving server in `mode`, with no quorum values published.
fn role(mode: ServerMode) -> Role {
    Role {
        mode,
        ..Role::default()
    }
}

fn fixture(path: &str) -> String {
    let full = format!("{}/tests/fixtures/4lw/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn utc_ms(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_millis()
}

fn latency(count: u64, sum_ms: u64, min_ms: u64, max_ms: u64) -> LatencyStats {
    LatencyStats {
        count,
        sum_ms,
        min_ms,
        max_ms,
    }
}

fn brief(remote: &str, interest_ops: u32, received: u64, sent: u64) -> ConnectionStats {
    ConnectionStats {
        interest_ops,
        received,
        sent,
        ..ConnectionStats::new(addr(remote))
    }
}

/// A snapshot with Apache's version strings and the captured standalone state.
fn apache_standalone() -> ServerSnapshot {
    ServerSnapshot {
        version: APACHE_VERSION.to_string(),
        build_date: APACHE_BUILD.to_string(),
        latency: latency(13, 32, 0, 10),
        packets_received: 15,
        packets_sent: 14,
        num_alive_connections: 3,
        last_zxid: 6,
        node_count: 9,
        ..ServerSnapshot::default()
    }
}

fn standalone_sessions() -> [ConnectionStats; 2] {
    [
        ConnectionStats {
            interest_ops: 1,
            received: 8,
            sent: 8,
            session_id: 0x100000d07290000,
            last_op: "GETC".to_string(),
            established_ms: 1795604737805,
            session_timeout_ms: 30000,
            last_cxid: 7,
            last_zxid: 6,
            last_response_ms: 857337,
            last_latency_ms: 1,
            min_latency_ms: 0,
            avg_latency_ms: 3,
            max_latency_ms: 10,
            ..ConnectionStats::new(addr("127.0.0.1:41894"))
        },
        ConnectionStats {
            interest_ops: 1,
            received: 5,
            sent: 5,
            session_id: 0x100000d07290001,
            last_op: "EXIS".to_string(),
            established_ms: 1795604737823,
            session_timeout_ms: 30000,
            last_cxid: 4,
            last_zxid: 6,
            last_response_ms: 857332,
            last_latency_ms: 0,
            min_latency_ms: 0,
            avg_latency_ms: 0,
            max_latency_ms: 1,
            ..ConnectionStats::new(addr("127.0.0.1:41900"))
        },
    ]
}

fn apache_environment() -> Environment {
    Environment {
        host_name: "localhost".into(),
        java_version: "17.0.15".into(),
        java_vendor: "Debian".into(),
        java_home: "/usr/lib/jvm/java-17-openjdk-amd64".into(),
        java_class_path: "/srv/zk4lw/conf:/usr/share/java/zookeeper.jar:/usr/share/java/log4j-1.2.jar:/usr/share/java/slf4j-log4j12.jar".into(),
        java_library_path: "/usr/java/packages/lib:/usr/lib/x86_64-linux-gnu/jni:/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/usr/lib/jni:/lib:/usr/lib".into(),
        java_io_tmpdir: "/srv/zk4lw/scratch".into(),
        java_compiler: "<NA>".into(),
        os_name: "Linux".into(),
        os_arch: "amd64".into(),
        os_version: "6.18.44-fc-v657".into(),
        user_name: "root".into(),
        user_home: "/root".into(),
        user_dir: "/srv/zk4lw".into(),
        memory_free_mb: 247,
        memory_max_mb: 256,
        memory_total_mb: 256,
    }
}

fn standalone_conf() -> ConfInfo {
    ConfInfo {
        client_port: 50455,
        data_dir: "/srv/zk4lw/run/sa/data/version-2".into(),
        data_log_dir: "/srv/zk4lw/run/sa/log/version-2".into(),
        ..ConfInfo::default()
    }
}

fn quorum_conf(election_port: i32, quorum_port: i32) -> QuorumConf {
    QuorumConf {
        init_limit: 5,
        sync_limit: 2,
        election_alg: 3,
        election_port,
        quorum_port,
        peer_type: 0,
        membership: Some(Membership {
            servers: vec![
                "server.1=127.0.0.1:32925:59249:participant".into(),
                "server.2=127.0.0.1:44099:47549:participant".into(),
                "server.3=127.0.0.1:44017:44835:participant;127.0.0.1:56639".into(),
            ],
            version: 0,
        }),
    }
}
