//! Preparation of writes (the leader's `PrepRequestProcessor`): checks a request against the
//! tree *plus the changes already proposed but not yet applied*, and turns it into a
//! transaction or an error. Runs in proposal order, so its checks are exact.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use zkrs_proto::opcode::perms;
use zkrs_proto::path::{parent, validate_path};
use zkrs_proto::request::{
    CreateRequest, PathVersion, ReconfigRequest, SetAclRequest, SetDataRequest,
};
use zkrs_proto::{Acl, CreateMode, ErrorCode, OpCode, Request, Stat};

use crate::acl::{self, AuthInfo};
use crate::quorum::verifier::QuorumVerifier;
use crate::tree::{DataTree, CONFIG};
use crate::txn::{owner_kind, CreateKind, OwnerKind, Txn, MAX_TTL};

/// What preparation needs to know of a node: its Stat (with child count) and ACL.
#[derive(Debug, Clone)]
struct NodeView {
    stat: Stat,
    acl: Arc<[Acl]>,
}

/// A proposed change to one path: the node as it will be (`None`: deleted), and the zxid of
/// the last proposal that changed it, so the record can go once that zxid is applied.
#[derive(Debug, Clone)]
struct ChangeRecord {
    zxid: i64,
    node: Option<NodeView>,
}

/// Settings that shape preparation.
#[derive(Debug, Clone)]
pub struct PrepConfig {
    pub extended_types_enabled: bool,
    pub reconfig_enabled: bool,
    /// `standaloneEnabled`: a reconfig must then leave at least two voters.
    pub standalone_enabled: bool,
}

/// The outstanding changes, keyed by path.
#[derive(Debug)]
pub struct Preparer {
    outstanding: HashMap<String, ChangeRecord>,
    /// The paths each proposal recorded, in zxid order, so that forgetting applied changes
    /// looks only at what those proposals touched (not at every outstanding path).
    recorded: VecDeque<(i64, Vec<String>)>,
    config: PrepConfig,
}

/// Who asks, and under which zxid and time the transaction will be proposed.
pub struct PrepContext<'a> {
    pub tree: &'a DataTree,
    pub auth: &'a AuthInfo,
    pub session_id: i64,
    pub zxid: i64,
    /// What a leader knows of the ensemble's configuration; `None` standalone.
    pub ensemble: Option<&'a EnsembleView<'a>>,
}

/// The leader's view of membership that a `reconfig` is checked against (Apache's
/// `PrepRequestProcessor` asks the leader for the same things).
#[derive(Debug)]
pub struct EnsembleView<'a> {
    /// The committed configuration.
    pub committed: &'a QuorumVerifier,
    /// The last one proposed (equal to `committed` unless a reconfig is in flight).
    pub last_seen: &'a QuorumVerifier,
    /// The members connected and synced with the leader, the leader included.
    pub synced: BTreeSet<u64>,
    /// `standaloneEnabled`: then a configuration needs at least two voters.
    pub standalone_enabled: bool,
}

/// A view of the tree with the outstanding changes and a multi's own changes on top.
struct View<'a> {
    tree: &'a DataTree,
    outstanding: &'a HashMap<String, ChangeRecord>,
    overlay: HashMap<String, Option<NodeView>>,
}

impl View<'_> {
    fn get(&self, path: &str) -> Option<NodeView> {
        if let Some(v) = self.overlay.get(path) {
            return v.clone();
        }
        if let Some(r) = self.outstanding.get(path) {
            return r.node.clone();
        }
        self.tree.get(path).map(|n| NodeView {
            stat: n.raw_stat(),
            acl: n.acl().clone(),
        })
    }

    fn set(&mut self, path: &str, node: Option<NodeView>) {
        self.overlay.insert(path.to_string(), node);
    }
}

fn check_version(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    Ok(current.wrapping_add(1))
}

fn valid(path: &str, sequential: bool) -> Result<(), ErrorCode> {
    validate_path(path, sequential).map_err(|_| ErrorCode::BadArguments)
}

/// Nodes no client may delete (`ZKDatabase.isSpecialPath`).
const SPECIAL_PATHS: [&str; 4] = ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"];

/// The parent of the path a create or delete names. Like Apache, only the last slash is
/// looked at here: a malformed parent shows up as NoNode when it is looked up, and the
/// full syntax check (for creates) comes after.
fn parent_of(path: &str) -> Result<&str, ErrorCode> {
    if path.contains('\0') {
        return Err(ErrorCode::BadArguments);
    }
    match path.rfind('/') {
        None => Err(ErrorCode::BadArguments),
        Some(0) => Ok("/"),
        Some(i) => Ok(&path[..i]),
    }
}

impl Preparer {
    pub fn new(config: PrepConfig) -> Self {
        Preparer {
            outstanding: HashMap::new(),
            recorded: VecDeque::new(),
            config,
        }
    }

    /// Number of paths with changes in flight.
    #[cfg(test)]
    pub fn outstanding_len(&self) -> usize {
        self.outstanding.len()
    }

    /// Forgets every change in flight: none of them will be applied (the log failed, or a
    /// leader lost its quorum and its proposals with it).
    pub fn forget_outstanding(&mut self) {
        self.outstanding.clear();
        self.recorded.clear();
    }

    /// Forgets the changes of a transaction now applied to the tree.
    pub fn applied(&mut self, zxid: i64) {
        while self.recorded.front().is_some_and(|(z, _)| *z <= zxid) {
            let Some((_, paths)) = self.recorded.pop_front() else {
                break;
            };
            for path in paths {
                // A later proposal may have changed the same path again: its record stays.
                if self.outstanding.get(&path).is_some_and(|r| r.zxid <= zxid) {
                    self.outstanding.remove(&path);
                }
            }
        }
    }

    /// Records a proposal's changes as outstanding until its zxid is applied.
    fn record(&mut self, zxid: i64, overlay: HashMap<String, Option<NodeView>>) {
        if overlay.is_empty() {
            return;
        }
        let mut paths = Vec::with_capacity(overlay.len());
        for (path, node) in overlay {
            paths.push(path.clone());
            self.outstanding.insert(path, ChangeRecord { zxid, node });
        }
        self.recorded.push_back((zxid, paths));
    }

    /// Prepares a write request (one for which [`Request::is_write`] holds).
    pub fn prepare(&mut self, ctx: &PrepContext<'_>, req: &Request) -> Result<Txn, ErrorCode> {
        let mut view = View {
            tree: ctx.tree,
            outstanding: &self.outstanding,
            overlay: HashMap::new(),
        };
        let txn = match req {
            Request::Multi(OpCode::Multi, ops) => {
                let mut txns = Vec::with_capacity(ops.len());
                for op in ops {
                    match self.prepare_one(ctx, &mut view, op, true) {
                        Ok(t) => txns.push(t),
                        Err(e) => {
                            // All or nothing: forget the multi's own changes and report
                            // which member failed. As Apache's leader does, the ops before
                            // it keep their records (the apply turns them into errors).
                            txns.push(Txn::Error { err: e.code() });
                            txns.resize(
                                ops.len(),
                                Txn::Error {
                                    err: ErrorCode::RuntimeInconsistency.code(),
                                },
                            );
                            return Ok(Txn::Multi(txns));
                        }
                    }
                }
                Txn::Multi(txns)
            }
            other => self.prepare_one(ctx, &mut view, other, false)?,
        };
        let overlay = view.overlay;
        self.record(ctx.zxid, overlay);
        Ok(txn)
    }

    /// Prepares the reaper's removal of an empty container or expired TTL node: Apache's
    /// `deleteContainer` (no ACL check, any version; a child still in flight makes it
    /// NotEmpty).
    pub fn prepare_delete_container(
        &mut self,
        ctx: &PrepContext<'_>,
        path: &str,
    ) -> Result<Txn, ErrorCode> {
        let req = Request::Delete(PathVersion {
            path: path.to_string(),
            version: -1,
        });
        let superuser = AuthInfo {
            ids: vec![zkrs_proto::Id::new("super", "")],
        };
        let ctx = PrepContext {
            auth: &superuser,
            ..*ctx
        };
        match self.prepare(&ctx, &req)? {
            Txn::Delete { path, .. } => Ok(Txn::Delete {
                path,
                container: true,
            }),
            other => Ok(other),
        }
    }

    /// Prepares the closing of a session: its ephemerals, including those whose creation is
    /// still in flight, are deleted by the same transaction.
    pub fn prepare_close_session(&mut self, ctx: &PrepContext<'_>) -> Txn {
        let mut paths: Vec<String> = ctx
            .tree
            .ephemerals_of(ctx.session_id)
            .filter(|p| {
                self.outstanding
                    .get(p.as_str())
                    .is_none_or(|r| r.node.is_some())
            })
            .cloned()
            .collect();
        for (p, r) in &self.outstanding {
            if let Some(n) = &r.node {
                if n.stat.ephemeral_owner == ctx.session_id && !paths.contains(p) {
                    paths.push(p.clone());
                }
            }
        }
        paths.sort();
        // Children before parents cannot matter (ephemerals have no children), but a stable
        // order keeps every member's watch events identical.
        let mut view = View {
            tree: ctx.tree,
            outstanding: &self.outstanding,
            overlay: HashMap::new(),
        };
        for p in &paths {
            if let Some(parent_path) = parent(p) {
                if let Some(mut pv) = view.get(parent_path) {
                    pv.stat.num_children -= 1;
                    pv.stat.pzxid = ctx.zxid;
                    view.set(parent_path, Some(pv));
                }
            }
            view.set(p, None);
        }
        let overlay = view.overlay;
        self.record(ctx.zxid, overlay);
        Txn::CloseSession {
            ephemerals: Some(paths),
        }
    }

    fn prepare_one(
        &self,
        ctx: &PrepContext<'_>,
        view: &mut View<'_>,
        req: &Request,
        in_multi: bool,
    ) -> Result<Txn, ErrorCode> {
        match req {
            Request::Create(op, c) => self.create(ctx, view, *op, c, in_multi),
            Request::Delete(d) => delete(ctx, view, d),
            Request::SetData(s) => set_data(ctx, view, s),
            Request::SetAcl(s) => set_acl(ctx, view, s),
            Request::Check(c) => check(ctx, view, c),
            Request::Reconfig(r) if !in_multi => self.reconfig(ctx, view, r),
            _ => Err(ErrorCode::BadArguments),
        }
    }

    /// A `reconfig`, checked in Apache's order: enabled, an ensemble, no reconfig in
    /// flight, the version, the new membership, a synced quorum of it, then the ACL.
    fn reconfig(
        &self,
        ctx: &PrepContext<'_>,
        view: &mut View<'_>,
        r: &ReconfigRequest,
    ) -> Result<Txn, ErrorCode> {
        if !self.config.reconfig_enabled {
            return Err(ErrorCode::ReconfigDisabled);
        }
        // A standalone server has no ensemble to reconfigure.
        let ens = ctx.ensemble.ok_or(ErrorCode::Unimplemented)?;
        if ens.last_seen.version != ens.committed.version {
            return Err(ErrorCode::ReconfigInProgress);
        }
        if r.cur_config_id != -1 && r.cur_config_id != ens.last_seen.version {
            return Err(ErrorCode::BadVersion);
        }
        let next = match &r.new_members {
            Some(m) => QuorumVerifier::bulk(m),
            None => ens
                .last_seen
                .incremental(r.joining_servers.as_deref(), r.leaving_servers.as_deref()),
        };
        let mut next = next.map_err(|e| {
            tracing::warn!(error = %e, "reconfig refused");
            ErrorCode::BadArguments
        })?;
        let voters = next.voters().len();
        if voters < if ens.standalone_enabled { 2 } else { 1 } {
            tracing::warn!(
                voters,
                "reconfig refused: too few voters in the new configuration"
            );
            return Err(ErrorCode::BadArguments);
        }
        if !next.contains_quorum(&ens.synced) {
            tracing::warn!(synced = ?ens.synced, "reconfig refused: no connected and synced quorum in the new configuration");
            return Err(ErrorCode::NewConfigNoQuorum);
        }
        let mut node = view.get(CONFIG).ok_or(ErrorCode::NoNode)?;
        acl::check(&node.acl, perms::WRITE, ctx.auth)?;
        next.version = ctx.zxid;
        let data = next.to_string().into_bytes();
        // Apache writes the new config with version -1 (`SetDataTxn(config, data, -1)`).
        node.stat.version = -1;
        node.stat.mzxid = ctx.zxid;
        node.stat.data_length = data.len() as i32;
        view.set(CONFIG, Some(node));
        Ok(Txn::SetData {
            path: CONFIG.to_string(),
            data: Some(data),
            version: -1,
            reconfig: true,
        })
    }

    fn create(
        &self,
        ctx: &PrepContext<'_>,
        view: &mut View<'_>,
        op: OpCode,
        c: &CreateRequest,
        in_multi: bool,
    ) -> Result<Txn, ErrorCode> {
        let mode = CreateMode::from_flags(c.flags).ok_or(ErrorCode::BadArguments)?;
        // A lone createContainer makes a container whatever flags 0-4 say, as Apache does
        // (the sequential bit still adds a suffix, the ephemeral bit is ignored; TTL flags
        // are bad arguments). Inside a multi Apache goes by the flags alone.
        let (container, ttl, ephemeral) = if op == OpCode::CreateContainer && !in_multi {
            if mode.is_ttl() {
                return Err(ErrorCode::BadArguments);
            }
            (true, false, false)
        } else {
            (mode.is_container(), mode.is_ttl(), mode.is_ephemeral())
        };
        let sequential = mode.is_sequential();
        if ttl {
            if !self.config.extended_types_enabled {
                return Err(ErrorCode::Unimplemented);
            }
            if c.ttl <= 0 || c.ttl > MAX_TTL {
                return Err(ErrorCode::BadArguments);
            }
        } else if c.ttl >= 0 && op == OpCode::CreateTtl {
            return Err(ErrorCode::BadArguments);
        }
        let parent_path = parent_of(&c.path)?;
        let acl = acl::fixup(&c.acl, ctx.auth)?;
        let mut parent_node = view.get(parent_path).ok_or(ErrorCode::NoNode)?;
        acl::check(&parent_node.acl, perms::CREATE, ctx.auth)?;
        let path = if sequential {
            format!("{}{:010}", c.path, parent_node.stat.cversion)
        } else {
            c.path.clone()
        };
        valid(&path, false)?;
        if view.get(&path).is_some() {
            return Err(ErrorCode::NodeExists);
        }
        if matches!(
            owner_kind(parent_node.stat.ephemeral_owner),
            OwnerKind::Ephemeral(_)
        ) {
            return Err(ErrorCode::NoChildrenForEphemerals);
        }
        // The txn type follows Apache: inside a multi the flags name it (`Op.create`),
        // alone the request's opcode does. So a lone create or create2 whose flags say
        // container makes a persistent node, as on an Apache leader.
        let kind = if in_multi {
            if container {
                CreateKind::Container
            } else if ttl {
                CreateKind::Ttl(c.ttl)
            } else {
                CreateKind::Create { ephemeral }
            }
        } else {
            match op {
                OpCode::CreateContainer => CreateKind::Container,
                OpCode::CreateTtl if ttl => CreateKind::Ttl(c.ttl),
                OpCode::Create => CreateKind::Create { ephemeral },
                _ => CreateKind::Create2 { ephemeral },
            }
        };
        let owner = kind.owner(ctx.session_id);
        let parent_cversion = parent_node.stat.cversion.wrapping_add(1);
        parent_node.stat.cversion = parent_cversion;
        parent_node.stat.num_children += 1;
        parent_node.stat.pzxid = ctx.zxid;
        view.set(parent_path, Some(parent_node));
        let acl_arc: Arc<[Acl]> = Arc::from(acl.as_slice());
        view.set(
            &path,
            Some(NodeView {
                stat: Stat {
                    czxid: ctx.zxid,
                    mzxid: ctx.zxid,
                    pzxid: ctx.zxid,
                    ephemeral_owner: owner,
                    data_length: c.data.as_ref().map_or(0, Vec::len) as i32,
                    ..Stat::default()
                },
                acl: acl_arc,
            }),
        );
        Ok(Txn::Create {
            path,
            data: c.data.clone(),
            acl,
            kind,
            parent_cversion,
        })
    }
}

fn delete(ctx: &PrepContext<'_>, view: &mut View<'_>, d: &PathVersion) -> Result<Txn, ErrorCode> {
    if SPECIAL_PATHS.contains(&d.path.as_str()) {
        return Err(ErrorCode::BadArguments);
    }
    let parent_path = parent_of(&d.path)?;
    let mut parent_node = view.get(parent_path).ok_or(ErrorCode::NoNode)?;
    acl::check(&parent_node.acl, perms::DELETE, ctx.auth)?;
    let node = view.get(&d.path).ok_or(ErrorCode::NoNode)?;
    check_version(node.stat.version, d.version)?;
    if node.stat.num_children > 0 {
        return Err(ErrorCode::NotEmpty);
    }
    parent_node.stat.num_children -= 1;
    parent_node.stat.pzxid = ctx.zxid;
    view.set(parent_path, Some(parent_node));
    view.set(&d.path, None);
    Ok(Txn::Delete {
        path: d.path.clone(),
        container: false,
    })
}

fn set_data(
    ctx: &PrepContext<'_>,
    view: &mut View<'_>,
    s: &SetDataRequest,
) -> Result<Txn, ErrorCode> {
    valid(&s.path, false)?;
    let mut node = view.get(&s.path).ok_or(ErrorCode::NoNode)?;
    acl::check(&node.acl, perms::WRITE, ctx.auth)?;
    let version = check_version(node.stat.version, s.version)?;
    node.stat.version = version;
    node.stat.mzxid = ctx.zxid;
    node.stat.data_length = s.data.as_ref().map_or(0, Vec::len) as i32;
    view.set(&s.path, Some(node));
    Ok(Txn::SetData {
        path: s.path.clone(),
        data: s.data.clone(),
        version,
        reconfig: false,
    })
}

fn set_acl(
    ctx: &PrepContext<'_>,
    view: &mut View<'_>,
    s: &SetAclRequest,
) -> Result<Txn, ErrorCode> {
    valid(&s.path, false)?;
    let acl = acl::fixup(&s.acl, ctx.auth)?;
    let mut node = view.get(&s.path).ok_or(ErrorCode::NoNode)?;
    acl::check(&node.acl, perms::ADMIN, ctx.auth)?;
    let aversion = check_version(node.stat.aversion, s.version)?;
    node.stat.aversion = aversion;
    node.acl = Arc::from(acl.as_slice());
    view.set(&s.path, Some(node));
    Ok(Txn::SetAcl {
        path: s.path.clone(),
        acl,
        aversion,
    })
}

fn check(ctx: &PrepContext<'_>, view: &mut View<'_>, c: &PathVersion) -> Result<Txn, ErrorCode> {
    valid(&c.path, false)?;
    let node = view.get(&c.path).ok_or(ErrorCode::NoNode)?;
    acl::check(&node.acl, perms::READ, ctx.auth)?;
    let version = check_version(node.stat.version, c.version)?;
    Ok(Txn::Check {
        path: c.path.clone(),
        version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::TxnHeader;
    use zkrs_proto::request::CreateRequest;

    fn cfg() -> PrepConfig {
        PrepConfig {
            extended_types_enabled: true,
            reconfig_enabled: false,
            standalone_enabled: true,
        }
    }

    fn create(path: &str, flags: i32) -> Request {
        Request::Create(
            OpCode::Create,
            CreateRequest {
                path: path.into(),
                data: None,
                acl: Acl::open_unsafe(),
                flags,
                ttl: -1,
            },
        )
    }

    /// Prepares and applies in one step, as a committed pipeline would.
    fn run(p: &mut Preparer, t: &mut DataTree, zxid: i64, req: &Request) -> Result<Txn, ErrorCode> {
        let auth = AuthInfo::default();
        let ctx = PrepContext {
            tree: t,
            auth: &auth,
            session_id: 5,
            zxid,
            ensemble: None,
        };
        let txn = p.prepare(&ctx, req)?;
        let hdr = TxnHeader {
            session_id: 5,
            cxid: 0,
            zxid,
            time: 0,
        };
        t.apply(&hdr, &txn, &mut Vec::new());
        p.applied(zxid);
        Ok(txn)
    }

    #[test]
    fn sequential_names_follow_parent_cversion_including_pending() {
        let mut p = Preparer::new(cfg());
        let t = DataTree::new();
        let auth = AuthInfo::default();
        let mut names = Vec::new();
        // Three creates prepared back to back, none applied yet: names must still advance.
        for z in 1..=3 {
            let ctx = PrepContext {
                tree: &t,
                auth: &auth,
                session_id: 5,
                zxid: z,
                ensemble: None,
            };
            match p.prepare(&ctx, &create("/s-", 2)).unwrap() {
                Txn::Create { path, .. } => names.push(path),
                other => panic!("{other:?}"),
            }
        }
        // The root starts at cversion 0 (its /zookeeper child is built in, not created).
        assert_eq!(
            names,
            vec!["/s-0000000000", "/s-0000000001", "/s-0000000002"]
        );
    }

    #[test]
    fn errors_in_apache_order() {
        let mut p = Preparer::new(cfg());
        let mut t = DataTree::new();
        assert_eq!(
            run(&mut p, &mut t, 1, &create("/a/b", 0)),
            Err(ErrorCode::NoNode)
        );
        run(&mut p, &mut t, 1, &create("/a", 0)).unwrap();
        assert_eq!(
            run(&mut p, &mut t, 2, &create("/a", 0)),
            Err(ErrorCode::NodeExists)
        );
        assert_eq!(
            run(&mut p, &mut t, 2, &create("/a/", 0)),
            Err(ErrorCode::BadArguments)
        );
        run(&mut p, &mut t, 2, &create("/e", 1)).unwrap();
        assert_eq!(
            run(&mut p, &mut t, 3, &create("/e/x", 0)),
            Err(ErrorCode::NoChildrenForEphemerals)
        );
        run(&mut p, &mut t, 3, &create("/a/b", 0)).unwrap();
        let del = |path: &str, version| {
            Request::Delete(PathVersion {
                path: path.into(),
                version,
            })
        };
        assert_eq!(
            run(&mut p, &mut t, 4, &del("/a", -1)),
            Err(ErrorCode::NotEmpty)
        );
        assert_eq!(
            run(&mut p, &mut t, 4, &del("/a/b", 3)),
            Err(ErrorCode::BadVersion)
        );
        run(&mut p, &mut t, 4, &del("/a/b", 0)).unwrap();
        let ttl = Request::Create(
            OpCode::CreateTtl,
            CreateRequest {
                path: "/t".into(),
                data: None,
                acl: Acl::open_unsafe(),
                flags: 5,
                ttl: 0,
            },
        );
        assert_eq!(run(&mut p, &mut t, 5, &ttl), Err(ErrorCode::BadArguments));
    }

    #[test]
    fn failed_multi_reports_positions_and_leaves_no_trace() {
        let mut p = Preparer::new(cfg());
        let mut t = DataTree::new();
        let multi = Request::Multi(
            OpCode::Multi,
            vec![
                create("/m", 0),
                Request::Check(PathVersion {
                    path: "/m".into(),
                    version: 5,
                }),
                create("/n", 0),
            ],
        );
        let txn = run(&mut p, &mut t, 1, &multi).unwrap();
        // As Apache's leader writes it: the op before the failure keeps its record.
        let Txn::Multi(subs) = &txn else {
            panic!("not a multi: {txn:?}")
        };
        assert!(matches!(&subs[0], Txn::Create { path, .. } if path == "/m"));
        assert_eq!(
            subs[1..],
            [Txn::Error { err: -103 }, Txn::Error { err: -2 }]
        );
        assert!(t.get("/m").is_none());
        assert_eq!(p.outstanding_len(), 0);
        // The multi's own create is visible to its later members.
        let ok = Request::Multi(
            OpCode::Multi,
            vec![
                create("/m", 0),
                Request::Check(PathVersion {
                    path: "/m".into(),
                    version: 0,
                }),
            ],
        );
        run(&mut p, &mut t, 2, &ok).unwrap();
        assert!(t.get("/m").is_some());
    }
}
