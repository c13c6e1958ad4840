//! The on-disk encoding of transactions, in jute style (big-endian, length-prefixed), so
//! the log needs no second serialization library.
//!
//! A record is written as the tag [`APACHE`] followed by Apache's own txn type and record
//! (see [`crate::txn::apache`]), so the log holds what replication sends. Tags 1 to 9 are
//! the records of the first log format (before the txns took Apache's shape); they are
//! still read, so older data directories recover.

use zkrs_proto::records::read_acl_vec;
use zkrs_proto::{DecodeError, Reader, Writer};

use crate::txn::apache;
use crate::txn::{owner_kind, CreateKind, OwnerKind, Txn, TxnHeader};

const CREATE_SESSION: i32 = 1;
const CLOSE_SESSION: i32 = 2;
const CREATE: i32 = 3;
const DELETE: i32 = 4;
const SET_DATA: i32 = 5;
const SET_ACL: i32 = 6;
const CHECK: i32 = 7;
const ERROR: i32 = 8;
const MULTI: i32 = 9;
/// A record in Apache's shape: its txn type, then its record.
const APACHE: i32 = 100;

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
    w.write_i32(APACHE);
    apache::write_body(w, t);
}

pub fn read_txn(r: &mut Reader<'_>) -> Result<Txn, DecodeError> {
    read_txn_depth(r, 0)
}

fn read_txn_depth(r: &mut Reader<'_>, depth: u32) -> Result<Txn, DecodeError> {
    let tag = r.read_i32()?;
    Ok(match tag {
        APACHE => apache::read_body(r, true).map_err(|e| match e {
            apache::ApacheTxnError::Decode(d) => d,
            other => DecodeError::InvalidValue {
                field: "transaction",
                value: match other {
                    apache::ApacheTxnError::UnsupportedType(t)
                    | apache::ApacheTxnError::NotInMulti(t) => t as i64,
                    _ => -1,
                },
            },
        })?,
        // The first format stored the password, which members now derive.
        CREATE_SESSION => {
            let timeout_ms = r.read_i32()?;
            r.read_buffer()?;
            Txn::CreateSession { timeout_ms }
        }
        CLOSE_SESSION => Txn::CloseSession {
            ephemerals: Some(r.read_string_vec()?),
        },
        CREATE => {
            let path = r.read_string()?;
            let data = r.read_opt_buffer()?;
            let acl = read_acl_vec(r)?;
            let owner = r.read_i64()?;
            let parent_cversion = r.read_i32()?;
            let with_stat = match r.read_i32()? {
                0 => false,
                1 => true,
                k => {
                    return Err(DecodeError::InvalidValue {
                        field: "create kind",
                        value: k as i64,
                    })
                }
            };
            // The first format stored the resolved owner; an ephemeral's owner was always
            // the header's session, which is where the apply takes it from now.
            let kind = match owner_kind(owner) {
                OwnerKind::Container => CreateKind::Container,
                OwnerKind::Ttl(ttl) => CreateKind::Ttl(ttl),
                k => {
                    let ephemeral = matches!(k, OwnerKind::Ephemeral(_));
                    if with_stat {
                        CreateKind::Create2 { ephemeral }
                    } else {
                        CreateKind::Create { ephemeral }
                    }
                }
            };
            Txn::Create {
                path,
                data,
                acl,
                kind,
                parent_cversion,
            }
        }
        DELETE => Txn::Delete {
            path: r.read_string()?,
            container: false,
        },
        SET_DATA => Txn::SetData {
            path: r.read_string()?,
            data: r.read_opt_buffer()?,
            version: r.read_i32()?,
            reconfig: false,
        },
        SET_ACL => Txn::SetAcl {
            path: r.read_string()?,
            acl: read_acl_vec(r)?,
            aversion: r.read_i32()?,
        },
        // A check changes nothing; the first format did not keep its version.
        CHECK => Txn::Check {
            path: r.read_string()?,
            version: -1,
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
        Txn::Delete { path, container } => {
            if *container {
                format!("deleteContainer {path}")
            } else {
                format!("delete {path}")
            }
        }
        Txn::SetData { path, version, .. } => format!("setData {path} version={version}"),
        Txn::SetAcl { path, .. } => format!("setACL {path}"),
        Txn::Check { path, .. } => format!("check {path}"),
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
            Txn::CreateSession { timeout_ms: 4000 },
            Txn::CloseSession {
                ephemerals: Some(vec!["/e".into()]),
            },
            Txn::CloseSession { ephemerals: None },
            Txn::Create {
                path: "/a".into(),
                data: None,
                acl: Acl::open_unsafe(),
                kind: CreateKind::Create2 { ephemeral: true },
                parent_cversion: 3,
            },
            Txn::Delete {
                path: "/c".into(),
                container: true,
            },
            Txn::Check {
                path: "/b".into(),
                version: 3,
            },
            Txn::Multi(vec![
                Txn::Delete {
                    path: "/a".into(),
                    container: false,
                },
                Txn::SetData {
                    path: "/b".into(),
                    data: Some(b"x".to_vec()),
                    version: 2,
                    reconfig: false,
                },
                Txn::Create {
                    path: "/t".into(),
                    data: Some(vec![]),
                    acl: Acl::read_unsafe(),
                    kind: CreateKind::Ttl(500),
                    parent_cversion: 1,
                },
                Txn::Check {
                    path: "/b".into(),
                    version: 3,
                },
                Txn::Error { err: -101 },
            ]),
            Txn::SetAcl {
                path: "/b".into(),
                acl: Acl::read_unsafe(),
                aversion: 1,
            },
        ];
        for t in txns {
            let b = encode_entry(&h, &t);
            assert_eq!(decode_entry(&b).unwrap(), (h, t));
        }
    }

    /// Records of the first log format (tags 1 to 9) still decode, into the new shapes.
    #[test]
    fn first_format_records_still_decode() {
        let h = TxnHeader {
            session_id: 9,
            cxid: 1,
            zxid: 5,
            time: 3,
        };
        let entry = |body: &dyn Fn(&mut Writer)| {
            let mut w = Writer::new();
            write_header(&mut w, &h);
            body(&mut w);
            decode_entry(&w.into_inner()).unwrap().1
        };
        let session = entry(&|w| {
            w.write_i32(CREATE_SESSION);
            w.write_i32(4000);
            w.write_buffer(&[1; 16]);
        });
        assert_eq!(session, Txn::CreateSession { timeout_ms: 4000 });
        let old_create = |owner: i64, kind: i32| {
            entry(&|w| {
                w.write_i32(CREATE);
                w.write_string("/a");
                w.write_opt_buffer(None);
                zkrs_proto::records::write_acl_vec(w, &Acl::open_unsafe());
                w.write_i64(owner);
                w.write_i32(2);
                w.write_i32(kind);
            })
        };
        let kind_of = |t: Txn| match t {
            Txn::Create { kind, .. } => kind,
            other => panic!("not a create: {other:?}"),
        };
        assert_eq!(
            kind_of(old_create(9, 0)),
            CreateKind::Create { ephemeral: true }
        );
        assert_eq!(
            kind_of(old_create(0, 1)),
            CreateKind::Create2 { ephemeral: false }
        );
        assert_eq!(
            kind_of(old_create(crate::txn::CONTAINER_OWNER, 1)),
            CreateKind::Container
        );
        assert_eq!(
            kind_of(old_create(crate::txn::ttl_owner(700), 1)),
            CreateKind::Ttl(700)
        );
        let multi = entry(&|w| {
            w.write_i32(MULTI);
            w.write_i32(2);
            w.write_i32(DELETE);
            w.write_string("/x");
            w.write_i32(SET_DATA);
            w.write_string("/y");
            w.write_opt_buffer(Some(b"z"));
            w.write_i32(4);
        });
        assert_eq!(
            multi,
            Txn::Multi(vec![
                Txn::Delete {
                    path: "/x".into(),
                    container: false
                },
                Txn::SetData {
                    path: "/y".into(),
                    data: Some(b"z".to_vec()),
                    version: 4,
                    reconfig: false
                }
            ])
        );
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
            &Txn::Delete {
                path: "/a".into(),
                container: false,
            },
        );
        b[28] = 77; // the type tag
        assert!(decode_entry(&b).is_err());
    }
}
