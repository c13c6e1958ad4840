//! The leader and follower roles of the core, driven packet by packet.
