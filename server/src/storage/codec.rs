//! The on-disk encoding of transactions, in jute style (big-endian, length-prefixed), so
//! the log needs no second serialization library.

use zkrs_proto::records::{read_acl_vec, write_acl_vec};
use zkrs_proto::{DecodeError, Reader, Writer};

use crate::txn::{CreateKind, Txn, TxnHeader};

const CREATE_SESSION: i32 = 1;
const CLOSE_SESSION: i32 = 2;
const CREATE: i32 = 3;
const DELETE: i32 = 4;
const SET_DATA: i32 = 5;
const SET_ACL: i32 = 6;
const CHECK: i32 = 7;
const ERROR: i32 = 8;
const MULTI: i32 = 9;

pub fn write_header(w: &mut Writer, h: &TxnHeader) {
    w.write_i64(h.session_id);
    w.write_i32(h.cxid);
    w.write_i64(h.zxid);
    w.write_i64(h.time);
}

pub fn read_header(r: &mut Reader<'_>) -> Result<TxnHeader, DecodeError> {
    Ok(TxnHeader {
        session_id: r.read_i64()?,
        cxid: r.read_i32()?,
        zxid: r.read_i64()?,
        time: r.read_i64()?,
    })
}

pub fn write_txn(w: &mut Writer, t: &Txn) {
    match t {
        Txn::CreateSession { timeout_ms, passwd } => {
            w.write_i32(CREATE_SESSION);
            w.write_i32(*timeout_ms);
            w.write_buffer(passwd);
        }
        Txn::CloseSession { ephemerals } => {
            w.write_i32(CLOSE_SESSION);
            w.write_string_vec(ephemerals);
        }
        Txn::Create {
            path,
            data,
            acl,
            ephemeral_owner,
            parent_cversion,
            kind,
        } => {
            w.write_i32(CREATE);
            w.write_string(path);
            w.write_opt_buffer(data.as_deref());
            write_acl_vec(w, acl);
            w.write_i64(*ephemeral_owner);
            w.write_i32(*parent_cversion);
            w.write_i32(match kind {
                CreateKind::Plain => 0,
                CreateKind::WithStat => 1,
            });
        }
        Txn::Delete { path } => {
            w.write_i32(DELETE);
            w.write_string(path);
        }
        Txn::SetData {
            path,
            data,
            version,
        } => {
            w.write_i32(SET_DATA);
            w.write_string(path);
            w.write_opt_buffer(data.as_deref());
            w.write_i32(*version);
        }
        Txn::SetAcl {
            path,
            acl,
            aversion,
        } => {
            w.write_i32(SET_ACL);
            w.write_string(path);
            write_acl_vec(w, acl);
            w.write_i32(*aversion);
        }
        Txn::Check { path } => {
            w.write_i32(CHECK);
            w.write_string(path);
        }
        Txn::Error { err } => {
            w.write_i32(ERROR);
            w.write_i32(*err);
        }
        Txn::Multi(txns) => {
            w.write_i32(MULTI);
            w.write_i32(txns.len() as i32);
            for t in txns {
                write_txn(w, t);
            }
        }
    }
}

pub fn read_txn(r: &mut Reader<'_>) -> Result<Txn, DecodeError> {
    read_txn_depth(r, 0)
}

fn read_txn_depth(r: &mut Reader<'_>, depth: u32) -> Result<Txn, DecodeError> {
    let tag = r.read_i32()?;
    Ok(match tag {
        CREATE_SESSION => Txn::CreateSession {
            timeout_ms: r.read_i32()?,
            passwd: r.read_buffer()?,
        },
        CLOSE_SESSION => Txn::CloseSession {
            ephemerals: r.read_string_vec()?,
        },
        CREATE => Txn::Create {
            path: r.read_string()?,
            data: r.read_opt_buffer()?,
            acl: read_acl_vec(r)?,
            ephemeral_owner: r.read_i64()?,
            parent_cversion: r.read_i32()?,
            kind: match r.read_i32()? {
                0 => CreateKind::Plain,
                1 => CreateKind::WithStat,
                k => {
                    return Err(DecodeError::InvalidValue {
                        field: "create kind",
                        value: k as i64,
                    })
                }
            },
        },
        DELETE => Txn::Delete {
            path: r.read_string()?,
        },
        SET_DATA => Txn::SetData {
            path: r.read_string()?,
            data: r.read_opt_buffer()?,
            version: r.read_i32()?,
        },
        SET_ACL => Txn::SetAcl {
            path: r.read_string()?,
            acl: read_acl_vec(r)?,
            aversion: r.read_i32()?,
        },
        CHECK => Txn::Check {
            path: r.read_string()?,
        },
        ERROR => Txn::Error { err: r.read_i32()? },
        // A multi never nests; one level is all a valid log holds.
        MULTI if depth == 0 => {
            let n = r.read_vec_len(4)?.unwrap_or(0);
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                v.push(read_txn_depth(r, depth + 1)?);
            }
            Txn::Multi(v)
        }
        other => {
            return Err(DecodeError::InvalidValue {
                field: "transaction type",
                value: other as i64,
            })
        }
    })
}

/// A transaction as the log stores it: header then body.
pub fn encode_entry(h: &TxnHeader, t: &Txn) -> Vec<u8> {
    let mut w = Writer::with_capacity(64);
    write_header(&mut w, h);
    write_txn(&mut w, t);
    w.into_inner()
}

pub fn decode_entry(b: &[u8]) -> Result<(TxnHeader, Txn), DecodeError> {
    let mut r = Reader::new(b);
    let h = read_header(&mut r)?;
    let t = read_txn(&mut r)?;
    r.finish()?;
    Ok((h, t))
}

/// A short description for the log dumper: op name and path.
pub fn describe(t: &Txn) -> String {
    match t {
        Txn::CreateSession { timeout_ms, .. } => format!("createSession timeout={timeout_ms}"),
        Txn::CloseSession { ephemerals } => format!("closeSession ephemerals={ephemerals:?}"),
        Txn::Create { path, .. } => format!("create {path}"),
        Txn::Delete { path } => format!("delete {path}"),
        Txn::SetData { path, version, .. } => format!("setData {path} version={version}"),
        Txn::SetAcl { path, .. } => format!("setACL {path}"),
        Txn::Check { path } => format!("check {path}"),
        Txn::Error { err } => format!("error {err}"),
        Txn::Multi(ts) => {
            let parts: Vec<String> = ts.iter().map(describe).collect();
            format!("multi [{}]", parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkrs_proto::Acl;

    #[test]
    fn every_txn_round_trips() {
        let h = TxnHeader {
            session_id: 0x1234,
            cxid: 7,
            zxid: 0x1_0000_0002,
            time: 99,
        };
        let txns = vec![
            Txn::CreateSession {
                timeout_ms: 4000,
                passwd: vec![1; 16],
            },
            Txn::CloseSession {
                ephemerals: vec!["/e".into()],
            },
            Txn::Create {
                path: "/a".into(),
                data: None,
                acl: Acl::open_unsafe(),
                ephemeral_owner: -5,
                parent_cversion: 3,
                kind: CreateKind::WithStat,
            },
            Txn::Multi(vec![
                Txn::Delete { path: "/a".into() },
                Txn::SetData {
                    path: "/b".into(),
                    data: Some(b"x".to_vec()),
                    version: 2,
                },
                Txn::SetAcl {
                    path: "/b".into(),
                    acl: Acl::read_unsafe(),
                    aversion: 1,
                },
                Txn::Check { path: "/b".into() },
                Txn::Error { err: -101 },
            ]),
        ];
        for t in txns {
            let b = encode_entry(&h, &t);
            assert_eq!(decode_entry(&b).unwrap(), (h, t));
        }
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(decode_entry(&[0; 3]).is_err());
        let mut b = encode_entry(
            &TxnHeader {
                session_id: 1,
                cxid: 1,
                zxid: 1,
                time: 1,
            },
            &Txn::Delete { path: "/a".into() },
        );
        b[28] = 77; // the type tag
        assert!(decode_entry(&b).is_err());
    }
}
