//! Recipes built on the client: a service registry, a distributed lock and leader election.
//!
//! All three rest on ephemeral sequential nodes: they vanish with the session that made
//! them, and their sequence numbers order the participants.
//!
//! * [`registry`]: providers register `host:port` under a service; consumers follow the
//!   live list and pick an instance.
//! * [`lock`]: mutual exclusion; each waiter watches only its predecessor.
//! * [`election`]: the lowest candidate leads; candidates follow their standing as a stream.

pub mod election;
pub mod lock;
pub mod registry;

use std::time::Duration;

use crate::{Client, Error, Result, SessionState};

/// Waits for `client` to be connected again after a [`Error::ConnectionLoss`]: at most
/// twice the session timeout, the session's terminal error if it ended meanwhile.
pub(crate) async fn await_connection(client: &Client) -> Result<()> {
    let limit = client.session_timeout().max(Duration::from_secs(1)) * 2;
    match client
        .wait_for_state(SessionState::SyncConnected, limit)
        .await
    {
        Some(SessionState::SyncConnected) => Ok(()),
        Some(_) => Err(client.shared.terminal_error()),
        None => Err(Error::ConnectionLoss),
    }
}
