//! `srvr` and `stat`: the summary zkServer.sh and readiness probes parse (its `Mode:` line
//! tells standalone, leader, follower, observer or read-only apart).

use std::fmt::{self, Write as _};

use super::connections::connection_line;
use super::java::java_double;
use super::role::ServerMode;
use super::state::ServerSnapshot;

/// `srvr`, and with `with_clients` `stat` (the same plus the brief line of every connection).
pub(super) fn render(out: &mut String, snap: &ServerSnapshot, with_clients: bool) -> fmt::Result {
    writeln!(out, "Zookeeper version: {}", snap.full_version())?;
    if snap.role.mode == ServerMode::ReadOnly {
        writeln!(out, "READ-ONLY mode; serving only read-only clients")?;
    }
    if with_clients {
        writeln!(out, "Clients:")?;
        for c in &snap.connections {
            connection_line(out, c, true)?;
        }
        out.push('\n');
    }
    let l = &snap.latency;
    writeln!(
        out,
        "Latency min/avg/max: {}/{}/{}",
        l.min_printed(),
        java_double(l.avg_ms()),
        l.max_ms
    )?;
    writeln!(out, "Received: {}", snap.packets_received)?;
    writeln!(out, "Sent: {}", snap.packets_sent)?;
    writeln!(out, "Connections: {}", snap.num_alive_connections)?;
    writeln!(out, "Outstanding: {}", snap.outstanding_requests)?;
    writeln!(out, "Zxid: 0x{:x}", snap.last_zxid)?;
    writeln!(out, "Mode: {}", snap.role.mode.as_str())?;
    writeln!(out, "Node count: {}", snap.node_count)?;
    if snap.role.mode == ServerMode::Leader {
        let leader = snap.role.leader();
        writeln!(
            out,
            "Proposal sizes last/min/max: {}/{}/{}",
            leader.last_proposal_size, leader.min_proposal_size, leader.max_proposal_size
        )?;
    }
    Ok(())
}
