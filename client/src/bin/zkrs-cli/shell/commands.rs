//! The commands that talk to the server, each with zkCli 3.8/3.9's options, checks, output
//! and messages (`org.apache.zookeeper.cli.*Command`).

use std::collections::VecDeque;
use std::future::Future;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use zkrs_client::proto::path::join;
use zkrs_client::{
    perms, Acl, AddWatchMode, Client, CreateMode, CreateOptions, Error, Id, Op, Stat, WatcherType,
};

use super::conn::Session;
use super::events::Hub;
use super::format::{
    acl_entry, cli_error, client_config_string, error_code, java_list, keeper_message, stat_lines,
    validate_path,
};
use super::parse::{
    flag, java_cmp, java_parse_int, java_parse_long, java_split, parse_options, valued, OptSpec,
    Parsed,
};
use super::quota;

/// A failed command: its message (printed to stderr) and the exit status it leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    pub message: String,
    pub code: u8,
}

impl CliError {
    pub fn new(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            code: 1,
        }
    }

    /// `CommandNotFoundException` (exit status 127).
    pub fn not_found(cmd: &str) -> CliError {
        CliError {
            message: format!("Command not found: Command not found {cmd}"),
            code: 127,
        }
    }
}

/// The usage strings of `ZooKeeperMain.commandMap`, in the order zkCli sorts them.
const USAGES: &[(&str, &str)] = &[
    (
        "addWatch",
        "[-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE",
    ),
    ("addauth", "scheme auth"),
    ("close", ""),
    ("config", "[-c] [-w] [-s]"),
    ("connect", "host:port"),
    ("create", "[-s] [-e] [-c] [-t ttl] path [data] [acl]"),
    ("delete", "[-v version] path"),
    ("deleteall", "path [-b batch size]"),
    ("delquota", "[-n|-b|-N|-B] path"),
    ("get", "[-s] [-w] path"),
    ("getAcl", "[-s] path"),
    ("getAllChildrenNumber", "path"),
    ("getEphemerals", "path"),
    ("history", ""),
    ("listquota", "path"),
    ("ls", "[-s] [-w] [-R] path"),
    ("printwatches", "on|off"),
    ("quit", ""),
    (
        "reconfig",
        "[-s] [-v version] [[-file path] | [-members serverID=host:port1:port2;port3[,...]*]] | [-add serverId=host:port1:port2;port3[,...]]* [-remove serverId[,...]*]",
    ),
    ("redo", "cmdno"),
    ("removewatches", "path [-c|-d|-a] [-l]"),
    ("set", "[-s] [-v version] path data"),
    ("setAcl", "[-s] [-v version] [-R] path acl"),
    ("setquota", "-n|-b|-N|-B val path"),
    ("stat", "[-w] path"),
    ("sync", "path"),
    ("version", ""),
    ("whoami", ""),
];

pub fn command_names() -> Vec<&'static str> {
    USAGES.iter().map(|(c, _)| *c).collect()
}

pub fn is_command(cmd: &str) -> bool {
    USAGES.iter().any(|(c, _)| *c == cmd)
}

/// `getUsageStr()`: the command and its options.
pub fn usage_of(cmd: &str) -> String {
    let opts = USAGES
        .iter()
        .find(|(c, _)| *c == cmd)
        .map_or("", |(_, o)| *o);
    format!("{cmd} {opts}")
}

/// `ZooKeeperMain.usage()`, printed to stderr.
pub fn usage_text() -> String {
    let mut s = String::from(
        "ZooKeeper -server host:port -client-configuration properties-file cmd args\n",
    );
    for (c, o) in USAGES {
        s.push_str(&format!("\t{c} {o}\n"));
    }
    s
}

/// What a command needs from the shell: the output streams and the session.
pub struct Ctx<'a> {
    pub hub: &'a Arc<Hub>,
    pub session: &'a mut Session,
}

fn write_to(mut w: impl Write, text: &str) {
    let _ = w.write_all(text.as_bytes());
    let _ = w.flush();
}

impl Ctx<'_> {
    /// A line on stdout, after the events that arrived before it.
    pub fn out(&mut self, line: &str) {
        self.hub.drain();
        write_to(std::io::stdout().lock(), &format!("{line}\n"));
    }

    /// Text on stdout without a line end (`PrintStream.print`).
    pub fn out_raw(&mut self, text: &str) {
        self.hub.drain();
        write_to(std::io::stdout().lock(), text);
    }

    /// A line on stderr, after the events that arrived before it.
    pub fn err(&mut self, line: &str) {
        self.hub.drain();
        write_to(std::io::stderr().lock(), &format!("{line}\n"));
    }

    fn stat(&mut self, stat: &Stat) {
        for l in stat_lines(stat) {
            self.out(&l);
        }
    }

    /// The client, once connected; a failed attempt reads as `ConnectionLoss for <path>`.
    pub async fn client(&mut self, path: &str) -> Result<Client, CliError> {
        self.session
            .client()
            .await
            .map_err(|e| CliError::new(cli_error(&e, Some(path))))
    }
}

fn parse(specs: &[OptSpec], argv: &[String]) -> Result<Parsed, CliError> {
    parse_options(specs, None, argv).map_err(CliError::new)
}

fn usage(cmd: &str) -> CliError {
    CliError::new(usage_of(cmd))
}

fn check_path(path: &str) -> Result<(), CliError> {
    validate_path(path, false).map_err(CliError::new)
}

fn wrap(path: &str) -> impl Fn(Error) -> CliError + '_ {
    move |e| CliError::new(cli_error(&e, Some(path)))
}

fn number_error(s: &str) -> CliError {
    CliError::new(format!(
        "java.lang.NumberFormatException: For input string: \"{s}\""
    ))
}

/// `-v version` (`Integer.parseInt`), `None` when absent.
fn version_opt(p: &Parsed) -> Result<Option<i32>, CliError> {
    match p.value("v") {
        None => Ok(None),
        Some(v) => java_parse_int(v).map(Some).ok_or_else(|| number_error(v)),
    }
}

/// ls, get and stat accept the pre-3.5 form `cmd path watch`: zkCli turns the third word
/// into `-w`, says so, and parses again.
fn retain_compatibility(
    ctx: &mut Ctx<'_>,
    specs: &[OptSpec],
    argv: &mut [String],
    parsed: Parsed,
    message: &str,
) -> Result<Parsed, CliError> {
    if parsed.args.len() <= 2 {
        return Ok(parsed);
    }
    if argv.len() > 2 {
        argv[2] = "-w".to_string();
    }
    ctx.err(message);
    parse(specs, argv)
}

/// `AclParser.parse`: `scheme:id:perms[,...]`, complaining about what it skips.
pub fn parse_acl(ctx: &mut Ctx<'_>, text: &str) -> Vec<Acl> {
    let mut acl = Vec::new();
    for a in java_split(text, ',') {
        let (Some(first), Some(last)) = (a.find(':'), a.rfind(':')) else {
            ctx.err(&format!("{a} does not have the form scheme:id:perm"));
            continue;
        };
        if first == last {
            ctx.err(&format!("{a} does not have the form scheme:id:perm"));
            continue;
        }
        let mut p = 0;
        for c in a[last + 1..].chars() {
            match c {
                'r' => p |= perms::READ,
                'w' => p |= perms::WRITE,
                'c' => p |= perms::CREATE,
                'd' => p |= perms::DELETE,
                'a' => p |= perms::ADMIN,
                other => ctx.err(&format!("Unknown perm type: {other}")),
            }
        }
        acl.push(Acl {
            perms: p,
            id: Id::new(&a[..first], &a[first + 1..last]),
        });
    }
    acl
}

/// Runs a server command (anything but the shell-local ones).
pub async fn run(ctx: &mut Ctx<'_>, argv: Vec<String>) -> Result<(), CliError> {
    let cmd = argv.first().cloned().unwrap_or_default();
    match cmd.as_str() {
        "ls" => ls(ctx, argv).await,
        "create" => create(ctx, &argv).await,
        "get" => get(ctx, argv).await,
        "set" => set(ctx, &argv).await,
        "stat" => stat(ctx, argv).await,
        "delete" => delete(ctx, &argv).await,
        "deleteall" => deleteall(ctx, &argv).await,
        "getAcl" => get_acl(ctx, &argv).await,
        "setAcl" => set_acl(ctx, &argv).await,
        "sync" => sync(ctx, &argv).await,
        "getEphemerals" => get_ephemerals(ctx, &argv).await,
        "getAllChildrenNumber" => get_all_children_number(ctx, &argv).await,
        "addauth" => addauth(ctx, &argv).await,
        "whoami" => whoami(ctx).await,
        "config" => config(ctx, &argv).await,
        "reconfig" => reconfig(ctx, &argv).await,
        "removewatches" => removewatches(ctx, &argv).await,
        "addWatch" => add_watch(ctx, &argv).await,
        "setquota" => quota::setquota(ctx, &argv).await,
        "listquota" => quota::listquota(ctx, &argv).await,
        "delquota" => quota::delquota(ctx, &argv).await,
        "version" => {
            ctx.out(&format!(
                "ZooKeeper CLI version: zkrs-cli {}",
                env!("CARGO_PKG_VERSION")
            ));
            Ok(())
        }
        "close" => {
            let hub = Arc::clone(ctx.hub);
            ctx.session.close(&hub, false).await;
            Ok(())
        }
        _ => Ok(()),
    }
}

const LS_SPECS: [OptSpec; 4] = [
    flag("?", "help"),
    flag("s", "stat"),
    flag("w", "watch"),
    flag("R", "recurse"),
];

async fn ls(ctx: &mut Ctx<'_>, mut argv: Vec<String>) -> Result<(), CliError> {
    let p = parse(&LS_SPECS, &argv)?;
    if p.has("?") {
        ctx.out("usage: ls [options] path\n -?   help\n -R   recurse\n -s   stat\n -w   watch");
    }
    let p = retain_compatibility(
        ctx,
        &LS_SPECS,
        &mut argv,
        p,
        "'ls path [watch]' has been deprecated. Please use 'ls [-w] path' instead.",
    )?;
    let Some(path) = p.arg(1).map(str::to_string) else {
        return Err(usage("ls"));
    };
    let watch = p.has("w");
    check_path(&path)?;
    let client = ctx.client(&path).await?;
    if p.has("R") {
        return ls_recursive(ctx, &client, &path, watch).await;
    }
    let (mut children, stat) = if watch {
        let (c, s, w) = client
            .get_children_and_watch(&path)
            .await
            .map_err(wrap(&path))?;
        ctx.hub.add_oneshot(w);
        (c, Some(s))
    } else if p.has("s") {
        let (c, s) = client
            .get_children_and_stat(&path)
            .await
            .map_err(wrap(&path))?;
        (c, Some(s))
    } else {
        (client.get_children(&path).await.map_err(wrap(&path))?, None)
    };
    children.sort_by(|a, b| java_cmp(a, b));
    ctx.out(&java_list(&children));
    if p.has("s") {
        if let Some(s) = stat {
            ctx.stat(&s);
        }
    }
    Ok(())
}

/// Children of `node`, sorted; `None` if the node is gone (skipped silently, as
/// `ZKUtil.visitSubTreeDFS` does).
async fn sorted_children(
    ctx: &mut Ctx<'_>,
    client: &Client,
    node: &str,
    watch: bool,
) -> Result<Option<Vec<String>>, CliError> {
    let listed = if watch {
        client.get_children_and_watch(node).await.map(|(c, _, w)| {
            ctx.hub.add_oneshot(w);
            c
        })
    } else {
        client.get_children(node).await
    };
    match listed {
        Ok(mut c) => {
            c.sort_by(|a, b| java_cmp(a, b));
            Ok(Some(c))
        }
        Err(Error::NoNode) => Ok(None),
        Err(e) => Err(CliError::new(cli_error(&e, Some(node)))),
    }
}

/// `ZKUtil.visitSubTreeDFS`: visits `path`, then each node's children (all of them) before
/// descending into the first child's subtree.
async fn visit_subtree<F>(
    ctx: &mut Ctx<'_>,
    client: &Client,
    path: &str,
    watch: bool,
    mut visit: F,
) -> Result<(), CliError>
where
    F: AsyncVisit,
{
    if watch {
        let (_, _, w) = client.get_data_and_watch(path).await.map_err(wrap(path))?;
        ctx.hub.add_oneshot(w);
    } else {
        client.get_data(path).await.map_err(wrap(path))?;
    }
    visit.visit(ctx, client, path).await;
    let mut stack = vec![path.to_string()];
    while let Some(node) = stack.pop() {
        let Some(children) = sorted_children(ctx, client, &node, watch).await? else {
            continue;
        };
        let paths: Vec<String> = children.iter().map(|c| join(&node, c)).collect();
        for p in &paths {
            visit.visit(ctx, client, p).await;
        }
        stack.extend(paths.into_iter().rev());
    }
    Ok(())
}

/// The callback of a subtree visit.
trait AsyncVisit {
    async fn visit(&mut self, ctx: &mut Ctx<'_>, client: &Client, path: &str);
}

struct PrintPath;

impl AsyncVisit for PrintPath {
    async fn visit(&mut self, ctx: &mut Ctx<'_>, _client: &Client, path: &str) {
        ctx.out(path);
    }
}

struct SetAclVisit {
    acl: Vec<Acl>,
    version: Option<i32>,
}

impl AsyncVisit for SetAclVisit {
    async fn visit(&mut self, ctx: &mut Ctx<'_>, client: &Client, path: &str) {
        // zkCli prints the KeeperException message without a line end.
        let result = if self.acl.is_empty() {
            Err(keeper_message(-114, None))
        } else {
            client
                .set_acl(path, &self.acl, self.version)
                .await
                .map_err(|e| keeper_message(error_code(&e), Some(path)))
        };
        if let Err(m) = result {
            ctx.out_raw(&m);
        }
    }
}

async fn ls_recursive(
    ctx: &mut Ctx<'_>,
    client: &Client,
    path: &str,
    watch: bool,
) -> Result<(), CliError> {
    visit_subtree(ctx, client, path, watch, PrintPath).await
}

const CREATE_SPECS: [OptSpec; 4] = [
    flag("e", "ephemeral"),
    flag("s", "sequential"),
    flag("c", "container"),
    valued("t", "ttl"),
];

/// `EphemeralType.TTL.maxValue()`.
const MAX_TTL: i64 = 0xFF_FFFF_FFFF;

async fn create(ctx: &mut Ctx<'_>, argv: &[String]) -> Result<(), CliError> {
    let p = parse(&CREATE_SPECS, argv)?;
    if p.args.len() < 2 {
        return Err(usage("create"));
    }
    let (e, s, c) = (p.has("e"), p.has("s"), p.has("c"));
    let ttl = p.value("t");
    if c && (e || s) {
        return Err(CliError::new(
            "-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.",
        ));
    }
    let ttl = match ttl {
        None => None,
        Some(t) => Some(
            java_parse_long(t).ok_or_else(|| CliError::new("-t argument must be a long value"))?,
        ),
    };
    if ttl.is_some() && e {
        return Err(CliError::new("TTLs cannot be used with Ephemeral znodes"));
    }
    if ttl.is_some() && c {
        return Err(CliError::new("TTLs cannot be used with Container znodes"));
    }
    let mode = match (e, s, c, ttl.is_some()) {
        (true, true, _, _) => CreateMode::EphemeralSequential,
        (true, false, _, _) => CreateMode::Ephemeral,
        (false, true, _, true) => CreateMode::PersistentSequentialWithTtl,
        (false, true, _, false) => CreateMode::PersistentSequential,
        (false, false, true, _) => CreateMode::Container,
        (false, false, false, true) => CreateMode::PersistentWithTtl,
        (false, false, false, false) => CreateMode::Persistent,
    };
    if let Some(t) = ttl {
        if t <= 0 || t > MAX_TTL {
            return Err(CliError::new(format!(
                "ttl must be positive and cannot be larger than: {MAX_TTL}"
            )));
        }
    }
    let path = p.args[1].clone();
    let data = p.args.get(2).map(|d| d.as_bytes().to_vec());
    let acl = match p.args.get(3) {
        Some(a) => parse_acl(ctx, a),
        None => Acl::open_unsafe(),
    };
    validate_path(&path, mode.is_sequential()).map_err(CliError::new)?;
    if acl.is_empty() {
        ctx.err(&keeper_message(-114, None));
        return Err(CliError::new(cli_error(&Error::InvalidAcl, None)));
    }
    let mut options = CreateOptions::new(mode).acl(acl);
    if let Some(t) = ttl {
        options = options.ttl(Duration::from_millis(t.unsigned_abs()));
    }
    let client = ctx.client(&path).await?;
    let created = match &data {
        Some(d) => client.create(&path, d, options).await,
        None => client.create_without_data(&path, options).await,
    };
    match created {
        Ok(new_path) => {
            ctx.err(&format!("Created {new_path}"));
            Ok(())
        }
        Err(e) => {
            match error_code(&e) {
                -114 => ctx.err(&keeper_message(-114, Some(&path))),
                -120 => ctx.err("Unable to create ephemeral node on a local session"),
                _ => {}
            }
            Err(CliError::new(cli_error(&e, Some(&path))))
        }
    }
}

const GET_SPECS: [OptSpec; 2] = [flag("s", "stats"), flag("w", "watch")];

async fn get(ctx: &mut Ctx<'_>, mut argv: Vec<String>) -> Result<(), CliError> {
    let p = parse(&GET_SPECS, &argv)?;
    if p.args.len() < 2 {
        return Err(usage("get"));
    }
    let p = retain_compatibility(
        ctx,
        &GET_SPECS,
        &mut argv,
        p,
        "'get path [watch]' has been deprecated. Please use 'get [-s] [-w] path' instead.",
    )?;
    let Some(path) = p.arg(1).map(str::to_string) else {
        return Err(usage("get"));
    };
    check_path(&path)?;
    let client = ctx.client(&path).await?;
    let (data, stat) = if p.has("w") {
        let (d, s, w) = client
            .get_data_and_watch(&path)
            .await
            .map_err(wrap(&path))?;
        ctx.hub.add_oneshot(w);
        if d.is_empty() {
            // The watching read cannot tell empty data from none ("null" in zkCli).
            match client.get_data_nullable(&path).await {
                Ok((d2, _)) => (d2, s),
                Err(_) => (Some(d), s),
            }
        } else {
            (Some(d), s)
        }
    } else {
        client.get_data_nullable(&path).await.map_err(wrap(&path))?
    };
    match data {
        Some(d) => ctx.out(&String::from_utf8_lossy(&d)),
        None => ctx.out("null"),
    }
    if p.has("s") {
        ctx.stat(&stat);
    }
    Ok(())
}

const SET_SPECS: [OptSpec; 2] = [flag("s", "stats"), valued("v", "version")];

async fn set(ctx: &mut Ctx<'_>, argv: &[String]) -> Result<(), CliError> {
    let p = parse(&SET_SPECS, argv)?;
    if p.args.len() < 3 {
        return Err(usage("set"));
    }
    let path = p.args[1].clone();
    let data = p.args[2].as_bytes().to_vec();
    let version = version_opt(&p)?;
    check_path(&path)?;
    let client = ctx.client(&path).await?;
    let stat = client
        .set_data(&path, &data, version)
        .await
        .map_err(wrap(&path))?;
    if p.has("s") {
        ctx.stat(&stat);
    }
    Ok(())
}

const STAT_SPECS: [OptSpec; 1] = [flag("w", "watch")];

async fn stat(ctx: &mut Ctx<'_>, mut argv: Vec<String>) -> Result<(), CliError> {
    let p = parse(&STAT_SPECS, &argv)?;
    if p.args.len() < 2 {
        return Err(usage("stat"));
    }
    let p = retain_compatibility(
        ctx,
        &STAT_SPECS,
        &mut argv,
        p,
        "'stat path [watch]' has been deprecated. Please use 'stat [-w] path' instead.",
    )?;
    let Some(path) = p.arg(1).map(str::to_string) else {
        return Err(usage("stat"));
    };
    check_path(&path)?;
    let client = ctx.client(&path).await?;
    let stat = if p.has("w") {
        let (s, w) = client.exists_and_watch(&path).await.map_err(wrap(&path))?;
        ctx.hub.add_oneshot(w);
        s
    } else {
        client.exists(&path).await.map_err(wrap(&path))?
    };
    match stat {
        Some(s) => {
            ctx.stat(&s);
            Ok(())
        }
        None => Err(CliError::new(cli_error(&Error::NoNode, Some(&path)))),
    }
}

const DELETE_SPECS: [OptSpec; 1] = [valued("v", "version")];

async fn delete(ctx: &mut Ctx<'_>, argv: &[String]) -> Result<(), CliError> {
    let p = parse(&DELETE_SPECS, argv)?;
    if p.args.len() < 2 {
        return Err(usage("delete"));
    }
    if p.args.len() > 2 {
        ctx.err(
            "'delete path [version]' has been deprecated. Please use 'delete [-v version] path' instead.",
        );
    }
    let path = p.args[1].clone();
    let version = version_opt(&p)?;
    check_path(&path)?;
    let client = ctx.client(&path).await?;
    client.delete(&path, version).await.map_err(wrap(&path))
}

const DELETEALL_SPECS: [OptSpec; 1] = [valued("b", "batch size")];

async fn deleteall(ctx: &mut Ctx<'_>, argv: &[String]) -> Result<(), CliError> {
    let p = parse(&DELETEALL_SPECS, argv)?;
    if p.args.len() < 2 {
        return Err(usage("deleteall"));
    }
    let batch = match p.value("b") {
        None => 1000,
        Some(b) => {
            java_parse_int(b).ok_or_else(|| CliError::new("-b argument must be an int value"))?
        }
    };
    let path = p.args[1].clone();
    check_path(&path)?;
    let client = ctx.client(&path).await?;
    // ZKUtil.listSubTreeBFS, then deletes in reverse order, `batch` per multi.
    let mut tree = vec![path.clone()];
    let mut i = 0;
    while i < tree.len() {
        let node = tree[i].clone();
        i += 1;
        let children = client.get_children(&node).await.map_err(wrap(&node))?;
        tree.extend(children.iter().map(|c| join(&node, c)));
    }
    // Like ZKUtil.deleteInBatch: up to ten multis in flight, and no new one once a failure
    // has been seen.
    const IN_FLIGHT: usize = 10;
    let batch = if batch <= 0 {
        usize::MAX
    } else {
        batch as usize
    };
    let mut success = true;
    let mut inflight: VecDeque<tokio::task::JoinHandle<bool>> = VecDeque::new();
    for chunk in tree.iter().rev().collect::<Vec<_>>().chunks(batch) {
        while inflight.front().is_some_and(|h| h.is_finished()) {
            if let Some(h) = inflight.pop_front() {
                success &= h.await.unwrap_or(false);
            }
        }
        if !success {
            break;
        }
        if inflight.len() >= IN_FLIGHT {
            if let Some(h) = inflight.pop_front() {
                success &= h.await.unwrap_or(false);
            }
        }
        let ops: Vec<Op> = chunk.iter().map(|p| Op::delete(p.as_str(), None)).collect();
        let c = client.clone();
        inflight.push_back(tokio::spawn(async move { c.multi(ops).await.is_ok() }));
    }
    for h in inflight {
        success &= h.await.unwrap_or(false);
    }
    if !success {
        ctx.err("Failed to delete some node(s) in the subtree!");
    }
    Ok(())
}

async fn get_acl(ctx: &mut Ctx<'_>, argv: &[String]) -> Result<(), CliError> {
    let p = parse(&[flag("s", "stats")], argv)?;
    if p.args.len() < 2 {
        return Err(usage("getAcl"));
    }
    let path = p.args[1].clone();
    check_path(&path)?;
    let client = ctx.client(&path).await?;
    let (acl, stat) = client.get_acl(&path).await.map_err(wrap(&path))?;
    for a in &acl {
        ctx.out(&acl_entry(a));
    }
    if p.has("s") {
        ctx.stat(&stat);
    }
    Ok(())
}

const SETACL_SPECS: [OptSpec; 3] = [
    flag("s", "stats"),
    valued("v", "version"),
    flag("R", "recursive"),
];

async fn set_acl(ctx: &mut Ctx<'_>, argv: &[String]) -> Result<(), CliError> {
    let p = parse(&SETACL_SPECS, argv)?;
    if p.args.len() < 3 {
        return Err(usage("setAcl"));
    }
    let path = p.args[1].clone();
    let acl = parse_acl(ctx, &p.args[2]);
    let version = version_opt(&p)?;
    check_path(&path)?;
    if p.has("R") {
        let client = ctx.client(&path).await?;
        return visit_subtree(ctx, &client, &path, false, SetAclVisit { acl, version }).await;
    }
    if acl.is_empty() {
        return Err(CliError::new(cli_error(&Error::InvalidAcl, None)));
    }
    let client = ctx.client(&path).await?;
    let stat = client
        .set_acl(&path, &acl, version)
        .await
        .map_err(wrap(&path))?;
    if p.has("s") {
        ctx.stat(&stat);
    }
    Ok(())
}

async fn sync(ctx: &mut Ctx<'_>, argv: &[String]) -> Result<(), CliError> {
    let p = parse(&[], argv)?;
    if p.args.len() < 2 {
        return Err(usage("sync"));
    }
    let path = p.args[1].clone();
    check_path(&path)?;
    // zkCli reports every failure, the connection's included, as a result code.
    let client = match ctx.session.client().await {
        Ok(c) => c,
        Err(e) => {
            ctx.out(&format!("Sync has failed. rc={}", error_code(&e)));
            return Ok(());
        }
    };
    match tokio::time::timeout(Duration::from_secs(30), client.sync(&path)).await {
        Ok(Ok(())) => ctx.out("Sync is OK"),
        Ok(Err(e)) => ctx.out(&format!("Sync has failed. rc={}", error_code(&e))),
        Err(_) => return Err(CliError::new(keeper_message(-7, Some(&path)))),
    }
    Ok(())
}

async fn get_ephemerals(ctx: &mut Ctx<'_>, argv: &[String]) -> Result<(), CliError> {
    let p = parse(&[], argv)?;
    let path = match p.arg(1) {
        Some(path) => {
            check_path(path)?;
            path.to_string()
        }
        None => "/".to_string(),
    };
    let client = ctx.client(&path).await?;
    let mut list = client.get_ephemerals(&path).await.map_err(wrap(&path))?;
    // The Java client hands these out as the server names them, chroot included.
    if let Some(chroot) = client.chroot() {
        list = list
            .into_iter()
            .map(|p| {
                if p == "/" {
                    chroot.to_string()
                } else {
                    format!("{chroot}{p}")
                }
            })
            .collect();
    }
    ctx.out(&java_list(&list));
    Ok(())
}

async fn get_all_children_number(ctx: &mut Ctx<'_>, argv: &[String]) -> Result<(), CliError> {
    let p = parse(&[], argv)?;
    if p.args.len() < 2 {
        return Err(usage("getAllChildrenNumber"));
    }
    let path = p.args[1].clone();
    check_path(&path)?;
    let client = ctx.client(&path).await?;
    let n = client
        .get_all_children_number(&path)
        .await
        .map_err(wrap(&path))?;
    ctx.out(&n.to_string());
    Ok(())
}

async fn addauth(ctx: &mut Ctx<'_>, argv: &[String]) -> Result<(), CliError> {
    let p = parse(&[], argv)?;
    if p.args.len() < 2 {
        return Err(usage("addauth"));
    }
    let auth = p
        .args
        .get(2)
        .map(|a| a.as_bytes().to_vec())
        .unwrap_or_default();
    // Like zkCli's addAuthInfo, send the credentials without waiting for the verdict: the
    // requests that follow are queued behind them, and a rejection ends the session (the
    // AuthFailed event; the next request fails with AuthFailed).
    if let Ok(client) = ctx.session.client().await {
        let sent = client.add_auth(&p.args[1], &auth);
        let mut sent = std::pin::pin!(sent);
        // The first poll hands the credentials to the session task; the verdict is dropped.
        std::future::poll_fn(|cx| {
            let _ = sent.as_mut().poll(cx);
            std::task::Poll::Ready(())
        })
        .await;
    }
    Ok(())
}

async fn whoami(ctx: &mut Ctx<'_>) -> Result<(), CliError> {
    let client = ctx.client("/").await?;
    let infos = client
        .who_am_i()
        .await
        .map_err(|e| CliError::new(cli_error(&e, None)))?;
    ctx.out("Auth scheme: User");
    for i in infos {
        ctx.out(&format!("{}: {}", i.auth_scheme, i.user));
    }
    Ok(())
}

async fn config(ctx: &mut Ctx<'_>, argv: &[String]) -> Result<(), CliError> {
    let p = parse(
        &[
            flag("s", "stats"),
            flag("w", "watch"),
            flag("c", "client connection string"),
        ],
        argv,
    )?;
    let node = zkrs_client::CONFIG_NODE;
    let client = ctx.client(node).await?;
    let (data, stat) = if p.has("w") {
        let (d, s, w) = client.get_config_and_watch().await.map_err(wrap(node))?;
        ctx.hub.add_oneshot(w);
        (d, s)
    } else {
        client.get_config().await.map_err(wrap(node))?
    };
    let text = String::from_utf8_lossy(&data).into_owned();
    if p.has("c") {
        ctx.out(&client_config_string(&text));
    } else {
        ctx.out(&text);
    }
    if p.has("s") {
        ctx.stat(&stat);
    }
    Ok(())
}

async fn reconfig(ctx: &mut Ctx<'_>, argv: &[String]) -> Result<(), CliError> {
    let p = parse(
        &[
            flag("s", "stats"),
            valued("v", "required current config version"),
            valued("file", "path of config file to parse for membership"),
            valued(
                "members",
                "comma-separated list of config strings for non-incremental reconfig",
            ),
            valued(
                "add",
                "comma-separated list of config strings for new servers",
            ),
            valued("remove", "comma-separated list of server IDs to remove"),
        ],
        argv,
    )?;
    let (file, members, add, remove) = (
        p.has("file"),
        p.has("members"),
        p.has("add"),
        p.has("remove"),
    );
    if !(file || members || add || remove) {
        return Err(usage("reconfig"));
    }
    let version =
        match p.value("v") {
            None => None,
            Some(v) => Some(i64::from_str_radix(v, 16).map_err(|_| {
                CliError::new("-v must be followed by a long (configuration version)")
            })?),
        };
    if (file || members) && (add || remove) {
        return Err(CliError::new(
            "Can't use -file or -members together with -add or -remove (mixing incremental and non-incremental modes is not allowed)",
        ));
    }
    if file && members {
        return Err(CliError::new(
            "Can't use -file and -members together (conflicting non-incremental modes)",
        ));
    }
    let joining = p.value("add").map(str::to_lowercase);
    let leaving = p.value("remove").map(str::to_lowercase);
    let mut new_members = p.value("members").map(str::to_lowercase);
    if let Some(f) = p.value("file") {
        new_members = Some(
            read_dynamic_config(f)
                .map_err(|m| CliError::new(format!("Error processing {f}{m}")))?,
        );
    }
    let client = ctx.client(zkrs_client::CONFIG_NODE).await?;
    let (data, stat) = client
        .reconfig(
            joining.as_deref(),
            leaving.as_deref(),
            new_members.as_deref(),
            version,
        )
        .await
        // ZooKeeperAdmin.reconfigure raises its KeeperException with the path "", so the
        // messages end in ": " where other commands print the path.
        .map_err(|e| CliError::new(cli_error(&e, Some(""))))?;
    ctx.out(&format!(
        "Committed new configuration:\n{}",
        String::from_utf8_lossy(&data)
    ));
    if p.has("s") {
        ctx.stat(&stat);
    }
    Ok(())
}

/// The membership lines (`server.N=`, `group.N=`, `weight.N=`) of a dynamic config file.
fn read_dynamic_config(file: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!(" ({e})"))?;
    let entries: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter(|l| l.starts_with("server.") || l.starts_with("group.") || l.starts_with("weight."))
        .map(|l| l.replace(' ', ""))
        .collect();
    if entries.is_empty() {
        return Err(" (no server entries)".into());
    }
    Ok(entries.join(","))
}

async fn removewatches(ctx: &mut Ctx<'_>, argv: &[String]) -> Result<(), CliError> {
    let p = parse(
        &[
            flag("c", "child watcher type"),
            flag("d", "data watcher type"),
            flag("a", "any watcher type"),
            flag("l", "remove locally when there is no server connection"),
        ],
        argv,
    )?;
    if p.args.len() < 2 {
        return Err(usage("removewatches"));
    }
    let path = p.args[1].clone();
    let kind = if p.has("c") {
        WatcherType::Children
    } else if p.has("d") {
        WatcherType::Data
    } else {
        WatcherType::Any
    };
    check_path(&path)?;
    let client = ctx.client(&path).await?;
    client
        .remove_watches(&path, kind)
        .await
        .map_err(wrap(&path))
}

async fn add_watch(ctx: &mut Ctx<'_>, argv: &[String]) -> Result<(), CliError> {
    let p = parse(&[valued("m", "")], argv)?;
    if p.args.len() != 2 {
        return Err(usage("addWatch"));
    }
    let mode = match p.value("m").map(str::to_uppercase).as_deref() {
        None | Some("PERSISTENT_RECURSIVE") => AddWatchMode::PersistentRecursive,
        Some("PERSISTENT") => AddWatchMode::Persistent,
        Some(_) => return Err(usage("addWatch")),
    };
    let path = p.args[1].clone();
    check_path(&path)?;
    let client = ctx.client(&path).await?;
    let w = client.add_watch(&path, mode).await.map_err(wrap(&path))?;
    ctx.hub.add_persistent(w);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_lines() {
        let text = usage_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "ZooKeeper -server host:port -client-configuration properties-file cmd args"
        );
        assert_eq!(lines[2], "\taddauth scheme auth");
        assert_eq!(lines[3], "\tclose ");
        // Sorted as Java sorts strings (upper case first).
        let names = command_names();
        let mut sorted = names.clone();
        sorted.sort_by(|a, b| java_cmp(a, b));
        assert_eq!(names, sorted);
        assert_eq!(usage_of("ls"), "ls [-s] [-w] [-R] path");
        assert_eq!(usage_of("whoami"), "whoami ");
        assert!(is_command("getAllChildrenNumber"));
        assert!(!is_command("rmr"));
        assert_eq!(
            CliError::not_found("foo").message,
            "Command not found: Command not found foo"
        );
    }

    #[test]
    fn dynamic_config_files() {
        let dir = std::env::temp_dir().join(format!("zkrs-cli-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("dyn.cfg");
        std::fs::write(
            &f,
            "# members\nserver.1=127.0.0.1:2888:3888;2181\nserver.2 = 127.0.0.2:2888:3888;2181\nversion=1\n",
        )
        .unwrap();
        assert_eq!(
            read_dynamic_config(f.to_str().unwrap()).unwrap(),
            "server.1=127.0.0.1:2888:3888;2181,server.2=127.0.0.2:2888:3888;2181"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
