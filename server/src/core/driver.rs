//! The core on Tokio: turns channel messages and timer ticks into [`Input`]s with the
//! current time, and carries out the [`Effect`]s: frames to the connections' writer tasks,
//! appends to the log writer.

use std::net::SocketAddr;
use std::time::Duration;

use hashbrown::HashMap;
use tokio::sync::{mpsc, oneshot};
use tokio::time::MissedTickBehavior;

use zkrs_proto::ConnectRequest;

use crate::ids::Zxid;
use crate::stats::Inspection;
use crate::storage::writer::{LogEntry, LogEvent};

use super::{ConnId, Core, Effect, Input, Now, Outgoing};

/// The core's handle on one client connection.
#[derive(Debug, Clone)]
pub struct ConnHandle {
    pub id: ConnId,
    pub remote: SocketAddr,
    pub out: mpsc::UnboundedSender<Outgoing>,
}

/// Messages to the core from the network, the log writer and the admin surface.
#[derive(Debug)]
pub enum CoreMsg {
    /// A new connection's handshake: the driver keeps the connection's sender, the core
    /// gets [`Input::Connect`].
    Connect {
        conn: ConnHandle,
        req: ConnectRequest,
    },
    /// Anything else the core takes as it is.
    Input(Input),
    /// A snapshot of the state for the four-letter words and admin output.
    Inspect(oneshot::Sender<Inspection>),
}

impl From<LogEvent> for Input {
    fn from(ev: LogEvent) -> Input {
        match ev {
            LogEvent::Durable(z) => Input::Durable(Zxid::from_raw(z)),
            LogEvent::Failed { first_zxid, error } => Input::LogFailed {
                first_zxid: Zxid::from_raw(first_zxid),
                error,
            },
        }
    }
}

/// Runs `core` until every sender of `rx` is gone.
pub async fn run(
    mut core: Core,
    mut rx: mpsc::UnboundedReceiver<CoreMsg>,
    log_tx: mpsc::UnboundedSender<LogEntry>,
) {
    let tick =
        (core.settings().tick / 4).clamp(Duration::from_millis(10), Duration::from_millis(500));
    let mut expiry = tokio::time::interval(tick);
    expiry.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut reaper = tokio::time::interval(core.settings().container_check_interval);
    reaper.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut conns: HashMap<ConnId, mpsc::UnboundedSender<Outgoing>> = HashMap::new();
    loop {
        let snapshot_work = core.snapshot_work();
        let input = tokio::select! {
            msg = rx.recv() => match msg {
                Some(m) => match to_input(m, &mut conns, &core) {
                    Some(input) => input,
                    None => continue,
                },
                None => return,
            },
            _ = expiry.tick() => Input::ExpiryTick,
            _ = reaper.tick() => Input::ReaperTick,
            // A snapshot in progress advances by slices whenever nothing else is due.
            _ = snapshot_work.ready() => Input::SnapshotTurn,
        };
        let gone = match &input {
            Input::Disconnected { conn } => Some(*conn),
            _ => None,
        };
        core.handle(Now::system(), input);
        for effect in core.take_effects() {
            match effect {
                Effect::Send { conn, out } => {
                    if let Some(tx) = conns.get(&conn) {
                        let _ = tx.send(out);
                    }
                }
                Effect::Append(entry) => {
                    if log_tx.send(entry).is_err() {
                        tracing::error!("transaction log writer is gone");
                    }
                }
            }
        }
        if let Some(conn) = gone {
            conns.remove(&conn);
        }
    }
}

/// The core's input for a message; `None` for what the driver answers itself.
fn to_input(
    msg: CoreMsg,
    conns: &mut HashMap<ConnId, mpsc::UnboundedSender<Outgoing>>,
    core: &Core,
) -> Option<Input> {
    match msg {
        CoreMsg::Connect { conn, req } => {
            conns.insert(conn.id, conn.out);
            Some(Input::Connect {
                conn: conn.id,
                remote: conn.remote,
                req,
            })
        }
        CoreMsg::Input(input) => Some(input),
        CoreMsg::Inspect(reply) => {
            let _ = reply.send(core.inspect());
            None
        }
    }
}
