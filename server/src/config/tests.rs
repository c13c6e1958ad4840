use super::*;
use crate::fourlw::FourLetterWord;

const SRC: &str = "zoo.cfg";

fn parse(text: &str) -> (Config, Vec<String>) {
    match Config::parse(text, SRC) {
        Ok(r) => r,
        Err(e) => panic!("expected {text:?} to parse, got: {e}"),
    }
}

/// Parses `dataDir=/d` followed by `rest`, so line numbers in `rest` start at 2.
fn with_dir(rest: &str) -> (Config, Vec<String>) {
    parse(&format!("dataDir=/d\n{rest}"))
}

fn err(text: &str) -> ConfigError {
    match Config::parse(text, SRC) {
        Ok(_) => panic!("expected {text:?} to be rejected"),
        Err(e) => e,
    }
}

fn err_msg(text: &str) -> String {
    err(text).to_string()
}

fn invalid_at(text: &str, line: usize, key: &str) -> String {
    match err(text) {
        ConfigError::Invalid {
            file,
            line: l,
            key: k,
            message,
        } => {
            assert_eq!(file, SRC);
            assert_eq!((l, k.as_str()), (line, key), "wrong place for {message}");
            message
        }
        other => panic!("expected an Invalid error, got {other:?}"),
    }
}

#[test]
fn minimal_file_has_apache_defaults() {
    let (c, w) = parse("dataDir=/var/lib/zookeeper\n");
    assert!(w.is_empty(), "{w:?}");
    let mut want = Config::standalone_default(PathBuf::from("/var/lib/zookeeper"));
    want.client_port_address = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    want.admin_server_address = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    assert_eq!(c, want);
    assert_eq!(c.tick_time_ms, 2000);
    assert_eq!(c.init_limit, 10);
    assert_eq!(c.sync_limit, 5);
    assert_eq!(c.data_log_dir, PathBuf::from("/var/lib/zookeeper"));
    assert_eq!(c.client_addr(), "0.0.0.0:2181".parse().unwrap());
    assert_eq!(c.max_client_cnxns, 60);
    assert_eq!(c.min_session_timeout_ms(), 4000);
    assert_eq!(c.max_session_timeout_ms(), 40000);
    assert_eq!(c.autopurge_snap_retain_count, 3);
    assert_eq!(c.autopurge_purge_interval_hours, 0);
    assert_eq!(c.four_letter_words, Whitelist::default());
    assert!(!c.extended_types_enabled);
    assert_eq!(c.super_digest, None);
    assert!(c.admin_enable_server);
    assert_eq!(c.admin_server_port, 8080);
    assert_eq!(c.snap_count, 100_000);
    assert!(c.force_sync);
    assert_eq!(c.jute_max_buffer, 1_048_575);
    assert_eq!(c.pre_alloc_size_kb, 65536);
    assert!(c.standalone_enabled);
    assert!(!c.reconfig_enabled);
    assert_eq!(c.global_outstanding_limit, 1000);
    assert_eq!(c.max_cnxns, 0);
    assert_eq!(c.container_check_interval_ms, 60_000);
    assert_eq!(c.container_max_per_minute, 10_000);
    assert_eq!(c.election_alg, 3);
    assert_eq!(c.peer_type, PeerType::Participant);
    assert!(c.servers.is_empty());
    assert!(c.is_standalone());
    assert_eq!(c.my_id, None);
}

#[test]
fn standalone_default_listens_on_loopback() {
    let c = Config::standalone_default(PathBuf::from("data"));
    assert_eq!(c.client_addr(), "127.0.0.1:2181".parse().unwrap());
    assert_eq!(c.admin_server_address, IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(c.tick_time_ms, 2000);
    assert_eq!(c.data_dir, PathBuf::from("data"));
    assert_eq!(c.data_log_dir, PathBuf::from("data"));
    assert!(c.is_standalone());
    assert!(c.four_letter_words.allows(FourLetterWord::Srvr));
    assert!(!c.four_letter_words.allows(FourLetterWord::Ruok));
}

#[test]
fn data_dir_is_required() {
    let e = err("tickTime=2000\nclientPort=2181\n");
    assert_eq!(
        e,
        ConfigError::Missing {
            file: SRC.into(),
            key: "dataDir".into()
        }
    );
    assert_eq!(e.to_string(), "zoo.cfg: dataDir is not set");
    assert_eq!(
        invalid_at("dataDir=\n", 1, "dataDir"),
        "expected a path, got \"\""
    );
}

#[test]
fn every_key() {
    let text = "\
tickTime=3000
initLimit=20
syncLimit=7
dataDir=/data
dataLogDir=/txlog
clientPort=2182
secureClientPort=2281
clientPortAddress=10.1.2.3
maxClientCnxns=0
minSessionTimeout=5000
maxSessionTimeout=90000
autopurge.snapRetainCount=10
autopurge.purgeInterval=24
4lw.commands.whitelist=stat, ruok ,mntr
extendedTypesEnabled=true
DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=
superUser=admin
admin.serverPort=9090
admin.enableServer=false
admin.serverAddress=127.0.0.1
snapCount=5000
forceSync=no
jute.maxbuffer=4194304
preAllocSize=1024
standaloneEnabled=false
reconfigEnabled=true
dynamicConfigFile=/etc/zk/zoo.cfg.dynamic
globalOutstandingLimit=2000
maxCnxns=500
znode.container.checkIntervalMs=1000
znode.container.maxPerMinute=50
localSessionsEnabled=yes
localSessionsUpgradingEnabled=TRUE
quorumListenOnAllIPs=true
electionAlg=3
peerType=observer
";
    let (c, w) = parse(text);
    assert_eq!(c.tick_time_ms, 3000);
    assert_eq!(c.init_limit, 20);
    assert_eq!(c.sync_limit, 7);
    assert_eq!(c.data_dir, PathBuf::from("/data"));
    assert_eq!(c.data_log_dir, PathBuf::from("/txlog"));
    assert_eq!(c.client_port, 2182);
    assert_eq!(c.secure_client_port, Some(2281));
    assert_eq!(c.client_port_address, "10.1.2.3".parse::<IpAddr>().unwrap());
    assert_eq!(c.client_addr(), "10.1.2.3:2182".parse().unwrap());
    assert_eq!(c.max_client_cnxns, 0);
    assert_eq!(c.min_session_timeout, Some(5000));
    assert_eq!(c.max_session_timeout, Some(90000));
    assert_eq!(c.min_session_timeout_ms(), 5000);
    assert_eq!(c.max_session_timeout_ms(), 90000);
    assert_eq!(c.autopurge_snap_retain_count, 10);
    assert_eq!(c.autopurge_purge_interval_hours, 24);
    assert_eq!(
        c.four_letter_words,
        Whitelist::parse(Some("stat,ruok,mntr"), false)
    );
    assert!(c.extended_types_enabled);
    assert_eq!(
        c.super_digest.as_deref(),
        Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU=")
    );
    assert_eq!(c.super_user.as_deref(), Some("admin"));
    assert_eq!(c.admin_server_port, 9090);
    assert!(!c.admin_enable_server);
    assert_eq!(c.admin_server_address, IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(c.snap_count, 5000);
    assert!(!c.force_sync);
    assert_eq!(c.jute_max_buffer, 4_194_304);
    assert_eq!(c.pre_alloc_size_kb, 1024);
    assert!(!c.standalone_enabled);
    assert!(c.reconfig_enabled);
    assert_eq!(
        c.dynamic_config_file,
        Some(PathBuf::from("/etc/zk/zoo.cfg.dynamic"))
    );
    assert_eq!(c.global_outstanding_limit, 2000);
    assert_eq!(c.max_cnxns, 500);
    assert_eq!(c.container_check_interval_ms, 1000);
    assert_eq!(c.container_max_per_minute, 50);
    assert!(c.local_sessions_enabled);
    assert!(c.local_sessions_upgrading_enabled);
    assert!(c.quorum_listen_on_all_ips);
    assert_eq!(c.election_alg, 3);
    assert_eq!(c.peer_type, PeerType::Observer);
    // Only the unsupported TLS port is worth a warning here.
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with("zoo.cfg line 7: secureClientPort"),
        "{w:?}"
    );
}

#[test]
fn super_digest_with_system_property_prefix() {
    let (c, w) = with_dir(
        "zookeeper.DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=",
    );
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(
        c.super_digest.as_deref(),
        Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU=")
    );
    // Other system-property spellings work too.
    let (c, _) = with_dir("zookeeper.extendedTypesEnabled=true");
    assert!(c.extended_types_enabled);
}

#[test]
fn super_digest_errors_and_warnings() {
    assert_eq!(
        invalid_at(
            "dataDir=/d\nDigestAuthenticationProvider.superDigest=nocolon",
            2,
            "DigestAuthenticationProvider.superDigest"
        ),
        "expected user:base64digest, got \"nocolon\""
    );
    invalid_at(
        "dataDir=/d\nDigestAuthenticationProvider.superDigest=super:",
        2,
        "DigestAuthenticationProvider.superDigest",
    );
    invalid_at(
        "dataDir=/d\nDigestAuthenticationProvider.superDigest=:abc",
        2,
        "DigestAuthenticationProvider.superDigest",
    );
    let (c, w) = with_dir("DigestAuthenticationProvider.superDigest=super:password");
    assert_eq!(c.super_digest.as_deref(), Some("super:password"));
    assert_eq!(w.len(), 1);
    assert!(w[0].contains("not a base64 SHA-1 hash"), "{w:?}");
}

#[test]
fn comments_and_whitespace() {
    let text = "# a comment\n\n   ! another\n  tickTime   =   2500   \n\tdataDir\t=\t/data dir \ninitLimit : 11\nsyncLimit 4\n";
    let (c, w) = parse(text);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.tick_time_ms, 2500);
    assert_eq!(c.data_dir, PathBuf::from("/data dir"));
    assert_eq!(c.init_limit, 11);
    assert_eq!(c.sync_limit, 4);
}

#[test]
fn trailing_comment_gets_a_hint() {
    let m = invalid_at("dataDir=/d\ntickTime=2000 # ms\n", 2, "tickTime");
    assert_eq!(
        m,
        "expected a positive integer, got \"2000 # ms\" (comments must be on a line of their own)"
    );
}

#[test]
fn integer_errors_name_line_and_key() {
    let e = err("dataDir=/d\n\n# x\ntickTime=abc\n");
    assert_eq!(
        e.to_string(),
        "zoo.cfg line 4: tickTime: expected a positive integer, got \"abc\""
    );
    assert_eq!(
        invalid_at("dataDir=/d\ntickTime=0", 2, "tickTime"),
        "expected an integer between 1 and 2147483647, got \"0\""
    );
    invalid_at("dataDir=/d\ntickTime=-5", 2, "tickTime");
    invalid_at("dataDir=/d\ntickTime=2147483648", 2, "tickTime");
    invalid_at(
        "dataDir=/d\ntickTime=99999999999999999999999",
        2,
        "tickTime",
    );
    invalid_at("dataDir=/d\ntickTime=", 2, "tickTime");
    invalid_at("dataDir=/d\ntickTime=1.5", 2, "tickTime");
    invalid_at("dataDir=/d\ntickTime=--1", 2, "tickTime");
    invalid_at("dataDir=/d\ntickTime=0x", 2, "tickTime");
    invalid_at("dataDir=/d\ntickTime=0x-1", 2, "tickTime");
    invalid_at("tickTime=x\ndataDir=/d", 1, "tickTime");
    invalid_at("dataDir=/d\ninitLimit=0", 2, "initLimit");
    invalid_at("dataDir=/d\nsyncLimit=no", 2, "syncLimit");
    invalid_at("dataDir=/d\nclientPort=65536", 2, "clientPort");
    invalid_at("dataDir=/d\nclientPort=-1", 2, "clientPort");
    invalid_at("dataDir=/d\nsecureClientPort=0", 2, "secureClientPort");
    invalid_at("dataDir=/d\nmaxClientCnxns=-1", 2, "maxClientCnxns");
    invalid_at("dataDir=/d\nadmin.serverPort=0", 2, "admin.serverPort");
    invalid_at("dataDir=/d\nsnapCount=0", 2, "snapCount");
    invalid_at("dataDir=/d\njute.maxbuffer=big", 2, "jute.maxbuffer");
    invalid_at("dataDir=/d\npreAllocSize=0", 2, "preAllocSize");
    invalid_at(
        "dataDir=/d\nglobalOutstandingLimit=0",
        2,
        "globalOutstandingLimit",
    );
    invalid_at("dataDir=/d\nmaxCnxns=x", 2, "maxCnxns");
    invalid_at(
        "dataDir=/d\nznode.container.checkIntervalMs=0",
        2,
        "znode.container.checkIntervalMs",
    );
    invalid_at(
        "dataDir=/d\nznode.container.maxPerMinute=-3",
        2,
        "znode.container.maxPerMinute",
    );
    invalid_at(
        "dataDir=/d\nautopurge.purgeInterval=x",
        2,
        "autopurge.purgeInterval",
    );
    invalid_at(
        "dataDir=/d\nautopurge.snapRetainCount=x",
        2,
        "autopurge.snapRetainCount",
    );
    invalid_at(
        "dataDir=/d\nmetricsProvider.httpPort=x",
        2,
        "metricsProvider.httpPort",
    );
}

#[test]
fn integers_accept_sign_and_hex() {
    let (c, _) = with_dir("tickTime=+1500\njute.maxbuffer=0xfffff\nsnapCount=0X10");
    assert_eq!(c.tick_time_ms, 1500);
    assert_eq!(c.jute_max_buffer, 0xfffff);
    assert_eq!(c.snap_count, 16);
}

#[test]
fn boolean_values() {
    for (v, want) in [
        ("true", true),
        ("TRUE", true),
        ("Yes", true),
        ("false", false),
        ("no", false),
        ("NO", false),
    ] {
        let (c, _) = with_dir(&format!("forceSync={v}"));
        assert_eq!(c.force_sync, want, "{v}");
    }
    for key in [
        "forceSync",
        "extendedTypesEnabled",
        "admin.enableServer",
        "standaloneEnabled",
        "reconfigEnabled",
        "localSessionsEnabled",
        "localSessionsUpgradingEnabled",
        "quorumListenOnAllIPs",
    ] {
        let m = invalid_at(&format!("dataDir=/d\n{key}=maybe"), 2, key);
        assert_eq!(m, "expected true, false, yes or no, got \"maybe\"");
    }
}

#[test]
fn addresses() {
    let (c, _) = with_dir("clientPortAddress=::1\nclientPort=2191");
    assert_eq!(c.client_addr(), "[::1]:2191".parse().unwrap());
    let (c, _) = with_dir("clientPortAddress=[::1]");
    assert_eq!(c.client_port_address, "::1".parse::<IpAddr>().unwrap());
    let (c, _) = with_dir("clientPortAddress=localhost");
    assert_eq!(c.client_port_address, IpAddr::V4(Ipv4Addr::LOCALHOST));
    let (c, _) = with_dir("clientPort=0");
    assert_eq!(c.client_addr().port(), 0);
    let m = invalid_at("dataDir=/d\nclientPortAddress=zoo1", 2, "clientPortAddress");
    assert_eq!(
        m,
        "expected an IP address (host names are not resolved), got \"zoo1\""
    );
    invalid_at(
        "dataDir=/d\nadmin.serverAddress=1.2.3",
        2,
        "admin.serverAddress",
    );
}

#[test]
fn session_timeouts() {
    let (c, _) = with_dir("tickTime=1000");
    assert_eq!(
        (c.min_session_timeout_ms(), c.max_session_timeout_ms()),
        (2000, 20000)
    );
    let (c, _) = with_dir("tickTime=1000\nminSessionTimeout=-1\nmaxSessionTimeout=-1");
    assert_eq!((c.min_session_timeout, c.max_session_timeout), (None, None));
    assert_eq!(
        (c.min_session_timeout_ms(), c.max_session_timeout_ms()),
        (2000, 20000)
    );
    let (c, _) = with_dir("minSessionTimeout=100\nmaxSessionTimeout=100");
    assert_eq!(
        (c.min_session_timeout_ms(), c.max_session_timeout_ms()),
        (100, 100)
    );
    // Defaults follow tickTime wherever it appears in the file.
    let (c, _) = with_dir("maxSessionTimeout=-1\ntickTime=3000");
    assert_eq!(c.max_session_timeout_ms(), 60000);
    // Huge ticks do not overflow, and stay within what the wire can carry.
    let (c, _) = with_dir("tickTime=2147483647");
    assert_eq!(c.max_session_timeout_ms(), i32::MAX as u32);
    assert_eq!(c.min_session_timeout_ms(), i32::MAX as u32);

    let m = invalid_at(
        "dataDir=/d\nminSessionTimeout=10000\nmaxSessionTimeout=5000\n",
        3,
        "maxSessionTimeout",
    );
    assert_eq!(
        m,
        "minSessionTimeout (10000 ms) is larger than maxSessionTimeout (5000 ms)"
    );
    invalid_at(
        "dataDir=/d\nmaxSessionTimeout=5000\nminSessionTimeout=10000\n",
        3,
        "minSessionTimeout",
    );
    // Against the default maximum of 20 ticks (40 s).
    invalid_at(
        "dataDir=/d\nminSessionTimeout=50000",
        2,
        "minSessionTimeout",
    );
    // Against the default minimum of 2 ticks (4 s).
    invalid_at("dataDir=/d\nmaxSessionTimeout=3000", 2, "maxSessionTimeout");
    invalid_at("dataDir=/d\nminSessionTimeout=0", 2, "minSessionTimeout");
    invalid_at("dataDir=/d\nmaxSessionTimeout=-2", 2, "maxSessionTimeout");
}

#[test]
fn autopurge() {
    let (c, w) = with_dir("autopurge.snapRetainCount=1");
    assert_eq!(c.autopurge_snap_retain_count, 3);
    assert_eq!(
        w,
        vec!["zoo.cfg line 2: autopurge.snapRetainCount 1 is below the minimum; using 3"]
    );
    let (c, _) = with_dir("autopurge.snapRetainCount=-4");
    assert_eq!(c.autopurge_snap_retain_count, 3);
    let (c, w) = with_dir("autopurge.snapRetainCount=3\nautopurge.purgeInterval=-1");
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.autopurge_snap_retain_count, 3);
    assert_eq!(c.autopurge_purge_interval_hours, 0);
}

#[test]
fn four_letter_word_whitelist() {
    // The rules themselves are fourlw::whitelist's; here, that the key reaches them.
    use FourLetterWord::*;
    // Default: srvr only.
    let (c, _) = with_dir("");
    assert_eq!(c.four_letter_words, Whitelist::default());
    assert!(c.four_letter_words.allows(Srvr));
    assert!(!c.four_letter_words.allows(Stat));

    let (c, w) = with_dir("4lw.commands.whitelist=*");
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.four_letter_words, Whitelist::all());
    let (c, _) = with_dir("4lw.commands.whitelist= stat , * ");
    assert_eq!(c.four_letter_words, Whitelist::all());

    let (c, w) = with_dir("4lw.commands.whitelist= stat ,ruok,, conf,isro ");
    assert!(w.is_empty(), "{w:?}");
    for cmd in [Stat, Ruok, Conf, Isro] {
        assert!(c.four_letter_words.allows(cmd), "{cmd}");
    }
    // A list replaces the default, but srvr stays allowed, as in Apache.
    assert!(c.four_letter_words.allows(Srvr));
    assert!(!c.four_letter_words.allows(Dump));

    let (c, w) = with_dir("4lw.commands.whitelist=stat,stta");
    assert!(c.four_letter_words.allows(Stat));
    assert_eq!(
        w,
        vec!["zoo.cfg line 2: 4lw.commands.whitelist: unknown four-letter word \"stta\""]
    );

    let (c, _) = with_dir("4lw.commands.whitelist=");
    assert_eq!(c.four_letter_words, Whitelist::default());
}

#[test]
fn unknown_keys_are_warnings() {
    let (c, w) = parse("dataDir=/d\n\n\n\n\n\nfoo=bar\nssl.keyStore.location=/k\n");
    assert_eq!(c.data_dir, PathBuf::from("/d"));
    assert_eq!(
        w,
        vec![
            "zoo.cfg line 7: unknown key foo ignored".to_string(),
            "zoo.cfg line 8: ssl.keyStore.location is for TLS, which is not supported; ignored"
                .to_string(),
        ]
    );
}

#[test]
fn repeated_keys_warn_and_the_last_wins() {
    let (c, w) = with_dir("tickTime=1000\ntickTime=3000");
    assert_eq!(c.tick_time_ms, 3000);
    assert_eq!(
        w,
        vec!["zoo.cfg line 3: tickTime was already set on line 2; the last value wins"]
    );
}

#[test]
fn apaches_prometheus_provider_is_read_without_warnings() {
    let (c, w) = with_dir(
        "metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\nmetricsProvider.httpHost=127.0.0.5\nmetricsProvider.httpPort=7000",
    );
    assert_eq!(
        c.metrics_provider_class_name.as_deref(),
        Some("org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider")
    );
    assert_eq!(c.metrics_provider_http_host.as_deref(), Some("127.0.0.5"));
    assert_eq!(c.metrics_provider_http_port, Some(7000));
    assert_eq!(w, Vec::<String>::new());
}

#[test]
fn other_providers_and_jvm_settings_of_the_provider_are_warned_about() {
    let (c, w) = with_dir(
        "metricsProvider.className=com.example.Metrics\nmetricsProvider.exportJvmInfo=true",
    );
    assert_eq!(
        c.metrics_provider_class_name.as_deref(),
        Some("com.example.Metrics")
    );
    assert_eq!(c.metrics_provider_http_host, None);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w[0].contains("only Apache's PrometheusMetricsProvider is served"),
        "{w:?}"
    );
    assert!(w[1].contains("metricsProvider.exportJvmInfo"), "{w:?}");
    assert!(w.iter().all(|w| !w.contains("not supported")), "{w:?}");
}

#[test]
fn an_empty_metrics_host_is_an_error() {
    invalid_at(
        "dataDir=/d\nmetricsProvider.httpHost=",
        2,
        "metricsProvider.httpHost",
    );
}

#[test]
fn election_alg_and_peer_type() {
    assert_eq!(
        invalid_at("dataDir=/d\nelectionAlg=0", 2, "electionAlg"),
        "only 3 (fast leader election) is supported, got 0"
    );
    let (c, _) = with_dir("peerType=Participant");
    assert_eq!(c.peer_type, PeerType::Participant);
    assert_eq!(
        invalid_at("dataDir=/d\npeerType=leader", 2, "peerType"),
        "expected participant or observer, got \"leader\""
    );
}

#[test]
fn relative_paths_are_kept_by_parse() {
    let (c, _) = parse("dataDir=data\ndataLogDir=logs");
    assert_eq!(c.data_dir, PathBuf::from("data"));
    assert_eq!(c.data_log_dir, PathBuf::from("logs"));
}

const ENSEMBLE: &str = "\
tickTime=2000
dataDir=DATADIR
clientPort=2181
initLimit=5
syncLimit=2
server.1=zoo1:2888:3888
server.2=zoo2:2888:3888
server.3=zoo3:2888:3888
";

#[test]
fn ensemble_lines() {
    let (c, w) = parse(&ENSEMBLE.replace("DATADIR", "/d"));
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.servers.len(), 3);
    assert!(!c.is_standalone());
    let s = &c.servers[1];
    assert_eq!(s.id, 2);
    assert_eq!(s.host, "zoo2");
    assert_eq!((s.peer_port, s.election_port), (2888, 3888));
    assert_eq!(s.role, PeerType::Participant);
    assert_eq!(s.line, 7);
    assert_eq!(s.peer_addr(), "zoo2:2888");
    assert_eq!(s.election_addr(), "zoo2:3888");
    // No myid from a pure parse.
    assert_eq!(c.my_id, None);
    assert_eq!(c.client_addr(), "0.0.0.0:2181".parse().unwrap());
}

#[test]
fn servers_are_sorted_by_id() {
    let (c, _) = with_dir("server.3=a:1:2\nserver.10=a:3:4\nserver.1=a:5:6");
    let ids: Vec<u64> = c.servers.iter().map(|s| s.id).collect();
    assert_eq!(ids, vec![1, 3, 10]);
}

#[test]
fn standalone_rules() {
    let (c, _) = with_dir("server.1=localhost:2888:3888");
    assert!(c.is_standalone());
    let (c, _) = with_dir("standaloneEnabled=false\nserver.1=localhost:2888:3888");
    assert!(!c.is_standalone());
    let (c, _) = with_dir("server.1=h:2888:3888\nserver.2=h:2889:3889");
    assert!(!c.is_standalone());
}

#[test]
fn server_ids() {
    let big = format!("server.{}=h:1:2", i64::MAX);
    let (c, _) = with_dir(&big);
    assert_eq!(c.servers[0].id, i64::MAX as u64);
    let (c, _) = with_dir("server.007=h:1:2");
    assert_eq!(c.servers[0].id, 7);
    for bad in ["0", "-1", "x", "", "+1", "1.5", "9223372036854775808"] {
        let key = format!("server.{bad}");
        let m = invalid_at(&format!("dataDir=/d\n{key}=h:2888:3888"), 2, &key);
        assert!(
            m.starts_with("the id after the dot must be a positive integer"),
            "{m}"
        );
    }
}

#[test]
fn server_line_errors() {
    assert_eq!(
        invalid_at("dataDir=/d\nserver.1=zoo1:2888:99999", 2, "server.1"),
        "election port must be an integer between 1 and 65535, got \"99999\""
    );
    invalid_at("dataDir=/d\nserver.1=zoo1:2888", 2, "server.1");
    invalid_at("dataDir=/d\nserver.1=zoo1:abc:3888", 2, "server.1");
    invalid_at("dataDir=/d\nserver.1=zoo1:2888:3888:voter", 2, "server.1");
    invalid_at("dataDir=/d\nserver.1=zoo1:2888:3888;", 2, "server.1");
    invalid_at("dataDir=/d\nserver.1=", 2, "server.1");
    invalid_at(
        "dataDir=/d\n\nserver.1=a:1:2\nserver.2=[::1:2888:3888",
        4,
        "server.2",
    );
}

#[test]
fn duplicate_servers_and_addresses() {
    let m = invalid_at(
        "dataDir=/d\nserver.1=a:2888:3888\nserver.2=b:2888:3888\nserver.1=c:2888:3888",
        4,
        "server.1",
    );
    assert_eq!(m, "server id 1 is already defined on line 2");
    // server.01 is server.1.
    invalid_at(
        "dataDir=/d\nserver.1=a:2888:3888\nserver.01=c:2888:3888",
        3,
        "server.01",
    );
    let m = invalid_at(
        "dataDir=/d\nserver.1=zoo1:2888:3888\nserver.2=ZOO1:2888:3889",
        3,
        "server.2",
    );
    assert_eq!(
        m,
        "peer address ZOO1:2888 is already used by server.1 (line 2)"
    );
    let m = invalid_at(
        "dataDir=/d\nserver.1=zoo1:2888:3888\nserver.2=zoo1:2889:2888",
        3,
        "server.2",
    );
    assert_eq!(
        m,
        "election address zoo1:2888 is already used by server.1 (line 2)"
    );
    invalid_at(
        "dataDir=/d\nserver.1=[::1]:2888:3888\nserver.2=[0:0:0:0:0:0:0:1]:3888:4888",
        3,
        "server.2",
    );
    // Same ports on different hosts are fine.
    let (c, _) = with_dir("server.1=a:2888:3888\nserver.2=b:2888:3888");
    assert_eq!(c.servers.len(), 2);
}

#[test]
fn ipv6_server_lines() {
    let (c, _) = with_dir(
        "server.1=[::1]:2888:3888\nserver.2=[2001:db8::2]:2888:3888:observer;[::]:2182\nserver.3=[::1]:2889:3889",
    );
    assert_eq!(c.servers[0].host, "::1");
    assert_eq!(c.servers[0].peer_addr(), "[::1]:2888");
    assert_eq!(c.servers[1].host, "2001:db8::2");
    assert_eq!(c.servers[1].election_addr(), "[2001:db8::2]:3888");
    assert_eq!(c.servers[1].role, PeerType::Observer);
    assert_eq!(c.servers[1].client_addr, Some("[::]:2182".parse().unwrap()));
}

#[test]
fn observer_flag() {
    let (c, _) = with_dir("server.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2:observer");
    let roles: Vec<PeerType> = c.servers.iter().map(|s| s.role).collect();
    assert_eq!(
        roles,
        vec![
            PeerType::Participant,
            PeerType::Participant,
            PeerType::Observer
        ]
    );
    let m = invalid_at(
        "dataDir=/d\nserver.2=b:1:2:observer\nserver.1=a:1:2:observer",
        3,
        "server.1",
    );
    assert!(m.contains("at least one must be a participant"), "{m}");
}

#[test]
fn client_address_in_server_lines() {
    let (c, _) = with_dir("server.1=a:2888:3888;2181\nserver.2=b:2888:3888;10.0.0.2:2182\nserver.3=c:2888:3888:participant;127.0.0.1:2183");
    assert_eq!(
        c.servers[0].client_addr,
        Some("0.0.0.0:2181".parse().unwrap())
    );
    assert_eq!(
        c.servers[1].client_addr,
        Some("10.0.0.2:2182".parse().unwrap())
    );
    assert_eq!(
        c.servers[2].client_addr,
        Some("127.0.0.1:2183".parse().unwrap())
    );
    let mut c = c;
    c.my_id = Some(3);
    assert_eq!(c.client_addr(), "127.0.0.1:2183".parse().unwrap());
    c.my_id = Some(2);
    assert_eq!(c.client_addr(), "10.0.0.2:2182".parse().unwrap());
}

#[test]
fn groups_and_weights_are_refused_in_an_ensemble() {
    let m = invalid_at(
        "dataDir=/d\nserver.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\ngroup.1=1:2\ngroup.2=3\nweight.1=1",
        5,
        "group.1",
    );
    assert!(
        m.starts_with("hierarchical quorums (group.N, weight.N) are not supported"),
        "{m}"
    );
    // The first such line is named, weight or group.
    invalid_at(
        "dataDir=/d\nweight.3=0\nserver.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2",
        2,
        "weight.3",
    );
    // A standalone file keeps loading, as in Apache, with a warning naming the line.
    let (c, w) = with_dir("group.1=1:2\ngroup.2=3\nweight.1=1\nweight.2=1\nweight.3=0");
    assert_eq!(c.groups.get(&1), Some(&vec![1, 2]));
    assert_eq!(c.groups.get(&2), Some(&vec![3]));
    assert_eq!(c.weights.get(&3), Some(&0));
    assert_eq!(
        w,
        ["zoo.cfg line 2: group.1: hierarchical quorums are not supported; ignored by a standalone server"]
    );
    let (c, w) = with_dir("server.1=a:1:2\ngroup.1=1");
    assert!(c.is_standalone());
    assert!(w.iter().any(|w| w.contains("line 3: group.1")), "{w:?}");
    invalid_at("dataDir=/d\ngroup.1=1:x", 2, "group.1");
    invalid_at("dataDir=/d\ngroup.0=1", 2, "group.0");
    invalid_at("dataDir=/d\nweight.1=-1", 2, "weight.1");
    invalid_at("dataDir=/d\nweight.x=1", 2, "weight.x");
}

#[test]
fn participant_counts_as_apache_judges_them() {
    let five = "server.1=h:1:2\nserver.2=h:3:4\nserver.3=h:5:6\nserver.4=h:7:8\nserver.5=h:9:10";
    let (_, w) = with_dir(five);
    assert!(w.is_empty(), "{w:?}");
    // Four participants: a warning naming the count and the lines; Apache accepts it too.
    let (c, w) = with_dir(&five.replace("server.5=h:9:10", "server.5=h:9:10:observer"));
    assert!(!c.is_standalone());
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with("zoo.cfg: an even number of participants, 4 [server.1 (line 2), server.2 (line 3), server.3 (line 4), server.4 (line 5)]"),
        "{w:?}"
    );
    assert!(
        w[0].ends_with("they tolerate 1 failure(s), as 3 would; 5 would tolerate 2"),
        "{w:?}"
    );
    // Two: nothing may fail.
    let (_, w) = with_dir("server.1=h:1:2\nserver.2=h:3:4");
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("2 participant(s)") && w[0].contains("no failure is tolerated"));
    // One with standaloneEnabled=false: a one-member ensemble, also without tolerance.
    let (c, w) = with_dir("standaloneEnabled=false\nserver.1=h:1:2");
    assert!(!c.is_standalone());
    assert!(w[0].contains("1 participant(s)"), "{w:?}");
    // One with standaloneEnabled: runs standalone, and says so.
    let (c, w) = with_dir("server.1=h:1:2");
    assert!(c.is_standalone());
    assert_eq!(
        w,
        ["zoo.cfg line 2: server.1: only one server, so it runs standalone (set standaloneEnabled=false for a one-member ensemble)"]
    );
    // ... and then an observer has no quorum to observe.
    let m = invalid_at(
        "dataDir=/d\nserver.1=h:1:2\nserver.2=h:3:4:observer",
        3,
        "server.2",
    );
    assert!(m.starts_with("observers need a quorum"), "{m}");
    let (c, _) = with_dir("standaloneEnabled=false\nserver.1=h:1:2\nserver.2=h:3:4:observer");
    assert!(!c.is_standalone());
    // No participant at all with standaloneEnabled=false: refused, naming that line.
    let m = invalid_at(
        "dataDir=/d\nstandaloneEnabled=false",
        2,
        "standaloneEnabled",
    );
    assert!(m.contains("at least one participant"), "{m}");
}

#[test]
fn duplicate_client_addresses() {
    let m = invalid_at(
        "dataDir=/d\nserver.1=h:1:2;127.0.0.1:2181\nserver.2=h:3:4;127.0.0.1:2181\nserver.3=h:5:6",
        3,
        "server.2",
    );
    assert_eq!(
        m,
        "client address 127.0.0.1:2181 is already used by server.1 (line 2)"
    );
    // A wildcard clashes with any address of the same host...
    invalid_at(
        "dataDir=/d\nserver.1=h:1:2;2181\nserver.2=h:3:4;10.0.0.1:2181\nserver.3=h:5:6",
        3,
        "server.2",
    );
    // ... but not with another host's, nor with another port.
    let (c, _) = with_dir("server.1=a:1:2;2181\nserver.2=b:1:2;2181\nserver.3=a:3:4;2182");
    assert_eq!(c.servers.len(), 3);
    let (c, _) = with_dir(
        "server.1=h:1:2;127.0.0.1:2181\nserver.2=h:3:4;127.0.0.2:2181\nserver.3=h:5:6;127.0.0.3:2181",
    );
    assert_eq!(c.servers.len(), 3);
}

#[test]
fn quorum_settings() {
    let (c, w) = with_dir("");
    assert!(w.is_empty());
    assert!(!c.quorum_listen_on_all_ips);
    assert_eq!(c.election_port_bind_retry, 3);
    assert!(c.leader_serves);
    assert!(c.sync_enabled);
    let (c, w) = with_dir(
        "quorumListenOnAllIPs=true\nelectionPortBindRetry=0\nleaderServes=no\nsyncEnabled=false\nsslQuorum=false\nquorum.auth.enableSasl=false",
    );
    assert!(w.is_empty(), "{w:?}");
    assert!(c.quorum_listen_on_all_ips);
    assert_eq!(c.election_port_bind_retry, 0);
    assert!(!c.leader_serves);
    assert!(!c.sync_enabled);
    // Apache's system-property spelling works too.
    let (c, _) = with_dir("zookeeper.leaderServes=false\nzookeeper.electionPortBindRetry=7");
    assert!(!c.leader_serves);
    assert_eq!(c.election_port_bind_retry, 7);
    let (c, w) = with_dir("electionPortBindRetry=-1");
    assert_eq!(c.election_port_bind_retry, 3);
    assert_eq!(
        w,
        ["zoo.cfg line 2: electionPortBindRetry -1 must be >= 0; using 3"]
    );
    invalid_at("dataDir=/d\nleaderServes=maybe", 2, "leaderServes");
    invalid_at("dataDir=/d\nsyncEnabled=1", 2, "syncEnabled");
    invalid_at(
        "dataDir=/d\nquorumListenOnAllIPs=x",
        2,
        "quorumListenOnAllIPs",
    );
    assert_eq!(
        invalid_at("dataDir=/d\nsslQuorum=true", 2, "sslQuorum"),
        "TLS between servers is not supported; remove the line or set it to false"
    );
    for key in [
        "quorum.auth.enableSasl",
        "quorum.auth.serverRequireSasl",
        "quorum.auth.learnerRequireSasl",
    ] {
        let m = invalid_at(&format!("dataDir=/d\n\n{key}=true"), 3, key);
        assert!(
            m.starts_with("SASL authentication between servers is not supported"),
            "{m}"
        );
    }
    // The other quorum.auth.* keys are meaningless without SASL: warned about and ignored.
    let (_, w) = with_dir("quorum.auth.kerberos.servicePrincipal=zk/host");
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("SASL between servers"), "{w:?}");
    // Timing values must be positive; electionAlg must be 3.
    for key in ["tickTime", "initLimit", "syncLimit"] {
        for bad in ["0", "-1"] {
            let m = invalid_at(&format!("dataDir=/d\n{key}={bad}"), 2, key);
            assert!(m.contains("between 1 and"), "{m}");
        }
    }
    for bad in ["0", "1", "2", "4"] {
        invalid_at(&format!("dataDir=/d\nelectionAlg={bad}"), 2, "electionAlg");
    }
}

#[test]
fn malformed_escape_is_an_error_with_its_line() {
    let m = invalid_at("dataDir=/d\n\nfoo=\\uZZ", 3, "foo");
    assert!(m.contains("malformed"), "{m}");
}

#[test]
fn continuation_lines_count_from_their_first_line() {
    let (c, _) = with_dir("4lw.commands.whitelist=stat, \\\n   ruok, \\\n   srvr\ntickTime=1000");
    assert_eq!(
        c.four_letter_words,
        Whitelist::parse(Some("stat,ruok,srvr"), false)
    );
    invalid_at("dataDir=/d\nsyncLimit=1\\\n0\ntickTime=q", 4, "tickTime");
    let m = invalid_at(
        "dataDir=/d\nsyncLimit=1\\\n  0x\ntickTime=1",
        2,
        "syncLimit",
    );
    assert_eq!(m, "expected a positive integer, got \"10x\"");
}

#[test]
fn long_values_are_shortened_in_messages() {
    let long = "x".repeat(10_000);
    let m = err_msg(&format!("dataDir=/d\ntickTime={long}"));
    assert!(m.len() < 200, "{m}");
}

#[test]
fn nothing_panics_on_odd_input() {
    let odd = [
        "",
        "=",
        "\\",
        "server.=",
        "server.1",
        "server.1=[",
        "server.1=[]:1:2",
        "server.1=a:1:2;[",
        "server.1=a:1:2;[::1]",
        "server.1=a:1:2;:",
        "group.1=",
        "weight.1=",
        "4lw.commands.whitelist=,,,",
        "tickTime=-9223372036854775808",
        "tickTime=-0x8000000000000000",
        "tickTime=0x7fffffffffffffff",
        "minSessionTimeout=-9223372036854775807",
        "DigestAuthenticationProvider.superDigest=:",
        "\u{feff}\u{feff}",
        "é\\u00e9=\\",
        "dataDir=/d\nserver.1=h:1:2\nserver.2=h:2:1",
    ];
    for text in odd {
        let _ = Config::parse(text, SRC);
        let _ = Config::parse(&format!("dataDir=/d\n{text}"), SRC);
    }
}

mod files {
    use super::*;
    use std::fs;

    fn write_cfg(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("zoo.cfg");
        fs::write(&path, text).unwrap();
        path
    }

    fn ensemble(dir: &Path) -> PathBuf {
        let data = dir.join("data");
        fs::create_dir_all(&data).unwrap();
        write_cfg(dir, &ENSEMBLE.replace("DATADIR", data.to_str().unwrap()))
    }

    #[test]
    fn full_ensemble_with_myid() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = ensemble(dir.path());
        fs::write(dir.path().join("data/myid"), " 2\n").unwrap();
        let (c, w) = Config::from_file(&cfg).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.my_id, Some(2));
        assert_eq!(c.my_server().map(|s| s.host.as_str()), Some("zoo2"));
        assert_eq!(c.init_limit, 5);
        assert_eq!(c.sync_limit, 2);
        assert!(!c.is_standalone());
        assert_eq!(c.data_dir, dir.path().join("data"));
        assert_eq!(c.data_log_dir, dir.path().join("data"));
        assert_eq!(c.client_addr(), "0.0.0.0:2181".parse().unwrap());
    }

    #[test]
    fn myid_errors() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = ensemble(dir.path());
        let myid = dir.path().join("data/myid");
        let myid_name = myid.display().to_string();

        let e = Config::from_file(&cfg).unwrap_err();
        match &e {
            ConfigError::MyId { file, message } => {
                assert_eq!(file, &myid_name);
                assert!(message.contains("missing"), "{message}");
            }
            other => panic!("{other:?}"),
        }

        for bad in ["abc", "", "0", "-2", "1 2", "99999999999999999999"] {
            fs::write(&myid, bad).unwrap();
            let e = Config::from_file(&cfg).unwrap_err();
            assert!(matches!(e, ConfigError::MyId { .. }), "{bad:?}: {e:?}");
            assert!(e.to_string().starts_with(&myid_name), "{e}");
        }
        fs::write(&myid, "abc").unwrap();
        assert_eq!(
            Config::from_file(&cfg).unwrap_err().to_string(),
            format!("{myid_name}: expected a server id (a positive integer), got \"abc\"")
        );

        fs::write(&myid, "4").unwrap();
        let e = Config::from_file(&cfg).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{myid_name}: myid is 4, which is not among the server ids in {} (1, 2, 3)",
                cfg.display()
            )
        );
    }

    #[test]
    fn extended_types_limit_the_server_id() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        fs::create_dir_all(&data).unwrap();
        let text = format!(
            "dataDir={}\nextendedTypesEnabled=true\nserver.254=a:1:2\nserver.255=b:1:2\n",
            data.display()
        );
        let cfg = write_cfg(dir.path(), &text);
        fs::write(data.join("myid"), "254").unwrap();
        let (c, _) = Config::from_file(&cfg).unwrap();
        assert_eq!(c.my_id, Some(254));
        fs::write(data.join("myid"), "255").unwrap();
        match Config::from_file(&cfg).unwrap_err() {
            ConfigError::Invalid {
                line, key, message, ..
            } => {
                assert_eq!((line, key.as_str()), (4, "server.255"));
                assert!(message.contains("at most 254"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        // Without extended types any id goes.
        let cfg = write_cfg(dir.path(), &text.replace("=true", "=false"));
        assert_eq!(Config::from_file(&cfg).unwrap().0.my_id, Some(255));
    }

    #[test]
    fn a_single_server_line_needs_no_myid() {
        // Apache runs such a file standalone, myid or not (HBase writes them).
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        fs::create_dir_all(&data).unwrap();
        let cfg = write_cfg(
            dir.path(),
            &format!("dataDir={}\nserver.1=a:2888:3888\n", data.display()),
        );
        let (c, _) = Config::from_file(&cfg).unwrap();
        assert!(c.is_standalone());
        assert_eq!(c.my_id, None);
        fs::write(data.join("myid"), "7").unwrap();
        let (c, w) = Config::from_file(&cfg).unwrap();
        assert_eq!(c.my_id, None);
        assert!(w.iter().any(|w| w.contains("myid is 7")), "{w:?}");
        fs::write(data.join("myid"), "1").unwrap();
        assert_eq!(Config::from_file(&cfg).unwrap().0.my_id, Some(1));
        // With standaloneEnabled=false it is an ensemble of one, which needs its myid.
        let cfg = write_cfg(
            dir.path(),
            &format!(
                "dataDir={}\nstandaloneEnabled=false\nserver.1=a:2888:3888\n",
                data.display()
            ),
        );
        fs::remove_file(data.join("myid")).unwrap();
        assert!(matches!(
            Config::from_file(&cfg).unwrap_err(),
            ConfigError::MyId { .. }
        ));
    }

    #[test]
    fn standalone_file_needs_no_myid() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = write_cfg(
            dir.path(),
            &format!("dataDir={}\nclientPort=2999\n", dir.path().display()),
        );
        let (c, _) = Config::from_file(&cfg).unwrap();
        assert_eq!(c.my_id, None);
        assert_eq!(c.client_addr(), "0.0.0.0:2999".parse().unwrap());
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.cfg");
        let e = Config::from_file(&path).unwrap_err();
        match &e {
            ConfigError::Io { file, kind, .. } => {
                assert_eq!(file, &path.display().to_string());
                assert_eq!(*kind, io::ErrorKind::NotFound);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_the_file_path() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = write_cfg(dir.path(), "dataDir=/d\ntickTime=abc\n");
        let e = Config::from_file(&cfg).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{} line 2: tickTime: expected a positive integer, got \"abc\"",
                cfg.display()
            )
        );
    }

    #[test]
    fn relative_data_dir_is_resolved_against_the_working_directory() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = write_cfg(dir.path(), "dataDir=rel/data\n");
        let (c, _) = Config::from_file(&cfg).unwrap();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(c.data_dir, cwd.join("rel/data"));
        assert_eq!(c.data_log_dir, cwd.join("rel/data"));
    }

    #[test]
    fn own_client_address_and_observer_role_come_from_the_server_line() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        fs::create_dir_all(&data).unwrap();
        fs::write(data.join("myid"), "3").unwrap();
        let cfg = write_cfg(
            dir.path(),
            &format!(
                "dataDir={}\nserver.1=[::1]:2888:3888;2181\nserver.2=[::1]:2889:3889;2182\nserver.3=[::1]:2890:3890:observer;[::1]:2183\n",
                data.display()
            ),
        );
        let (c, w) = Config::from_file(&cfg).unwrap();
        assert_eq!(c.my_id, Some(3));
        assert_eq!(c.peer_type, PeerType::Observer);
        assert_eq!(c.client_addr(), "[::1]:2183".parse().unwrap());
        // Two participants, and peerType (default participant) disagrees with the server
        // line's role, which wins as in Apache.
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("2 participant(s)"), "{w:?}");
        assert_eq!(
            w[1],
            format!(
                "{} line 4: server.3 says observer but peerType is participant; using observer, as the server list says",
                cfg.display()
            )
        );
        // The reverse: peerType=observer on a participant's line.
        fs::write(data.join("myid"), "1").unwrap();
        let text = fs::read_to_string(&cfg).unwrap();
        let obs = write_cfg(dir.path(), &format!("{text}peerType=observer\n"));
        let (c, w) = Config::from_file(&obs).unwrap();
        assert_eq!(c.peer_type, PeerType::Participant);
        assert!(
            w[1].contains("server.1 says participant but peerType is observer"),
            "{w:?}"
        );
        fs::write(&cfg, &text).unwrap();
        fs::write(data.join("myid"), "3").unwrap();

        // An explicit clientPort that disagrees with the server line is refused, as in
        // Apache: a wildcard address must agree on the port, a specific one on everything.
        let text = fs::read_to_string(&cfg).unwrap();
        let cfg = write_cfg(dir.path(), &format!("{text}clientPort=2999\n"));
        match Config::from_file(&cfg).unwrap_err() {
            ConfigError::Invalid {
                file,
                line,
                key,
                message,
            } => {
                assert_eq!(file, cfg.display().to_string());
                assert_eq!((line, key.as_str()), (5, "clientPort"));
                assert!(
                    message
                        .starts_with("clientPort/clientPortAddress say 0.0.0.0:2999, but server.3"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
        let cfg = write_cfg(dir.path(), &format!("{text}clientPort=2183\n"));
        let (c, _) = Config::from_file(&cfg).unwrap();
        assert_eq!(c.client_addr(), "[::1]:2183".parse().unwrap());
        let cfg = write_cfg(
            dir.path(),
            &format!("{text}clientPort=2183\nclientPortAddress=127.0.0.1\n"),
        );
        let e = Config::from_file(&cfg).unwrap_err();
        assert!(e.to_string().contains("say 127.0.0.1:2183"), "{e}");
    }

    #[test]
    fn dynamic_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        fs::create_dir_all(&data).unwrap();
        fs::write(data.join("myid"), "1").unwrap();
        let dynamic = dir.path().join("zoo.cfg.dynamic");
        fs::write(
            &dynamic,
            "server.1=a:2888:3888:participant;2181\nserver.2=b:2888:3888:participant;2181\nserver.3=c:2888:3888:observer;2181\n",
        )
        .unwrap();
        let cfg = write_cfg(
            dir.path(),
            &format!(
                "dataDir={}\nreconfigEnabled=true\ndynamicConfigFile={}\n",
                data.display(),
                dynamic.display()
            ),
        );
        let (c, w) = Config::from_file(&cfg).unwrap();
        // Two participants tolerate no failure; the warning names the dynamic file.
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with(&format!("{}: 2 participant(s)", dynamic.display())),
            "{w:?}"
        );
        assert_eq!(c.servers.len(), 3);
        assert_eq!(c.servers[2].role, PeerType::Observer);
        assert_eq!(c.my_id, Some(1));
        assert_eq!(c.dynamic_config_file.as_deref(), Some(dynamic.as_path()));
        assert_eq!(
            c.config_version, 0,
            "a name without a version suffix: version 0"
        );
        assert_eq!(c.config_file.as_deref(), Some(cfg.as_path()));
        // As Apache writes it after a reconfig: the version is the name's suffix.
        let versioned = dir.path().join("zoo.cfg.dynamic.200000003");
        fs::write(
            &versioned,
            "server.1=a:2888:3888;2181
server.2=b:2888:3888;2181
server.3=c:2888:3888;2181
",
        )
        .unwrap();
        let sub = dir.path().join("versioned");
        fs::create_dir_all(&sub).unwrap();
        let cfg2 = write_cfg(
            &sub,
            &format!(
                "dataDir={}
dynamicConfigFile={}
",
                data.display(),
                versioned.display()
            ),
        );
        assert_eq!(
            Config::from_file(&cfg2).unwrap().0.config_version,
            0x2_0000_0003
        );
        fs::write(data.join("myid"), "9").unwrap();
        let e = Config::from_file(&cfg).unwrap_err();
        let want = format!(
            "myid is 9, which is not among the server ids in {} (1, 2, 3)",
            dynamic.display()
        );
        assert!(e.to_string().ends_with(&want), "{e}");
        fs::write(data.join("myid"), "1").unwrap();

        // Errors in the dynamic file name it and its line: (line, key, message).
        let refused_in_dynamic = |text: &str| {
            fs::write(&dynamic, text).unwrap();
            match Config::from_file(&cfg).unwrap_err() {
                ConfigError::Invalid {
                    file,
                    line,
                    key,
                    message,
                } => {
                    assert_eq!(file, dynamic.display().to_string());
                    (line, key, message)
                }
                other => panic!("{other:?}"),
            }
        };
        let (line, key, _) = refused_in_dynamic("server.1=a:2888:3888\ntickTime=5\n");
        assert_eq!((line, key.as_str()), (2, "tickTime"));
        let (line, key, _) = refused_in_dynamic("server.1=a:2888:3888\nserver.2=a:2888:3889\n");
        assert_eq!((line, key.as_str()), (2, "server.2"));
        // The version is the name's; a version line inside is refused, as Apache does.
        let (line, key, message) = refused_in_dynamic("server.1=a:2888:3888\nversion=100000000\n");
        assert_eq!((line, key.as_str()), (2, "version"));
        assert!(message.contains("suffix of its name"), "{message}");

        // Members in both files is ambiguous.
        fs::write(&dynamic, "server.1=a:2888:3888\n").unwrap();
        let cfg = write_cfg(
            dir.path(),
            &format!(
                "dataDir={}\nserver.1=a:2888:3888\ndynamicConfigFile={}\n",
                data.display(),
                dynamic.display()
            ),
        );
        let e = Config::from_file(&cfg).unwrap_err();
        assert!(e.to_string().contains("both here and in"), "{e}");

        // A missing dynamic file is an I/O error naming it.
        fs::remove_file(&dynamic).unwrap();
        let cfg = write_cfg(
            dir.path(),
            &format!(
                "dataDir={}\ndynamicConfigFile={}\n",
                data.display(),
                dynamic.display()
            ),
        );
        match Config::from_file(&cfg).unwrap_err() {
            ConfigError::Io { file, .. } => assert_eq!(file, dynamic.display().to_string()),
            other => panic!("{other:?}"),
        }
    }
}
