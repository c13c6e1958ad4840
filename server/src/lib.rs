//! zkrs-server: a ZooKeeper-compatible coordination server.
//!
//! See ARCHITECTURE.md: one deterministic core owns the tree, sessions and watches; the
//! network, disk and timers are edges that talk to it through channels.

pub mod config;
pub mod fourlw;
