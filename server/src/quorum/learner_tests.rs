//! `learner::sync_with_leader` against a scripted leader on a loopback port: the script
//! plays Apache's `LearnerHandler` packet by packet and checks, at each of the learner's
//! answers, what the learner has made durable by then.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use zkrs_proto::Acl;

use crate::ids::Zxid;
use crate::storage::epoch::{Epochs, ACCEPTED_EPOCH, CURRENT_EPOCH};
use crate::storage::recovery::recover;
use crate::storage::txnlog::{FileTxnLog, LogReader};
use crate::storage::writer::{LogEntry, TxnLog};
use crate::storage::DataDirs;
use crate::txn::{apache, CreateKind, Txn, TxnHeader};

use super::config_files::ConfigFiles;
use super::learner::{sync_with_leader, LearnerError, LearnerSetup, Synced};
use super::stream::{read_packet, write_packet};
use super::verifier::QuorumVerifier;
use super::wire::packet::{
    leader_info, LearnerInfo, PacketType, QuorumPacket, DEFAULT_MAX_BUFFER, ZAB_PROTOCOL_VERSION,
};
use super::wire::snap;

fn z(epoch: u32, counter: u32) -> Zxid {
    Zxid::new(epoch, counter)
}

fn entry(zxid: Zxid, path: &str) -> LogEntry {
    LogEntry {
        hdr: TxnHeader {
            session_id: 0,
            cxid: 0,
            zxid: zxid.raw(),
            time: 1_700_000_000_000,
        },
        txn: Arc::new(Txn::Create {
            path: path.into(),
            data: Some(b"x".to_vec()),
            acl: Acl::open_unsafe(),
            kind: CreateKind::Create { ephemeral: false },
            parent_cversion: -1,
        }),
    }
}

fn proposal(e: &LogEntry) -> QuorumPacket {
    QuorumPacket::new(
        PacketType::PROPOSAL,
        e.hdr.zxid,
        Some(apache::encode(&e.hdr, &e.txn, None).unwrap()),
    )
}

fn pkt(kind: PacketType, zxid: Zxid) -> QuorumPacket {
    QuorumPacket::new(kind, zxid.raw(), None)
}

struct Member {
    _tmp: tempfile::TempDir,
    dirs: DataDirs,
}

impl Member {
    /// A member whose log holds `/n1..` at `zxids`, with the given epoch files.
    fn new(zxids: &[Zxid], accepted: u64, current: u64) -> Member {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = DataDirs::open(tmp.path(), tmp.path()).unwrap();
        if !zxids.is_empty() {
            let mut log = FileTxnLog::new(dirs.log_dir.clone(), 1 << 26, false);
            let entries: Vec<LogEntry> = zxids
                .iter()
                .enumerate()
                .map(|(i, &zx)| entry(zx, &format!("/n{}", i + 1)))
                .collect();
            log.append(&entries).unwrap();
            log.sync().unwrap();
        }
        crate::storage::epoch::write_accepted(&dirs.snap_dir, accepted).unwrap();
        crate::storage::epoch::write_current(&dirs.snap_dir, current).unwrap();
        Member { _tmp: tmp, dirs }
    }

    fn setup(&self, addr: String, observer: bool) -> LearnerSetup {
        LearnerSetup {
            me: 2,
            observer,
            leader_addr: addr,
            dirs: self.dirs.clone(),
            tick: Duration::from_millis(200),
            init_limit: 10,
            sync_limit: 10,
            max_buffer: DEFAULT_MAX_BUFFER,
            force_sync: false,
            segment_limit: 1 << 26,
            config_version: 0,
            config_string: b"server.1=127.0.0.1:2888:3888:participant\nversion=0".to_vec(),
            config_files: None,
        }
    }

    fn sync(&self, addr: String) -> Result<Synced, LearnerError> {
        self.sync_as(addr, false)
    }

    /// Syncs from what this member's disk holds (tree, epoch files), as a follower or
    /// an observer.
    fn sync_as(&self, addr: String, observer: bool) -> Result<Synced, LearnerError> {
        let tree = recover(&self.dirs).unwrap().0;
        let epochs = Epochs {
            accepted: read_epoch(&self.dirs.snap_dir, ACCEPTED_EPOCH),
            current: read_epoch(&self.dirs.snap_dir, CURRENT_EPOCH),
        };
        sync_with_leader(&self.setup(addr, observer), tree, epochs)
    }
}

fn read_epoch(dir: &Path, name: &str) -> u64 {
    std::fs::read_to_string(dir.join(name))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Every zxid in the log.
fn all_logged(dirs: &DataDirs) -> Vec<i64> {
    let segs = crate::storage::txnlog::list_segments(&dirs.log_dir).unwrap();
    match segs.first() {
        Some((first, _)) => logged(dirs, first - 1),
        None => Vec::new(),
    }
}

/// The zxids in the log after `after`.
fn logged(dirs: &DataDirs, after: i64) -> Vec<i64> {
    LogReader::open(&dirs.log_dir, after)
        .map(|r| r.filter_map(|x| x.ok()).map(|(h, _)| h.zxid).collect())
        .unwrap_or_default()
}

/// Runs `script` as the leader's side of one learner connection.
fn leader<R: Send + 'static>(
    script: impl FnOnce(TcpStream) -> R + Send + 'static,
) -> (String, JoinHandle<R>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let h = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        script(s)
    });
    (addr, h)
}

fn recv(s: &mut TcpStream) -> QuorumPacket {
    read_packet(s, DEFAULT_MAX_BUFFER).expect("a packet from the learner")
}

fn send(s: &mut TcpStream, p: &QuorumPacket) {
    write_packet(s, p).unwrap();
    s.flush().unwrap();
}

/// Discovery as a leader of `epoch`: checks FOLLOWERINFO, sends LEADERINFO, returns the
/// ACKEPOCH.
fn discovery(s: &mut TcpStream, accepted: u32, epoch: u32) -> QuorumPacket {
    let fi = recv(s);
    assert_eq!(fi.kind, PacketType::FOLLOWERINFO);
    assert_eq!(fi.zxid, z(accepted, 0).raw(), "acceptedEpoch in the zxid");
    let info = LearnerInfo::decode(fi.data.as_deref().unwrap()).unwrap();
    assert_eq!(
        info,
        LearnerInfo {
            server_id: 2,
            protocol_version: ZAB_PROTOCOL_VERSION,
            config_version: 0
        }
    );
    send(s, &leader_info(epoch));
    let ae = recv(s);
    assert_eq!(ae.kind, PacketType::ACKEPOCH);
    ae
}

#[test]
fn diff_then_newleader_then_proposals_then_uptodate() {
    let m = Member::new(&[z(1, 1), z(1, 2), z(1, 3)], 1, 1);
    let dirs = m.dirs.clone();
    let (addr, script) = leader(move |mut s| {
        let ae = discovery(&mut s, 1, 2);
        assert_eq!(
            read_epoch(&dirs.snap_dir, ACCEPTED_EPOCH),
            2,
            "acceptedEpoch written before ACKEPOCH"
        );
        assert_eq!(ae.zxid, z(1, 3).raw(), "its last zxid");
        assert_eq!(ae.data.as_deref(), Some(&1i32.to_be_bytes()[..]));
        send(&mut s, &pkt(PacketType::DIFF, z(1, 5)));
        for (i, zx) in [z(1, 4), z(1, 5)].into_iter().enumerate() {
            send(&mut s, &proposal(&entry(zx, &format!("/n{}", i + 4))));
            send(&mut s, &pkt(PacketType::COMMIT, zx));
        }
        send(
            &mut s,
            &QuorumPacket::new(PacketType::NEWLEADER, z(2, 0).raw(), Some(b"cfg".to_vec())),
        );
        let a = recv(&mut s);
        assert_eq!(a, pkt(PacketType::ACK, z(2, 0)));
        assert_eq!(
            read_epoch(&dirs.snap_dir, CURRENT_EPOCH),
            2,
            "currentEpoch written before the NEWLEADER ACK"
        );
        assert_eq!(
            logged(&dirs, z(1, 3).raw()),
            vec![z(1, 4).raw(), z(1, 5).raw()],
            "the DIFF is logged before the NEWLEADER ACK"
        );
        // In flight during the sync: one proposal committed, one not.
        send(&mut s, &proposal(&entry(z(2, 1), "/m1")));
        send(&mut s, &proposal(&entry(z(2, 2), "/m2")));
        send(&mut s, &pkt(PacketType::COMMIT, z(2, 1)));
        send(&mut s, &pkt(PacketType::PING, z(2, 2)));
        send(&mut s, &QuorumPacket::new(PacketType::UPTODATE, -1, None));
        let a = recv(&mut s);
        assert_eq!(a, pkt(PacketType::ACK, z(2, 0)));
        assert_eq!(
            logged(&dirs, z(1, 5).raw()),
            vec![z(2, 1).raw(), z(2, 2).raw()],
            "proposals after NEWLEADER are logged before the UPTODATE ACK"
        );
        s
    });
    let synced = m.sync(addr).expect("synced");
    let _s = script.join().unwrap();
    assert_eq!(synced.epoch, 2);
    assert_eq!(synced.tree.last_zxid(), z(2, 1).raw());
    assert!(synced.tree.get("/m1").is_some() && synced.tree.get("/m2").is_none());
    assert_eq!(
        synced
            .uncommitted
            .iter()
            .map(|e| e.hdr.zxid)
            .collect::<Vec<_>>(),
        vec![z(2, 2).raw()]
    );
    let (tree, _) = recover(&m.dirs).unwrap();
    assert_eq!(
        tree.last_zxid(),
        z(2, 2).raw(),
        "everything received is on disk"
    );
}

#[test]
fn ackepoch_is_minus_one_when_the_epoch_was_already_accepted() {
    let m = Member::new(&[z(1, 1)], 2, 1);
    let (addr, script) = leader(move |mut s| {
        let ae = discovery(&mut s, 2, 2);
        assert_eq!(ae.data.as_deref(), Some(&(-1i32).to_be_bytes()[..]));
        send(&mut s, &pkt(PacketType::DIFF, z(1, 1)));
        send(&mut s, &pkt(PacketType::NEWLEADER, z(2, 0)));
        recv(&mut s);
        send(&mut s, &QuorumPacket::new(PacketType::UPTODATE, -1, None));
        recv(&mut s);
        s
    });
    let synced = m.sync(addr).expect("synced");
    script.join().unwrap();
    assert_eq!(synced.epoch, 2);
    assert_eq!(read_epoch(&m.dirs.snap_dir, CURRENT_EPOCH), 2);
}

#[test]
fn a_leader_with_an_older_epoch_is_refused() {
    let m = Member::new(&[], 3, 3);
    let (addr, script) = leader(move |mut s| {
        let fi = recv(&mut s);
        assert_eq!(fi.zxid, z(3, 0).raw());
        send(&mut s, &leader_info(2));
        // The learner hangs up instead of answering.
        read_packet(&mut s, DEFAULT_MAX_BUFFER).is_err()
    });
    match m.sync(addr) {
        Err(LearnerError::EpochBehind {
            proposed: 2,
            accepted: 3,
        }) => {}
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("synced with an older epoch"),
    }
    assert!(script.join().unwrap(), "no ACKEPOCH for an older epoch");
    assert_eq!(read_epoch(&m.dirs.snap_dir, ACCEPTED_EPOCH), 3);
}

#[test]
fn trunc_drops_the_tail_and_reloads_the_tree() {
    let m = Member::new(&[z(1, 1), z(1, 2), z(1, 3), z(1, 4), z(1, 5)], 1, 1);
    let (addr, script) = leader(move |mut s| {
        let ae = discovery(&mut s, 1, 2);
        assert_eq!(ae.zxid, z(1, 5).raw());
        send(&mut s, &pkt(PacketType::TRUNC, z(1, 3)));
        send(&mut s, &pkt(PacketType::NEWLEADER, z(2, 0)));
        recv(&mut s);
        send(&mut s, &QuorumPacket::new(PacketType::UPTODATE, -1, None));
        recv(&mut s);
        s
    });
    let synced = m.sync(addr).expect("synced");
    script.join().unwrap();
    assert_eq!(synced.tree.last_zxid(), z(1, 3).raw());
    assert!(synced.tree.get("/n3").is_some());
    assert!(synced.tree.get("/n4").is_none());
    assert_eq!(all_logged(&m.dirs).last(), Some(&z(1, 3).raw()));
    assert_eq!(recover(&m.dirs).unwrap().0.last_zxid(), z(1, 3).raw());
}

const APACHE_SNAP: &[u8] = include_bytes!("../../tests/fixtures/quorum/snap_body.bin");

/// Apache's `BenWasHere` trailer: a jute ustring.
fn signature() -> Vec<u8> {
    let mut v = 10i32.to_be_bytes().to_vec();
    v.extend_from_slice(b"BenWasHere");
    v
}

#[test]
fn snap_replaces_the_old_log_and_snapshots() {
    let m = Member::new(&[z(1, 1), z(1, 2), z(1, 3)], 1, 1);
    // A snapshot of the old history too.
    let old = recover(&m.dirs).unwrap().0;
    crate::storage::snapshot::write(
        &m.dirs.snap_dir,
        old.last_zxid(),
        &crate::storage::snapshot::serialize(&old),
    )
    .unwrap();
    let (addr, script) = leader(move |mut s| {
        discovery(&mut s, 1, 3);
        send(&mut s, &pkt(PacketType::SNAP, z(2, 7)));
        s.write_all(APACHE_SNAP).unwrap();
        s.write_all(&signature()).unwrap();
        send(&mut s, &proposal(&entry(z(3, 1), "/after")));
        send(&mut s, &pkt(PacketType::NEWLEADER, z(3, 0)));
        recv(&mut s);
        send(&mut s, &pkt(PacketType::COMMIT, z(3, 1)));
        send(&mut s, &QuorumPacket::new(PacketType::UPTODATE, -1, None));
        recv(&mut s);
        s
    });
    let synced = m.sync(addr).expect("synced");
    script.join().unwrap();
    let expected =
        snap::read_snap(&mut &APACHE_SNAP[..], z(2, 7).raw(), DEFAULT_MAX_BUFFER).unwrap();
    assert!(synced.tree.get("/after").is_some());
    assert!(synced.tree.get("/n1").is_none(), "the old history is gone");
    assert_eq!(synced.tree.last_zxid(), z(3, 1).raw());
    let (disk, _) = recover(&m.dirs).unwrap();
    assert_eq!(disk.last_zxid(), z(3, 1).raw());
    assert!(disk.get("/n1").is_none());
    assert_eq!(all_logged(&m.dirs), vec![z(3, 1).raw()], "old log removed");
    let snaps = crate::storage::snapshot::list_snapshots(&m.dirs.snap_dir).unwrap();
    assert!(
        snaps.iter().all(|(zx, _)| *zx >= z(2, 7).raw()),
        "old snapshots removed: {snaps:?}"
    );
    // The tree is Apache's, plus the one commit.
    let mut want = expected;
    let e = entry(z(3, 1), "/after");
    want.apply(&e.hdr, &e.txn, &mut Vec::new());
    assert_eq!(disk.digest(), want.digest());
    assert_eq!(synced.tree.digest(), want.digest());
}

/// The whole sync made of the bytes Apache 3.8's classes wrote (LEADERINFO of epoch 6,
/// SNAP at (6,2), NEWLEADER with its config, UPTODATE), with Apache's snapshot body.
#[test]
fn a_sync_of_apache_bytes_is_accepted() {
    macro_rules! fixture {
        ($n:literal) => {
            include_bytes!(concat!("../../tests/fixtures/quorum/", $n)).as_slice()
        };
    }
    let m = Member::new(&[], 5, 5);
    let (addr, script) = leader(move |mut s| {
        let fi = recv(&mut s);
        assert_eq!(fi.zxid, z(5, 0).raw());
        s.write_all(fixture!("packet_leaderinfo.bin")).unwrap();
        let ae = recv(&mut s);
        assert_eq!(ae.kind, PacketType::ACKEPOCH);
        assert_eq!(ae.encode(), {
            let mut v = Vec::new();
            super::wire::packet::ack_epoch(0, 5).encode_into(&mut v);
            v
        });
        s.write_all(fixture!("packet_snap.bin")).unwrap();
        s.write_all(APACHE_SNAP).unwrap();
        s.write_all(&signature()).unwrap();
        s.write_all(fixture!("packet_newleader.bin")).unwrap();
        let a = recv(&mut s);
        assert_eq!(a, pkt(PacketType::ACK, z(6, 0)));
        s.write_all(fixture!("packet_uptodate.bin")).unwrap();
        let a = recv(&mut s);
        assert_eq!(a, pkt(PacketType::ACK, z(6, 0)));
        s
    });
    let synced = m.sync(addr).expect("synced with Apache's bytes");
    script.join().unwrap();
    assert_eq!(synced.epoch, 6);
    assert_eq!(synced.tree.last_zxid(), z(6, 2).raw());
    let expected =
        snap::read_snap(&mut &APACHE_SNAP[..], z(6, 2).raw(), DEFAULT_MAX_BUFFER).unwrap();
    assert_eq!(synced.tree.digest(), expected.digest());
    assert_eq!(read_epoch(&m.dirs.snap_dir, CURRENT_EPOCH), 6);
}

fn expect_error(after_discovery: impl FnOnce(&mut TcpStream) + Send + 'static) {
    let m = Member::new(&[z(1, 1)], 1, 1);
    let (addr, script) = leader(move |mut s| {
        discovery(&mut s, 1, 2);
        after_discovery(&mut s);
        // Hang up.
        drop(s);
    });
    let r = m.sync(addr);
    script.join().unwrap();
    assert!(r.is_err(), "a broken stream must fail the sync");
}

#[test]
fn garbage_and_truncated_streams_are_errors_not_panics() {
    // Garbage where a packet should be.
    expect_error(|s| s.write_all(&[0xff; 64]).unwrap());
    // Half a packet, then EOF.
    expect_error(|s| {
        s.write_all(&pkt(PacketType::DIFF, z(1, 1)).encode()[..7])
            .unwrap()
    });
    // A SNAP whose body stops short.
    expect_error(|s| {
        send(s, &pkt(PacketType::SNAP, z(1, 9)));
        s.write_all(&APACHE_SNAP[..APACHE_SNAP.len() / 2]).unwrap();
    });
    // A SNAP without its signature.
    expect_error(|s| {
        send(s, &pkt(PacketType::SNAP, z(1, 9)));
        s.write_all(APACHE_SNAP).unwrap();
        s.write_all(&pkt(PacketType::NEWLEADER, z(2, 0)).encode())
            .unwrap();
    });
    // A proposal whose txn does not decode.
    expect_error(|s| {
        send(s, &pkt(PacketType::DIFF, z(1, 2)));
        send(
            s,
            &QuorumPacket::new(PacketType::PROPOSAL, z(1, 2).raw(), Some(vec![1, 2, 3])),
        );
    });
    // A COMMIT without its proposal.
    expect_error(|s| {
        send(s, &pkt(PacketType::DIFF, z(1, 2)));
        send(s, &pkt(PacketType::COMMIT, z(1, 2)));
    });
    // A huge length.
    expect_error(|s| {
        let mut b = PacketType::PROPOSAL.0.to_be_bytes().to_vec();
        b.extend_from_slice(&z(1, 2).raw().to_be_bytes());
        b.extend_from_slice(&i32::MAX.to_be_bytes());
        s.write_all(&b).unwrap();
    });
    // Something other than LEADERINFO first is checked in its own test below.
}

#[test]
fn something_else_than_leaderinfo_is_an_error() {
    let m = Member::new(&[], 1, 1);
    let (addr, script) = leader(move |mut s| {
        recv(&mut s);
        send(&mut s, &pkt(PacketType::NEWLEADER, z(2, 0)));
        s
    });
    assert!(matches!(m.sync(addr), Err(LearnerError::Protocol(_))));
    script.join().unwrap();
}

#[test]
fn an_observer_sends_observerinfo_and_applies_inform() {
    let m = Member::new(&[], 1, 1);
    let dirs = m.dirs.clone();
    let (addr, script) = leader(move |mut s| {
        let oi = recv(&mut s);
        assert_eq!(oi.kind, PacketType::OBSERVERINFO);
        send(&mut s, &leader_info(2));
        recv(&mut s);
        send(&mut s, &pkt(PacketType::DIFF, z(0, 0)));
        send(&mut s, &pkt(PacketType::NEWLEADER, z(2, 0)));
        recv(&mut s);
        let mut inform = proposal(&entry(z(2, 1), "/o"));
        inform.kind = PacketType::INFORM;
        send(&mut s, &inform);
        send(&mut s, &QuorumPacket::new(PacketType::UPTODATE, -1, None));
        recv(&mut s);
        assert_eq!(all_logged(&dirs), vec![z(2, 1).raw()]);
        s
    });
    let synced = m.sync_as(addr, true).expect("synced");
    script.join().unwrap();
    assert!(synced.tree.get("/o").is_some());
    assert!(synced.uncommitted.is_empty());
}

/// A reconfig transaction at `zxid` whose configuration is voters `1..=n`.
fn reconfig_entry(zxid: Zxid, n: u64) -> (LogEntry, QuorumVerifier) {
    let text: String = (1..=n)
        .map(|i| format!("server.{i}=127.0.0.{i}:2888:3888:participant;2181\n"))
        .collect();
    let mut qv = QuorumVerifier::parse(&text).unwrap();
    qv.version = zxid.raw();
    let e = LogEntry {
        txn: Arc::new(Txn::SetData {
            path: "/zookeeper/config".into(),
            data: Some(qv.to_string().into_bytes()),
            version: -1,
            reconfig: true,
        }),
        ..entry(zxid, "/unused")
    };
    (e, qv)
}

/// Found by the cluster simulation with reconfig: a reconfig that committed while a learner
/// synced reached it as INFORMANDACTIVATE (an observer) or COMMITANDACTIVATE (a follower),
/// which the sync ignored, so the observer skipped the transaction and the follower kept it
/// pending. Both are taken as INFORM and COMMIT are, and the configuration is the one to
/// take at UPTODATE.
#[test]
fn a_reconfig_committed_during_the_sync_is_applied_and_taken() {
    for observer in [true, false] {
        let m = Member::new(&[], 1, 1);
        let dirs = m.dirs.clone();
        let (reconfig, qv) = reconfig_entry(z(2, 1), 4);
        let after = entry(z(2, 2), "/after");
        let (addr, script) = leader(move |mut s| {
            recv(&mut s);
            send(&mut s, &leader_info(2));
            recv(&mut s);
            send(&mut s, &pkt(PacketType::DIFF, z(0, 0)));
            send(&mut s, &pkt(PacketType::NEWLEADER, z(2, 0)));
            recv(&mut s);
            if observer {
                let inform = crate::core::reconfig::inform_and_activate(&proposal(&reconfig), 1);
                send(&mut s, &inform);
                let mut next = proposal(&after);
                next.kind = PacketType::INFORM;
                send(&mut s, &next);
            } else {
                send(&mut s, &proposal(&reconfig));
                let commit = crate::core::reconfig::commit_and_activate(z(2, 1).raw(), 1);
                send(&mut s, &commit);
                send(&mut s, &proposal(&after));
                send(&mut s, &pkt(PacketType::COMMIT, z(2, 2)));
            }
            send(&mut s, &QuorumPacket::new(PacketType::UPTODATE, -1, None));
            recv(&mut s);
            assert_eq!(all_logged(&dirs), vec![z(2, 1).raw(), z(2, 2).raw()]);
            s
        });
        let synced = m.sync_as(addr, observer).expect("synced");
        script.join().unwrap();
        assert_eq!(
            synced.tree.last_zxid(),
            z(2, 2).raw(),
            "observer: {observer}"
        );
        assert!(synced.uncommitted.is_empty(), "observer: {observer}");
        let taken = synced.newleader_config.expect("a configuration to take");
        assert_eq!(
            QuorumVerifier::parse(std::str::from_utf8(&taken).unwrap()).unwrap(),
            qv,
            "observer: {observer}"
        );
    }
}

/// Found by the cluster simulation with reconfig: a member that took a reconfig's proposal
/// in a DIFF and acknowledged it at NEWLEADER did not keep the configuration; after a
/// restart it led under the old one, with a log holding the reconfig. The learner keeps it
/// as the proposed configuration before it acknowledges, even if the sync then fails.
#[test]
fn a_reconfig_proposed_in_the_sync_is_kept_before_newleader_is_acknowledged() {
    let m = Member::new(&[], 1, 1);
    let (reconfig, qv) = reconfig_entry(z(1, 1), 4);
    let files = ConfigFiles::new(m._tmp.path().join("zoo.cfg"));
    let kept = files.clone();
    let (addr, script) = leader(move |mut s| {
        discovery(&mut s, 1, 2);
        send(&mut s, &pkt(PacketType::DIFF, z(1, 1)));
        send(&mut s, &proposal(&reconfig));
        send(&mut s, &pkt(PacketType::NEWLEADER, z(2, 0)));
        let ack = recv(&mut s);
        assert_eq!(ack.kind, PacketType::ACK);
        let next = kept.read_proposed().unwrap();
        // The leader goes away before UPTODATE.
        drop(s);
        next
    });
    let tree = recover(&m.dirs).unwrap().0;
    let setup = LearnerSetup {
        config_files: Some(files.clone()),
        ..m.setup(addr, false)
    };
    let epochs = Epochs {
        accepted: 1,
        current: 1,
    };
    assert!(sync_with_leader(&setup, tree, epochs).is_err());
    assert_eq!(
        script.join().unwrap(),
        Some(qv.clone()),
        "kept before the ACK"
    );
    assert_eq!(files.read_proposed().unwrap(), Some(qv));
}
