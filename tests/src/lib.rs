//! Test harness shared by the end-to-end tests.
//!
//! The tests in `tests/tests/*.rs` talk to a real server process through
//! [`zookeeper_client`], an independent ZooKeeper client from crates.io, so that they check
//! zkrs against a third party's idea of the protocol, not against our own. The same tests run
//! against Apache ZooKeeper (`ZKRS_TEST_SERVER=apache`), which is how they are validated.
//!
//! * [`ServerUnderTest`] starts a server (zkrs-server or Apache ZooKeeper) on a loopback
//!   address of its own with a fresh data dir, and kills it on drop. With
//!   `ZKRS_TEST_ENSEMBLE=3` it starts a 3-member ensemble of that kind instead, and clients
//!   get a connect string naming every member ([`server::ensemble_size`]).
//! * [`RawSession`] is a tiny hand-written client for what the crate cannot do: sessions that
//!   fall silent, wrong passwords, invalid paths, per-op multi results, oversized frames.
//! * [`TcpProxy`] sits between a client and the server so a test can cut connections and
//!   force a reconnect.
//! * The helpers below wait for conditions with bounded deadlines.

pub mod acked;
pub mod addr;
pub mod apache_files;
pub mod chaos;
pub mod diff;
pub mod ensemble;
pub mod frame;
pub mod inprocess;
pub mod proxy;
pub mod raw;
pub mod reconfig;
pub mod replica;
pub mod server;

use std::future::Future;
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha1::{Digest as _, Sha1};
pub use zookeeper_client as zk;

pub use addr::LoopbackAddr;
pub use ensemble::{Ensemble, Launch, Mode};
pub use inprocess::InProcessServer;
pub use proxy::TcpProxy;
pub use raw::{Frame, RawSession, Reply};
pub use server::{ensemble_size, ServerConfig, ServerKind, ServerUnderTest};

/// How long a test waits for anything that should happen promptly (an event, a reply).
pub const WAIT: Duration = Duration::from_secs(10);

/// How long a test waits for something driven by server timers (session expiry, the
/// container/TTL reaper) before giving up.
pub const SLOW_WAIT: Duration = Duration::from_secs(30);

/// Interval between two polls of a condition.
pub const POLL: Duration = Duration::from_millis(20);

/// Open ACL for every node that does not test ACLs.
pub fn open() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

/// Create options for `mode` with the open ACL.
pub fn mode(mode: zk::CreateMode) -> zk::CreateOptions<'static> {
    mode.with_acls(zk::Acls::anyone_all())
}

/// The id of a `digest` ACL for `user` with `password`: `user:base64(sha1("user:password"))`.
pub fn digest_id(user: &str, password: &str) -> String {
    let hash = Sha1::digest(format!("{user}:{password}").as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// Awaits `fut`, panicking with `what` if it takes longer than `limit`.
pub async fn within<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {limit:?} waiting for {what}"),
    }
}

/// Polls `check` every [`POLL`] until it yields `Some`, for at most `limit`; panics with `what`
/// after that. Returns the value and the time it took.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> (T, Duration)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return (v, start.elapsed());
        }
        if start.elapsed() > limit {
            panic!("condition not met within {limit:?}: {what}");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// `client` after a `sync`: its server has applied every write committed before the sync
/// began, so a read now sees what other sessions wrote before.
///
/// Standalone, every session reads the one tree and this changes nothing; in an ensemble the
/// sessions may be served by different members, one behind the other (ZooKeeper orders a
/// session's own operations, not one session's reads after another's writes).
pub async fn synced(client: &zk::Client) -> &zk::Client {
    client
        .sync("/")
        .await
        .unwrap_or_else(|e| panic!("sync failed: {e}"));
    client
}

/// [`synced`] for a raw session: sends a `sync` of `/` and waits for its reply.
pub async fn raw_synced(raw: &mut RawSession) {
    // SyncRequest is just the path (a jute ustring: a 4-byte length, then the bytes).
    let path = b"/";
    let mut req = (path.len() as i32).to_be_bytes().to_vec();
    req.extend_from_slice(path);
    let reply = raw.call(SYNC_OP, &req).await.expect("sync");
    assert_eq!(reply.err, 0, "sync failed with error {}", reply.err);
}

/// The `sync` opcode.
const SYNC_OP: i32 = 9;

/// Whether the tests run against an ensemble (`ZKRS_TEST_ENSEMBLE`).
pub fn in_ensemble() -> bool {
    ensemble_size().is_some()
}

/// In ensemble mode, says that the calling test is skipped and why, and returns true (the
/// test then returns at once); standalone, returns false. For tests whose meaning is about
/// one standalone server (its data dir, its process, its in-process form).
pub fn skip_in_ensemble(reason: &str) -> bool {
    if in_ensemble() {
        eprintln!("SKIPPED with ZKRS_TEST_ENSEMBLE: {reason}");
        true
    } else {
        false
    }
}

/// Polls until `path` no longer exists (as seen by `client`); returns how long that took.
pub async fn wait_gone(client: &zk::Client, path: &str, limit: Duration) -> Duration {
    eventually(limit, &format!("{path} to be deleted"), || async {
        match client.check_stat(path).await {
            Ok(None) => Some(()),
            Ok(Some(_)) => None,
            Err(e) => panic!("exists({path}) failed: {e}"),
        }
    })
    .await
    .1
}

/// Waits for the next watch event that is about a node (skipping session state events, which
/// persistent watchers also receive).
pub async fn next_node_event(watcher: &mut zk::PersistentWatcher) -> zk::WatchedEvent {
    within(WAIT, "a persistent watch event", async {
        loop {
            let event = watcher.changed().await;
            if event.event_type != zk::EventType::Session {
                return event;
            }
        }
    })
    .await
}

/// Waits for a one-shot watch to fire.
pub async fn fired(watcher: zk::OneshotWatcher) -> zk::WatchedEvent {
    within(WAIT, "a one-shot watch event", watcher.changed()).await
}

/// `(event type, path)` of an event, for compact assertions.
pub fn ev(event: &zk::WatchedEvent) -> (zk::EventType, &str) {
    (event.event_type, event.path.as_str())
}

/// Asserts that `fut` (e.g. a pending watch) has not completed yet, without waiting.
///
/// Use it after a round trip that the server must answer after any notification it owes
/// (ZooKeeper delivers a watch event before the reply to a later read of the changed node).
pub async fn assert_pending<F: Future + Unpin>(fut: &mut F, what: &str) {
    if tokio::time::timeout(Duration::ZERO, fut).await.is_ok() {
        panic!("{what} completed, but it should not have");
    }
}

/// Milliseconds since the Unix epoch, to compare with `ctime`/`mtime`.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}
