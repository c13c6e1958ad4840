//! An ensemble member's life, as Apache's `QuorumPeer.run`: look for a leader, take the
//! role the election gave (lead, follow, observe), and when the role ends, load the data
//! from disk again and look again.
//!
//! Between roles the member owns its data directly: the tree is rebuilt from the snapshot
//! and the whole log (so the vote carries the last *logged* zxid, as ZAB needs), and a
//! learner's sync works on it before any core exists. Each role then installs a fresh
//! [`Core`] in the long-lived driver, with its own log writer and snapshot thread, and
//! uninstalls it at the end, which ends every client connection, as Apache's server does
//! when it leaves a role.

use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use crate::config::{Config, PeerType};
use crate::core::peer::PeerOut;
use crate::core::Core;
use crate::core::{CoreMsg, CoreSettings, FollowerSetup, Input, Installed, LeaderSetup, Now};
use crate::fourlw::{MetricsSource, QuorumInfo, Role as WordsRole, ServerMode, SyncMode, ZabPhase};
use crate::ids::Zxid;
use crate::storage::epoch::{self, Epochs};
use crate::storage::recovery::recover;
use crate::storage::scheduler::SnapshotScheduler;
use crate::storage::txnlog::FileTxnLog;
use crate::storage::writer::{spawn_writer, LogEvent};
use crate::storage::DataDirs;
use crate::tree::DataTree;

use super::config_files::ConfigFiles;
use super::disk_backoff::DiskBackoff;
use super::election::{History, Role as Elected};
use super::election_net::{self, ElectionControl, ElectionSetup};
use super::leader_net::Learners;
use super::learner::{sync_with_leader_reporting, LearnerError, LearnerSetup};
use super::membership::{Ensemble, Place};
use super::stream::{read_packet, write_packet};
use super::verifier::QuorumVerifier;

/// What a member runs with.
pub struct MemberContext {
    pub config: Arc<Config>,
    pub dirs: DataDirs,
    pub settings: CoreSettings,
    pub core: mpsc::UnboundedSender<CoreMsg>,
    pub words: Arc<watch::Sender<WordsRole>>,
    pub segment_limit: u64,
    /// Where the client port listens; a reconfig that gives this member another client
    /// address moves it.
    pub client_port: Option<watch::Sender<std::net::SocketAddr>>,
}

/// Loads the member's state from disk: the tree (snapshot plus every logged txn) and the
/// epoch files.
fn load(dirs: &DataDirs, config: &QuorumVerifier) -> anyhow::Result<(DataTree, Epochs)> {
    let (mut tree, report) = recover(dirs)?;
    tree.set_config(
        config.to_string().as_bytes(),
        config.version,
        crate::core::Now::system().wall_ms,
    );
    let epochs = epoch::load(&dirs.snap_dir, Zxid::from_raw(tree.last_zxid()))?;
    tracing::info!(
        zxid = %Zxid::from_raw(tree.last_zxid()),
        replayed = report.replayed,
        accepted_epoch = epochs.accepted,
        current_epoch = epochs.current,
        "state loaded"
    );
    Ok((tree, epochs))
}

/// What the four-letter words show of this member: serving or not, its mode, and the
/// ensemble's committed membership (`conf`).
fn words_role(ensemble: &Ensemble, serving: bool, mode: ServerMode, phase: ZabPhase) -> WordsRole {
    WordsRole {
        serving,
        mode,
        quorum: mode.in_quorum().then(|| QuorumInfo {
            zab_phase: phase,
            membership: Some(ensemble.words()),
            ..QuorumInfo::default()
        }),
    }
}

fn not_serving(ensemble: &Ensemble, mode: ServerMode, phase: ZabPhase) -> WordsRole {
    words_role(ensemble, false, mode, phase)
}

/// A member looking for a leader.
fn looking_role(ensemble: &Ensemble) -> WordsRole {
    not_serving(ensemble, ServerMode::Standalone, ZabPhase::Election)
}

fn serving(ensemble: &Ensemble, mode: ServerMode) -> WordsRole {
    words_role(ensemble, true, mode, ZabPhase::Broadcast)
}

/// Runs the member until the process ends.
pub async fn run(ctx: MemberContext) -> anyhow::Result<()> {
    let files = ctx.config.config_file.as_ref().map(ConfigFiles::new);
    let mut ensemble = Ensemble::load(&ctx.config, files.as_ref());
    let (mut tree, mut epochs) = load(&ctx.dirs, ensemble.committed())?;
    let history = |tree: &DataTree, e: &Epochs| History {
        last_zxid: Zxid::from_raw(tree.last_zxid()),
        current_epoch: e.current,
    };
    let mut setup = ElectionSetup::from_config(&ctx.config, history(&tree, &epochs))?;
    // The membership a reconfig left (zoo.cfg's, or a newer committed one).
    setup.members = ensemble.election_members();
    setup.peers = ensemble.election_peers();
    setup.config_string = ensemble.committed().to_string().into_bytes();
    // With reconfig on, a configuration newer than ours heard while looking is adopted.
    let (adopted_tx, mut adopted) = mpsc::unbounded_channel();
    if ctx.config.reconfig_enabled {
        setup.adopted = Some(adopted_tx);
    }
    let mut told = ensemble.committed().clone();
    let (decisions_tx, mut decisions) = watch::channel(None);
    let (control, control_rx) = mpsc::unbounded_channel();
    let election = tokio::spawn(election_net::run_with_control(
        setup,
        decisions_tx,
        control_rx,
    ));
    let mut role_no = 0u64;
    let mut disk_backoff = DiskBackoff::default();
    let read_only_after =
        Duration::from_millis(u64::from(ctx.config.tick_time_ms)).max(Duration::from_secs(2));
    loop {
        let looking = looking_role(&ensemble);
        ctx.words.send_replace(looking.clone());
        // With read-only mode on, a member that finds no quorum for a while serves
        // read-only clients from what it has, until a leader is found (Apache waits the
        // same max(2 s, tickTime)).
        let read_only_at = tokio::time::Instant::now() + read_only_after;
        let mut read_only = None;
        let decision = loop {
            if let Some(d) = *decisions.borrow_and_update() {
                // The election sends what it adopted before it can decide under it.
                let mut adopted_any = false;
                while let Ok(qv) = adopted.try_recv() {
                    adopt(&ctx, &mut ensemble, &control, qv);
                    adopted_any = true;
                }
                if adopted_any {
                    // `/zookeeper/config` shows the committed configuration, as after a load.
                    let committed = ensemble.committed();
                    tree.set_config(
                        committed.to_string().as_bytes(),
                        committed.version,
                        crate::core::Now::system().wall_ms,
                    );
                }
                break d;
            }
            tokio::select! {
                changed = decisions.changed() => if changed.is_err() {
                    // The election port failed (it logged why).
                    return match election.await {
                        Ok(Err(e)) => Err(e.into()),
                        _ => Err(anyhow::anyhow!("leader election stopped")),
                    };
                },
                _ = tokio::time::sleep_until(read_only_at),
                    if ctx.config.read_only_mode_enabled && read_only.is_none() =>
                {
                    role_no += 1;
                    let (peer_tx, _) = mpsc::unbounded_channel();
                    match install(&ctx, role_no, tree, peer_tx, Core::into_read_only) {
                        Ok(s) => {
                            let role = words_role(&ensemble, true, ServerMode::ReadOnly, ZabPhase::Election);
                            ctx.words.send_replace(role);
                            read_only = Some(s);
                        }
                        Err(e) => tracing::error!(error = %e, "cannot serve read-only"),
                    }
                    // The read-only core took the tree; the role after reloads it.
                    (tree, epochs) = load(&ctx.dirs, ensemble.committed())?;
                }
            }
        };
        if let Some(storage) = read_only.take() {
            uninstall(&ctx, storage).await;
            ctx.words.send_replace(looking);
        }
        role_no += 1;
        let end = match decision.role {
            Elected::Lead => lead(&ctx, &mut ensemble, role_no, tree, epochs, &control).await,
            Elected::Follow(leader) | Elected::Observe(leader) => {
                follow(&ctx, &mut ensemble, role_no, leader, tree, epochs, &control).await
            }
        };
        tracing::warn!(reason = %end.why, "role ended: looking for a leader again");
        let pause = disk_backoff.after_role(end.disk_failed);
        if !pause.is_zero() {
            tracing::warn!(
                ?pause,
                "the disk refused a write: waiting before the next role"
            );
            tokio::time::sleep(pause).await;
        }
        // A learner's sync keeps the configurations it saw proposed in the files, whether
        // or not the sync completed: the next role starts from them.
        if let Some(next) = files
            .as_ref()
            .filter(|_| ctx.config.reconfig_enabled)
            .and_then(|f| f.read_proposed().ok().flatten())
        {
            ensemble.proposed(&next);
        }
        ctx.words.send_replace(looking_role(&ensemble));
        (tree, epochs) = match end.tree {
            // Everything the role logged is in this tree: no need to read it all again
            // (for a large tree, most of the time between a leader's death and the vote).
            Some(kept) => {
                let epochs = epoch::load(&ctx.dirs.snap_dir, Zxid::from_raw(kept.last_zxid()))?;
                tracing::info!(
                    zxid = %Zxid::from_raw(kept.last_zxid()),
                    "state kept from the ended role (it holds the whole log)"
                );
                (kept, epochs)
            }
            None => load(&ctx.dirs, ensemble.committed())?,
        };
        if *ensemble.committed() != told {
            told = ensemble.committed().clone();
            if ensemble.place() == Place::Outside {
                tracing::warn!(
                    "this member is not in the committed configuration: it follows without voting"
                );
            }
            tell_election(&ensemble, &control);
        }
        if let Some(leader) = end.handover {
            tracing::info!(
                leader,
                "a reconfig handed leadership over: taking the role under it"
            );
            let (done, ack) = oneshot::channel();
            let _ = control.send(ElectionControl::HandOver {
                leader,
                zxid: Zxid::from_raw(tree.last_zxid()),
                done,
            });
            let _ = ack.await;
            continue;
        }
        let (done, ack) = oneshot::channel();
        let _ = control.send(ElectionControl::Look {
            history: history(&tree, &epochs),
            done,
        });
        let _ = ack.await;
    }
}

/// A role's log writer and snapshot thread, stopped (and waited for) when the role ends.
struct RoleStorage {
    log_writer: std::thread::JoinHandle<()>,
    snapshots_done: std::sync::mpsc::Receiver<()>,
    /// Set if the log writer failed (it reports to the core, which may be gone by then).
    log_failed: Arc<AtomicBool>,
}

impl RoleStorage {
    /// Waits for both threads; true if the log took everything it was given.
    async fn stop(self) -> bool {
        let failed = self.log_failed;
        let _ = tokio::task::spawn_blocking(move || {
            let _ = self.log_writer.join();
            let _ = self.snapshots_done.recv();
        })
        .await;
        !failed.load(Ordering::Acquire)
    }
}

/// Builds the role's core and its storage threads and installs it.
fn install(
    ctx: &MemberContext,
    role: u64,
    tree: DataTree,
    peer: mpsc::UnboundedSender<PeerOut>,
    shape: impl FnOnce(Core) -> Core,
) -> anyhow::Result<RoleStorage> {
    let (log_tx, log_rx) = mpsc::unbounded_channel();
    let report = ctx.core.clone();
    let log = FileTxnLog::new(
        ctx.dirs.log_dir.clone(),
        ctx.segment_limit,
        ctx.config.force_sync,
    );
    let log_failed = Arc::new(AtomicBool::new(false));
    let failed = log_failed.clone();
    let log_writer = spawn_writer(log, log_rx, move |ev| {
        if matches!(ev, LogEvent::Failed { .. }) {
            failed.store(true, Ordering::Release);
        }
        let _ = report.send(CoreMsg::RoleInput {
            role,
            input: Input::from(ev),
        });
    })?;
    let (alive, snapshots_done) = std::sync::mpsc::channel::<()>();
    let scheduler = SnapshotScheduler::spawn(
        ctx.dirs.snap_dir.clone(),
        ctx.config.snap_count,
        move || {
            let _alive = &alive;
        },
    )?;
    let core =
        shape(Core::new(ctx.settings.clone(), tree, Now::system()).with_snapshots(scheduler));
    let installed = Installed {
        role,
        core,
        log: log_tx,
        peer: Some(peer),
        epoch_dir: Some(ctx.dirs.snap_dir.clone()),
    };
    ctx.core
        .send(CoreMsg::Install(Box::new(installed)))
        .map_err(|_| anyhow::anyhow!("the core is gone"))?;
    Ok(RoleStorage {
        log_writer,
        snapshots_done,
        log_failed,
    })
}

/// Removes the role's core and waits for its storage threads; the core's tree when it
/// holds exactly what the log holds, and whether the log failed.
async fn uninstall(ctx: &MemberContext, storage: RoleStorage) -> (Option<DataTree>, bool) {
    let (done, ack) = oneshot::channel();
    let tree = if ctx.core.send(CoreMsg::Uninstall(done)).is_ok() {
        ack.await.ok().flatten()
    } else {
        None
    };
    // The tree stands for the log only if the log wrote everything the core gave it.
    let logged_all = storage.stop().await;
    (tree.filter(|_| logged_all), !logged_all)
}

/// What a role leaves: why it ended, and the tree when it still matches the log.
struct RoleEnd {
    why: String,
    tree: Option<DataTree>,
    /// The leader a committed reconfig designated, when it is not the role's leader: the
    /// next role is under it, without an election.
    handover: Option<u64>,
    /// Whether the disk refused a write (the log, or the sync's files): the next role
    /// waits ([`DiskBackoff`]).
    disk_failed: bool,
}

impl From<String> for RoleEnd {
    fn from(why: String) -> Self {
        RoleEnd {
            why,
            tree: None,
            handover: None,
            disk_failed: false,
        }
    }
}

impl From<&str> for RoleEnd {
    fn from(why: &str) -> Self {
        why.to_string().into()
    }
}

/// The leader a configuration activation designates, if it is not `leader` (the role's).
pub(crate) fn designated_other(out: &PeerOut, leader: u64) -> Option<u64> {
    match out {
        PeerOut::ConfigActivated {
            designated_leader: Some(d),
            ..
        } if *d != leader => Some(*d),
        _ => None,
    }
}

/// Leads until the core gives up the role (no quorum); returns why.
async fn lead(
    ctx: &MemberContext,
    ensemble: &mut Ensemble,
    role: u64,
    tree: DataTree,
    epochs: Epochs,
    control: &mpsc::UnboundedSender<ElectionControl>,
) -> RoleEnd {
    let config = &ctx.config;
    let Some(mine) = ensemble.me().cloned() else {
        return "this member is not in its own config".into();
    };
    let listen = if config.quorum_listen_on_all_ips {
        format!("0.0.0.0:{}", mine.peer_port)
    } else {
        mine.peer_addr()
    };
    let listener = match tokio::net::TcpListener::bind(&listen).await {
        Ok(l) => l,
        Err(e) => return format!("cannot listen on the quorum port {listen}: {e}").into(),
    };
    tracing::info!(addr = %listen, "leading: quorum port listening");
    ctx.words.send_replace(not_serving(
        ensemble,
        ServerMode::Leader,
        ZabPhase::Discovery,
    ));
    let tick = Duration::from_millis(u64::from(config.tick_time_ms));
    let learners = Learners::new(
        role,
        ctx.core.clone(),
        ctx.dirs.log_dir.clone(),
        config.jute_max_buffer as usize + crate::txn::apache::MAX_BUFFER / 2,
        tick * config.init_limit.max(1),
    );
    let (peer_tx, mut peer_rx) = mpsc::unbounded_channel();
    let setup = LeaderSetup {
        config: ensemble.committed().clone(),
        last_seen: ensemble.last_seen().clone(),
        accepted_epoch: epochs.accepted as u32,
        current_epoch: epochs.current as u32,
    };
    let storage = match install(ctx, role, tree, peer_tx, |c| c.into_leader(setup)) {
        Ok(s) => s,
        Err(e) => return format!("cannot start the role: {e}").into(),
    };
    let acceptor = {
        let learners = learners.clone();
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => match stream.into_std().and_then(|s| {
                        s.set_nonblocking(false)?;
                        Ok(s)
                    }) {
                        Ok(s) => learners.accept(s),
                        Err(e) => tracing::warn!(error = %e, "accepting a learner"),
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "accepting on the quorum port");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        })
    };
    let mut handover = None;
    let why = loop {
        let Some(out) = peer_rx.recv().await else {
            break "the core is gone".to_string();
        };
        match learners.dispatch(out) {
            None => {}
            Some(PeerOut::Serving { epoch }) => {
                // Peers that join later compare the leader's advertised epoch with its
                // followers' (Apache's `updateElectionVote`).
                let _ = control.send(ElectionControl::PeerEpoch(u64::from(epoch)));
                let mut role = serving(ensemble, ServerMode::Leader);
                if let Some(q) = &mut role.quorum {
                    // `mntr` reads the learners' send queue figures as it answers.
                    let learners = learners.clone();
                    q.metrics = Some(MetricsSource(std::sync::Arc::new(move || {
                        learners.queue_metrics()
                    })));
                }
                ctx.words.send_replace(role);
            }
            Some(PeerOut::Ended(why)) => break why,
            Some(out @ (PeerOut::ConfigProposed(_) | PeerOut::ConfigActivated { .. })) => {
                handover = designated_other(&out, ctx.config.my_id.unwrap_or(0)).or(handover);
                note_config(ctx, ensemble, control, &out);
                ctx.words.send_modify(|w| {
                    if let Some(q) = &mut w.quorum {
                        q.membership = Some(ensemble.words());
                    }
                });
            }
            Some(other) => tracing::debug!(?other, "ignored on the leader"),
        }
    };
    // New clients are held from now on, not handed to a core that is going away.
    ctx.words.send_replace(looking_role(ensemble));
    acceptor.abort();
    learners.close_all();
    let (tree, disk_failed) = uninstall(ctx, storage).await;
    RoleEnd {
        why,
        tree,
        handover,
        disk_failed,
    }
}

/// A configuration newer than the committed one, heard in an election notification: it
/// is committed (a quorum of its members serves under it), so this member takes it, as a
/// synced learner takes NEWLEADER's.
fn adopt(
    ctx: &MemberContext,
    ensemble: &mut Ensemble,
    control: &mpsc::UnboundedSender<ElectionControl>,
    qv: QuorumVerifier,
) {
    let out = PeerOut::ConfigActivated {
        config: qv,
        designated_leader: None,
    };
    note_config(ctx, ensemble, control, &out);
    ctx.words.send_replace(looking_role(ensemble));
}

/// Gives the election port the committed configuration: who votes, where peers are, and
/// the config string its notifications carry.
fn tell_election(ensemble: &Ensemble, control: &mpsc::UnboundedSender<ElectionControl>) {
    let _ = control.send(ElectionControl::Membership {
        members: ensemble.election_members(),
        peers: ensemble.election_peers(),
        config_string: ensemble.committed().to_string().into_bytes(),
    });
}

/// A proposal this member kept that the leader it synced with does not hold (NEWLEADER
/// carries an older last seen configuration) can never commit: the new epoch's history
/// replaces it. Without this, a member restarted with such a proposal could lead a later
/// epoch and activate it (`Ensemble::forget_proposals_beyond`).
fn forget_dead_proposal(config: &Config, ensemble: &mut Ensemble, leader_seen: &QuorumVerifier) {
    let kept = ensemble.last_seen().version;
    if !ensemble.forget_proposals_beyond(leader_seen) {
        return;
    }
    tracing::info!(
        version = format_args!("{kept:#x}"),
        leader_seen = format_args!("{:#x}", leader_seen.version),
        "a proposed configuration the leader does not hold is forgotten"
    );
    let files = config.config_file.as_ref().map(ConfigFiles::new);
    if let Some(Err(e)) = files.map(|f| f.forget_proposed()) {
        tracing::error!(error = %e, "cannot remove the proposed configuration's file");
    }
}

/// A configuration the role proposed, saw proposed or activated: the member keeps it for
/// its next roles and, with `reconfigEnabled`, in the dynamic config files beside zoo.cfg
/// as Apache keeps them. (The role itself ends when its leader or its own part changes.)
fn note_config(
    ctx: &MemberContext,
    ensemble: &mut Ensemble,
    control: &mpsc::UnboundedSender<ElectionControl>,
    out: &PeerOut,
) {
    let config = &ctx.config;
    let client_port = ctx.client_port.as_ref();
    let files = config
        .config_file
        .as_ref()
        .filter(|_| config.reconfig_enabled)
        .map(ConfigFiles::new);
    let written = match out {
        PeerOut::ConfigProposed(c) => {
            tracing::info!(version = %format!("{:x}", c.version), config = %c, "configuration proposed");
            ensemble.proposed(c);
            files.map(|f| f.write_proposed(c))
        }
        PeerOut::ConfigActivated {
            config: c,
            designated_leader,
        } => {
            tracing::info!(
                version = %format!("{:x}", c.version),
                ?designated_leader,
                voters = ?c.voters(),
                observers = ?c.observers(),
                "configuration activated"
            );
            if !ensemble.activated(c) {
                return;
            }
            // Peers that look for a leader now must hear the new configuration and this
            // member's new place in it (a joiner now votes: it answers FOLLOWING).
            tell_election(ensemble, control);
            let mine = config.my_id.and_then(|id| c.member(id));
            let erase_client_port = mine.is_some_and(|s| s.client_addr.is_some());
            if let (Some(port), Some(addr)) = (client_port, mine.and_then(|s| s.client_addr)) {
                port.send_if_modified(|now| std::mem::replace(now, addr) != addr);
            }
            let listed = ensemble.place() != Place::Outside;
            files.map(|f| f.write_active(c, erase_client_port, listed))
        }
        _ => None,
    };
    if let Some(Err(e)) = written {
        tracing::error!(error = %e, "cannot write the dynamic configuration files");
    }
}

/// Follows (or observes) `leader` until the connection to it ends; returns why.
async fn follow(
    ctx: &MemberContext,
    ensemble: &mut Ensemble,
    role: u64,
    leader: u64,
    tree: DataTree,
    epochs: Epochs,
    control: &mpsc::UnboundedSender<ElectionControl>,
) -> RoleEnd {
    let config = &ctx.config;
    // A member outside the committed configuration (a joiner) follows without voting,
    // unless it was configured as an observer.
    let observer = match ensemble.place() {
        Place::Observer => true,
        Place::Voter => false,
        Place::Outside => {
            config.peer_type == PeerType::Observer
                || ensemble.me().is_some_and(|s| s.role == PeerType::Observer)
        }
    };
    let mode = if observer {
        ServerMode::Observer
    } else {
        ServerMode::Follower
    };
    let Some(leader_spec) = ensemble.server(leader).cloned() else {
        return format!("the elected leader {leader} is not in the config").into();
    };
    ctx.words
        .send_replace(not_serving(ensemble, mode, ZabPhase::Synchronization));
    let setup = LearnerSetup {
        me: config.my_id.unwrap_or(0),
        observer,
        leader_addr: leader_spec.peer_addr(),
        dirs: ctx.dirs.clone(),
        tick: Duration::from_millis(u64::from(config.tick_time_ms)),
        init_limit: config.init_limit,
        sync_limit: config.sync_limit,
        max_buffer: config.jute_max_buffer as usize + crate::txn::apache::MAX_BUFFER / 2,
        force_sync: config.force_sync,
        segment_limit: ctx.segment_limit,
        config_string: ensemble.committed().to_string().into_bytes(),
        config_version: ensemble.committed().version,
        config_files: config
            .config_file
            .as_ref()
            .filter(|_| config.reconfig_enabled)
            .map(ConfigFiles::new),
    };
    tracing::info!(leader, addr = %setup.leader_addr, observer, "following: connecting to the leader");
    let synced = {
        let setup = setup.clone();
        // `zk_peer_state` says how this member is being brought up to date.
        let words = ctx.words.clone();
        let report = move |how: &'static str| {
            let mode = match how {
                "snap" => SyncMode::Snap,
                "trunc" => SyncMode::Trunc,
                _ => SyncMode::Diff,
            };
            words.send_modify(|role| {
                if let Some(q) = &mut role.quorum {
                    q.sync_mode = mode;
                }
            });
        };
        let sync = move || sync_with_leader_reporting(&setup, tree, epochs, &report);
        match tokio::task::spawn_blocking(sync).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                return RoleEnd {
                    why: format!("sync with leader {leader} failed: {e}"),
                    tree: None,
                    handover: None,
                    disk_failed: matches!(e, LearnerError::Storage(_)),
                }
            }
            Err(e) => return format!("sync with leader {leader} failed: {e}").into(),
        }
    };
    let _ = control.send(ElectionControl::PeerEpoch(u64::from(synced.epoch)));
    let (peer_tx, mut peer_rx) = mpsc::unbounded_channel();
    // With reconfig on, NEWLEADER's configuration (or a newer one a reconfig committed
    // during the sync) becomes this member's at UPTODATE when it is newer than its own (an
    // interrupted reconfig, or the version the epoch stamped).
    let leader_seen = synced
        .newleader_config
        .as_deref()
        .filter(|_| config.reconfig_enabled)
        .and_then(|d| QuorumVerifier::parse(&String::from_utf8_lossy(d)).ok());
    if let Some(seen) = &leader_seen {
        forget_dead_proposal(config, ensemble, seen);
    }
    let newer = leader_seen.filter(|qv| qv.version > ensemble.committed().version);
    if let Some(qv) = &newer {
        ensemble.proposed(qv);
    }
    let follower = FollowerSetup {
        leader,
        observer,
        epoch: synced.epoch,
        voters: ensemble.committed().voters().len(),
        uncommitted: synced.uncommitted,
        config: newer,
    };
    let storage = match install(ctx, role, synced.tree, peer_tx, |c| {
        c.into_follower(follower)
    }) {
        Ok(s) => s,
        Err(e) => return format!("cannot start the role: {e}").into(),
    };
    let mut words = serving(ensemble, mode);
    if let Some(q) = &mut words.quorum {
        // The admin server's `leader` command (Apache's getLeaderId / getLeaderAddress).
        q.leader_id = Some(leader);
        q.leader_address = Some(leader_spec.host.clone());
    }
    ctx.words.send_replace(words);

    // The leader's packets go to the core; a read error (the leader gone, or silent for
    // syncLimit ticks) ends the role.
    let (ended_tx, mut ended_rx) = mpsc::unbounded_channel::<String>();
    let socket: TcpStream = synced.writer;
    {
        let mut reader = synced.reader;
        let core = ctx.core.clone();
        let ended = ended_tx.clone();
        let max = setup.max_buffer;
        let spawned = std::thread::Builder::new()
            .name("leader-reader".into())
            .spawn(move || loop {
                match read_packet(&mut reader, max) {
                    Ok(pkt) => {
                        let input = Input::FromLeader(pkt);
                        if core.send(CoreMsg::RoleInput { role, input }).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = ended.send(format!("the connection to the leader ended: {e}"));
                        return;
                    }
                }
            });
        if let Err(e) = spawned {
            let _ = ended_tx.send(format!("cannot start the reader thread: {e}"));
        }
    }
    let (to_leader, to_leader_rx) =
        std::sync::mpsc::channel::<crate::quorum::wire::packet::QuorumPacket>();
    match socket.try_clone() {
        Ok(s) => {
            let ended = ended_tx.clone();
            let spawned = std::thread::Builder::new()
                .name("leader-writer".into())
                .spawn(move || {
                    let mut w = std::io::BufWriter::with_capacity(1 << 16, s);
                    while let Ok(first) = to_leader_rx.recv() {
                        let mut next = Some(first);
                        while let Some(p) = next {
                            if let Err(e) = write_packet(&mut w, &p) {
                                let _ = ended.send(format!("writing to the leader: {e}"));
                                return;
                            }
                            next = to_leader_rx.try_recv().ok();
                        }
                        if let Err(e) = std::io::Write::flush(&mut w) {
                            let _ = ended.send(format!("writing to the leader: {e}"));
                            return;
                        }
                    }
                });
            if let Err(e) = spawned {
                let _ = ended_tx.send(format!("cannot start the writer thread: {e}"));
            }
        }
        Err(e) => {
            let _ = ended_tx.send(format!("cannot use the leader connection: {e}"));
        }
    }
    let mut handover = None;
    let why = loop {
        tokio::select! {
            out = peer_rx.recv() => match out {
                Some(PeerOut::ToLeader(p)) => {
                    let _ = to_leader.send(p);
                }
                Some(PeerOut::Ended(why)) => break why,
                Some(out @ (PeerOut::ConfigProposed(_) | PeerOut::ConfigActivated { .. })) => {
                    handover = designated_other(&out, leader).or(handover);
                    note_config(ctx, ensemble, control, &out);
                    ctx.words.send_modify(|w| {
                        if let Some(q) = &mut w.quorum {
                            q.membership = Some(ensemble.words());
                        }
                    });
                }
                Some(other) => tracing::debug!(?other, "ignored on a learner"),
                None => break "the core is gone".to_string(),
            },
            Some(why) = ended_rx.recv() => break why,
        }
    };
    ctx.words.send_replace(looking_role(ensemble));
    drop(to_leader);
    let _ = socket.shutdown(std::net::Shutdown::Both);
    let (tree, disk_failed) = uninstall(ctx, storage).await;
    RoleEnd {
        why,
        tree,
        handover,
        disk_failed,
    }
}
