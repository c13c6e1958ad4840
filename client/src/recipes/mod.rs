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
