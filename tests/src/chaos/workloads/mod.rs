//! Workloads: what the clients do, each operation recorded in the history.
//!
//! Every client is a task with its own session (the `zookeeper-client` crate, an
//! independent client), connected to every member starting at a different one. It invokes
//! one operation at a time, each bounded by [`OP_LIMIT`], and records how it completed. A
//! client whose session ended opens a new one; after an operation of unknown outcome it
//! continues as a new process. Clients stop at the deadline or after their share of the
//! operation budget. After the faults are healed, each workload reads what the ensemble
//! holds (from every member, after a `sync`) into the history, and its checker judges the
//! whole history.

pub mod counter;
pub mod ids;
pub mod queue;
pub mod register;
pub mod sessions;
pub mod set;
pub mod watches;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng as _;

use super::checkers::Verdict;
use super::cluster::Cluster;
use super::history::{Kind, Op, Operation, Recorder};
use crate::zk;

/// The parent of every node a workload uses.
pub const ROOT: &str = "/chaos";

/// How long one operation may take before its outcome counts as unknown.
pub const OP_LIMIT: Duration = Duration::from_secs(3);

/// The clients' session timeout (a pause nemesis holds a member longer than this).
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(4);

/// The process ids of the final reads (one per member, from this one up); clients count
/// from 0.
pub const FINAL_READER: u64 = 1 << 40;

/// How long opening a session may take.
const CONNECT_LIMIT: Duration = Duration::from_secs(5);

/// Which workload a run drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Compare-and-set registers (one znode per key), checked for linearizability.
    Register,
    /// A grow-only set of persistent nodes: every acknowledged add is in the final read.
    Set,
    /// Unique ids from sequential nodes: no duplicates, none lost.
    UniqueIds,
    /// A counter incremented by version-checked multis with a marker node each.
    Counter,
    /// A queue of sequential nodes: nothing acknowledged lost, nothing taken twice.
    Queue,
    /// Sessions with an ephemeral each: it disappears if and only if its session ended.
    Sessions,
    /// One writer, the other clients watching its node with persistent watches.
    Watches,
}

const ALL: [(Workload, &str); 7] = [
    (Workload::Register, "register"),
    (Workload::Set, "set"),
    (Workload::UniqueIds, "unique-ids"),
    (Workload::Counter, "counter"),
    (Workload::Queue, "queue"),
    (Workload::Sessions, "sessions"),
    (Workload::Watches, "watches"),
];

impl FromStr for Workload {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ALL.iter()
            .find(|(_, name)| *name == s)
            .map(|(w, _)| *w)
            .ok_or_else(|| {
                let names: Vec<&str> = ALL.iter().map(|(_, n)| *n).collect();
                format!("unknown workload {s:?}; one of {}", names.join(", "))
            })
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = ALL.iter().find(|(w, _)| w == self).map(|(_, s)| *s);
        f.write_str(name.expect("every workload has a name"))
    }
}

/// What every client of a run shares.
pub struct Shared {
    pub history: Recorder,
    pub stop: AtomicBool,
    /// Operations invoked so far, by all clients.
    pub invoked: AtomicU64,
    /// The most operations all clients may invoke together.
    pub max_ops: u64,
    pub deadline: Instant,
    /// Fresh process ids (a client takes a new one after an unknown outcome).
    next_process: AtomicU64,
    /// Unique numbers for elements, markers and queue values.
    next_unique: AtomicU64,
    /// Register keys whose node a client of this run created.
    pub created_keys: Mutex<HashSet<u64>>,
    /// Watches: each live watcher process and the last value it observed.
    pub watchers: Mutex<BTreeMap<u64, Option<i64>>>,
    /// Watches: set once the watchers may stop (after the final write, or its deadline).
    pub watchers_done: AtomicBool,
    /// Watches: the value of the final write (0 until it is made).
    pub sentinel: std::sync::atomic::AtomicI64,
}

impl Shared {
    pub fn new(history: Recorder, max_ops: u64, deadline: Instant) -> Shared {
        Shared {
            history,
            stop: AtomicBool::new(false),
            invoked: AtomicU64::new(0),
            max_ops,
            deadline,
            next_process: AtomicU64::new(0),
            next_unique: AtomicU64::new(0),
            created_keys: Mutex::default(),
            watchers: Mutex::default(),
            watchers_done: AtomicBool::new(false),
            sentinel: Default::default(),
        }
    }

    pub fn unique(&self) -> u64 {
        self.next_unique.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn process(&self) -> u64 {
        self.next_process.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn should_stop(&self) -> bool {
        self.stop.load(Ordering::Acquire) || Instant::now() >= self.deadline
    }
}

/// Whether an error means the operation certainly did not take effect (the server
/// answered with a decision), as opposed to an unknown outcome (the connection or session
/// was lost, or the request timed out, possibly after the server applied it).
pub fn is_definite(e: &zk::Error) -> bool {
    matches!(
        e,
        zk::Error::NoNode
            | zk::Error::NoAuth
            | zk::Error::BadVersion
            | zk::Error::NodeExists
            | zk::Error::NotEmpty
            | zk::Error::NoChildrenForEphemerals
            | zk::Error::InvalidAcl
            | zk::Error::BadArguments(_)
            | zk::Error::NotReadOnly
    )
}

/// Whether the client's session is over and a new one is needed.
fn session_over(e: &zk::Error) -> bool {
    matches!(
        e,
        zk::Error::SessionExpired
            | zk::Error::ClientClosed
            | zk::Error::NoHosts
            | zk::Error::AuthFailed
            | zk::Error::SessionMoved
    )
}

/// What an operation gave: its completion kind, the op with what it returned, and the
/// error if any.
pub struct Completion {
    pub kind: Kind,
    pub op: Op,
    pub error: Option<zk::Error>,
}

impl Completion {
    pub fn ok(op: Op) -> Completion {
        Completion {
            kind: Kind::Ok,
            op,
            error: None,
        }
    }

    /// Fail or info, as the error says.
    pub fn failed(op: Op, e: zk::Error) -> Completion {
        Completion {
            kind: if is_definite(&e) {
                Kind::Fail
            } else {
                Kind::Info
            },
            op,
            error: Some(e),
        }
    }

    /// A definite failure: the request that would have written was never sent (`e` is why).
    pub fn not_sent(op: Op, e: zk::Error) -> Completion {
        Completion {
            kind: Kind::Fail,
            op,
            error: Some(e),
        }
    }

    /// A definite failure the client decided itself (a CAS whose value did not match, an
    /// empty queue).
    pub fn refused(op: Op) -> Completion {
        Completion {
            kind: Kind::Fail,
            op,
            error: None,
        }
    }
}

/// Opens a session on `hosts`, bounded in time.
pub async fn connect(hosts: &str) -> Result<zk::Client, String> {
    connect_with(hosts, zk::Client::connector()).await
}

/// Opens a session on `hosts` with `connector` (the clients' session timeout), bounded in
/// time.
pub async fn connect_with(hosts: &str, connector: zk::Connector) -> Result<zk::Client, String> {
    let connector = connector.with_session_timeout(SESSION_TIMEOUT);
    match tokio::time::timeout(CONNECT_LIMIT, connector.connect(hosts)).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

impl Workload {
    /// Creates the workload's nodes (through any member).
    pub async fn setup(self, client: &zk::Client) -> anyhow::Result<()> {
        for path in [ROOT.to_string(), self.dir()] {
            match client.create(&path, b"", &crate::open()).await {
                Ok(_) | Err(zk::Error::NodeExists) => {}
                Err(e) => anyhow::bail!("creating {path}: {e}"),
            }
        }
        match self {
            Workload::Counter => counter::setup(client).await,
            Workload::Watches => watches::setup(client).await,
            _ => Ok(()),
        }
    }

    /// The directory of the workload's nodes.
    pub fn dir(self) -> String {
        format!("{ROOT}/{self}")
    }

    /// The next operation of a client, drawn with its seeded `rng`.
    fn next_op(self, rng: &mut StdRng, shared: &Shared) -> Op {
        match self {
            Workload::Register => register::next_op(rng, shared),
            Workload::Set => Op::Add {
                element: shared.unique(),
            },
            Workload::UniqueIds => Op::GenerateId { name: None },
            Workload::Counter => counter::next_op(rng, shared),
            Workload::Queue => queue::next_op(rng, shared),
            Workload::Watches => Op::WatchedWrite {
                value: shared.unique() as i64 + 1,
            },
            Workload::Sessions => unreachable!("session clients run their own loop"),
        }
    }

    async fn apply(self, client: &zk::Client, op: Op, shared: &Shared) -> Completion {
        match self {
            Workload::Register => register::apply(client, op, shared).await,
            Workload::Set => set::apply(client, op).await,
            Workload::UniqueIds => ids::apply(client, op).await,
            Workload::Counter => counter::apply(client, op).await,
            Workload::Queue => queue::apply(client, op).await,
            Workload::Watches => watches::apply(client, op).await,
            Workload::Sessions => unreachable!("session clients run their own loop"),
        }
    }

    /// After recovery: records what the ensemble holds, read through each member.
    pub async fn final_reads(
        self,
        cluster: &Cluster,
        history: &Recorder,
        shared: &Shared,
    ) -> anyhow::Result<()> {
        match self {
            Workload::Watches => watches::final_writes(cluster, shared).await,
            Workload::Register => Ok(()),
            Workload::Set => set::final_reads(cluster, history).await,
            Workload::UniqueIds => ids::final_reads(cluster, history).await,
            Workload::Counter => counter::final_reads(cluster, history).await,
            Workload::Queue => queue::final_reads(cluster, history).await,
            Workload::Sessions => sessions::final_reads(cluster, history).await,
        }
    }

    /// Judges a history of this workload.
    pub fn check(self, ops: &[Operation]) -> Verdict {
        use super::checkers;
        match self {
            Workload::Register => checkers::register::check(ops),
            Workload::Set => checkers::set::check(ops),
            Workload::UniqueIds => checkers::ids::check(ops),
            Workload::Counter => checkers::counter::check(ops),
            Workload::Queue => checkers::queue::check(ops),
            Workload::Sessions => checkers::sessions::check(ops),
            Workload::Watches => checkers::watches::check(ops),
        }
    }
}

impl Workload {
    /// Whether client `index` stops at the deadline by itself. The watchers of the
    /// watches workload do not: they run until the final write reached them
    /// ([`Shared::watchers_done`]).
    pub fn stops_at_deadline(self, index: usize) -> bool {
        !(self == Workload::Watches && index > 0)
    }
}

/// Client `index` of `workload`: runs until the shared deadline, stop flag or operation
/// budget.
pub async fn client(
    workload: Workload,
    index: usize,
    hosts: String,
    seed: u64,
    pace: Duration,
    shared: Arc<Shared>,
) {
    match workload {
        Workload::Sessions => sessions::client(hosts, shared).await,
        Workload::Watches if index > 0 => watches::watcher(index, hosts, shared).await,
        _ => operations_client(workload, hosts, seed, pace, shared).await,
    }
}

/// A client that invokes one operation of `workload` after the other.
async fn operations_client(
    workload: Workload,
    hosts: String,
    seed: u64,
    pace: Duration,
    shared: Arc<Shared>,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut process = shared.process();
    let mut session: Option<zk::Client> = None;
    while !shared.should_stop() {
        let Some(c) = session.as_ref() else {
            match connect(&hosts).await {
                Ok(c) => session = Some(c),
                // No member serves now: try again shortly (bounded by the deadline).
                Err(_) => tokio::time::sleep(crate::POLL * 5).await,
            }
            continue;
        };
        if shared.invoked.fetch_add(1, Ordering::AcqRel) >= shared.max_ops {
            break;
        }
        let started = Instant::now();
        let op = workload.next_op(&mut rng, &shared);
        shared.history.invoke(process, op.clone());
        let done =
            match tokio::time::timeout(OP_LIMIT, workload.apply(c, op.clone(), &shared)).await {
                Ok(done) => done,
                Err(_) => Completion {
                    kind: Kind::Info,
                    op,
                    error: Some(zk::Error::Timeout),
                },
            };
        let error = done.error.as_ref().map(ToString::to_string);
        shared.history.record(process, done.kind, done.op, error);
        if done.kind == Kind::Info {
            process = shared.process();
        }
        if let Some(e) = &done.error {
            if session_over(e) {
                session = None;
            } else if !is_definite(e) {
                // A lost connection: the client reconnects; do not spin meanwhile.
                tokio::time::sleep(crate::POLL).await;
            }
        }
        let next = started + pace;
        if next > Instant::now() {
            tokio::time::sleep_until(next.into()).await;
        }
    }
}

/// A session on member `i` alone, synced with the leader: what it reads next includes
/// every write committed before.
pub async fn synced_client_of(cluster: &Cluster, i: usize) -> anyhow::Result<zk::Client> {
    let client = connect(&cluster.connect_string_of(i))
        .await
        .map_err(|e| anyhow::anyhow!("connecting to member {}: {e}", i + 1))?;
    tokio::time::timeout(OP_LIMIT * 3, client.sync("/"))
        .await
        .map_err(|_| anyhow::anyhow!("sync on member {} timed out", i + 1))?
        .map_err(|e| anyhow::anyhow!("sync on member {}: {e}", i + 1))?;
    Ok(client)
}

/// Every child of `dir` as read by `client` (bounded in time).
pub async fn children(client: &zk::Client, dir: &str) -> anyhow::Result<Vec<String>> {
    tokio::time::timeout(OP_LIMIT * 3, client.list_children(dir))
        .await
        .map_err(|_| anyhow::anyhow!("listing {dir} timed out"))?
        .map_err(|e| anyhow::anyhow!("listing {dir}: {e}"))
}
