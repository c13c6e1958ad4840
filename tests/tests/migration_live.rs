//! Live migration, member by member: the runbook of `docs/migration.md` automated.
//!
//! A 3-member Apache ZooKeeper ensemble has each member replaced in place by zkrs-server
//! (same `myid`, addresses, ports and zoo.cfg; an empty data dir, synced from the
//! ensemble): a follower, the other follower, then the leader. Then the same back to
//! Apache. Each step runs under writers that log every acknowledged write
//! (`zkrs_tests::acked`), and before each step the test checks what the runbook tells an
//! operator to check: `srvr` on every member (one leader, the rest followers), the leader's
//! `zk_synced_followers` in `mntr`, and `zk_digest_mismatches_count` 0 on Apache members.
//! After each step: the new member follows and is of the new kind (`zk_version`), every
//! member reports the same zxid in `srvr`, no acknowledged write is lost, and every
//! member's tree is identical (walked node by node once the step's writers stopped).
//!
//! Sessions are held through the whole migration by two independent clients, the
//! `zookeeper-client` crate and kazoo (`migration_live/kazoo_holder.py`), each with an
//! ephemeral and watches: before each step a kazoo session is opened on the member about
//! to be replaced (checked with `cons`). After each step every held session is still the
//! same, never expired, owns its ephemeral on every member, and its watches fire: a
//! persistent watch and a kazoo DataWatch set before the migration, and a one-shot watch
//! armed just before the step.
//!
//! A second test rolls a member back in the middle: Apache replaced by zkrs, then Apache
//! put back on that member with the data it had (moved aside, not deleted, by the
//! replacement).
//!
//! Every wait is for a condition with a deadline; writers are bounded in count and time;
//! every process (members, the kazoo helper) is stopped by its PID, also when a test fails.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use zkrs_tests::acked::{assert_acked_everywhere, AckLog, WriterLimits, Writers};
use zkrs_tests::replica::{assert_no_digest_mismatches, assert_same_trees};
use zkrs_tests::server::four_letter_word;
use zkrs_tests::{
    eventually, fired, mode, open, within, zk, Ensemble, Launch, Mode, ServerConfig, ServerKind,
    WAIT,
};

/// Bound for an election, a member's start and its catching up: JVMs on a busy two-core
/// machine.
const ELECTION: Duration = Duration::from_secs(90);
/// Bound for the members' trees to agree once the writers stopped.
const CONVERGE: Duration = Duration::from_secs(30);
/// Acknowledged writes that show the ensemble takes writes.
const PROGRESS: u64 = 40;
/// Writers per step.
const WRITERS: usize = 3;
/// The held sessions' timeout: the most the test ensemble allows (20 ticks of 500 ms).
const HELD_SESSION: Duration = Duration::from_secs(10);
/// Where the held sessions keep their ephemerals and watches.
const ROOT: &str = "/migration";
/// How long a four-letter word may take.
const PROBE: Duration = Duration::from_secs(5);

/// Runs a blocking ensemble call (mode probes, waits, process control) on a runtime worker.
fn blocking<R>(f: impl FnOnce() -> R) -> R {
    tokio::task::block_in_place(f)
}

fn kind_name(kind: ServerKind) -> &'static str {
    match kind {
        ServerKind::Apache => "Apache",
        ServerKind::Zkrs => "zkrs",
    }
}

fn kind_of(e: &Ensemble, i: usize) -> ServerKind {
    e.member(i).launch().server_kind().expect("a server member")
}

// ---------------------------------------------------------------------------------------
// What the runbook tells an operator to check.
// ---------------------------------------------------------------------------------------

/// A member's `mntr` value for `key`, if it answers and reports it.
fn mntr_value(e: &Ensemble, i: usize, key: &str) -> Option<String> {
    e.member(i).mntr().and_then(|m| m.get(key).cloned())
}

/// The `Zxid:` line of a member's `srvr`.
fn srvr_zxid(e: &Ensemble, i: usize) -> Option<u64> {
    let answer = four_letter_word(e.member(i).addr(), "srvr", PROBE).ok()?;
    let hex = answer.lines().find_map(|l| l.strip_prefix("Zxid: 0x"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

/// Before each step: `srvr` on every member says one leader and the rest followers, the
/// leader's `mntr` counts every other member in `zk_synced_followers`, and no Apache member
/// counted a digest mismatch (zkrs members count them too). Returns the leader.
async fn preflight(e: &Ensemble, step: &str) -> usize {
    let leader = blocking(|| e.wait_for_leader(ELECTION));
    wait_synced_followers(e, leader, e.members().len() - 1, step).await;
    // zkrs members report the count too (they check an Apache leader's digests).
    let reported = blocking(|| assert_no_digest_mismatches(e));
    assert_eq!(
        reported,
        e.members().len(),
        "{step}: every member reports zk_digest_mismatches_count"
    );
    leader
}

/// Waits until the leader's `mntr` counts `count` synced followers.
async fn wait_synced_followers(e: &Ensemble, leader: usize, count: usize, step: &str) {
    let expected = count.to_string();
    eventually(
        ELECTION,
        &format!("{step}: the leader's zk_synced_followers to be {count}"),
        || async {
            (blocking(|| mntr_value(e, leader, "zk_synced_followers")) == Some(expected.clone()))
                .then_some(())
        },
    )
    .await;
}

/// After a step: member `i` follows, runs `kind` (its `zk_version` says which), and the
/// leader counts it in `zk_synced_followers`.
async fn assert_follows_as(e: &Ensemble, i: usize, kind: ServerKind, step: &str) -> usize {
    let leader = blocking(|| e.wait_for_leader(ELECTION));
    assert_ne!(
        leader, i,
        "{step}: a member that joined empty cannot lead at once"
    );
    assert_eq!(blocking(|| e.member(i).mode()), Mode::Follower, "{step}");
    let version = blocking(|| mntr_value(e, i, "zk_version")).unwrap_or_default();
    assert_eq!(
        version.contains("zkrs"),
        kind == ServerKind::Zkrs,
        "{step}: member {} runs {} but says zk_version {version:?}",
        i + 1,
        kind_name(kind)
    );
    wait_synced_followers(e, leader, e.members().len() - 1, step).await;
    leader
}

/// Waits until every member's `srvr` reports the same zxid (nothing is written meanwhile).
async fn assert_same_zxid(e: &Ensemble, step: &str) {
    eventually(
        CONVERGE,
        &format!("{step}: every member to report the same Zxid in srvr"),
        || async {
            let zxids: Vec<Option<u64>> =
                blocking(|| (0..e.members().len()).map(|i| srvr_zxid(e, i)).collect());
            (zxids[0].is_some() && zxids.iter().all(|z| *z == zxids[0])).then_some(())
        },
    )
    .await;
}

/// The member whose `cons` lists session `id`, if one does.
fn member_holding(e: &Ensemble, id: i64) -> Option<usize> {
    let needle = format!("sid=0x{id:x},");
    (0..e.members().len()).find(|&i| {
        e.member(i).is_running()
            && four_letter_word(e.member(i).addr(), "cons", PROBE)
                .is_ok_and(|answer| answer.contains(&needle))
    })
}

// ---------------------------------------------------------------------------------------
// Sessions held through the migration.
// ---------------------------------------------------------------------------------------

/// A `zookeeper-client` session with an ephemeral, a data watch on `ROOT/final` armed when
/// it opens (it fires at the end of the migration), and watches armed before each step.
///
/// One-shot watches only: `zookeeper-client` 0.11.2 does not re-register persistent
/// watches after a reconnect (its `SetWatches` never carries them), with Apache or zkrs.
struct HeldSession {
    name: String,
    client: zk::Client,
    id: i64,
    /// The data watch on `ROOT/final`.
    whole: Option<zk::OneshotWatcher>,
    /// The exists watch on the step's new node and the data watch on `ROOT/watched`.
    step_watches: Option<(zk::OneshotWatcher, zk::OneshotWatcher)>,
}

impl HeldSession {
    async fn open(e: &Ensemble, name: &str) -> HeldSession {
        let client = within(WAIT, "a held session", async {
            zk::Client::connector()
                .with_session_timeout(HELD_SESSION)
                .connect(&e.connect_string())
                .await
                .expect("connect a held session")
        })
        .await;
        client
            .create(
                &format!("{ROOT}/held/{name}"),
                name.as_bytes(),
                &mode(zk::CreateMode::Ephemeral),
            )
            .await
            .expect("the held session's ephemeral");
        let (_, _, whole) = client
            .get_and_watch_data(&format!("{ROOT}/final"))
            .await
            .expect("a data watch");
        let id = client.session_id().0;
        HeldSession {
            name: name.to_string(),
            client,
            id,
            whole: Some(whole),
            step_watches: None,
        }
    }

    /// Arms the step's watches: on the creation of `path` (which does not exist yet), and
    /// on the data of `ROOT/watched`.
    async fn arm(&mut self, path: &str) {
        let (stat, created) = self
            .client
            .check_and_watch_stat(path)
            .await
            .unwrap_or_else(|err| panic!("{}: arming a watch on {path}: {err}", self.name));
        assert!(stat.is_none(), "{path} exists already");
        let (_, _, changed) = self
            .client
            .get_and_watch_data(&format!("{ROOT}/watched"))
            .await
            .unwrap_or_else(|err| panic!("{}: arming a data watch: {err}", self.name));
        self.step_watches = Some((created, changed));
    }

    /// The session was never expired (the server would have told the client when it
    /// reconnected), is connected again, and still owns its ephemeral. The read also
    /// orders what follows after the watches this session re-registered on its (maybe
    /// new) member.
    async fn assert_alive(&self, step: &str) {
        eventually(
            HELD_SESSION * 2,
            &format!("{step}: held session {} to be connected", self.name),
            || async {
                let state = self.client.state();
                assert!(
                    !state.is_terminated(),
                    "{step}: held session {} ({:#x}) ended: {state:?}",
                    self.name,
                    self.id
                );
                (state == zk::SessionState::SyncConnected).then_some(())
            },
        )
        .await;
        assert_eq!(self.client.session_id().0, self.id, "{step}: {}", self.name);
        let stat = within(
            WAIT,
            "a held session's read",
            self.client
                .check_stat(&format!("{ROOT}/held/{}", self.name)),
        )
        .await
        .unwrap_or_else(|err| panic!("{step}: held session {}: {err}", self.name))
        .unwrap_or_else(|| panic!("{step}: held session {}'s ephemeral is gone", self.name));
        assert_eq!(stat.ephemeral_owner, self.id, "{step}: {}", self.name);
    }

    /// The watches armed before the step fired for its changes: `created` was created and
    /// `ROOT/watched` set to `value`.
    async fn assert_watches_fired(&mut self, created: &str, value: &str, step: &str) {
        let (on_create, on_change) = self
            .step_watches
            .take()
            .expect("watches armed before the step");
        let event = fired(on_create).await;
        assert_eq!(
            (event.event_type, event.path.as_str()),
            (zk::EventType::NodeCreated, created),
            "{step}: {}'s exists watch",
            self.name
        );
        let event = fired(on_change).await;
        let watched = format!("{ROOT}/watched");
        assert_eq!(
            (event.event_type, event.path.as_str()),
            (zk::EventType::NodeDataChanged, watched.as_str()),
            "{step}: {}'s data watch",
            self.name
        );
        let (data, _) = self.client.get_data(&watched).await.expect("read watched");
        assert_eq!(data, value.as_bytes(), "{step}: {}", self.name);
    }
}

/// kazoo sessions in a Python process (`migration_live/kazoo_holder.py`), driven by
/// lines on its stdin; killed by its PID on drop.
struct KazooHolder {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    /// Session name -> id.
    sessions: BTreeMap<String, i64>,
}

impl KazooHolder {
    fn start() -> KazooHolder {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/migration_live/kazoo_holder.py");
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
        let mut child = Command::new(&python)
            .arg(&script)
            .arg(ROOT)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {python} {}: {e}", script.display()));
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut holder = KazooHolder {
            child,
            stdin,
            lines,
            sessions: BTreeMap::new(),
        };
        let ready = holder.answer(Duration::from_secs(60), "the kazoo helper to start");
        assert_eq!(ready, "ready", "the kazoo helper (is kazoo installed?)");
        holder
    }

    fn answer(&mut self, limit: Duration, what: &str) -> String {
        match self.lines.recv_timeout(limit) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("no answer within {limit:?}: {what}"),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("the kazoo helper exited: {what}")
            }
        }
    }

    fn call(&mut self, command: &str) -> String {
        writeln!(self.stdin, "{command}").expect("writing to the kazoo helper");
        self.stdin.flush().expect("flush");
        // The helper bounds each of its waits by 30 s.
        self.answer(Duration::from_secs(45), command)
    }

    /// Opens session `name` through the members' addresses in `order` (kazoo tries them in
    /// that order, so it lands on the first that serves). Returns its id.
    fn open(&mut self, e: &Ensemble, name: &str, order: &[usize]) -> i64 {
        let hosts = order
            .iter()
            .map(|&i| e.member(i).addr().to_string())
            .collect::<Vec<_>>()
            .join(",");
        let reply = self.call(&format!("open {name} {hosts}"));
        let id = reply
            .strip_prefix(&format!("opened {name} 0x"))
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .unwrap_or_else(|| panic!("opening kazoo session {name}: {reply}"));
        self.sessions.insert(name.to_string(), id as i64);
        id as i64
    }

    /// Every kazoo session is connected, was never lost, still owns its ephemeral, and its
    /// DataWatch saw `value`.
    fn check_all(&mut self, value: &str, step: &str) {
        let names: Vec<String> = self.sessions.keys().cloned().collect();
        for name in names {
            let reply = self.call(&format!("check {name} {value}"));
            assert!(
                reply.starts_with(&format!("ok {name} ")),
                "{step}: kazoo session {name}: {reply}"
            );
        }
    }

    fn quit(mut self) {
        let reply = self.call("quit");
        assert_eq!(reply, "bye", "the kazoo helper's goodbye");
    }
}

impl Drop for KazooHolder {
    fn drop(&mut self) {
        // SIGKILL to exactly the PID we spawned (it may have exited after `quit`); reaped.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------
// The migration.
// ---------------------------------------------------------------------------------------

/// What the step does with the member's data.
enum Data {
    /// An empty data dir (but `myid`): the member syncs with a snapshot from the leader.
    Empty,
    /// The data moved aside by an earlier step (a rollback that keeps the old data).
    Restore(PathBuf),
}

/// Which member a step replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Follower,
    Leader,
}

/// An ensemble being migrated, the sessions held through it, and what was acknowledged.
struct Migration {
    e: Ensemble,
    held: Vec<HeldSession>,
    kazoo: KazooHolder,
    acked: AckLog,
    steps: usize,
}

impl Migration {
    /// Starts `n` Apache members and the held sessions: `rust` of `zookeeper-client`, and a
    /// kazoo session started at each member.
    async fn start(n: usize, rust: usize) -> Migration {
        let e = blocking(|| {
            Ensemble::start_mixed(
                &vec![Launch::Server(ServerKind::Apache); n],
                ServerConfig::default(),
            )
        });
        let setup = e.client_of(0).await;
        for path in [
            ROOT.to_string(),
            format!("{ROOT}/held"),
            format!("{ROOT}/final"),
        ] {
            setup.create(&path, b"", &open()).await.expect("create");
        }
        setup
            .create(&format!("{ROOT}/watched"), b"start", &open())
            .await
            .expect("create watched");
        drop(setup);
        let mut held = Vec::new();
        for k in 0..rust {
            held.push(HeldSession::open(&e, &format!("rust-{k}")).await);
        }
        let mut kazoo = blocking(KazooHolder::start);
        for i in 0..n {
            let order: Vec<usize> = (0..n).map(|k| (i + k) % n).collect();
            blocking(|| kazoo.open(&e, &format!("kazoo-start-{}", i + 1), &order));
        }
        Migration {
            e,
            held,
            kazoo,
            acked: AckLog::default(),
            steps: 0,
        }
    }

    /// The member the next step to `kind` replaces: a follower of the other kind, else the
    /// leader.
    fn next_victim(&self, kind: ServerKind) -> (usize, Role) {
        let leader = self.e.leader().expect("one leader");
        let n = self.e.members().len();
        match (0..n).find(|&i| i != leader && kind_of(&self.e, i) != kind) {
            Some(follower) => (follower, Role::Follower),
            None => {
                assert_ne!(kind_of(&self.e, leader), kind, "nothing left to replace");
                (leader, Role::Leader)
            }
        }
    }

    /// Replaces every member by one of `kind`, one at a time: followers first, then the
    /// leader.
    async fn migrate_all(&mut self, kind: ServerKind) {
        let n = self.e.members().len();
        let mut roles = Vec::new();
        for _ in 0..n {
            let (victim, role) = self.next_victim(kind);
            roles.push(role);
            self.step(victim, kind, Data::Empty).await;
        }
        let mut expected = vec![Role::Follower; n - 1];
        expected.push(Role::Leader);
        assert_eq!(
            roles,
            expected,
            "the order of the steps to {}",
            kind_name(kind)
        );
        for i in 0..n {
            assert_eq!(kind_of(&self.e, i), kind);
        }
    }

    /// One step of the runbook: checks, then member `victim` stopped and replaced in place
    /// by a server of `kind` under writes, then the checks that it synced and that nothing
    /// was lost. Returns where the member's previous data was moved.
    async fn step(&mut self, victim: usize, kind: ServerKind, data: Data) -> PathBuf {
        self.steps += 1;
        let k = self.steps;
        let from = kind_name(kind_of(&self.e, victim));
        let step = format!(
            "step {k} (member {}: {from} -> {})",
            victim + 1,
            kind_name(kind)
        );
        eprintln!("{step}: {}", self.e.describe());
        let e = &mut self.e;

        let leader = preflight(e, &step).await;
        let n = e.members().len();
        let writers = Writers::start(e, &format!("/acked-{k}"), WRITERS, step_limits()).await;
        writers
            .wait_for_progress(PROGRESS, ELECTION, &format!("{step}: writes before"))
            .await;

        // A kazoo session on the member about to go, and a one-shot watch per held session.
        let order: Vec<usize> = (0..n).map(|j| (victim + j) % n).collect();
        let name = format!("kazoo-step-{k}");
        let id = blocking(|| self.kazoo.open(e, &name, &order));
        assert_eq!(
            blocking(|| member_holding(e, id)),
            Some(victim),
            "{step}: {name} is on the member to be replaced"
        );
        let on_victim: Vec<&str> = self
            .held
            .iter()
            .filter(|h| blocking(|| member_holding(e, h.id)) == Some(victim))
            .map(|h| h.name.as_str())
            .collect();
        eprintln!(
            "{step}: {name} and {on_victim:?} are on member {}",
            victim + 1
        );
        let created = format!("{ROOT}/step-{k}");
        for h in &mut self.held {
            h.arm(&created).await;
        }

        // Stop it, as the runbook does; with the leader gone, the others elect one.
        let clean = blocking(|| e.stop(victim));
        assert!(
            clean,
            "{step}: member {} did not exit on its signal",
            victim + 1
        );
        // The rest still serves: one leader (a new one if the leader stopped) that counts
        // every remaining follower as synced.
        let others: Vec<usize> = (0..n).filter(|&j| j != victim).collect();
        let serving = blocking(|| e.wait_serving_among(&others, ELECTION));
        if victim == leader {
            eprintln!("{step}: the leadership moved to member {}", serving + 1);
        } else {
            assert_eq!(serving, leader, "{step}: the leader did not change");
        }
        wait_synced_followers(e, serving, n - 2, &step).await;
        writers
            .wait_for_progress(
                PROGRESS,
                ELECTION,
                &format!("{step}: writes while it is down"),
            )
            .await;

        // The new server on the same id, addresses and zoo.cfg.
        let log_before = e.member(victim).log().len();
        let from_empty = matches!(data, Data::Empty);
        let aside = blocking(|| match data {
            Data::Empty => e.replace_in_place(victim, kind),
            Data::Restore(old) => e.put_back(victim, kind, &old),
        });
        let leader_after = assert_follows_as(e, victim, kind, &step).await;
        if from_empty {
            // An empty member can only have been brought up to date with a snapshot; the
            // runbook tells the operator to look for this line.
            let log = e.member(victim).log();
            let synced = log.get(log_before..).unwrap_or("");
            assert!(
                synced.lines().any(|l| (l.contains("synced with the leader")
                    && l.contains("mode=\"snap\""))
                    || l.contains("Getting a snapshot from leader")),
                "{step}: member {} logged no sync by snapshot",
                victim + 1
            );
        }
        if victim == leader {
            assert_eq!(
                kind_of(e, leader_after),
                kind,
                "{step}: the new leader is of the new kind"
            );
        } else {
            assert_eq!(leader_after, leader, "{step}: the leader did not change");
        }
        writers
            .wait_for_progress(PROGRESS, ELECTION, &format!("{step}: writes after"))
            .await;
        let log = writers.stop().await;

        // Synced: the same zxid everywhere, every acknowledged write, the same trees.
        assert_same_zxid(e, &step).await;
        assert_acked_everywhere(e, &log).await;
        self.acked.merge(log);
        let tree = assert_same_trees(e, CONVERGE).await;
        blocking(|| assert_no_digest_mismatches(e));
        eprintln!("{step}: done, {} nodes on each member", tree.len());

        self.assert_sessions_survived(k, &created, &step).await;
        aside
    }

    /// Every held session survived: connected, never expired, its ephemeral on every
    /// member, its watches firing.
    async fn assert_sessions_survived(&mut self, k: usize, created: &str, step: &str) {
        for h in &self.held {
            h.assert_alive(step).await;
        }
        let mut owners: BTreeMap<String, i64> =
            self.held.iter().map(|h| (h.name.clone(), h.id)).collect();
        owners.extend(self.kazoo.sessions.clone());
        for i in 0..self.e.members().len() {
            let c = self.e.client_of(i).await;
            c.sync(ROOT).await.expect("sync");
            let mut names = c
                .list_children(&format!("{ROOT}/held"))
                .await
                .expect("list");
            names.sort();
            let expected: Vec<&String> = owners.keys().collect();
            assert_eq!(
                names.iter().collect::<Vec<_>>(),
                expected,
                "{step}: the held sessions' ephemerals on member {}",
                i + 1
            );
            for (name, id) in &owners {
                let stat = c
                    .check_stat(&format!("{ROOT}/held/{name}"))
                    .await
                    .expect("stat")
                    .expect("listed");
                assert_eq!(
                    stat.ephemeral_owner,
                    *id,
                    "{step}: {name} on member {}",
                    i + 1
                );
            }
        }
        let value = format!("step-{k}");
        let setter = self.e.client_of(0).await;
        setter.create(created, b"", &open()).await.expect("create");
        setter
            .set_data(&format!("{ROOT}/watched"), value.as_bytes(), None)
            .await
            .expect("set watched");
        for h in &mut self.held {
            h.assert_watches_fired(created, &value, step).await;
        }
        blocking(|| self.kazoo.check_all(&value, step));
    }

    /// The end: every write acknowledged during the whole migration on every member.
    /// The watches the held sessions armed when they opened fire now.
    async fn finish(mut self) {
        assert_acked_everywhere(&self.e, &self.acked).await;
        let path = format!("{ROOT}/final");
        let setter = self.e.client_of(0).await;
        setter
            .set_data(&path, b"done", None)
            .await
            .expect("set final");
        for h in &mut self.held {
            h.assert_alive("the end").await;
            let event = fired(h.whole.take().expect("armed when it opened")).await;
            assert_eq!(
                (event.event_type, event.path.as_str()),
                (zk::EventType::NodeDataChanged, path.as_str()),
                "{}'s data watch armed before the migration",
                h.name
            );
        }
        assert_same_trees(&self.e, CONVERGE).await;
        blocking(|| self.kazoo.quit());
    }
}

fn step_limits() -> WriterLimits {
    WriterLimits {
        max_writes: 2_000,
        max_time: Duration::from_secs(120),
        pace: Duration::from_millis(20),
    }
}

/// Apache x3 -> zkrs x3 -> Apache x3, member by member (followers first, the leader last),
/// under writes and with sessions held throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apache_to_zkrs_and_back_member_by_member_under_writes() {
    let started = Instant::now();
    let mut m = Migration::start(3, 2).await;
    m.migrate_all(ServerKind::Zkrs).await;
    eprintln!("zkrs x3 after {:?}", started.elapsed());
    m.migrate_all(ServerKind::Apache).await;
    eprintln!("Apache x3 again after {:?}", started.elapsed());
    m.finish().await;
}

/// A rollback in the middle: a follower replaced by zkrs, then Apache put back on it with
/// the data it had before (which the replacement moved aside).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_replaced_by_zkrs_rolls_back_to_apache() {
    let mut m = Migration::start(3, 1).await;
    let (victim, role) = m.next_victim(ServerKind::Zkrs);
    assert_eq!(role, Role::Follower);
    let apache_data = m.step(victim, ServerKind::Zkrs, Data::Empty).await;
    assert!(
        apache_data.join("version-2").is_dir(),
        "Apache's data was moved aside"
    );
    let zkrs_data = m
        .step(victim, ServerKind::Apache, Data::Restore(apache_data))
        .await;
    assert!(
        zkrs_data.join("zkrs").is_dir(),
        "zkrs's data was moved aside"
    );
    m.finish().await;
}
