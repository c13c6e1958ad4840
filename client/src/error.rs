//! The client's error type: one variant per ZooKeeper result code the caller may want to
//! match on, plus the errors that arise on the client side (bad arguments, a closed client,
//! a server that speaks nonsense) and a failed `multi` with its per-operation results.

use thiserror::Error;
use zkrs_proto::path::PathError;
use zkrs_proto::{DecodeError, ErrorCode};

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an operation failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    /// The node does not exist.
    #[error("node does not exist")]
    NoNode,
    /// The node already exists.
    #[error("node already exists")]
    NodeExists,
    /// The expected version does not match the node's.
    #[error("version does not match")]
    BadVersion,
    /// The node has children.
    #[error("node has children")]
    NotEmpty,
    /// The ACL does not grant the permission the operation needs.
    #[error("not authorized")]
    NoAuth,
    /// The session has expired; the client is finished (make a new one).
    #[error("session expired")]
    SessionExpired,
    /// The connection to the server was lost before the reply arrived. The operation may or
    /// may not have been applied; the session survives if the client reconnects in time.
    #[error("connection to the server lost")]
    ConnectionLoss,
    /// Ephemeral nodes may not have children.
    #[error("ephemeral nodes may not have children")]
    NoChildrenForEphemerals,
    /// The ACL is empty or names an unknown scheme or a malformed id.
    #[error("invalid ACL")]
    InvalidAcl,
    /// The server rejected the arguments.
    #[error("bad arguments")]
    BadArguments,
    /// The server does not implement the operation (or it is disabled, e.g. TTL nodes).
    #[error("operation not implemented by the server")]
    Unimplemented,
    /// Authentication failed; the client is finished.
    #[error("authentication failed")]
    AuthFailed,
    /// The session moved to another server.
    #[error("session moved to another server")]
    SessionMoved,
    /// A write was sent to a read-only server.
    #[error("server is read-only")]
    NotReadOnly,
    /// `removeWatches`/`checkWatches`: no such watch is registered.
    #[error("no such watch")]
    NoWatcher,
    #[error("operation timed out on the server")]
    OperationTimeout,
    #[error("request timed out")]
    RequestTimeout,
    #[error("reconfiguration already in progress")]
    ReconfigInProgress,
    #[error("new configuration has no quorum")]
    NewConfigNoQuorum,
    #[error("reconfiguration is disabled")]
    ReconfigDisabled,
    #[error("quota exceeded")]
    QuotaExceeded,
    #[error("throttled by the server")]
    Throttled,
    #[error("ephemeral node on a local session")]
    EphemeralOnLocalSession,
    #[error("session closed because the client failed to authenticate")]
    SessionClosedRequireSaslAuth,
    #[error("unknown session")]
    UnknownSession,
    #[error("server system error")]
    SystemError,
    /// In a failed `multi`: an operation after the one that failed (not attempted).
    #[error("runtime inconsistency")]
    RuntimeInconsistency,
    #[error("data inconsistency")]
    DataInconsistency,
    #[error("marshalling error")]
    MarshallingError,
    #[error("API error")]
    ApiError,
    #[error("invalid callback")]
    InvalidCallback,
    /// A result code this library has no variant for.
    #[error("server error code {0}")]
    Other(i32),

    /// A `multi` failed as a whole: the operation at `index` failed with `error`, nothing was
    /// applied. `results` holds one entry per operation: `Ok(())` for those that would have
    /// succeeded, the error of the failed one, and `RuntimeInconsistency` for those after it.
    #[error("operation {index} of the multi failed: {error}")]
    Multi {
        index: usize,
        error: Box<Error>,
        results: Vec<Result<(), Error>>,
    },

    /// The path is not a valid znode path (checked before anything is sent).
    #[error(transparent)]
    InvalidPath(#[from] PathError),
    /// The connect string could not be parsed or resolved.
    #[error("invalid connect string: {0}")]
    InvalidConnectString(String),
    /// An argument was rejected on the client side.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The client was closed with [`Client::close`](crate::Client::close).
    #[error("client closed")]
    Closed,
    /// No server of the connect string could be reached in time.
    #[error("could not connect: {0}")]
    Connect(String),
    /// The server sent something this client cannot decode.
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl Error {
    /// The error for a result code (`None` for `Ok`).
    pub fn from_code(code: i32) -> Option<Error> {
        Some(match ErrorCode::from_code(code) {
            ErrorCode::Ok => return None,
            ErrorCode::SystemError => Error::SystemError,
            ErrorCode::RuntimeInconsistency => Error::RuntimeInconsistency,
            ErrorCode::DataInconsistency => Error::DataInconsistency,
            ErrorCode::ConnectionLoss => Error::ConnectionLoss,
            ErrorCode::MarshallingError => Error::MarshallingError,
            ErrorCode::Unimplemented => Error::Unimplemented,
            ErrorCode::OperationTimeout => Error::OperationTimeout,
            ErrorCode::BadArguments => Error::BadArguments,
            ErrorCode::UnknownSession => Error::UnknownSession,
            ErrorCode::NewConfigNoQuorum => Error::NewConfigNoQuorum,
            ErrorCode::ReconfigInProgress => Error::ReconfigInProgress,
            ErrorCode::ApiError => Error::ApiError,
            ErrorCode::NoNode => Error::NoNode,
            ErrorCode::NoAuth => Error::NoAuth,
            ErrorCode::BadVersion => Error::BadVersion,
            ErrorCode::NoChildrenForEphemerals => Error::NoChildrenForEphemerals,
            ErrorCode::NodeExists => Error::NodeExists,
            ErrorCode::NotEmpty => Error::NotEmpty,
            ErrorCode::SessionExpired => Error::SessionExpired,
            ErrorCode::InvalidCallback => Error::InvalidCallback,
            ErrorCode::InvalidAcl => Error::InvalidAcl,
            ErrorCode::AuthFailed => Error::AuthFailed,
            ErrorCode::SessionMoved => Error::SessionMoved,
            ErrorCode::NotReadOnly => Error::NotReadOnly,
            ErrorCode::EphemeralOnLocalSession => Error::EphemeralOnLocalSession,
            ErrorCode::NoWatcher => Error::NoWatcher,
            ErrorCode::RequestTimeout => Error::RequestTimeout,
            ErrorCode::ReconfigDisabled => Error::ReconfigDisabled,
            ErrorCode::SessionClosedRequireSaslAuth => Error::SessionClosedRequireSaslAuth,
            ErrorCode::QuotaExceeded => Error::QuotaExceeded,
            ErrorCode::Throttled => Error::Throttled,
            ErrorCode::Unknown(c) => Error::Other(c),
        })
    }

    /// The wire result code of a server-side error (`None` for client-side errors).
    pub fn code(&self) -> Option<ErrorCode> {
        let code = match self {
            Error::NoNode => ErrorCode::NoNode,
            Error::NodeExists => ErrorCode::NodeExists,
            Error::BadVersion => ErrorCode::BadVersion,
            Error::NotEmpty => ErrorCode::NotEmpty,
            Error::NoAuth => ErrorCode::NoAuth,
            Error::SessionExpired => ErrorCode::SessionExpired,
            Error::ConnectionLoss => ErrorCode::ConnectionLoss,
            Error::NoChildrenForEphemerals => ErrorCode::NoChildrenForEphemerals,
            Error::InvalidAcl => ErrorCode::InvalidAcl,
            Error::BadArguments => ErrorCode::BadArguments,
            Error::Unimplemented => ErrorCode::Unimplemented,
            Error::AuthFailed => ErrorCode::AuthFailed,
            Error::SessionMoved => ErrorCode::SessionMoved,
            Error::NotReadOnly => ErrorCode::NotReadOnly,
            Error::NoWatcher => ErrorCode::NoWatcher,
            Error::OperationTimeout => ErrorCode::OperationTimeout,
            Error::RequestTimeout => ErrorCode::RequestTimeout,
            Error::ReconfigInProgress => ErrorCode::ReconfigInProgress,
            Error::NewConfigNoQuorum => ErrorCode::NewConfigNoQuorum,
            Error::ReconfigDisabled => ErrorCode::ReconfigDisabled,
            Error::QuotaExceeded => ErrorCode::QuotaExceeded,
            Error::Throttled => ErrorCode::Throttled,
            Error::EphemeralOnLocalSession => ErrorCode::EphemeralOnLocalSession,
            Error::SessionClosedRequireSaslAuth => ErrorCode::SessionClosedRequireSaslAuth,
            Error::UnknownSession => ErrorCode::UnknownSession,
            Error::SystemError => ErrorCode::SystemError,
            Error::RuntimeInconsistency => ErrorCode::RuntimeInconsistency,
            Error::DataInconsistency => ErrorCode::DataInconsistency,
            Error::MarshallingError => ErrorCode::MarshallingError,
            Error::ApiError => ErrorCode::ApiError,
            Error::InvalidCallback => ErrorCode::InvalidCallback,
            Error::Other(c) => ErrorCode::Unknown(*c),
            Error::Multi { error, .. } => return error.code(),
            Error::InvalidPath(_) => ErrorCode::BadArguments,
            Error::InvalidConnectString(_)
            | Error::InvalidArgument(_)
            | Error::Closed
            | Error::Connect(_)
            | Error::Protocol(_) => return None,
        };
        Some(code)
    }

    /// Whether the session is gone for good (expired, closed, or authentication failed): no
    /// retry on this client can succeed.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Error::SessionExpired | Error::Closed | Error::AuthFailed
        )
    }
}

impl From<ErrorCode> for Error {
    fn from(code: ErrorCode) -> Error {
        Error::from_code(code.code()).unwrap_or(Error::Other(0))
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Error {
        Error::Protocol(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in [-1, -2, -3, -4, -5, -6, -7, -8, -12, -13, -14, -100]
            .into_iter()
            .chain([-101, -102, -103, -108, -110, -111, -112, -113, -114, -115])
            .chain([-118, -119, -120, -121, -122, -123, -124, -125, -127, -999])
        {
            let e = Error::from_code(code).expect("an error");
            assert_eq!(e.code().map(|c| c.code()), Some(code), "{e:?}");
        }
        assert_eq!(Error::from_code(0), None);
        assert_eq!(Error::from(ErrorCode::NoNode), Error::NoNode);
    }
}
