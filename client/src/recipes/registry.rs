//! A service registry.
//!
//! A provider registers an instance of a service as an ephemeral sequential node
//! `<root>/<service>/instance-<seq>` whose data is its address; the node lives as long as the
//! provider's session (or until it deregisters). A consumer keeps an always-current list of
//! the instances: a background task re-reads the children each time its child watch fires
//! (the watch survives reconnects, so a change made while the consumer was disconnected is
//! still reported), and the consumer picks an instance at random or round robin.
//!
//! ```no_run
//! # async fn demo(provider: zkrs_client::Client, consumer: zkrs_client::Client)
//! # -> zkrs_client::Result<()> {
//! use zkrs_client::recipes::registry::ServiceRegistry;
//! let registration = ServiceRegistry::new(&provider, "/services")?
//!     .register("billing", "10.0.0.7:8080")
//!     .await?;
//! let mut billing = ServiceRegistry::new(&consumer, "/services")?.discover("billing").await?;
//! let instances = billing.wait_for(|i| !i.is_empty()).await?;
//! let pick = billing.pick_round_robin();
//! # drop((registration, instances, pick)); Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rand::seq::SliceRandom;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::debug;
use zkrs_proto::path::{join, validate_path};
use zkrs_proto::CreateMode;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::recipes::lock::spawn_detached;
use crate::types::SessionState;

const PREFIX: &str = "instance-";

/// The registry under a root path (e.g. `/services`).
#[derive(Debug, Clone)]
pub struct ServiceRegistry {
    client: Client,
    root: String,
}

/// One registered instance of a service.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Instance {
    /// The node name (`instance-0000000003`), unique within the service.
    pub id: String,
    /// What the provider registered (e.g. `host:port`).
    pub address: String,
}

/// A provider's registration. [`Registration::deregister`] removes it; so does dropping it,
/// or the end of the provider's session.
#[derive(Debug)]
pub struct Registration {
    client: Client,
    path: String,
}

/// A consumer's live view of a service's instances; dropping it stops the watching.
#[derive(Debug)]
pub struct ServiceDiscovery {
    rx: watch::Receiver<Snapshot>,
    next: AtomicUsize,
    task: JoinHandle<()>,
}

#[derive(Debug, Clone, Default)]
struct Snapshot {
    instances: Arc<Vec<Instance>>,
    /// Set when the view stopped being maintained (session ended).
    ended: Option<Error>,
}

impl ServiceRegistry {
    pub fn new(client: &Client, root: &str) -> Result<ServiceRegistry> {
        validate_path(root, false)?;
        Ok(ServiceRegistry {
            client: client.clone(),
            root: root.to_string(),
        })
    }

    fn service_path(&self, service: &str) -> Result<String> {
        if service.is_empty() || service.contains('/') {
            return Err(Error::InvalidArgument(format!(
                "invalid service name {service:?}"
            )));
        }
        let path = join(&self.root, service);
        validate_path(&path, false)?;
        Ok(path)
    }

    /// Registers an instance of `service` at `address`.
    ///
    /// A connection lost while the node is created leaves it unknown whether it was: once
    /// connected again, an instance of this session with the same address is taken as
    /// this registration (as Curator's protected mode finds its node), and otherwise the
    /// node is created again, so a registration is made exactly once.
    pub async fn register(&self, service: &str, address: &str) -> Result<Registration> {
        let dir = self.service_path(service)?;
        let prefix = join(&dir, PREFIX);
        let mut made_dir = false;
        let path = loop {
            match self
                .client
                .create(&prefix, address.as_bytes(), CreateMode::EphemeralSequential)
                .await
            {
                Ok(path) => break path,
                Err(Error::NoNode) if !made_dir => {
                    self.client.ensure_path(&dir).await?;
                    made_dir = true;
                }
                Err(Error::ConnectionLoss) => {
                    super::await_connection(&self.client).await?;
                    if let Some(path) = self.own_instance(&dir, address).await? {
                        break path;
                    }
                }
                Err(e) => return Err(e),
            }
        };
        debug!(path, address, "registered");
        Ok(Registration {
            client: self.client.clone(),
            path,
        })
    }

    /// The instance under `dir` that this session created with `address`, if any (read
    /// again from the start when the connection is lost meanwhile).
    async fn own_instance(&self, dir: &str, address: &str) -> Result<Option<String>> {
        loop {
            match self.scan_for_own(dir, address).await {
                Err(Error::ConnectionLoss) => super::await_connection(&self.client).await?,
                found => return found,
            }
        }
    }

    async fn scan_for_own(&self, dir: &str, address: &str) -> Result<Option<String>> {
        let children = match self.client.get_children(dir).await {
            Err(Error::NoNode) => return Ok(None),
            other => other?,
        };
        let session = self.client.session_id();
        for name in children.iter().filter(|n| n.starts_with(PREFIX)) {
            let path = join(dir, name);
            match self.client.get_data(&path).await {
                Ok((data, stat))
                    if stat.ephemeral_owner == session && data == address.as_bytes() =>
                {
                    return Ok(Some(path));
                }
                Ok(_) | Err(Error::NoNode) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// The instances of `service` right now (one read, no watching).
    pub async fn instances(&self, service: &str) -> Result<Vec<Instance>> {
        let dir = self.service_path(service)?;
        let mut cache = HashMap::new();
        match self.client.get_children(&dir).await {
            Ok(children) => fetch(&self.client, &dir, children, &mut cache).await,
            Err(Error::NoNode) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Starts following `service`; the first list is loaded when this returns.
    pub async fn discover(&self, service: &str) -> Result<ServiceDiscovery> {
        let dir = self.service_path(service)?;
        self.client.ensure_path(&dir).await?;
        let (tx, mut rx) = watch::channel(Snapshot::default());
        let task = tokio::spawn(follow(self.client.clone(), dir, tx));
        // The task publishes once it has read the list (or failed).
        if rx.changed().await.is_err() {
            return Err(self.client.shared.terminal_error());
        }
        if let Some(e) = rx.borrow_and_update().ended.clone() {
            return Err(e);
        }
        Ok(ServiceDiscovery {
            rx,
            next: AtomicUsize::new(0),
            task,
        })
    }
}

impl Registration {
    /// The instance's node.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Removes the instance.
    pub async fn deregister(mut self) -> Result<()> {
        let path = std::mem::take(&mut self.path);
        match self.client.delete(&path, None).await {
            Ok(()) | Err(Error::NoNode) => Ok(()),
            Err(e) if e.is_terminal() => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if !self.path.is_empty() {
            let client = self.client.clone();
            let path = std::mem::take(&mut self.path);
            spawn_detached(async move {
                let _ = client.delete(&path, None).await;
            });
        }
    }
}

impl ServiceDiscovery {
    /// The instances as last seen, ordered by id (registration order).
    pub fn instances(&self) -> Vec<Instance> {
        self.rx.borrow().instances.as_ref().clone()
    }

    /// Waits for the list to change and returns it; fails once the view is no longer
    /// maintained (the session ended).
    pub async fn changed(&mut self) -> Result<Vec<Instance>> {
        if let Some(e) = self.rx.borrow().ended.clone() {
            return Err(e);
        }
        if self.rx.changed().await.is_err() {
            return Err(Error::Closed);
        }
        let snap = self.rx.borrow_and_update().clone();
        match snap.ended {
            Some(e) => Err(e),
            None => Ok(snap.instances.as_ref().clone()),
        }
    }

    /// Waits until the list satisfies `pred` and returns it (immediately if it already
    /// does). Bound it with `tokio::time::timeout`.
    pub async fn wait_for(
        &mut self,
        mut pred: impl FnMut(&[Instance]) -> bool,
    ) -> Result<Vec<Instance>> {
        loop {
            {
                let snap = self.rx.borrow_and_update();
                if pred(&snap.instances) {
                    return Ok(snap.instances.as_ref().clone());
                }
                if let Some(e) = snap.ended.clone() {
                    return Err(e);
                }
            }
            if self.rx.changed().await.is_err() {
                return Err(Error::Closed);
            }
        }
    }

    /// An instance chosen at random.
    pub fn pick_random(&self) -> Option<Instance> {
        self.rx
            .borrow()
            .instances
            .choose(&mut rand::thread_rng())
            .cloned()
    }

    /// The instances in turn.
    pub fn pick_round_robin(&self) -> Option<Instance> {
        let snap = self.rx.borrow();
        if snap.instances.is_empty() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        snap.instances.get(i % snap.instances.len()).cloned()
    }
}

impl Drop for ServiceDiscovery {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads the data of each child not in `cache`; children that vanish meanwhile are skipped.
async fn fetch(
    client: &Client,
    dir: &str,
    children: Vec<String>,
    cache: &mut HashMap<String, String>,
) -> Result<Vec<Instance>> {
    cache.retain(|id, _| children.contains(id));
    let mut out = Vec::new();
    for id in children.into_iter().filter(|c| c.starts_with(PREFIX)) {
        let address = match cache.get(&id) {
            Some(a) => a.clone(),
            None => match client.get_data(&join(dir, &id)).await {
                Ok((data, _)) => {
                    let a = String::from_utf8_lossy(&data).into_owned();
                    cache.insert(id.clone(), a.clone());
                    a
                }
                Err(Error::NoNode) => continue,
                Err(e) => return Err(e),
            },
        };
        out.push(Instance { id, address });
    }
    out.sort();
    Ok(out)
}

/// Keeps `tx` current until the session ends.
async fn follow(client: Client, dir: String, tx: watch::Sender<Snapshot>) {
    let mut cache = HashMap::new();
    let mut states = client.state_watcher();
    let mut first = true;
    let error = loop {
        let state = *states.borrow_and_update();
        if state.is_terminal() {
            break client.shared.terminal_error();
        }
        if state != SessionState::SyncConnected {
            // Keep serving the last list while the client reconnects.
            if states.changed().await.is_err() {
                break Error::Closed;
            }
            continue;
        }
        let watcher = match client.get_children_and_watch(&dir).await {
            Ok((children, _, w)) => match fetch(&client, &dir, children, &mut cache).await {
                Ok(instances) => {
                    tx.send_if_modified(|snap| {
                        if first || *snap.instances != instances {
                            debug!(dir, n = instances.len(), "instances");
                            snap.instances = Arc::new(instances);
                            first = false;
                            true
                        } else {
                            false
                        }
                    });
                    w
                }
                Err(Error::ConnectionLoss) => continue,
                Err(e) => break e,
            },
            Err(Error::NoNode) => {
                // The service node was deleted: wait for it to come back.
                match client.exists_and_watch(&dir).await {
                    Ok((Some(_), _)) => continue,
                    Ok((None, w)) => {
                        tx.send_if_modified(|snap| {
                            let changed = first || !snap.instances.is_empty();
                            snap.instances = Arc::new(Vec::new());
                            first = false;
                            changed
                        });
                        w
                    }
                    Err(Error::ConnectionLoss) => continue,
                    Err(e) => break e,
                }
            }
            Err(Error::ConnectionLoss) => continue,
            Err(e) => break e,
        };
        tokio::select! {
            _ = watcher => {}
            r = states.changed() => if r.is_err() { break Error::Closed },
        }
    };
    debug!(dir, %error, "service discovery ended");
    tx.send_modify(|snap| snap.ended = Some(error));
}
