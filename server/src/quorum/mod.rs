//! Apache ZooKeeper's quorum protocol, for the replicated ensemble: the wire formats of the
//! election and learner ports ([`wire`]) and fast leader election as a sans-I/O state
//! machine ([`election`]), both without I/O; and [`election_net`], the Tokio driver that runs
//! election over the election port.

pub mod config_files;
pub mod disk_backoff;
pub mod election;
pub mod election_net;
pub mod leader_net;
pub mod learner;
pub mod member;
pub mod membership;
pub mod queue_stats;
pub mod stream;
pub mod verifier;
pub mod wire;

#[cfg(test)]
mod learner_tests;
