//! How long a snapshot stops the core, with a tree of `nodes` znodes of 100 bytes:
//!
//! - whole: the tree serialized in one go on the caller, waiting for the writer thread when
//!   the disk falls behind (what the core did before snapshots were fuzzy);
//! - sliced: the scheduler driven as the core drives it, `setData` transactions applied
//!   one by one with `applied` after each, then `pump` as an idle core calls it; the
//!   longest call is the core's pause;
//! - load: reading the snapshot file back (the bulk of a restart).
//!
//! Times are wall-clock: on a machine shared with other work a call that was preempted
//! looks long, hence the percentiles beside the longest call.
//!
//! `zkrs-server measure-snapshot-pause [nodes] [dir] [flat]` (`scripts/bench-snapshot-pause.sh`;
//! `dir` should be on the disk that would hold the data; `flat` puts every node under one
//! parent, the worst case for the walk, which copies a node's child list when it reaches it).

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use zkrs_proto::Acl;

use crate::storage::scheduler::SnapshotScheduler;
use crate::storage::snapshot::{list_snapshots, load};
use crate::tree::DataTree;
use crate::txn::{CreateKind, Txn, TxnHeader};

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

struct Load {
    tree: DataTree,
    zxid: i64,
}

impl Load {
    fn apply(&mut self, txn: Txn) {
        self.zxid += 1;
        let hdr = TxnHeader {
            session_id: 1,
            cxid: 0,
            zxid: self.zxid,
            time: self.zxid,
        };
        self.tree.apply(&hdr, &txn, &mut Vec::new());
    }

    /// A setData of `path`; returns how long applying it took.
    fn set_data(&mut self, path: &str) -> Duration {
        let version = self.tree.get(path).map_or(0, |n| n.stored().version);
        let a = Instant::now();
        self.apply(Txn::SetData {
            path: path.to_string(),
            data: Some(vec![b'y'; 100]),
            version: version + 1,
            reconfig: false,
        });
        a.elapsed()
    }

    fn create(&mut self, path: String, parent_cversion: i32) {
        self.apply(Txn::Create {
            path,
            data: Some(vec![b'x'; 100]),
            acl: Acl::open_unsafe(),
            parent_cversion,
            kind: CreateKind::Create { ephemeral: false },
        });
    }
}

/// Transactions per batch of commits (per log sync) in the sliced rounds: what 64 sessions
/// with one write in flight each give with a sync of ~1 ms.
const BATCH: u64 = 32;

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort_unstable();
    v[((v.len() as f64 - 1.0) * p) as usize]
}

/// Builds a tree of `nodes` znodes (under one parent if `flat`), measures three rounds of
/// snapshots in a directory made under `base`, prints the figures, and removes the directory.
pub fn measure(nodes: usize, base: &Path, flat: bool) -> std::io::Result<()> {
    let dir = base.join(format!("zkrs-snapshot-pause-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = run(nodes, &dir, flat);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run(nodes: usize, dir: &Path, flat: bool) -> std::io::Result<()> {
    let rss0 = rss_mb();
    let mut l = Load {
        tree: DataTree::new(),
        zxid: 0,
    };
    let t = Instant::now();
    let parents = if flat { 1 } else { 1000 };
    for p in 0..parents {
        l.create(format!("/p{p}"), p as i32 + 1);
    }
    let per = nodes / parents;
    for p in 0..parents {
        for i in 0..per {
            l.create(format!("/p{p}/n{i}"), i as i32 + 1);
        }
    }
    let paths: Vec<String> = (0..4096)
        .map(|i| format!("/p{}/n{}", i % parents, i % per))
        .collect();
    println!(
        "tree: {} znodes in {:.1} s, RSS {:.0} MB (+{:.0})",
        l.tree.node_count(),
        t.elapsed().as_secs_f64(),
        rss_mb(),
        rss_mb() - rss0
    );

    let t = Instant::now();
    let copy = l.tree.clone();
    println!(
        "SNAP for a learner: the leader's core copies the tree in {:.0} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    drop(copy);
    // What the learner's connection then writes: the tree in Apache's stream format.
    let t = Instant::now();
    let mut body = Vec::new();
    crate::quorum::wire::snap::write_snap(&l.tree, &mut body)?;
    println!(
        "  and its connection serializes {:.0} MB in {:.0} ms (off the core)",
        body.len() as f64 / 1e6,
        t.elapsed().as_secs_f64() * 1e3
    );
    drop(body);

    let (done_tx, done_rx) = mpsc::channel();
    let mut sched = SnapshotScheduler::spawn(dir.to_path_buf(), 2, move || {
        let _ = done_tx.send(());
    })?;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    for round in 0..3 {
        // Whole, on the caller (the former pause).
        let t = Instant::now();
        sched.take(&l.tree);
        let whole = t.elapsed();
        done_rx.recv().map_err(std::io::Error::other)?;
        let written = t.elapsed();

        // Sliced: setData after setData, the scheduler told of each, and of a batch of
        // commits every BATCH of them.
        let mut calls = Vec::new();
        let mut applies = Vec::new();
        let mut during = 0u64;
        let t = Instant::now();
        let mut i = 0usize;
        let started_at;
        loop {
            applies.push(l.set_data(&paths[i % paths.len()]));
            sched.applied(&l.tree);
            i += 1;
            if sched.in_progress() {
                started_at = i;
                break;
            }
        }
        let busy_from = Instant::now();
        let mut busy_txns = 0;
        // Half the snapshot under a stream of writes...
        while sched.in_progress() && busy_txns < 64_000 {
            applies.push(l.set_data(&paths[i % paths.len()]));
            sched.applied(&l.tree);
            i += 1;
            busy_txns += 1;
            during += 1;
            // A batch of commits every BATCH transactions, as a log sync makes them.
            if busy_txns % BATCH == 0 {
                let b = Instant::now();
                sched.after_commits(&l.tree);
                calls.push(b.elapsed());
            }
        }
        let busy = busy_from.elapsed();
        // ...the rest as an idle core pumps it.
        let mut pumps = Vec::new();
        while sched.in_progress() {
            // As the core does: pump when the scheduler says there is work.
            rt.block_on(sched.work().ready());
            let a = Instant::now();
            sched.pump(&l.tree);
            pumps.push(a.elapsed());
        }
        let sliced = t.elapsed();
        done_rx.recv().map_err(std::io::Error::other)?;
        let sliced_written = t.elapsed();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let over_2ms = calls.iter().chain(&pumps).filter(|d| ms(**d) > 2.0).count();
        println!(
            "round {round}: whole: pause {:.1} ms (durable after {:.1} ms)",
            ms(whole),
            ms(written)
        );
        println!(
            "  sliced: after_commits() longest {:.2} ms, p99.9 {:.3} ms, p99 {:.3} ms; \
             {during} txns at {:.0}/s while serializing (setData apply p50 {:.1} us)",
            ms(*calls.iter().max().unwrap_or(&Duration::ZERO)),
            ms(percentile(&mut calls, 0.999)),
            ms(percentile(&mut calls, 0.99)),
            busy_txns as f64 / busy.as_secs_f64(),
            percentile(&mut applies, 0.5).as_secs_f64() * 1e6,
        );
        println!(
            "  idle pumps: {} of them, longest {:.2} ms, p99.9 {:.3} ms, p50 {:.3} ms; \
             calls over 2 ms: {over_2ms}; serialized in {:.0} ms, durable after {:.0} ms \
             (started at txn {started_at})",
            pumps.len(),
            ms(*pumps.iter().max().unwrap_or(&Duration::ZERO)),
            ms(percentile(&mut pumps, 0.999)),
            ms(percentile(&mut pumps, 0.5)),
            ms(sliced),
            ms(sliced_written),
        );
        println!("  RSS {:.0} MB", rss_mb());
    }

    let Some((zxid, path)) = list_snapshots(dir)?.into_iter().next() else {
        return Err(std::io::Error::other("no snapshot was written"));
    };
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    drop(l);
    for _ in 0..2 {
        let rss_before = rss_mb();
        let t = Instant::now();
        let loaded = load(&path).map_err(std::io::Error::other)?;
        println!(
            "load: {} znodes, zxid {zxid:#x}, {:.0} MB file, {:.2} s, RSS {:.0} MB (+{:.0})",
            loaded.node_count(),
            size as f64 / 1e6,
            t.elapsed().as_secs_f64(),
            rss_mb(),
            rss_mb() - rss_before
        );
    }
    Ok(())
}
