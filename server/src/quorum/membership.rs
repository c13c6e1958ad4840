//! What a member knows of the ensemble's membership across its roles (Apache's
//! `QuorumPeer.quorumVerifier` and `lastSeenQuorumVerifier`): the committed configuration,
//! which decides quorums and who this member is, and the last one it saw proposed.
//!
//! It starts from zoo.cfg (and, with `reconfigEnabled`, a `zoo.cfg.dynamic.next` that a
//! crash left) and moves forward only: a configuration older than the committed one is
//! ignored, as Apache's `setQuorumVerifier` ignores it.

use std::collections::BTreeMap;

use crate::config::{join_host_port, Config, PeerType, ServerSpec};
use crate::fourlw::Membership as WordsMembership;

use super::config_files::ConfigFiles;
use super::election::{Members, Sid};
use super::verifier::QuorumVerifier;

/// This member's place in a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Voter,
    Observer,
    /// Not listed: a joiner before its addition, or a member that was removed. It follows
    /// without voting (Apache's "non-voting participant").
    Outside,
}

#[derive(Debug, Clone)]
pub struct Ensemble {
    me: Sid,
    committed: QuorumVerifier,
    last_seen: QuorumVerifier,
    /// This member's own line from zoo.cfg: its addresses while it is outside the
    /// committed configuration (a joiner).
    own: Option<ServerSpec>,
}

impl Ensemble {
    /// From the config file, and the proposal `files` kept, if any.
    pub fn load(config: &Config, files: Option<&ConfigFiles>) -> Ensemble {
        let mut committed = QuorumVerifier::from_config(config);
        let mut proposed = None;
        if let Some(files) = files.filter(|_| config.reconfig_enabled) {
            // A configuration activated after the last one that lists this member (it was
            // removed): it starts outside it, as a follower without a vote, and never as
            // a voter of the older one, whose quorums no longer decide.
            match files.newest_active() {
                Ok(Some(newer)) if newer.version > committed.version => {
                    tracing::info!(version = %format!("{:x}", newer.version), "a newer configuration that does not list this member: starting outside it");
                    committed = newer;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "ignoring the newer dynamic configurations"),
            }
            match files.read_proposed() {
                Ok(Some(next)) if next.version > committed.version => {
                    tracing::info!(version = %format!("{:x}", next.version), "a proposed configuration was not committed before the restart");
                    proposed = Some(next);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "ignoring the proposed configuration"),
            }
        }
        let me = config.my_id.unwrap_or_default();
        Ensemble::new(me, committed, proposed, config.server(me).cloned())
    }

    /// Member `me` with its committed configuration, the proposal it kept (used only when
    /// newer), and its own line from zoo.cfg.
    pub fn new(
        me: Sid,
        committed: QuorumVerifier,
        proposed: Option<QuorumVerifier>,
        own: Option<ServerSpec>,
    ) -> Ensemble {
        let last_seen = proposed
            .filter(|p| p.version > committed.version)
            .unwrap_or_else(|| committed.clone());
        Ensemble {
            me,
            own,
            committed,
            last_seen,
        }
    }

    pub fn committed(&self) -> &QuorumVerifier {
        &self.committed
    }

    pub fn last_seen(&self) -> &QuorumVerifier {
        &self.last_seen
    }

    /// A configuration proposed (a reconfig in flight, or NEWLEADER's).
    pub fn proposed(&mut self, next: &QuorumVerifier) {
        if next.version > self.last_seen.version {
            self.last_seen = next.clone();
        }
    }

    /// This member synced with a leader whose last seen configuration (NEWLEADER's) is
    /// `leader_seen`: a newer proposal this member kept is not in the leader's history, so
    /// the new epoch replaces it and it can never commit (found by the cluster
    /// simulation: a member restarted with such a proposal, led a later epoch, and
    /// activated it). Falls back to `leader_seen`, or to the committed configuration when
    /// that is newer. True if a proposal was forgotten.
    pub fn forget_proposals_beyond(&mut self, leader_seen: &QuorumVerifier) -> bool {
        if self.last_seen.version <= leader_seen.version {
            return false;
        }
        self.last_seen = if leader_seen.version > self.committed.version {
            leader_seen.clone()
        } else {
            self.committed.clone()
        };
        true
    }

    /// A configuration committed. False if it is not newer than the committed one.
    pub fn activated(&mut self, next: &QuorumVerifier) -> bool {
        if next.version <= self.committed.version {
            return false;
        }
        self.committed = next.clone();
        if next.version >= self.last_seen.version {
            self.last_seen = next.clone();
        }
        true
    }

    pub fn place(&self) -> Place {
        match self.committed.member(self.me).map(|s| s.role) {
            Some(PeerType::Participant) => Place::Voter,
            Some(PeerType::Observer) => Place::Observer,
            None => Place::Outside,
        }
    }

    /// This member's own line: from the committed configuration, else from zoo.cfg.
    pub fn me(&self) -> Option<&ServerSpec> {
        self.committed.member(self.me).or(self.own.as_ref())
    }

    /// A member's line, wherever it is known (a leader outside the committed
    /// configuration is found in the proposed one).
    pub fn server(&self, id: Sid) -> Option<&ServerSpec> {
        self.committed
            .member(id)
            .or_else(|| self.last_seen.member(id))
            .or_else(|| (id == self.me).then_some(self.own.as_ref()).flatten())
    }

    /// Who votes and who observes, for the election. A joiner whose own line says
    /// observer observes (Apache's learner type comes from its own line until a
    /// configuration lists it).
    pub fn election_members(&self) -> Members {
        let mut observers = self.committed.observers();
        if self.place() == Place::Outside
            && self
                .own
                .as_ref()
                .is_some_and(|s| s.role == PeerType::Observer)
        {
            observers.insert(self.me);
        }
        Members {
            voters: self.committed.voters(),
            observers,
        }
    }

    /// The other members' election addresses: the committed ones and the proposed ones.
    pub fn election_peers(&self) -> BTreeMap<Sid, String> {
        self.last_seen
            .members()
            .chain(self.committed.members())
            .filter(|s| s.id != self.me)
            .map(|s| (s.id, s.election_addr()))
            .collect()
    }

    /// What `conf` and `srvr` show: the committed members and the version.
    pub fn words(&self) -> WordsMembership {
        WordsMembership {
            servers: self
                .committed
                .members()
                .map(|s| {
                    let mut line = format!(
                        "server.{}={}:{}:{}",
                        s.id,
                        join_host_port(&s.host, s.peer_port),
                        s.election_port,
                        s.role
                    );
                    if let Some(c) = s.client_addr {
                        line.push_str(&format!(";{c}"));
                    }
                    line
                })
                .collect(),
            version: self.committed.version,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qv(lines: &str, version: i64) -> QuorumVerifier {
        let mut q = QuorumVerifier::parse(lines).unwrap();
        q.version = version;
        q
    }

    fn ensemble(me: Sid, committed: QuorumVerifier, own: Option<&str>) -> Ensemble {
        Ensemble {
            me,
            last_seen: committed.clone(),
            committed,
            own: own.map(|o| {
                QuorumVerifier::parse(o)
                    .unwrap()
                    .member(me)
                    .unwrap()
                    .clone()
            }),
        }
    }

    const THREE: &str = "server.1=127.0.0.1:2888:3888;2181\nserver.2=127.0.0.2:2888:3888;2181\nserver.3=127.0.0.3:2888:3888;2181";

    #[test]
    fn a_joiner_is_outside_until_its_addition_commits() {
        let mut e = ensemble(
            4,
            qv(THREE, 0x100000000),
            Some("server.4=127.0.0.4:2888:3888;2181"),
        );
        assert_eq!(e.place(), Place::Outside);
        assert_eq!(
            e.me().unwrap().host,
            "127.0.0.4",
            "its own line from zoo.cfg"
        );
        assert!(!e.election_members().voters.contains(&4));
        let four = qv(
            &format!("{THREE}\nserver.4=127.0.0.4:2888:3888;2181"),
            0x100000005,
        );
        e.proposed(&four);
        assert_eq!(e.place(), Place::Outside, "proposed is not committed");
        assert!(e.activated(&four));
        assert_eq!(e.place(), Place::Voter);
        assert_eq!(e.last_seen(), &four);
        assert!(!e.activated(&qv(THREE, 0x100000000)), "never backwards");
        assert_eq!(e.committed(), &four);
    }

    /// Found by the cluster simulation with reconfig (seed 2809 of three voters, an
    /// observer and a joiner): a leader proposed a reconfig, wrote it as its last seen and
    /// crashed before the transaction was durable; it restarted, followed the next epoch's
    /// leader (whose NEWLEADER carried an older configuration), later led again and
    /// activated the dead proposal, and a later leader under the committed configuration
    /// dropped what that epoch had committed. A sync forgets such a proposal.
    #[test]
    fn a_proposal_the_new_leader_lacks_is_forgotten_at_the_sync() {
        let committed = qv(THREE, 0x1_0000_00ae);
        let mut e = ensemble(3, committed.clone(), None);
        let dead = qv(
            &format!("{THREE}\nserver.4=127.0.0.4:2888:3888;2181"),
            0x1_0000_00e1,
        );
        e.proposed(&dead);
        assert_eq!(e.last_seen(), &dead);
        assert!(
            !e.forget_proposals_beyond(&dead),
            "the leader holds it: kept"
        );
        assert!(e.forget_proposals_beyond(&committed));
        assert_eq!(e.last_seen(), &committed, "back to the committed one");
        assert!(
            !e.forget_proposals_beyond(&committed),
            "nothing left to forget"
        );

        // A leader whose last seen is newer than this member's committed one but older
        // than its proposal: the leader's becomes the last seen.
        let leaders = qv(THREE, 0x1_0000_00c0);
        e.proposed(&dead);
        assert!(e.forget_proposals_beyond(&leaders));
        assert_eq!(e.last_seen(), &leaders);
        assert_eq!(e.committed(), &committed);
    }

    /// Found by the cluster simulation with reconfig: a removed member restarted from
    /// the last configuration that lists it (zoo.cfg's), as a voter, and with the highest
    /// zxid it was elected and committed with a quorum of the old voters. It starts
    /// outside the newer configuration it activated instead.
    #[test]
    fn a_removed_member_restarts_outside_the_config_that_removed_it() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("zoo.cfg");
        let text = format!("tickTime=2000\ndataDir=/d\nreconfigEnabled=true\n{THREE}\n");
        std::fs::write(&cfg, &text).unwrap();
        let (mut config, _) = Config::parse(&text, "zoo.cfg").unwrap();
        config.my_id = Some(1);
        config.config_file = Some(cfg.clone());
        let files = ConfigFiles::new(&cfg);
        let without_me = qv(
            "server.2=127.0.0.2:2888:3888;2181\nserver.3=127.0.0.3:2888:3888;2181",
            0x100000009,
        );
        files.write_active(&without_me, true, false).unwrap();
        let e = Ensemble::load(&config, Some(&files));
        assert_eq!(e.committed(), &without_me);
        assert_eq!(e.place(), Place::Outside, "a follower without a vote");
        assert_eq!(
            e.me().unwrap().host,
            "127.0.0.1",
            "its own line from zoo.cfg"
        );
        assert!(!e.election_members().voters.contains(&1));
    }

    #[test]
    fn peers_include_the_proposed_members() {
        let mut e = ensemble(1, qv(THREE, 1), None);
        e.proposed(&qv(
            &format!("{THREE}\nserver.5=127.0.0.5:2888:3888;2181"),
            2,
        ));
        let peers = e.election_peers();
        assert_eq!(peers.keys().copied().collect::<Vec<_>>(), vec![2, 3, 5]);
        assert_eq!(e.server(5).unwrap().host, "127.0.0.5");
    }

    #[test]
    fn words_show_the_committed_members_and_version() {
        let e = ensemble(1, qv(THREE, 0x100000000), None);
        let w = e.words();
        assert_eq!(w.version, 0x100000000);
        assert_eq!(
            w.servers[0],
            "server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181"
        );
    }
}
