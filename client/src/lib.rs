//! zkrs-client: the async ZooKeeper client library (work in progress: see the issue tracker).
//!
//! Re-exports the wire format so that users of the client can name records and error codes.
pub use zkrs_proto as proto;
