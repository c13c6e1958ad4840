//! A member's durable state: what survives a crash. The snapshot carries the history of
//! transactions it holds, so that a member's history can be compared with the committed one
//! across SNAP syncs and restarts. With reconfig on it also keeps the configuration files.

use crate::ids::Zxid;
use crate::quorum::verifier::QuorumVerifier;
use crate::storage::writer::LogEntry;
use crate::tree::DataTree;

#[derive(Clone, Default)]
pub(super) struct Disk {
    /// The newest snapshot: the tree and the transactions it holds, in zxid order.
    pub snap: Option<(DataTree, Vec<LogEntry>)>,
    /// The fsynced log after the snapshot, in zxid order.
    pub log: Vec<LogEntry>,
    pub accepted: u32,
    pub current: u32,
    /// `currentEpoch.tmp`: the epoch a learner announced before persisting its sync.
    pub current_tmp: Option<u32>,
    /// The dynamic configuration zoo.cfg names (`ConfigFiles::write_active`): the last
    /// activated one that lists this member.
    pub config: Option<QuorumVerifier>,
    /// The newest dynamic configuration file: the last activated one, listing this
    /// member or not (`ConfigFiles::newest_active`).
    pub newest_active: Option<QuorumVerifier>,
    /// `zoo.cfg.dynamic.next`: a configuration proposed and not known committed.
    pub proposed: Option<QuorumVerifier>,
}

impl Disk {
    fn snap_hist(&self) -> &[LogEntry] {
        self.snap.as_ref().map_or(&[], |s| &s.1[..])
    }

    /// How many transactions the disk holds (snapshot and log).
    pub fn len(&self) -> usize {
        self.snap_hist().len() + self.log.len()
    }

    /// The `i`th transaction of the history the disk holds.
    pub fn at(&self, i: usize) -> Option<&LogEntry> {
        let s = self.snap_hist();
        if i < s.len() {
            s.get(i)
        } else {
            self.log.get(i - s.len())
        }
    }

    /// Whether the snapshot or the log holds transaction `zxid`.
    pub fn holds(&self, zxid: i64) -> bool {
        let has = |v: &[LogEntry]| v.binary_search_by_key(&zxid, |e| e.hdr.zxid).is_ok();
        has(self.snap_hist()) || has(&self.log)
    }

    pub fn history(&self) -> Vec<LogEntry> {
        let mut h = self.snap_hist().to_vec();
        h.extend(self.log.iter().cloned());
        h
    }

    /// What recovery loads: the snapshot, then every logged transaction.
    pub fn load(&self) -> DataTree {
        let mut t = self.snap.as_ref().map(|s| s.0.clone()).unwrap_or_default();
        for e in &self.log {
            t.apply(&e.hdr, &e.txn, &mut Vec::new());
        }
        t
    }

    /// Whether the log holds transaction `zxid` (what `leader_net::log_holds` checks).
    pub fn log_holds(&self, zxid: i64) -> bool {
        Zxid::from_raw(zxid).counter() != 0 && self.log.iter().any(|e| e.hdr.zxid == zxid)
    }

    /// The logged transactions in `(after, through]`, or `None` when the log does not hold
    /// all of them (the leader then ends that learner's connection, as `leader_net` does).
    pub fn diff(&self, after: i64, through: i64) -> Option<Vec<LogEntry>> {
        let out: Vec<LogEntry> = self
            .log
            .iter()
            .filter(|e| e.hdr.zxid > after && e.hdr.zxid <= through)
            .cloned()
            .collect();
        let last = out.last().map_or(after, |e| e.hdr.zxid);
        (last >= through).then_some(out)
    }

    /// TRUNC: drops the logged transactions after `zxid`. A snapshot beyond it cannot be
    /// truncated.
    pub fn truncate_after(&mut self, zxid: i64) -> Result<(), String> {
        if self.snap.as_ref().is_some_and(|s| s.0.last_zxid() > zxid) {
            return Err(format!("TRUNC to {zxid:#x} below the snapshot"));
        }
        self.log.retain(|e| e.hdr.zxid <= zxid);
        Ok(())
    }
}
