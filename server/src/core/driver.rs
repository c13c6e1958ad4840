//! The core on Tokio: turns channel messages and timer ticks into [`Input`]s with the
//! current time, and carries out the [`Effect`]s: frames to the connections' writer tasks,
//! appends to the log writer, epoch files, packets for the ensemble role's network side.
//!
//! One task hosts the core for the server's whole life. A standalone server installs one
//! core at start. An ensemble member installs a new core each time it takes a role (leader
//! or learner, after election and sync) and uninstalls it when the role ends; in between,
//! client connections are refused, as Apache's server is not running while it looks for a
//! leader. Every installed core has a role number: inputs from that role's own sources (its
//! log writer, its peer connections) carry it, so that a late message from an ended role
//! never reaches the next one.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use hashbrown::HashMap;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Interval, MissedTickBehavior};

use zkrs_proto::ConnectRequest;

use crate::ids::Zxid;
use crate::stats::Inspection;
use crate::storage::epoch;
use crate::storage::writer::{LogEntry, LogEvent};

use super::peer::{EpochFile, PeerOut};
use super::{ConnId, Core, Effect, Input, Now, Outgoing};

/// The core's handle on one client connection.
#[derive(Debug, Clone)]
pub struct ConnHandle {
    pub id: ConnId,
    pub remote: SocketAddr,
    pub out: mpsc::UnboundedSender<Outgoing>,
}

/// A core and the edges of its role.
pub struct Installed {
    /// The role's number: [`CoreMsg::RoleInput`]s for another number are dropped.
    pub role: u64,
    pub core: Core,
    /// The role's log writer.
    pub log: mpsc::UnboundedSender<LogEntry>,
    /// The role's network side (an ensemble member's), for [`Effect::Peer`].
    pub peer: Option<mpsc::UnboundedSender<PeerOut>>,
    /// Where `acceptedEpoch` and `currentEpoch` live (an ensemble member's dataDir).
    pub epoch_dir: Option<PathBuf>,
}

/// Messages to the core from the network, the log writer and the admin surface.
pub enum CoreMsg {
    /// A new connection's handshake: the driver keeps the connection's sender, the core
    /// gets [`Input::Connect`].
    Connect {
        conn: ConnHandle,
        req: ConnectRequest,
    },
    /// Anything else the core takes as it is (from clients and the admin surface).
    Input(Input),
    /// An input from the sources of role `role`: dropped unless that role is installed.
    RoleInput { role: u64, input: Input },
    /// A snapshot of the state for the four-letter words and admin output (dropped
    /// unanswered while no core is installed: the words then say "not serving").
    Inspect(oneshot::Sender<Inspection>),
    /// Installs a core, ending every client connection of the one before.
    Install(Box<Installed>),
    /// Removes the core (its role ended); answered once it is dropped, so its log writer
    /// has everything it will get, with its tree when that holds exactly what the log holds
    /// ([`Core::into_tree_matching_log`]).
    Uninstall(oneshot::Sender<Option<crate::tree::DataTree>>),
}

impl std::fmt::Debug for CoreMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self {
            CoreMsg::Connect { .. } => "Connect",
            CoreMsg::Input(_) => "Input",
            CoreMsg::RoleInput { .. } => "RoleInput",
            CoreMsg::Inspect(_) => "Inspect",
            CoreMsg::Install(_) => "Install",
            CoreMsg::Uninstall(_) => "Uninstall",
        };
        f.write_str(what)
    }
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

/// Runs a standalone `core` until every sender of `rx` is gone.
pub async fn run(
    core: Core,
    rx: mpsc::UnboundedReceiver<CoreMsg>,
    log_tx: mpsc::UnboundedSender<LogEntry>,
) {
    let installed = Installed {
        role: 0,
        core,
        log: log_tx,
        peer: None,
        epoch_dir: None,
    };
    host(Some(installed), rx).await;
}

fn interval(every: Duration) -> Interval {
    let mut t = tokio::time::interval(every);
    t.set_missed_tick_behavior(MissedTickBehavior::Delay);
    t
}

struct Timers {
    expiry: Interval,
    reaper: Interval,
    peer: Interval,
}

impl Timers {
    fn for_core(core: &Core) -> Timers {
        let tick = core.settings().tick;
        Timers {
            expiry: interval(
                (tick / 4).clamp(Duration::from_millis(10), Duration::from_millis(500)),
            ),
            reaper: interval(core.settings().container_check_interval),
            // The leader pings every half tick, as Apache's.
            peer: interval((tick / 2).max(Duration::from_millis(5))),
        }
    }
}

/// Hosts whichever core is installed until every sender of `rx` is gone.
pub async fn host(mut current: Option<Installed>, mut rx: mpsc::UnboundedReceiver<CoreMsg>) {
    let mut conns: HashMap<ConnId, mpsc::UnboundedSender<Outgoing>> = HashMap::new();
    let mut timers = current.as_ref().map(|i| Timers::for_core(&i.core));
    loop {
        let snapshot_work = current.as_ref().map(|i| i.core.snapshot_work());
        let got = tokio::select! {
            msg = rx.recv() => match msg {
                Some(m) => Got::Msg(m),
                None => return,
            },
            i = tick(&mut timers) => Got::Input(i),
            // A snapshot in progress advances by slices whenever nothing else is due.
            _ = async {
                match snapshot_work {
                    Some(w) => w.ready().await,
                    None => std::future::pending().await,
                }
            } => Got::Input(Input::SnapshotTurn),
        };
        let input = match got {
            Got::Input(i) => i,
            Got::Msg(m) => match take(m, &mut conns, &mut current, &mut timers) {
                Some(input) => input,
                None => continue,
            },
        };
        let Some(installed) = current.as_mut() else {
            continue;
        };
        let gone = match &input {
            Input::Disconnected { conn } => Some(*conn),
            _ => None,
        };
        installed.core.handle(Now::system(), input);
        carry_out(installed, &conns);
        if let Some(conn) = gone {
            conns.remove(&conn);
        }
    }
}

enum Got {
    Msg(CoreMsg),
    Input(Input),
}

/// The next timer input, or never while no core is installed.
async fn tick(timers: &mut Option<Timers>) -> Input {
    let Some(t) = timers.as_mut() else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = t.expiry.tick() => Input::ExpiryTick,
        _ = t.reaper.tick() => Input::ReaperTick,
        _ = t.peer.tick() => Input::PeerTick,
    }
}

fn carry_out(installed: &mut Installed, conns: &HashMap<ConnId, mpsc::UnboundedSender<Outgoing>>) {
    let effects: Vec<Effect> = installed.core.take_effects().collect();
    for effect in effects {
        match effect {
            Effect::Send { conn, out } => {
                if let Some(tx) = conns.get(&conn) {
                    let _ = tx.send(out);
                }
            }
            Effect::Append(entry) => {
                if installed.log.send(entry).is_err() {
                    tracing::error!("transaction log writer is gone");
                }
            }
            Effect::WriteEpoch { file, epoch: e } => {
                let Some(dir) = &installed.epoch_dir else {
                    continue;
                };
                let written = match file {
                    EpochFile::Accepted => epoch::write_accepted(dir, u64::from(e)),
                    EpochFile::Current => epoch::write_current(dir, u64::from(e)),
                };
                if let Err(err) = written {
                    tracing::error!(error = %err, ?file, "writing an epoch file");
                    send_peer(
                        installed,
                        PeerOut::Ended(format!("cannot write {file:?} epoch: {err}")),
                    );
                }
            }
            Effect::Peer(out) => send_peer(installed, out),
        }
    }
}

fn send_peer(installed: &Installed, out: PeerOut) {
    if let Some(peer) = &installed.peer {
        let _ = peer.send(out);
    }
}

/// Ends every client connection (their sessions belong to the core being replaced).
fn close_all(conns: &mut HashMap<ConnId, mpsc::UnboundedSender<Outgoing>>) {
    for (_, tx) in conns.drain() {
        let _ = tx.send(Outgoing::Close);
    }
}

/// The core's input for a message; `None` for what the driver handles itself.
fn take(
    msg: CoreMsg,
    conns: &mut HashMap<ConnId, mpsc::UnboundedSender<Outgoing>>,
    current: &mut Option<Installed>,
    timers: &mut Option<Timers>,
) -> Option<Input> {
    match msg {
        CoreMsg::Connect { conn, req } => {
            if current.is_none() {
                let _ = conn.out.send(Outgoing::Close);
                return None;
            }
            conns.insert(conn.id, conn.out);
            Some(Input::Connect {
                conn: conn.id,
                remote: conn.remote,
                req,
            })
        }
        CoreMsg::Input(input) => current.as_ref().map(|_| input),
        CoreMsg::RoleInput { role, input } => {
            current.as_ref().filter(|i| i.role == role).map(|_| input)
        }
        CoreMsg::Inspect(reply) => {
            if let Some(i) = current.as_ref() {
                let _ = reply.send(i.core.inspect());
            }
            None
        }
        CoreMsg::Install(installed) => {
            close_all(conns);
            *timers = Some(Timers::for_core(&installed.core));
            let mut installed = *installed;
            // What the core did on becoming leader or follower (its first packets).
            carry_out(&mut installed, conns);
            *current = Some(installed);
            None
        }
        CoreMsg::Uninstall(done) => {
            close_all(conns);
            let tree = current.take().and_then(|i| i.core.into_tree_matching_log());
            *timers = None;
            let _ = done.send(tree);
            None
        }
    }
}
