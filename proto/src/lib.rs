//! zkrs-proto: the Apache ZooKeeper client wire format.
//!
//! Pure encoding and decoding, no I/O: jute primitives ([`jute`]), the shared records
//! ([`records`]), request and response bodies ([`request`], [`response`]), opcodes and
//! error codes, framing and path syntax. Shared by the server and the client.

pub mod error;
pub mod frame;
pub mod jute;
pub mod opcode;
pub mod path;
pub mod records;
pub mod request;
pub mod response;

pub use error::{DecodeError, ErrorCode};
pub use jute::{Reader, Record, Writer};
pub use opcode::{AddWatchMode, CreateMode, EventType, KeeperState, OpCode, WatcherType};
pub use records::{
    Acl, AuthPacket, ClientInfo, ConnectRequest, ConnectResponse, Id, MultiHeader, ReplyHeader,
    RequestHeader, Stat, WatcherEvent,
};
pub use request::Request;
pub use response::{MultiResult, Response};
