//! `setquota`, `listquota` and `delquota`: the nodes zkCli keeps under `/zookeeper/quota`
//! (`<path>/zookeeper_limits` and `<path>/zookeeper_stats`, as `StatsTrack` strings).

use std::collections::BTreeMap;

use zkrs_client::{Client, CreateMode, Error};

use super::commands::{CliError, Ctx};
use super::format::{cli_error, validate_path};
use super::parse::{
    flag, java_parse_int, java_parse_long, java_split, parse_options, valued, OptGroup, OptSpec,
};

pub const QUOTA_ZOOKEEPER: &str = "/zookeeper/quota";
const PROC_ZOOKEEPER: &str = "/zookeeper";
const LIMIT_NODE: &str = "zookeeper_limits";
const STAT_NODE: &str = "zookeeper_stats";

fn quota_path(path: &str) -> String {
    format!("{QUOTA_ZOOKEEPER}{path}")
}

fn limit_path(path: &str) -> String {
    format!("{QUOTA_ZOOKEEPER}{path}/{LIMIT_NODE}")
}

fn stat_path(path: &str) -> String {
    format!("{QUOTA_ZOOKEEPER}{path}/{STAT_NODE}")
}

fn trim_quota_path(p: &str) -> &str {
    p.strip_prefix(QUOTA_ZOOKEEPER).unwrap_or(p)
}

/// `org.apache.zookeeper.StatsTrack`: `count=4,bytes=5=;byteHardLimit=10;countHardLimit=10`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsTrack {
    stats: BTreeMap<String, i64>,
}

impl StatsTrack {
    pub fn parse(text: &str) -> StatsTrack {
        let mut stats = BTreeMap::new();
        for pair in text.split([',', ';']).filter(|p| !p.is_empty()) {
            let kv = java_split(pair, '=');
            let Some(key) = kv.first() else { continue };
            let value = match kv.get(1) {
                Some(v) if !v.is_empty() => v.parse().unwrap_or(-1),
                _ => -1,
            };
            stats.insert((*key).to_string(), value);
        }
        StatsTrack { stats }
    }

    fn get(&self, key: &str) -> i64 {
        self.stats.get(key).copied().unwrap_or(-1)
    }

    fn set(&mut self, key: &str, value: i64) {
        self.stats.insert(key.to_string(), value);
    }

    pub fn count(&self) -> i64 {
        self.get("count")
    }
    pub fn bytes(&self) -> i64 {
        self.get("bytes")
    }
    pub fn count_hard(&self) -> i64 {
        self.get("countHardLimit")
    }
    pub fn bytes_hard(&self) -> i64 {
        self.get("byteHardLimit")
    }
    pub fn set_count(&mut self, v: i64) {
        self.set("count", v)
    }
    pub fn set_bytes(&mut self, v: i64) {
        self.set("bytes", v)
    }
    pub fn set_count_hard(&mut self, v: i64) {
        self.set("countHardLimit", v)
    }
    pub fn set_bytes_hard(&mut self, v: i64) {
        self.set("byteHardLimit", v)
    }
}

impl std::fmt::Display for StatsTrack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "count={},bytes={}", self.count(), self.bytes())?;
        let others: Vec<(&String, &i64)> = self
            .stats
            .iter()
            .filter(|(k, _)| k.as_str() != "count" && k.as_str() != "bytes")
            .collect();
        if !others.is_empty() {
            // The extra `=` keeps the string readable by pre-3.7 parsers.
            write!(f, "=")?;
            for (k, v) in others {
                write!(f, ";{k}={v}")?;
            }
        }
        Ok(())
    }
}

/// A failure inside the quota helpers: a server error on some path, or an
/// `IllegalArgumentException` message (zkCli reports both).
enum QuotaError {
    Keeper(Error, String),
    Illegal(String),
}

impl QuotaError {
    fn into_cli(self) -> CliError {
        match self {
            QuotaError::Keeper(e, p) => CliError::new(cli_error(&e, Some(&p))),
            QuotaError::Illegal(m) => CliError::new(m),
        }
    }
}

fn keeper(path: &str) -> impl Fn(Error) -> QuotaError + '_ {
    move |e| QuotaError::Keeper(e, path.to_string())
}

async fn get_string(client: &Client, path: &str) -> Result<String, QuotaError> {
    let (data, _) = client.get_data(path).await.map_err(keeper(path))?;
    Ok(String::from_utf8_lossy(&data).into_owned())
}

async fn exists(client: &Client, path: &str) -> Result<bool, QuotaError> {
    if let Err(m) = validate_path(path, false) {
        return Err(QuotaError::Illegal(m));
    }
    Ok(client.exists(path).await.map_err(keeper(path))?.is_some())
}

async fn create_empty(client: &Client, path: &str) -> Result<(), QuotaError> {
    match client
        .create_without_data(path, CreateMode::Persistent)
        .await
    {
        Ok(_) | Err(Error::NodeExists) => Ok(()),
        Err(e) => Err(QuotaError::Keeper(e, path.to_string())),
    }
}

const SETQUOTA_SPECS: [OptSpec; 4] = [
    valued("n", "num soft quota"),
    valued("b", "bytes soft quota"),
    valued("N", "num hard quota"),
    valued("B", "bytes hard quota"),
];

const DELQUOTA_SPECS: [OptSpec; 4] = [
    flag("n", "num soft quota"),
    flag("b", "bytes soft quota"),
    flag("N", "num hard quota"),
    flag("B", "bytes hard quota"),
];

pub async fn setquota(ctx: &mut Ctx<'_>, argv: &[String]) -> Result<(), CliError> {
    let group = OptGroup {
        members: &["n", "b", "N", "B"],
        required: true,
    };
    let p = parse_options(&SETQUOTA_SPECS, Some(group), argv).map_err(CliError::new)?;
    if p.args.len() < 2 {
        return Err(CliError::new("setquota -n|-b|-N|-B val path"));
    }
    let path = p.args[1].clone();
    if path.starts_with(QUOTA_ZOOKEEPER) {
        ctx.err(&format!(
            "cannot set a quota under the path: {QUOTA_ZOOKEEPER}"
        ));
        return Ok(());
    }
    let mut quota = StatsTrack::default();
    quota.set_count(-1);
    quota.set_bytes(-1);
    quota.set_count_hard(-1);
    quota.set_bytes_hard(-1);
    for (opt, hard, count) in [
        ("n", false, true),
        ("b", false, false),
        ("N", true, true),
        ("B", true, false),
    ] {
        let Some(v) = p.value(opt) else { continue };
        let parsed = if count {
            java_parse_int(v).map(i64::from)
        } else {
            java_parse_long(v)
        };
        let Some(n) = parsed else {
            ctx.err("NumberFormatException happens when parsing the option value");
            return Ok(());
        };
        if count && n <= 0 {
            ctx.err("the num quota must be greater than zero");
            return Ok(());
        }
        if !count && n < 0 {
            ctx.err("the bytes quota must be greater than or equal to zero");
            return Ok(());
        }
        match (count, hard) {
            (true, false) => quota.set_count(n),
            (false, false) => quota.set_bytes(n),
            (true, true) => quota.set_count_hard(n),
            (false, true) => quota.set_bytes_hard(n),
        }
    }
    let client = ctx.client(&path).await?;
    create_quota(ctx, &client, &path, &quota)
        .await
        .map_err(QuotaError::into_cli)
}

async fn create_quota(
    ctx: &mut Ctx<'_>,
    client: &Client,
    path: &str,
    quota: &StatsTrack,
) -> Result<(), QuotaError> {
    if !exists(client, path).await? {
        return Err(QuotaError::Illegal(format!("{path} does not exist.")));
    }
    check_child_quota(client, path).await?;
    check_parent_quota(client, path).await?;
    if !exists(client, QUOTA_ZOOKEEPER).await? {
        create_empty(client, PROC_ZOOKEEPER).await?;
        create_empty(client, QUOTA_ZOOKEEPER).await?;
    }
    let splits = java_split(path, '/');
    let mut qpath = QUOTA_ZOOKEEPER.to_string();
    for part in splits.iter().skip(1) {
        qpath.push('/');
        qpath.push_str(part);
        if !exists(client, &qpath).await? {
            create_empty(client, &qpath).await?;
        }
    }
    let stat_node = format!("{qpath}/{STAT_NODE}");
    let limit_node = format!("{qpath}/{LIMIT_NODE}");
    if !exists(client, &limit_node).await? {
        client
            .create(
                &limit_node,
                quota.to_string().as_bytes(),
                CreateMode::Persistent,
            )
            .await
            .map_err(keeper(&limit_node))?;
        let mut stats = StatsTrack::default();
        stats.set_count(0);
        stats.set_bytes(0);
        client
            .create(
                &stat_node,
                stats.to_string().as_bytes(),
                CreateMode::Persistent,
            )
            .await
            .map_err(keeper(&stat_node))?;
        let limits = StatsTrack::parse(&get_string(client, &limit_node).await?);
        let stats = StatsTrack::parse(&get_string(client, &stat_node).await?);
        check_quota(ctx, &limits, &stats);
    } else {
        let mut limits = StatsTrack::parse(&get_string(client, &limit_node).await?);
        if quota.count() > -1 {
            limits.set_count(quota.count());
        }
        if quota.bytes() > -1 {
            limits.set_bytes(quota.bytes());
        }
        if quota.count_hard() > -1 {
            limits.set_count_hard(quota.count_hard());
        }
        if quota.bytes_hard() > -1 {
            limits.set_bytes_hard(quota.bytes_hard());
        }
        let stats = StatsTrack::parse(&get_string(client, &stat_node).await?);
        check_quota(ctx, &limits, &stats);
        client
            .set_data(&limit_node, limits.to_string().as_bytes(), None)
            .await
            .map_err(keeper(&limit_node))?;
    }
    Ok(())
}

fn check_quota(ctx: &mut Ctx<'_>, quota: &StatsTrack, stats: &StatsTrack) {
    if (quota.count() > -1 && quota.count() < stats.count())
        || (quota.count_hard() > -1 && quota.count_hard() < stats.count())
    {
        ctx.out(&format!(
            "[Warning]: the count quota you create is less than the existing count:{}",
            stats.count()
        ));
    }
    if (quota.bytes() > -1 && quota.bytes() < stats.bytes())
        || (quota.bytes_hard() > -1 && quota.bytes_hard() < stats.bytes())
    {
        ctx.out(&format!(
            "[Warning]: the bytes quota you create is less than the existing bytes:{}",
            stats.bytes()
        ));
    }
}

/// Refuses a quota on a node whose descendant already has one (zkCli walks the quota tree
/// under the node, depth first).
async fn check_child_quota(client: &Client, path: &str) -> Result<(), QuotaError> {
    let real = quota_path(path);
    if let Err(m) = validate_path(&real, false) {
        return Err(QuotaError::Illegal(m));
    }
    match client.get_data(&real).await {
        Ok(_) => {}
        Err(Error::NoNode) => return Ok(()),
        Err(e) => return Err(QuotaError::Keeper(e, real)),
    }
    let check = |node: &str, children: &[String]| -> Result<(), QuotaError> {
        if node != real && children.iter().any(|c| c == LIMIT_NODE) {
            return Err(QuotaError::Illegal(format!(
                "{path} has a child {} which has a quota",
                trim_quota_path(node)
            )));
        }
        Ok(())
    };
    // visitSubTreeDFS calls back on the root, then on each child of a node before visiting
    // the children's subtrees.
    let mut stack = vec![real.clone()];
    let mut first = true;
    while let Some(node) = stack.pop() {
        let children = match client.get_children(&node).await {
            Ok(mut c) => {
                c.sort_by(|a, b| super::parse::java_cmp(a, b));
                c
            }
            Err(Error::NoNode) => continue,
            Err(e) => return Err(QuotaError::Keeper(e, node)),
        };
        if first {
            check(&node, &children)?;
            first = false;
        }
        let paths: Vec<String> = children
            .iter()
            .map(|c| zkrs_client::proto::path::join(&node, c))
            .collect();
        for p in &paths {
            let grandchildren = match client.get_children(p).await {
                Ok(c) => c,
                Err(Error::NoNode) => continue,
                Err(e) => return Err(QuotaError::Keeper(e, p.clone())),
            };
            check(p, &grandchildren)?;
        }
        for p in paths.into_iter().rev() {
            stack.push(p);
        }
    }
    Ok(())
}

async fn check_parent_quota(client: &Client, path: &str) -> Result<(), QuotaError> {
    let splits = java_split(path, '/');
    let mut qpath = QUOTA_ZOOKEEPER.to_string();
    let own = quota_path(path);
    for part in splits.iter().take(splits.len().saturating_sub(1)).skip(1) {
        qpath.push('/');
        qpath.push_str(part);
        let children = match client.get_children(&qpath).await {
            Ok(c) => c,
            Err(Error::NoNode) => return Ok(()),
            Err(e) => return Err(QuotaError::Keeper(e, qpath)),
        };
        if children.is_empty() {
            return Ok(());
        }
        if qpath != own && children.iter().any(|c| c == LIMIT_NODE) {
            return Err(QuotaError::Illegal(format!(
                "{path} has a parent {} which has a quota",
                trim_quota_path(&qpath)
            )));
        }
    }
    Ok(())
}

pub async fn listquota(ctx: &mut Ctx<'_>, argv: &[String]) -> Result<(), CliError> {
    let p = parse_options(&[], None, argv).map_err(CliError::new)?;
    if p.args.len() < 2 {
        return Err(CliError::new("listquota path"));
    }
    let path = p.args[1].clone();
    let limit = limit_path(&path);
    ctx.err(&format!("absolute path is {limit}"));
    if let Err(m) = validate_path(&limit, false) {
        return Err(CliError::new(m));
    }
    let client = ctx.client(&limit).await?;
    let mut lines = Vec::new();
    for node in [limit.clone(), stat_path(&path)] {
        match client.get_data(&node).await {
            Ok((data, _)) => lines.push(StatsTrack::parse(&String::from_utf8_lossy(&data))),
            Err(Error::NoNode) => {
                ctx.err(&format!("quota for {path} does not exist."));
                return Ok(());
            }
            Err(e) => return Err(CliError::new(cli_error(&e, Some(&node)))),
        }
    }
    for (i, st) in lines.iter().enumerate() {
        let what = if i == 0 { "quota" } else { "stat" };
        ctx.out(&format!("Output {what} for {path} {st}"));
    }
    Ok(())
}

pub async fn delquota(ctx: &mut Ctx<'_>, argv: &[String]) -> Result<(), CliError> {
    let group = OptGroup {
        members: &["n", "b", "N", "B"],
        required: false,
    };
    let p = parse_options(&DELQUOTA_SPECS, Some(group), argv).map_err(CliError::new)?;
    if p.args.len() < 2 {
        return Err(CliError::new("delquota [-n|-b|-N|-B] path"));
    }
    let path = p.args[1].clone();
    let flags = ["n", "b", "N", "B"].map(|f| p.has(f));
    let any = flags.iter().any(|f| *f);
    let parent = quota_path(&path);
    let limit = limit_path(&path);
    let client = ctx.client(&limit).await?;
    let result: Result<(), QuotaError> = async {
        if !exists(&client, &limit).await? {
            ctx.out(&format!("Quota does not exist for {path}"));
            return Ok(());
        }
        let mut limits = StatsTrack::parse(&get_string(&client, &limit).await?);
        if !any {
            let children = client
                .get_children(&parent)
                .await
                .map_err(keeper(&parent))?;
            for c in children {
                let child = format!("{parent}/{c}");
                client.delete(&child, None).await.map_err(keeper(&child))?;
            }
            trim_proc_quotas(&client, &parent).await?;
        } else {
            if flags[0] {
                limits.set_count(-1);
            }
            if flags[1] {
                limits.set_bytes(-1);
            }
            if flags[2] {
                limits.set_count_hard(-1);
            }
            if flags[3] {
                limits.set_bytes_hard(-1);
            }
            client
                .set_data(&limit, limits.to_string().as_bytes(), None)
                .await
                .map_err(keeper(&limit))?;
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Ok(()),
        Err(QuotaError::Keeper(Error::NoNode, _)) => {
            ctx.err(&format!("quota for {path} does not exist."));
            Ok(())
        }
        Err(e) => Err(e.into_cli()),
    }
}

/// Deletes the now-empty quota nodes up the tree, stopping at `/zookeeper/quota`.
async fn trim_proc_quotas(client: &Client, path: &str) -> Result<(), QuotaError> {
    let mut path = path.to_string();
    while path != QUOTA_ZOOKEEPER {
        let children = client.get_children(&path).await.map_err(keeper(&path))?;
        if !children.is_empty() {
            break;
        }
        client.delete(&path, None).await.map_err(keeper(&path))?;
        match path.rfind('/') {
            Some(i) => path.truncate(i),
            None => break,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_track_strings() {
        let mut q = StatsTrack::default();
        q.set_count(-1);
        q.set_bytes(-1);
        q.set_count_hard(-1);
        q.set_bytes_hard(-1);
        q.set_count(5);
        assert_eq!(
            q.to_string(),
            "count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=-1"
        );
        let mut s = StatsTrack::default();
        s.set_count(0);
        s.set_bytes(0);
        assert_eq!(s.to_string(), "count=0,bytes=0");
        let parsed = StatsTrack::parse("count=5,bytes=100=;byteHardLimit=-1;countHardLimit=7");
        assert_eq!(parsed.count(), 5);
        assert_eq!(parsed.bytes(), 100);
        assert_eq!(parsed.count_hard(), 7);
        assert_eq!(parsed.bytes_hard(), -1);
        assert_eq!(
            parsed.to_string(),
            "count=5,bytes=100=;byteHardLimit=-1;countHardLimit=7"
        );
        // Pre-3.7 strings, and garbage, parse without panicking.
        assert_eq!(
            StatsTrack::parse("count=3,bytes=-1").to_string(),
            "count=3,bytes=-1"
        );
        assert_eq!(StatsTrack::parse("").to_string(), "count=-1,bytes=-1");
        assert_eq!(StatsTrack::parse("count,x=").count(), -1);
    }

    #[test]
    fn quota_paths() {
        assert_eq!(limit_path("/a"), "/zookeeper/quota/a/zookeeper_limits");
        assert_eq!(stat_path("/a/b"), "/zookeeper/quota/a/b/zookeeper_stats");
        assert_eq!(trim_quota_path("/zookeeper/quota/a"), "/a");
    }
}
