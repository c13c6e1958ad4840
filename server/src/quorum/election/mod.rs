//! Fast leader election (Apache's `FastLeaderElection`) as a sans-I/O state machine.
