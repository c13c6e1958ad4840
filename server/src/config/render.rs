//! Writing a [`Config`] back out as zoo.cfg text: the inverse of [`Config::parse`].
//!
//! The Kubernetes operator builds each member's zoo.cfg from a cluster spec. Rendering it
//! here, beside the parser, keeps one definition of every key's name and value syntax, so a
//! file the operator writes is by construction one the server reads the way it was meant.
//! `parse(render(cfg))` gives `cfg` back (only the `line` of each `server.N` entry is new);
//! the tests below hold that.
//!
//! Every key the server understands is written, defaults included, so the file says what
//! the server runs with. `myid` is not part of zoo.cfg (it lives in `dataDir/myid`), and
//! `dynamicConfigFile`, the session timeouts and the optional keys are written only when set.

use std::fmt::Write as _;
use std::net::SocketAddr;

use crate::fourlw::{FourLetterWord, Whitelist, WHITELIST_PROPERTY};

use super::{join_host_port, Config, PeerType, ServerSpec};

/// zoo.cfg text for `cfg`: one `key=value` line per setting, then the `server.N`,
/// `group.N` and `weight.N` lines in id order.
pub fn render(cfg: &Config) -> String {
    let mut out = Out::default();
    out.set("tickTime", cfg.tick_time_ms);
    out.set("initLimit", cfg.init_limit);
    out.set("syncLimit", cfg.sync_limit);
    out.set("dataDir", cfg.data_dir.display());
    out.set("dataLogDir", cfg.data_log_dir.display());
    out.set("clientPort", cfg.client_port);
    out.set("clientPortAddress", cfg.client_port_address);
    if let Some(port) = cfg.secure_client_port {
        out.set("secureClientPort", port);
    }
    out.set("maxClientCnxns", cfg.max_client_cnxns);
    if let Some(ms) = cfg.min_session_timeout {
        out.set("minSessionTimeout", ms);
    }
    if let Some(ms) = cfg.max_session_timeout {
        out.set("maxSessionTimeout", ms);
    }
    out.set("autopurge.snapRetainCount", cfg.autopurge_snap_retain_count);
    out.set(
        "autopurge.purgeInterval",
        cfg.autopurge_purge_interval_hours,
    );
    out.set(WHITELIST_PROPERTY, whitelist(&cfg.four_letter_words));
    out.set("extendedTypesEnabled", cfg.extended_types_enabled);
    if let Some(digest) = &cfg.super_digest {
        out.set("DigestAuthenticationProvider.superDigest", digest);
    }
    if let Some(user) = &cfg.super_user {
        out.set("superUser", user);
    }
    out.set("admin.enableServer", cfg.admin_enable_server);
    out.set("admin.serverAddress", cfg.admin_server_address);
    out.set("admin.serverPort", cfg.admin_server_port);
    out.set("snapCount", cfg.snap_count);
    out.set("forceSync", cfg.force_sync);
    out.set("jute.maxbuffer", cfg.jute_max_buffer);
    out.set("preAllocSize", cfg.pre_alloc_size_kb);
    out.set("standaloneEnabled", cfg.standalone_enabled);
    out.set("reconfigEnabled", cfg.reconfig_enabled);
    if let Some(path) = &cfg.dynamic_config_file {
        out.set("dynamicConfigFile", path.display());
    }
    out.set("globalOutstandingLimit", cfg.global_outstanding_limit);
    out.set("maxCnxns", cfg.max_cnxns);
    out.set(
        "znode.container.checkIntervalMs",
        cfg.container_check_interval_ms,
    );
    out.set("znode.container.maxPerMinute", cfg.container_max_per_minute);
    out.set("localSessionsEnabled", cfg.local_sessions_enabled);
    out.set(
        "localSessionsUpgradingEnabled",
        cfg.local_sessions_upgrading_enabled,
    );
    out.set("quorumListenOnAllIPs", cfg.quorum_listen_on_all_ips);
    out.set("readonlymode.enabled", cfg.read_only_mode_enabled);
    out.set("electionPortBindRetry", cfg.election_port_bind_retry);
    out.set("leaderServes", cfg.leader_serves);
    out.set("syncEnabled", cfg.sync_enabled);
    out.set("electionAlg", cfg.election_alg);
    out.set("peerType", cfg.peer_type);
    if let Some(class) = &cfg.metrics_provider_class_name {
        out.set("metricsProvider.className", class);
    }
    if let Some(host) = &cfg.metrics_provider_http_host {
        out.set("metricsProvider.httpHost", host);
    }
    if let Some(port) = cfg.metrics_provider_http_port {
        out.set("metricsProvider.httpPort", port);
    }
    for s in &cfg.servers {
        out.set(&format!("server.{}", s.id), server_line(s));
    }
    for (id, members) in &cfg.groups {
        let members: Vec<String> = members.iter().map(u64::to_string).collect();
        out.set(&format!("group.{id}"), members.join(":"));
    }
    for (id, weight) in &cfg.weights {
        out.set(&format!("weight.{id}"), weight);
    }
    out.text
}

/// The value of a `server.N` line: `host:peerPort:electionPort[:observer][;clientAddr]`.
pub fn server_line(s: &ServerSpec) -> String {
    let mut v = format!(
        "{}:{}",
        join_host_port(&s.host, s.peer_port),
        s.election_port
    );
    if s.role == PeerType::Observer {
        v.push_str(":observer");
    }
    if let Some(addr) = s.client_addr {
        v.push(';');
        v.push_str(&client_addr(addr));
    }
    v
}

/// A bare port for the wildcard address (what Apache writes), else `ip:port`/`[v6]:port`.
fn client_addr(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() && addr.is_ipv4() {
        addr.port().to_string()
    } else {
        addr.to_string()
    }
}

/// `*` when every word is allowed, else the allowed words in the server's own order.
fn whitelist(w: &Whitelist) -> String {
    if *w == Whitelist::all() {
        return "*".to_string();
    }
    let names: Vec<&str> = FourLetterWord::ALL
        .into_iter()
        .filter(|&word| w.allows(word))
        .map(FourLetterWord::name)
        .collect();
    names.join(",")
}

#[derive(Default)]
struct Out {
    text: String,
}

impl Out {
    fn set(&mut self, key: &str, value: impl std::fmt::Display) {
        let value = escape(&value.to_string());
        // Writing to a String cannot fail.
        let _ = writeln!(self.text, "{key}={value}");
    }
}

/// Escapes what the properties syntax would otherwise read differently: backslashes and
/// line breaks (a value cannot span lines unescaped).
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{c}' => out.push_str("\\f"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    use std::path::PathBuf;

    use super::*;

    /// `cfg` with the parser-assigned line numbers cleared, for comparing configs.
    fn without_lines(mut cfg: Config) -> Config {
        for s in &mut cfg.servers {
            s.line = 0;
        }
        cfg
    }

    fn round_trip(cfg: &Config) -> Config {
        let text = render(cfg);
        let (parsed, _warnings) = Config::parse(&text, "rendered")
            .unwrap_or_else(|e| panic!("rendered config does not parse: {e}\n{text}"));
        // A second render must be the same text: nothing drifts through the parser.
        assert_eq!(render(&parsed), text);
        without_lines(parsed)
    }

    fn server(id: u64, host: &str, client: Option<SocketAddr>) -> ServerSpec {
        ServerSpec {
            id,
            host: host.to_string(),
            peer_port: 2888,
            election_port: 3888,
            role: PeerType::Participant,
            client_addr: client,
            line: 0,
        }
    }

    #[test]
    fn the_defaults_of_a_file_survive_a_round_trip() {
        let cfg = Config::file_defaults(PathBuf::from("/data"));
        assert_eq!(round_trip(&cfg), cfg);
    }

    #[test]
    fn an_ensemble_as_the_operator_writes_it_survives_a_round_trip() {
        let wildcard = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 2181);
        let mut cfg = Config::file_defaults(PathBuf::from("/data"));
        cfg.standalone_enabled = false;
        cfg.four_letter_words = Whitelist::parse(Some("srvr,ruok,mntr,conf"), false);
        cfg.metrics_provider_http_port = Some(7000);
        cfg.min_session_timeout = Some(4000);
        cfg.max_session_timeout = Some(40000);
        cfg.servers = (1..=3)
            .map(|id| {
                let host = format!("zk-{}.zk-hs.ns.svc.cluster.local", id - 1);
                server(id, &host, Some(wildcard))
            })
            .collect();
        let text = render(&cfg);
        assert!(
            text.contains("server.2=zk-1.zk-hs.ns.svc.cluster.local:2888:3888;2181\n"),
            "{text}"
        );
        assert!(
            text.contains("4lw.commands.whitelist=ruok,srvr,mntr,conf\n"),
            "{text}"
        );
        assert_eq!(round_trip(&cfg), cfg);
    }

    #[test]
    fn every_optional_key_and_unusual_value_survives_a_round_trip() {
        let mut cfg = Config::file_defaults(PathBuf::from("/var/lib/zk data\\x"));
        cfg.data_log_dir = PathBuf::from("/log");
        cfg.tick_time_ms = 1000;
        cfg.client_port_address = IpAddr::V6(Ipv6Addr::LOCALHOST);
        cfg.secure_client_port = Some(2281);
        cfg.four_letter_words = Whitelist::all();
        cfg.super_digest = Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU=".to_string());
        cfg.super_user = Some("admin".to_string());
        cfg.reconfig_enabled = true;
        cfg.dynamic_config_file = Some(PathBuf::from("/conf/zoo.cfg.dynamic"));
        cfg.peer_type = PeerType::Observer;
        cfg.metrics_provider_class_name = Some("org.example.Metrics".to_string());
        cfg.metrics_provider_http_host = Some("metrics.example".to_string());
        // With a dynamic file the parser leaves membership checks to from_file, so this
        // config may carry servers of any shape.
        let mut observer = server(2, "::1", None);
        observer.role = PeerType::Observer;
        observer.peer_port = 2889;
        observer.election_port = 3889;
        cfg.servers = vec![
            server(
                1,
                "10.0.0.1",
                Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 2181)),
            ),
            observer,
        ];
        cfg.groups = BTreeMap::from([(1, vec![1, 2])]);
        cfg.weights = BTreeMap::from([(1, 1), (2, 0)]);
        assert_eq!(round_trip(&cfg), cfg);
    }

    #[test]
    fn a_value_with_a_line_break_stays_on_one_line() {
        assert_eq!(escape("a\nb\\c"), "a\\nb\\\\c");
    }
}
