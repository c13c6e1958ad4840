//! Replica invariants, on histories the real [`Preparer`] makes from seeded random
//! requests (several proposals in flight before they apply, as on a leader):
//! - the same txns give byte-identical snapshots and equal digests on two trees;
//! - snapshot, load, replay equals direct apply;
//! - the running digest equals a recomputation after every txn;
//! - replaying txns a fuzzy snapshot already holds changes nothing (Apache's idempotent
//!   replay).

use zkrs_proto::request::{CreateRequest, PathVersion, SetAclRequest, SetDataRequest};
use zkrs_proto::{Acl, OpCode, Request};

use super::DataTree;
use crate::acl::AuthInfo;
use crate::prep::{PrepConfig, PrepContext, Preparer};
use crate::storage::snapshot;
use crate::txn::{Txn, TxnHeader};

/// splitmix64: small, seeded, the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, pct: usize) -> bool {
        self.below(100) < pct
    }

    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

/// Builds requests against the tree as it stands (some of them fail, as real ones do).
struct Requests<'a> {
    rng: &'a mut Rng,
    tree: &'a DataTree,
}

impl Requests<'_> {
    /// An existing path outside the system subtree, or `/`.
    fn existing(&mut self) -> String {
        let mut paths = Vec::new();
        self.tree.visit_nodes(|p, _| {
            if !p.starts_with("/zookeeper") {
                paths.push(p.to_string());
            }
        });
        self.rng.pick(&paths).clone()
    }

    fn data(&mut self) -> Option<Vec<u8>> {
        if self.rng.chance(10) {
            return None;
        }
        let n = self.rng.below(12);
        Some((0..n).map(|_| self.rng.next() as u8).collect())
    }

    fn acl(&mut self) -> Vec<Acl> {
        if self.rng.chance(15) {
            Acl::read_unsafe()
        } else {
            Acl::open_unsafe()
        }
    }

    fn version(&mut self, path: &str) -> i32 {
        let current = self.tree.get(path).map_or(0, |n| n.stat().version);
        match self.rng.below(4) {
            0 => current,
            1 => current + 1,
            _ => -1,
        }
    }

    fn create(&mut self, in_multi: bool) -> Request {
        let parent = self.existing();
        let name = self.rng.pick(&["a", "b", "c", "d"]);
        let path = if parent == "/" {
            format!("/{name}")
        } else {
            format!("{parent}/{name}")
        };
        let flags = *self.rng.pick(&[0, 0, 0, 1, 2, 3, 4, 5, 6]);
        let op = match flags {
            4 if !in_multi || self.rng.chance(50) => OpCode::CreateContainer,
            5 | 6 => OpCode::CreateTtl,
            _ if self.rng.chance(50) => OpCode::Create,
            _ => OpCode::Create2,
        };
        let ttl = if op == OpCode::CreateTtl {
            *self.rng.pick(&[1000, 60_000])
        } else {
            -1
        };
        Request::Create(
            op,
            CreateRequest {
                path,
                data: self.data(),
                acl: self.acl(),
                flags,
                ttl,
            },
        )
    }

    fn delete(&mut self) -> Request {
        let path = self.existing();
        let version = self.version(&path);
        Request::Delete(PathVersion { path, version })
    }

    fn set_data(&mut self) -> Request {
        let path = self.existing();
        Request::SetData(SetDataRequest {
            version: self.version(&path),
            data: self.data(),
            path,
        })
    }

    fn request(&mut self) -> Request {
        match self.rng.below(10) {
            0..=3 => self.create(false),
            4 | 5 => self.delete(),
            6 | 7 => self.set_data(),
            8 => {
                let path = self.existing();
                Request::SetAcl(SetAclRequest {
                    acl: self.acl(),
                    version: -1,
                    path,
                })
            }
            _ => {
                let n = 1 + self.rng.below(4);
                let ops = (0..n)
                    .map(|_| match self.rng.below(4) {
                        0 => self.create(true),
                        1 => self.delete(),
                        2 => self.set_data(),
                        _ => {
                            let path = self.existing();
                            Request::Check(PathVersion {
                                version: self.version(&path),
                                path,
                            })
                        }
                    })
                    .collect();
                Request::Multi(OpCode::Multi, ops)
            }
        }
    }
}

/// A committed history of `len` txns from `seed`: sessions come and go (closing deletes
/// their ephemerals), the reaper removes containers and TTL nodes, a quota is set, and
/// failed requests are logged as error txns, as Apache's leader logs them.
fn history(seed: u64, len: usize) -> Vec<(TxnHeader, Txn)> {
    let mut rng = Rng(seed);
    let mut tree = DataTree::new();
    let mut prep = Preparer::new(PrepConfig {
        extended_types_enabled: true,
        reconfig_enabled: false,
        standalone_enabled: true,
    });
    let auth = AuthInfo::default();
    let mut sessions: Vec<i64> = Vec::new();
    let mut next_session = 0x0100_0000_0000_0001_i64;
    let mut zxid = 0_i64;
    let mut out = Vec::new();
    let mut quota_steps = vec![
        "/zookeeper/quota/a/zookeeper_stats",
        "/zookeeper/quota/a/zookeeper_limits",
        "/zookeeper/quota/a",
    ];
    while out.len() < len {
        // Several proposals in flight: each is prepared against the tree plus the ones
        // before it, and they apply together.
        let mut batch = Vec::new();
        for _ in 0..1 + rng.below(4) {
            let session = match sessions.as_slice() {
                [] => 0,
                s => *rng.pick(s),
            };
            let ctx = PrepContext {
                tree: &tree,
                auth: &auth,
                session_id: session,
                zxid: zxid + 1,
                ensemble: None,
            };
            let roll = rng.below(100);
            let (sid, txn) = if roll < 6 || sessions.is_empty() {
                let id = next_session;
                next_session += 1;
                sessions.push(id);
                (id, Txn::CreateSession { timeout_ms: 30_000 })
            } else if roll < 10 {
                sessions.retain(|&s| s != session);
                (session, prep.prepare_close_session(&ctx))
            } else if roll < 14 {
                let mut reapable: Vec<String> =
                    tree.containers().chain(tree.ttl_nodes()).cloned().collect();
                reapable.sort();
                let Some(path) = reapable.first().cloned() else {
                    continue;
                };
                let ctx = PrepContext {
                    session_id: 0,
                    ..ctx
                };
                match prep.prepare_delete_container(&ctx, &path) {
                    Ok(t) => (0, t),
                    Err(_) => continue,
                }
            } else if roll < 16 && !quota_steps.is_empty() {
                let path = quota_steps.pop().unwrap_or_default();
                let req = Request::Create(
                    OpCode::Create,
                    CreateRequest {
                        path: path.to_string(),
                        data: Some(b"count=50,bytes=5000".to_vec()),
                        acl: Acl::open_unsafe(),
                        flags: 0,
                        ttl: -1,
                    },
                );
                match prep.prepare(&ctx, &req) {
                    Ok(t) => (session, t),
                    Err(_) => continue,
                }
            } else {
                let req = Requests {
                    rng: &mut rng,
                    tree: &tree,
                }
                .request();
                match prep.prepare(&ctx, &req) {
                    Ok(t) => (session, t),
                    Err(e) => (session, Txn::Error { err: e.code() }),
                }
            };
            zxid += 1;
            let hdr = TxnHeader {
                session_id: sid,
                cxid: zxid as i32,
                zxid,
                time: 1_700_000_000_000 + 7 * zxid,
            };
            batch.push((hdr, txn));
        }
        for (hdr, txn) in batch {
            tree.apply(&hdr, &txn, &mut Vec::new());
            prep.applied(hdr.zxid);
            out.push((hdr, txn));
        }
    }
    out.truncate(len);
    out
}

fn apply_all<'a>(tree: &mut DataTree, txns: impl IntoIterator<Item = &'a (TxnHeader, Txn)>) {
    for (hdr, txn) in txns {
        tree.apply(hdr, txn, &mut Vec::new());
    }
}

const SEEDS: std::ops::Range<u64> = 0..12;
const LEN: usize = 400;

#[test]
fn histories_cover_every_kind_of_txn() {
    let mut kinds = std::collections::BTreeSet::new();
    for seed in SEEDS {
        for (_, t) in history(seed, LEN) {
            kinds.insert(crate::txn::apache::txn_type(&t));
            if let Txn::Multi(subs) = &t {
                kinds.extend(subs.iter().map(|s| 100 + crate::txn::apache::txn_type(s)));
            }
        }
    }
    use crate::txn::apache::op;
    for k in [
        op::CREATE_SESSION,
        op::CLOSE_SESSION,
        op::CREATE,
        op::CREATE2,
        op::CREATE_CONTAINER,
        op::CREATE_TTL,
        op::DELETE,
        op::DELETE_CONTAINER,
        op::SET_DATA,
        op::SET_ACL,
        op::ERROR,
        op::MULTI,
        100 + op::CHECK,
        100 + op::ERROR,
        100 + op::CREATE,
    ] {
        assert!(kinds.contains(&k), "no txn of type {k} in {kinds:?}");
    }
}

#[test]
fn the_same_txns_give_the_same_snapshot_and_digest_on_two_replicas() {
    for seed in SEEDS {
        let h = history(seed, LEN);
        let (mut a, mut b) = (DataTree::new(), DataTree::new());
        for (i, (hdr, txn)) in h.iter().enumerate() {
            a.apply(hdr, txn, &mut Vec::new());
            b.apply(hdr, txn, &mut Vec::new());
            assert_eq!(a.digest(), b.digest(), "seed {seed}, txn {i}");
            assert_eq!(
                a.digest(),
                a.compute_digest(),
                "seed {seed}: the running digest after txn {i} ({txn:?})"
            );
        }
        assert!(
            snapshot::serialize(&a) == snapshot::serialize(&b),
            "seed {seed}"
        );
    }
}

#[test]
fn snapshot_load_and_replay_equals_direct_apply() {
    for seed in SEEDS {
        let h = history(seed, LEN);
        let mut direct = DataTree::new();
        apply_all(&mut direct, &h);
        let cut = (seed as usize * 37) % LEN;
        let mut before = DataTree::new();
        apply_all(&mut before, &h[..cut]);
        let mut loaded = snapshot::decode(&snapshot::serialize(&before)).unwrap();
        assert_eq!(
            loaded.digest(),
            before.digest(),
            "seed {seed}: digest at load"
        );
        apply_all(&mut loaded, &h[cut..]);
        assert_eq!(loaded.digest(), direct.digest(), "seed {seed}");
        assert!(
            snapshot::serialize(&loaded) == snapshot::serialize(&direct),
            "seed {seed}, snapshot after {cut} txns"
        );
    }
}

/// A fuzzy snapshot: the tree after `k` txns, labelled as of `j < k`. Recovery replays from
/// `j + 1`, so the txns `j + 1..=k` apply a second time; they must leave the tree as direct
/// application does. The subtle cases are Apache's too: a node deleted and re-created
/// within the window is deleted and re-created again (so its parent's child order changes,
/// which snapshots do not show: children are written in name order), and a create that
/// meets its node still raises the parent's cversion and pzxid.
#[test]
fn replaying_what_a_fuzzy_snapshot_holds_changes_nothing() {
    let mut windows = 0;
    for seed in SEEDS {
        let h = history(seed, LEN);
        let mut direct = DataTree::new();
        apply_all(&mut direct, &h);
        let expected = snapshot::serialize(&direct);
        let mut rng = Rng(seed ^ 0xF0F0);
        for _ in 0..8 {
            let j = rng.below(LEN - 1);
            let k = j + 1 + rng.below((LEN - j - 1).min(40));
            let mut fuzzy = DataTree::new();
            apply_all(&mut fuzzy, &h[..k]);
            let mut replayed = snapshot::decode(&snapshot::serialize(&fuzzy)).unwrap();
            apply_all(&mut replayed, &h[j..]);
            assert_eq!(
                replayed.digest(),
                direct.digest(),
                "seed {seed}: snapshot after {k} txns, replayed from {}",
                j + 1
            );
            assert_eq!(replayed.digest(), replayed.compute_digest());
            assert!(
                snapshot::serialize(&replayed) == expected,
                "seed {seed}: snapshot after {k} txns, replayed from {}",
                j + 1
            );
            windows += 1;
        }
    }
    assert_eq!(windows, SEEDS.count() * 8);
}

/// A snapshot taken the way Apache takes one, while txns keep applying: it is labelled
/// with the zxid of the last txn applied when it started (`j` txns), each node is
/// serialized as it is when the walk reaches it, and a node's children are the ones it has
/// at that moment. Txns `j..` commit at random points of the walk.
fn fuzzy_snapshot(h: &[(TxnHeader, Txn)], j: usize, rng: &mut Rng) -> DataTree {
    let mut live = DataTree::new();
    apply_all(&mut live, &h[..j]);
    let sessions: Vec<(i64, super::SessionRecord)> =
        live.sessions().map(|(id, s)| (*id, s.clone())).collect();
    let mut acls: Vec<Vec<Acl>> = Vec::new();
    let mut nodes = Vec::new();
    let mut stack = vec!["/".to_string()];
    let mut next = j;
    while let Some(path) = stack.pop() {
        while next < h.len() && rng.chance(30) {
            live.apply(&h[next].0, &h[next].1, &mut Vec::new());
            next += 1;
        }
        let Some(n) = live.get(&path) else {
            continue;
        };
        acls.push(n.acl().to_vec());
        nodes.push((
            path.clone(),
            n.data().map(<[u8]>::to_vec),
            acls.len() as u32 - 1,
            n.raw_stat(),
        ));
        for c in n.child_names().into_iter().rev() {
            stack.push(if path == "/" {
                format!("/{c}")
            } else {
                format!("{path}/{c}")
            });
        }
    }
    let mut b = super::TreeBuilder::new(acls, nodes.len());
    for (path, data, acl, stat) in &nodes {
        b.add(path, data.as_deref(), *acl, *stat).unwrap();
    }
    let zxid = j.checked_sub(1).map_or(0, |i| h[i].0.zxid);
    b.finish(sessions, zxid).unwrap()
}

/// Apache's real case: nodes serialized at different moments. Replaying from the label
/// meets nodes that exist already (NodeExists), nodes already gone (NoNode), and parents
/// serialized before a child was deleted and re-created; the apply's replay rules (a
/// create that meets its node still raises the parent's cversion and pzxid, a delete moves
/// the parent's pzxid even when the child is gone) make the end state exact.
#[test]
fn replay_after_a_snapshot_taken_while_txns_applied_ends_exact() {
    let mut windows = 0;
    for seed in SEEDS {
        let h = history(seed, LEN);
        let mut direct = DataTree::new();
        apply_all(&mut direct, &h);
        let expected = snapshot::serialize(&direct);
        let mut rng = Rng(seed ^ 0x0F0F);
        for _ in 0..12 {
            let j = rng.below(LEN);
            let mut replayed = fuzzy_snapshot(&h, j, &mut rng);
            apply_all(&mut replayed, &h[j..]);
            assert_eq!(
                replayed.digest(),
                direct.digest(),
                "seed {seed}: snapshot from {j}"
            );
            assert_eq!(replayed.digest(), replayed.compute_digest());
            assert!(
                snapshot::serialize(&replayed) == expected,
                "seed {seed}: snapshot from {j}"
            );
            windows += 1;
        }
    }
    assert_eq!(windows, SEEDS.count() * 12);
}
