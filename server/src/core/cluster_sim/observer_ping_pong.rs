//! What the simulation found about an observer and a looking voter, pinned with the real
//! election state machines: each answered every notification of the other, so once they
//! were connected the exchange went on for as long as the voter looked (and between two
//! members outside each other's voters, such as two joiners, for ever). A non-voter that
//! is not looking is no longer answered, so the exchange ends with the observer's answer.

use crate::ids::Zxid;
use crate::quorum::election::{
    Effect, Election, History, Members, Notification, PeerState, Role, Sid, Timing, Vote,
};

fn members() -> Members {
    Members {
        voters: [1, 2, 3].into_iter().collect(),
        observers: [4].into_iter().collect(),
    }
}

fn history() -> History {
    History {
        last_zxid: Zxid::new(1, 5),
        current_epoch: 1,
    }
}

/// The notifications `e` sends to `to`.
fn sent_to(e: &mut Election, to: Sid) -> Vec<(PeerState, Vote)> {
    e.take_effects()
        .into_iter()
        .filter_map(|x| match x {
            Effect::Send { to: t, msg } if t == to => Some((msg.state, msg.vote)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_looking_voter_and_an_observing_observer_stop_answering_each_other() {
    // The observer learns that 3 leads from the established members.
    let mut observer = Election::start(0, 4, members(), history(), Timing::default());
    let leader = Vote {
        leader: 3,
        zxid: Zxid::new(1, 5),
        election_epoch: 1,
        peer_epoch: 1,
    };
    for (from, state) in [(3, PeerState::Leading), (1, PeerState::Following)] {
        observer.receive(
            0,
            Notification {
                from,
                state,
                vote: leader,
            },
        );
    }
    let decided = observer
        .take_effects()
        .into_iter()
        .any(|e| matches!(e, Effect::Decided(d) if d.role == Role::Observe(3)));
    assert!(decided, "the observer observes 3");

    // Voter 2 restarts and looks; its election connection to the observer comes up.
    let mut voter = Election::start(10, 2, members(), history(), Timing::default());
    voter.take_effects();
    voter.connected(4);
    let mut to_observer = sent_to(&mut voter, 4);
    let mut exchanged = 0;
    while let Some((state, vote)) = to_observer.pop() {
        if exchanged == 1000 {
            break;
        }
        observer.receive(
            20,
            Notification {
                from: 2,
                state,
                vote,
            },
        );
        for (state, vote) in sent_to(&mut observer, 2) {
            assert_eq!(state, PeerState::Observing, "the observer answers");
            voter.receive(
                20,
                Notification {
                    from: 4,
                    state,
                    vote,
                },
            );
            to_observer.extend(sent_to(&mut voter, 4));
        }
        exchanged += 1;
    }
    assert_eq!(
        exchanged, 1,
        "the voter's notification gets the observer's answer, which gets none"
    );
    assert_eq!(voter.state(), PeerState::Looking, "the voter still looks");
}
