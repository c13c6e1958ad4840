//! Single-member rules, driven by hand: each test feeds one member the notifications a
//! scenario produces and checks what it does.

use super::*;

fn members(voters: &[Sid], observers: &[Sid]) -> Members {
    Members {
        voters: voters.iter().copied().collect(),
        observers: observers.iter().copied().collect(),
    }
}

fn history(epoch: u32, counter: u32) -> History {
    History {
        last_zxid: Zxid::new(epoch, counter),
        current_epoch: u64::from(epoch),
    }
}

fn vote(leader: Sid, epoch: u32, counter: u32, round: u64) -> Vote {
    Vote {
        leader,
        zxid: Zxid::new(epoch, counter),
        election_epoch: round,
        peer_epoch: u64::from(epoch),
    }
}

fn note(from: Sid, state: PeerState, vote: Vote) -> Notification {
    Notification { from, state, vote }
}

fn decided(effects: &[Effect]) -> Option<Decision> {
    effects.iter().find_map(|e| match e {
        Effect::Decided(d) => Some(*d),
        _ => None,
    })
}

fn three(me: Sid, h: History) -> Election {
    Election::start(0, me, members(&[1, 2, 3], &[]), h, Timing::default())
}

/// [`three`] with election connections up to both others, its effects so far taken.
fn three_connected(me: Sid, h: History) -> Election {
    let mut e = three(me, h);
    for peer in [1, 2, 3] {
        if peer != me {
            e.connected(peer);
        }
    }
    e.take_effects();
    e
}

#[test]
fn votes_order_by_peer_epoch_then_zxid_then_sid() {
    assert!(vote(1, 2, 0, 1).beats(&vote(3, 1, 9, 1)));
    assert!(vote(1, 1, 9, 1).beats(&vote(3, 1, 8, 1)));
    assert!(vote(3, 1, 8, 1).beats(&vote(2, 1, 8, 1)));
    // The round does not count.
    assert!(!vote(2, 1, 8, 9).beats(&vote(2, 1, 8, 1)));
    // A non-voter's placeholder loses to everything.
    let placeholder = Vote {
        leader: NON_VOTER as u64,
        zxid: Zxid::from_raw(NON_VOTER),
        election_epoch: 1,
        peer_epoch: NON_VOTER as u64,
    };
    assert!(vote(1, 0, 0, 1).beats(&placeholder));
}

#[test]
fn a_round_starts_by_proposing_myself_to_every_voter() {
    let mut e = three(1, history(1, 5));
    let fx = e.take_effects();
    assert_eq!(
        fx,
        vec![
            Effect::SendToVoters(Outgoing {
                state: PeerState::Looking,
                vote: vote(1, 1, 5, 1)
            }),
            Effect::ArmTimer { at: 200 },
        ]
    );
    assert_eq!(e.round(), 1);
}

#[test]
fn a_quorum_decides_only_after_the_finalize_wait() {
    // 3 is connected but has not voted yet: its vote could still change the outcome.
    let mut e = three_connected(1, history(1, 5));
    e.receive(10, note(2, PeerState::Looking, vote(1, 1, 5, 1)));
    assert_eq!(e.take_effects(), vec![Effect::ArmTimer { at: 210 }]);
    e.tick(100);
    assert!(decided(&e.take_effects()).is_none());
    e.tick(210);
    let d = decided(&e.take_effects()).unwrap();
    assert_eq!(d.role, Role::Lead);
    assert_eq!(d.vote, vote(1, 1, 5, 1));
    assert_eq!(e.state(), PeerState::Leading);
}

#[test]
fn a_better_vote_during_the_finalize_wait_reopens_the_round() {
    let mut e = three_connected(1, history(1, 5));
    e.receive(10, note(2, PeerState::Looking, vote(1, 1, 5, 1)));
    e.take_effects();
    // Not better: 2 is told my proposal, and the wait starts over.
    e.receive(100, note(2, PeerState::Looking, vote(2, 1, 4, 1)));
    assert_eq!(
        e.take_effects(),
        vec![
            Effect::Send {
                to: 2,
                msg: Outgoing {
                    state: PeerState::Looking,
                    vote: vote(1, 1, 5, 1)
                }
            },
            Effect::ArmTimer { at: 300 }
        ]
    );
    e.receive(150, note(3, PeerState::Looking, vote(3, 1, 6, 1)));
    let fx = e.take_effects();
    assert!(fx.contains(&Effect::SendToVoters(Outgoing {
        state: PeerState::Looking,
        vote: vote(3, 1, 6, 1)
    })));
    // Mine and 3's agree on 3: a quorum again, and a fresh wait.
    assert!(fx.contains(&Effect::ArmTimer { at: 350 }));
    e.tick(300);
    assert!(decided(&e.take_effects()).is_none());
    e.tick(350);
    assert_eq!(decided(&e.take_effects()).unwrap().role, Role::Follow(3));
}

#[test]
fn a_later_round_is_adopted_and_resets_the_votes() {
    let mut e = three(1, history(1, 5));
    e.receive(10, note(2, PeerState::Looking, vote(2, 1, 4, 1)));
    e.take_effects();
    // Round 5 proposes a worse candidate: I join round 5 but keep proposing myself.
    e.receive(20, note(3, PeerState::Looking, vote(3, 1, 4, 5)));
    let fx = e.take_effects();
    assert_eq!(e.round(), 5);
    assert!(fx.contains(&Effect::SendToVoters(Outgoing {
        state: PeerState::Looking,
        vote: vote(1, 1, 5, 5)
    })));
    // Only my own vote is in round 5: no quorum, no finalize; the re-send timer runs.
    assert!(fx.contains(&Effect::ArmTimer { at: 220 }));
    // A member behind in rounds is answered with my round-5 proposal.
    e.receive(30, note(2, PeerState::Looking, vote(2, 1, 5, 1)));
    assert_eq!(
        e.take_effects()[0],
        Effect::Send {
            to: 2,
            msg: Outgoing {
                state: PeerState::Looking,
                vote: vote(1, 1, 5, 5)
            }
        }
    );
}

#[test]
fn a_later_round_with_a_better_candidate_is_adopted_with_it() {
    let mut e = three_connected(1, history(1, 5));
    e.receive(10, note(2, PeerState::Looking, vote(2, 1, 7, 3)));
    assert_eq!(e.round(), 3);
    assert_eq!(e.current_vote(), vote(2, 1, 7, 3));
    assert!(e.take_effects().contains(&Effect::SendToVoters(Outgoing {
        state: PeerState::Looking,
        vote: vote(2, 1, 7, 3)
    })));
}

#[test]
fn a_decided_member_answers_looking_peers_with_its_vote() {
    let mut e = three(2, history(1, 5));
    e.receive(10, note(1, PeerState::Looking, vote(2, 1, 5, 1)));
    e.tick(210);
    e.take_effects();
    assert_eq!(e.state(), PeerState::Leading);
    e.receive(500, note(3, PeerState::Looking, vote(3, 1, 9, 1)));
    assert_eq!(
        e.take_effects(),
        vec![Effect::Send {
            to: 3,
            msg: Outgoing {
                state: PeerState::Leading,
                vote: vote(2, 1, 5, 1)
            }
        }]
    );
    // Non-looking peers get no answer.
    e.receive(600, note(1, PeerState::Following, vote(2, 1, 5, 1)));
    assert!(e.take_effects().is_empty());
    // After sync the new epoch is advertised.
    e.update_peer_epoch(2);
    e.receive(700, note(3, PeerState::Looking, vote(3, 1, 9, 1)));
    match e.take_effects()[0] {
        Effect::Send { msg, .. } => assert_eq!(msg.vote.peer_epoch, 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_late_joiner_follows_the_leader_once_the_leader_itself_says_so() {
    // 3 restarts in round 1; the others settled in round 4 on leader 2.
    let mut e = three(3, history(1, 9));
    e.take_effects();
    e.receive(10, note(1, PeerState::Following, vote(2, 1, 5, 4)));
    assert!(decided(&e.take_effects()).is_none());
    e.receive(20, note(2, PeerState::Leading, vote(2, 1, 5, 4)));
    let d = decided(&e.take_effects()).unwrap();
    assert_eq!(d.role, Role::Follow(2));
    assert_eq!(d.vote.election_epoch, 4);
    assert_eq!(e.round(), 4);
}

#[test]
fn followers_alone_do_not_make_a_leader() {
    let mut e = Election::start(
        0,
        5,
        members(&[1, 2, 3, 4, 5], &[]),
        history(1, 9),
        Timing::default(),
    );
    for from in [1, 3, 4] {
        e.receive(10, note(from, PeerState::Following, vote(2, 1, 5, 4)));
    }
    assert!(decided(&e.take_effects()).is_none());
    // The leader speaks: now it is checked.
    e.receive(20, note(2, PeerState::Leading, vote(2, 1, 5, 4)));
    assert_eq!(decided(&e.take_effects()).unwrap().role, Role::Follow(2));
}

#[test]
fn resends_back_off_and_dial_when_no_connection_is_up() {
    let timing = Timing {
        finalize_wait: 200,
        min_interval: 200,
        max_interval: 1000,
        apache_rules: false,
    };
    let mut e = Election::start(0, 1, members(&[1, 2, 3], &[]), history(1, 0), timing);
    e.take_effects();
    e.tick(200);
    assert_eq!(
        e.take_effects(),
        vec![Effect::ConnectAll, Effect::ArmTimer { at: 600 }]
    );
    e.connected(2);
    assert_eq!(e.take_effects().len(), 1);
    e.tick(600);
    let fx = e.take_effects();
    assert!(matches!(fx[0], Effect::SendToVoters(_)));
    assert_eq!(fx[1], Effect::ArmTimer { at: 1400 });
    e.tick(1400);
    assert_eq!(e.take_effects()[1], Effect::ArmTimer { at: 2400 });
    e.tick(2400);
    assert_eq!(e.take_effects()[1], Effect::ArmTimer { at: 3400 });
    e.lost(2);
    e.tick(3400);
    assert_eq!(e.take_effects()[0], Effect::ConnectAll);
}

#[test]
fn an_observer_observes_and_its_notifications_are_answered_not_counted() {
    let mut o = Election::start(
        0,
        4,
        members(&[1, 2, 3], &[4]),
        history(1, 9),
        Timing::default(),
    );
    let fx = o.take_effects();
    match fx[0] {
        Effect::SendToVoters(m) => assert_eq!(m.vote.leader, NON_VOTER as u64),
        other => panic!("{other:?}"),
    }
    o.receive(10, note(1, PeerState::Following, vote(2, 1, 5, 3)));
    o.receive(20, note(2, PeerState::Leading, vote(2, 1, 5, 3)));
    assert_eq!(decided(&o.take_effects()).unwrap().role, Role::Observe(2));

    let mut v = three(1, history(1, 5));
    v.take_effects();
    v.receive(10, note(4, PeerState::Looking, vote(4, 9, 9, 1)));
    assert_eq!(
        v.take_effects(),
        vec![Effect::Send {
            to: 4,
            msg: Outgoing {
                state: PeerState::Looking,
                vote: vote(1, 1, 5, 1)
            }
        }]
    );
}

/// Found by the cluster simulation with reconfig: a leader removed by a reconfig and a
/// joiner, each outside the other's voters, answered each other's answers for ever. An
/// answer from a non-voter that is not looking gets none, whether this member looks or not.
#[test]
fn a_non_voter_that_is_not_looking_is_not_answered() {
    let outside = members(&[1, 2], &[]);
    for looking in [true, false] {
        let mut e = Election::start(0, 3, outside.clone(), history(1, 5), Timing::default());
        if !looking {
            e.receive(10, note(1, PeerState::Leading, vote(1, 1, 5, 1)));
            e.receive(10, note(2, PeerState::Following, vote(1, 1, 5, 1)));
            assert_eq!(decided(&e.take_effects()).unwrap().role, Role::Follow(1));
        }
        e.take_effects();
        for state in [
            PeerState::Following,
            PeerState::Observing,
            PeerState::Leading,
        ] {
            e.receive(20, note(4, state, vote(1, 1, 5, 1)));
            assert_eq!(e.take_effects(), vec![], "looking: {looking}, {state:?}");
        }
        e.receive(30, note(4, PeerState::Looking, vote(4, 0, 0, 1)));
        assert!(
            matches!(e.take_effects()[..], [Effect::Send { to: 4, .. }]),
            "a looking non-voter learns what this member thinks"
        );
    }
}

#[test]
fn a_single_voter_elects_itself() {
    let mut e = Election::start(0, 7, members(&[7], &[]), history(3, 1), Timing::default());
    assert_eq!(e.take_effects().last(), Some(&Effect::ArmTimer { at: 200 }));
    e.tick(200);
    assert_eq!(decided(&e.take_effects()).unwrap().role, Role::Lead);
}

#[test]
fn votes_for_non_voters_and_members_without_history_are_ignored() {
    let mut e = Election::start(
        0,
        1,
        members(&[1, 2, 3], &[4]),
        history(1, 5),
        Timing::default(),
    );
    e.take_effects();
    // A vote for the observer, or from a member whose zxid is -1, never counts.
    e.receive(10, note(2, PeerState::Looking, vote(4, 9, 9, 1)));
    let no_history = Vote {
        zxid: Zxid::from_raw(-1),
        ..vote(1, 1, 5, 1)
    };
    e.receive(20, note(3, PeerState::Looking, no_history));
    assert_eq!(e.current_vote(), vote(1, 1, 5, 1));
    e.tick(400);
    assert!(decided(&e.take_effects()).is_none());
    // A member with no history of its own takes no part either.
    let mut e = Election::start(
        0,
        1,
        members(&[1, 2, 3], &[]),
        History {
            last_zxid: Zxid::from_raw(-1),
            current_epoch: 0,
        },
        Timing::default(),
    );
    e.receive(10, note(2, PeerState::Looking, vote(2, 1, 5, 1)));
    assert_eq!(e.current_vote().leader, 1);
}

/// A member of three whose role ended: connected to both others but for those in `gone`,
/// looking again in round 2 at 1000 ms, its effects so far taken.
fn looking_again(me: Sid, h: History, gone: &[Sid]) -> Election {
    let mut e = three_connected(me, h);
    for &peer in gone {
        e.lost(peer);
    }
    e.look(1_000, h);
    e.take_effects();
    e
}

/// The leader (3) died: 1 and 2 look again without it.
fn survivor(me: Sid, h: History) -> Election {
    looking_again(me, h, &[3])
}

#[test]
fn every_connected_voter_agreeing_decides_without_the_finalize_wait() {
    let mut e = survivor(1, history(1, 5));
    assert_eq!(e.round(), 2);
    // 2 is better (same zxid, higher sid): 1 adopts it, and with 2's own vote every voter
    // 1 can hear from agrees.
    e.receive(1_010, note(2, PeerState::Looking, vote(2, 1, 5, 2)));
    let fx = e.take_effects();
    assert!(fx.contains(&Effect::SendToVoters(Outgoing {
        state: PeerState::Looking,
        vote: vote(2, 1, 5, 2)
    })));
    let d = decided(&fx).expect("decided at once");
    assert_eq!(d.role, Role::Follow(2));
    assert_eq!(d.vote, vote(2, 1, 5, 2));

    // 2's side: 1's first vote (for itself) is worse, then 1's vote for 2 completes it.
    let mut e = survivor(2, history(1, 5));
    e.receive(1_010, note(1, PeerState::Looking, vote(1, 1, 5, 2)));
    assert!(decided(&e.take_effects()).is_none());
    e.receive(1_020, note(1, PeerState::Looking, vote(2, 1, 5, 2)));
    assert_eq!(decided(&e.take_effects()).unwrap().role, Role::Lead);
}

#[test]
fn with_apaches_rule_a_settled_round_still_waits() {
    let apache = Timing {
        apache_rules: true,
        ..Timing::default()
    };
    let mut e = Election::start(0, 1, members(&[1, 2, 3], &[]), history(1, 5), apache);
    e.connected(2);
    e.look(1_000, history(1, 5));
    e.take_effects();
    e.receive(1_010, note(2, PeerState::Looking, vote(2, 1, 5, 2)));
    let fx = e.take_effects();
    assert!(decided(&fx).is_none());
    assert!(fx.contains(&Effect::ArmTimer { at: 1_210 }));
    e.tick(1_210);
    assert_eq!(decided(&e.take_effects()).unwrap().role, Role::Follow(2));
}

#[test]
fn the_rounds_after_start_keep_the_finalize_wait() {
    // The whole ensemble may be starting: 3, not connected yet, could be the best.
    let mut e = three(1, history(1, 5));
    e.connected(2);
    e.take_effects();
    e.receive(10, note(2, PeerState::Looking, vote(2, 1, 5, 1)));
    let fx = e.take_effects();
    assert!(decided(&fx).is_none());
    assert!(fx.contains(&Effect::ArmTimer { at: 210 }));
    e.receive(100, note(3, PeerState::Looking, vote(3, 1, 5, 1)));
    e.take_effects();
    e.tick(300);
    assert_eq!(decided(&e.take_effects()).unwrap().role, Role::Follow(3));
}

#[test]
fn losing_the_only_silent_voter_ends_the_finalize_wait() {
    let mut e = looking_again(1, history(1, 5), &[]);
    e.receive(1_010, note(2, PeerState::Looking, vote(1, 1, 5, 2)));
    assert!(decided(&e.take_effects()).is_none());
    // 3 never voted and its connection goes: nothing can come from it any more.
    e.lost(3);
    assert_eq!(decided(&e.take_effects()).unwrap().role, Role::Lead);
}

#[test]
fn a_vote_arriving_during_the_wait_can_settle_the_round() {
    let mut e = looking_again(1, history(1, 9), &[]);
    e.receive(1_010, note(2, PeerState::Looking, vote(1, 1, 9, 2)));
    e.take_effects();
    // 3 first proposes itself (worse than 1): recorded, but it disagrees, so the wait
    // goes on; 3 is told my proposal.
    e.receive(1_020, note(3, PeerState::Looking, vote(3, 1, 5, 2)));
    let fx = e.take_effects();
    assert!(decided(&fx).is_none());
    assert_eq!(fx.last(), Some(&Effect::ArmTimer { at: 1_220 }));
    // Then 3 adopts 1: every connected voter agrees, no need to wait any longer.
    e.receive(1_030, note(3, PeerState::Looking, vote(1, 1, 9, 2)));
    assert_eq!(decided(&e.take_effects()).unwrap().role, Role::Lead);
}

#[test]
fn a_better_vote_from_an_unreachable_voter_arriving_late_is_answered_not_adopted() {
    // 3 is unreachable when 1 and 2 settle on 2.
    let mut e = survivor(1, history(1, 5));
    e.receive(1_010, note(2, PeerState::Looking, vote(2, 1, 5, 2)));
    assert_eq!(decided(&e.take_effects()).unwrap().role, Role::Follow(2));
    // 3 comes back with a better history: it learns the decided vote, as any late joiner.
    e.connected(3);
    e.receive(1_300, note(3, PeerState::Looking, vote(3, 1, 7, 2)));
    assert_eq!(
        e.take_effects(),
        vec![Effect::Send {
            to: 3,
            msg: Outgoing {
                state: PeerState::Following,
                vote: vote(2, 1, 5, 2)
            }
        }]
    );
    assert_eq!(e.state(), PeerState::Following);
}

#[test]
fn a_better_vote_from_a_connected_voter_is_waited_for() {
    // 3 is connected and slow: 1 and 2 agree on 2, but 3 has not voted, so the wait runs
    // and 3's better vote, arriving in it, wins.
    let mut e = looking_again(1, history(1, 5), &[]);
    e.receive(1_010, note(2, PeerState::Looking, vote(2, 1, 5, 2)));
    let fx = e.take_effects();
    assert!(decided(&fx).is_none());
    e.receive(1_150, note(3, PeerState::Looking, vote(3, 1, 7, 2)));
    let fx = e.take_effects();
    assert!(decided(&fx).is_none(), "2 has not agreed with 3 yet");
    e.receive(1_160, note(2, PeerState::Looking, vote(3, 1, 7, 2)));
    assert_eq!(decided(&e.take_effects()).unwrap().role, Role::Follow(3));
}

#[test]
fn a_peer_of_my_round_proposing_a_worse_candidate_is_told_mine() {
    // 2 looked first and sent its proposal while 1 was still following; 1 now looks and
    // proposes itself. 2 answers at once instead of waiting for its next re-send.
    let mut e = survivor(2, history(1, 5));
    e.receive(1_010, note(1, PeerState::Looking, vote(1, 1, 5, 2)));
    assert_eq!(
        e.take_effects(),
        vec![
            Effect::Send {
                to: 1,
                msg: Outgoing {
                    state: PeerState::Looking,
                    vote: vote(2, 1, 5, 2)
                }
            },
            Effect::ArmTimer { at: 1_210 }
        ]
    );
    // A vote equal to mine gets no answer (here it also settles the round).
    e.receive(1_020, note(1, PeerState::Looking, vote(2, 1, 5, 2)));
    let fx = e.take_effects();
    assert!(!fx.iter().any(|f| matches!(f, Effect::Send { .. })));
    assert_eq!(decided(&fx).unwrap().role, Role::Lead);
}

/// A joiner (in neither set of the committed configuration) learns the leader as a
/// follower, as Apache's non-voting participant does, and announces FOLLOWING; once its
/// addition commits it still follows. A looking member counts only voters, so a peer that
/// announced OBSERVING here would be left out of its quorum of the new configuration.
#[test]
fn a_joiner_follows_without_a_vote_and_answers_following() {
    let mut j = Election::start(
        0,
        4,
        members(&[1, 2, 3], &[]),
        history(1, 9),
        Timing::default(),
    );
    j.take_effects();
    j.receive(10, note(1, PeerState::Following, vote(2, 1, 5, 3)));
    j.receive(20, note(2, PeerState::Leading, vote(2, 1, 5, 3)));
    assert_eq!(decided(&j.take_effects()).unwrap().role, Role::Follow(2));
    assert_eq!(j.state(), PeerState::Following);

    j.set_members(members(&[1, 2, 3, 4], &[]));
    assert_eq!(j.state(), PeerState::Following);
    j.receive(30, note(3, PeerState::Looking, vote(3, 1, 9, 9)));
    match j.take_effects()[..] {
        [Effect::Send { to: 3, msg }] => assert_eq!(msg.state, PeerState::Following),
        ref other => panic!("{other:?}"),
    }
}

/// A member whose role changes by reconfig (participant to observer and back) announces
/// its new place in answers to looking peers.
#[test]
fn a_reconfig_that_changes_a_members_role_changes_what_it_announces() {
    let mut o = Election::start(
        0,
        4,
        members(&[1, 2, 3], &[4]),
        history(1, 9),
        Timing::default(),
    );
    o.take_effects();
    o.receive(10, note(1, PeerState::Following, vote(2, 1, 5, 3)));
    o.receive(20, note(2, PeerState::Leading, vote(2, 1, 5, 3)));
    assert_eq!(decided(&o.take_effects()).unwrap().role, Role::Observe(2));
    assert_eq!(o.state(), PeerState::Observing);
    o.set_members(members(&[1, 2, 3, 4], &[]));
    assert_eq!(o.state(), PeerState::Following);
    o.set_members(members(&[1, 2, 3], &[4]));
    assert_eq!(o.state(), PeerState::Observing);
}

/// A reconfig that designates a leader: the member takes its role under it without a
/// round, and answers looking peers with that vote.
#[test]
fn a_designated_leader_is_taken_without_a_round() {
    let mut f = three(1, history(1, 5));
    f.take_effects();
    f.hand_over(3, Zxid::new(1, 9));
    let d = decided(&f.take_effects()).expect("decided at once");
    assert_eq!(d.role, Role::Follow(3));
    assert_eq!(d.vote.leader, 3);
    assert_eq!(f.state(), PeerState::Following);

    let mut l = three(3, history(1, 5));
    l.take_effects();
    l.hand_over(3, Zxid::new(1, 9));
    assert_eq!(decided(&l.take_effects()).unwrap().role, Role::Lead);
    assert_eq!(l.state(), PeerState::Leading);
}
