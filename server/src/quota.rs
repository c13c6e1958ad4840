//! Quota bookkeeping, as Apache's tree keeps it: `setquota` creates
//! `/zookeeper/quota/<path>/zookeeper_limits` and `.../zookeeper_stats`; the tree keeps the
//! stats node's data (`count=N,bytes=M`) equal to the node count and data bytes of the
//! subtree under `<path>`, on every member alike. Limits are advisory (Apache only logs by
//! default), so nothing is refused here.

use std::collections::HashSet;

use crate::tree::QUOTA;

pub const LIMIT_NODE: &str = "zookeeper_limits";
pub const STAT_NODE: &str = "zookeeper_stats";

/// The quota'd path a limits or stats node belongs to: `/zookeeper/quota/a/b/zookeeper_stats`
/// -> (`/a/b`, `zookeeper_stats`). None for other paths or one directly under the quota root.
pub fn quota_target(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix(QUOTA)?;
    let slash = rest.rfind('/')?;
    let (prefix, name) = (&rest[..slash], &rest[slash + 1..]);
    if prefix.is_empty() || (name != LIMIT_NODE && name != STAT_NODE) {
        return None;
    }
    Some((prefix, name))
}

pub fn stat_path(prefix: &str) -> String {
    format!("{QUOTA}{prefix}/{STAT_NODE}")
}

/// `count=N,bytes=M` as Apache's `StatsTrack` writes it.
pub fn format_stats(count: i64, bytes: i64) -> Vec<u8> {
    format!("count={count},bytes={bytes}").into_bytes()
}

/// Reads `count` and `bytes` from a stats node's data (other keys are kept out of it).
pub fn parse_stats(data: &[u8]) -> (i64, i64) {
    let text = String::from_utf8_lossy(data);
    let mut count = 0;
    let mut bytes = 0;
    for part in text.split(',') {
        if let Some((k, v)) = part.split_once('=') {
            match k.trim() {
                "count" => count = v.trim().parse().unwrap_or(0),
                "bytes" => bytes = v.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    (count, bytes)
}

/// The paths that have quotas.
#[derive(Debug, Default, Clone)]
pub struct QuotaPaths {
    prefixes: HashSet<String>,
}

impl QuotaPaths {
    pub fn add(&mut self, prefix: &str) {
        self.prefixes.insert(prefix.to_string());
    }

    pub fn remove(&mut self, prefix: &str) {
        self.prefixes.remove(prefix);
    }

    pub fn is_empty(&self) -> bool {
        self.prefixes.is_empty()
    }

    /// The deepest quota'd path that is `path` or an ancestor of it (`/zookeeper` itself
    /// excluded, as Apache excludes it).
    pub fn max_prefix(&self, path: &str) -> Option<&str> {
        if self.prefixes.is_empty() || path == "/zookeeper" {
            return None;
        }
        let mut p = path;
        loop {
            if let Some(found) = self.prefixes.get(p) {
                return Some(found);
            }
            match p.rfind('/') {
                Some(0) | None => return None,
                Some(i) => p = &p[..i],
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_stats() {
        assert_eq!(
            quota_target("/zookeeper/quota/a/b/zookeeper_stats"),
            Some(("/a/b", STAT_NODE))
        );
        assert_eq!(quota_target("/zookeeper/quota/zookeeper_limits"), None);
        assert_eq!(quota_target("/a/zookeeper_limits"), None);
        assert_eq!(parse_stats(b"count=2,bytes=4"), (2, 4));
        assert_eq!(format_stats(3, 9), b"count=3,bytes=9");
        let mut q = QuotaPaths::default();
        q.add("/a");
        assert_eq!(q.max_prefix("/a/b/c"), Some("/a"));
        assert_eq!(q.max_prefix("/ab"), None);
        q.add("/a/b");
        assert_eq!(q.max_prefix("/a/b/c"), Some("/a/b"));
    }
}
