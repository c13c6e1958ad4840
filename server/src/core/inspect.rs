//! The core's figures for the four-letter words and the admin output.

use crate::stats::{ConnInfo, CoreFigures, Inspection};

use super::Core;

impl Core {
    pub fn inspect(&self) -> Inspection {
        Inspection::collect(
            &self.tree,
            &self.watches,
            &self.stats,
            self.conns.values().map(|c| {
                let live = c.session.and_then(|s| self.sessions.get(s));
                ConnInfo {
                    remote: c.remote,
                    session_id: c.session.unwrap_or(0),
                    timeout_ms: live.map_or(0, |l| l.timeout.as_millis() as i64),
                    stats: c.stats.clone(),
                    queued: live.map_or(0, |l| l.queue.len()),
                }
            }),
            CoreFigures {
                outstanding: self.broadcast.in_flight(),
                session_count: self.sessions.len(),
                started: self.started,
                namespaces: self.namespaces.summaries(),
                quorum: self.quorum_figures(),
            },
        )
    }
}
