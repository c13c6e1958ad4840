//! A harness for the operator's reconcile against real members: the API server is an
//! in-memory store ([`api`]), the StatefulSet controller and the kubelet run members as
//! zkrs-server processes on loopback addresses of their own ([`kubelet`]), and the
//! operator is its own `reconcile`, run in a loop by a task that a test may drop at any
//! step and replace with a fresh one that has no memory ([`Operator`]).

pub mod api;
pub mod kubelet;
pub mod writes;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;
use zkrs_operator::addresses::MemberAddresses;
use zkrs_operator::crd::ZooKeeperCluster;
use zkrs_operator::planner::{EnsembleView, EventSpec, Reconfig};
use zkrs_operator::reconciler::ensemble::{Ensemble, EnsembleError, ZkEnsemble};
use zkrs_operator::reconciler::events::EventSink;
use zkrs_operator::reconciler::metrics::Metrics;
use zkrs_operator::reconciler::{reconcile, Context};
use zkrs_operator::validate::Cluster;
use zkrs_tests::LoopbackAddr;

use api::Store;

pub const ZKC: &str = "/apis/zkrs.io/v1alpha1/namespaces/ns/zookeeperclusters/zk";

/// Member `id` (ordinal + 1) lives on `ips[id - 1]`, its ports the usual ones there.
pub struct Loopback {
    pub ips: Vec<LoopbackAddr>,
}

impl Loopback {
    pub fn allocate(n: usize) -> Loopback {
        Loopback {
            ips: (0..n).map(|_| LoopbackAddr::allocate()).collect(),
        }
    }

    fn ip(&self, id: u64) -> String {
        let i = usize::try_from(id.saturating_sub(1)).unwrap_or(usize::MAX);
        self.ips
            .get(i)
            .map_or_else(|| "127.0.0.0".to_string(), |a| a.ip().to_string())
    }

    pub fn client_addrs(&self) -> Vec<SocketAddr> {
        self.ips.iter().map(|a| a.at(2181)).collect()
    }

    /// A connect string of every member's client address.
    pub fn connect_string(&self) -> String {
        let all: Vec<String> = self
            .client_addrs()
            .iter()
            .map(ToString::to_string)
            .collect();
        all.join(",")
    }
}

impl MemberAddresses for Loopback {
    fn peer_host(&self, _c: &Cluster, id: u64) -> String {
        self.ip(id)
    }

    fn client_bind(&self, _c: &Cluster, id: u64) -> String {
        format!("{}:2181", self.ip(id))
    }

    fn client_address(&self, _c: &Cluster, id: u64) -> String {
        format!("{}:2181", self.ip(id))
    }
}

/// Events as the operator published them, in order.
#[derive(Default)]
pub struct Events(Mutex<Vec<EventSpec>>);

impl EventSink for Events {
    fn publish<'a>(&'a self, _zkc: &'a ZooKeeperCluster, e: &'a EventSpec) -> BoxFuture<'a, ()> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(e.clone());
        Box::pin(async {})
    }
}

impl Events {
    pub fn reasons(&self) -> Vec<&'static str> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|e| e.reason)
            .collect()
    }
}

/// What to do right after the operator's reconfig number `at` (counted over the
/// harness's life) returns.
#[derive(Clone)]
pub enum Trap {
    /// Hang the operator there, as if killed before it recorded anything; the test sees
    /// [`Tripwire::tripped`] and replaces it.
    KillOperator { at: usize },
    /// Run `f` (kill a member) and carry on.
    Then {
        at: usize,
        f: Arc<dyn Fn() + Send + Sync>,
    },
}

/// The real ensemble client, counting reconfigs and springing traps after them.
pub struct Tripwire {
    inner: ZkEnsemble,
    traps: Mutex<Vec<Trap>>,
    reconfigs: Arc<AtomicUsize>,
    pub tripped: tokio::sync::Notify,
}

impl Ensemble for Tripwire {
    fn observe<'a>(
        &'a self,
        c: &'a Cluster,
        pods: u32,
    ) -> BoxFuture<'a, Result<EnsembleView, EnsembleError>> {
        self.inner.observe(c, pods)
    }

    fn reconfig<'a>(
        &'a self,
        c: &'a Cluster,
        pods: u32,
        change: Reconfig,
        password: &'a str,
    ) -> BoxFuture<'a, Result<String, EnsembleError>> {
        Box::pin(async move {
            // Only what committed counts: a refused reconfig is retried.
            let version = self.inner.reconfig(c, pods, change, password).await?;
            let n = self.reconfigs.fetch_add(1, Ordering::AcqRel) + 1;
            let traps = self.traps.lock().unwrap_or_else(|p| p.into_inner()).clone();
            for trap in traps {
                match trap {
                    Trap::KillOperator { at } if at == n => {
                        eprintln!("harness: the operator dies after reconfig {n} ({change:?}: version {version})");
                        self.tripped.notify_one();
                        std::future::pending::<()>().await;
                    }
                    Trap::Then { at, f } if at == n => f(),
                    _ => {}
                }
            }
            Ok(version)
        })
    }
}

/// One life of the operator: a task running `reconcile` in a loop.
pub struct Operator {
    task: tokio::task::JoinHandle<()>,
    pub tripwire: Arc<Tripwire>,
}

impl Operator {
    /// A fresh operator with no memory, reconciling the cluster in `store` every `every`.
    pub fn start(
        store: &Store,
        addresses: Arc<Loopback>,
        events: Arc<Events>,
        reconfigs: Arc<AtomicUsize>,
        traps: Vec<Trap>,
        every: Duration,
    ) -> Operator {
        let tripwire = Arc::new(Tripwire {
            inner: ZkEnsemble {
                timeout: Duration::from_secs(2),
                addresses: addresses.clone(),
            },
            traps: Mutex::new(traps),
            reconfigs,
            tripped: tokio::sync::Notify::new(),
        });
        let ctx = Arc::new(Context {
            client: store.client(),
            addresses,
            ensemble: tripwire.clone(),
            events,
            metrics: Arc::new(Metrics::default()),
        });
        let store = store.clone();
        let task = tokio::spawn(async move {
            loop {
                let zkc: ZooKeeperCluster =
                    serde_json::from_value(store.get(ZKC).unwrap_or(Value::Null))
                        .expect("the cluster in the store");
                if let Err(e) = reconcile(Arc::new(zkc), ctx.clone()).await {
                    eprintln!("harness: reconcile failed: {e}");
                }
                tokio::time::sleep(every).await;
            }
        });
        Operator { task, tripwire }
    }

    /// Kills the operator wherever it is.
    pub fn kill(self) {
        self.task.abort();
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.task.abort();
    }
}
