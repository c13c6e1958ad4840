//! Per-session reply order. Replies to one session leave in the order its requests
//! arrived (ZooKeeper's FIFO client order): a read waits behind that session's earlier
//! writes, and an error answered at once keeps its place behind them too.
//!
//! A pending write is named by the session's own `cxid`, not by a zxid: a follower forwards
//! a write before any zxid exists, and matches the commit that comes back by
//! (session id, cxid).

use std::collections::VecDeque;
use std::time::Instant;

use zkrs_proto::{OpCode, Request};

use super::ConnId;

/// What a pending write's reply is made of once it commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Awaiting {
    /// A client request: the reply to `op`.
    Reply { op: OpCode },
    /// The session's creation: the connect response.
    NewSession {
        timeout_ms: i32,
        read_only: Option<bool>,
    },
}

/// One place in a session's reply order.
#[derive(Debug)]
pub enum Slot {
    /// A write in the pipeline; its reply is built when it commits.
    Write {
        cxid: i32,
        conn: ConnId,
        awaiting: Awaiting,
        received: Option<Instant>,
    },
    /// A read to evaluate once every earlier write of the session is applied.
    Read {
        conn: ConnId,
        xid: i32,
        req: Request,
        received: Instant,
    },
    /// A frame ready to go once everything before it has gone.
    Ready(ReadyFrame),
}

#[derive(Debug)]
pub struct ReadyFrame {
    pub conn: ConnId,
    pub frame: Vec<u8>,
    pub close_after: bool,
    pub received: Option<Instant>,
    /// Whether this answers a request (not the connect response).
    pub is_reply: bool,
}

/// A pending write whose commit came: where its reply goes.
#[derive(Debug, Clone, Copy)]
pub struct Committed {
    index: usize,
    pub conn: ConnId,
    pub awaiting: Awaiting,
    received: Option<Instant>,
}

/// What may leave the head of a queue now.
#[derive(Debug)]
pub enum Released {
    Frame(ReadyFrame),
    Read {
        conn: ConnId,
        xid: i32,
        req: Request,
        received: Instant,
    },
}

/// A session's replies in request order.
#[derive(Debug, Default)]
pub struct ReplyQueue {
    slots: VecDeque<Slot>,
}

impl ReplyQueue {
    pub fn push(&mut self, slot: Slot) {
        self.slots.push_back(slot);
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// The pending write `cxid` committed: takes its place's details so its reply can be
    /// built. Writes of one session commit in the order they were proposed, so this is the
    /// oldest pending write; it is looked up by cxid all the same, so that a commit that
    /// does not belong to this server's pending writes (another member's client, an
    /// internal transaction) matches nothing.
    pub fn commit(&mut self, cxid: i32) -> Option<Committed> {
        let i = self
            .slots
            .iter()
            .position(|s| matches!(s, Slot::Write { .. }))?;
        match &self.slots[i] {
            Slot::Write {
                cxid: c,
                conn,
                awaiting,
                received,
            } if *c == cxid => Some(Committed {
                index: i,
                conn: *conn,
                awaiting: *awaiting,
                received: *received,
            }),
            _ => None,
        }
    }

    /// Fills the place `commit` returned with its reply (or connect response).
    pub fn fill(&mut self, place: Committed, frame: Vec<u8>, is_reply: bool) {
        if let Some(slot) = self.slots.get_mut(place.index) {
            *slot = Slot::Ready(ReadyFrame {
                conn: place.conn,
                frame,
                close_after: false,
                received: place.received,
                is_reply,
            });
        }
    }

    /// The next thing that may leave: the head, unless it is a write still pending.
    pub fn release(&mut self) -> Option<Released> {
        match self.slots.front()? {
            Slot::Write { .. } => None,
            _ => match self.slots.pop_front()? {
                Slot::Ready(f) => Some(Released::Frame(f)),
                Slot::Read {
                    conn,
                    xid,
                    req,
                    received,
                } => Some(Released::Read {
                    conn,
                    xid,
                    req,
                    received,
                }),
                Slot::Write { .. } => None,
            },
        }
    }

    /// The connection went away: what was owed to it is dropped, pending writes stay (they
    /// will commit, and their replies are then dropped unless the session is back on the
    /// same connection, which cannot happen: a reattach is a new connection).
    pub fn drop_replies(&mut self) {
        self.slots.retain(|s| matches!(s, Slot::Write { .. }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(conn: ConnId, byte: u8) -> Slot {
        Slot::Ready(ReadyFrame {
            conn,
            frame: vec![byte],
            close_after: false,
            received: None,
            is_reply: true,
        })
    }

    fn write(cxid: i32) -> Slot {
        Slot::Write {
            cxid,
            conn: 1,
            awaiting: Awaiting::Reply { op: OpCode::Create },
            received: None,
        }
    }

    #[test]
    fn a_pending_write_holds_back_everything_after_it() {
        let mut q = ReplyQueue::default();
        q.push(ready(1, 1));
        q.push(write(2));
        q.push(ready(1, 3));
        assert!(matches!(q.release(), Some(Released::Frame(f)) if f.frame == [1]));
        assert!(q.release().is_none());
        let place = q.commit(2).unwrap();
        q.fill(place, vec![2], true);
        assert!(matches!(q.release(), Some(Released::Frame(f)) if f.frame == [2]));
        assert!(matches!(q.release(), Some(Released::Frame(f)) if f.frame == [3]));
        assert!(q.release().is_none());
    }

    #[test]
    fn a_commit_matches_only_the_oldest_pending_write_by_cxid() {
        let mut q = ReplyQueue::default();
        q.push(write(5));
        q.push(write(6));
        assert!(q.commit(6).is_none(), "not the oldest pending write");
        assert!(
            q.commit(0).is_none(),
            "an internal transaction of the session"
        );
        assert_eq!(q.commit(5).unwrap().index, 0);
    }

    #[test]
    fn dropping_replies_keeps_pending_writes() {
        let mut q = ReplyQueue::default();
        q.push(ready(1, 1));
        q.push(write(2));
        q.drop_replies();
        assert_eq!(q.len(), 1);
        assert!(q.commit(2).is_some());
    }
}
