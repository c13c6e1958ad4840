//! A learner's registration and sync against a scripted leader on a loopback socket.
