//! The service registry gateway (`zkrs-operator registry-gateway`) against a 3-member zkrs
//! ensemble, with providers registered by three clients: the project's own
//! (`zkrs_client`'s `ServiceRegistry`), kazoo (the course's layout and Curator's JSON
//! instances) and Apache's Java client (the course's code path, compiled with `javac` at test
//! time). Checked through the gateway's HTTP API and the EndpointSlices it renders: every
//! provider appears; a provider killed with SIGKILL disappears when its session expires and
//! wakes a long poll; a member the gateway may not read (its ACL) hides no other; the gateway
//! keeps serving through the loss of the ensemble's leader and sees a registration made after
//! it.
//!
//! Needs `cargo build -p zkrs-server -p zkrs-operator --bins`, python3 with kazoo, and a JDK
//! with Debian's ZooKeeper jars (`tests/install-deps.sh`).

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use zkrs_client::recipes::registry::ServiceRegistry;
use zkrs_tests::addr::{LoopbackAddr, CLIENT_PORT};
use zkrs_tests::server::zkrs_binary;
use zkrs_tests::{eventually, within, Ensemble, ServerConfig, ServerKind, SLOW_WAIT, WAIT};

/// The Java provider's session timeout: short, so its expiry is quick to wait for.
const JAVA_SESSION_MS: u32 = 2000;
/// How long a JVM or a Python interpreter gets to start and register on a busy machine.
const PROVIDER_START: Duration = Duration::from_secs(60);

/// A process of the test's, killed with SIGKILL (by its PID) and reaped when dropped.
struct Proc {
    name: &'static str,
    child: Child,
    /// The lines it prints, read by a thread of its own.
    lines: Option<mpsc::UnboundedReceiver<String>>,
}

impl Proc {
    fn spawn(name: &'static str, cmd: &mut Command) -> Proc {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Proc {
            name,
            child,
            lines: Some(rx),
        }
    }

    /// Waits for the provider's `registered PATH` line; returns the path.
    async fn registered(&mut self) -> String {
        let lines = self.lines.as_mut().expect("output read once");
        let what = format!("{} to register", self.name);
        let line = within(PROVIDER_START, &what, lines.recv())
            .await
            .unwrap_or_else(|| panic!("{} exited before registering", self.name));
        line.strip_prefix("registered ")
            .unwrap_or_else(|| panic!("{}: unexpected output {line:?}", self.name))
            .to_string()
    }

    /// SIGKILL, and the exit reaped.
    fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaping a killed process");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn operator_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("ZKRS_OPERATOR_BIN") {
        return PathBuf::from(bin);
    }
    let bin =
        zkrs_binary().with_file_name(format!("zkrs-operator{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} does not exist: build it first (`cargo build -p zkrs-operator`), or set ZKRS_OPERATOR_BIN",
        bin.display()
    );
    bin
}

/// Compiles the Java provider against Debian's ZooKeeper jar; returns its classpath.
fn compile_java_provider(out: &Path) -> String {
    let jar = "/usr/share/java/zookeeper.jar";
    assert!(
        Path::new(jar).exists(),
        "{jar} is missing: install Debian's zookeeper package (tests/install-deps.sh)"
    );
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("java/RegistryProvider.java");
    let status = Command::new("javac")
        .args(["-nowarn", "-encoding", "UTF-8", "-cp", jar, "-d"])
        .arg(out)
        .arg(&source)
        .status()
        .expect("running javac (a JDK is needed)");
    assert!(status.success(), "javac failed: {status}");
    format!("{}:{jar}", out.display())
}

/// `GET path` on the gateway: status and parsed JSON body.
async fn get(gateway: std::net::SocketAddr, path: &str) -> Option<(u16, Value)> {
    let mut s = TcpStream::connect(gateway).await.ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes()).await.ok()?;
    let mut response = Vec::new();
    s.read_to_end(&mut response).await.ok()?;
    let response = String::from_utf8(response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

/// The hosts of a service's members as the gateway lists them, sorted.
fn hosts(body: &Value) -> Vec<String> {
    let mut h: Vec<String> = body["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|m| m["endpoint"]["host"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    h.sort();
    h
}

/// Waits until the gateway lists exactly `want` as `service`'s member hosts.
async fn members_become(gateway: std::net::SocketAddr, service: &str, want: &[&str]) -> Value {
    let path = format!("/services/{service}");
    let what = format!("{service} to have members {want:?}");
    eventually(SLOW_WAIT, &what, || async {
        let (status, body) = get(gateway, &path).await?;
        (status == 200 && hosts(&body) == want).then_some(body)
    })
    .await
    .0
}

/// The addresses of the rendered EndpointSlices of the mirrored Service `name`, sorted.
fn slice_addresses(slices: &Value, name: &str) -> Vec<String> {
    let mut out: Vec<String> = slices["endpointSlices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["metadata"]["labels"]["kubernetes.io/service-name"] == name)
        .flat_map(|s| s["endpoints"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["addresses"][0].as_str().map(str::to_string))
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_of_three_clients_appear_expire_and_survive_a_member_loss() {
    let started = Instant::now();
    let java_classes = tempfile::tempdir().expect("temp dir");
    // Compiling while the ensemble starts: both are slow on a busy machine.
    let javac = tokio::task::spawn_blocking({
        let out = java_classes.path().to_path_buf();
        move || compile_java_provider(&out)
    });
    let mut ensemble = tokio::task::spawn_blocking(|| {
        Ensemble::start(ServerKind::Zkrs, 3, ServerConfig::default())
    })
    .await
    .unwrap();
    let connect = ensemble.connect_string();

    // The gateway, on a loopback address of its own (the harness reserves its client port).
    let gateway_ip = LoopbackAddr::allocate();
    let gateway = gateway_ip.at(CLIENT_PORT);
    let _gateway = Proc::spawn(
        "the gateway",
        Command::new(operator_binary())
            .args(["registry-gateway", "--connect", &connect, "--listen"])
            .arg(gateway.to_string())
            .args([
                "--namespace",
                "ns",
                "--cluster",
                "zk",
                "--session-timeout",
                "4",
            ])
            .stdout(Stdio::null()),
    );
    eventually(
        SLOW_WAIT,
        "the gateway to answer and see the ensemble",
        || async {
            let (status, body) = get(gateway, "/services").await?;
            (status == 200 && body["connected"] == true).then_some(())
        },
    )
    .await;

    // The project's client.
    let own = zkrs_client::Client::connect(&connect)
        .await
        .expect("connecting");
    let registry = ServiceRegistry::new(&own, "/registry").unwrap();
    let _own = registry
        .register("hello", "rmi://127.0.0.2:1099/Hello")
        .await
        .expect("registering with zkrs-client");

    // A znode the gateway may not read: left out, and it hides nothing else.
    own.create(
        "/registry/hello/private",
        b"127.0.0.9:1",
        zkrs_client::CreateOptions::new(zkrs_client::CreateMode::Ephemeral).acl(vec![
            zkrs_client::digest_acl(zkrs_client::perms::ALL, "owner", "secret"),
        ]),
    )
    .await
    .expect("creating an unreadable member");

    // kazoo: the course's layout, and a Curator instance of another service.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/registry_provider.py");
    let mut kazoo = Proc::spawn(
        "the kazoo provider",
        Command::new("python3").arg(&script).args([
            &connect,
            "hello",
            "course",
            "rmi://127.0.0.3:1099/Hello",
            "4",
        ]),
    );
    let mut curator = Proc::spawn(
        "the kazoo Curator provider",
        Command::new("python3").arg(&script).args([
            &connect,
            "billing",
            "curator",
            "127.0.0.5",
            "8080",
            "4",
        ]),
    );

    // The Java client, as the course's provider does it.
    let classpath = javac.await.unwrap();
    let mut java = Proc::spawn(
        "the Java provider",
        Command::new("java")
            .args(["-cp", &classpath, "RegistryProvider", &connect, "hello"])
            .arg("rmi://127.0.0.4:1099/Hello")
            .arg(JAVA_SESSION_MS.to_string()),
    );
    let java_path = java.registered().await;
    assert!(
        java_path.starts_with("/registry/hello/provider"),
        "{java_path}"
    );
    kazoo.registered().await;
    curator.registered().await;

    let hello = members_become(gateway, "hello", &["127.0.0.2", "127.0.0.3", "127.0.0.4"]).await;
    let layouts: Vec<&str> = hello["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["layout"].as_str().unwrap())
        .collect();
    assert_eq!(layouts, ["address"; 3], "{hello:#}");
    let billing = members_become(gateway, "billing", &["127.0.0.5"]).await;
    assert_eq!(billing["members"][0]["layout"], "curator", "{billing:#}");
    assert_eq!(
        billing["members"][0]["endpoint"]["port"], 8080,
        "{billing:#}"
    );

    let (status, slices) = get(gateway, "/endpointslices").await.expect("slices");
    assert_eq!(status, 200);
    assert_eq!(
        slice_addresses(&slices, "zk-svc-hello"),
        ["127.0.0.2", "127.0.0.3", "127.0.0.4"],
        "{slices:#}"
    );
    assert_eq!(slice_addresses(&slices, "zk-svc-billing"), ["127.0.0.5"]);
    let services: Vec<&str> = slices["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(services, ["zk-svc-billing", "zk-svc-hello"]);

    // SIGKILL the Java provider: its znode goes when its session expires, and a long poll
    // on the service wakes then.
    let index = hello["index"].as_u64().expect("an index");
    let poll = tokio::spawn(async move {
        get(gateway, &format!("/services/hello?index={index}&wait=120")).await
    });
    let killed = Instant::now();
    java.kill9();
    let (status, after) = within(SLOW_WAIT, "the long poll to wake", poll)
        .await
        .unwrap()
        .expect("the long poll's answer");
    assert_eq!(status, 200);
    assert_eq!(hosts(&after), ["127.0.0.2", "127.0.0.3"], "{after:#}");
    assert!(
        killed.elapsed() >= Duration::from_millis(u64::from(JAVA_SESSION_MS) / 2),
        "removed before its session could expire ({:?})",
        killed.elapsed()
    );
    let (_, slices) = get(gateway, "/endpointslices").await.expect("slices");
    assert_eq!(
        slice_addresses(&slices, "zk-svc-hello"),
        ["127.0.0.2", "127.0.0.3"]
    );

    // Lose the leader: every member drops its clients while they elect a new one. The
    // gateway keeps answering from its view, then follows the registry again.
    let leader = ensemble.wait_for_leader(WAIT);
    ensemble.kill9(leader);
    let (status, _) = get(gateway, "/services/hello").await.expect("answered");
    assert_eq!(status, 200);
    let later = registry
        .register("hello", "127.0.0.6:7000")
        .await
        .expect("registering after the leader's loss");
    members_become(gateway, "hello", &["127.0.0.2", "127.0.0.3", "127.0.0.6"]).await;
    let (status, health) = get(gateway, "/services").await.expect("answered");
    assert_eq!((status, &health["connected"]), (200, &Value::Bool(true)));
    later.deregister().await.expect("deregistering");
    members_become(gateway, "hello", &["127.0.0.2", "127.0.0.3"]).await;
    eprintln!("registry scenario took {:?}", started.elapsed());
}
