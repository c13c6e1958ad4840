//! A distributed mutual-exclusion lock.
//!
//! Each contender creates an ephemeral sequential node `<dir>/lock-<token>-<seq>`. The lowest
//! sequence number holds the lock; every other contender watches **only its predecessor**
//! (the node just below its own), so a release wakes exactly one waiter, never the herd.
//! Releasing deletes the node; so does the end of the holder's session.
//!
//! The random token makes a contender's node recognisable after a lost connection (was the
//! create applied?) and after a cancelled acquisition, whose node is then deleted.
//!
//! ```no_run
//! # async fn demo(client: zkrs_client::Client) -> zkrs_client::Result<()> {
//! use std::time::Duration;
//! use zkrs_client::recipes::lock::Lock;
//! let lock = Lock::new(&client, "/locks/printer")?;
//! if let Some(guard) = lock.acquire_timeout(Duration::from_secs(5)).await? {
//!     // ... exclusive work: stop if client.state() leaves SyncConnected ...
//!     guard.release().await?;
//! }
//! # Ok(()) }
//! ```

use std::time::Duration;

use rand::Rng;
use tracing::debug;
use zkrs_proto::path::{join, validate_path};
use zkrs_proto::CreateMode;

use crate::client::Client;
use crate::error::{Error, Result};

const PREFIX: &str = "lock-";

/// A lock at a path; cheap, create one per use or keep it.
#[derive(Debug, Clone)]
pub struct Lock {
    client: Client,
    dir: String,
}

/// Proof of holding the lock. Release it with [`LockGuard::release`]; dropping it also
/// releases it (in the background). The lock is only as good as the session: if the session
/// expires, another contender may take it.
#[derive(Debug)]
pub struct LockGuard {
    client: Client,
    path: String,
    watch_events: usize,
    released: bool,
}

impl Lock {
    /// A lock whose contenders live under `dir` (created on first use).
    pub fn new(client: &Client, dir: &str) -> Result<Lock> {
        validate_path(dir, false)?;
        Ok(Lock {
            client: client.clone(),
            dir: dir.to_string(),
        })
    }

    /// Waits until the lock is held. Cancel-safe: if the future is dropped, the contender's
    /// node is removed.
    pub async fn acquire(&self) -> Result<LockGuard> {
        match self.contend(true).await? {
            Some(g) => Ok(g),
            None => Err(Error::SystemError),
        }
    }

    /// Takes the lock if it is free right now.
    pub async fn try_acquire(&self) -> Result<Option<LockGuard>> {
        self.contend(false).await
    }

    /// Waits at most `limit` for the lock; `Ok(None)` if it was not obtained in time.
    pub async fn acquire_timeout(&self, limit: Duration) -> Result<Option<LockGuard>> {
        match tokio::time::timeout(limit, self.acquire()).await {
            Ok(r) => r.map(Some),
            Err(_) => Ok(None),
        }
    }

    async fn contend(&self, wait: bool) -> Result<Option<LockGuard>> {
        let token: String = format!("{:016x}", rand::thread_rng().gen::<u64>());
        let mut cleanup = Cleanup {
            client: self.client.clone(),
            dir: self.dir.clone(),
            token: token.clone(),
            armed: true,
        };
        let name = self.create_node(&token).await?;
        let path = join(&self.dir, &name);
        let mut watch_events = 0;
        loop {
            let children = match self.client.get_children(&self.dir).await {
                Ok(c) => c,
                Err(Error::ConnectionLoss) => {
                    super::await_connection(&self.client).await?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let queue = ordered(&children);
            let Some(idx) = queue.iter().position(|n| *n == name) else {
                // Our node is gone: the session ended, or someone deleted it.
                return Err(Error::NoNode);
            };
            if idx == 0 {
                cleanup.armed = false;
                debug!(path, "lock acquired");
                return Ok(Some(LockGuard {
                    client: self.client.clone(),
                    path,
                    watch_events,
                    released: false,
                }));
            }
            if !wait {
                cleanup.armed = false;
                self.delete_quietly(&path).await?;
                return Ok(None);
            }
            let predecessor = join(&self.dir, queue[idx - 1]);
            match self.client.exists_and_watch(&predecessor).await {
                Ok((None, _)) => continue,
                Ok((Some(_), watcher)) => {
                    let event = watcher.await;
                    if event.is_session_event() {
                        return Err(self.client.shared.terminal_error());
                    }
                    watch_events += 1;
                }
                Err(Error::ConnectionLoss) => super::await_connection(&self.client).await?,
                Err(e) => return Err(e),
            }
        }
    }

    /// Creates this contender's node; after a lost connection, finds out whether the create
    /// was applied by looking for the token.
    async fn create_node(&self, token: &str) -> Result<String> {
        let prefix = join(&self.dir, &format!("{PREFIX}{token}-"));
        let mut made_dir = false;
        loop {
            match self
                .client
                .create(&prefix, b"", CreateMode::EphemeralSequential)
                .await
            {
                Ok(path) => return Ok(zkrs_proto::path::basename(&path).to_string()),
                Err(Error::NoNode) if !made_dir => {
                    self.client.ensure_path(&self.dir).await?;
                    made_dir = true;
                }
                Err(Error::ConnectionLoss) => {
                    super::await_connection(&self.client).await?;
                    if let Some(name) = self.find_token(token).await? {
                        return Ok(name);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn find_token(&self, token: &str) -> Result<Option<String>> {
        loop {
            match self.client.get_children(&self.dir).await {
                Ok(c) => return Ok(c.into_iter().find(|n| n.contains(token))),
                Err(Error::NoNode) => return Ok(None),
                Err(Error::ConnectionLoss) => super::await_connection(&self.client).await?,
                Err(e) => return Err(e),
            }
        }
    }

    async fn delete_quietly(&self, path: &str) -> Result<()> {
        match self.client.delete(path, None).await {
            Ok(()) | Err(Error::NoNode) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl LockGuard {
    /// The node that holds the lock.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// How many watch events this contender received while waiting. Each waiter watches only
    /// its predecessor, so this is at most the number of contenders ahead of it that left
    /// (normally 0 or 1).
    pub fn watch_events(&self) -> usize {
        self.watch_events
    }

    /// Releases the lock by deleting the node.
    pub async fn release(mut self) -> Result<()> {
        self.released = true;
        match self.client.delete(&self.path, None).await {
            Ok(()) | Err(Error::NoNode) => Ok(()),
            Err(e) if e.is_terminal() => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if !self.released {
            let client = self.client.clone();
            let path = std::mem::take(&mut self.path);
            spawn_detached(async move {
                let _ = client.delete(&path, None).await;
            });
        }
    }
}

/// Deletes the node of an acquisition that was cancelled before it finished.
struct Cleanup {
    client: Client,
    dir: String,
    token: String,
    armed: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let client = self.client.clone();
        let dir = std::mem::take(&mut self.dir);
        let token = std::mem::take(&mut self.token);
        spawn_detached(async move {
            // Requests are answered in order, so a create still in flight is visible here.
            if let Ok(children) = client.get_children(&dir).await {
                for name in children.iter().filter(|n| n.contains(&token)) {
                    let _ = client.delete(&join(&dir, name), None).await;
                }
            }
        });
    }
}

/// Runs a clean-up task if a runtime is available (it always is inside async code).
pub(crate) fn spawn_detached(fut: impl std::future::Future<Output = ()> + Send + 'static) {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        handle.spawn(fut);
    }
}

/// Sequence number of a `prefix...-NNNNNNNNNN` node name.
pub(crate) fn sequence(name: &str) -> Option<i64> {
    let (_, seq) = name.rsplit_once('-')?;
    if seq.len() < 10 {
        return None;
    }
    seq.parse().ok()
}

/// The contenders' node names in sequence order.
fn ordered(children: &[String]) -> Vec<&str> {
    let mut v: Vec<(i64, &str)> = children
        .iter()
        .filter(|n| n.starts_with(PREFIX))
        .filter_map(|n| sequence(n).map(|s| (s, n.as_str())))
        .collect();
    v.sort();
    v.into_iter().map(|(_, n)| n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_sequence_not_token() {
        let children = vec![
            "lock-ff-0000000003".to_string(),
            "lock-00-0000000010".to_string(),
            "lock-aa-0000000001".to_string(),
            "other".to_string(),
        ];
        assert_eq!(
            ordered(&children),
            [
                "lock-aa-0000000001",
                "lock-ff-0000000003",
                "lock-00-0000000010"
            ]
        );
        assert_eq!(sequence("x-0000000042"), Some(42));
        assert_eq!(sequence("x-42"), None);
    }
}
