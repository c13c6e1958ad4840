//! Helpers for the dynamic reconfiguration tests: the `/zookeeper/config` format, reconfig
//! calls with the error codes the tests assert, and waits for a configuration to reach
//! every member.
//!
//! `/zookeeper/config` holds what Apache's `QuorumVerifier.toString()` writes: one line per
//! server, `server.N=host:quorumPort:electionPort:role;clientHost:clientPort`, sorted by id,
//! then `version=<hex>` (the zxid of the transaction that committed it). A reconfig needs
//! the super user (the node's ACL is `world:anyone:r`), so the ensembles here have a super
//! password ([`config`]) and the tests authenticate with it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::ensemble::Ensemble;
use crate::server::ServerConfig;
use crate::{within, zk, POLL, WAIT};

/// The super user's password in the reconfig tests' ensembles.
pub const SUPER_PASSWORD: &str = "reconfig-super";

/// The test configuration with the super password set.
pub fn config() -> ServerConfig {
    ServerConfig::default().with_super_password(SUPER_PASSWORD)
}

/// ZooKeeper's result codes that the reconfig tests assert.
pub mod code {
    pub const UNIMPLEMENTED: i32 = -6;
    pub const BAD_ARGUMENTS: i32 = -8;
    pub const NEW_CONFIG_NO_QUORUM: i32 = -13;
    pub const RECONFIG_IN_PROGRESS: i32 = -14;
    pub const NO_AUTH: i32 = -102;
    pub const BAD_VERSION: i32 = -103;
    pub const RECONFIG_DISABLED: i32 = -123;
    pub const CONNECTION_LOSS: i32 = -4;
}

/// The result code of a server error as the `zookeeper_client` crate reports it (`None`
/// for client-side errors).
pub fn error_code(e: &zk::Error) -> Option<i32> {
    Some(match e {
        zk::Error::Unimplemented => code::UNIMPLEMENTED,
        zk::Error::NoAuth => code::NO_AUTH,
        zk::Error::BadVersion => code::BAD_VERSION,
        zk::Error::ReconfigDisabled => code::RECONFIG_DISABLED,
        zk::Error::ConnectionLoss => code::CONNECTION_LOSS,
        zk::Error::BadArguments(_) => code::BAD_ARGUMENTS,
        zk::Error::UnexpectedErrorCode(c) => *c,
        _ => return None,
    })
}

/// One server line of a configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSpec {
    /// `host:quorumPort:electionPort`.
    pub peer: String,
    /// `participant` or `observer`.
    pub role: String,
    /// `clientHost:clientPort`, if the line has a client part.
    pub client: Option<String>,
}

/// A parsed `/zookeeper/config`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigData {
    pub servers: BTreeMap<u32, ServerSpec>,
    /// `version=` (hex in the text).
    pub version: Option<i64>,
}

impl ConfigData {
    /// Parses the text of `/zookeeper/config` (or a dynamic config file). Panics on a line
    /// that is not a server line, `version=` or blank: the format is what is under test.
    pub fn parse(text: &str) -> ConfigData {
        let mut out = ConfigData::default();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (key, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("config line without `=`: {line:?}"));
            if key == "version" {
                let v = i64::from_str_radix(value, 16)
                    .unwrap_or_else(|_| panic!("version is not hex: {line:?}"));
                out.version = Some(v);
                continue;
            }
            let id: u32 = key
                .strip_prefix("server.")
                .and_then(|id| id.parse().ok())
                .unwrap_or_else(|| panic!("not a server line: {line:?}"));
            let (peer_part, client) = match value.split_once(';') {
                Some((p, c)) => (p, Some(c.to_string())),
                None => (value, None),
            };
            let parts: Vec<&str> = peer_part.split(':').collect();
            let (peer, role) = match parts.as_slice() {
                [h, q, e] => (format!("{h}:{q}:{e}"), "participant".to_string()),
                [h, q, e, r] => (format!("{h}:{q}:{e}"), r.to_string()),
                _ => panic!("server line with an unexpected address: {line:?}"),
            };
            out.servers.insert(id, ServerSpec { peer, role, client });
        }
        out
    }

    /// Ids of the voting members.
    pub fn participants(&self) -> Vec<u32> {
        self.ids_with_role("participant")
    }

    /// Ids of the observers.
    pub fn observers(&self) -> Vec<u32> {
        self.ids_with_role("observer")
    }

    fn ids_with_role(&self, role: &str) -> Vec<u32> {
        self.servers
            .iter()
            .filter(|(_, s)| s.role == role)
            .map(|(id, _)| *id)
            .collect()
    }
}

/// How long [`config_of`] keeps trying a member that does not serve for a moment (a
/// learner reconnects to the leader after a reconfig that moves leadership or its role).
pub const REJOIN: Duration = Duration::from_secs(90);

/// `/zookeeper/config` as member `i` has it after a `sync`: the text and its Stat. A member
/// that does not serve is tried again for up to [`REJOIN`].
pub async fn config_of(ensemble: &Ensemble, i: usize) -> (String, zk::Stat) {
    let id = ensemble.member(i).id;
    let start = Instant::now();
    loop {
        let attempt = async {
            let client =
                crate::server::try_connect(ensemble.member(i).addr(), zk::Client::connector())
                    .await?;
            within(WAIT, "sync", client.sync("/")).await?;
            within(WAIT, "getConfig", client.get_config()).await
        };
        match attempt.await {
            Ok((data, stat)) => {
                return (String::from_utf8(data).expect("the config is text"), stat);
            }
            Err(e) => assert!(
                start.elapsed() < REJOIN,
                "member {id} did not answer getConfig within {REJOIN:?}: {e}"
            ),
        }
        tokio::time::sleep(POLL * 10).await;
    }
}

/// Whether `e` only says that the answer was lost with the connection (`ConnectionLoss`,
/// or the client's own "no response" when a member stalls), not what the server decided.
pub fn is_lost_answer(e: &zk::Error) -> bool {
    error_code(e) == Some(code::CONNECTION_LOSS)
        || (error_code(e).is_none()
            && !matches!(e, zk::Error::SessionExpired | zk::Error::ClientClosed))
}

/// A connector for clients that must ride out stalls (a JVM on a busy machine, a reconfig
/// waiting for acks): the longest session the test servers grant (20 ticks), so the client
/// waits longer before it gives a connection up; authenticated as super if `super_user`.
pub fn patient(super_user: bool) -> zk::Connector {
    let mut connector = zk::Client::connector()
        .with_session_timeout(Duration::from_secs(10))
        .with_fail_eagerly();
    if super_user {
        connector = connector.with_auth("digest", format!("super:{SUPER_PASSWORD}").as_bytes());
    }
    connector
}

/// A [`patient`] client of `addr`.
pub async fn patient_client(addr: std::net::SocketAddr, super_user: bool) -> zk::Client {
    within(
        WAIT,
        "a client connection",
        patient(super_user).connect(&addr.to_string()),
    )
    .await
    .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"))
}

/// The error a reconfig that must be refused gets. A lost answer is asked again (a refused
/// reconfig changes nothing), for at most [`REJOIN`]; a reconfig that commits fails the
/// test.
pub async fn refused(
    client: &zk::Client,
    joining: &[String],
    leaving: &[u32],
    from_config: Option<i64>,
) -> zk::Error {
    let start = Instant::now();
    loop {
        match reconfig(client, joining, leaving, from_config).await {
            Ok(done) => panic!("reconfig +{joining:?} -{leaving:?} committed: {done:?}"),
            Err(e) if is_lost_answer(&e) && start.elapsed() < REJOIN => {
                tokio::time::sleep(POLL * 10).await;
            }
            Err(e) => return e,
        }
    }
}

/// An incremental reconfig: `joining` server lines (`server.N=...`), `leaving` ids.
pub async fn reconfig(
    client: &zk::Client,
    joining: &[String],
    leaving: &[u32],
    from_config: Option<i64>,
) -> Result<(String, zk::Stat), zk::Error> {
    let leaving: Vec<String> = leaving.iter().map(u32::to_string).collect();
    let update = zk::EnsembleUpdate::Incremental {
        joinings: joining.iter().map(String::as_str),
        leavings: leaving.iter().map(String::as_str),
    };
    // A reconfig waits for acks of the old and the new quorum: a busy machine is slow.
    within(
        WAIT * 3,
        "a reconfig",
        client.update_ensemble(update, from_config),
    )
    .await
    .map(|(data, stat)| (String::from_utf8(data).expect("config text"), stat))
}

/// A reconfig that replaces the whole membership with `members` (server lines).
pub async fn reconfig_members(
    client: &zk::Client,
    members: &[String],
    from_config: Option<i64>,
) -> Result<(String, zk::Stat), zk::Error> {
    let update = zk::EnsembleUpdate::New {
        ensemble: members.iter().map(String::as_str),
    };
    within(
        WAIT * 3,
        "a reconfig",
        client.update_ensemble(update, from_config),
    )
    .await
    .map(|(data, stat)| (String::from_utf8(data).expect("config text"), stat))
}

/// [`reconfig`], repeated while the leader answers `NewConfigNoQuorum` (a joiner that
/// reports itself synced may not be counted by the leader yet), for at most `limit`.
/// Any other error fails the test.
pub async fn reconfig_until_quorum(
    client: &zk::Client,
    joining: &[String],
    leaving: &[u32],
    limit: Duration,
) -> (String, zk::Stat) {
    let start = Instant::now();
    loop {
        match reconfig(client, joining, leaving, None).await {
            Ok(done) => return done,
            Err(e) if error_code(&e) == Some(code::NEW_CONFIG_NO_QUORUM) => {
                assert!(
                    start.elapsed() < limit,
                    "reconfig +{joining:?} -{leaving:?}: still NewConfigNoQuorum after {limit:?}"
                );
                tokio::time::sleep(POLL * 10).await;
            }
            Err(e) => panic!("reconfig +{joining:?} -{leaving:?} failed: {e}"),
        }
    }
}

/// Waits (at most `limit`) until each member of `among` has `/zookeeper/config` with
/// `version`; returns the texts, which the caller may compare.
pub async fn wait_config_version(
    ensemble: &Ensemble,
    among: &[usize],
    version: i64,
    limit: Duration,
) -> Vec<String> {
    let mut texts = Vec::new();
    for &i in among {
        let start = Instant::now();
        loop {
            let (text, _) = config_of(ensemble, i).await;
            if ConfigData::parse(&text).version == Some(version) {
                texts.push(text);
                break;
            }
            assert!(
                start.elapsed() < limit,
                "member {} still has config {text:?}, not version {version:x}, after {limit:?}",
                ensemble.member(i).id
            );
            tokio::time::sleep(POLL * 5).await;
        }
    }
    texts
}

/// Clients that write all along a test and keep every error that is not a lost connection:
/// during a reconfig a client may lose its connection (its member rejoins a new leader, or
/// was removed and stopped), and nothing else may go wrong. One client per given address
/// (each connected through that member first, then the others), each setting its own node
/// every [`POLL`] * 5, bounded by `limit`.
pub struct Probes {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<Vec<String>>>,
}

impl Probes {
    /// Creates `<root>` and one node per probe, then starts them.
    pub async fn start(ensemble: &Ensemble, root: &str, limit: Duration) -> Probes {
        use std::sync::atomic::{AtomicBool, Ordering};
        let setup = ensemble.client_of(0).await;
        within(WAIT, "the probes' nodes", async {
            setup.create(root, b"", &crate::open()).await.expect("root");
        })
        .await;
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let n = ensemble.members().len();
        let mut tasks = Vec::new();
        for i in 0..n {
            let path = format!("{root}/p{i}");
            within(
                WAIT,
                "a probe node",
                setup.create(&path, b"", &crate::open()),
            )
            .await
            .expect("probe node");
            let cluster = ensemble.connect_string_from(i);
            let stop = stop.clone();
            tasks.push(tokio::spawn(async move {
                let mut unexpected = Vec::new();
                let connector =
                    zk::Client::connector().with_session_timeout(Duration::from_secs(10));
                let client =
                    match within(WAIT, "a probe's session", connector.connect(&cluster)).await {
                        Ok(c) => c,
                        Err(e) => return vec![format!("probe {i}: connect: {e}")],
                    };
                let start = Instant::now();
                let mut n = 0u64;
                while !stop.load(Ordering::Acquire) && start.elapsed() < limit {
                    n += 1;
                    let value = n.to_string();
                    let write = client.set_data(&path, value.as_bytes(), None);
                    match tokio::time::timeout(WAIT, write).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => {
                            let lost = error_code(&e) == Some(code::CONNECTION_LOSS)
                                || (error_code(&e).is_none()
                                    && !matches!(
                                        e,
                                        zk::Error::SessionExpired | zk::Error::ClientClosed
                                    ));
                            if !lost {
                                unexpected.push(format!("probe {i}: {e:?}"));
                                if matches!(e, zk::Error::SessionExpired | zk::Error::ClientClosed)
                                {
                                    break;
                                }
                            }
                        }
                        // No answer within WAIT: the member stalled; the client gives up on
                        // the connection by itself.
                        Err(_) => {}
                    }
                    tokio::time::sleep(POLL * 5).await;
                }
                unexpected
            }));
        }
        Probes { stop, tasks }
    }

    /// Stops the probes and returns the errors that were not a lost connection.
    pub async fn stop(self) -> Vec<String> {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        let mut all = Vec::new();
        for t in self.tasks {
            all.extend(
                within(WAIT * 2, "a probe to stop", t)
                    .await
                    .expect("a probe panicked"),
            );
        }
        all
    }
}

/// `ZKRS_CLI_BIN`, else `zkrs-cli` in the target profile directory of this test binary
/// (build it first: `cargo build -p zkrs-client --bin zkrs-cli`, same profile).
pub fn zkrs_cli_binary() -> std::path::PathBuf {
    if let Some(bin) = std::env::var_os("ZKRS_CLI_BIN") {
        return bin.into();
    }
    // `target/<profile>/deps/<test>-<hash>` -> `target/<profile>/zkrs-cli`.
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(std::path::Path::parent)
        .expect("test binary lives in target/<profile>/deps");
    let bin = profile_dir.join(format!("zkrs-cli{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} does not exist: build it first (`cargo build -p zkrs-client --bin zkrs-cli`), \
         or set ZKRS_CLI_BIN",
        bin.display()
    );
    bin
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_apache_writes() {
        let text = "server.1=127.1.0.1:2888:3888:participant;127.1.0.1:2181\n\
                    server.2=127.1.0.2:2888:3888:observer;0.0.0.0:2181\n\
                    server.3=127.1.0.3:2888:3888\n\
                    version=10000000a";
        let c = ConfigData::parse(text);
        assert_eq!(c.version, Some(0x1_0000_000a));
        assert_eq!(c.participants(), vec![1, 3]);
        assert_eq!(c.observers(), vec![2]);
        assert_eq!(c.servers[&1].client.as_deref(), Some("127.1.0.1:2181"));
        assert_eq!(c.servers[&3].client, None);
        assert_eq!(c.servers[&2].peer, "127.1.0.2:2888:3888");
    }
}
