//! zkrs-client: an async ZooKeeper client for tokio, with recipes.
//!
//! * [`Client`]: one session, kept alive across connections. The connect string names
//!   several servers and an optional chroot (`h1:2181,h2:2181/app`); servers are tried in
//!   random order; the session is kept alive with pings and moved to another server when a
//!   connection breaks, and every outstanding watch is set again there.
//! * Every operation of the protocol (see the methods of [`Client`]), with typed errors
//!   ([`Error`]), watches as futures ([`OneshotWatcher`]) or streams
//!   ([`PersistentWatcher`]), and atomic [`Client::multi`].
//! * Session state changes are observable ([`Client::state_watcher`],
//!   [`Client::state_events`]). After `Expired` the client is finished: make a new one.
//! * Dynamic reconfiguration: [`Client::reconfig`] and [`Client::get_config`] with typed
//!   errors ([`Error::ReconfigInProgress`], [`Error::NewConfigNoQuorum`],
//!   [`Error::ReconfigDisabled`]), [`EnsembleConfig`] to read `/zookeeper/config`, and
//!   [`Client::update_server_list`] / [`Client::follow_config`] to keep the server list
//!   equal to the ensemble's.
//! * [`recipes`]: service registry, lock, leader election.
//!
//! Requests are pipelined: each call sends its request at once and many may be in flight on
//! the one connection; a single task owns the socket and matches replies by xid.

mod chroot;
mod client;
mod config;
mod connect_string;
mod connection;
mod error;
mod multi;
mod ops;
pub mod recipes;
mod session;
mod types;
mod watch;

pub use zkrs_proto as proto;

pub use crate::chroot::Chroot;
pub use crate::client::{Client, ClientBuilder, DEFAULT_MAX_FRAME_SIZE, DEFAULT_SESSION_TIMEOUT};
pub use crate::config::{EnsembleConfig, ServerEntry, ServerRole};
pub use crate::connect_string::{ConnectString, DEFAULT_PORT};
pub use crate::error::{Error, Result};
pub use crate::multi::{Op, OpResult, ReadOp, ReadResult};
pub use crate::ops::CONFIG_NODE;
pub use crate::types::{digest_acl, digest_id, CreateOptions, SessionState, WatchedEvent};
pub use crate::watch::{OneshotWatcher, PersistentWatcher};
pub use zkrs_proto::opcode::perms;
pub use zkrs_proto::{
    Acl, AddWatchMode, ClientInfo, CreateMode, EventType, Id, KeeperState, Stat, WatcherType,
};
