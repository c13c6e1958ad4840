//! Leader election over the election port: `zkrs-server elect` members among themselves,
//! with Apache ZooKeeper members (the notification and handshake formats must interoperate
//! both ways), and against peers that send garbage or nothing at all.
//!
//! Every process is an [`Ensemble`] member, killed by its PID when the ensemble is dropped,
//! also when a test fails (the members' log tails are printed then).

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use zkrs_tests::ensemble::Launch;
use zkrs_tests::{Ensemble, Mode, ServerConfig, ServerKind, POLL};

/// How long zkrs members get to elect (they decide within a second on an idle machine).
const ELECT: Duration = Duration::from_secs(30);
/// How long a mixed ensemble gets: JVMs start slowly on a busy two-core machine.
const ELECT_WITH_JVM: Duration = Duration::from_secs(120);

/// The `elected: ...` lines member `i` has printed so far.
fn decisions(e: &Ensemble, i: usize) -> Vec<String> {
    e.member(i)
        .log()
        .lines()
        .filter(|l| l.starts_with("elected: "))
        .map(str::to_string)
        .collect()
}

/// Polls `done` until it holds, for at most `limit`; panics with `what` otherwise.
fn wait_for(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        // Polling interval of a bounded wait.
        std::thread::sleep(POLL);
    }
}

/// Waits until every member in `members` has printed a decision, and returns the first
/// decision of each.
fn wait_for_decisions(e: &Ensemble, members: &[usize], limit: Duration) -> Vec<String> {
    wait_for(limit, "every zkrs member decides", || {
        members.iter().all(|&i| !decisions(e, i).is_empty())
    });
    members.iter().map(|&i| decisions(e, i).remove(0)).collect()
}

fn wait_accepting(addr: SocketAddr) {
    wait_for(ELECT, &format!("{addr} accepts connections"), || {
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
    });
}

fn assert_highest_sid_leads(d: &[String]) {
    assert!(d[0].starts_with("elected: follow 3 "), "member 1: {d:?}");
    assert!(d[1].starts_with("elected: follow 3 "), "member 2: {d:?}");
    assert!(d[2].starts_with("elected: lead "), "member 3: {d:?}");
}

#[test]
fn three_zkrs_members_elect_the_highest_sid() {
    let mut e = Ensemble::prepare(
        ServerKind::Zkrs,
        &[Launch::Elect; 3],
        ServerConfig::default(),
    );
    for i in 0..3 {
        e.restart(i);
    }
    let d = wait_for_decisions(&e, &[0, 1, 2], ELECT);
    assert_highest_sid_leads(&d);
    // All have zxid 0 and epoch 0, and decide in their first round.
    for line in &d {
        assert!(
            line.ends_with("(epoch 0x1, peerEpoch 0x0, zxid 0x0)"),
            "{line}"
        );
    }
}

/// One `zkrs-server elect` member at index `zkrs` among Apache members (3 in all): Apache
/// member 3 must lead, the other Apache member follow, and the zkrs member print `follow 3`.
fn mixed_ensemble_elects_member_3(zkrs: usize) {
    let launches: Vec<Launch> = (0..3)
        .map(|i| {
            if i == zkrs {
                Launch::Elect
            } else {
                Launch::Server(ServerKind::Apache)
            }
        })
        .collect();
    let mut e = Ensemble::prepare(ServerKind::Apache, &launches, ServerConfig::default());
    // Member 3 first, looking before the others start: otherwise, on a busy machine, the
    // other two can form a quorum while its JVM starts, and elect the higher of themselves
    // (a correct election, not the one this test checks).
    e.restart(2);
    wait_for(ELECT_WITH_JVM, "Apache member 3 looks for a leader", || {
        e.member(2).log().contains("LOOKING")
    });
    for i in 0..2 {
        e.restart(i);
    }
    let follower = 1 - zkrs.min(1);
    wait_for(
        ELECT_WITH_JVM,
        "Apache member 3 leads and the other Apache member follows",
        || e.member(2).mode() == Mode::Leader && e.member(follower).mode() == Mode::Follower,
    );
    let d = wait_for_decisions(&e, &[zkrs], ELECT);
    assert!(
        d[0].starts_with("elected: follow 3 "),
        "zkrs member {}: {d:?}",
        zkrs + 1
    );
    // Apache read zkrs's notifications too: it logs every one it accepts, with the sender.
    let from_zkrs = format!("n.sid:{}, n.state:LOOKING", zkrs + 1);
    for i in [follower, 2] {
        assert!(
            e.member(i).log().contains(&from_zkrs),
            "Apache member {} logged no notification from zkrs member {}",
            i + 1,
            zkrs + 1
        );
    }
    assert!(e.is_alive(zkrs), "the zkrs member exited");
}

/// The lowest sid: every kept connection is dialed by Apache (zkrs's own dials are closed
/// by Apache, which reads the initial message and dials back).
#[test]
fn a_zkrs_member_elects_with_two_apache_members() {
    mixed_ensemble_elects_member_3(0);
}

/// The middle sid: zkrs's connection to Apache member 1 is the one kept, so notifications
/// also travel over a connection zkrs dialed.
#[test]
fn a_zkrs_member_with_the_middle_sid_elects_with_two_apache_members() {
    mixed_ensemble_elects_member_3(1);
}

#[test]
fn garbage_and_silent_peers_do_not_stop_an_election() {
    let mut e = Ensemble::prepare(
        ServerKind::Zkrs,
        &[Launch::Elect; 3],
        ServerConfig::default(),
    );
    // The member that will lead gets the hostile connections before the others start.
    e.restart(2);
    let target = e.member(2).election_addr();
    wait_accepting(target);
    let connect = || TcpStream::connect_timeout(&target, Duration::from_secs(5)).expect("connect");

    // Never speaks: held open until the member gives up on it.
    let silent: Vec<TcpStream> = (0..3).map(|_| connect()).collect();
    // A first long that is neither a sid nor a protocol version.
    let mut garbage = connect();
    garbage.write_all(&[0xab; 64]).expect("write garbage");
    // A valid version, then an address length far above Apache's 2048.
    let mut long_address = connect();
    let mut msg = Vec::new();
    msg.extend_from_slice(&(-65536i64).to_be_bytes());
    msg.extend_from_slice(&4i64.to_be_bytes());
    msg.extend_from_slice(&100_000i32.to_be_bytes());
    long_address.write_all(&msg).expect("write");
    // A good initial message from a higher sid (so it is kept), then an oversized frame.
    let mut oversized = connect();
    let addr = b"127.0.0.1:1";
    let mut msg = Vec::new();
    msg.extend_from_slice(&(-65536i64).to_be_bytes());
    msg.extend_from_slice(&9i64.to_be_bytes());
    msg.extend_from_slice(&(addr.len() as i32).to_be_bytes());
    msg.extend_from_slice(addr);
    msg.extend_from_slice(&i32::MAX.to_be_bytes());
    oversized.write_all(&msg).expect("write");

    e.restart(0);
    e.restart(1);
    let d = wait_for_decisions(&e, &[0, 1, 2], ELECT);
    assert_highest_sid_leads(&d);

    wait_for(
        ELECT,
        "the hostile connections are dropped with log lines",
        || {
            let log = e.member(2).log();
            log.contains("bad initial message")
                && log.contains("unreasonable election address length 100000")
                && log.contains("election message length 2147483647 out of range")
                && log.contains("no initial message in time")
        },
    );
    assert!(e.is_alive(2), "the member attacked exited");
    drop(silent);
}

#[test]
fn a_restarted_zkrs_member_finds_the_established_leader() {
    let mut e = Ensemble::prepare(
        ServerKind::Zkrs,
        &[Launch::Elect; 3],
        ServerConfig::default(),
    );
    for i in 0..3 {
        e.restart(i);
    }
    assert_highest_sid_leads(&wait_for_decisions(&e, &[0, 1, 2], ELECT));
    // Member 1 comes back in a later round than the others: it learns the leader from
    // their FOLLOWING/LEADING answers, over connections the others must accept again.
    e.kill9(0);
    e.restart(0);
    wait_for(ELECT, "the restarted member decides again", || {
        decisions(&e, 0).len() >= 2
    });
    let again = decisions(&e, 0).remove(1);
    assert!(again.starts_with("elected: follow 3 "), "{again}");
}

/// A client that connects to a member while it looks for a leader is not turned away: its
/// handshake is held (at most its session timeout or two ticks) and answered on the same
/// connection once the member serves, so the client need not back off and retry.
#[test]
fn a_handshake_sent_during_an_election_is_answered_once_a_leader_is_elected() {
    // Ten-second ticks: the handshake may be held for 20 s, ample for a member to start
    // and elect on a busy machine.
    let config = ServerConfig {
        tick_time_ms: 10_000,
        ..ServerConfig::default()
    };
    let mut e = Ensemble::prepare(
        ServerKind::Zkrs,
        &[Launch::Server(ServerKind::Zkrs); 3],
        config,
    );
    // Member 2 alone has no quorum: it looks for a leader and serves nobody.
    e.restart(1);
    wait_accepting(e.member(1).addr());
    let mut client = TcpStream::connect_timeout(&e.member(1).addr(), Duration::from_secs(5))
        .expect("connect to member 2");
    client
        .write_all(&zkrs_tests::raw::connect_frame(0, 30_000, 0, &[0; 16]))
        .expect("send the handshake");
    // Held, not closed: nothing comes back while there is no leader.
    client
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut byte = [0u8; 1];
    match std::io::Read::read(&mut client, &mut byte) {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) => {}
        other => panic!("expected the handshake to be held, got {other:?}"),
    }
    // Member 1 starts: a quorum elects, and the held handshake is answered.
    e.restart(0);
    client.set_read_timeout(Some(ELECT)).unwrap();
    let body = zkrs_tests::frame::read_frame_blocking(&mut client).unwrap_or_else(|err| {
        panic!(
            "no answer to the held handshake: {err}\n{}",
            e.log_tails(20)
        )
    });
    let timeout = i32::from_be_bytes(body[4..8].try_into().unwrap());
    let session = i64::from_be_bytes(body[8..16].try_into().unwrap());
    assert!(
        timeout > 0 && session != 0,
        "timeout {timeout}, session {session:#x}"
    );
    assert!(e.member(1).mode() != Mode::NotServing);
}
