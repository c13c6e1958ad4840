//! A Jepsen-style fault and linearizability harness: an ensemble of real server processes
//! (zkrs, Apache ZooKeeper, or both), clients that record a history, faults on a seeded
//! schedule, and checkers of what ZooKeeper promises (linearizable writes, no lost
//! acknowledged writes, atomic multis, unique sequential names, a queue that neither
//! loses nor duplicates). `zkrs-chaos` (src/bin) runs one run from the command line;
//! `tests/chaos.rs` is the bounded matrix CI runs; docs/reliability.md has the method and
//! the figures.
//!
//! One file per job: [`history`] (the record), [`cluster`] and [`links`] (the processes
//! and the network between them), [`nemesis`] (the faults), [`workloads`] (the clients),
//! [`checkers`] (the verdicts, with the linearizability checker), [`runner`] (one run from
//! start to summary) and [`report`] (what a run writes and prints).

pub mod checkers;
pub mod cluster;
pub mod disk;
pub mod expectations;
pub mod history;
pub mod links;
pub mod membership;
pub mod nemesis;
pub mod preload;
pub mod report;
pub mod reroute;
pub mod runner;
pub mod workloads;

pub use nemesis::Nemesis;
pub use runner::{run, Members, RunConfig};
pub use workloads::Workload;
