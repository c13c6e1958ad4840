//! Helpers shared by the client's integration tests: a real server (zkrs-server, or Apache
//! ZooKeeper with `ZKRS_TEST_SERVER=apache`) from the `zkrs-tests` harness, clients of it,
//! and bounded waits.
#![allow(dead_code, unused_imports)]

use std::future::Future;
use std::time::Duration;

pub use zkrs_tests::TcpProxy as Proxy;
pub use zkrs_tests::{ServerConfig, ServerUnderTest, SLOW_WAIT, WAIT};

use zkrs_client::{Client, PersistentWatcher, SessionState, WatchedEvent};

/// Starts the server under test with the default configuration (tickTime 500 ms: session
/// timeouts between 1 s and 10 s).
pub fn server() -> ServerUnderTest {
    init_tracing();
    ServerUnderTest::start()
}

pub fn server_with(config: ServerConfig) -> ServerUnderTest {
    init_tracing();
    ServerUnderTest::start_with(config)
}

/// Logs to the test output when `RUST_LOG` is set.
pub fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// A client of `connect_string` with a session timeout of `timeout`.
pub async fn client_of(connect_string: &str, timeout: Duration) -> Client {
    within(WAIT, "connecting", async {
        Client::builder(connect_string)
            .session_timeout(timeout)
            .connect()
            .await
            .unwrap_or_else(|e| panic!("connecting to {connect_string}: {e}"))
    })
    .await
}

/// A client of `server` with a 10 s session timeout.
pub async fn client(server: &ServerUnderTest) -> Client {
    client_of(&server.connect_string(), Duration::from_secs(10)).await
}

/// Awaits `fut`, panicking with `what` after `limit`.
pub async fn within<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    zkrs_tests::within(limit, what, fut).await
}

/// Waits for a one-shot watch to fire.
pub async fn fired(watcher: impl Future<Output = WatchedEvent>) -> WatchedEvent {
    within(WAIT, "a one-shot watch event", watcher).await
}

/// The next node event of a persistent watch (session events skipped).
pub async fn next_event(watcher: &mut PersistentWatcher) -> WatchedEvent {
    within(WAIT, "a persistent watch event", watcher.next_node_event())
        .await
        .expect("the persistent watch ended")
}

/// Waits until `client` reports `state`.
pub async fn wait_state(client: &Client, state: SessionState, limit: Duration) {
    let reached = client.wait_for_state(state, limit).await;
    assert_eq!(reached, Some(state), "waiting for {state:?}");
}

/// Asserts that a future has not completed yet, without waiting. Use it after a round trip
/// the server answers only after delivering any notification it owes.
pub async fn assert_pending<F: Future + Unpin>(fut: &mut F, what: &str) {
    if tokio::time::timeout(Duration::ZERO, fut).await.is_ok() {
        panic!("{what} completed, but it should not have");
    }
}

/// Sorted, for comparing child lists.
pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Waits (within `limit`) until the state stream yields `want`, skipping other states.
pub async fn expect_state(
    events: &mut tokio::sync::broadcast::Receiver<SessionState>,
    want: SessionState,
    limit: Duration,
) {
    within(limit, &format!("session state {want:?}"), async {
        loop {
            match events.recv().await {
                Ok(s) if s == want => return,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("state stream ended before {want:?}: {e}"),
            }
        }
    })
    .await
}

/// Waits until `path` no longer exists, as seen by `client`, using an exists watch.
pub async fn wait_deleted(client: &Client, path: &str, limit: Duration) {
    within(limit, &format!("{path} to be deleted"), async {
        // Bounded: each round either sees the node gone or waits for its next event.
        for _ in 0..100 {
            match client.exists_and_watch(path).await {
                Ok((None, _)) => return,
                Ok((Some(_), w)) => {
                    w.await;
                }
                Err(e) => panic!("exists({path}): {e}"),
            }
        }
        panic!("{path} kept changing");
    })
    .await
}
