//! The ensemble a chaos run works on: N member processes (zkrs, Apache, or both) on
//! loopback addresses of their own, reaching each other only through [`Links`], with their
//! files (zoo.cfg, data, log) under the run's output directory. Members are killed by PID
//! when the cluster is dropped.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use super::links::{Cuts, Links};
use super::reroute;
use crate::addr::{LoopbackAddr, CLIENT_PORT, ELECTION_PORT, QUORUM_PORT};
use crate::ensemble::Mode;
use crate::server::{self, Role, ServerConfig, ServerKind};

/// How long a `srvr` probe may take.
const PROBE: Duration = Duration::from_secs(2);

/// One member process.
struct Member {
    kind: ServerKind,
    ip: LoopbackAddr,
    dir: PathBuf,
    child: Option<Child>,
    paused: bool,
}

impl Member {
    fn client_addr(&self) -> std::net::SocketAddr {
        self.ip.at(CLIENT_PORT)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGKILL to exactly the PID we spawned (a stopped process dies too); reaped.
            let _ = child.kill();
            let _ = child.wait();
        }
        self.paused = false;
    }
}

/// How the members are configured and reach each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topology {
    /// `reconfigEnabled=false`; each member's zoo.cfg lists its peers at its proxies for
    /// them, so the links can be cut.
    Static,
    /// `reconfigEnabled=true`, the membership in `zoo.cfg.dynamic` at the members' real
    /// addresses (a reconfig replicates one view of the addresses to every member): the
    /// members reach each other directly and the links cannot be cut.
    Dynamic,
    /// As `Dynamic`, but every member runs under the [`reroute`](super::reroute) shim,
    /// which sends its connects to a peer's real addresses through its proxies for that
    /// peer: the links can be cut. The shim must be in the server config's wrapper.
    DynamicRouted,
}

/// The members and the links between them.
pub struct Cluster {
    members: Vec<Member>,
    links: Links,
    config: ServerConfig,
}

impl Cluster {
    /// Writes every member's files under `dir/member-N/` and starts them all; does not
    /// wait for a leader ([`Cluster::wait_serving`]).
    pub async fn start(
        kinds: &[ServerKind],
        dir: &Path,
        config: ServerConfig,
        topology: Topology,
    ) -> anyhow::Result<Cluster> {
        let ips: Vec<LoopbackAddr> = kinds.iter().map(|_| LoopbackAddr::allocate()).collect();
        let targets: Vec<_> = ips
            .iter()
            .map(|ip| (ip.at(QUORUM_PORT), ip.at(ELECTION_PORT)))
            .collect();
        let links = Links::start(&targets)
            .await
            .context("binding the link proxies")?;
        let membership: String = ips
            .iter()
            .enumerate()
            .map(|(j, ip)| format!("{}\n", server_line(j, ip.ip())))
            .collect();
        let mut members = Vec::new();
        for (i, (ip, &kind)) in ips.into_iter().zip(kinds).enumerate() {
            let id = i + 1;
            let member_dir = dir.join(format!("member-{id}"));
            let data = member_dir.join("data");
            fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
            fs::write(data.join("myid"), format!("{id}\n"))?;
            let mut cfg = config.zoo_cfg(&data, ip.at(CLIENT_PORT));
            // Generous limits in ticks: a JVM on a busy machine is slow to sync.
            cfg.push_str("initLimit=40\nsyncLimit=10\n");
            if topology == Topology::DynamicRouted {
                let routes: Vec<_> = (0..kinds.len())
                    .filter(|&j| j != i)
                    .flat_map(|j| {
                        let (quorum, election) = links.view(i, j);
                        [(targets[j].0, quorum), (targets[j].1, election)]
                    })
                    .collect();
                reroute::write_routes(&member_dir, &routes)?;
            }
            if topology != Topology::Static {
                let file = member_dir.join("zoo.cfg.dynamic");
                fs::write(&file, &membership)?;
                cfg.push_str("reconfigEnabled=true\nstandaloneEnabled=false\n");
                let _ = writeln!(cfg, "dynamicConfigFile={}", file.display());
                fs::write(member_dir.join("zoo.cfg"), cfg)?;
                members.push(Member {
                    kind,
                    ip,
                    dir: member_dir,
                    child: None,
                    paused: false,
                });
                continue;
            }
            // Members that see each other at different addresses must not adopt each
            // other's view of the ensemble.
            cfg.push_str("reconfigEnabled=false\n");
            for j in 0..kinds.len() {
                let (quorum, election) = links.view(i, j);
                let _ = writeln!(
                    cfg,
                    "server.{}={}:{}:{}",
                    j + 1,
                    quorum.ip(),
                    quorum.port(),
                    election.port()
                );
                debug_assert_eq!(quorum.ip(), election.ip());
            }
            fs::write(member_dir.join("zoo.cfg"), cfg)?;
            members.push(Member {
                kind,
                ip,
                dir: member_dir,
                child: None,
                paused: false,
            });
        }
        let mut cluster = Cluster {
            members,
            links,
            config,
        };
        for i in 0..kinds.len() {
            cluster.start_member(i)?;
        }
        Ok(cluster)
    }

    /// Member `i`'s line in a dynamic configuration, as a reconfig adds it.
    pub fn server_line(&self, i: usize) -> String {
        server_line(i, self.members[i].ip.ip())
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// What member `i` runs.
    pub fn kind(&self, i: usize) -> ServerKind {
        self.members[i].kind
    }

    /// Every member's client address, starting at member `first`.
    pub fn connect_string_from(&self, first: usize) -> String {
        let n = self.members.len();
        (0..n)
            .map(|k| self.members[(first + k) % n].client_addr().to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Member `i`'s client address alone.
    pub fn connect_string_of(&self, i: usize) -> String {
        self.members[i].client_addr().to_string()
    }

    /// Member `i`'s directory (zoo.cfg, data, server.log).
    pub fn member_dir(&self, i: usize) -> &Path {
        &self.members[i].dir
    }

    /// Member `i`'s data directory.
    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.members[i].dir.join("data")
    }

    fn start_member(&mut self, i: usize) -> anyhow::Result<()> {
        let m = &mut self.members[i];
        if m.child.is_some() {
            bail!("member {} is already running", i + 1);
        }
        let child = server::spawn(
            m.kind,
            Role::Member,
            &self.config,
            &m.dir.join("zoo.cfg"),
            &m.dir,
            &m.dir.join("server.log"),
        )
        .map_err(|e| anyhow::anyhow!("starting member {}: {e}", i + 1))?;
        m.child = Some(child);
        Ok(())
    }

    /// Kills member `i` with SIGKILL.
    pub fn kill9(&mut self, i: usize) {
        self.members[i].kill();
    }

    /// Starts a killed member `i` again on its data.
    pub fn restart(&mut self, i: usize) -> anyhow::Result<()> {
        self.start_member(i)
    }

    /// Whether member `i`'s process was started and has exited by itself since.
    pub fn has_exited(&mut self, i: usize) -> bool {
        self.members[i]
            .child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))))
    }

    /// Empties stopped member `i`'s data dir but `myid`: it restarts empty and catches up
    /// from the leader with a snapshot, as an operator replaces a member's broken disk.
    pub fn wipe_data(&mut self, i: usize) -> anyhow::Result<()> {
        if self.members[i].child.is_some() {
            bail!("member {} must be stopped before its data is wiped", i + 1);
        }
        let data = self.data_dir(i);
        for entry in fs::read_dir(&data)? {
            let entry = entry?;
            if entry.file_name() == "myid" {
                continue;
            }
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                fs::remove_dir_all(&path)?;
            } else {
                fs::remove_file(&path)?;
            }
        }
        Ok(())
    }

    pub fn is_running(&self, i: usize) -> bool {
        self.members[i].child.is_some()
    }

    pub fn is_paused(&self, i: usize) -> bool {
        self.members[i].paused
    }

    /// SIGSTOP (`stop`) or SIGCONT to member `i`.
    pub fn pause(&mut self, i: usize, stop: bool) -> anyhow::Result<()> {
        let m = &mut self.members[i];
        let Some(pid) = m.child.as_ref().map(Child::id) else {
            bail!("member {} is not running", i + 1);
        };
        let signal = if stop { "-STOP" } else { "-CONT" };
        let status = std::process::Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .context("running kill")?;
        if !status.success() {
            bail!("kill {signal} {pid} failed");
        }
        m.paused = stop;
        Ok(())
    }

    /// Cuts exactly these directed links (and heals the others).
    pub fn cut(&self, cuts: Cuts) {
        self.links.set(cuts);
    }

    /// The links cut now.
    pub fn cuts(&self) -> Cuts {
        self.links.cuts()
    }

    /// What member `i` says it is (`srvr`); not serving when stopped or paused.
    pub fn mode(&self, i: usize) -> Mode {
        let m = &self.members[i];
        if m.child.is_none() || m.paused {
            return Mode::NotServing;
        }
        let Ok(answer) = server::four_letter_word(m.client_addr(), "srvr", PROBE) else {
            return Mode::NotServing;
        };
        Mode::from_srvr(&answer)
    }

    /// Every member's mode.
    pub fn modes(&self) -> Vec<Mode> {
        (0..self.members.len()).map(|i| self.mode(i)).collect()
    }

    /// The one member that says it leads, if exactly one does.
    pub fn leader(&self) -> Option<usize> {
        let leaders: Vec<usize> = (0..self.members.len())
            .filter(|&i| self.mode(i) == Mode::Leader)
            .collect();
        match leaders.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    /// Waits (at most `limit`) until every member runs and serves: one leader, the others
    /// following. Returns the leader and how long it took.
    pub fn wait_serving(&self, limit: Duration) -> anyhow::Result<(usize, Duration)> {
        let all: Vec<usize> = (0..self.members.len()).collect();
        self.wait_serving_among(&all, limit)
    }

    /// Waits (at most `limit`) until the members `among` serve: one of them leads and the
    /// others follow (so each holds every committed transaction). Returns the leader and
    /// how long it took.
    pub fn wait_serving_among(
        &self,
        among: &[usize],
        limit: Duration,
    ) -> anyhow::Result<(usize, Duration)> {
        let start = Instant::now();
        loop {
            let modes: Vec<(usize, Mode)> = among.iter().map(|&i| (i, self.mode(i))).collect();
            let leaders: Vec<usize> = modes
                .iter()
                .filter(|(_, m)| *m == Mode::Leader)
                .map(|(i, _)| *i)
                .collect();
            if leaders.len() == 1
                && modes
                    .iter()
                    .all(|(_, m)| matches!(m, Mode::Leader | Mode::Follower))
            {
                return Ok((leaders[0], start.elapsed()));
            }
            if start.elapsed() > limit {
                let modes: Vec<String> = modes
                    .iter()
                    .map(|(i, m)| format!("member {}: {m:?}", i + 1))
                    .collect();
                bail!(
                    "no leader with followers within {limit:?}: {}",
                    modes.join(", ")
                );
            }
            // Polling interval of a bounded wait.
            std::thread::sleep(crate::POLL * 5);
        }
    }

    /// The last zxid member `i` says it processed (`srvr`'s `Zxid:`), if it answers.
    pub fn last_zxid(&self, i: usize) -> Option<u64> {
        let m = &self.members[i];
        if m.child.is_none() || m.paused {
            return None;
        }
        let answer = server::four_letter_word(m.client_addr(), "srvr", PROBE).ok()?;
        answer
            .lines()
            .find_map(|l| l.strip_prefix("Zxid: 0x"))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
    }

    /// Heals every fault: links, paused and killed members.
    pub fn heal_all(&mut self) -> anyhow::Result<()> {
        self.links.heal();
        for i in 0..self.members.len() {
            if self.members[i].paused {
                self.pause(i, false)?;
            }
            if self.has_exited(i) {
                self.kill9(i);
            }
            if self.members[i].child.is_none() {
                self.restart(i)?;
            }
        }
        Ok(())
    }
}

/// `server.N=ip:2888:3888:participant;ip:2181` for member index `i` on `ip`.
fn server_line(i: usize, ip: std::net::Ipv4Addr) -> String {
    format!(
        "server.{}={ip}:{QUORUM_PORT}:{ELECTION_PORT}:participant;{ip}:{CLIENT_PORT}",
        i + 1
    )
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for m in &mut self.members {
            m.kill();
        }
    }
}
