//! The recipes across separate processes (`zkrs-recipe-demo`), killed with SIGKILL: a
//! registry follows its providers, the lock excludes, the election hands over.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use zkrs_client::recipes::registry::ServiceRegistry;
use zkrs_client::{Client, CreateMode};
use zkrs_tests::ServerUnderTest;

/// A demo process whose stdout lines arrive on a channel; killed (SIGKILL) on drop.
struct Demo {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Demo {
    fn spawn(args: &[&str]) -> Demo {
        let mut child = Command::new(env!("CARGO_BIN_EXE_zkrs-recipe-demo"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting zkrs-recipe-demo");
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Demo { child, lines }
    }

    /// Waits (bounded) for a line starting with `prefix`.
    fn expect(&self, prefix: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with(prefix) => return l,
                Ok(_) => continue,
                Err(_) => panic!("no {prefix:?} line within {limit:?}"),
            }
        }
    }

    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.kill9();
    }
}

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn registry_follows_provider_processes_killed_with_sigkill() {
    let server = ServerUnderTest::start();
    let cs = server.connect_string();
    let mut providers: Vec<Demo> = (1..=3)
        .map(|i| Demo::spawn(&["provider", &cs, "billing", &format!("10.0.0.1:808{i}")]))
        .collect();
    for p in &providers {
        p.expect("registered", WAIT);
    }
    let consumer = Client::connect(&cs).await.unwrap();
    let registry = ServiceRegistry::new(&consumer, "/services").unwrap();
    let mut seen = registry.discover("billing").await.unwrap();
    tokio::time::timeout(WAIT, seen.wait_for(|i| i.len() == 3))
        .await
        .expect("three instances")
        .unwrap();
    providers[1].kill9();
    let left = tokio::time::timeout(WAIT, seen.wait_for(|i| i.len() == 2))
        .await
        .expect("the killed provider's instance goes with its session")
        .unwrap();
    let addrs: Vec<&str> = left.iter().map(|i| i.address.as_str()).collect();
    assert!(!addrs.contains(&"10.0.0.1:8082"), "{addrs:?}");
}

#[tokio::test]
async fn election_hands_over_when_the_leader_process_dies() {
    let server = ServerUnderTest::start();
    let cs = server.connect_string();
    let mut a = Demo::spawn(&["candidate", &cs, "/election", "a"]);
    a.expect("leader", WAIT);
    let b = Demo::spawn(&["candidate", &cs, "/election", "b"]);
    b.expect("follower", WAIT);
    a.kill9();
    b.expect("leader", WAIT);
}

#[tokio::test]
async fn lock_excludes_across_processes() {
    let server = ServerUnderTest::start();
    let cs = server.connect_string();
    let c = Client::connect(&cs).await.unwrap();
    c.create("/counter", b"0", CreateMode::Persistent)
        .await
        .unwrap();
    let lockers: Vec<Demo> = (0..3)
        .map(|_| Demo::spawn(&["locker", &cs, "/lock", "/counter", "10"]))
        .collect();
    for l in &lockers {
        l.expect("done", Duration::from_secs(60));
    }
    let (data, _) = c.get_data("/counter").await.unwrap();
    assert_eq!(data, b"30", "every increment happened under the lock");
}
