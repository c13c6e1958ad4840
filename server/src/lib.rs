//! zkrs-server: a ZooKeeper-compatible coordination server.
//!
//! See ARCHITECTURE.md: one deterministic core owns the tree, sessions and watches; the
//! network, disk and timers are edges that talk to it through channels.

pub mod config;
pub mod fourlw;
pub mod acl;
pub mod tree;
pub mod txn;
pub mod watch;
pub mod prep;
pub mod read;
pub mod reply;
pub mod log;
pub mod core;
pub mod stats;
pub mod admin;
pub mod net;
pub mod server;
