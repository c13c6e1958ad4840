//! Learner connections: a learner dials its leader's quorum port, packets flow both
//! ways in order, and a break ends the learner's role and tells the leader.

use std::collections::VecDeque;

use rand::Rng;

use crate::ids::Zxid;
use crate::quorum::election::Sid;
use crate::quorum::wire::packet::{LearnerInfo, PacketType, QuorumPacket};

use super::super::testkit::Harness;
use super::super::{Core, FollowerSetup, Input};
use super::learner::Down;
use crate::quorum::verifier::QuorumVerifier;

use super::world::{settings_for, QLink, Role, Sim};

impl Sim {
    /// A learning member connects to its leader's quorum port, if that member leads and
    /// can be reached, and sends FOLLOWERINFO.
    pub fn qconnect(&mut self, sid: Sid) {
        let now = self.now_ms;
        let (leader, observer, accepted) = match &self.mr(sid).role {
            Role::Learning(l) if l.conn.is_none() => {
                (l.leader, l.observer, self.mr(sid).disk.accepted)
            }
            _ => return,
        };
        if !self.reachable(sid, leader) || !matches!(self.mr(leader).role, Role::Leading { .. }) {
            return;
        }
        let conn = self.next_conn;
        self.next_conn += 1;
        if let Role::Learning(l) = &mut self.m(sid).role {
            l.conn = Some(conn);
            l.last_heard = now;
        }
        let kind = if observer {
            PacketType::OBSERVERINFO
        } else {
            PacketType::FOLLOWERINFO
        };
        let info = QuorumPacket::new(
            kind,
            Zxid::new(accepted, 0).raw(),
            Some(LearnerInfo::new(sid as i64, 0).encode()),
        );
        self.log(|| format!("member {sid} connects to leader {leader} (conn {conn})"));
        self.qlinks.insert(
            sid,
            QLink {
                conn,
                leader,
                down: VecDeque::new(),
                up: VecDeque::from([info]),
            },
        );
    }

    /// The connection of learner `l` breaks: the leader hears it is gone, the learner's
    /// role ends.
    pub fn qbreak(&mut self, l: Sid, why: &str) {
        let Some(q) = self.qlinks.remove(&l) else {
            return;
        };
        self.log(|| format!("learner {l}'s connection {} breaks: {why}", q.conn));
        if matches!(self.mr(q.leader).role, Role::Leading { .. }) {
            self.feed(
                q.leader,
                Input::LearnerGone {
                    sid: l,
                    conn: q.conn,
                },
            );
        }
        let mine = match &self.mr(l).role {
            Role::Learning(x) => x.conn == Some(q.conn),
            Role::Following { conn, .. } => *conn == q.conn,
            _ => false,
        };
        if mine {
            self.end_role(l, why);
        }
    }

    pub fn qdeliver_up(&mut self, l: Sid) -> bool {
        let Some(q) = self.qlinks.get_mut(&l) else {
            return false;
        };
        let Some(pkt) = q.up.pop_front() else {
            return false;
        };
        let (leader, conn) = (q.leader, q.conn);
        self.log(|| format!("{l} -> {leader}: {:?} {:#x}", pkt.kind.name(), pkt.zxid));
        let diff_possible =
            pkt.kind == PacketType::ACKEPOCH && self.mr(leader).disk.log_holds(pkt.zxid);
        self.feed(
            leader,
            Input::FromLearner {
                sid: l,
                conn,
                pkt,
                diff_possible,
            },
        );
        true
    }

    pub fn qdeliver_down(&mut self, l: Sid) -> bool {
        let Some(q) = self.qlinks.get_mut(&l) else {
            return false;
        };
        let Some(msg) = q.down.pop_front() else {
            return false;
        };
        let (conn, leader) = (q.conn, q.leader);
        if let Down::Pkt(p) = &msg {
            self.log(|| format!("{leader} -> {l}: {:?} {:#x}", p.kind.name(), p.zxid));
        }
        let now = self.now_ms;
        // The fsync at NEWLEADER or UPTODATE fails now and then.
        let disk_fails = self.faults && self.rng.gen_bool(0.05);
        let crash_window = self.faults && self.crash_in_sync_window && self.rng.gen_bool(0.3);
        let m = self.m(l);
        match &mut m.role {
            Role::Following {
                conn: c,
                last_heard,
                ..
            } if *c == conn => {
                *last_heard = now;
                match msg {
                    Down::Pkt(p) => self.feed(l, Input::FromLeader(p)),
                    Down::Snap { .. } => self.fail(format!("a SNAP to follower {l}")),
                }
            }
            Role::Learning(x) if x.conn == Some(conn) => {
                x.last_heard = now;
                match x.take(&mut m.disk, msg, disk_fails, crash_window) {
                    Ok(took) => {
                        if took.crashed {
                            self.crash(l);
                            return true;
                        }
                        if let Some(q) = self.qlinks.get_mut(&l) {
                            q.up.extend(took.up);
                        }
                        if took.synced {
                            self.start_following(l, conn);
                        }
                    }
                    Err(why) => {
                        self.end_role(l, &format!("sync failed: {why}"));
                    }
                }
            }
            _ => {}
        }
        true
    }

    /// UPTODATE came: the learner's core starts following with what the sync left.
    pub fn start_following(&mut self, sid: Sid, conn: u64) {
        let now = self.now();
        let now_ms = self.now_ms;
        let reconfig = self.reconfig;
        let Role::Learning(x) = &self.mr(sid).role else {
            return;
        };
        // UPTODATE comes only from a leader that a quorum acknowledged in this epoch.
        let (epoch, leader) = (x.epoch.unwrap_or(0), x.leader);
        let served_by = self.leaders.get(&epoch).copied();
        if served_by != Some(leader) {
            self.fail(format!(
                "member {sid} follows {leader} in epoch {epoch}, which {served_by:?} serves"
            ));
        }
        let voters = if reconfig {
            self.mr(sid).ensemble.committed().voters().len()
        } else {
            self.voters
        };
        let m = self.m(sid);
        let Role::Learning(x) = std::mem::replace(&mut m.role, Role::Down) else {
            return;
        };
        // `quorum::member::follow`: NEWLEADER's configuration, when newer, is proposed
        // now and becomes the committed one at UPTODATE.
        let newleader = x
            .newleader_config
            .as_deref()
            .and_then(|d| QuorumVerifier::parse(&String::from_utf8_lossy(d)).ok());
        let leader_seen = [newleader, x.committed_config.clone()]
            .into_iter()
            .flatten()
            .filter(|_| reconfig)
            .max_by_key(|qv| qv.version);
        // `quorum::member::forget_dead_proposal`: a kept proposal the leader lacks dies.
        let mut forgotten = None;
        if let Some(seen) = &leader_seen {
            let kept = m.ensemble.last_seen().version;
            if m.ensemble.forget_proposals_beyond(seen) {
                m.disk.proposed = None;
                forgotten = Some(kept);
            }
        }
        let newer = leader_seen.filter(|qv| qv.version > m.ensemble.committed().version);
        if let Some(qv) = &newer {
            m.ensemble.proposed(qv);
        }
        let epoch = x.epoch.unwrap_or(0);
        let setup = FollowerSetup {
            leader: x.leader,
            observer: x.observer,
            epoch,
            voters,
            uncommitted: x.uncommitted.into_iter().collect(),
            config: newer,
        };
        let tree = x.tree;
        let settings = settings_for(sid, reconfig);
        let mut h = Harness::with_settings(settings.clone());
        h.now = now;
        // The role exists before the core's first effects are carried out (an
        // activation at UPTODATE names this role's leader).
        m.role = Role::Following {
            h: Box::new(h),
            conn,
            last_heard: now_ms,
        };
        if let Role::Following { h, .. } = &mut m.role {
            h.replace_core(|now| Core::new(settings, tree, now).into_follower(setup));
        }
        m.verified = 0;
        if let Some(e) = m.election.as_mut() {
            e.update_peer_epoch(u64::from(epoch));
        }
        if let Some(kept) = forgotten {
            self.log(|| format!("member {sid} forgets proposed config {kept:#x}"));
        }
        self.log(|| format!("member {sid} follows in epoch {epoch}"));
        self.absorb(sid);
    }

    pub fn busy_qlinks(&self) -> Vec<(Sid, bool)> {
        let mut v = Vec::new();
        for (l, q) in &self.qlinks {
            if !q.down.is_empty() {
                v.push((*l, true));
            }
            if !q.up.is_empty() {
                v.push((*l, false));
            }
        }
        v
    }
}
