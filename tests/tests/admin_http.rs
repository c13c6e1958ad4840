//! Admin and metrics over HTTP: zkrs-server's AdminServer (`/commands/<name>`) compared
//! command by command with Apache ZooKeeper 3.8's own after the same writes (keys, nesting,
//! value types, and the figures that must be equal), standalone and in 3-member ensembles;
//! and `/metrics` checked against the families Apache's Prometheus provider exports.
//!
//! The harness writes `admin.enableServer=false` into every zoo.cfg and gives each server
//! its own loopback address only when it starts it, so these tests start a server, append
//! the admin lines naming that address to its zoo.cfg (later lines win, in both servers),
//! and start it again. Requests are plain HTTP/1.1 over a std `TcpStream`.

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::Path;

use zkrs_tests::ensemble::Ensemble;
use zkrs_tests::server::ServerKind;
use zkrs_tests::{
    eventually, mode, open, zk, InProcessServer, Launch, ServerConfig, ServerUnderTest, SLOW_WAIT,
    WAIT,
};

/// The admin port Apache uses by default; every server has its own address.
const ADMIN_PORT: u16 = 8080;
/// Apache's default `metricsProvider.httpPort`.
const METRICS_PORT: u16 = 7000;
const PROMETHEUS: &str = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";

// ---- a tiny HTTP client ----

/// An HTTP answer: status code, headers (names lower-cased) and body.
struct HttpAnswer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl HttpAnswer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One request on its own connection (`Connection: close`, so the body ends with it).
fn http(method: &str, addr: SocketAddr, path: &str) -> std::io::Result<HttpAnswer> {
    let mut stream = TcpStream::connect_timeout(&addr, WAIT)?;
    stream.set_read_timeout(Some(WAIT))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no header end in {text:?}")))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line in {head:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    assert!(
        !headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")),
        "chunked answers are not expected from {addr}"
    );
    Ok(HttpAnswer {
        status,
        headers,
        body: body.to_string(),
    })
}

fn get(addr: SocketAddr, path: &str) -> HttpAnswer {
    http("GET", addr, path).unwrap_or_else(|e| panic!("GET http://{addr}{path}: {e}"))
}

/// `/commands/<name>` as JSON.
fn command(addr: SocketAddr, name: &str) -> Json {
    let answer = get(addr, &format!("/commands/{name}"));
    assert_eq!(answer.status, 200, "{name} at {addr}: {}", answer.body);
    assert_eq!(
        answer.header("content-type"),
        Some("application/json"),
        "{name} at {addr}"
    );
    Json::parse(&answer.body).unwrap_or_else(|e| panic!("{name} at {addr}: {e}\n{}", answer.body))
}

// ---- a tiny JSON reader ----

/// A parsed JSON value; objects keep their order.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    /// The number's text, to tell integers from doubles as Jackson wrote them.
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn parse(text: &str) -> Result<Json, String> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("trailing text at {}", p.i));
        }
        Ok(v)
    }

    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn at(&self, key: &str) -> &Json {
        self.get(key)
            .unwrap_or_else(|| panic!("no {key:?} in {self:?}"))
    }

    fn keys(&self) -> BTreeSet<String> {
        match self {
            Json::Obj(fields) => fields.iter().map(|(k, _)| k.clone()).collect(),
            _ => BTreeSet::new(),
        }
    }

    fn int(&self) -> i64 {
        match self {
            Json::Num(n) => n
                .parse()
                .unwrap_or_else(|_| panic!("{n} is not an integer")),
            other => panic!("{other:?} is not a number"),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "boolean",
            Json::Num(n) if n.contains(['.', 'E', 'e']) => "double",
            Json::Num(_) => "integer",
            Json::Str(_) => "string",
            Json::Arr(_) => "array",
            Json::Obj(_) => "object",
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected {:?} at {}", c as char, self.i))
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut fields = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(fields));
                }
                loop {
                    self.ws();
                    let Json::Str(k) = self.value()? else {
                        return Err(format!("object key expected at {}", self.i));
                    };
                    self.eat(b':')?;
                    fields.push((k, self.value()?));
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(fields));
                        }
                        _ => return Err(format!("`,` or `}}` expected at {}", self.i)),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Arr(items));
                }
                loop {
                    items.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(items));
                        }
                        _ => return Err(format!("`,` or `]` expected at {}", self.i)),
                    }
                }
            }
            Some(b'"') => {
                self.i += 1;
                let mut out = String::new();
                loop {
                    let c = *self.s.get(self.i).ok_or("unterminated string")?;
                    self.i += 1;
                    match c {
                        b'"' => return Ok(Json::Str(out)),
                        b'\\' => {
                            let e = *self.s.get(self.i).ok_or("unterminated escape")?;
                            self.i += 1;
                            match e {
                                b'n' => out.push('\n'),
                                b't' => out.push('\t'),
                                b'r' => out.push('\r'),
                                b'b' => out.push('\u{8}'),
                                b'f' => out.push('\u{c}'),
                                b'u' => {
                                    let hex =
                                        self.s.get(self.i..self.i + 4).ok_or("short \\u escape")?;
                                    let code = u32::from_str_radix(
                                        std::str::from_utf8(hex).map_err(|e| e.to_string())?,
                                        16,
                                    )
                                    .map_err(|e| e.to_string())?;
                                    self.i += 4;
                                    out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                                }
                                other => out.push(other as char),
                            }
                        }
                        _ => {
                            // Multi-byte UTF-8 sequences are copied byte by byte.
                            let start = self.i - 1;
                            let mut end = self.i;
                            while end < self.s.len() && (self.s[end] & 0xc0) == 0x80 {
                                end += 1;
                            }
                            out.push_str(&String::from_utf8_lossy(&self.s[start..end]));
                            self.i = end;
                        }
                    }
                }
            }
            Some(b't') if self.s[self.i..].starts_with(b"true") => {
                self.i += 4;
                Ok(Json::Bool(true))
            }
            Some(b'f') if self.s[self.i..].starts_with(b"false") => {
                self.i += 5;
                Ok(Json::Bool(false))
            }
            Some(b'n') if self.s[self.i..].starts_with(b"null") => {
                self.i += 4;
                Ok(Json::Null)
            }
            Some(c) if c.is_ascii_digit() || *c == b'-' => {
                let start = self.i;
                while self.i < self.s.len()
                    && (self.s[self.i].is_ascii_digit()
                        || matches!(self.s[self.i], b'-' | b'+' | b'.' | b'e' | b'E'))
                {
                    self.i += 1;
                }
                Ok(Json::Num(
                    String::from_utf8_lossy(&self.s[start..self.i]).into_owned(),
                ))
            }
            _ => Err(format!("value expected at {}", self.i)),
        }
    }
}

// ---- comparing answers ----

/// Objects whose keys are data (session ids, expiry times), not field names: their
/// values are compared by shape, their keys not at all.
const DATA_KEYED: &[&str] = &[
    "expiry_time_to_session_ids",
    "session_id_to_ephemeral_paths",
    "session_id_to_watched_paths",
];

/// Known differences, each with its reason: `(command, path)`; a path ending in `/*`
/// covers everything below it.
const KNOWN: &[(&str, &str, &str)] = &[
    (
        "system_properties",
        "/*",
        "JVM system properties: zkrs has no JVM and lists its process's equivalents",
    ),
    (
        "dump",
        "/expiry_time_to_session_ids",
        "the view carries no session expiry buckets yet (the `dump` word prints none either)",
    ),
];

/// `monitor`'s dynamic entries (per-namespace and per-learner figures) appear on the
/// member where the traffic happened, which differs between two ensembles.
fn dynamic(command: &str, path: &str) -> bool {
    command == "monitor" && (path.contains("_per_namespace") || path.contains("learner_handler"))
}

fn known(command: &str, path: &str) -> bool {
    dynamic(command, path)
        || KNOWN.iter().any(|(c, p, _)| {
            *c == command
                && (path == *p
                    || p.strip_suffix("/*")
                        .is_some_and(|pre| path.starts_with(pre)))
        })
}

/// Differences in keys and value types between zkrs's and Apache's answers.
fn shape_diff(command: &str, path: &str, ours: &Json, theirs: &Json, out: &mut Vec<String>) {
    if known(command, path) {
        return;
    }
    let data_keyed = DATA_KEYED.iter().any(|k| path.ends_with(&format!("/{k}")));
    match (ours, theirs) {
        (Json::Obj(a), Json::Obj(b)) if data_keyed => {
            if let (Some((_, x)), Some((_, y))) = (a.first(), b.first()) {
                shape_diff(command, &format!("{path}/*"), x, y, out);
            }
        }
        (Json::Obj(_), Json::Obj(_)) => {
            let (ka, kb) = (ours.keys(), theirs.keys());
            for k in kb.difference(&ka) {
                if !known(command, &format!("{path}/{k}")) {
                    out.push(format!("{command}{path}/{k}: missing"));
                }
            }
            for k in ka.difference(&kb) {
                if !known(command, &format!("{path}/{k}")) {
                    out.push(format!("{command}{path}/{k}: Apache has no such key"));
                }
            }
            for k in ka.intersection(&kb) {
                shape_diff(
                    command,
                    &format!("{path}/{k}"),
                    ours.at(k),
                    theirs.at(k),
                    out,
                );
            }
        }
        (Json::Arr(a), Json::Arr(b)) => {
            if let (Some(x), Some(y)) = (a.first(), b.first()) {
                shape_diff(command, &format!("{path}[0]"), x, y, out);
            }
        }
        (a, b) if a.kind() != b.kind() => out.push(format!(
            "{command}{path}: {} {a:?}, Apache {} {b:?}",
            a.kind(),
            b.kind()
        )),
        _ => {}
    }
}

// ---- starting servers with the admin server on ----

/// Debian's Apache needs the servlet API on its classpath to start its AdminServer (the
/// harness's default classpath leaves it out, and Apache then logs "Unable to load
/// jetty" and runs without one). Set before any server starts, from a test's only thread.
fn apache_classpath_with_servlets() {
    let servlets = "/usr/share/java/servlet-api.jar";
    if std::env::var_os("ZKRS_APACHE_CLASSPATH").is_some()
        || std::env::var_os("ZOOKEEPER_HOME").is_some()
        || !Path::new(servlets).exists()
    {
        return;
    }
    let mut cp = vec!["/usr/share/java/zookeeper.jar", servlets];
    if Path::new("/usr/share/java/slf4j-simple.jar").exists() {
        cp.push("/usr/share/java/slf4j-simple.jar");
    }
    std::env::set_var("ZKRS_APACHE_CLASSPATH", cp.join(":"));
}

/// The zoo.cfg lines that turn the admin server on at `ip`.
fn admin_lines(ip: IpAddr) -> String {
    format!("admin.enableServer=true\nadmin.serverAddress={ip}\nadmin.serverPort={ADMIN_PORT}\n")
}

/// The zoo.cfg lines that turn `/metrics` on at `ip` (Apache's default host is 0.0.0.0,
/// which servers sharing the machine could not all bind).
fn metrics_lines(ip: IpAddr) -> String {
    format!(
        "metricsProvider.className={PROMETHEUS}\nmetricsProvider.httpHost={ip}\nmetricsProvider.httpPort={METRICS_PORT}\n"
    )
}

fn append(cfg: &Path, lines: &str) {
    let mut text = fs::read_to_string(cfg).unwrap_or_else(|e| panic!("{}: {e}", cfg.display()));
    text.push_str(lines);
    fs::write(cfg, text).unwrap_or_else(|e| panic!("{}: {e}", cfg.display()));
}

/// A standalone server of `kind` with its admin server (and, with `metrics`, `/metrics`)
/// on its own address.
fn standalone(kind: ServerKind, metrics: bool) -> (ServerUnderTest, SocketAddr) {
    let mut server = ServerUnderTest::start_kind(kind, ServerConfig::default());
    let ip = server.addr().ip();
    let mut lines = admin_lines(ip);
    if metrics {
        lines.push_str(&metrics_lines(ip));
    }
    append(&server.dir().join("zoo.cfg"), &lines);
    server
        .kill9_and_restart()
        .unwrap_or_else(|e| panic!("restarting {kind:?} with its admin server: {e}"));
    let admin = SocketAddr::new(ip, ADMIN_PORT);
    // Apache starts its AdminServer after the client port: wait for it too.
    eventually_answers(admin);
    (server, admin)
}

/// Polls until `addr` answers `/commands/ruok` (bounded).
fn eventually_answers(addr: SocketAddr) {
    let rt = runtime();
    rt.block_on(eventually(
        SLOW_WAIT,
        &format!("the admin server at {addr}"),
        || async move {
            tokio::task::spawn_blocking(move || http("GET", addr, "/commands/ruok").ok())
                .await
                .ok()
                .flatten()
                .filter(|a| a.status == 200)
                .map(|_| ())
        },
    ));
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The same writes on a server: nodes, an ephemeral of a session that stays open, and a
/// data watch on `/app`. Returns the client, which must stay alive for the comparison.
async fn write_the_same(connect: &str) -> zk::Client {
    let client = zk::Client::connector()
        .with_session_timeout(std::time::Duration::from_secs(10))
        .connect(connect)
        .await
        .unwrap_or_else(|e| panic!("connecting to {connect}: {e}"));
    client
        .create("/app", b"data", &open())
        .await
        .expect("create /app");
    client
        .create("/app/child", b"", &open())
        .await
        .expect("create /app/child");
    client
        .create("/app/eph", b"", &mode(zk::CreateMode::Ephemeral))
        .await
        .expect("create /app/eph");
    // A data watch that stays set (nothing changes /app afterwards).
    let (_, _, watcher) = client.get_and_watch_data("/app").await.expect("watch /app");
    std::mem::forget(watcher);
    client
}

/// Every command both servers answer, compared; then the figures the same writes must
/// give equally.
fn compare_all(zkrs: SocketAddr, apache: SocketAddr, names: &[&str]) {
    let mut diffs = Vec::new();
    for name in names {
        let ours = command(zkrs, name);
        let theirs = command(apache, name);
        shape_diff(name, "", &ours, &theirs, &mut diffs);
        assert_eq!(ours.get("command"), theirs.get("command"), "{name}");
        assert_eq!(ours.get("error"), theirs.get("error"), "{name}: error");
    }
    assert!(
        diffs.is_empty(),
        "zkrs's answers differ from Apache's:\n{}",
        diffs.join("\n")
    );
}

/// Guards against comparing a server with itself: the two report their own versions.
fn assert_versions(zkrs: SocketAddr, apache: SocketAddr) {
    let version = |a| match command(a, "server_stats").at("version") {
        Json::Str(v) => v.clone(),
        other => panic!("{other:?}"),
    };
    let (ours, theirs) = (version(zkrs), version(apache));
    assert!(ours.contains("zkrs"), "{ours}");
    assert!(
        theirs.starts_with("3.8") && !theirs.contains("zkrs"),
        "{theirs}"
    );
}

/// The primary names `/commands` lists, from its links.
fn listed(addr: SocketAddr) -> Vec<String> {
    let answer = get(addr, "/commands");
    assert_eq!(answer.status, 200);
    answer
        .body
        .split("<a href=\"/commands/")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_string)
        .collect()
}

const STANDALONE_COMMANDS: &[&str] = &[
    "configuration",
    "connections",
    "dirs",
    "dump",
    "environment",
    "get_trace_mask",
    "hash",
    "initial_configuration",
    "is_read_only",
    "last_snapshot",
    "leader",
    "monitor",
    "observers",
    "ruok",
    "server_stats",
    "stats",
    "system_properties",
    "voting_view",
    "watch_summary",
    "watches",
    "watches_by_path",
    "zabstate",
    "set_trace_mask?traceMask=12",
    "set_trace_mask",
    "nosuch",
    // Aliases answer under the primary name.
    "srvr",
    "mntr",
    "wchs",
    "isro",
];

#[test]
fn standalone_commands_answer_like_apaches_after_the_same_writes() {
    apache_classpath_with_servlets();
    let (zkrs, zkrs_admin) = standalone(ServerKind::Zkrs, false);
    let (apache, apache_admin) = standalone(ServerKind::Apache, false);
    assert_eq!(
        listed(zkrs_admin),
        listed(apache_admin),
        "the /commands listing"
    );

    let rt = runtime();
    let _clients = rt.block_on(async {
        (
            write_the_same(&zkrs.connect_string()).await,
            write_the_same(&apache.connect_string()).await,
        )
    });
    compare_all(zkrs_admin, apache_admin, STANDALONE_COMMANDS);

    // The same writes give the same figures.
    let (ours, theirs) = (
        command(zkrs_admin, "monitor"),
        command(apache_admin, "monitor"),
    );
    for key in [
        "znode_count",
        "ephemerals_count",
        "watch_count",
        "global_sessions",
        "approximate_data_size",
    ] {
        assert_eq!(ours.at(key), theirs.at(key), "monitor {key}");
    }
    let (ours, theirs) = (command(zkrs_admin, "srvr"), command(apache_admin, "srvr"));
    assert_eq!(ours.at("node_count"), theirs.at("node_count"));
    assert_eq!(
        ours.at("server_stats").at("server_state"),
        theirs.at("server_stats").at("server_state")
    );
    let (ours, theirs) = (
        command(zkrs_admin, "watch_summary"),
        command(apache_admin, "watch_summary"),
    );
    assert_eq!(ours, theirs, "watch_summary");
    let (ours, theirs) = (
        command(zkrs_admin, "watches_by_path"),
        command(apache_admin, "watches_by_path"),
    );
    assert_eq!(
        ours.at("path_to_session_ids").keys(),
        theirs.at("path_to_session_ids").keys(),
        "watched paths"
    );
    let paths = |j: &Json| -> Vec<Json> {
        match j.at("session_id_to_ephemeral_paths") {
            Json::Obj(f) => f.iter().map(|(_, v)| v.clone()).collect(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        paths(&command(zkrs_admin, "dump")),
        paths(&command(apache_admin, "dump")),
        "ephemerals by session"
    );
    let conf = |a| command(a, "configuration");
    for key in [
        "tick_time",
        "min_session_timeout",
        "max_session_timeout",
        "max_client_cnxns",
    ] {
        assert_eq!(
            conf(zkrs_admin).at(key),
            conf(apache_admin).at(key),
            "{key}"
        );
    }
    // One client each: the session's connection is listed with Apache's fields.
    let cons = command(zkrs_admin, "connections");
    match cons.at("connections") {
        Json::Arr(list) => assert_eq!(list.len(), 1, "{cons:?}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn routes_methods_and_unknown_commands_answer_as_apaches() {
    let server = InProcessServer::start();
    let ip = server.addr().ip();
    append(&server.dir().join("zoo.cfg"), &admin_lines(ip));
    let mut server = server;
    server.restart();
    let admin = SocketAddr::new(ip, ADMIN_PORT);

    let unknown = command(admin, "nosuch");
    assert_eq!(
        unknown,
        Json::Obj(vec![
            ("command".into(), Json::Str("nosuch".into())),
            ("error".into(), Json::Str("Unknown command: nosuch".into())),
        ])
    );
    let refused = http("POST", admin, "/commands/ruok").expect("POST");
    assert_eq!(refused.status, 405);
    assert_eq!(get(admin, "/").status, 404);
    assert_eq!(
        get(admin, "/metrics").status,
        404,
        "metrics are not on the admin port"
    );
    let mask = command(admin, "stmk?traceMask=12");
    assert_eq!(mask.at("tracemask").int(), 12);
    assert_eq!(mask.at("command"), &Json::Str("set_trace_mask".into()));

    // The listeners stop with the server: the port is free again.
    server.stop();
    std::net::TcpListener::bind(admin).expect("the admin port is free after the server stopped");
}

/// What the files under `path` add up to, as Apache's `ZooKeeperServer.getDirSize` sums
/// them.
fn dir_bytes(path: &Path) -> u64 {
    let meta = fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if !meta.is_dir() {
        return meta.len();
    }
    fs::read_dir(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .map(|e| dir_bytes(&e.expect("a directory entry").path()))
        .sum()
}

/// `stmk` with its 8-byte mask, over the client port.
fn stmk(addr: SocketAddr, mask: i64) -> String {
    let mut stream = TcpStream::connect_timeout(&addr, WAIT).expect("connect for stmk");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut word = b"stmk".to_vec();
    word.extend_from_slice(&mask.to_be_bytes());
    stream.write_all(&word).expect("send stmk");
    let mut out = String::new();
    stream.read_to_string(&mut out).expect("stmk's answer");
    out
}

fn word(addr: SocketAddr, word: &str) -> String {
    zkrs_tests::server::four_letter_word(addr, word, WAIT)
        .unwrap_or_else(|e| panic!("{word} at {addr}: {e}"))
}

#[test]
fn initial_configuration_directory_sizes_and_the_trace_mask_answer_as_apaches() {
    apache_classpath_with_servlets();
    let (zkrs, zkrs_admin) = standalone(ServerKind::Zkrs, false);
    let (apache, apache_admin) = standalone(ServerKind::Apache, false);
    let rt = runtime();
    let _clients = rt.block_on(async {
        (
            write_the_same(&zkrs.connect_string()).await,
            write_the_same(&apache.connect_string()).await,
        )
    });
    // Where each keeps its snapshots and log under dataDir (dataLogDir is the same).
    for (server, admin, storage) in [
        (&zkrs, zkrs_admin, "zkrs"),
        (&apache, apache_admin, "version-2"),
    ] {
        let what = format!("{:?}", server.kind());
        let cfg = fs::read_to_string(server.dir().join("zoo.cfg")).expect("zoo.cfg");
        assert_eq!(
            command(admin, "initial_configuration").at("initial_configuration"),
            &Json::Str(cfg.clone()),
            "{what}: the file's text as read at startup"
        );

        let data_dir = cfg
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("dataDir="))
            .expect("dataDir in zoo.cfg");
        let bytes = dir_bytes(&Path::new(data_dir).join(storage));
        assert!(bytes > 0, "{what}: nothing in {data_dir}/{storage}");
        let dirs = command(admin, "dirs");
        assert_eq!(
            dirs.at("datadir_size").int(),
            bytes as i64,
            "{what}: {dirs:?}"
        );
        assert_eq!(
            dirs.at("logdir_size").int(),
            bytes as i64,
            "{what}: {dirs:?}"
        );
        let stats = command(admin, "server_stats");
        assert_eq!(
            stats.at("server_stats").at("data_dir_size").int(),
            bytes as i64,
            "{what}"
        );
        let conf = word(server.addr(), "conf");
        assert!(
            conf.contains(&format!("dataDirSize={bytes}\n")),
            "{what}: {conf}"
        );
        assert_eq!(
            word(server.addr(), "dirs"),
            format!("datadir_size: {bytes}\nlogdir_size: {bytes}\n"),
            "{what}"
        );

        // The mask set on either port is the one both read back.
        assert_eq!(stmk(server.addr(), 12), "12", "{what}");
        assert_eq!(word(server.addr(), "gtmk"), "12", "{what}");
        assert_eq!(
            command(admin, "get_trace_mask").at("tracemask").int(),
            12,
            "{what}"
        );
        let set = command(admin, "set_trace_mask?traceMask=99");
        assert_eq!(set.at("tracemask").int(), 99, "{what}");
        assert_eq!(word(server.addr(), "gtmk"), "99", "{what}");
        // A bad argument changes nothing.
        let refused = command(admin, "set_trace_mask?traceMask=x");
        assert!(refused.get("tracemask").is_none(), "{what}: {refused:?}");
        assert_eq!(command(admin, "gtmk").at("tracemask").int(), 99, "{what}");
    }
}

/// `prometheus_families.txt`: `(name, type)` of the families present in any of
/// `presences` (a family present in several lists them with commas).
fn pinned_families(presences: &[&str]) -> Families {
    include_str!("../../server/src/http/prometheus_families.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let present = f[2].split(',').any(|p| presences.contains(&p));
            let kind = f[1].split('-').next().unwrap_or(f[1]);
            present.then(|| (f[0].to_string(), kind.to_string()))
        })
        .collect()
}

/// `(name, type)` of the `# TYPE` lines of an exposition.
type Families = BTreeSet<(String, String)>;

/// `# TYPE` lines of an exposition, and the value of each sample by its name with labels.
fn exposition(text: &str) -> (Families, Vec<(String, f64)>) {
    let mut types = BTreeSet::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(t) = line.strip_prefix("# TYPE ") {
            let (n, k) = t.split_once(' ').expect("# TYPE name type");
            types.insert((n.to_string(), k.to_string()));
        } else if !line.starts_with('#') && !line.is_empty() {
            let (name, value) = line.rsplit_once(' ').expect("name value");
            let v: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("a sample value Prometheus cannot read: {line}"));
            samples.push((name.to_string(), v));
        }
    }
    (types, samples)
}

fn metrics(addr: SocketAddr) -> String {
    let answer = get(addr, "/metrics");
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    answer.body
}

#[test]
fn metrics_export_apaches_families_with_the_servers_figures() {
    let (server, admin) = standalone(ServerKind::Zkrs, true);
    let rt = runtime();
    let _client = rt.block_on(write_the_same(&server.connect_string()));
    let at = SocketAddr::new(server.addr().ip(), METRICS_PORT);
    let text = metrics(at);
    let (types, samples) = exposition(&text);
    assert_eq!(types, pinned_families(&["always", "serving"]));
    let value = |name: &str| {
        samples
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("no sample {name}"))
    };
    let monitor = command(admin, "monitor");
    for name in [
        "znode_count",
        "ephemerals_count",
        "watch_count",
        "global_sessions",
    ] {
        assert_eq!(value(name), monitor.at(name).int() as f64, "{name}");
    }
    // The writes under /app are counted in its namespace, labelled as Apache labels sets.
    assert!(
        value("write_per_namespace_count{key=\"app\",}") >= 3.0,
        "{text}"
    );
    assert!(text.contains("# HELP readlatency readlatency\n# TYPE readlatency summary\n"));
    assert!(text.contains("readlatency{quantile=\"0.99\",}"));
    assert_eq!(
        get(at, "/commands").status,
        404,
        "commands are not on the metrics port"
    );
}

/// The same zoo.cfg lines appended to every member, each naming its own address.
fn ensemble_with_admin(launches: &[Launch], metrics: bool) -> Ensemble {
    let mut ensemble = Ensemble::prepare(
        launches[0].server_kind().unwrap_or(ServerKind::Zkrs),
        launches,
        ServerConfig::default(),
    );
    for i in 0..launches.len() {
        let ip = ensemble.member(i).addr().ip();
        let mut lines = admin_lines(ip);
        if metrics {
            lines.push_str(&metrics_lines(ip));
        }
        append(&ensemble.member_dir(i).join("zoo.cfg"), &lines);
    }
    for i in 0..launches.len() {
        ensemble.restart(i);
    }
    ensemble.wait_for_leader(SLOW_WAIT * 4);
    ensemble
}

fn admin_of(ensemble: &Ensemble, i: usize) -> SocketAddr {
    SocketAddr::new(ensemble.member(i).addr().ip(), ADMIN_PORT)
}

const QUORUM_COMMANDS: &[&str] = &[
    // null on a member in both: Apache 3.8's QuorumPeer never hands its server the text.
    "initial_configuration",
    "leader",
    "voting_view",
    "zabstate",
    "observers",
    "server_stats",
    "monitor",
    "configuration",
    "is_read_only",
    "watch_summary",
];

#[test]
fn ensemble_members_answer_like_apaches_leader_and_follower() {
    apache_classpath_with_servlets();
    let zkrs = ensemble_with_admin(&[Launch::Server(ServerKind::Zkrs); 3], true);
    let apache = ensemble_with_admin(&[Launch::Server(ServerKind::Apache); 3], false);
    let rt = runtime();
    let _clients = rt.block_on(async {
        (
            write_the_same(&zkrs.connect_string()).await,
            write_the_same(&apache.connect_string()).await,
        )
    });
    let (zl, al) = (zkrs.wait_for_leader(WAIT), apache.wait_for_leader(WAIT));
    let (zf, af) = ((zl + 1) % 3, (al + 1) % 3);
    for admin in [
        admin_of(&zkrs, zl),
        admin_of(&zkrs, zf),
        admin_of(&apache, al),
        admin_of(&apache, af),
    ] {
        eventually_answers(admin);
    }
    assert_versions(admin_of(&zkrs, zl), admin_of(&apache, al));
    compare_all(admin_of(&zkrs, zl), admin_of(&apache, al), QUORUM_COMMANDS);
    compare_all(admin_of(&zkrs, zf), admin_of(&apache, af), QUORUM_COMMANDS);

    let leader = command(admin_of(&zkrs, zl), "leader");
    assert_eq!(leader.at("is_leader"), &Json::Bool(true));
    assert_eq!(leader.at("leader_id").int(), i64::from(zkrs.member(zl).id));
    let view = command(admin_of(&zkrs, zf), "voting_view");
    assert_eq!(
        view.at("current_config").keys(),
        command(admin_of(&apache, af), "voting_view")
            .at("current_config")
            .keys(),
        "the voters' ids"
    );
    let zab = command(admin_of(&zkrs, zf), "zabstate");
    assert_eq!(zab.at("zabstate"), &Json::Str("broadcast".into()));
    // Every member gets the same tree: once each has applied the writes (a member may
    // apply a commit after the client's answer), Apache's and zkrs's count the same nodes:
    // the root twice, /zookeeper, its quota and config nodes, and the three written.
    let nodes = |a| command(a, "monitor").at("znode_count").int();
    for (ensemble, i) in [(&zkrs, zl), (&zkrs, zf), (&apache, al), (&apache, af)] {
        let admin = admin_of(ensemble, i);
        rt.block_on(eventually(
            WAIT,
            "a member to apply the writes",
            || async move {
                let n = tokio::task::spawn_blocking(move || nodes(admin))
                    .await
                    .ok()?;
                (n == 8).then_some(())
            },
        ));
    }

    // /metrics of the leader and a follower: the quorum families of their role.
    let metrics_of = |i: usize| SocketAddr::new(zkrs.member(i).addr().ip(), METRICS_PORT);
    let (leader_types, leader_samples) = exposition(&metrics(metrics_of(zl)));
    assert_eq!(
        leader_types,
        pinned_families(&["always", "serving", "quorum", "leader"])
    );
    let quorum_size = leader_samples
        .iter()
        .find(|(n, _)| n == "quorum_size")
        .map(|(_, v)| *v);
    assert_eq!(quorum_size, Some(3.0));
    let (follower_types, _) = exposition(&metrics(metrics_of(zf)));
    assert_eq!(
        follower_types,
        pinned_families(&["always", "serving", "quorum", "follower"])
    );
}

/// A port taken on `ip` for as long as the listener lives.
fn occupy(ip: IpAddr, port: u16) -> std::net::TcpListener {
    std::net::TcpListener::bind((ip, port)).unwrap_or_else(|e| panic!("binding {ip}:{port}: {e}"))
}

#[test]
fn a_standalone_server_without_its_admin_or_metrics_port_does_not_start() {
    for (lines, port) in [
        (admin_lines as fn(IpAddr) -> String, ADMIN_PORT),
        (metrics_lines, METRICS_PORT),
    ] {
        let mut server = ServerUnderTest::start_kind(ServerKind::Zkrs, ServerConfig::default());
        let ip = server.addr().ip();
        append(&server.dir().join("zoo.cfg"), &lines(ip));
        let _taken = occupy(ip, port);
        let started = server.kill9_and_restart();
        let err = started.expect_err("the server started without its HTTP port");
        assert!(err.contains("exited"), "{err}");
        let log = server.log_tail(400);
        assert!(
            log.contains(&format!("cannot listen on {ip}:{port}")),
            "the log says which port: {log}"
        );
    }
}

#[test]
fn an_ensemble_member_without_its_admin_port_runs_without_it() {
    let launches = [Launch::Server(ServerKind::Zkrs); 3];
    let mut ensemble = Ensemble::prepare(ServerKind::Zkrs, &launches, ServerConfig::default());
    for i in 0..3 {
        let ip = ensemble.member(i).addr().ip();
        append(&ensemble.member_dir(i).join("zoo.cfg"), &admin_lines(ip));
    }
    let taken_ip = ensemble.member(0).addr().ip();
    let _taken = occupy(taken_ip, ADMIN_PORT);
    for i in 0..3 {
        ensemble.restart(i);
    }
    ensemble.wait_for_leader(SLOW_WAIT * 4);
    assert!(ensemble.is_alive(0), "member 1 stopped");
    assert!(
        ensemble
            .member(0)
            .log()
            .contains("admin server not started"),
        "{}",
        ensemble.member(0).log_tail(20)
    );
    // The other members serve their commands.
    let leader = command(admin_of(&ensemble, 1), "leader");
    assert_eq!(leader.at("error"), &Json::Null);
}

#[test]
fn a_followers_leader_command_names_the_leader_as_apaches_does() {
    apache_classpath_with_servlets();
    let zkrs = ensemble_with_admin(&[Launch::Server(ServerKind::Zkrs); 3], false);
    let apache = ensemble_with_admin(&[Launch::Server(ServerKind::Apache); 3], false);
    for ensemble in [&zkrs, &apache] {
        let leader = ensemble.wait_for_leader(WAIT);
        let follower = (leader + 1) % 3;
        let admin = admin_of(ensemble, follower);
        eventually_answers(admin);
        let answer = command(admin, "leader");
        assert_eq!(answer.at("is_leader"), &Json::Bool(false), "{answer:?}");
        assert_eq!(
            answer.at("leader_id").int(),
            i64::from(ensemble.member(leader).id),
            "{answer:?}"
        );
        assert_eq!(
            answer.at("leader_ip"),
            &Json::Str(ensemble.member(leader).addr().ip().to_string()),
            "{answer:?}"
        );
    }
}
