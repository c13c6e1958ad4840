//! Writers that record every write the ensemble acknowledged, through the independent
//! `zookeeper-client` crate, and the check that each is on every member afterwards.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zkrs_tests::zk;

/// How long one write may take before its outcome counts as unknown.
const OP_LIMIT: Duration = Duration::from_secs(5);

pub struct Writers {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<BTreeSet<String>>>,
    count: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

fn open() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

async fn connect(hosts: &str) -> Option<zk::Client> {
    let connector = zk::Client::connector().with_session_timeout(Duration::from_secs(6));
    tokio::time::timeout(Duration::from_secs(10), connector.connect(hosts))
        .await
        .ok()?
        .ok()
}

impl Writers {
    /// `count` writers creating `/acked/w<i>-<n>` through `hosts` (a connect string), each
    /// bounded by `max_writes` and `max_time`.
    pub async fn start(hosts: &str, count: usize, max_writes: u64, max_time: Duration) -> Writers {
        let setup = connect(hosts).await.expect("a setup client");
        match setup.create("/acked", b"", &open()).await {
            Ok(_) | Err(zk::Error::NodeExists) => {}
            Err(e) => panic!("creating /acked: {e}"),
        }
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(BTreeSet::new()));
        let total = Arc::new(AtomicU64::new(0));
        let tasks = (0..count)
            .map(|w| {
                let (stop, acked, total) = (stop.clone(), acked.clone(), total.clone());
                let hosts = hosts.to_string();
                tokio::spawn(async move {
                    let start = Instant::now();
                    let mut client = None;
                    for n in 0..max_writes {
                        if stop.load(Ordering::Acquire) || start.elapsed() > max_time {
                            break;
                        }
                        if client.is_none() {
                            client = connect(&hosts).await;
                        }
                        let Some(c) = client.as_ref() else { continue };
                        let path = format!("/acked/w{w}-{n}");
                        match tokio::time::timeout(OP_LIMIT, c.create(&path, b"x", &open())).await {
                            Ok(Ok(_)) => {
                                acked.lock().unwrap_or_else(|p| p.into_inner()).insert(path);
                                total.fetch_add(1, Ordering::AcqRel);
                            }
                            Ok(Err(zk::Error::SessionExpired | zk::Error::ClientClosed)) => {
                                client = None
                            }
                            // Unknown outcome: not recorded.
                            _ => {}
                        }
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                })
            })
            .collect();
        Writers {
            stop,
            acked,
            count: total,
            tasks,
        }
    }

    pub fn acked(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }

    /// Waits (at most `limit`) for `more` acknowledged writes: the ensemble takes writes.
    pub async fn wait_for_progress(&self, more: u64, limit: Duration, what: &str) {
        let target = self.acked() + more;
        let start = Instant::now();
        while self.acked() < target {
            assert!(
                start.elapsed() < limit,
                "{what}: fewer than {more} writes acknowledged within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn stop(self) -> BTreeSet<String> {
        self.stop.store(true, Ordering::Release);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(30), t).await;
        }
        let acked = self.acked.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert!(!acked.is_empty(), "nothing was acknowledged");
        acked
    }
}

/// Every acknowledged path exists on the member at `addr` (after a `sync`).
pub async fn assert_all_on(addr: &str, acked: &BTreeSet<String>) {
    let client = connect(addr)
        .await
        .unwrap_or_else(|| panic!("connecting to {addr}"));
    tokio::time::timeout(Duration::from_secs(10), client.sync("/"))
        .await
        .expect("sync in time")
        .expect("sync");
    let (children, _) =
        tokio::time::timeout(Duration::from_secs(10), client.get_children("/acked"))
            .await
            .expect("list in time")
            .expect("list /acked");
    let present: BTreeSet<String> = children
        .into_iter()
        .map(|c| format!("/acked/{c}"))
        .collect();
    let lost: Vec<&String> = acked.difference(&present).collect();
    assert!(
        lost.is_empty(),
        "{addr} lost {} acknowledged writes: {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
}
