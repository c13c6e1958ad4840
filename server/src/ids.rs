//! Typed identifiers of the replicated history: zxids (epoch and counter, as Apache's
//! `ZxidUtils`) and session ids. Both travel as `i64` on the wire and on disk; these types
//! keep epoch arithmetic and id mix-ups out of the pipeline.

use std::fmt;

/// A transaction id: `epoch << 32 | counter`. Ordered as the `i64` it encodes, which is the
/// order of the history (epochs are non-negative, so the sign bit is never set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Zxid(i64);

impl Zxid {
    pub const fn new(epoch: u32, counter: u32) -> Zxid {
        Zxid(((epoch as i64) << 32) | counter as i64)
    }

    pub const fn from_raw(raw: i64) -> Zxid {
        Zxid(raw)
    }

    pub const fn raw(self) -> i64 {
        self.0
    }

    pub const fn epoch(self) -> u32 {
        (self.0 >> 32) as u32
    }

    pub const fn counter(self) -> u32 {
        self.0 as u32
    }

    /// The next zxid in the same epoch. The counter never wraps into the epoch: Apache
    /// forces an election before it would (`ZxidRolloverException`), and so must we.
    pub fn next(self) -> Option<Zxid> {
        self.counter()
            .checked_add(1)
            .map(|c| Zxid::new(self.epoch(), c))
    }
}

impl fmt::Display for Zxid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// A session id: the creating server's id in the top byte, a time-based counter below it
/// (Apache's `SessionTrackerImpl.initializeNextSessionId`). 0 means "no session".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SessionId(pub i64);

impl SessionId {
    /// The first id a server with `server_id` hands out, from wall-clock milliseconds.
    pub fn initial(server_id: u8, now_ms: i64) -> SessionId {
        let t = ((now_ms << 24) as u64 >> 8) as i64;
        SessionId(t | ((server_id as i64) << 56))
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zxid_splits_into_epoch_and_counter() {
        let z = Zxid::new(3, 7);
        assert_eq!(z.raw(), 0x3_0000_0007);
        assert_eq!((z.epoch(), z.counter()), (3, 7));
        assert_eq!(Zxid::from_raw(0x3_0000_0007), z);
        assert_eq!(z.next(), Some(Zxid::new(3, 8)));
        assert_eq!(Zxid::new(3, u32::MAX).next(), None);
        assert!(Zxid::new(2, u32::MAX) < Zxid::new(3, 0));
        assert_eq!(z.to_string(), "0x300000007");
    }

    #[test]
    fn session_ids_carry_the_server_id_in_the_top_byte() {
        let s = SessionId::initial(5, 1_700_000_000_000);
        assert_eq!(s.0 >> 56, 5);
        // The time part leaves the top byte alone even for large clocks.
        let s = SessionId::initial(0xff, i64::MAX);
        assert_eq!((s.0 as u64) >> 56, 0xff);
    }
}
