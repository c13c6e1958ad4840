//! zkrs-server: a ZooKeeper-compatible coordination server.
//!
//! See docs/ARCHITECTURE.md: one deterministic core owns the tree, sessions and watches; the
//! network, disk and timers are edges that turn what happens into its inputs and carry out
//! its effects.

pub mod acl;
pub mod admin;
pub mod config;
pub mod core;
pub mod fourlw;
pub mod ids;
pub mod namespace;
pub mod net;
pub mod prep;
pub mod quota;
pub mod read;
pub mod reply;
pub mod server;
pub mod session_password;
pub mod stats;
pub mod storage;
pub mod tools;
pub mod tree;
pub mod txn;
pub mod watch;
