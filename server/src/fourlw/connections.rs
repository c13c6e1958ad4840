//! `cons` and the client lines of `stat`: per-connection statistics as Apache's
//! `ServerCnxn.dumpConnectionInfo` prints them.

use std::fmt::{self, Write as _};
use std::net::SocketAddr;

use super::java::java_socket_addr;
use super::state::ServerSnapshot;

/// The `lop=` abbreviation `cons` shows for the last operation of a connection, by request
/// type (opcode). `None` means the request leaves `lop` unchanged (`setAuth` 100, `sasl` 102)
/// or is not a valid client request (Apache answers unknown types with an error and closes
/// the connection). A connection with nothing answered since its last reset shows `NA`.
///
/// Observed on Apache 3.8.0 (fixtures `cons_lop_codes.txt`, `standalone/cons_after_connect.txt`),
/// except `CLOS` (closeSession), which a connection never gets to show.
pub fn last_op_code(op_type: i32) -> Option<&'static str> {
    Some(match op_type {
        1 | 15 | 19 | 21 => "CREA",
        2 => "DELE",
        3 => "EXIS",
        4 => "GETD",
        5 => "SETD",
        6 => "GETA",
        7 => "SETA",
        8 | 12 => "GETC",
        9 => "SYNC",
        11 => "PING",
        14 => "MULT",
        17 => "CHKW",
        18 => "REMW",
        // deleteContainer is internal; a client sending it gets an error and `NA`.
        20 => "NA",
        22 => "MLTR",
        101 => "SETW",
        103 => "GETE",
        104 => "GETACN",
        105 => "STW2",
        106 => "ADDW",
        107 => "HOMI",
        -10 => "SESS",
        -11 => "CLOS",
        _ => return None,
    })
}

/// Per-connection statistics for `stat` (brief form) and `cons` (long form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionStats {
    /// The peer address, printed Java-style: `/127.0.0.1:5000`, `/[0:0:0:0:0:0:0:1]:5000`.
    pub remote: SocketAddr,
    /// Java selector interest ops, printed in hex: 0 = none (a 4lw connection),
    /// 1 = read, 4 = write, 5 = read+write.
    pub interest_ops: u32,
    /// Responses queued for sending.
    pub queued: u64,
    /// Packets received on this connection (`recved`; the 4lw word counts as 1).
    pub received: u64,
    /// Packets sent on this connection.
    pub sent: u64,
    /// Session id; 0 = no session (only the brief form is printed, even by `cons`).
    pub session_id: i64,
    /// `lop`: last operation, see [`last_op_code`]; `NA` when none since the last reset.
    pub last_op: String,
    /// `est`: when the connection was established, wall clock, ms since the Unix epoch.
    pub established_ms: i64,
    /// `to`: negotiated session timeout, ms.
    pub session_timeout_ms: i64,
    /// `lcxid`: last client xid answered; negative = none (the field is then omitted).
    pub last_cxid: i64,
    /// `lzxid`: last zxid answered; -1 after a reset (prints `0xffffffffffffffff`).
    pub last_zxid: i64,
    /// `lresp`: time of the last response, ms on a monotonic clock (Apache: elapsed time); 0
    /// when none.
    pub last_response_ms: i64,
    /// `llat`: latency of the last request, ms.
    pub last_latency_ms: i64,
    /// `minlat`: smallest request latency, ms (0 when none).
    pub min_latency_ms: i64,
    /// `avglat`: integer average request latency, ms.
    pub avg_latency_ms: i64,
    /// `maxlat`: largest request latency, ms.
    pub max_latency_ms: i64,
}

impl ConnectionStats {
    /// A connection with no session and no traffic (what Apache shows after `crst`).
    pub fn new(remote: SocketAddr) -> Self {
        ConnectionStats {
            remote,
            interest_ops: 0,
            queued: 0,
            received: 0,
            sent: 0,
            session_id: 0,
            last_op: "NA".to_string(),
            established_ms: 0,
            session_timeout_ms: 0,
            last_cxid: -1,
            last_zxid: -1,
            last_response_ms: 0,
            last_latency_ms: 0,
            min_latency_ms: 0,
            avg_latency_ms: 0,
            max_latency_ms: 0,
        }
    }
}

/// One connection: the brief form `stat` lists, or with `brief` false the long form of
/// `cons` (the long fields only for a connection with a session).
pub(super) fn connection_line(out: &mut String, c: &ConnectionStats, brief: bool) -> fmt::Result {
    write!(
        out,
        " {}[{:x}](queued={},recved={},sent={}",
        java_socket_addr(&c.remote),
        c.interest_ops,
        c.queued,
        c.received,
        c.sent
    )?;
    if !brief && c.session_id != 0 {
        write!(
            out,
            ",sid=0x{:x},lop={},est={},to={}",
            c.session_id, c.last_op, c.established_ms, c.session_timeout_ms
        )?;
        if c.last_cxid >= 0 {
            write!(out, ",lcxid=0x{:x}", c.last_cxid)?;
        }
        write!(
            out,
            ",lzxid=0x{:x},lresp={},llat={},minlat={},avglat={},maxlat={}",
            c.last_zxid,
            c.last_response_ms,
            c.last_latency_ms,
            c.min_latency_ms,
            c.avg_latency_ms,
            c.max_latency_ms
        )?;
    }
    out.push_str(")\n");
    Ok(())
}

/// `cons`: the long line of every connection, then an empty line.
pub(super) fn render_cons(out: &mut String, snap: &ServerSnapshot) -> fmt::Result {
    for c in &snap.connections {
        connection_line(out, c, false)?;
    }
    out.push('\n');
    Ok(())
}
