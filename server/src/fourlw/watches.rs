//! `wchs`, `wchc`, `wchp`: data watches (getData and exists) as a summary, by session and by
//! path. Child watches are not listed, as in Apache, though `mntr` counts them.

use std::fmt::{self, Write as _};

use super::state::ServerSnapshot;

/// The `wchs` summary (data watches only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WatchSummary {
    /// Sessions with at least one data watch.
    pub connections: u64,
    /// Distinct watched paths.
    pub paths: u64,
    /// Total (session, path) data watches.
    pub watches: u64,
}

/// `wchs`: how many sessions watch how many paths, and the total.
pub(super) fn render_wchs(out: &mut String, snap: &ServerSnapshot) -> fmt::Result {
    let w = &snap.watch_summary;
    writeln!(
        out,
        "{} connections watching {} paths",
        w.connections, w.paths
    )?;
    writeln!(out, "Total watches:{}", w.watches)
}

/// `wchc`: each session in hex, then the paths it watches.
pub(super) fn render_wchc(out: &mut String, snap: &ServerSnapshot) -> fmt::Result {
    for (session, paths) in &snap.watches_by_session {
        writeln!(out, "0x{session:x}")?;
        for p in paths {
            writeln!(out, "\t{p}")?;
        }
    }
    out.push('\n');
    Ok(())
}

/// `wchp`: each path, then the sessions watching it in hex.
pub(super) fn render_wchp(out: &mut String, snap: &ServerSnapshot) -> fmt::Result {
    for (path, sessions) in &snap.watches_by_path {
        writeln!(out, "{path}")?;
        for s in sessions {
            writeln!(out, "\t0x{s:x}")?;
        }
    }
    out.push('\n');
    Ok(())
}
