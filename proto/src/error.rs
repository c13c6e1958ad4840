//! Error codes on the wire (`KeeperException.Code`) and decode errors.

use thiserror::Error;

/// Why bytes from a peer could not be decoded. None of these is fatal to the server; the
/// connection that sent them gets an error or is closed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("record truncated: needed {needed} bytes, {remaining} remain")]
    Truncated { needed: usize, remaining: usize },
    #[error("negative length {0}")]
    NegativeLength(i32),
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    #[error("{0} unexpected bytes after the record")]
    TrailingBytes(usize),
    #[error("unknown opcode {0}")]
    UnknownOpCode(i32),
    #[error("frame length {len} exceeds the limit of {max} bytes")]
    FrameTooLarge { len: usize, max: usize },
    #[error("invalid frame length {0}")]
    InvalidFrameLength(i32),
    #[error("operation {0} is not allowed inside multi")]
    InvalidMultiOp(i32),
    #[error("invalid value {value} for {field}")]
    InvalidValue { field: &'static str, value: i64 },
}

macro_rules! error_codes {
    ($($name:ident = $code:expr, $msg:expr;)*) => {
        /// A ZooKeeper result code, as carried in `ReplyHeader.err`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($name,)*
            /// A code this library does not know (kept so that it survives a round trip).
            Unknown(i32),
        }

        impl ErrorCode {
            pub fn code(self) -> i32 {
                match self {
                    $(ErrorCode::$name => $code,)*
                    ErrorCode::Unknown(c) => c,
                }
            }

            pub fn from_code(code: i32) -> ErrorCode {
                match code {
                    $($code => ErrorCode::$name,)*
                    c => ErrorCode::Unknown(c),
                }
            }

            /// The message the Java client prints for this code (`KeeperException.getCodeMessage`).
            pub fn message(self) -> &'static str {
                match self {
                    $(ErrorCode::$name => $msg,)*
                    ErrorCode::Unknown(_) => "Unknown error",
                }
            }
        }
    };
}

error_codes! {
    Ok = 0, "ok";
    SystemError = -1, "SystemError";
    RuntimeInconsistency = -2, "RuntimeInconsistency";
    DataInconsistency = -3, "DataInconsistency";
    ConnectionLoss = -4, "ConnectionLoss";
    MarshallingError = -5, "MarshallingError";
    Unimplemented = -6, "Unimplemented";
    OperationTimeout = -7, "OperationTimeout";
    BadArguments = -8, "BadArguments";
    UnknownSession = -12, "UnknownSession";
    NewConfigNoQuorum = -13, "NewConfigNoQuorum";
    ReconfigInProgress = -14, "ReconfigInProgress";
    ApiError = -100, "APIError";
    NoNode = -101, "NoNode";
    NoAuth = -102, "Not authenticated";
    BadVersion = -103, "BadVersion";
    NoChildrenForEphemerals = -108, "NoChildrenForEphemerals";
    NodeExists = -110, "NodeExists";
    NotEmpty = -111, "Directory not empty";
    SessionExpired = -112, "Session expired";
    InvalidCallback = -113, "Invalid callback";
    InvalidAcl = -114, "InvalidACL";
    AuthFailed = -115, "AuthFailed";
    SessionMoved = -118, "Session moved";
    NotReadOnly = -119, "Not a read-only call";
    EphemeralOnLocalSession = -120, "Ephemeral node on local session";
    NoWatcher = -121, "No such watcher";
    RequestTimeout = -122, "Request timeout";
    ReconfigDisabled = -123, "Reconfig is disabled";
    SessionClosedRequireSaslAuth = -124, "Session closed because client failed to authenticate";
    QuotaExceeded = -125, "Quota has exceeded";
    Throttled = -127, "Op throttled due to high load";
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message(), self.code())
    }
}

impl std::error::Error for ErrorCode {}
