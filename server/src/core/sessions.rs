//! The session registry: which sessions are live, their timeouts and deadlines, the
//! connection each is on, and each one's reply order. Liveness is the leader's business in
//! ZAB (it alone expires sessions); a standalone server is its own leader.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::ids::SessionId;

use super::order::ReplyQueue;
use super::ConnId;

/// A live session.
#[derive(Debug)]
pub struct LiveSession {
    pub timeout: Duration,
    pub deadline: Instant,
    pub conn: Option<ConnId>,
    /// Its close is proposed: no more requests are taken.
    pub closing: bool,
    /// On a leader: the member the session's client is connected to (Apache's session
    /// owner); requests from any other member fail with SessionMoved. `None` until known.
    pub owner: Option<u64>,
    pub queue: ReplyQueue,
}

impl LiveSession {
    pub fn new(timeout: Duration, now: Instant, conn: Option<ConnId>) -> Self {
        LiveSession {
            timeout,
            deadline: now + timeout,
            conn,
            closing: false,
            owner: None,
            queue: ReplyQueue::default(),
        }
    }

    /// The client was heard from: its deadline moves a timeout ahead.
    pub fn touch(&mut self, now: Instant) {
        self.deadline = now + self.timeout;
    }
}

#[derive(Debug)]
pub struct Sessions {
    live: HashMap<i64, LiveSession>,
    next_id: i64,
}

impl Sessions {
    /// A registry for `server_id`, handing out ids above every restored one.
    pub fn new(
        server_id: u8,
        now_ms: i64,
        restored: impl IntoIterator<Item = (i64, LiveSession)>,
    ) -> Self {
        let live: HashMap<i64, LiveSession> = restored.into_iter().collect();
        // Above this member's own earlier ids only: in an ensemble the restored sessions
        // include other members' (their ids carry their server id in the top byte), and
        // counting on from those would hand out ids another member hands out too.
        let mine = |id: &i64| (*id as u64 >> 56) as u8 == server_id;
        let restored_max = live.keys().copied().filter(mine).max().unwrap_or(i64::MIN);
        let next_id = SessionId::initial(server_id, now_ms)
            .0
            .max(restored_max.saturating_add(1));
        Sessions { live, next_id }
    }

    /// A new session id (not yet live: it becomes live with [`Sessions::insert`]).
    pub fn allocate(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub fn insert(&mut self, id: i64, s: LiveSession) {
        self.live.insert(id, s);
    }

    pub fn get(&self, id: i64) -> Option<&LiveSession> {
        self.live.get(&id)
    }

    pub fn get_mut(&mut self, id: i64) -> Option<&mut LiveSession> {
        self.live.get_mut(&id)
    }

    pub fn remove(&mut self, id: i64) -> Option<LiveSession> {
        self.live.remove(&id)
    }

    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Sessions past their deadline and not already closing, in id order (so expiry
    /// proposes them in the same order on every run).
    pub fn expired(&self, now: Instant) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .live
            .iter()
            .filter(|(_, l)| !l.closing && l.deadline <= now)
            .map(|(&id, _)| id)
            .collect();
        ids.sort_unstable();
        ids
    }
}
