//! Offline migration between Apache ZooKeeper's data files and zkrs's
//! (`zkrs-server import-apache` / `export-apache`, docs/migration.md, 'Offline: import and export').
//!
//! Apache 3.8 itself writes the data, from a seeded workload covering every node kind,
//! ACLs, sequential counters, a quota, multi and failed transactions, small `snapCount`
//! (many snapshots and logs, fuzzy ones among them) and sessions that are alive with their
//! ephemerals when Apache is killed with SIGKILL. The trees are compared node by node
//! (data, every Stat field, ACL) with what Apache serves from the same files; the export
//! is read back by Apache itself and by its own snapshot and log tools.

use std::path::{Path, PathBuf};
use std::time::Duration;

use zkrs_tests::apache_files::{
    apache_tool, copy_dir, files, fingerprint, log_records, zkrs_tool, ToolRun,
};
use zkrs_tests::replica::{differences, tree_of, TreeView};
use zkrs_tests::{
    mode, open, wait_gone, within, zk, Ensemble, Launch, ServerConfig, ServerKind, ServerUnderTest,
};
use zkrs_tests::{SLOW_WAIT, WAIT};

/// How long a member may take to start and elect itself (a JVM on a busy machine).
const STARTUP: Duration = Duration::from_secs(60);

/// Sessions alive at the kill keep their ephemerals this long after a server restarts
/// from the data: longer than any test step between a start and the walk of its tree.
const LIVE_SESSION_TIMEOUT: Duration = Duration::from_secs(60);

/// Every server here: a snapshot and a new log every 8 to 16 transactions, 16 KB of log
/// preallocation (rather than 64 MB), sessions as long as [`LIVE_SESSION_TIMEOUT`].
fn config() -> ServerConfig {
    ServerConfig::default()
        .with("snapCount", 16)
        .with("preAllocSize", 16)
        .with("maxSessionTimeout", 120_000)
}

/// A one-member ensemble: a quorum member keeps `acceptedEpoch` and `currentEpoch`, and a
/// restart starts a new epoch. Not started.
fn one_member(kind: ServerKind) -> Ensemble {
    Ensemble::prepare(
        kind,
        &[Launch::Server(kind)],
        config().with("standaloneEnabled", "false"),
    )
}

fn start(e: &mut Ensemble) {
    e.restart(0);
    e.wait_for_leader(STARTUP);
}

/// A small deterministic generator, so that a seed names a workload.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self) -> Vec<u8> {
        let n = (self.next() % 24) as usize;
        (0..n).map(|_| b'a' + (self.next() % 26) as u8).collect()
    }
}

/// The seeded workload under `root`: persistent nodes with data and updates, sequential
/// and ephemeral-sequential nodes, a session closed with its ephemerals, containers (one
/// reaped), TTL nodes (one expired and reaped), digest and read-only ACLs and a setACL, a
/// quota, a multi that commits and one that fails, failed single writes, deletes.
async fn workload(c: &zk::Client, addr: std::net::SocketAddr, seed: u64, root: &str) {
    let mut rng = Rng(seed | 1);
    let p = |name: &str| format!("{root}/{name}");
    c.create(root, b"root", &open()).await.unwrap();
    for i in 0..10 {
        c.create(&p(&format!("p{i}")), &rng.bytes(), &open())
            .await
            .unwrap();
    }
    for _ in 0..20 {
        let i = rng.next() % 10;
        c.set_data(&p(&format!("p{i}")), &rng.bytes(), None)
            .await
            .unwrap();
    }
    c.create(&p("seq"), b"", &open()).await.unwrap();
    for _ in 0..5 {
        c.create(
            &p("seq/n-"),
            &rng.bytes(),
            &mode(zk::CreateMode::PersistentSequential),
        )
        .await
        .unwrap();
    }
    // A session that ends normally: its closeSession deletes its ephemerals.
    let brief = connect_to(addr, zk::Client::connector()).await;
    brief
        .create(
            &p("seq/e-"),
            b"",
            &mode(zk::CreateMode::EphemeralSequential),
        )
        .await
        .unwrap();
    brief
        .create(&p("brief"), b"", &mode(zk::CreateMode::Ephemeral))
        .await
        .unwrap();
    close(brief).await;
    c.create(&p("c"), b"", &mode(zk::CreateMode::Container))
        .await
        .unwrap();
    c.create(&p("c/kept"), b"k", &open()).await.unwrap();
    c.create(&p("gone"), b"", &mode(zk::CreateMode::Container))
        .await
        .unwrap();
    c.create(&p("gone/x"), b"", &open()).await.unwrap();
    c.delete(&p("gone/x"), None).await.unwrap();
    let ttl = |d| mode(zk::CreateMode::Persistent).with_ttl(d);
    c.create(&p("ttl-long"), b"t", &ttl(Duration::from_secs(3600)))
        .await
        .unwrap();
    c.create(&p("ttl-short"), b"t", &ttl(Duration::from_millis(100)))
        .await
        .unwrap();
    // The reaper's deleteContainer transactions are in the history too.
    wait_gone(c, &p("gone"), SLOW_WAIT).await;
    wait_gone(c, &p("ttl-short"), SLOW_WAIT).await;
    c.auth("digest", b"mig:secret").await.unwrap();
    let digest = [zk::Acl::new(
        zk::Permission::ALL,
        zk::AuthId::new("digest", &zkrs_tests::digest_id("mig", "secret")),
    )];
    c.create(
        &p("secret"),
        b"s",
        &zk::CreateMode::Persistent.with_acls(zk::Acls::new(&digest)),
    )
    .await
    .unwrap();
    let read_only = [zk::Acl::new(zk::Permission::READ, zk::AuthId::anyone())];
    c.create(&p("acl"), b"a", &open()).await.unwrap();
    c.set_acl(&p("acl"), &read_only, None).await.unwrap();
    // A quota as zkCli's setquota lays it out.
    let quota = format!("/zookeeper/quota{root}");
    c.create(&quota, b"", &open()).await.unwrap();
    c.create(
        &format!("{quota}/zookeeper_limits"),
        b"count=50,bytes=-1",
        &open(),
    )
    .await
    .unwrap();
    c.create(
        &format!("{quota}/zookeeper_stats"),
        b"count=0,bytes=0",
        &open(),
    )
    .await
    .unwrap();
    let mut w = c.new_multi_writer();
    w.add_create(&p("m"), b"m", &open()).unwrap();
    w.add_create(&p("m/s-"), b"", &mode(zk::CreateMode::PersistentSequential))
        .unwrap();
    w.add_set_data(&p("p0"), b"multi", None).unwrap();
    w.add_delete(&p("p1"), None).unwrap();
    w.commit().await.unwrap();
    let mut w = c.new_multi_writer();
    w.add_create(&p("never"), b"", &open()).unwrap();
    w.add_check_version(&p("p2"), 999).unwrap();
    assert!(w.commit().await.is_err(), "the multi must fail");
    assert!(c.create(&p("p3"), b"", &open()).await.is_err());
    assert!(c.delete(&p("p4"), Some(999)).await.is_err());
    assert!(c.set_data(&p("none"), b"", None).await.is_err());
    c.delete(&p("p5"), None).await.unwrap();
}

async fn connect_to(addr: std::net::SocketAddr, connector: zk::Connector) -> zk::Client {
    within(WAIT, "a client connection", async {
        connector
            .with_fail_eagerly()
            .connect(&addr.to_string())
            .await
    })
    .await
    .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"))
}

/// Closes a client's session and waits until it is gone.
async fn close(c: zk::Client) {
    let mut state = c.state_watcher();
    drop(c);
    within(WAIT, "the session to close", async {
        while !state.changed().await.is_terminated() {}
    })
    .await;
}

/// A session left alive (with `ephemerals` under `root`) when the server is killed;
/// returns its id and password.
async fn live_session(
    addr: std::net::SocketAddr,
    root: &str,
    ephemerals: &[&str],
) -> zk::SessionInfo {
    let c = connect_to(
        addr,
        zk::Client::connector()
            .with_session_timeout(LIVE_SESSION_TIMEOUT)
            .with_detached(),
    )
    .await;
    for e in ephemerals {
        c.create(
            &format!("{root}/{e}"),
            e.as_bytes(),
            &mode(zk::CreateMode::Ephemeral),
        )
        .await
        .unwrap();
    }
    let mut state = c.state_watcher();
    let session = c.into_session();
    // The client lets go of the session without closing it.
    within(WAIT, "the client to let go of its session", async {
        while !state.changed().await.is_terminated() {}
    })
    .await;
    session
}

/// The session reattached on the server at `addr`: it must still own `path`.
async fn reattach(addr: std::net::SocketAddr, session: zk::SessionInfo, path: &str) {
    let c = connect_to(addr, zk::Client::connector().with_session(session)).await;
    let (_, stat) = c.get_data(path).await.expect("the ephemeral is kept");
    assert_eq!(stat.ephemeral_owner, c.session_id().0, "{path}");
}

/// Member 1's whole tree, walked as the workload's digest user (who may read every
/// node), without `/zookeeper/config`: every server writes its own membership there when
/// it starts (it is not taken from the data files).
async fn tree(e: &Ensemble) -> TreeView {
    tree_at(e.member(0).addr()).await
}

/// [`tree`] of the server at `addr`.
async fn tree_at(addr: std::net::SocketAddr) -> TreeView {
    let c = connect_to(
        addr,
        zk::Client::connector().with_auth("digest", b"mig:secret"),
    )
    .await;
    let mut t = within(WAIT * 3, "walking the tree", tree_of(&c))
        .await
        .expect("walking the tree");
    t.remove("/zookeeper/config");
    t
}

fn assert_same(what: &str, a: &TreeView, b: &TreeView) {
    let diff = differences(1, a, 2, b, 20);
    assert!(diff.is_empty(), "{what}:\n{}", diff.join("\n"));
    assert!(
        a.len() > 25,
        "the workload's tree is there: {} nodes",
        a.len()
    );
}

fn arg(p: &Path) -> String {
    p.display().to_string()
}

fn import(from: &Path, to: &Path) -> ToolRun {
    zkrs_tool(&["import-apache", "--snapshots", &arg(from), "--to", &arg(to)])
}

fn read_epoch(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Apache writes the data (two epochs, a live session at the kill); the import gives the
/// tree Apache serves from the same files, with the session and epochs; zkrs goes on
/// writing; the export gives the tree zkrs serves, read back by Apache (digest checked,
/// the session reattached) and by Apache's snapshot and log tools.
#[tokio::test]
async fn apache_data_moves_to_zkrs_and_back() {
    let scratch = tempfile::tempdir().unwrap();
    let mut apache = one_member(ServerKind::Apache);
    start(&mut apache);
    let addr = apache.member(0).addr();
    let c = apache.client_of(0).await;
    workload(&c, addr, 0x5eed_0001, "/w1").await;
    close(c).await;
    apache.kill9(0);
    start(&mut apache);
    let c = apache.client_of(0).await;
    workload(&c, addr, 0x5eed_0002, "/w2").await;
    let apache_session = live_session(addr, "/w2", &["live-a", "live-b"]).await;
    close(c).await;
    apache.kill9(0);

    // The import, from a copy of what Apache left.
    let src = scratch.path().join("apache-data");
    copy_dir(&apache.member(0).data_dir(), &src);
    let untouched = fingerprint(&src);
    let imported = scratch.path().join("zkrs-data");
    let out = import(&src, &imported).expect_ok("import-apache");
    assert_eq!(
        fingerprint(&src),
        untouched,
        "the import changed its source"
    );
    assert!(out.stdout.contains("replayed"), "{}", out.stdout);
    for name in ["acceptedEpoch", "currentEpoch"] {
        assert_eq!(
            read_epoch(&imported.join("zkrs"), name),
            read_epoch(&src.join("version-2"), name),
            "{name}"
        );
    }
    assert_eq!(read_epoch(&src.join("version-2"), "currentEpoch"), "2");

    // What Apache serves from the same files, and what zkrs serves from the import.
    start(&mut apache);
    let apache_tree = tree(&apache).await;
    apache.kill9(0);
    let mut zkrs = one_member(ServerKind::Zkrs);
    copy_dir(&imported, &zkrs.member(0).data_dir());
    start(&mut zkrs);
    let zkrs_tree = tree(&zkrs).await;
    assert_same("imported tree vs Apache's", &apache_tree, &zkrs_tree);
    let zaddr = zkrs.member(0).addr();
    reattach(zaddr, apache_session, "/w2/live-a").await;

    // zkrs goes on, then the way back.
    let c = zkrs.client_of(0).await;
    workload(&c, zaddr, 0x5eed_0003, "/w3").await;
    let zkrs_session = live_session(zaddr, "/w3", &["live-c"]).await;
    close(c).await;
    zkrs.kill9(0);
    let zdata = zkrs.member(0).data_dir();
    let untouched = fingerprint(&zdata);
    let exported = scratch.path().join("apache-again");
    let out = zkrs_tool(&[
        "export-apache",
        "--from",
        &arg(&zdata),
        "--to",
        &arg(&exported),
    ])
    .expect_ok("export-apache");
    assert_eq!(
        fingerprint(&zdata),
        untouched,
        "the export changed its source"
    );
    start(&mut zkrs);
    let zkrs_tree = tree(&zkrs).await;
    zkrs.kill9(0);
    let mut back = one_member(ServerKind::Apache);
    copy_dir(&exported, &back.member(0).data_dir());
    start(&mut back);
    let back_tree = tree(&back).await;
    assert_same(
        "exported tree read by Apache vs zkrs's",
        &zkrs_tree,
        &back_tree,
    );
    let mntr = back.member(0).mntr().expect("mntr");
    assert_eq!(
        mntr.get("zk_digest_mismatches_count").map(String::as_str),
        Some("0"),
        "Apache's digest of the loaded snapshot matches the one exported"
    );
    reattach(back.member(0).addr(), zkrs_session, "/w3/live-c").await;
    back.kill9(0);

    check_with_apache_tools(&exported.join("version-2"), &zkrs_tree, &out.stdout);
}

/// Apache's `SnapshotFormatter` and `TxnLogToolkit` read the exported files.
fn check_with_apache_tools(dir: &Path, tree: &TreeView, export_report: &str) {
    let snaps = files(dir, "snapshot");
    let [(_, snap)] = snaps.as_slice() else {
        panic!("one snapshot: {snaps:?}")
    };
    let out = apache_tool("org.apache.zookeeper.server.SnapshotFormatter", &[snap])
        .expect_ok("SnapshotFormatter");
    // The formatter counts the entries of Apache's node table: the walked nodes, plus
    // /zookeeper/config, plus the root a second time (it is stored under "" and "/").
    let count = format!("ZNode Details (count={}):", tree.len() + 2);
    assert!(out.stdout.contains(&count), "{count}\n{}", out.stdout);
    for path in [
        "/w1/secret",
        "/w3/live-c",
        "/w3/c/kept",
        "/zookeeper/quota/w3/zookeeper_limits",
    ] {
        assert!(
            out.stdout.contains(&format!("\n{path}\n")),
            "{path} in the snapshot"
        );
    }
    assert!(out.stdout.contains("Session Details"), "{}", out.stdout);

    let logs = files(dir, "log");
    let [(_, log)] = logs.as_slice() else {
        panic!("one log: {logs:?}")
    };
    let records = log_records(&std::fs::read(log).unwrap());
    assert!(
        export_report.contains(&format!("{} transactions", records.len())),
        "{export_report}"
    );
    let out = apache_tool(
        "org.apache.zookeeper.server.persistence.TxnLogToolkit",
        &[log],
    )
    .expect_ok("TxnLogToolkit");
    let eof = format!("EOF reached after {} txns.", records.len());
    assert!(out.stdout.contains(&eof), "{eof}\n{}", out.stdout);
    assert!(!out.stdout.contains("CRC ERROR"), "{}", out.stdout);
}

/// A standalone server of `kind` serving the data directory `data` (a copy of it).
fn serve_from(kind: ServerKind, data: &Path) -> ServerUnderTest {
    let mut server = ServerUnderTest::start_standalone(kind, config());
    server.kill9();
    let dir = server.dir().join("data");
    std::fs::remove_dir_all(&dir).unwrap();
    copy_dir(data, &dir);
    server
        .restart()
        .unwrap_or_else(|e| panic!("{kind:?} on {}: {e}", data.display()));
    server
}

/// Data of a standalone Apache server (epoch 0, no epoch files), damaged: what Apache's
/// recovery accepts is imported (a crash's torn log tail, served as Apache serves it; a
/// damaged newest snapshot replaced by an older one), what it does not is refused with
/// the file and the offset.
#[tokio::test]
async fn damaged_apache_data_is_refused_or_recovered_as_apache_does() {
    let scratch = tempfile::tempdir().unwrap();
    let mut apache = ServerUnderTest::start_standalone(ServerKind::Apache, config());
    let c = apache.client().await;
    workload(&c, apache.addr(), 0x5eed_0004, "/d").await;
    let session = live_session(apache.addr(), "/d", &["live"]).await;
    close(c).await;
    apache.kill9();
    let pristine = scratch.path().join("pristine");
    copy_dir(&apache.dir().join("data"), &pristine);
    drop(apache);
    let case = |name: &str| {
        let dir = scratch.path().join(name);
        copy_dir(&pristine, &dir);
        (
            dir.clone(),
            dir.join("version-2"),
            scratch.path().join(format!("{name}-out")),
        )
    };
    let v2 = pristine.join("version-2");
    let (snaps, logs) = (files(&v2, "snapshot").len(), files(&v2, "log").len());
    assert!(snaps >= 3 && logs >= 3, "{snaps} snapshots, {logs} logs");
    let whole = import(&pristine, &scratch.path().join("whole")).expect_ok("import");
    eprintln!("{}", whole.stdout);
    let last_zxid = |report: &str| -> String {
        report
            .lines()
            .find_map(|l| {
                l.split_once(" at zxid ")
                    .map(|(_, z)| z.split(':').next().unwrap().to_string())
            })
            .unwrap_or_else(|| panic!("no zxid in {report}"))
    };

    // A crash in the middle of the last append: the newest log cut inside its last record.
    let (dir, v2, out) = case("torn");
    let (_, newest) = files(&v2, "log").pop().expect("a log");
    let bytes = std::fs::read(&newest).unwrap();
    let last = *log_records(&bytes).last().expect("records");
    std::fs::write(&newest, &bytes[..last.offset + 12 + last.entry_len / 2]).unwrap();
    let torn = import(&dir, &out).expect_ok("import of a torn log");
    assert!(
        torn.stdout
            .contains(&format!("incomplete record at offset {}", last.offset)),
        "{}",
        torn.stdout
    );
    assert_eq!(last_zxid(&whole.stdout), format!("{:#x}", last.zxid));
    // Without its last record the log ends a transaction earlier, unless the newest
    // snapshot already holds that transaction (Apache's snapshot thread, late on a busy
    // machine, may have walked the tree after it was applied): the files then still
    // give the state after it, to Apache and to the import alike.
    let newest_snapshot = files(&v2, "snapshot").last().expect("a snapshot").0;
    let expected = if newest_snapshot >= last.zxid {
        last.zxid
    } else {
        last.zxid - 1
    };
    assert_eq!(
        last_zxid(&torn.stdout),
        format!("{expected:#x}"),
        "{}",
        torn.stdout
    );
    assert!(
        whole.stdout.contains("the source has no epoch files"),
        "{}",
        whole.stdout
    );
    // Apache serves the torn files as the import has them, the live session included.
    // (Apache stays up until zkrs serves: a new server on a freed address would get
    // Apache's clients, which are still closing their sessions.)
    let apache = serve_from(ServerKind::Apache, &dir);
    let apache_tree = tree_at(apache.addr()).await;
    let zkrs = serve_from(ServerKind::Zkrs, &out);
    drop(apache);
    assert_same(
        "torn import vs Apache on the torn files",
        &apache_tree,
        &tree_at(zkrs.addr()).await,
    );
    reattach(zkrs.addr(), session, "/d/live").await;
    drop(zkrs);

    // A flipped byte inside a record of the newest log (the import reads it whatever the
    // snapshot): refused, naming file and offset.
    let (dir, v2, out) = case("flipped-log");
    // The newest log that holds a record: Apache may have just opened a new log file
    // with nothing in it yet (it does at each snapshot).
    let (older, mut bytes, victim) = files(&v2, "log")
        .into_iter()
        .rev()
        .find_map(|(_, path)| {
            let bytes = std::fs::read(&path).unwrap();
            let first = log_records(&bytes).first().copied()?;
            Some((path, bytes, first))
        })
        .expect("a log with a record");
    let older = &older;
    bytes[victim.offset + 12 + victim.entry_len / 2] ^= 0x20;
    std::fs::write(older, &bytes).unwrap();
    let refused = import(&dir, &out);
    assert!(!refused.ok, "{}", refused.stdout);
    let want = format!("{}: checksum mismatch", older.display());
    assert!(refused.stderr.contains(&want), "{want}\n{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains(&format!("at offset {}", victim.offset)),
        "{}",
        refused.stderr
    );
    assert!(!out.join("zkrs").exists(), "nothing written on refusal");

    // A flipped byte in the newest snapshot: an older snapshot is used, as Apache does,
    // and the log replayed from there gives the same state.
    let (dir, v2, out) = case("flipped-snapshot");
    // The newest snapshot with bytes in it: one Apache had only begun to write when the
    // workload stopped is empty (the import skips it too).
    let (newest, mut bytes) = files(&v2, "snapshot")
        .into_iter()
        .rev()
        .map(|(_, path)| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .find(|(_, bytes)| !bytes.is_empty())
        .expect("a snapshot with bytes");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x20;
    std::fs::write(&newest, &bytes).unwrap();
    let fell_back = import(&dir, &out).expect_ok("import past a damaged snapshot");
    assert!(
        fell_back
            .stdout
            .contains(&format!("skipped {}", newest.display()))
            && fell_back.stdout.contains("using an older snapshot"),
        "{}",
        fell_back.stdout
    );
    assert_eq!(last_zxid(&fell_back.stdout), last_zxid(&whole.stdout));

    // No snapshot at all: refused, as Apache refuses to start from logs alone.
    let (dir, v2, out) = case("no-snapshot");
    for (_, s) in files(&v2, "snapshot") {
        std::fs::remove_file(s).unwrap();
    }
    let refused = import(&dir, &out);
    assert!(!refused.ok);
    assert!(
        refused.stderr.contains("no snapshot file") && refused.stderr.contains(&arg(&v2)),
        "{}",
        refused.stderr
    );

    // Only the first snapshot left, and a log file in the middle removed: the replay from
    // that snapshot would skip transactions, so it is refused.
    let (dir, v2, out) = case("missing-log");
    for (_, s) in files(&v2, "snapshot").into_iter().skip(1) {
        std::fs::remove_file(s).unwrap();
    }
    let logs = files(&v2, "log");
    assert!(logs.len() >= 3, "{logs:?}");
    std::fs::remove_file(&logs[logs.len() / 2].1).unwrap();
    let refused = import(&dir, &out);
    assert!(!refused.ok, "{}", refused.stdout);
    assert!(
        refused.stderr.contains("transactions are missing"),
        "{}",
        refused.stderr
    );

    // A target that is not empty is refused.
    let busy: PathBuf = scratch.path().join("whole");
    let refused = import(&pristine, &busy);
    assert!(
        !refused.ok && refused.stderr.contains("not empty"),
        "{}",
        refused.stderr
    );
}
