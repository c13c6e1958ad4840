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
use zkrs_tests::ensemble::Launch;
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

// ---------------------------------------------------------------------------------------
// `config` and `reconfig` of zkrs-cli against zkCli.sh, on a dynamic ensemble of the kinds
// `ZKRS_ENSEMBLE` chooses (both shells must be built or installed: `zkrs-cli` by
// `cargo build -p zkrs-client --bin zkrs-cli`, zkCli.sh from Debian's `zookeeper`).

/// The longest a shell may run.
const SHELL_LIMIT: Duration = Duration::from_secs(120);

/// `zkCli.sh`: `ZKCLI`, or Debian's.
fn zkcli_path() -> std::path::PathBuf {
    std::env::var_os("ZKCLI")
        .map(Into::into)
        .unwrap_or_else(|| "/usr/share/zookeeper/bin/zkCli.sh".into())
}

/// Runs a shell (`zkcli` true: zkCli.sh) against `server` with `input` on stdin, bounded by
/// [`SHELL_LIMIT`] (its process group is killed, by id, when it overruns); returns stdout
/// and stderr together without the lines that differ between the shells for reasons
/// outside the commands (JVM and logging noise, the welcome banner, session events).
fn shell(zkcli: bool, server: &str, input: &str) -> Vec<String> {
    use std::io::{Read, Write};
    use std::os::unix::process::CommandExt;
    let mut cmd = if zkcli {
        Command::new(zkcli_path())
    } else {
        Command::new(zkrs_tests::reconfig::zkrs_cli_binary())
    };
    cmd.args(["-waitforconnection", "-timeout", "30000", "-server", server])
        .env("TZ", "UTC")
        .env(
            "CLIENT_JVMFLAGS",
            "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto",
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    let kill_group = |child: &mut std::process::Child| {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = child.kill();
        let _ = child.wait();
    };
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_string();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let read = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = read(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = read(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + SHELL_LIMIT;
    let finished = loop {
        match child.try_wait() {
            Ok(Some(_)) => break true,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(POLL),
            _ => break false,
        }
    };
    // zkCli.sh runs java as a child: the whole group goes.
    kill_group(&mut child);
    let _ = writer.join();
    let text = out.join().unwrap_or_default() + &err.join().unwrap_or_default();
    assert!(
        finished,
        "{cmd:?} did not finish within {SHELL_LIMIT:?}:\n{text}"
    );
    let noise = [
        "SLF4J:",
        "log4j:",
        "OpenJDK 64-Bit",
        "Picked up ",
        "WARNING: ",
        "Connecting to ",
        "Welcome to ZooKeeper!",
        "JLine support is",
        "WATCHER::",
        "WatchedEvent ",
    ];
    text.lines()
        .filter(|l| !l.trim().is_empty() && !noise.iter().any(|n| l.starts_with(n)))
        .map(str::to_string)
        .collect()
}

/// Masks what differs between two runs of the same commands at different times: config
/// versions (`version=<hex>`, and the first word of `config -c`), the config node's mZxid
/// and mtime.
fn mask_versions(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            if l.starts_with("version=") {
                "version=<v>".to_string()
            } else if l.starts_with("mZxid = ") {
                "mZxid = <zxid>".to_string()
            } else if l.starts_with("mtime = ") {
                "mtime = <date>".to_string()
            } else if let Some((v, rest)) = l.split_once(' ') {
                if !v.is_empty() && v.chars().all(|c| c.is_ascii_hexdigit()) && rest.contains(':') {
                    format!("<v> {rest}")
                } else {
                    l.clone()
                }
            } else {
                l.clone()
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zkrs_cli_config_and_reconfig_print_what_zkcli_prints() {
    use zkrs_tests::reconfig::{config, config_of, ConfigData, SUPER_PASSWORD};
    let kinds = zkrs_tests::ensemble::env_kinds(4);
    let mut ensemble = tokio::task::block_in_place(|| {
        Ensemble::start_dynamic(
            &kinds[..3]
                .iter()
                .map(|k| Launch::Server(*k))
                .collect::<Vec<_>>(),
            config(),
        )
    });
    let (current, _) = config_of(&ensemble, 0).await;
    let j = tokio::task::block_in_place(|| ensemble.add_joiner(Launch::Server(kinds[3]), &current));
    tokio::task::block_in_place(|| {
        ensemble.wait_serving_among(&[0, 1, 2, j], Duration::from_secs(120))
    });
    let line = ensemble.member(j).server_line(false);
    let server = ensemble.member(0).addr().to_string();
    let members: Vec<&str> = current
        .lines()
        .filter(|l| l.starts_with("server."))
        .collect();
    let absent: Vec<String> = (7..=9)
        .map(|id| format!("server.{id}=127.0.0.{id}:2888:3888:participant;127.0.0.{id}:2181"))
        .collect();
    // A dynamic config file of the current members, for `reconfig -file`.
    let file_dir = tempfile::tempdir().expect("temp dir");
    let file = file_dir.path().join("members.cfg");
    std::fs::write(&file, members.join("\n") + "\n").expect("members file");
    // Without the super user; then a stale version (`-v` is hex, like every config
    // version), every voter removed, members that run nowhere, no arguments; then add and
    // remove the joiner, the same members in bulk and from a file, and the three forms of
    // `config`.
    let input = format!(
        "reconfig -add {line}\naddauth digest super:{SUPER_PASSWORD}\nreconfig -v 1 -remove 4\n\
         reconfig -remove 1,2,3\nreconfig -add {}\nreconfig\n\
         reconfig -add {line}\nreconfig -remove 4\nreconfig -members {}\nreconfig -file {}\n\
         config\nconfig -c\nconfig -s\nquit\n",
        absent.join(","),
        members.join(","),
        file.display()
    );
    let committed = |out: &[String]| {
        out.iter()
            .filter(|l| *l == "Committed new configuration:")
            .count()
    };
    // The joiner may not be counted as synced at once: zkCli.sh runs first, and is run
    // again while its add is refused for want of a quorum (bounded).
    let mut reference = Vec::new();
    for attempt in 0..5 {
        reference = tokio::task::block_in_place(|| shell(true, &server, &input));
        if committed(&reference) == 4 {
            break;
        }
        assert!(
            attempt < 4,
            "zkCli.sh: no quorum after 5 attempts: {reference:#?}"
        );
    }
    let ours = tokio::task::block_in_place(|| shell(false, &server, &input));
    assert_eq!(
        mask_versions(&ours),
        mask_versions(&reference),
        "zkrs-cli (left) and zkCli.sh (right) print the same"
    );
    // What zkrs-cli printed last is the config as it is now, exactly.
    let (now, _) = config_of(&ensemble, 0).await;
    let version = ConfigData::parse(&now).version.expect("version");
    // (Errors go to stderr, which comes after stdout here: the last version line is the
    // one `config -s` printed.)
    let printed = ours.iter().rev().find(|l| l.starts_with("version="));
    assert_eq!(
        printed.cloned(),
        Some(format!("version={version:x}")),
        "{ours:#?}"
    );
    for message in [
        "Insufficient permission : ",
        "version No is not valid : ",
        "No quorum of new config is connected and up-to-date with the leader of last \
         committed config - try invoking reconfiguration after new servers are connected and \
         synced",
    ] {
        assert!(
            ours.iter().any(|l| l == message),
            "{message:?} in {ours:#?}"
        );
    }
    assert!(now.ends_with(&format!("version={version:x}")));
    assert_eq!(ConfigData::parse(&now).participants(), vec![1, 2, 3]);
    // Four committed reconfigs per shell.
    assert_eq!(committed(&ours), 4, "{ours:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zkrs_cli_reconfig_errors_of_disabled_and_standalone_servers_are_zkclis() {
    use zkrs_tests::reconfig::{config, SUPER_PASSWORD};
    let kind = zkrs_tests::ensemble::env_kinds(1)[0];
    let off = config().with("reconfigEnabled", "false");
    let ensemble =
        tokio::task::block_in_place(|| Ensemble::start_dynamic(&[Launch::Server(kind)], off));
    let line = ensemble.member(0).server_line(false);
    let input = format!("addauth digest super:{SUPER_PASSWORD}\nreconfig -add {line}\nquit\n");
    let server = ensemble.member(0).addr().to_string();
    let reference = tokio::task::block_in_place(|| shell(true, &server, &input));
    let ours = tokio::task::block_in_place(|| shell(false, &server, &input));
    assert_eq!(
        ours, reference,
        "reconfig disabled: zkrs-cli (left), zkCli.sh (right)"
    );
    assert!(
        reference.iter().any(|l| l.contains("Reconfig is disabled")),
        "{reference:#?}"
    );
    drop(ensemble);

    let on = config().with("reconfigEnabled", "true");
    let standalone = tokio::task::block_in_place(|| ServerUnderTest::start_standalone(kind, on));
    let server = standalone.connect_string();
    let reference = tokio::task::block_in_place(|| shell(true, &server, &input));
    let ours = tokio::task::block_in_place(|| shell(false, &server, &input));
    assert_eq!(
        ours, reference,
        "standalone: zkrs-cli (left), zkCli.sh (right)"
    );
    assert!(
        reference.iter().any(|l| l.contains("Unimplemented")),
        "{reference:#?}"
    );
}
