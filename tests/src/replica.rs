//! Checks that every member of an ensemble holds the same tree.
//!
//! [`tree_of`] walks every node through a client connected to ONE member (data, every
//! `Stat` field, ACL, children); [`assert_same_trees`] does so for every serving member
//! after a `sync`, compares the walks with the first member's and reports the first
//! differences. [`assert_no_digest_mismatches`] reads `zk_digest_mismatches_count` from the
//! `mntr` of the members that report it (Apache 3.8 checks its tree digest against the
//! leader's on every transaction) and requires 0.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::ensemble::Ensemble;
use crate::{zk, POLL, WAIT};

/// How many requests of a walk are in flight at once (the client sends a request when it
/// is called and the reply is awaited later).
const PIPELINE: usize = 256;

/// One node as a client sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeView {
    pub data: Vec<u8>,
    pub stat: zk::Stat,
    /// `(permissions, scheme, id)` in the server's order.
    pub acl: Vec<(String, String, String)>,
}

/// Every node of one member's tree, by path.
pub type TreeView = BTreeMap<String, NodeView>;

fn acl_view(acls: &[zk::Acl]) -> Vec<(String, String, String)> {
    acls.iter()
        .map(|a| {
            (
                format!("{:?}", a.permission()),
                a.scheme().to_string(),
                a.id().to_string(),
            )
        })
        .collect()
}

fn child_path(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

/// Walks the whole tree through `client`, level by level, pipelining the requests. A node
/// that disappears during the walk is an error (`NoNode`): walk a quiet tree.
pub async fn tree_of(client: &zk::Client) -> Result<TreeView, zk::Error> {
    let mut tree = TreeView::new();
    let mut level = vec!["/".to_string()];
    while !level.is_empty() {
        let mut next = Vec::new();
        for chunk in level.chunks(PIPELINE / 3) {
            let pending: Vec<_> = chunk
                .iter()
                .map(|p| {
                    (
                        p,
                        client.get_data(p),
                        client.get_acl(p),
                        client.list_children(p),
                    )
                })
                .collect();
            for (path, data, acl, children) in pending {
                let (data, stat) = data.await?;
                let (acl, _) = acl.await?;
                let children = children.await?;
                if stat.num_children as usize != children.len() {
                    return Err(zk::Error::UnexpectedError(format!(
                        "{path}: numChildren {} but {} children listed (the tree changed \
                         during the walk)",
                        stat.num_children,
                        children.len()
                    )));
                }
                for c in children {
                    next.push(child_path(path, &c));
                }
                tree.insert(
                    path.clone(),
                    NodeView {
                        data,
                        stat,
                        acl: acl_view(&acl),
                    },
                );
            }
        }
        level = next;
    }
    Ok(tree)
}

/// Connects to member `i` only, `sync`s and walks its tree.
pub async fn member_tree(ensemble: &Ensemble, i: usize) -> Result<TreeView, String> {
    let addr = ensemble.member(i).addr();
    let client = crate::server::try_connect(addr, zk::Client::connector())
        .await
        .map_err(|e| format!("connecting to member {}: {e}", i + 1))?;
    let walk = async {
        client.sync("/").await?;
        tree_of(&client).await
    };
    match tokio::time::timeout(WAIT * 3, walk).await {
        Ok(Ok(tree)) => Ok(tree),
        Ok(Err(e)) => Err(format!("walking member {}: {e}", i + 1)),
        Err(_) => Err(format!("walking member {}: timed out", i + 1)),
    }
}

/// Nodes whose `ctime` and `mtime` are each member's own: Apache writes `/zookeeper/config`
/// locally at startup, with the local clock, outside any transaction.
pub const LOCAL_TIMES: &[&str] = &["/zookeeper/config"];

/// `node` as it must agree across members.
fn comparable(path: &str, node: &NodeView) -> NodeView {
    let mut node = node.clone();
    if LOCAL_TIMES.contains(&path) {
        node.stat.ctime = 0;
        node.stat.mtime = 0;
    }
    node
}

/// Up to `limit` lines describing how tree `b` (member `mb`) differs from `a` (member `ma`),
/// empty when they are equal.
pub fn differences(ma: u32, a: &TreeView, mb: u32, b: &TreeView, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let paths: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for path in paths {
        if out.len() >= limit {
            out.push("...".to_string());
            break;
        }
        let a_node = a.get(path).map(|n| comparable(path, n));
        let b_node = b.get(path).map(|n| comparable(path, n));
        match (a_node, b_node) {
            (Some(_), None) => out.push(format!("{path}: on member {ma}, missing on member {mb}")),
            (None, Some(_)) => out.push(format!("{path}: on member {mb}, missing on member {ma}")),
            (Some(x), Some(y)) if x != y => {
                let mut line = format!("{path}: member {ma} vs member {mb}:");
                if x.data != y.data {
                    let _ = write!(
                        line,
                        " data {:?} != {:?};",
                        String::from_utf8_lossy(&x.data),
                        String::from_utf8_lossy(&y.data)
                    );
                }
                let fields = [
                    ("czxid", x.stat.czxid, y.stat.czxid),
                    ("mzxid", x.stat.mzxid, y.stat.mzxid),
                    ("pzxid", x.stat.pzxid, y.stat.pzxid),
                    ("ctime", x.stat.ctime, y.stat.ctime),
                    ("mtime", x.stat.mtime, y.stat.mtime),
                    ("version", x.stat.version.into(), y.stat.version.into()),
                    ("cversion", x.stat.cversion.into(), y.stat.cversion.into()),
                    ("aversion", x.stat.aversion.into(), y.stat.aversion.into()),
                    (
                        "ephemeralOwner",
                        x.stat.ephemeral_owner,
                        y.stat.ephemeral_owner,
                    ),
                    (
                        "dataLength",
                        x.stat.data_length.into(),
                        y.stat.data_length.into(),
                    ),
                    (
                        "numChildren",
                        x.stat.num_children.into(),
                        y.stat.num_children.into(),
                    ),
                ];
                for (name, u, v) in fields {
                    if u != v {
                        let _ = write!(line, " {name} {u:#x} != {v:#x};");
                    }
                }
                if x.acl != y.acl {
                    let _ = write!(line, " acl {:?} != {:?};", x.acl, y.acl);
                }
                out.push(line);
            }
            _ => {}
        }
    }
    out
}

/// Waits (at most `limit`) until every serving member's tree (walked through a client of
/// that member after a `sync`) equals the first serving member's, in data, every `Stat`
/// field and ACL. Retried because a member may still be applying the last commits or
/// closing expired sessions; on timeout, panics with the first differences. Returns the
/// agreed tree.
pub async fn assert_same_trees(ensemble: &Ensemble, limit: Duration) -> TreeView {
    let start = Instant::now();
    let members = ensemble.serving_candidates();
    assert!(!members.is_empty(), "no member runs");
    loop {
        let mut report = Vec::new();
        let mut trees = Vec::new();
        for &i in &members {
            match member_tree(ensemble, i).await {
                Ok(t) => trees.push((i, t)),
                Err(e) => report.push(e),
            }
        }
        if report.is_empty() {
            let (first, reference) = &trees[0];
            for (i, t) in &trees[1..] {
                report.extend(differences(
                    ensemble.member(*first).id,
                    reference,
                    ensemble.member(*i).id,
                    t,
                    12,
                ));
            }
            if report.is_empty() {
                return trees.swap_remove(0).1;
            }
        }
        if start.elapsed() > limit {
            panic!(
                "the members' trees differ after {limit:?} ({} nodes on member {}):\n  {}",
                trees.first().map_or(0, |(_, t)| t.len()),
                trees.first().map_or(0, |(i, _)| ensemble.member(*i).id),
                report.join("\n  ")
            );
        }
        tokio::time::sleep(POLL * 10).await;
    }
}

/// Panics if a serving member reports a non-zero `zk_digest_mismatches_count` in `mntr`
/// (Apache members report it; a member that does not is skipped). Returns how many members
/// reported it.
pub fn assert_no_digest_mismatches(ensemble: &Ensemble) -> usize {
    assert_no_digest_mismatches_except(ensemble, &[])
}

/// [`assert_no_digest_mismatches`] for every serving member but those in `except`.
pub fn assert_no_digest_mismatches_except(ensemble: &Ensemble, except: &[usize]) -> usize {
    let mut reported = 0;
    for i in ensemble.serving_candidates() {
        if except.contains(&i) {
            continue;
        }
        let m = ensemble.member(i);
        let Some(mntr) = m.mntr() else { continue };
        if let Some(count) = mntr.get("zk_digest_mismatches_count") {
            reported += 1;
            if count != "0" {
                let log = m.log();
                let lines: Vec<&str> = log
                    .lines()
                    .filter(|l| l.to_ascii_lowercase().contains("digest"))
                    .take(10)
                    .collect();
                panic!(
                    "member {} ({:?}) counted {count} digest mismatches; its log about \
                     digests:\n  {}",
                    m.id,
                    m.launch(),
                    lines.join("\n  ")
                );
            }
        }
    }
    reported
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(data: &[u8], version: i32) -> NodeView {
        let stat = zk::Stat {
            czxid: 1,
            mzxid: 1,
            pzxid: 1,
            ctime: 10,
            mtime: 10,
            version,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: 0,
            data_length: data.len() as i32,
            num_children: 0,
        };
        NodeView {
            data: data.to_vec(),
            stat,
            acl: vec![("ALL".into(), "world".into(), "anyone".into())],
        }
    }

    #[test]
    fn differences_name_the_path_and_each_field() {
        let mut a = TreeView::new();
        a.insert("/same".into(), node(b"x", 0));
        a.insert("/changed".into(), node(b"x", 0));
        a.insert("/only-a".into(), node(b"", 0));
        let mut b = a.clone();
        b.remove("/only-a");
        b.insert("/only-b".into(), node(b"", 0));
        b.insert("/changed".into(), node(b"yy", 1));
        let d = differences(1, &a, 2, &b, 10);
        assert_eq!(d.len(), 3, "{d:?}");
        assert!(d[0].starts_with("/changed: member 1 vs member 2:"), "{d:?}");
        assert!(d[0].contains("data \"x\" != \"yy\""), "{d:?}");
        assert!(d[0].contains("version 0x0 != 0x1"), "{d:?}");
        assert!(d[0].contains("dataLength 0x1 != 0x2"), "{d:?}");
        assert!(!d[0].contains("mzxid"), "{d:?}");
        assert_eq!(d[1], "/only-a: on member 1, missing on member 2");
        assert_eq!(d[2], "/only-b: on member 2, missing on member 1");
        assert!(differences(1, &a, 1, &a, 10).is_empty());
    }

    #[test]
    fn local_times_of_the_config_node_are_not_compared() {
        let mut a = TreeView::new();
        a.insert("/zookeeper/config".into(), node(b"server.1=...", 0));
        let mut b = a.clone();
        b.get_mut("/zookeeper/config").expect("node").stat.mtime = 99;
        assert!(differences(1, &a, 2, &b, 10).is_empty());
        b.get_mut("/zookeeper/config").expect("node").data = b"other".to_vec();
        assert_eq!(differences(1, &a, 2, &b, 10).len(), 1);
    }

    #[test]
    fn differences_stop_at_the_limit() {
        let a: TreeView = (0..20)
            .map(|i| (format!("/n{i:02}"), node(b"", 0)))
            .collect();
        let d = differences(1, &a, 2, &TreeView::new(), 5);
        assert_eq!(d.len(), 6);
        assert_eq!(d[5], "...");
    }
}
