//! A cluster's zoo.cfg, built as the server's own [`Config`] and rendered by the server's
//! renderer, so the file the members read is one the server's parser has already accepted.
//!
//! The user's `config.extra` keys go through that same parser: the base file is rendered,
//! the extra lines appended, the whole parsed (a bad value fails here, not in a crash-looping
//! pod), and the parsed `Config` rendered again as the final file.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use zkrs_server::config::render::render;
use zkrs_server::config::{Config, PeerType, ServerSpec};
use zkrs_server::Whitelist;

use crate::crd::{ZooConfigSpec, OPERATOR_OWNED_KEYS, OPERATOR_OWNED_PREFIXES};

/// Where each member's volume is mounted; zoo.cfg's `dataDir`.
pub const DATA_DIR: &str = "/data";
/// The client port.
pub const CLIENT_PORT: u16 = 2181;
/// The port followers connect to the leader on.
pub const PEER_PORT: u16 = 2888;
/// The leader election port.
pub const ELECTION_PORT: u16 = 3888;
/// The HTTP admin server's port (`admin.serverPort`).
pub const ADMIN_PORT: u16 = 8080;
/// The Prometheus port (`metricsProvider.httpPort`) unless the spec says otherwise.
pub const DEFAULT_METRICS_PORT: u16 = 7000;
/// The four-letter words the probes and monitoring need: `srvr` (readiness), `ruok`
/// (liveness), `mntr` (exporters) and `conf` (the operator's view of a member).
pub const FOUR_LETTER_WORDS: &str = "srvr,ruok,mntr,conf";

/// What zoo.cfg depends on besides the spec's `config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub cluster_domain: &'a str,
    pub replicas: u32,
    /// `metricsProvider.httpPort`, when metrics are on.
    pub metrics_port: Option<u16>,
}

/// Why the requested zoo.cfg cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZooCfgError {
    #[error("config.extra: {key} is set by the operator and may not be overridden")]
    OwnedKey { key: String },
    #[error("config.extra: {key}: value contains a line break")]
    LineBreak { key: String },
    #[error("config: {0}")]
    Invalid(String),
}

/// The built file: the parsed config, its text, and the server's warnings about the user's
/// extra keys (unknown or unsupported keys are ignored by the server; the user should know).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZooCfg {
    pub config: Config,
    pub text: String,
    pub warnings: Vec<String>,
}

/// The peer host of member `ordinal` (0-based): its stable DNS name under the headless
/// Service.
pub fn member_host(layout: &Layout<'_>, ordinal: u32) -> String {
    format!(
        "{}-{ordinal}.{}.{}.svc.{}",
        layout.name,
        headless_service_name(layout.name),
        layout.namespace,
        layout.cluster_domain
    )
}

/// The headless Service that gives each member its DNS name.
pub fn headless_service_name(cluster: &str) -> String {
    format!("{cluster}-hs")
}

/// True when `key` (in either Apache spelling) is one the operator writes itself.
pub fn is_owned_key(key: &str) -> bool {
    let key = key.strip_prefix("zookeeper.").unwrap_or(key);
    OPERATOR_OWNED_KEYS.contains(&key) || OPERATOR_OWNED_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// Builds and checks zoo.cfg for `layout` with the user's `spec`.
pub fn build(layout: &Layout<'_>, spec: &ZooConfigSpec) -> Result<ZooCfg, ZooCfgError> {
    let base = base_config(layout, spec);
    let base_text = render(&base);
    let base_lines = base_text.lines().count();
    let extra = spec.extra.clone().unwrap_or_default();
    let text = with_extra(base_text, &extra)?;
    let (config, warnings) =
        Config::parse(&text, "zoo.cfg").map_err(|e| ZooCfgError::Invalid(e.to_string()))?;
    // Warnings about the operator's own lines are the operator's business (and tested);
    // those about the user's lines are reported to the user.
    let warnings = warnings
        .into_iter()
        .filter(|w| warning_line(w).is_some_and(|l| l > base_lines))
        .collect();
    let text = render(&config);
    Ok(ZooCfg {
        config,
        text,
        warnings,
    })
}

/// The line number in a parser warning (`zoo.cfg line N: ...`).
fn warning_line(warning: &str) -> Option<usize> {
    let rest = warning.strip_prefix("zoo.cfg line ")?;
    rest.split(':').next()?.parse().ok()
}

fn with_extra(mut text: String, extra: &BTreeMap<String, String>) -> Result<String, ZooCfgError> {
    for (key, value) in extra {
        if is_owned_key(key) {
            return Err(ZooCfgError::OwnedKey { key: key.clone() });
        }
        if key.contains(['\n', '\r']) || value.contains(['\n', '\r']) {
            return Err(ZooCfgError::LineBreak { key: key.clone() });
        }
        text.push_str(&format!("{key}={value}\n"));
    }
    Ok(text)
}

fn base_config(layout: &Layout<'_>, spec: &ZooConfigSpec) -> Config {
    let mut cfg = Config::parse(&format!("dataDir={DATA_DIR}\n"), "defaults")
        .map(|(c, _)| c)
        // A one-line file with an absolute dataDir always parses.
        .expect("the default zoo.cfg parses");
    let positive = |v: Option<i32>| v.and_then(|v| u32::try_from(v).ok()).filter(|&v| v > 0);
    if let Some(v) = positive(spec.tick_time) {
        cfg.tick_time_ms = v;
    }
    if let Some(v) = positive(spec.init_limit) {
        cfg.init_limit = v;
    }
    if let Some(v) = positive(spec.sync_limit) {
        cfg.sync_limit = v;
    }
    cfg.min_session_timeout = positive(spec.min_session_timeout);
    cfg.max_session_timeout = positive(spec.max_session_timeout);
    if let Some(v) = positive(spec.snap_count) {
        cfg.snap_count = v;
    }
    let autopurge = spec.autopurge.clone().unwrap_or_default();
    cfg.autopurge_snap_retain_count = positive(autopurge.snap_retain_count).unwrap_or(3).max(3);
    cfg.autopurge_purge_interval_hours = autopurge
        .purge_interval
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(1);
    cfg.four_letter_words = Whitelist::parse(Some(FOUR_LETTER_WORDS), false);
    cfg.admin_enable_server = true;
    cfg.admin_server_port = ADMIN_PORT;
    cfg.metrics_provider_http_port = layout.metrics_port;
    // /metrics is served only for Apache's Prometheus provider, as Apache serves it.
    cfg.metrics_provider_class_name = layout
        .metrics_port
        .map(|_| "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider".to_string());
    // A one-member cluster is still an ensemble of one, so that members can be added later.
    cfg.standalone_enabled = false;
    // The operator scales by `reconfig`.
    cfg.reconfig_enabled = true;
    let wildcard = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), CLIENT_PORT);
    cfg.servers = (0..layout.replicas)
        .map(|ordinal| ServerSpec {
            id: u64::from(ordinal) + 1,
            host: member_host(layout, ordinal),
            peer_port: PEER_PORT,
            election_port: ELECTION_PORT,
            role: PeerType::Participant,
            client_addr: Some(wildcard),
            line: 0,
        })
        .collect();
    cfg.data_dir = PathBuf::from(DATA_DIR);
    cfg.data_log_dir = PathBuf::from(DATA_DIR);
    cfg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(replicas: u32) -> Layout<'static> {
        Layout {
            name: "zk",
            namespace: "ns",
            cluster_domain: "cluster.local",
            replicas,
            metrics_port: Some(DEFAULT_METRICS_PORT),
        }
    }

    #[test]
    fn three_members_are_named_by_their_pods_dns_names() {
        let z = build(&layout(3), &ZooConfigSpec::default()).unwrap();
        for (n, pod) in [(1, "zk-0"), (2, "zk-1"), (3, "zk-2")] {
            let line = format!("server.{n}={pod}.zk-hs.ns.svc.cluster.local:2888:3888;2181\n");
            assert!(z.text.contains(&line), "{line} missing from\n{}", z.text);
        }
        for line in [
            "dataDir=/data\n",
            "4lw.commands.whitelist=ruok,srvr,mntr,conf\n",
            "admin.serverPort=8080\n",
            "metricsProvider.httpPort=7000\n",
            "standaloneEnabled=false\n",
        ] {
            assert!(z.text.contains(line), "{line} missing from\n{}", z.text);
        }
        assert_eq!(z.warnings, Vec::<String>::new());
    }

    #[test]
    fn the_file_parses_back_to_the_same_config() {
        let z = build(&layout(3), &ZooConfigSpec::default()).unwrap();
        let (parsed, _) = Config::parse(&z.text, "zoo.cfg").unwrap();
        assert_eq!(parsed, z.config);
    }

    #[test]
    fn spec_settings_and_extra_keys_land_in_the_file() {
        let spec: ZooConfigSpec = serde_yaml::from_str(
            "tickTime: 1000\ninitLimit: 20\nsyncLimit: 4\nminSessionTimeout: 3000\n\
             maxSessionTimeout: 60000\nsnapCount: 5000\nautopurge: {snapRetainCount: 5, purgeInterval: 0}\n\
             extra: {globalOutstandingLimit: '2000'}\n",
        )
        .unwrap();
        let z = build(&layout(1), &spec).unwrap();
        let c = &z.config;
        assert_eq!(
            (c.tick_time_ms, c.init_limit, c.sync_limit, c.snap_count),
            (1000, 20, 4, 5000)
        );
        assert_eq!(
            (c.min_session_timeout, c.max_session_timeout),
            (Some(3000), Some(60000))
        );
        assert_eq!(
            (
                c.autopurge_snap_retain_count,
                c.autopurge_purge_interval_hours
            ),
            (5, 0)
        );
        assert_eq!(c.global_outstanding_limit, 2000);
        assert_eq!(c.servers.len(), 1);
        assert!(!c.standalone_enabled);
    }

    #[test]
    fn an_owned_key_in_extra_is_refused_in_either_spelling() {
        for key in ["dataDir", "zookeeper.clientPort", "server.4", "weight.1"] {
            let spec = ZooConfigSpec {
                extra: Some(BTreeMap::from([(key.to_string(), "1".to_string())])),
                ..Default::default()
            };
            assert_eq!(
                build(&layout(3), &spec),
                Err(ZooCfgError::OwnedKey {
                    key: key.to_string()
                })
            );
        }
    }

    #[test]
    fn a_bad_extra_value_is_refused_with_the_parsers_message() {
        let spec = ZooConfigSpec {
            extra: Some(BTreeMap::from([(
                "maxClientCnxns".to_string(),
                "lots".to_string(),
            )])),
            ..Default::default()
        };
        let err = build(&layout(3), &spec).unwrap_err();
        assert!(
            matches!(&err, ZooCfgError::Invalid(m) if m.contains("maxClientCnxns")),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_extra_key_is_a_warning_not_an_error() {
        let spec = ZooConfigSpec {
            extra: Some(BTreeMap::from([("noSuchKey".to_string(), "1".to_string())])),
            ..Default::default()
        };
        let z = build(&layout(3), &spec).unwrap();
        assert_eq!(z.warnings.len(), 1, "{:?}", z.warnings);
        assert!(z.warnings[0].contains("noSuchKey"));
        assert!(!z.text.contains("noSuchKey"));
    }

    #[test]
    fn session_timeouts_in_the_wrong_order_are_refused() {
        let spec = ZooConfigSpec {
            min_session_timeout: Some(50_000),
            max_session_timeout: Some(10_000),
            ..Default::default()
        };
        assert!(matches!(
            build(&layout(3), &spec),
            Err(ZooCfgError::Invalid(_))
        ));
    }
}
