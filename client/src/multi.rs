//! Typed operations and results of `multi` (atomic writes) and `multiRead`.

use zkrs_proto::request::{PathVersion, PathWatch, SetDataRequest};
use zkrs_proto::{MultiResult, OpCode, Request, Stat};

use crate::chroot::Chroot;
use crate::error::{Error, Result};
use crate::types::CreateOptions;

/// One write of a [`Client::multi`](crate::Client::multi).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Create {
        path: String,
        data: Vec<u8>,
        options: CreateOptions,
    },
    /// `version: None` deletes whatever the version.
    Delete { path: String, version: Option<i32> },
    SetData {
        path: String,
        data: Vec<u8>,
        version: Option<i32>,
    },
    /// Fails the multi unless the node exists (and has `version`, if given).
    Check { path: String, version: Option<i32> },
}

impl Op {
    pub fn create(
        path: impl Into<String>,
        data: impl Into<Vec<u8>>,
        options: impl Into<CreateOptions>,
    ) -> Op {
        Op::Create {
            path: path.into(),
            data: data.into(),
            options: options.into(),
        }
    }

    pub fn delete(path: impl Into<String>, version: Option<i32>) -> Op {
        Op::Delete {
            path: path.into(),
            version,
        }
    }

    pub fn set_data(path: impl Into<String>, data: impl Into<Vec<u8>>, version: Option<i32>) -> Op {
        Op::SetData {
            path: path.into(),
            data: data.into(),
            version,
        }
    }

    pub fn check(path: impl Into<String>, version: Option<i32>) -> Op {
        Op::Check {
            path: path.into(),
            version,
        }
    }

    pub(crate) fn to_request(&self, chroot: &Chroot) -> Result<Request> {
        Ok(match self {
            Op::Create {
                path,
                data,
                options,
            } => create_request(chroot, path, Some(data), options, false)?,
            Op::Delete { path, version } => Request::Delete(PathVersion {
                path: chroot.server_path(path, false)?,
                version: version.unwrap_or(-1),
            }),
            Op::SetData {
                path,
                data,
                version,
            } => Request::SetData(SetDataRequest {
                path: chroot.server_path(path, false)?,
                data: Some(data.clone()),
                version: version.unwrap_or(-1),
            }),
            Op::Check { path, version } => Request::Check(PathVersion {
                path: chroot.server_path(path, false)?,
                version: version.unwrap_or(-1),
            }),
        })
    }
}

/// The result of one successful write of a multi.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    /// The created path (with its sequence number). Apache answers creates inside a multi
    /// without a Stat, so `stat` is usually `None`.
    Create {
        path: String,
        stat: Option<Stat>,
    },
    Delete,
    SetData(Stat),
    Check,
}

/// One read of a [`Client::multi_read`](crate::Client::multi_read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOp {
    GetData(String),
    GetChildren(String),
}

impl ReadOp {
    pub fn get_data(path: impl Into<String>) -> ReadOp {
        ReadOp::GetData(path.into())
    }

    pub fn get_children(path: impl Into<String>) -> ReadOp {
        ReadOp::GetChildren(path.into())
    }

    pub(crate) fn to_request(&self, chroot: &Chroot) -> Result<Request> {
        Ok(match self {
            ReadOp::GetData(p) => Request::GetData(PathWatch {
                path: chroot.server_path(p, false)?,
                watch: false,
            }),
            ReadOp::GetChildren(p) => Request::GetChildren(
                OpCode::GetChildren,
                PathWatch {
                    path: chroot.server_path(p, false)?,
                    watch: false,
                },
            ),
        })
    }
}

/// The result of one read of a multiRead; each read succeeds or fails on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadResult {
    Data { data: Vec<u8>, stat: Stat },
    Children(Vec<String>),
    Error(Error),
}

/// Builds the create request for `options` (`create2` when a Stat is wanted).
pub(crate) fn create_request(
    chroot: &Chroot,
    path: &str,
    data: Option<&[u8]>,
    options: &CreateOptions,
    want_stat: bool,
) -> Result<Request> {
    let mode = options.mode;
    let path = chroot.server_path(path, mode.is_sequential())?;
    let op = if mode.is_container() {
        OpCode::CreateContainer
    } else if mode.is_ttl() {
        OpCode::CreateTtl
    } else if want_stat {
        OpCode::Create2
    } else {
        OpCode::Create
    };
    let ttl = match (mode.is_ttl(), options.ttl) {
        (true, Some(ttl)) => ttl.as_millis().min(i64::MAX as u128) as i64,
        (true, None) => return Err(Error::InvalidArgument(format!("{mode:?} needs a TTL"))),
        (false, Some(_)) => {
            return Err(Error::InvalidArgument(format!(
                "a TTL needs a TTL mode, not {mode:?}"
            )))
        }
        (false, None) => -1,
    };
    Ok(Request::Create(
        op,
        zkrs_proto::request::CreateRequest {
            path,
            data: data.map(<[u8]>::to_vec),
            acl: options.acl.clone(),
            flags: mode.flags(),
            ttl,
        },
    ))
}

/// Turns the results of a multi into typed results, or the multi's error.
pub(crate) fn write_results(chroot: &Chroot, results: Vec<MultiResult>) -> Result<Vec<OpResult>> {
    if let Some(index) = results
        .iter()
        .position(|r| matches!(r, MultiResult::Error(c) if *c != 0))
    {
        let per_op: Vec<Result<(), Error>> = results
            .iter()
            .map(|r| match r {
                MultiResult::Error(c) => Error::from_code(*c).map_or(Ok(()), Err),
                _ => Ok(()),
            })
            .collect();
        let error = match &per_op[index] {
            Err(e) => e.clone(),
            Ok(()) => Error::SystemError,
        };
        return Err(Error::Multi {
            index,
            error: Box::new(error),
            results: per_op,
        });
    }
    results
        .into_iter()
        .map(|r| {
            Ok(match r {
                MultiResult::Create(p) => OpResult::Create {
                    path: chroot.strip(&p),
                    stat: None,
                },
                MultiResult::Create2(p, s) => OpResult::Create {
                    path: chroot.strip(&p),
                    stat: Some(s),
                },
                MultiResult::Delete => OpResult::Delete,
                MultiResult::SetData(s) => OpResult::SetData(s),
                MultiResult::Check => OpResult::Check,
                other => {
                    return Err(Error::Protocol(format!(
                        "unexpected result in a multi: {other:?}"
                    )))
                }
            })
        })
        .collect()
}

/// Turns the results of a multiRead into typed results.
pub(crate) fn read_results(results: Vec<MultiResult>) -> Result<Vec<ReadResult>> {
    results
        .into_iter()
        .map(|r| {
            Ok(match r {
                MultiResult::GetData(d, stat) => ReadResult::Data {
                    data: d.unwrap_or_default(),
                    stat,
                },
                MultiResult::GetChildren(c) => ReadResult::Children(c),
                MultiResult::Error(c) => {
                    ReadResult::Error(Error::from_code(c).unwrap_or(Error::SystemError))
                }
                other => {
                    return Err(Error::Protocol(format!(
                        "unexpected result in a multiRead: {other:?}"
                    )))
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_multi_reports_each_op() {
        let c = Chroot::default();
        let err = write_results(
            &c,
            vec![
                MultiResult::Error(0),
                MultiResult::Error(-103),
                MultiResult::Error(-2),
            ],
        )
        .unwrap_err();
        assert_eq!(
            err,
            Error::Multi {
                index: 1,
                error: Box::new(Error::BadVersion),
                results: vec![
                    Ok(()),
                    Err(Error::BadVersion),
                    Err(Error::RuntimeInconsistency)
                ],
            }
        );
        let chroot = Chroot::new("/app").unwrap();
        let ok = write_results(&chroot, vec![MultiResult::Create("/app/x".into())]).unwrap();
        assert_eq!(
            ok,
            vec![OpResult::Create {
                path: "/x".into(),
                stat: None
            }]
        );
    }
}
