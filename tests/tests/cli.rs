//! The operator's subcommands of the `zkrs-server` binary: `status` against a serving
//! server and a stopped port, and `ensemble` starting, serving and stopping its members.
//!
//! Always zkrs (these are zkrs's own commands); the binary must be built first
//! (`cargo build -p zkrs-server`). With `ZKRS_TEST_ENSEMBLE=N`, `status` runs against each
//! member of an N-member zkrs ensemble and must say which one leads.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zkrs_tests::addr::CLIENT_PORT;
use zkrs_tests::server::{four_letter_word, zkrs_binary};
use zkrs_tests::*;

fn status(cfg: &Path) -> (i32, String) {
    let out = Command::new(zkrs_binary())
        .arg("status")
        .arg(cfg)
        .output()
        .expect("running zkrs-server status");
    (
        out.status.code().expect("status exited by itself"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// `status` of each member of a zkrs ensemble: `Mode: leader` for the one that leads,
/// `Mode: follower` for the others, as `zkServer.sh status` prints them. Returns the
/// leader's zoo.cfg and client address for the stopped-server half of the test.
fn status_of_each_member(server: &ServerUnderTest) -> (std::path::PathBuf, String) {
    let ensemble = server.ensemble().expect("an ensemble");
    let leader = ensemble.leader().expect("one leader");
    for (i, m) in ensemble.members().iter().enumerate() {
        let (code, out) = status(&ensemble.member_dir(i).join("zoo.cfg"));
        let mode = if i == leader { "leader" } else { "follower" };
        assert_eq!(
            out,
            format!(
                "Client port found: {CLIENT_PORT}. Client address: {}. Client SSL: false.\nMode: {mode}\n",
                m.addr().ip()
            ),
            "member {}",
            m.id
        );
        assert_eq!(code, 0, "member {}", m.id);
    }
    (
        ensemble.member_dir(leader).join("zoo.cfg"),
        ensemble.member(leader).addr().ip().to_string(),
    )
}

#[test]
fn status_reports_the_mode_and_a_stopped_server() {
    if in_ensemble() {
        let mut server = ServerUnderTest::start_kind(ServerKind::Zkrs, ServerConfig::default());
        let (cfg, ip) = status_of_each_member(&server);
        // The rest is the same for a member's zoo.cfg (with its `server.N` lines). The
        // members are killed but their files kept: `status` reads the member's myid.
        check_a_stopped_server(&cfg, &ip, || server.kill9());
        return;
    }
    let server = InProcessServer::start();
    let cfg = server.dir().join("zoo.cfg");
    let ip = server.addr().ip();
    let (code, out) = status(&cfg);
    assert_eq!(
        out,
        format!("Client port found: {CLIENT_PORT}. Client address: {ip}. Client SSL: false.\nMode: standalone\n")
    );
    assert_eq!(code, 0);
    check_a_stopped_server(&cfg, &ip.to_string(), || server.stop());
}

/// `status` with a copy of `cfg` whose client address `ip` is replaced by a reserved one
/// where nothing listens, after `stop` stopped the server.
fn check_a_stopped_server(cfg: &Path, ip: &str, stop: impl FnOnce()) {
    // The address stays reserved for this test while nothing listens on it.
    let dir = tempfile::tempdir().unwrap();
    let kept = dir.path().join("zoo.cfg");
    std::fs::copy(cfg, &kept).unwrap();
    let reservation = LoopbackAddr::allocate();
    let text = std::fs::read_to_string(&kept)
        .unwrap()
        .replace(ip, &reservation.ip().to_string());
    std::fs::write(&kept, text).unwrap();
    stop();
    let (code, out) = status(&kept);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with(&format!(
            "Client port found: {CLIENT_PORT}. Client address: {}. Client SSL: false.\nError contacting service. It is probably not running.\n",
            reservation.ip()
        )),
        "{out}"
    );
}

/// Whether a process with this PID exists (a reaped child's entry is gone).
fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn ensemble_starts_members_that_answer_and_stops_them_on_sigint() {
    let ip = LoopbackAddr::allocate();
    let dir = tempfile::tempdir().unwrap();
    let mut parent = Command::new(zkrs_binary())
        .args(["ensemble", "3", "--host", &ip.ip().to_string(), "--dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting zkrs-server ensemble");
    let parent_pid = parent.id();
    // Stop the supervisor whatever happens below, by its PID.
    struct Guard(std::process::Child);
    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = Command::new("kill")
                .args(["-INT", &self.0.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.0.try_wait() {
                    return;
                }
                std::thread::sleep(POLL);
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = parent.stdout.take().unwrap();
    let guard = Guard(parent);

    // "member N: pid P, client A, log L" for each, then the connect string.
    let mut lines = BufReader::new(stdout).lines();
    let mut members: Vec<(u32, SocketAddr)> = Vec::new();
    let connect = loop {
        let line = lines
            .next()
            .expect("the ensemble's output ended early")
            .unwrap();
        if let Some(cs) = line.strip_prefix("connect string: ") {
            break cs.to_string();
        }
        let rest = line.split_once(": pid ").expect(&line).1;
        let (pid, rest) = rest.split_once(", client ").expect(&line);
        let addr = rest.split_once(", log ").expect(&line).0;
        members.push((pid.parse().unwrap(), addr.parse().unwrap()));
    };
    assert_eq!(members.len(), 3);
    let addrs: Vec<String> = members.iter().map(|(_, a)| a.to_string()).collect();
    assert_eq!(connect, addrs.join(","));
    for (i, (_, a)) in members.iter().enumerate() {
        assert_eq!(a.ip(), ip.ip());
        assert_eq!(a.port(), 2181 + i as u16);
    }
    assert!(dir.path().join("member2/zoo.cfg").exists());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("member3/data/myid")).unwrap(),
        "3\n"
    );

    for (pid, addr) in &members {
        let deadline = Instant::now() + WAIT;
        loop {
            match four_letter_word(*addr, "ruok", Duration::from_secs(2)) {
                Ok(a) if a == "imok" => break,
                other if Instant::now() > deadline => {
                    panic!("member pid {pid} at {addr} never said imok: {other:?}")
                }
                _ => std::thread::sleep(POLL),
            }
        }
    }

    // SIGINT to the supervisor alone: it must stop and reap every member.
    drop(guard);
    assert!(
        !alive(parent_pid),
        "the ensemble (pid {parent_pid}) is still running"
    );
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    for (pid, _) in &members {
        assert!(
            !alive(*pid),
            "member pid {pid} outlived the ensemble: {rest:?}"
        );
        assert!(
            rest.iter()
                .any(|l| l.contains(&format!("(pid {pid}) stopped"))),
            "{rest:?}"
        );
    }
}
