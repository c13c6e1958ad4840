//! Request bodies, decoded by opcode.

use crate::error::DecodeError;
use crate::jute::{Reader, Record, Writer};
use crate::opcode::OpCode;
use crate::records::{read_acl_vec, write_acl_vec, Acl, AuthPacket, MultiHeader};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    pub path: String,
    /// `None` when the client sent a null buffer (Java `create(path, null, ...)`); kept so
    /// that getData answers null as Apache does.
    pub data: Option<Vec<u8>>,
    pub acl: Vec<Acl>,
    pub flags: i32,
    /// Only for `createTTL`; -1 otherwise.
    pub ttl: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathVersion {
    pub path: String,
    pub version: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathWatch {
    pub path: String,
    pub watch: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetDataRequest {
    pub path: String,
    /// `None` for a null buffer, as in [`CreateRequest::data`].
    pub data: Option<Vec<u8>>,
    pub version: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAclRequest {
    pub path: String,
    pub acl: Vec<Acl>,
    pub version: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconfigRequest {
    pub joining_servers: Option<String>,
    pub leaving_servers: Option<String>,
    pub new_members: Option<String>,
    pub cur_config_id: i64,
}

/// `setWatches` (v1 carries no persistent watches) and `setWatches2`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SetWatchesRequest {
    pub relative_zxid: i64,
    pub data_watches: Vec<String>,
    pub exist_watches: Vec<String>,
    pub child_watches: Vec<String>,
    pub persistent_watches: Vec<String>,
    pub persistent_recursive_watches: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathType {
    pub path: String,
    pub watcher_type: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddWatchRequest {
    pub path: String,
    pub mode: i32,
}

/// A decoded request body. `op` tells create from create2 and the like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `create`, `create2`, `createContainer` and `createTTL`; the opcode says which reply.
    Create(OpCode, CreateRequest),
    Delete(PathVersion),
    Exists(PathWatch),
    GetData(PathWatch),
    SetData(SetDataRequest),
    GetAcl(String),
    SetAcl(SetAclRequest),
    /// `getChildren` and `getChildren2`.
    GetChildren(OpCode, PathWatch),
    Sync(String),
    Ping,
    Check(PathVersion),
    /// `multi` (writes) and `multiRead` (reads).
    Multi(OpCode, Vec<Request>),
    Reconfig(ReconfigRequest),
    CheckWatches(PathType),
    RemoveWatches(PathType),
    Auth(AuthPacket),
    SetWatches(OpCode, SetWatchesRequest),
    GetEphemerals(String),
    GetAllChildrenNumber(String),
    AddWatch(AddWatchRequest),
    WhoAmI,
    CloseSession,
    /// SASL is not supported; the body is kept only to be answered with an error.
    Sasl(Vec<u8>),
}

fn read_create(r: &mut Reader<'_>, ttl: bool) -> Result<CreateRequest, DecodeError> {
    Ok(CreateRequest {
        path: r.read_string()?,
        data: r.read_opt_buffer()?,
        acl: read_acl_vec(r)?,
        flags: r.read_i32()?,
        ttl: if ttl { r.read_i64()? } else { -1 },
    })
}

fn read_path_version(r: &mut Reader<'_>) -> Result<PathVersion, DecodeError> {
    Ok(PathVersion {
        path: r.read_string()?,
        version: r.read_i32()?,
    })
}

fn read_path_watch(r: &mut Reader<'_>) -> Result<PathWatch, DecodeError> {
    Ok(PathWatch {
        path: r.read_string()?,
        watch: r.read_bool()?,
    })
}

impl Request {
    /// The opcode this request travels under.
    pub fn op(&self) -> OpCode {
        match self {
            Request::Create(op, _) => *op,
            Request::Delete(_) => OpCode::Delete,
            Request::Exists(_) => OpCode::Exists,
            Request::GetData(_) => OpCode::GetData,
            Request::SetData(_) => OpCode::SetData,
            Request::GetAcl(_) => OpCode::GetAcl,
            Request::SetAcl(_) => OpCode::SetAcl,
            Request::GetChildren(op, _) => *op,
            Request::Sync(_) => OpCode::Sync,
            Request::Ping => OpCode::Ping,
            Request::Check(_) => OpCode::Check,
            Request::Multi(op, _) => *op,
            Request::Reconfig(_) => OpCode::Reconfig,
            Request::CheckWatches(_) => OpCode::CheckWatches,
            Request::RemoveWatches(_) => OpCode::RemoveWatches,
            Request::Auth(_) => OpCode::Auth,
            Request::SetWatches(op, _) => *op,
            Request::GetEphemerals(_) => OpCode::GetEphemerals,
            Request::GetAllChildrenNumber(_) => OpCode::GetAllChildrenNumber,
            Request::AddWatch(_) => OpCode::AddWatch,
            Request::WhoAmI => OpCode::WhoAmI,
            Request::CloseSession => OpCode::CloseSession,
            Request::Sasl(_) => OpCode::Sasl,
        }
    }

    /// The path the request names, if it names one.
    pub fn path(&self) -> Option<&str> {
        Some(match self {
            Request::Create(_, c) => &c.path,
            Request::Delete(p) | Request::Check(p) => &p.path,
            Request::Exists(p) | Request::GetData(p) | Request::GetChildren(_, p) => &p.path,
            Request::SetData(s) => &s.path,
            Request::GetAcl(p)
            | Request::Sync(p)
            | Request::GetEphemerals(p)
            | Request::GetAllChildrenNumber(p) => p,
            Request::SetAcl(s) => &s.path,
            Request::CheckWatches(p) | Request::RemoveWatches(p) => &p.path,
            Request::AddWatch(a) => &a.path,
            _ => return None,
        })
    }

    /// Whether the request changes state and so goes through the write pipeline.
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Request::Create(..)
                | Request::Delete(_)
                | Request::SetData(_)
                | Request::SetAcl(_)
                | Request::Check(_)
                | Request::Reconfig(_)
                | Request::CloseSession
        ) || matches!(self, Request::Multi(OpCode::Multi, _))
    }

    /// Decodes the body that follows a `RequestHeader` with opcode `op`. The body must be
    /// consumed exactly, except where old clients are known to send less or more.
    pub fn decode(op: i32, body: &[u8]) -> Result<Request, DecodeError> {
        let op = OpCode::from_code(op)?;
        let mut r = Reader::new(body);
        let req = Self::read_body(op, &mut r)?;
        // Apache ignores trailing bytes; so do we, except for multi where the terminator
        // already bounds the record.
        Ok(req)
    }

    fn read_body(op: OpCode, r: &mut Reader<'_>) -> Result<Request, DecodeError> {
        Ok(match op {
            OpCode::Create | OpCode::Create2 | OpCode::CreateContainer => {
                Request::Create(op, read_create(r, false)?)
            }
            OpCode::CreateTtl => Request::Create(op, read_create(r, true)?),
            OpCode::Delete | OpCode::DeleteContainer => Request::Delete(read_path_version(r)?),
            OpCode::Exists => Request::Exists(read_path_watch(r)?),
            OpCode::GetData => Request::GetData(read_path_watch(r)?),
            OpCode::SetData => Request::SetData(SetDataRequest {
                path: r.read_string()?,
                data: r.read_opt_buffer()?,
                version: r.read_i32()?,
            }),
            OpCode::GetAcl => Request::GetAcl(r.read_string()?),
            OpCode::SetAcl => Request::SetAcl(SetAclRequest {
                path: r.read_string()?,
                acl: read_acl_vec(r)?,
                version: r.read_i32()?,
            }),
            OpCode::GetChildren | OpCode::GetChildren2 => {
                Request::GetChildren(op, read_path_watch(r)?)
            }
            OpCode::Sync => Request::Sync(r.read_string()?),
            OpCode::Ping => Request::Ping,
            OpCode::Check => Request::Check(read_path_version(r)?),
            OpCode::Multi | OpCode::MultiRead => Request::Multi(op, read_multi(op, r)?),
            OpCode::Reconfig => Request::Reconfig(ReconfigRequest {
                joining_servers: r.read_opt_string()?,
                leaving_servers: r.read_opt_string()?,
                new_members: r.read_opt_string()?,
                cur_config_id: r.read_i64()?,
            }),
            OpCode::CheckWatches => Request::CheckWatches(PathType {
                path: r.read_string()?,
                watcher_type: r.read_i32()?,
            }),
            OpCode::RemoveWatches => Request::RemoveWatches(PathType {
                path: r.read_string()?,
                watcher_type: r.read_i32()?,
            }),
            OpCode::Auth => Request::Auth(AuthPacket::read(r)?),
            OpCode::SetWatches => Request::SetWatches(
                op,
                SetWatchesRequest {
                    relative_zxid: r.read_i64()?,
                    data_watches: r.read_string_vec()?,
                    exist_watches: r.read_string_vec()?,
                    child_watches: r.read_string_vec()?,
                    ..Default::default()
                },
            ),
            OpCode::SetWatches2 => Request::SetWatches(
                op,
                SetWatchesRequest {
                    relative_zxid: r.read_i64()?,
                    data_watches: r.read_string_vec()?,
                    exist_watches: r.read_string_vec()?,
                    child_watches: r.read_string_vec()?,
                    persistent_watches: r.read_string_vec()?,
                    persistent_recursive_watches: r.read_string_vec()?,
                },
            ),
            OpCode::GetEphemerals => Request::GetEphemerals(r.read_string()?),
            OpCode::GetAllChildrenNumber => Request::GetAllChildrenNumber(r.read_string()?),
            OpCode::AddWatch => Request::AddWatch(AddWatchRequest {
                path: r.read_string()?,
                mode: r.read_i32()?,
            }),
            OpCode::WhoAmI => Request::WhoAmI,
            OpCode::CloseSession => Request::CloseSession,
            OpCode::Sasl => Request::Sasl(r.read_buffer()?),
            OpCode::Notification | OpCode::CreateSession | OpCode::Error => {
                return Err(DecodeError::UnknownOpCode(op.code()))
            }
        })
    }

    /// Encodes the body (without the header).
    pub fn write_body(&self, w: &mut Writer) {
        match self {
            Request::Create(op, c) => {
                w.write_string(&c.path);
                w.write_opt_buffer(c.data.as_deref());
                write_acl_vec(w, &c.acl);
                w.write_i32(c.flags);
                if *op == OpCode::CreateTtl {
                    w.write_i64(c.ttl);
                }
            }
            Request::Delete(p) | Request::Check(p) => {
                w.write_string(&p.path);
                w.write_i32(p.version);
            }
            Request::Exists(p) | Request::GetData(p) | Request::GetChildren(_, p) => {
                w.write_string(&p.path);
                w.write_bool(p.watch);
            }
            Request::SetData(s) => {
                w.write_string(&s.path);
                w.write_opt_buffer(s.data.as_deref());
                w.write_i32(s.version);
            }
            Request::GetAcl(p)
            | Request::Sync(p)
            | Request::GetEphemerals(p)
            | Request::GetAllChildrenNumber(p) => w.write_string(p),
            Request::SetAcl(s) => {
                w.write_string(&s.path);
                write_acl_vec(w, &s.acl);
                w.write_i32(s.version);
            }
            Request::Ping | Request::WhoAmI | Request::CloseSession => {}
            Request::Multi(_, ops) => {
                for op in ops {
                    MultiHeader {
                        op: op.op().code(),
                        done: false,
                        err: -1,
                    }
                    .write(w);
                    op.write_body(w);
                }
                MultiHeader {
                    op: -1,
                    done: true,
                    err: -1,
                }
                .write(w);
            }
            Request::Reconfig(rc) => {
                w.write_opt_buffer(rc.joining_servers.as_deref().map(str::as_bytes));
                w.write_opt_buffer(rc.leaving_servers.as_deref().map(str::as_bytes));
                w.write_opt_buffer(rc.new_members.as_deref().map(str::as_bytes));
                w.write_i64(rc.cur_config_id);
            }
            Request::CheckWatches(p) | Request::RemoveWatches(p) => {
                w.write_string(&p.path);
                w.write_i32(p.watcher_type);
            }
            Request::Auth(a) => a.write(w),
            Request::SetWatches(op, s) => {
                w.write_i64(s.relative_zxid);
                w.write_string_vec(&s.data_watches);
                w.write_string_vec(&s.exist_watches);
                w.write_string_vec(&s.child_watches);
                if *op == OpCode::SetWatches2 {
                    w.write_string_vec(&s.persistent_watches);
                    w.write_string_vec(&s.persistent_recursive_watches);
                }
            }
            Request::AddWatch(a) => {
                w.write_string(&a.path);
                w.write_i32(a.mode);
            }
            Request::Sasl(b) => w.write_buffer(b),
        }
    }
}

/// Reads the operations of a multi up to its terminator. Only the operations Apache allows
/// in each kind of multi are accepted.
fn read_multi(kind: OpCode, r: &mut Reader<'_>) -> Result<Vec<Request>, DecodeError> {
    let mut ops = Vec::new();
    loop {
        let h = MultiHeader::read(r)?;
        if h.done {
            return Ok(ops);
        }
        let op = OpCode::from_code(h.op)?;
        let allowed = match kind {
            OpCode::Multi => matches!(
                op,
                OpCode::Create
                    | OpCode::Create2
                    | OpCode::CreateTtl
                    | OpCode::CreateContainer
                    | OpCode::Delete
                    | OpCode::SetData
                    | OpCode::Check
            ),
            _ => matches!(op, OpCode::GetChildren | OpCode::GetData),
        };
        if !allowed {
            return Err(DecodeError::InvalidMultiOp(h.op));
        }
        ops.push(Request::read_body(op, r)?);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(req: Request) {
        let mut w = Writer::new();
        req.write_body(&mut w);
        let b = w.into_inner();
        assert_eq!(Request::decode(req.op().code(), &b).unwrap(), req);
    }

    #[test]
    fn requests_round_trip() {
        round_trip(Request::Create(
            OpCode::CreateTtl,
            CreateRequest {
                path: "/a".into(),
                data: Some(b"x".to_vec()),
                acl: Acl::open_unsafe(),
                flags: 5,
                ttl: 1000,
            },
        ));
        round_trip(Request::Multi(
            OpCode::Multi,
            vec![
                Request::Check(PathVersion {
                    path: "/a".into(),
                    version: 3,
                }),
                Request::Delete(PathVersion {
                    path: "/a".into(),
                    version: -1,
                }),
            ],
        ));
        round_trip(Request::SetWatches(
            OpCode::SetWatches2,
            SetWatchesRequest {
                relative_zxid: 9,
                data_watches: vec!["/d".into()],
                persistent_recursive_watches: vec!["/r".into()],
                ..Default::default()
            },
        ));
        round_trip(Request::Reconfig(ReconfigRequest {
            joining_servers: None,
            leaving_servers: Some("3".into()),
            new_members: None,
            cur_config_id: -1,
        }));
    }

    #[test]
    fn multi_rejects_reads_in_write_multi() {
        let mut w = Writer::new();
        Request::Multi(
            OpCode::Multi,
            vec![Request::GetData(PathWatch {
                path: "/a".into(),
                watch: false,
            })],
        )
        .write_body(&mut w);
        assert_eq!(
            Request::decode(OpCode::Multi.code(), &w.into_inner()),
            Err(DecodeError::InvalidMultiOp(4))
        );
    }

    #[test]
    fn unknown_opcode_is_an_error() {
        assert_eq!(
            Request::decode(77, &[]),
            Err(DecodeError::UnknownOpCode(77))
        );
    }
}
