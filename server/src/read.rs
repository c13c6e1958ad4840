//! Reads, answered from the local tree with no log I/O (`FinalRequestProcessor`'s read cases).

use zkrs_proto::opcode::perms;
use zkrs_proto::request::{PathWatch, SetWatchesRequest};
use zkrs_proto::{
    ClientInfo, ErrorCode, EventType, MultiResult, OpCode, Request, Response, WatcherType,
};

use crate::acl::{self, AuthInfo};
use crate::tree::DataTree;
use crate::watch::{Notification, WatchKind, WatchManager};

/// Everything a read may look at or change (watches are registered by reads).
pub struct ReadContext<'a> {
    pub tree: &'a DataTree,
    pub watches: &'a mut WatchManager,
    pub namespaces: &'a mut crate::namespace::NamespaceStats,
    pub session_id: i64,
    pub auth: &'a AuthInfo,
}

pub type ReadResult = Result<Response, ErrorCode>;

fn get_data(ctx: &mut ReadContext<'_>, r: &PathWatch) -> ReadResult {
    let node = lookup(ctx.tree, &r.path).ok_or(ErrorCode::NoNode)?;
    acl::check(node.acl(), perms::READ, ctx.auth)?;
    if r.watch {
        ctx.watches.add(WatchKind::Data, &r.path, ctx.session_id);
    }
    ctx.namespaces.read(&r.path, node.data_len());
    Ok(Response::GetData(
        node.data().map(<[u8]>::to_vec),
        node.stat(),
    ))
}

fn get_children(ctx: &mut ReadContext<'_>, op: OpCode, r: &PathWatch) -> ReadResult {
    let node = lookup(ctx.tree, &r.path).ok_or(ErrorCode::NoNode)?;
    acl::check(node.acl(), perms::READ, ctx.auth)?;
    if r.watch {
        ctx.watches.add(WatchKind::Child, &r.path, ctx.session_id);
    }
    let children: Vec<String> = node.child_names().into_iter().map(str::to_string).collect();
    ctx.namespaces
        .read(&r.path, children.iter().map(String::len).sum());
    Ok(if op == OpCode::GetChildren2 {
        Response::GetChildren2(children, node.stat())
    } else {
        Response::GetChildren(children)
    })
}

/// The node a read names: Apache's tree also files the root under the empty path, so
/// reads of `""` answer about `/`.
fn lookup<'t>(tree: &'t DataTree, path: &str) -> Option<crate::tree::NodeRef<'t>> {
    tree.get(if path.is_empty() { "/" } else { path })
}

/// Answers a read request. `Err` carries the error code for the reply header.
pub fn execute(ctx: &mut ReadContext<'_>, req: &Request) -> ReadResult {
    match req {
        Request::Exists(r) => {
            if r.path.contains('\0') {
                return Err(ErrorCode::BadArguments);
            }
            // As in Apache, exists needs no permission, and a watch is set even on a
            // missing node (it then fires on creation).
            if r.watch {
                ctx.watches.add(WatchKind::Data, &r.path, ctx.session_id);
            }
            let node = lookup(ctx.tree, &r.path).ok_or(ErrorCode::NoNode)?;
            ctx.namespaces.read(&r.path, 0);
            Ok(Response::Stat(node.stat()))
        }
        Request::GetData(r) => get_data(ctx, r),
        Request::GetChildren(op, r) => get_children(ctx, *op, r),
        Request::GetAcl(path) => {
            let node = lookup(ctx.tree, path).ok_or(ErrorCode::NoNode)?;
            acl::check(node.acl(), acl::GET_ACL_PERMS, ctx.auth)?;
            let list = if acl::check(node.acl(), perms::ADMIN, ctx.auth).is_ok() {
                node.acl().to_vec()
            } else {
                acl::masked_for_reader(node.acl())
            };
            Ok(Response::GetAcl(list, node.stat()))
        }
        Request::GetAllChildrenNumber(path) => {
            let node = lookup(ctx.tree, path).ok_or(ErrorCode::NoNode)?;
            acl::check(node.acl(), perms::READ, ctx.auth)?;
            Ok(Response::GetAllChildrenNumber(
                ctx.tree
                    .all_children_number(if path.is_empty() { "/" } else { path }),
            ))
        }
        Request::GetEphemerals(prefix) => {
            let all = ctx.tree.ephemerals_of(ctx.session_id);
            let trimmed = prefix.trim();
            let list: Vec<String> = if trimmed.is_empty() || trimmed == "/" {
                all.cloned().collect()
            } else {
                all.filter(|p| p.starts_with(prefix.as_str()))
                    .cloned()
                    .collect()
            };
            Ok(Response::GetEphemerals(list))
        }
        Request::Sync(path) => Ok(Response::Sync(path.clone())),
        Request::Multi(OpCode::MultiRead, ops) => {
            let mut results = Vec::with_capacity(ops.len());
            for op in ops {
                results.push(match op {
                    Request::GetData(r) => match get_data(ctx, r) {
                        Ok(Response::GetData(d, s)) => MultiResult::GetData(d, s),
                        Ok(_) => MultiResult::Error(ErrorCode::SystemError.code()),
                        Err(e) => MultiResult::Error(e.code()),
                    },
                    Request::GetChildren(_, r) => match get_children(ctx, OpCode::GetChildren, r) {
                        Ok(Response::GetChildren(c)) => MultiResult::GetChildren(c),
                        Ok(_) => MultiResult::Error(ErrorCode::SystemError.code()),
                        Err(e) => MultiResult::Error(e.code()),
                    },
                    _ => MultiResult::Error(ErrorCode::BadArguments.code()),
                });
            }
            Ok(Response::Multi(results))
        }
        Request::AddWatch(a) => {
            match zkrs_proto::AddWatchMode::from_code(a.mode) {
                Some(zkrs_proto::AddWatchMode::Persistent) => {
                    ctx.watches.add_persistent(&a.path, ctx.session_id)
                }
                Some(zkrs_proto::AddWatchMode::PersistentRecursive) => {
                    ctx.watches.add_recursive(&a.path, ctx.session_id)
                }
                // Apache fails to convert the mode: a marshalling error.
                None => return Err(ErrorCode::MarshallingError),
            }
            Ok(Response::ErrorCode(0))
        }
        Request::CheckWatches(p) => {
            let t = WatcherType::from_code(p.watcher_type).ok_or(ErrorCode::MarshallingError)?;
            if ctx.watches.has_watch(&p.path, t, ctx.session_id) {
                Ok(Response::Empty)
            } else {
                Err(ErrorCode::NoWatcher)
            }
        }
        Request::RemoveWatches(p) => {
            let t = WatcherType::from_code(p.watcher_type).ok_or(ErrorCode::MarshallingError)?;
            if ctx.watches.remove_watches(&p.path, t, ctx.session_id) {
                Ok(Response::Empty)
            } else {
                Err(ErrorCode::NoWatcher)
            }
        }
        Request::WhoAmI => Ok(Response::WhoAmI(
            ctx.auth
                .ids
                .iter()
                .map(|id| ClientInfo {
                    auth_scheme: id.scheme.clone(),
                    // A digest identity shows its user name only, as Apache's provider does.
                    user: match id.scheme.as_str() {
                        "digest" => id.id.split(':').next().unwrap_or("").to_string(),
                        _ => id.id.clone(),
                    },
                })
                .collect(),
        )),
        _ => Err(ErrorCode::Unimplemented),
    }
}

/// Re-registers watches after a reconnect (`DataTree.setWatches`): a change the client
/// missed since `relative_zxid` fires at once instead of registering.
pub fn set_watches(
    tree: &DataTree,
    watches: &mut WatchManager,
    session: i64,
    req: &SetWatchesRequest,
    out: &mut Vec<Notification>,
) {
    let fire = |out: &mut Vec<Notification>, event, path: &str| {
        out.push(Notification {
            session,
            event,
            path: path.to_string(),
        })
    };
    for p in &req.data_watches {
        match tree.get(p) {
            None => fire(out, EventType::NodeDeleted, p),
            Some(n) if n.stored().mzxid > req.relative_zxid => {
                fire(out, EventType::NodeDataChanged, p)
            }
            Some(_) => watches.add(WatchKind::Data, p, session),
        }
    }
    for p in &req.exist_watches {
        match tree.get(p) {
            Some(_) => fire(out, EventType::NodeCreated, p),
            None => watches.add(WatchKind::Data, p, session),
        }
    }
    for p in &req.child_watches {
        match tree.get(p) {
            None => fire(out, EventType::NodeDeleted, p),
            Some(n) if n.stored().pzxid > req.relative_zxid => {
                fire(out, EventType::NodeChildrenChanged, p)
            }
            Some(_) => watches.add(WatchKind::Child, p, session),
        }
    }
    for p in &req.persistent_watches {
        watches.add_persistent(p, session);
    }
    for p in &req.persistent_recursive_watches {
        watches.add_recursive(p, session);
    }
}
