//! A snapshot taken while a seeded stream of changes is applied between its slices, loaded
//! and brought forward by replaying the log after its zxid, must equal the live tree.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use zkrs_proto::Acl;

use crate::tree::DataTree;
use crate::txn::{CreateKind, Txn, TxnHeader};

use super::snapshot::{read_from, PieceReader, SnapshotStream};

/// Applies transactions as a leader would prepare them, keeping the log.
struct Driver {
    tree: DataTree,
    log: Vec<(TxnHeader, Txn)>,
    paths: Vec<String>,
    sessions: Vec<i64>,
    rng: StdRng,
    next_session: i64,
}

fn acls() -> [Vec<Acl>; 3] {
    [
        Acl::open_unsafe(),
        Acl::read_unsafe(),
        vec![Acl::new(31, "digest", "u:secret")],
    ]
}

impl Driver {
    fn new(seed: u64) -> Self {
        Driver {
            tree: DataTree::new(),
            log: Vec::new(),
            paths: Vec::new(),
            sessions: Vec::new(),
            rng: StdRng::seed_from_u64(seed),
            next_session: 0x100,
        }
    }

    fn apply(&mut self, session_id: i64, txn: Txn) {
        let hdr = TxnHeader {
            session_id,
            cxid: 0,
            zxid: self.tree.last_zxid() + 1,
            time: 1_000 + self.tree.last_zxid(),
        };
        let rc = self.tree.apply(&hdr, &txn, &mut Vec::new());
        assert_eq!(rc.err, 0, "{txn:?}");
        self.log.push((hdr, txn));
    }

    fn create(&mut self, parent: &str, owner: i64) {
        let cversion = self.tree.get(parent).unwrap().stored().cversion + 1;
        let base = if parent == "/" { "" } else { parent };
        let path = format!("{base}/n{cversion}");
        let acl = acls()[self.rng.gen_range(0..3)].clone();
        let data = (self.rng.gen_range(0..4) > 0).then(|| vec![b'd'; self.rng.gen_range(0..40)]);
        self.apply(
            owner.max(0),
            Txn::Create {
                path: path.clone(),
                data,
                acl,
                parent_cversion: cversion,
                kind: CreateKind::Create {
                    ephemeral: owner != 0,
                },
            },
        );
        if owner == 0 {
            self.paths.push(path);
        }
    }

    fn populate(&mut self, n: usize) {
        self.create("/", 0);
        // A quota on /n1, whose stats node the tree keeps current as /n1's subtree changes.
        for (i, path) in [
            "/zookeeper/quota/n1",
            "/zookeeper/quota/n1/zookeeper_limits",
            "/zookeeper/quota/n1/zookeeper_stats",
        ]
        .into_iter()
        .enumerate()
        {
            let parent = &path[..path.rfind('/').unwrap()];
            let cversion = self.tree.get(parent).unwrap().stored().cversion + 1;
            self.apply(
                1,
                Txn::Create {
                    path: path.into(),
                    data: Some(if i == 1 {
                        b"count=-1,bytes=-1".to_vec()
                    } else {
                        Vec::new()
                    }),
                    acl: Acl::open_unsafe(),
                    parent_cversion: cversion,
                    kind: CreateKind::Create { ephemeral: false },
                },
            );
        }
        for _ in 0..n {
            let parent = self.paths[self.rng.gen_range(0..self.paths.len())].clone();
            self.create(&parent, 0);
        }
        for _ in 0..5 {
            self.new_session();
        }
    }

    fn new_session(&mut self) {
        let id = self.next_session;
        self.next_session += 1;
        self.apply(id, Txn::CreateSession { timeout_ms: 4000 });
        self.sessions.push(id);
        for _ in 0..3 {
            let parent = self.paths[self.rng.gen_range(0..self.paths.len())].clone();
            self.create(&parent, id);
        }
    }

    /// One random change; `removals` allows deletes and closed sessions.
    fn change(&mut self, removals: bool) {
        let pick = self.rng.gen_range(0..if removals { 7 } else { 4 });
        let path = self.paths[self.rng.gen_range(0..self.paths.len())].clone();
        let node = self.tree.get(&path).unwrap().stored();
        match pick {
            0 | 1 => self.create(&path, 0),
            2 => {
                let data = Some(vec![b'x'; self.rng.gen_range(0..60)]);
                self.apply(
                    1,
                    Txn::SetData {
                        path,
                        data,
                        version: node.version + 1,
                        reconfig: false,
                    },
                );
            }
            3 => {
                let acl = acls()[self.rng.gen_range(0..3)].clone();
                self.apply(
                    1,
                    Txn::SetAcl {
                        path,
                        acl,
                        aversion: node.aversion + 1,
                    },
                );
            }
            4 | 5 => {
                let leaf = self.tree.get(&path).unwrap().child_count() == 0;
                if leaf && self.paths.len() > 10 {
                    self.paths.retain(|p| *p != path);
                    self.apply(
                        1,
                        Txn::Delete {
                            path,
                            container: false,
                        },
                    );
                } else {
                    self.create(&path, 0);
                }
            }
            _ => {
                if self.sessions.len() > 2 {
                    let i = self.rng.gen_range(0..self.sessions.len());
                    let id = self.sessions.remove(i);
                    let ephemerals = Some(self.tree.ephemerals_of(id).cloned().collect());
                    self.apply(id, Txn::CloseSession { ephemerals });
                }
                self.new_session();
            }
        }
    }
}

/// The first difference between two trees, if any.
fn difference(a: &DataTree, b: &DataTree) -> Option<String> {
    if a.node_count() != b.node_count() {
        return Some(format!(
            "{} nodes against {}",
            a.node_count(),
            b.node_count()
        ));
    }
    for (path, n) in a.iter_nodes() {
        let Some(m) = b.get(&path) else {
            return Some(format!("{path} is missing"));
        };
        if n.raw_stat() != m.raw_stat() {
            return Some(format!(
                "{path}: {:?} against {:?}",
                n.raw_stat(),
                m.raw_stat()
            ));
        }
        if n.data() != m.data() || n.acl() != m.acl() || n.child_names() != m.child_names() {
            return Some(format!("{path}: data, ACL or children differ"));
        }
    }
    let mut sa: Vec<_> = a.sessions().collect();
    let mut sb: Vec<_> = b.sessions().collect();
    sa.sort_by_key(|s| *s.0);
    sb.sort_by_key(|s| *s.0);
    if sa != sb {
        return Some("sessions differ".into());
    }
    for (id, _) in sa {
        let ea: Vec<_> = a.ephemerals_of(*id).collect();
        let eb: Vec<_> = b.ephemerals_of(*id).collect();
        if ea != eb {
            return Some(format!("ephemerals of {id:#x} differ"));
        }
    }
    if a.last_zxid() != b.last_zxid() {
        return Some("last zxid differs".into());
    }
    None
}

/// Takes a snapshot in slices of `slice` nodes with up to `burst` changes between them,
/// loads it from its pieces, replays the log after its zxid and compares.
fn fuzzy_round(seed: u64, removals: bool, slice: usize, burst: usize) -> Option<String> {
    let mut d = Driver::new(seed);
    d.populate(3000);
    let mut stream = SnapshotStream::new(&d.tree, 4096);
    let start = stream.zxid();
    let mut pieces = Vec::new();
    let mut changes = 0;
    while !stream.step(&d.tree, slice) {
        while let Some(p) = stream.pop_piece() {
            pieces.push(p);
        }
        for _ in 0..d.rng.gen_range(0..=burst) {
            d.change(removals);
            changes += 1;
        }
    }
    while let Some(p) = stream.pop_piece() {
        pieces.push(p);
    }
    assert!(changes > 100, "changes happened during the walk: {changes}");
    let mut loaded = read_from(PieceReader::new(pieces)).expect("the snapshot loads");
    assert_eq!(loaded.last_zxid(), start);
    for (hdr, txn) in d.log.iter().filter(|(h, _)| h.zxid > start) {
        loaded.apply(hdr, txn, &mut Vec::new());
    }
    difference(&d.tree, &loaded).map(|e| format!("seed {seed}: {e}"))
}

#[test]
fn a_snapshot_taken_while_nodes_are_created_and_changed_replays_to_the_live_tree() {
    for seed in 0..6 {
        if let Some(e) = fuzzy_round(seed, false, 1 + seed as usize * 13, 8) {
            panic!("{e}");
        }
    }
}

/// Deletes and closed sessions during the walk: replaying a delete of a node the snapshot
/// no longer holds must still move its parent's pzxid (Apache's idempotent replay).
#[test]
fn a_snapshot_taken_while_nodes_are_also_deleted_replays_to_the_live_tree() {
    for seed in 0..6 {
        if let Some(e) = fuzzy_round(seed, true, 1 + seed as usize * 13, 8) {
            panic!("{e}");
        }
    }
}

/// The scheduler takes a snapshot in slices as transactions are applied, and the file it
/// writes, loaded and brought forward by the log, is the live tree.
#[test]
fn the_scheduler_writes_a_fuzzy_snapshot_while_transactions_go_on() {
    use super::scheduler::SnapshotScheduler;
    use super::snapshot::{list_snapshots, load};

    let dir = tempfile::tempdir().unwrap();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let mut sched = SnapshotScheduler::spawn(dir.path().to_path_buf(), 2, move || {
        let _ = done_tx.send(());
    })
    .unwrap();
    let mut d = Driver::new(42);
    d.populate(12_000);
    // The threshold is at most 2 transactions away; then every change is a batch of
    // commits and advances a slice (about a thousand nodes).
    let mut started = false;
    let mut during = 0;
    for _ in 0..100_000 {
        d.change(false);
        sched.applied(&d.tree);
        sched.after_commits(&d.tree);
        if sched.in_progress() {
            started = true;
            during += 1;
        } else if started {
            break;
        }
    }
    assert!(started && !sched.in_progress(), "a snapshot was taken");
    assert!(during > 10, "it spanned transactions: {during}");
    done_rx.recv().unwrap();
    let (zxid, path) = list_snapshots(dir.path()).unwrap().remove(0);
    let mut loaded = load(&path).unwrap();
    assert_eq!(loaded.last_zxid(), zxid);
    for (hdr, txn) in d.log.iter().filter(|(h, _)| h.zxid > zxid) {
        loaded.apply(hdr, txn, &mut Vec::new());
    }
    if let Some(e) = difference(&d.tree, &loaded) {
        panic!("{e}");
    }
}

/// Recovery from a data directory whose newest snapshot was taken in slices while the same
/// transactions went to the log gives the live tree.
#[test]
fn recovery_from_a_fuzzy_snapshot_and_the_log_gives_the_live_tree() {
    use super::recovery::recover;
    use super::scheduler::SnapshotScheduler;
    use super::txnlog::FileTxnLog;
    use super::writer::{LogEntry, TxnLog};
    use super::DataDirs;
    use std::sync::Arc;

    let d = tempfile::tempdir().unwrap();
    let dirs = DataDirs::open(d.path(), d.path()).unwrap();
    let mut log = FileTxnLog::new(dirs.log_dir.clone(), 64 << 10, false);
    let mut logged = 0;
    let mut flush = |drv: &Driver, log: &mut FileTxnLog| {
        let entries: Vec<LogEntry> = drv.log[logged..]
            .iter()
            .map(|(hdr, txn)| LogEntry {
                hdr: *hdr,
                txn: Arc::new(txn.clone()),
            })
            .collect();
        logged = drv.log.len();
        log.append(&entries).unwrap();
    };
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let mut sched = SnapshotScheduler::spawn(dirs.snap_dir.clone(), 2, move || {
        let _ = done_tx.send(());
    })
    .unwrap();
    let mut drv = Driver::new(7);
    drv.populate(4000);
    flush(&drv, &mut log);
    let mut started = false;
    for _ in 0..100_000 {
        drv.change(false);
        flush(&drv, &mut log);
        sched.applied(&drv.tree);
        sched.after_commits(&drv.tree);
        started |= sched.in_progress();
        if started && !sched.in_progress() {
            break;
        }
    }
    // More after the snapshot, as a server goes on.
    for _ in 0..200 {
        drv.change(false);
    }
    flush(&drv, &mut log);
    log.sync().unwrap();
    done_rx.recv().unwrap();
    let (recovered, report) = recover(&dirs).unwrap();
    assert!(report.snapshot_zxid.is_some_and(|z| z > 0), "{report:?}");
    assert!(report.replayed > 200, "{report:?}");
    if let Some(e) = difference(&drv.tree, &recovered) {
        panic!("{e}");
    }
}
