//! `conf` and `dirs`: the serving configuration and the sizes of the data directories.

use std::fmt::{self, Write as _};

use super::state::ServerSnapshot;

/// Quorum-only configuration printed by `conf` after the standalone keys.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuorumConf {
    /// `initLimit` (ticks).
    pub init_limit: i32,
    /// `syncLimit` (ticks).
    pub sync_limit: i32,
    /// `electionAlg` (Apache: always 3).
    pub election_alg: i32,
    /// `electionPort` of this server.
    pub election_port: i32,
    /// `quorumPort` of this server.
    pub quorum_port: i32,
    /// `peerType`: 0 = participant, 1 = observer.
    pub peer_type: i32,
    /// The `membership: ` block; Apache omits it on a read-only server.
    pub membership: Option<Membership>,
}

/// The ensemble membership `conf` prints after `membership: `.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Membership {
    /// One line per member, e.g. `server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181`.
    pub servers: Vec<String>,
    /// The config version, printed in hex as the final `version=<hex>` line (no newline).
    pub version: i64,
}

/// What `conf` prints (sizes come from [`ServerSnapshot::data_dir_size`] / `data_log_size`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfInfo {
    /// `clientPort`.
    pub client_port: i32,
    /// `secureClientPort` (-1 when not configured).
    pub secure_client_port: i32,
    /// `dataDir` as printed (Apache prints the snapshot directory, `<dataDir>/version-2`).
    pub data_dir: String,
    /// `dataLogDir` as printed (Apache: `<dataLogDir>/version-2`).
    pub data_log_dir: String,
    /// `tickTime`, ms.
    pub tick_time: i32,
    /// `maxClientCnxns`.
    pub max_client_cnxns: i32,
    /// `minSessionTimeout`, ms (Apache default 2 x tickTime).
    pub min_session_timeout: i32,
    /// `maxSessionTimeout`, ms (Apache default 20 x tickTime).
    pub max_session_timeout: i32,
    /// `clientPortListenBacklog` (-1 = OS default).
    pub client_port_listen_backlog: i32,
    /// `serverId` (0 standalone).
    pub server_id: i64,
    /// Present in quorum mode: `initLimit` ... `membership`.
    pub quorum: Option<QuorumConf>,
}

impl Default for ConfInfo {
    fn default() -> Self {
        ConfInfo {
            client_port: 2181,
            secure_client_port: -1,
            data_dir: String::new(),
            data_log_dir: String::new(),
            tick_time: 2000,
            max_client_cnxns: 60,
            min_session_timeout: 4000,
            max_session_timeout: 40000,
            client_port_listen_backlog: -1,
            server_id: 0,
            quorum: None,
        }
    }
}

/// `conf`: the serving configuration, quorum keys and membership when in an ensemble.
pub(super) fn render_conf(out: &mut String, snap: &ServerSnapshot) -> fmt::Result {
    let c = &snap.conf;
    writeln!(out, "clientPort={}", c.client_port)?;
    writeln!(out, "secureClientPort={}", c.secure_client_port)?;
    writeln!(out, "dataDir={}", c.data_dir)?;
    writeln!(out, "dataDirSize={}", snap.data_dir_size)?;
    writeln!(out, "dataLogDir={}", c.data_log_dir)?;
    writeln!(out, "dataLogSize={}", snap.data_log_size)?;
    writeln!(out, "tickTime={}", c.tick_time)?;
    writeln!(out, "maxClientCnxns={}", c.max_client_cnxns)?;
    writeln!(out, "minSessionTimeout={}", c.min_session_timeout)?;
    writeln!(out, "maxSessionTimeout={}", c.max_session_timeout)?;
    writeln!(
        out,
        "clientPortListenBacklog={}",
        c.client_port_listen_backlog
    )?;
    writeln!(out, "serverId={}", c.server_id)?;
    if let Some(q) = &c.quorum {
        writeln!(out, "initLimit={}", q.init_limit)?;
        writeln!(out, "syncLimit={}", q.sync_limit)?;
        writeln!(out, "electionAlg={}", q.election_alg)?;
        writeln!(out, "electionPort={}", q.election_port)?;
        writeln!(out, "quorumPort={}", q.quorum_port)?;
        writeln!(out, "peerType={}", q.peer_type)?;
        if let Some(m) = &q.membership {
            writeln!(out, "membership: ")?;
            for line in &m.servers {
                writeln!(out, "{line}")?;
            }
            write!(out, "version={:x}", m.version)?;
        }
    }
    Ok(())
}

/// `dirs`: bytes in the snapshot and the transaction log directories.
pub(super) fn render_dirs(out: &mut String, snap: &ServerSnapshot) -> fmt::Result {
    writeln!(out, "datadir_size: {}", snap.data_dir_size)?;
    writeln!(out, "logdir_size: {}", snap.data_log_size)
}
