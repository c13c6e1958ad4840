//! Apache's AdminServer commands (`org.apache.zookeeper.server.admin.Commands`, 3.8) as
//! JSON: the table of names and aliases, and one renderer per command reading the same
//! [`ServerSnapshot`] the four-letter words render from. Field names, nesting and the
//! `command`/`error` keys follow Apache's responses (checked against Debian's 3.8.0 with
//! `admin.enableServer=true`; `tests/tests/admin_http.rs` compares them key by key).
//!
//! What zkrs has no equivalent for is answered in Apache's shape with the value Apache
//! gives when it has nothing: `hash` lists no digests, `system_properties` lists the
//! process's properties that `envi` shows (there is no JVM), `observers` lists no
//! per-observer details.

use crate::config::{Config, PeerType};
use crate::fourlw::{render, FourLetterWord, ServerMode, ServerSnapshot};

use super::json::Json;
use super::mntr::MntrLines;

/// One command: its names (the first is the primary name `/commands` lists) and whether it
/// needs a running server (Apache's `CommandBase.serverRequired`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command {
    pub names: &'static [&'static str],
    pub server_required: bool,
}

impl Command {
    pub fn primary(&self) -> &'static str {
        self.names[0]
    }

    /// Whether the answer shows the data and log directories' sizes, which the edge
    /// measures on disk for it (`dirs`, and `server_stats` in `srvr` and `stat`).
    pub fn prints_dir_sizes(&self) -> bool {
        matches!(self.primary(), "dirs" | "server_stats" | "stats")
    }

    /// What the async edge does before rendering: the reset commands change the core's
    /// statistics first, as Apache resets before it answers.
    pub fn effect(&self) -> Option<Effect> {
        match self.primary() {
            "connection_stat_reset" => Some(Effect::ResetConnStats),
            "stat_reset" => Some(Effect::ResetServerStats),
            _ => None,
        }
    }
}

/// A side effect of a command, performed by the edge that talks to the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    ResetConnStats,
    ResetServerStats,
}

const fn cmd(names: &'static [&'static str], server_required: bool) -> Command {
    Command {
        names,
        server_required,
    }
}

/// Apache 3.8's commands, by primary name (the order `/commands` lists them in).
pub const COMMANDS: &[Command] = &[
    cmd(&["configuration", "conf", "config"], true),
    cmd(&["connection_stat_reset", "crst"], true),
    cmd(&["connections", "cons"], true),
    cmd(&["dirs"], true),
    cmd(&["dump"], true),
    cmd(&["environment", "env", "envi"], false),
    cmd(&["get_trace_mask", "gtmk"], false),
    cmd(&["hash"], true),
    cmd(&["initial_configuration", "icfg"], true),
    cmd(&["is_read_only", "isro"], true),
    cmd(&["last_snapshot", "lsnp"], true),
    cmd(&["leader", "lead"], true),
    cmd(&["monitor", "mntr"], false),
    cmd(&["observer_connection_stat_reset", "orst"], true),
    cmd(&["observers", "obsr"], true),
    cmd(&["ruok"], true),
    cmd(&["server_stats", "srvr"], true),
    cmd(&["set_trace_mask", "stmk"], false),
    cmd(&["stat_reset", "srst"], true),
    cmd(&["stats", "stat"], true),
    cmd(&["system_properties", "sysp"], false),
    cmd(&["voting_view"], true),
    cmd(&["watch_summary", "wchs"], true),
    cmd(&["watches", "wchc"], true),
    cmd(&["watches_by_path", "wchp"], true),
    cmd(&["zabstate"], false),
];

/// The command a name or alias stands for (exact, case-sensitive, as Apache).
pub fn lookup(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.names.contains(&name))
}

/// Apache's message while the server does not serve.
pub const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

/// Everything a command renders from besides the snapshot.
pub struct Context<'a> {
    pub config: &'a Config,
    /// The request's query parameters (`set_trace_mask?traceMask=...`).
    pub args: &'a [(String, String)],
    /// The newest snapshot on disk: its zxid and when it was written (seconds since the
    /// epoch), for `last_snapshot`.
    pub last_snapshot: Option<(i64, i64)>,
    /// The configuration file's text, for `initial_configuration`.
    pub initial_configuration: Option<&'a str>,
}

/// Apache's `CommandResponse.toMap`: the data in order, then `command` and `error` unless
/// the data already has them (a command that puts its own `error` keeps it first).
struct Response {
    data: Vec<(String, Json)>,
}

impl Response {
    fn new() -> Self {
        Response { data: Vec::new() }
    }

    fn put(&mut self, key: &str, value: Json) {
        match self.data.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.data.push((key.to_string(), value)),
        }
    }

    fn finish(mut self, command: &str, error: Option<&str>) -> Json {
        if !self.data.iter().any(|(k, _)| k == "command") {
            self.data.push(("command".into(), Json::str(command)));
        }
        if !self.data.iter().any(|(k, _)| k == "error") {
            self.data
                .push(("error".into(), error.map_or(Json::Null, Json::str)));
        }
        Json::Object(self.data)
    }
}

/// The answer to `/commands/<name>`: always a JSON object with `command` and `error`
/// (Apache answers unknown commands and a server that does not serve with status 200 and
/// the reason in `error`).
pub fn respond(name: &str, snap: &ServerSnapshot, ctx: &Context<'_>) -> Json {
    let Some(command) = lookup(name) else {
        return Response::new().finish(name, Some(&format!("Unknown command: {name}")));
    };
    if command.server_required && !snap.role.serving {
        return Response::new().finish(name, Some(NOT_SERVING));
    }
    let mut r = Response::new();
    run(command.primary(), snap, ctx, &mut r);
    r.finish(command.primary(), None)
}

fn run(primary: &str, snap: &ServerSnapshot, ctx: &Context<'_>, r: &mut Response) {
    let role = &snap.role;
    let in_quorum = role.mode.in_quorum();
    match primary {
        "configuration" => configuration(snap, r),
        "connections" => {
            r.put("connections", connections(snap, false));
            r.put("secure_connections", Json::Array(Vec::new()));
        }
        "dirs" => {
            r.put("datadir_size", Json::uint(snap.data_dir_size));
            r.put("logdir_size", Json::uint(snap.data_log_size));
        }
        "dump" => dump(snap, r),
        "environment" => {
            for (k, v) in environment(snap) {
                r.put(&k, Json::Str(v));
            }
        }
        "get_trace_mask" => r.put("tracemask", Json::Int(snap.trace_mask)),
        // zkrs keeps no digest log; Apache's list is empty without one too.
        "hash" => r.put("digests", Json::Array(Vec::new())),
        "initial_configuration" => r.put(
            "initial_configuration",
            ctx.initial_configuration.map_or(Json::Null, Json::str),
        ),
        "is_read_only" => r.put("read_only", Json::Bool(role.mode == ServerMode::ReadOnly)),
        "last_snapshot" => {
            let (zxid, at) = ctx.last_snapshot.unwrap_or((-1, -1));
            r.put("zxid", Json::Str(format!("{zxid:x}")));
            r.put("timestamp", Json::Int(at));
        }
        "leader" if in_quorum => {
            r.put("is_leader", Json::Bool(role.mode == ServerMode::Leader));
            let (id, address) = leader_of(snap, ctx.config);
            r.put("leader_id", Json::Int(id));
            r.put("leader_ip", Json::Str(address));
        }
        "leader" => r.put("error", Json::str("server is not initialized")),
        "monitor" => {
            for (k, v) in MntrLines::of(snap).entries() {
                r.put(k, v);
            }
        }
        "observers" => {
            let synced = match role.mode {
                ServerMode::Leader => role.leader().synced_observers,
                ServerMode::Follower => role
                    .quorum
                    .as_ref()
                    .and_then(|q| q.follower_synced_observers)
                    .unwrap_or(0),
                _ => 0,
            };
            r.put("synced_observers", Json::uint(synced));
            r.put("observers", Json::Array(Vec::new()));
        }
        "server_stats" => server_stats(snap, r),
        "set_trace_mask" => set_trace_mask(ctx, r),
        "stats" => {
            server_stats(snap, r);
            r.put("connections", connections(snap, true));
            r.put("secure_connections", Json::Array(Vec::new()));
        }
        "system_properties" => {
            let mut props = environment(snap);
            props.retain(|(k, _)| k != "zookeeper.version" && !k.starts_with("os.memory."));
            props.sort();
            for (k, v) in props {
                r.put(&k, Json::Str(v));
            }
        }
        "voting_view" => r.put("current_config", voting_view(ctx.config, in_quorum)),
        "watch_summary" => {
            let w = &snap.watch_summary;
            r.put("num_connections", Json::uint(w.connections));
            r.put("num_paths", Json::uint(w.paths));
            r.put("num_total_watches", Json::uint(w.watches));
        }
        "watches" => r.put(
            "session_id_to_watched_paths",
            Json::Object(
                snap.watches_by_session
                    .iter()
                    .map(|(s, paths)| (s.to_string(), strings(paths)))
                    .collect(),
            ),
        ),
        "watches_by_path" => r.put(
            "path_to_session_ids",
            Json::Object(
                snap.watches_by_path
                    .iter()
                    .map(|(p, sessions)| {
                        (
                            p.clone(),
                            Json::Array(sessions.iter().map(|s| Json::Int(*s)).collect()),
                        )
                    })
                    .collect(),
            ),
        ),
        "zabstate" => zabstate(snap, ctx.config, r),
        // ruok, the resets (their effect is the edge's) and observer_connection_stat_reset
        // (zkrs keeps no per-observer statistics) answer only `command` and `error`.
        _ => {}
    }
}

fn strings(items: &[String]) -> Json {
    Json::Array(items.iter().map(|s| Json::str(s.as_str())).collect())
}

/// `ZooKeeperServerConf.toMap`.
fn configuration(snap: &ServerSnapshot, r: &mut Response) {
    let c = &snap.conf;
    r.put("client_port", Json::Int(c.client_port.into()));
    r.put("data_dir", Json::str(c.data_dir.as_str()));
    r.put("data_log_dir", Json::str(c.data_log_dir.as_str()));
    r.put("tick_time", Json::Int(c.tick_time.into()));
    r.put("max_client_cnxns", Json::Int(c.max_client_cnxns.into()));
    r.put(
        "min_session_timeout",
        Json::Int(c.min_session_timeout.into()),
    );
    r.put(
        "max_session_timeout",
        Json::Int(c.max_session_timeout.into()),
    );
    r.put("server_id", Json::Int(c.server_id));
    r.put(
        "client_port_listen_backlog",
        Json::Int(c.client_port_listen_backlog.into()),
    );
}

/// `ServerCnxn.getConnectionInfo`: the brief keys, and the session's keys in the long form.
fn connections(snap: &ServerSnapshot, brief: bool) -> Json {
    let list = snap
        .connections
        .iter()
        .map(|c| {
            let mut f = vec![
                (
                    "remote_socket_address".to_string(),
                    Json::Str(c.remote.to_string()),
                ),
                ("interest_ops".into(), Json::Int(c.interest_ops.into())),
                ("outstanding_requests".into(), Json::uint(c.queued)),
                ("packets_received".into(), Json::uint(c.received)),
                ("packets_sent".into(), Json::uint(c.sent)),
            ];
            if !brief {
                f.extend([
                    ("session_id".to_string(), Json::Int(c.session_id)),
                    ("last_operation".into(), Json::str(c.last_op.as_str())),
                    ("established".into(), Json::Int(c.established_ms)),
                    ("session_timeout".into(), Json::Int(c.session_timeout_ms)),
                    ("last_cxid".into(), Json::Int(c.last_cxid)),
                    ("last_zxid".into(), Json::Int(c.last_zxid)),
                    ("last_response_time".into(), Json::Int(c.last_response_ms)),
                    ("last_latency".into(), Json::Int(c.last_latency_ms)),
                    ("min_latency".into(), Json::Int(c.min_latency_ms)),
                    ("avg_latency".into(), Json::Int(c.avg_latency_ms)),
                    ("max_latency".into(), Json::Int(c.max_latency_ms)),
                ]);
            }
            Json::Object(f)
        })
        .collect();
    Json::Array(list)
}

/// `dump`: session expiry by time, and ephemerals by session. The view carries no
/// session expiry yet (`dump`'s word prints none either), so that map is empty.
fn dump(snap: &ServerSnapshot, r: &mut Response) {
    r.put("expiry_time_to_session_ids", Json::Object(Vec::new()));
    r.put(
        "session_id_to_ephemeral_paths",
        Json::Object(
            snap.dump
                .ephemerals
                .iter()
                .map(|(s, paths)| (s.to_string(), strings(paths)))
                .collect(),
        ),
    );
}

/// `envi`'s properties, read from its rendering so both say the same.
fn environment(snap: &ServerSnapshot) -> Vec<(String, String)> {
    render(FourLetterWord::Envi, snap)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `srvr`: the version, the `ServerStats` bean, the response-size stats, and the leader's
/// proposal sizes.
fn server_stats(snap: &ServerSnapshot, r: &mut Response) {
    let mntr = MntrLines::of(snap);
    let role = &snap.role;
    let response_sizes = || {
        Json::Object(vec![
            (
                "last_buffer_size".into(),
                mntr.int("last_client_response_size"),
            ),
            (
                "min_buffer_size".into(),
                mntr.int("min_client_response_size"),
            ),
            (
                "max_buffer_size".into(),
                mntr.int("max_client_response_size"),
            ),
        ])
    };
    r.put("version", Json::Str(snap.full_version()));
    r.put("read_only", Json::Bool(role.mode == ServerMode::ReadOnly));
    let stats = vec![
        ("packets_sent".to_string(), Json::uint(snap.packets_sent)),
        ("packets_received".into(), Json::uint(snap.packets_received)),
        ("fsync_threshold_exceed_count".into(), Json::Int(0)),
        ("client_response_stats".into(), response_sizes()),
        ("data_dir_size".into(), Json::uint(snap.data_dir_size)),
        ("log_dir_size".into(), Json::uint(snap.data_log_size)),
        ("provider_null".into(), Json::Bool(false)),
        ("server_state".into(), Json::str(role.mode.as_str())),
        ("last_processed_zxid".into(), Json::Int(snap.last_zxid)),
        (
            "outstanding_requests".into(),
            Json::uint(snap.outstanding_requests),
        ),
        ("avg_latency".into(), Json::double(snap.latency.avg_ms())),
        ("max_latency".into(), Json::uint(snap.latency.max_ms)),
        ("min_latency".into(), mntr.int("min_latency")),
        (
            "num_alive_client_connections".into(),
            Json::uint(snap.num_alive_connections),
        ),
        ("uptime".into(), Json::uint(snap.uptime_ms)),
        ("auth_failed_count".into(), mntr.int("auth_failed_count")),
        (
            "non_mtlsremote_conn_count".into(),
            mntr.int("non_mtls_remote_conn_count"),
        ),
        (
            "non_mtlslocal_conn_count".into(),
            mntr.int("non_mtls_local_conn_count"),
        ),
    ];
    r.put("server_stats", Json::Object(stats));
    r.put("client_response", response_sizes());
    if role.mode == ServerMode::Leader {
        let l = role.leader();
        r.put(
            "proposal_stats",
            Json::Object(vec![
                ("last_buffer_size".into(), Json::Int(l.last_proposal_size)),
                ("min_buffer_size".into(), Json::Int(l.min_proposal_size)),
                ("max_buffer_size".into(), Json::Int(l.max_proposal_size)),
            ]),
        );
    }
    r.put("node_count", Json::uint(snap.node_count));
}

/// `set_trace_mask?traceMask=<long>`: answers the mask (the edge has kept it for
/// `get_trace_mask` and `gtmk`), or Apache's error.
fn set_trace_mask(ctx: &Context<'_>, r: &mut Response) {
    match trace_mask_arg(ctx.args) {
        Ok(mask) => r.put("tracemask", Json::Int(mask)),
        Err(message) => r.put("error", Json::Str(message)),
    }
}

/// `set_trace_mask`'s `traceMask` argument (Java's `Long.parseLong`), or Apache's error.
pub fn trace_mask_arg(args: &[(String, String)]) -> Result<i64, String> {
    let Some((_, v)) = args.iter().find(|(k, _)| k == "traceMask") else {
        return Err("setTraceMask requires long traceMask argument".to_string());
    };
    v.parse::<i64>()
        .map_err(|_| format!("setTraceMask requires long traceMask argument, got {v}"))
}

/// `leader`'s id and address: what the replication layer published of the leader, else a
/// leader's own (Apache: `QuorumPeer.getLeaderId` / `getLeaderAddress`, -1 and "" before
/// a leader is known). The address is the host of the leader's `server.N` line.
fn leader_of(snap: &ServerSnapshot, config: &Config) -> (i64, String) {
    let q = snap.role.quorum.clone().unwrap_or_default();
    let id = q.leader_id.or_else(|| {
        (snap.role.mode == ServerMode::Leader)
            .then(|| config.my_server().map(|m| m.id))
            .flatten()
    });
    let Some(id) = id else {
        return (-1, String::new());
    };
    let address = q.leader_address.unwrap_or_else(|| {
        config
            .servers
            .iter()
            .find(|s| s.id == id)
            .map_or_else(String::new, |s| s.host.clone())
    });
    (i64::try_from(id).unwrap_or(-1), address)
}

/// `voting_view`: the voters and observers by id, as `QuorumServerView` serialises them.
fn voting_view(config: &Config, in_quorum: bool) -> Json {
    if !in_quorum {
        return Json::Object(Vec::new());
    }
    Json::Object(
        config
            .servers
            .iter()
            .map(|s| {
                let client = s.client_addr.map_or_else(String::new, |a| a.to_string());
                let view = vec![
                    (
                        "server_addresses".to_string(),
                        Json::Array(vec![Json::Str(s.peer_addr())]),
                    ),
                    (
                        "election_addresses".into(),
                        Json::Array(vec![Json::Str(s.election_addr())]),
                    ),
                    ("client_address".into(), Json::Str(client)),
                    ("learner_type".into(), Json::str(learner_type(s.role))),
                ];
                (s.id.to_string(), Json::Object(view))
            })
            .collect(),
    )
}

fn learner_type(role: PeerType) -> &'static str {
    match role {
        PeerType::Participant => "participant",
        PeerType::Observer => "observer",
    }
}

/// `zabstate`: this member's addresses, whether it votes, and its place in Zab.
fn zabstate(snap: &ServerSnapshot, config: &Config, r: &mut Response) {
    let role = &snap.role;
    if !role.mode.in_quorum() {
        r.put("voting", Json::Bool(false));
        r.put("zabstate", Json::str(""));
        return;
    }
    let me = config.my_server();
    r.put("myid", Json::Int(snap.conf.server_id));
    r.put("is_leader", Json::Bool(role.mode == ServerMode::Leader));
    r.put(
        "quorum_address",
        multiple_addresses(me.map(|m| (m.host.as_str(), m.peer_port))),
    );
    r.put(
        "election_address",
        multiple_addresses(me.map(|m| (m.host.as_str(), m.election_port))),
    );
    r.put(
        "client_address",
        Json::Str(config.client_addr().to_string()),
    );
    r.put(
        "voting",
        Json::Bool(me.is_some_and(|m| m.role == PeerType::Participant)),
    );
    let zxid = snap.last_zxid;
    r.put("last_zxid", Json::Str(format!("0x{zxid:016x}")));
    r.put("zab_epoch", Json::Int(zxid >> 32));
    r.put("zab_counter", Json::Int(zxid & 0xffff_ffff));
    let phase = role
        .quorum
        .as_ref()
        .map(|q| q.zab_phase)
        .unwrap_or_default();
    r.put("zabstate", Json::str(phase_name(phase)));
}

/// Apache's `MultipleAddresses` as Jackson serialises the bean (every getter, with the
/// addresses as `host:port`): one address here, since a `server.N` line has one.
fn multiple_addresses(addr: Option<(&str, u16)>) -> Json {
    let Some((host, port)) = addr else {
        return Json::Null;
    };
    let hostport = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let one = || Json::Array(vec![Json::Str(hostport.clone())]);
    Json::Object(vec![
        ("empty".into(), Json::Bool(false)),
        ("all_addresses".into(), one()),
        ("all_reachable_addresses".into(), one()),
        ("one".into(), Json::Str(hostport.clone())),
        ("reachable_address".into(), Json::Str(hostport.clone())),
        (
            "wildcard_addresses".into(),
            Json::Array(vec![Json::Str(format!("0.0.0.0:{port}"))]),
        ),
        (
            "all_ports".into(),
            Json::Array(vec![Json::Int(port.into())]),
        ),
        (
            "all_host_strings".into(),
            Json::Array(vec![Json::str(host)]),
        ),
        ("all_reachable_addresses_or_all".into(), one()),
        ("reachable_or_one".into(), Json::Str(hostport.clone())),
    ])
}

fn phase_name(phase: crate::fourlw::ZabPhase) -> &'static str {
    use crate::fourlw::ZabPhase;
    match phase {
        ZabPhase::Election => "election",
        ZabPhase::Discovery => "discovery",
        ZabPhase::Synchronization => "synchronization",
        ZabPhase::Broadcast => "broadcast",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fourlw::{LeaderInfo, QuorumInfo, Role};
    use crate::stats::{Inspection, ServerStats};
    use serde_json::Value;

    fn apache(name: &str) -> Value {
        let path = format!("{}/src/http/apache/{name}.json", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// What a fresh standalone core reports: the root and the `/zookeeper` nodes.
    fn fresh_inspection() -> Inspection {
        Inspection {
            last_zxid: 0,
            node_count: 4,
            approximate_data_size: 44,
            ephemerals_count: 0,
            watch_count: 0,
            watched_paths: 0,
            watching_sessions: 0,
            watches_by_session: Vec::new(),
            watches_by_path: Vec::new(),
            ephemerals_by_session: Vec::new(),
            server: ServerStats::default(),
            conns: Vec::new(),
            outstanding_requests: 0,
            session_count: 0,
            uptime_ms: 1000,
            namespaces: Vec::new(),
            quorum: None,
            data_watch_count: 0,
        }
    }

    fn config() -> Config {
        let text = "tickTime=500\ndataDir=/var/lib/zookeeper/data\nclientPort=2181\n";
        Config::parse(text, "zoo.cfg").expect("config").0
    }

    fn view(role: Role, config: &Config) -> ServerSnapshot {
        let mut snap = ServerSnapshot::new("3.9.0-zkrs".into(), "unknown".into(), role);
        snap.fill_from_core(&fresh_inspection(), config);
        snap
    }

    fn answer(
        name: &str,
        snap: &ServerSnapshot,
        config: &Config,
        args: &[(String, String)],
    ) -> Value {
        let ctx = Context {
            config,
            args,
            last_snapshot: Some((0, 1_700_000_000)),
            initial_configuration: Some("tickTime=500\n"),
        };
        let text = respond(name, snap, &ctx).pretty();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"))
    }

    /// Differences in keys or value types between two answers, as `path: what` lines.
    fn shape_diff(path: &str, ours: &Value, theirs: &Value, out: &mut Vec<String>) {
        match (ours, theirs) {
            (Value::Object(a), Value::Object(b)) => {
                for k in b.keys().filter(|k| !a.contains_key(*k)) {
                    out.push(format!("{path}/{k}: missing"));
                }
                for k in a.keys().filter(|k| !b.contains_key(*k)) {
                    out.push(format!("{path}/{k}: not in Apache's"));
                }
                for (k, v) in a {
                    if let Some(w) = b.get(k) {
                        shape_diff(&format!("{path}/{k}"), v, w, out);
                    }
                }
            }
            (Value::Array(a), Value::Array(b)) => {
                if let (Some(x), Some(y)) = (a.first(), b.first()) {
                    shape_diff(&format!("{path}[0]"), x, y, out);
                }
            }
            (Value::Number(a), Value::Number(b)) if a.is_f64() != b.is_f64() => {
                out.push(format!("{path}: {a} vs Apache's {b}"));
            }
            (a, b) if std::mem::discriminant(a) != std::mem::discriminant(b) => {
                out.push(format!("{path}: {a} vs Apache's {b}"));
            }
            _ => {}
        }
    }

    #[test]
    fn a_fresh_standalone_server_answers_every_command_in_apaches_shape() {
        let config = config();
        let snap = view(Role::default(), &config);
        // (command, Apache's answer, query arguments)
        type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);
        let cases: &[Case] = &[
            ("configuration", "configuration", &[]),
            ("connection_stat_reset", "connection_stat_reset", &[]),
            ("connections", "connections", &[]),
            ("dirs", "dirs", &[]),
            ("dump", "dump", &[]),
            ("environment", "environment", &[]),
            ("get_trace_mask", "get_trace_mask", &[]),
            ("hash", "hash", &[]),
            ("initial_configuration", "initial_configuration", &[]),
            ("is_read_only", "is_read_only", &[]),
            ("last_snapshot", "last_snapshot", &[]),
            ("leader", "leader", &[]),
            ("monitor", "monitor", &[]),
            (
                "observer_connection_stat_reset",
                "observer_connection_stat_reset",
                &[],
            ),
            ("observers", "observers", &[]),
            ("ruok", "ruok", &[]),
            ("server_stats", "server_stats", &[]),
            ("set_trace_mask", "set_trace_mask_missing", &[]),
            (
                "set_trace_mask",
                "set_trace_mask_12",
                &[("traceMask", "12")],
            ),
            (
                "set_trace_mask",
                "set_trace_mask_bad",
                &[("traceMask", "x")],
            ),
            ("stat_reset", "stat_reset", &[]),
            ("stats", "stats", &[]),
            ("voting_view", "voting_view", &[]),
            ("watch_summary", "watch_summary", &[]),
            ("watches", "watches", &[]),
            ("watches_by_path", "watches_by_path", &[]),
            ("zabstate", "zabstate", &[]),
            ("nosuch", "nosuch", &[]),
        ];
        let mut diffs = Vec::new();
        for (name, fixture, args) in cases {
            let args: Vec<(String, String)> = args
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let ours = answer(name, &snap, &config, &args);
            let theirs = apache(fixture);
            shape_diff(fixture, &ours, &theirs, &mut diffs);
            // The command and error keys carry the same values.
            assert_eq!(ours["command"], theirs["command"], "{fixture}");
            assert_eq!(ours["error"], theirs["error"], "{fixture}");
        }
        assert!(
            diffs.is_empty(),
            "differences from Apache:\n{}",
            diffs.join("\n")
        );
        // Figures of the same state are equal.
        let ours = answer("monitor", &snap, &config, &[]);
        let theirs = apache("monitor");
        for key in [
            "znode_count",
            "approximate_data_size",
            "ephemerals_count",
            "watch_count",
        ] {
            assert_eq!(ours[key], theirs[key], "{key}");
        }
        assert_eq!(
            answer("configuration", &snap, &config, &[])["tick_time"],
            apache("configuration")["tick_time"]
        );
    }

    #[test]
    fn answers_without_varying_values_are_byte_for_byte_apaches() {
        let config = config();
        let snap = view(Role::default(), &config);
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("ruok", "ruok", None),
            ("hash", "hash", None),
            ("isro", "is_read_only", None),
            ("gtmk", "get_trace_mask", None),
            ("crst", "connection_stat_reset", None),
            ("srst", "stat_reset", None),
            ("orst", "observer_connection_stat_reset", None),
            ("wchs", "watch_summary", None),
            ("wchc", "watches", None),
            ("wchp", "watches_by_path", None),
            ("dump", "dump", None),
            ("cons", "connections", None),
            ("obsr", "observers", None),
            ("voting_view", "voting_view", None),
            ("zabstate", "zabstate", None),
            ("leader", "leader", None),
            ("nosuch", "nosuch", None),
            ("stmk", "set_trace_mask_missing", None),
            ("stmk", "set_trace_mask_12", Some("12")),
            ("stmk", "set_trace_mask_bad", Some("x")),
        ];
        for (name, fixture, mask) in cases {
            let args: Vec<(String, String)> = mask
                .map(|m| vec![("traceMask".to_string(), m.to_string())])
                .unwrap_or_default();
            let ctx = Context {
                config: &config,
                args: &args,
                last_snapshot: None,
                initial_configuration: None,
            };
            let path = format!(
                "{}/src/http/apache/{fixture}.json",
                env!("CARGO_MANIFEST_DIR")
            );
            let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert_eq!(respond(name, &snap, &ctx).pretty(), want, "{name}");
        }
    }

    #[test]
    fn aliases_answer_under_the_primary_name() {
        let config = config();
        let snap = view(Role::default(), &config);
        for (alias, primary) in [
            ("srvr", "server_stats"),
            ("mntr", "monitor"),
            ("wchs", "watch_summary"),
            ("conf", "configuration"),
            ("config", "configuration"),
            ("isro", "is_read_only"),
        ] {
            assert_eq!(
                answer(alias, &snap, &config, &[])["command"],
                primary,
                "{alias}"
            );
        }
        let list: Vec<&str> = COMMANDS.iter().map(|c| c.primary()).collect();
        let mut sorted = list.clone();
        sorted.sort_unstable();
        assert_eq!(list, sorted, "the table is kept in Apache's listing order");
    }

    #[test]
    fn a_server_that_does_not_serve_refuses_server_commands_only() {
        let config = config();
        let snap = view(
            Role {
                serving: false,
                ..Role::default()
            },
            &config,
        );
        let refused = answer("stats", &snap, &config, &[]);
        assert_eq!(refused["error"], NOT_SERVING);
        assert_eq!(refused.as_object().map(|o| o.len()), Some(2));
        let monitor = answer("monitor", &snap, &config, &[]);
        assert_eq!(monitor["error"], Value::Null);
        assert_eq!(
            answer("environment", &snap, &config, &[])["error"],
            Value::Null
        );
    }

    fn ensemble_config(my_id: u64) -> Config {
        let text = "tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir=/d\nclientPort=2181\n\
                    server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.2:2888:3888;2181\n\
                    server.3=127.0.0.3:2888:3888:observer\n";
        let mut c = Config::parse(text, "zoo.cfg").expect("config").0;
        c.my_id = Some(my_id);
        c
    }

    #[test]
    fn a_leader_answers_its_quorum_commands() {
        let config = ensemble_config(1);
        let role = Role {
            serving: true,
            mode: ServerMode::Leader,
            quorum: Some(QuorumInfo {
                quorum_size: 2,
                leader: Some(LeaderInfo {
                    last_proposal_size: 40,
                    min_proposal_size: 30,
                    max_proposal_size: 50,
                    ..LeaderInfo::default()
                }),
                ..QuorumInfo::default()
            }),
        };
        let snap = view(role, &config);
        let leader = answer("leader", &snap, &config, &[]);
        assert_eq!(leader["is_leader"], true);
        assert_eq!(leader["leader_id"], 1);
        assert_eq!(leader["leader_ip"], "127.0.0.1");
        let stats = answer("srvr", &snap, &config, &[]);
        assert_eq!(stats["proposal_stats"]["max_buffer_size"], 50);
        assert_eq!(stats["server_stats"]["server_state"], "leader");
        let view = answer("voting_view", &snap, &config, &[]);
        let current = &view["current_config"];
        assert_eq!(current["1"]["server_addresses"][0], "127.0.0.1:2888");
        assert_eq!(current["1"]["election_addresses"][0], "127.0.0.1:3888");
        assert_eq!(current["2"]["client_address"], "0.0.0.0:2181");
        assert_eq!(current["3"]["learner_type"], "observer");
        let zab = answer("zabstate", &snap, &config, &[]);
        assert_eq!(zab["zabstate"], "broadcast");
        assert_eq!(zab["voting"], true);
        assert_eq!(zab["myid"], 1);
        assert_eq!(zab["last_zxid"], "0x0000000000000000");
        let monitor = answer("monitor", &snap, &config, &[]);
        assert_eq!(monitor["quorum_size"], 2);
        assert_eq!(monitor["peer_state"], "leading - broadcast");
    }

    #[test]
    fn a_follower_names_the_leader_the_replication_layer_published() {
        let config = ensemble_config(1);
        let follower = |leader_id, leader_address| {
            view(
                Role {
                    serving: true,
                    mode: ServerMode::Follower,
                    quorum: Some(QuorumInfo {
                        leader_id,
                        leader_address,
                        ..QuorumInfo::default()
                    }),
                },
                &config,
            )
        };
        // The address from the leader's server line when only its id was published.
        let known = answer("leader", &follower(Some(2), None), &config, &[]);
        assert_eq!(known["is_leader"], false);
        assert_eq!(known["leader_id"], 2);
        assert_eq!(known["leader_ip"], "127.0.0.2");
        let named = answer(
            "leader",
            &follower(Some(2), Some("zk-1.example".into())),
            &config,
            &[],
        );
        assert_eq!(named["leader_ip"], "zk-1.example");
        // Before a leader is known: Apache's -1 and "".
        let unknown = answer("leader", &follower(None, None), &config, &[]);
        assert_eq!(unknown["leader_id"], -1);
        assert_eq!(unknown["leader_ip"], "");
    }

    #[test]
    fn the_trace_mask_is_the_servers_and_set_trace_mask_reads_its_argument() {
        let config = config();
        let mut snap = view(Role::default(), &config);
        snap.trace_mask = 12;
        assert_eq!(answer("gtmk", &snap, &config, &[])["tracemask"], 12);
        let arg = |v: &str| vec![("traceMask".to_string(), v.to_string())];
        assert_eq!(trace_mask_arg(&arg("-5")), Ok(-5));
        assert_eq!(
            trace_mask_arg(&arg("1.5")),
            Err("setTraceMask requires long traceMask argument, got 1.5".to_string())
        );
        assert!(trace_mask_arg(&[]).is_err());
    }

    #[test]
    fn an_error_put_by_a_command_keeps_its_place_before_command() {
        let config = config();
        let snap = view(Role::default(), &config);
        let ctx = Context {
            config: &config,
            args: &[],
            last_snapshot: None,
            initial_configuration: None,
        };
        assert_eq!(
            respond("leader", &snap, &ctx).pretty(),
            "{\n  \"error\" : \"server is not initialized\",\n  \"command\" : \"leader\"\n}"
        );
        assert_eq!(
            respond("last_snapshot", &snap, &ctx).pretty(),
            "{\n  \"zxid\" : \"ffffffffffffffff\",\n  \"timestamp\" : -1,\n  \"command\" : \"last_snapshot\",\n  \"error\" : null\n}"
        );
    }
}
