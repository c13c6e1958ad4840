//! The one place the view is filled: from the core's [`Inspection`], the server's [`Config`]
//! and the [`Role`] the replication layer publishes. Everything Apache computes differently
//! from what the core counts is adjusted here, so renderers print what they are given.

use std::net::SocketAddr;

use super::conf::{ConfInfo, QuorumConf};
use super::connections::{last_op_code, ConnectionStats};
use super::dump::DumpInfo;
use super::envi::Environment;
use super::mntr::{MetricValue, SummaryValue};
use super::process;
use super::role::{Role, ServerMode};
use super::state::{LatencyStats, ServerSnapshot};
use super::watches::WatchSummary;
use crate::config::{Config, PeerType};
use crate::stats::Inspection;

impl ServerSnapshot {
    /// The view of a server in `role`, before anything is asked of the core: enough for
    /// `ruok`, and what the other words answer when the core cannot be reached.
    pub fn new(version: String, build_date: String, role: Role) -> Self {
        ServerSnapshot {
            version,
            build_date,
            role,
            ..ServerSnapshot::default()
        }
    }

    /// An ensemble member's figures from its core: the quorum size, the leader's learners
    /// and syncs, the digest mismatch count.
    fn fill_quorum(&mut self, q: &crate::stats::QuorumFigures) {
        use super::role::{LeaderInfo, QuorumInfo};
        self.metrics.insert(
            "digest_mismatches_count".to_string(),
            MetricValue::Int(i64::try_from(q.digest_mismatches).unwrap_or(i64::MAX)),
        );
        for (name, n) in [
            ("learner_proposal_received_count", q.proposals_received),
            ("learner_commit_received_count", q.commits_received),
        ] {
            self.metrics.insert(
                name.to_string(),
                MetricValue::Int(i64::try_from(n).unwrap_or(i64::MAX)),
            );
        }
        if !self.role.mode.in_quorum() {
            return;
        }
        let info = self.role.quorum.get_or_insert_with(QuorumInfo::default);
        info.quorum_size = q.quorum_size;
        if let Some(l) = &q.leader {
            info.leader = Some(LeaderInfo {
                synced_followers: l.synced_followers,
                synced_non_voting_followers: l.synced_non_voting_followers,
                synced_observers: l.synced_observers,
                pending_syncs: l.pending_syncs,
                leader_uptime_ms: l.uptime_ms,
                learners: l.learners,
                last_proposal_size: l.proposal_sizes.0,
                min_proposal_size: l.proposal_sizes.1,
                max_proposal_size: l.proposal_sizes.2,
            });
        }
    }

    /// Fills every server-wide, per-connection and watch field from the core's inspection
    /// and the configuration (and this process's figures from the OS).
    pub fn fill_from_core(&mut self, i: &Inspection, config: &Config) {
        let s = self;
        s.latency = LatencyStats {
            count: i.server.latency.count,
            sum_ms: i.server.latency.total,
            min_ms: i.server.latency.min,
            max_ms: i.server.latency.max,
        };
        s.packets_received = i.server.packets_received;
        s.packets_sent = i.server.packets_sent;
        s.num_alive_connections = i.conns.len() as u64;
        s.outstanding_requests = i.outstanding_requests as u64;
        s.last_zxid = i.last_zxid;
        // Apache's node table holds the root twice (as "" and "/"), and its counts show it.
        s.node_count = i.node_count as u64 + 1;
        s.ephemerals_count = i.ephemerals_count as u64;
        s.approximate_data_size = i.approximate_data_size.max(0) as u64;
        s.watch_count = i.watch_count as u64;
        s.watch_summary = WatchSummary {
            connections: i.watching_sessions as u64,
            paths: i.watched_paths as u64,
            watches: i.data_watch_count as u64,
        };
        s.extra_metrics = i
            .namespaces
            .iter()
            .map(|(name, v)| {
                (
                    name.clone(),
                    MetricValue::Summary(SummaryValue {
                        count: v.count,
                        sum: v.sum,
                        min: v.min,
                        max: v.max,
                        percentiles: None,
                    }),
                )
            })
            .collect();
        if let Some(q) = &i.quorum {
            s.fill_quorum(q);
        }
        if let Some(source) = s.role.quorum.as_ref().and_then(|q| q.metrics.clone()) {
            s.extra_metrics.extend((source.0)());
        }
        s.global_sessions = i.session_count as u64;
        s.uptime_ms = i.uptime_ms;
        s.open_file_descriptor_count = process::open_file_descriptor_count().unwrap_or(0);
        s.max_file_descriptor_count = process::max_file_descriptor_count().unwrap_or(0);
        s.conf = ConfInfo {
            client_port: config.client_port as i32,
            secure_client_port: config.secure_client_port.map_or(-1, i32::from),
            data_dir: config.data_dir.display().to_string(),
            data_log_dir: config.data_log_dir.display().to_string(),
            tick_time: config.tick_time_ms as i32,
            max_client_cnxns: config.max_client_cnxns as i32,
            min_session_timeout: config.min_session_timeout_ms() as i32,
            max_session_timeout: config.max_session_timeout_ms() as i32,
            client_port_listen_backlog: -1,
            server_id: config.my_id.unwrap_or(0) as i64,
            quorum: quorum_conf(config, &s.role),
        };
        s.environment = Environment::from_process();
        s.connections = i.conns.iter().map(connection).collect();
        s.watches_by_session = i.watches_by_session.clone();
        s.watches_by_path = i.watches_by_path.clone();
        s.dump = DumpInfo {
            ephemerals: i.ephemerals_by_session.clone(),
            ..DumpInfo::default()
        };
    }

    /// Apache counts the connection that asked: it is alive, sent one packet (the word), has
    /// no session, and is no longer read from (interest ops 0).
    pub fn count_asking_connection(&mut self, remote: SocketAddr) {
        self.num_alive_connections += 1;
        self.packets_received += 1;
        let mut me = ConnectionStats::new(remote);
        me.interest_ops = 0;
        me.received = 1;
        self.connections.insert(0, me);
    }
}

/// A client connection as `cons` shows it; a connection the core knows is being read from
/// (interest ops 1).
fn connection(c: &crate::stats::ConnInfo) -> ConnectionStats {
    let mut cs = ConnectionStats::new(c.remote);
    cs.interest_ops = 1;
    cs.queued = c.queued as u64;
    cs.received = c.stats.packets_received;
    cs.sent = c.stats.packets_sent;
    cs.session_id = c.session_id;
    cs.last_op = last_op_code(c.stats.last_op.code())
        .unwrap_or("NA")
        .to_string();
    cs.established_ms = c.stats.established_wall_ms;
    cs.session_timeout_ms = c.timeout_ms;
    cs.last_cxid = c.stats.last_cxid as i64;
    cs.last_zxid = c.stats.last_zxid;
    cs.last_response_ms = c.stats.last_response_wall_ms;
    cs.last_latency_ms = c.stats.last_latency as i64;
    cs.min_latency_ms = c.stats.latency.min as i64;
    cs.avg_latency_ms = c.stats.latency.avg() as i64;
    cs.max_latency_ms = c.stats.latency.max as i64;
    cs
}

/// The keys `conf` adds on a peer: Apache's `QuorumZooKeeperServer.dumpConf`, so every mode
/// but standalone (a read-only peer too, without membership since its role has no quorum
/// values). This server's ports and peer type come from its own `server.N` line.
fn quorum_conf(config: &Config, role: &Role) -> Option<QuorumConf> {
    if role.mode == ServerMode::Standalone {
        return None;
    }
    let me = config.my_server();
    let peer_type = me.map_or(config.peer_type, |m| m.role);
    Some(QuorumConf {
        init_limit: config.init_limit as i32,
        sync_limit: config.sync_limit as i32,
        election_alg: config.election_alg as i32,
        election_port: me.map_or(-1, |m| i32::from(m.election_port)),
        quorum_port: me.map_or(-1, |m| i32::from(m.peer_port)),
        // Apache prints the ordinal of its LearnerType enum.
        peer_type: match peer_type {
            PeerType::Participant => 0,
            PeerType::Observer => 1,
        },
        membership: role.quorum.as_ref().and_then(|q| q.membership.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fourlw::{render, FourLetterWord, Membership, QuorumInfo};
    use crate::stats::{Inspection, ServerStats};

    fn fixture(path: &str) -> String {
        let full = format!("{}/tests/fixtures/4lw/{path}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
    }

    fn empty_inspection() -> Inspection {
        Inspection {
            last_zxid: 0,
            node_count: 0,
            approximate_data_size: 0,
            ephemerals_count: 0,
            watch_count: 0,
            watched_paths: 0,
            watching_sessions: 0,
            watches_by_session: Vec::new(),
            watches_by_path: Vec::new(),
            ephemerals_by_session: Vec::new(),
            server: ServerStats::default(),
            conns: Vec::new(),
            outstanding_requests: 0,
            session_count: 0,
            uptime_ms: 0,
            namespaces: Vec::new(),
            data_watch_count: 0,
            quorum: None,
        }
    }

    /// The captured ensemble's config, as server 1 (the captured follower) read it.
    fn ensemble_config() -> Config {
        let text = "tickTime=2000\ninitLimit=5\nsyncLimit=2\ndataDir=/d\nclientPort=2181\n\
                    server.1=127.0.0.1:32925:59249:participant\n\
                    server.2=127.0.0.1:44099:47549:participant\n\
                    server.3=127.0.0.1:44017:44835:participant;127.0.0.1:56639\n";
        let (mut config, _) = Config::parse(text, "zoo.cfg").expect("config");
        config.my_id = Some(1);
        config
    }

    /// The quorum part of `conf`: everything after `serverId=`.
    fn quorum_part(conf: &str) -> &str {
        let at = conf.find("initLimit=").unwrap_or(conf.len());
        &conf[at..]
    }

    fn conf_of(role: Role, config: &Config) -> String {
        let mut snap = ServerSnapshot::new(String::new(), String::new(), role);
        snap.fill_from_core(&empty_inspection(), config);
        render(FourLetterWord::Conf, &snap)
    }

    #[test]
    fn a_follower_prints_its_quorum_keys_and_the_published_membership() {
        let captured = fixture("follower/conf.txt");
        let membership = Membership {
            servers: vec![
                "server.1=127.0.0.1:32925:59249:participant".into(),
                "server.2=127.0.0.1:44099:47549:participant".into(),
                "server.3=127.0.0.1:44017:44835:participant;127.0.0.1:56639".into(),
            ],
            version: 0,
        };
        let follower = Role {
            serving: true,
            mode: ServerMode::Follower,
            quorum: Some(QuorumInfo {
                membership: Some(membership),
                ..QuorumInfo::default()
            }),
        };
        let ours = conf_of(follower, &ensemble_config());
        assert_eq!(quorum_part(&ours), quorum_part(&captured));
    }

    #[test]
    fn standalone_conf_has_no_quorum_keys_even_with_server_lines() {
        let ours = conf_of(Role::default(), &ensemble_config());
        assert!(ours.ends_with("serverId=1\n"), "{ours}");
        assert_eq!(quorum_part(&ours), "");
    }

    #[test]
    fn a_read_only_peer_prints_quorum_keys_without_membership() {
        let ours = conf_of(
            Role {
                mode: ServerMode::ReadOnly,
                ..Role::default()
            },
            &ensemble_config(),
        );
        assert!(
            ours.ends_with("electionPort=59249\nquorumPort=32925\npeerType=0\n"),
            "{ours}"
        );
    }
}
