//! The StatefulSet controller and the kubelet, played with processes: for each ordinal
//! below the StatefulSet's `replicas` a "pod" runs the template's init container command
//! and then its container command, as the kubelet would (the ConfigMaps materialised in a
//! directory, the mount paths mapped to the pod's directories, `POD_NAME` and the Secret's
//! digest in the environment); a pod above `replicas` is stopped and its volume kept or
//! deleted as the retention policy says; a member that dies is started again. The status
//! it writes back counts a pod ready when its member serves (`srvr` says leader, follower
//! or observer), as the readiness probe does.
//!
//! Every process is killed by its PID when the kubelet is dropped.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

use super::api::Store;

pub const NAME: &str = "zk";
pub const STS: &str = "/apis/apps/v1/namespaces/ns/statefulsets/zk";
const CONFIG: &str = "/api/v1/namespaces/ns/configmaps/zk-config";
const MEMBERS: &str = "/api/v1/namespaces/ns/configmaps/zk-members";
const SECRET: &str = "/api/v1/namespaces/ns/secrets/zk-super";

fn pod_path(ordinal: u32) -> String {
    format!("/api/v1/namespaces/ns/pods/{NAME}-{ordinal}")
}

/// The revision of the StatefulSet's pod template, as the controller names it.
fn revision(sts: &Value) -> String {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    sts["spec"]["template"].to_string().hash(&mut h);
    format!("{NAME}-{:x}", h.finish())
}

/// How often the controller looks at the StatefulSet.
const TICK: Duration = Duration::from_millis(50);

/// What happened to pods, in order, for the test to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodEvent {
    Started(u32),
    Stopped(u32),
    Died(u32),
    /// The operator deleted the pod (a rolling restart): whether its member led, and
    /// whether every other member served at that moment.
    Deleted {
        ordinal: u32,
        leader: bool,
        others_serving: bool,
    },
}

struct Pod {
    child: Child,
}

#[derive(Default)]
struct State {
    pods: BTreeMap<u32, Pod>,
    events: Vec<PodEvent>,
    /// The last error of each ordinal's start (an init container that failed).
    errors: BTreeMap<u32, String>,
    /// Every failed start, in order.
    failed_starts: Vec<(u32, String)>,
}

/// The controller and kubelet thread.
pub struct Kubelet {
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    root: PathBuf,
    addresses: Vec<SocketAddr>,
}

/// Where the binaries are: `zkrs-operator` is this package's, `zkrs-server` beside it.
fn binary(name: &str) -> PathBuf {
    let operator = PathBuf::from(env!("CARGO_BIN_EXE_zkrs-operator"));
    match name {
        "zkrs-operator" => operator,
        other => operator.with_file_name(other),
    }
}

impl Kubelet {
    /// Starts playing the controller for the StatefulSet in `store`; pods live under
    /// `root`; member `i` (ordinal) answers on `addresses[i]`.
    pub fn start(store: Store, root: &Path, addresses: Vec<SocketAddr>) -> Kubelet {
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop, root, addresses) = (
                state.clone(),
                stop.clone(),
                root.to_path_buf(),
                addresses.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Acquire) {
                    step(&store, &state, &root, &addresses);
                    std::thread::sleep(TICK);
                }
            })
        };
        Kubelet {
            state,
            stop,
            thread: Some(thread),
            root: root.to_path_buf(),
            addresses,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Kills member `ordinal` with SIGKILL; the kubelet starts it again.
    pub fn kill(&self, ordinal: u32) {
        if let Some(pod) = self.lock().pods.get_mut(&ordinal) {
            let _ = pod.child.kill();
        }
    }

    pub fn events(&self) -> Vec<PodEvent> {
        self.lock().events.clone()
    }

    /// Every start that failed (an init container that exited with an error, a missing
    /// ConfigMap or Secret), in order.
    pub fn failed_starts(&self) -> Vec<(u32, String)> {
        self.lock().failed_starts.clone()
    }

    /// The ordinals with a running process.
    pub fn running(&self) -> Vec<u32> {
        self.lock().pods.keys().copied().collect()
    }

    /// The last lines of each pod's log and the start errors, for failure messages.
    pub fn describe(&self) -> String {
        let mut out = format!("start errors: {:?}\n", self.lock().errors);
        for (i, _) in self.addresses.iter().enumerate() {
            let log = std::fs::read_to_string(self.root.join(format!("pod-{i}/server.log")))
                .unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(15)..].join("\n");
            if !tail.is_empty() {
                out.push_str(&format!("--- pod {i} ---\n{tail}\n"));
            }
        }
        out
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let mut state = self.lock();
        for (_, mut pod) in std::mem::take(&mut state.pods) {
            let _ = pod.child.kill();
            let _ = pod.child.wait();
        }
    }
}

/// One look at the StatefulSet: start, stop, restart, then write its status.
fn step(store: &Store, state: &Mutex<State>, root: &Path, addresses: &[SocketAddr]) {
    let Some(sts) = store.get(STS) else {
        return;
    };
    let replicas = sts["spec"]["replicas"].as_u64().unwrap_or(0) as u32;
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    // Members that died are started again below, as a kubelet restarts a container.
    let died: Vec<u32> = state
        .pods
        .iter_mut()
        .filter_map(|(i, p)| matches!(p.child.try_wait(), Ok(Some(_))).then_some(*i))
        .collect();
    for i in died {
        state.pods.remove(&i);
        state.events.push(PodEvent::Died(i));
    }
    // Pods the operator deleted: stopped now, recreated below with the current template.
    let deleted: Vec<u32> = state
        .pods
        .keys()
        .copied()
        .filter(|&i| store.get(&pod_path(i)).is_none())
        .collect();
    for i in deleted {
        let leader = mode(addresses[i as usize]).as_deref() == Some("leader");
        let others_serving = state
            .pods
            .keys()
            .filter(|&&o| o != i)
            .all(|&o| mode(addresses[o as usize]).is_some());
        if let Some(mut pod) = state.pods.remove(&i) {
            let _ = pod.child.kill();
            let _ = pod.child.wait();
        }
        state.events.push(PodEvent::Deleted {
            ordinal: i,
            leader,
            others_serving,
        });
    }
    let delete_volumes =
        sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenScaled"] == "Delete";
    let above: Vec<u32> = state
        .pods
        .keys()
        .copied()
        .filter(|&i| i >= replicas)
        .collect();
    for i in above {
        if let Some(mut pod) = state.pods.remove(&i) {
            let _ = pod.child.kill();
            let _ = pod.child.wait();
        }
        state.events.push(PodEvent::Stopped(i));
        store.remove(&pod_path(i));
        if delete_volumes {
            let _ = std::fs::remove_dir_all(root.join(format!("pod-{i}/data")));
        }
    }
    for i in 0..replicas.min(addresses.len() as u32) {
        if state.pods.contains_key(&i) {
            continue;
        }
        match start_pod(store, &sts, root, i) {
            Ok(child) => {
                // A new pod carries the current revision; a container restarted in its
                // pod keeps the pod's.
                if store.get(&pod_path(i)).is_none() {
                    store.put(
                        &pod_path(i),
                        json!({"apiVersion": "v1", "kind": "Pod",
                               "metadata": {"name": format!("{NAME}-{i}"), "namespace": "ns",
                                            "labels": {"controller-revision-hash": revision(&sts)}}}),
                    );
                }
                state.pods.insert(i, Pod { child });
                state.errors.remove(&i);
                state.events.push(PodEvent::Started(i));
            }
            Err(e) => {
                state.failed_starts.push((i, e.clone()));
                state.errors.insert(i, e);
            }
        }
    }
    let ready = (0..replicas.min(addresses.len() as u32))
        .filter(|&i| state.pods.contains_key(&i) && mode(addresses[i as usize]).is_some())
        .count();
    let generation = sts["metadata"]["generation"].clone();
    let update = revision(&sts);
    let updated = (0..replicas)
        .filter(|&i| {
            store.get(&pod_path(i)).is_some_and(|p| {
                p["metadata"]["labels"]["controller-revision-hash"] == update.as_str()
            })
        })
        .count();
    let current = if updated as u32 == replicas {
        update.clone()
    } else {
        format!("{NAME}-previous")
    };
    store.update(STS, |s| {
        s["status"] = json!({
            "replicas": replicas, "readyReplicas": ready, "updatedReplicas": updated,
            "observedGeneration": generation, "currentRevision": current,
            "updateRevision": update,
        });
    });
}

/// The mode `srvr` reports when the member serves (leader, follower or observer).
pub fn mode(addr: SocketAddr) -> Option<String> {
    let probe = || -> std::io::Result<String> {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
        s.set_read_timeout(Some(Duration::from_secs(1)))?;
        s.write_all(b"srvr")?;
        let mut out = String::new();
        s.take(64 * 1024).read_to_string(&mut out)?;
        Ok(out)
    };
    let text = probe().ok()?;
    text.lines()
        .filter_map(|l| l.strip_prefix("Mode:").map(str::trim))
        .find(|m| matches!(*m, "leader" | "follower" | "observer"))
        .map(str::to_string)
}

/// The ConfigMaps' keys as files in the pod's `/conf`.
fn materialise(store: &Store, conf: &Path) -> Result<(), String> {
    std::fs::create_dir_all(conf).map_err(|e| e.to_string())?;
    for path in [CONFIG, MEMBERS] {
        let cm = store
            .get(path)
            .ok_or(format!("{path} does not exist yet"))?;
        let data = cm["data"].as_object().cloned().unwrap_or_default();
        for (key, value) in data {
            let text = value.as_str().unwrap_or_default();
            std::fs::write(conf.join(&key), text).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// Runs the template's init container to completion, then starts its container.
fn start_pod(store: &Store, sts: &Value, root: &Path, i: u32) -> Result<Child, String> {
    let pod = root.join(format!("pod-{i}"));
    let conf = pod.join("conf");
    let data = pod.join("data");
    std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
    materialise(store, &conf)?;
    let spec = &sts["spec"]["template"]["spec"];
    let digest = store
        .get(SECRET)
        .and_then(|s| s["data"]["superDigest"].as_str().map(str::to_string))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .ok_or("the Secret does not exist yet")?;
    let map = |arg: &str| -> String {
        for (mount, dir) in [("/conf", &conf), ("/data", &data)] {
            if let Some(rest) = arg.strip_prefix(mount) {
                return format!("{}{rest}", dir.display());
            }
        }
        arg.to_string()
    };
    let command = |container: &Value| -> Result<Command, String> {
        let argv: Vec<String> = container["command"]
            .as_array()
            .ok_or("a container without a command")?
            .iter()
            .map(|a| map(a.as_str().unwrap_or_default()))
            .collect();
        let mut cmd = Command::new(binary(&argv[0]));
        cmd.args(&argv[1..])
            .env("POD_NAME", format!("{NAME}-{i}"))
            .env("ZKRS_SUPER_DIGEST", &digest)
            .env("RUST_LOG", "info");
        Ok(cmd)
    };
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(pod.join("server.log"))
        .map_err(|e| e.to_string())?;
    for init in spec["initContainers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let out = command(&init)?
            .output()
            .map_err(|e| format!("init container: {e}"))?;
        let _ = (&log).write_all(&out.stderr);
        if !out.status.success() {
            return Err(format!(
                "init container failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    let main = &spec["containers"][0];
    command(main)?
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting the member: {e}"))
}
