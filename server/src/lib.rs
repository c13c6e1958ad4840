//! zkrs-server: a ZooKeeper-compatible coordination server.
//!
//! See docs/ARCHITECTURE.md: one deterministic core owns the tree, sessions and watches; the
//! network, disk and timers are edges that turn what happens into its inputs and carry out
//! its effects.
//!
//! The public surface is what the binary, embedders and the project's tests use: the
//! configuration ([`config`]), starting and stopping a server ([`server`]), the offline
//! tools ([`tools`]), and the offline migrations from and to Apache ZooKeeper's data files
//! ([`apache_data`]), and the HTTP accept loop the operator's ports share ([`serve_http`]).
//! Everything else is private to the crate.

mod acl;
mod admin;
pub mod apache_data;
pub mod config;
mod core;
mod fourlw;
mod http;
mod ids;
mod namespace;
mod net;
mod prep;
mod quorum;
mod quota;
mod read;
mod reply;
pub mod server;
mod session_password;
mod snapshot_pause;
mod stats;
mod storage;
pub mod tools;
mod tree;
mod txn;
mod watch;

pub use fourlw::{FourLetterWord, Whitelist};
pub use http::serve_http;

/// For the fuzz targets in `fuzz/` only, not an API: they reach private decoders here.
#[doc(hidden)]
pub mod fuzzing {
    /// Feeds untrusted bytes to the quorum protocol's decoders (election handshake and
    /// notifications, learner-port packets) and checks that what decodes round-trips.
    /// Panics only on a bug. Returns how many messages decoded (for coverage checks).
    pub fn decode_quorum_inputs(data: &[u8]) -> usize {
        crate::quorum::wire::fuzz::decode_quorum_inputs(data)
    }
}
