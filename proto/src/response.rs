//! Response bodies. Which body follows a `ReplyHeader` depends on the request's opcode, so
//! decoding takes the opcode the client sent.

use crate::error::DecodeError;
use crate::jute::{Reader, Record, Writer};
use crate::opcode::OpCode;
use crate::records::{read_acl_vec, write_acl_vec, Acl, ClientInfo, MultiHeader, Stat};

/// One result inside a multi or multiRead response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiResult {
    /// `create` inside a multi: the created path.
    Create(String),
    /// `create2`, `createTTL`, `createContainer` inside a multi: path and Stat.
    Create2(String, Stat),
    Delete,
    SetData(Stat),
    Check,
    GetData(Option<Vec<u8>>, Stat),
    GetChildren(Vec<String>),
    /// A failed (or rolled back) operation: 0 for those before the failure, the error of
    /// the failing one, `RuntimeInconsistency` for those after it.
    Error(i32),
}

/// A response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// No body: delete, ping, auth, check, setWatches, removeWatches, checkWatches, addWatch,
    /// closeSession, and every error reply outside multi.
    Empty,
    Create(String),
    /// create2, createTTL, createContainer.
    Create2(String, Stat),
    /// exists, setData, setACL.
    Stat(Stat),
    /// getData, reconfig. `None` is a null buffer.
    GetData(Option<Vec<u8>>, Stat),
    GetAcl(Vec<Acl>, Stat),
    GetChildren(Vec<String>),
    GetChildren2(Vec<String>, Stat),
    Sync(String),
    Multi(Vec<MultiResult>),
    GetEphemerals(Vec<String>),
    GetAllChildrenNumber(i32),
    WhoAmI(Vec<ClientInfo>),
    /// An `ErrorResponse` body: Apache answers `addWatch` with one carrying 0.
    ErrorCode(i32),
}

impl Response {
    pub fn write(&self, w: &mut Writer) {
        match self {
            Response::Empty => {}
            Response::Create(p) | Response::Sync(p) => w.write_string(p),
            Response::Create2(p, s) => {
                w.write_string(p);
                s.write(w);
            }
            Response::Stat(s) => s.write(w),
            Response::GetData(d, s) => {
                w.write_opt_buffer(d.as_deref());
                s.write(w);
            }
            Response::GetAcl(a, s) => {
                write_acl_vec(w, a);
                s.write(w);
            }
            Response::GetChildren(c) | Response::GetEphemerals(c) => w.write_string_vec(c),
            Response::GetChildren2(c, s) => {
                w.write_string_vec(c);
                s.write(w);
            }
            Response::Multi(results) => {
                for r in results {
                    write_multi_result(w, r);
                }
                MultiHeader {
                    op: -1,
                    done: true,
                    err: -1,
                }
                .write(w);
            }
            Response::GetAllChildrenNumber(n) | Response::ErrorCode(n) => w.write_i32(*n),
            Response::WhoAmI(infos) => {
                w.write_i32(infos.len() as i32);
                for i in infos {
                    i.write(w);
                }
            }
        }
    }

    /// Decodes the body of a successful reply to a request sent with opcode `op`.
    pub fn decode(op: OpCode, body: &[u8]) -> Result<Response, DecodeError> {
        let mut r = Reader::new(body);
        Ok(match op {
            OpCode::Create => Response::Create(r.read_string()?),
            OpCode::Create2 | OpCode::CreateTtl | OpCode::CreateContainer => {
                Response::Create2(r.read_string()?, Stat::read(&mut r)?)
            }
            OpCode::Exists | OpCode::SetData | OpCode::SetAcl => {
                Response::Stat(Stat::read(&mut r)?)
            }
            OpCode::GetData | OpCode::Reconfig => {
                Response::GetData(r.read_opt_buffer()?, Stat::read(&mut r)?)
            }
            OpCode::GetAcl => Response::GetAcl(read_acl_vec(&mut r)?, Stat::read(&mut r)?),
            OpCode::GetChildren => Response::GetChildren(r.read_string_vec()?),
            OpCode::GetChildren2 => {
                Response::GetChildren2(r.read_string_vec()?, Stat::read(&mut r)?)
            }
            OpCode::Sync => Response::Sync(r.read_string()?),
            OpCode::Multi | OpCode::MultiRead => Response::Multi(read_multi_results(&mut r)?),
            OpCode::GetEphemerals => Response::GetEphemerals(r.read_string_vec()?),
            OpCode::GetAllChildrenNumber => Response::GetAllChildrenNumber(r.read_i32()?),
            OpCode::AddWatch => Response::ErrorCode(r.read_i32()?),
            OpCode::WhoAmI => {
                let n = r.read_vec_len(8)?.unwrap_or(0);
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(ClientInfo::read(&mut r)?);
                }
                Response::WhoAmI(v)
            }
            _ => Response::Empty,
        })
    }
}

fn write_multi_result(w: &mut Writer, r: &MultiResult) {
    let header = |op: OpCode| MultiHeader {
        op: op.code(),
        done: false,
        err: 0,
    };
    match r {
        MultiResult::Create(p) => {
            header(OpCode::Create).write(w);
            w.write_string(p);
        }
        MultiResult::Create2(p, s) => {
            header(OpCode::Create2).write(w);
            w.write_string(p);
            s.write(w);
        }
        MultiResult::Delete => header(OpCode::Delete).write(w),
        MultiResult::SetData(s) => {
            header(OpCode::SetData).write(w);
            s.write(w);
        }
        MultiResult::Check => header(OpCode::Check).write(w),
        MultiResult::GetData(d, s) => {
            header(OpCode::GetData).write(w);
            w.write_opt_buffer(d.as_deref());
            s.write(w);
        }
        MultiResult::GetChildren(c) => {
            header(OpCode::GetChildren).write(w);
            w.write_string_vec(c);
        }
        MultiResult::Error(e) => {
            MultiHeader {
                op: OpCode::Error.code(),
                done: false,
                err: *e,
            }
            .write(w);
            w.write_i32(*e);
        }
    }
}

fn read_multi_results(r: &mut Reader<'_>) -> Result<Vec<MultiResult>, DecodeError> {
    let mut out = Vec::new();
    loop {
        let h = MultiHeader::read(r)?;
        if h.done {
            return Ok(out);
        }
        let op = OpCode::from_code(h.op)?;
        out.push(match op {
            OpCode::Create => MultiResult::Create(r.read_string()?),
            OpCode::Create2 | OpCode::CreateTtl | OpCode::CreateContainer => {
                MultiResult::Create2(r.read_string()?, Stat::read(r)?)
            }
            OpCode::Delete => MultiResult::Delete,
            OpCode::SetData => MultiResult::SetData(Stat::read(r)?),
            OpCode::Check => MultiResult::Check,
            OpCode::GetData => MultiResult::GetData(r.read_opt_buffer()?, Stat::read(r)?),
            OpCode::GetChildren => MultiResult::GetChildren(r.read_string_vec()?),
            OpCode::Error => MultiResult::Error(r.read_i32()?),
            _ => return Err(DecodeError::InvalidMultiOp(h.op)),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_response_round_trip() {
        let resp = Response::Multi(vec![
            MultiResult::Create("/a".into()),
            MultiResult::Create2("/b".into(), Stat::default()),
            MultiResult::Delete,
            MultiResult::SetData(Stat {
                version: 2,
                ..Stat::default()
            }),
            MultiResult::Check,
            MultiResult::Error(-101),
        ]);
        let mut w = Writer::new();
        resp.write(&mut w);
        assert_eq!(
            Response::decode(OpCode::Multi, &w.into_inner()).unwrap(),
            resp
        );
    }
}
