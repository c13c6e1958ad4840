//! Apache ZooKeeper's quorum protocol, for the replicated ensemble: the wire formats of the
//! election and learner ports ([`wire`]) and fast leader election as a sans-I/O state
//! machine ([`election`]). Nothing here does I/O; drivers on Tokio carry their effects out.

#![cfg_attr(
    not(test),
    allow(
        dead_code,
        reason = "the ensemble's drivers use it (the next milestone); tested here"
    )
)]

pub mod election;
pub mod election_net;
pub mod wire;
