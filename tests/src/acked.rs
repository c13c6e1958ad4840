//! Acknowledged writes: writer tasks that record every write the ensemble acknowledged, so
//! a test can check after faults and recovery that none of them was lost, on any member.
//!
//! Each writer has its own session, connected through every member's address (starting at
//! a different member per writer, so the writes enter through all of them). It rotates
//! between creating a unique znode `<root>/w<writer>-<seq>` (data `w<writer>:<seq>`),
//! setting its counter `<root>/counter-<writer>` to `<seq>`, and creating a sequential
//! znode `<root>/seq/w<writer>-<n>` in a parent shared by all writers (the path the server
//! returned is recorded). Every request is bounded by
//! [`OP_LIMIT`]; a write that failed or timed out is unknown (it may or may not have been
//! applied) and is not recorded. A writer whose session is gone opens a new one. Writers
//! are bounded by a number of writes and a deadline, besides [`Writers::stop`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::ensemble::Ensemble;
use crate::{mode, open, within, zk, POLL, WAIT};

/// How long one write may take before it counts as unknown.
pub const OP_LIMIT: Duration = Duration::from_secs(5);

/// The writers' session timeout (within the default 2..20 ticks of a 500 ms tick).
pub const WRITER_SESSION: Duration = Duration::from_secs(6);

/// What the ensemble acknowledged.
#[derive(Clone, Debug, Default)]
pub struct AckLog {
    /// Created path -> its data.
    pub creates: BTreeMap<String, Vec<u8>>,
    /// Counter path -> the highest value acknowledged (the node must hold at least it).
    pub counters: BTreeMap<String, u64>,
}

impl AckLog {
    pub fn len(&self) -> usize {
        self.creates.len() + self.counters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds what `other` (another set of writers, on other paths) acknowledged.
    pub fn merge(&mut self, other: AckLog) {
        self.creates.extend(other.creates);
        for (path, value) in other.counters {
            let v = self.counters.entry(path).or_insert(value);
            *v = (*v).max(value);
        }
    }
}

/// Bounds of a writer.
#[derive(Clone, Copy, Debug)]
pub struct WriterLimits {
    /// Writes per writer at most.
    pub max_writes: u32,
    /// How long a writer runs at most.
    pub max_time: Duration,
    /// The least time between the starts of two writes of one writer (keeps the trees small
    /// enough to walk quickly).
    pub pace: Duration,
}

impl Default for WriterLimits {
    fn default() -> Self {
        WriterLimits {
            max_writes: 4_000,
            max_time: Duration::from_secs(150),
            pace: Duration::from_millis(20),
        }
    }
}

/// Running writer tasks.
pub struct Writers {
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<AckLog>>,
    acked: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    tasks: Vec<JoinHandle<()>>,
}

impl Writers {
    /// Creates `root` and the counters (through any member), then starts `count` writers.
    pub async fn start(
        ensemble: &Ensemble,
        root: &str,
        count: usize,
        limits: WriterLimits,
    ) -> Writers {
        let setup = connect(&ensemble.connect_string())
            .await
            .expect("a setup client");
        within(WAIT, "creating the writers' nodes", async {
            setup.create(root, b"", &open()).await.expect("create root");
            setup
                .create(&format!("{root}/seq"), b"", &open())
                .await
                .expect("create the sequential nodes' parent");
            for id in 0..count {
                setup
                    .create(&format!("{root}/counter-{id}"), b"", &open())
                    .await
                    .expect("create counter");
            }
        })
        .await;
        drop(setup);
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(AckLog::default()));
        let acked = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let n = ensemble.members().len();
        let tasks = (0..count)
            .map(|id| {
                let w = Writer {
                    id,
                    root: root.to_string(),
                    cluster: ensemble.connect_string_from(id % n),
                    limits,
                    stop: stop.clone(),
                    log: log.clone(),
                    acked: acked.clone(),
                    failed: failed.clone(),
                };
                tokio::spawn(w.run())
            })
            .collect();
        Writers {
            stop,
            log,
            acked,
            failed,
            tasks,
        }
    }

    /// Writes acknowledged so far.
    pub fn acked(&self) -> u64 {
        self.acked.load(Ordering::Acquire)
    }

    /// Writes that failed or timed out so far (unknown outcome).
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Acquire)
    }

    /// Waits (at most `limit`) until `more` writes beyond those acknowledged now are
    /// acknowledged: the ensemble accepts writes.
    pub async fn wait_for_progress(&self, more: u64, limit: Duration, what: &str) {
        let target = self.acked() + more;
        let start = Instant::now();
        while self.acked() < target {
            assert!(
                !self.tasks.iter().all(JoinHandle::is_finished),
                "{what}: every writer finished (bounds reached) before {more} more writes"
            );
            assert!(
                start.elapsed() < limit,
                "{what}: fewer than {more} writes acknowledged within {limit:?} ({} acked, {} \
                 failed in all)",
                self.acked(),
                self.failed()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Stops the writers, waits for them and returns what was acknowledged.
    pub async fn stop(self) -> AckLog {
        self.stop.store(true, Ordering::Release);
        for t in self.tasks {
            // A writer stops at its next write, at most OP_LIMIT (or a connect) away.
            within(WAIT * 3, "a writer to stop", t)
                .await
                .expect("a writer panicked");
        }
        let log = self.log.lock().expect("lock").clone();
        assert!(!log.is_empty(), "the writers had nothing acknowledged");
        log
    }
}

struct Writer {
    id: usize,
    root: String,
    cluster: String,
    limits: WriterLimits,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<AckLog>>,
    acked: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
}

async fn connect(cluster: &str) -> Result<zk::Client, String> {
    let connector = zk::Client::connector().with_session_timeout(WRITER_SESSION);
    match tokio::time::timeout(WAIT, connector.connect(cluster)).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

impl Writer {
    async fn run(self) {
        let deadline = Instant::now() + self.limits.max_time;
        let counter = format!("{}/counter-{}", self.root, self.id);
        let mut client: Option<zk::Client> = None;
        let mut seq = 0u32;
        while seq < self.limits.max_writes
            && !self.stop.load(Ordering::Acquire)
            && Instant::now() < deadline
        {
            let Some(c) = client.as_ref() else {
                match connect(&self.cluster).await {
                    Ok(c) => client = Some(c),
                    // No member serves now: try again shortly (bounded by the loop).
                    Err(_) => tokio::time::sleep(POLL * 10).await,
                }
                continue;
            };
            let started = Instant::now();
            let data = format!("w{}:{seq}", self.id).into_bytes();
            let result = match seq % 3 {
                0 => {
                    let path = format!("{}/w{}-{seq:06}", self.root, self.id);
                    tokio::time::timeout(OP_LIMIT, c.create(&path, &data, &open()))
                        .await
                        .map(|r| r.map(|_| Some(path)))
                }
                1 => {
                    let value = seq.to_string().into_bytes();
                    tokio::time::timeout(OP_LIMIT, c.set_data(&counter, &value, None))
                        .await
                        .map(|r| r.map(|_| None))
                }
                _ => {
                    // Sequential, in a parent all writers share: the sequence number (the
                    // parent's cversion) must agree on every member.
                    let prefix = format!("{}/seq/w{}-", self.root, self.id);
                    let sequential = mode(zk::CreateMode::PersistentSequential);
                    tokio::time::timeout(OP_LIMIT, c.create(&prefix, &data, &sequential))
                        .await
                        .map(|r| r.map(|(_, n)| Some(format!("{prefix}{n}"))))
                }
            };
            match result {
                Ok(Ok(created)) => {
                    let mut log = self.log.lock().expect("lock");
                    match created {
                        Some(path) => {
                            log.creates.insert(path, data);
                        }
                        None => {
                            log.counters.insert(counter.clone(), u64::from(seq));
                        }
                    }
                    self.acked.fetch_add(1, Ordering::AcqRel);
                }
                Ok(Err(e)) => {
                    self.failed.fetch_add(1, Ordering::AcqRel);
                    if matches!(
                        e,
                        zk::Error::SessionExpired
                            | zk::Error::ClientClosed
                            | zk::Error::NoHosts
                            | zk::Error::SessionMoved
                            | zk::Error::Timeout
                            | zk::Error::AuthFailed
                    ) {
                        client = None;
                    } else {
                        // Connection loss: the client reconnects; do not spin meanwhile.
                        tokio::time::sleep(POLL).await;
                    }
                }
                Err(_) => {
                    self.failed.fetch_add(1, Ordering::AcqRel);
                }
            }
            seq += 1;
            let next = started + self.limits.pace;
            if next > Instant::now() {
                tokio::time::sleep_until(next.into()).await;
            }
        }
    }
}

/// Checks on every serving member (a client of that member only, after a `sync`) that every
/// acknowledged create exists with its data and every counter holds at least its
/// acknowledged value; panics listing the first losses.
pub async fn assert_acked_everywhere(ensemble: &Ensemble, log: &AckLog) {
    for i in ensemble.serving_candidates() {
        let id = ensemble.member(i).id;
        let client = ensemble.client_of(i).await;
        within(WAIT, "sync", client.sync("/"))
            .await
            .unwrap_or_else(|e| panic!("sync on member {id}: {e}"));
        let mut lost = Vec::new();
        let paths: Vec<(&String, &Vec<u8>)> = log.creates.iter().collect();
        for chunk in paths.chunks(200) {
            let pending: Vec<_> = chunk
                .iter()
                .map(|(p, d)| (*p, *d, client.get_data(p)))
                .collect();
            for (path, data, reply) in pending {
                match within(WAIT, "a read", reply).await {
                    Ok((got, _)) if &got == data => {}
                    Ok((got, _)) => lost.push(format!(
                        "{path}: data {:?}, acknowledged {:?}",
                        String::from_utf8_lossy(&got),
                        String::from_utf8_lossy(data)
                    )),
                    Err(e) => lost.push(format!("{path}: acknowledged create lost ({e})")),
                }
            }
        }
        for (path, value) in &log.counters {
            match within(WAIT, "a read", client.get_data(path)).await {
                Ok((got, _)) => {
                    let got_value = String::from_utf8_lossy(&got).parse::<u64>().ok();
                    if got_value.is_none_or(|g| g < *value) {
                        lost.push(format!(
                            "{path}: holds {:?}, but {value} was acknowledged",
                            String::from_utf8_lossy(&got)
                        ));
                    }
                }
                Err(e) => lost.push(format!("{path}: {e}")),
            }
        }
        assert!(
            lost.is_empty(),
            "member {id} lost {} of {} acknowledged writes:\n  {}",
            lost.len(),
            log.len(),
            lost.iter()
                .take(15)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n  ")
        );
    }
}
