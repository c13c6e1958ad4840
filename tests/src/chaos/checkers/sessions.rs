//! The sessions checker: an ephemeral disappears if and only if its session ended. While
//! a session lives (its client has not seen it expire, nor closed it), every check through
//! the session finds its ephemeral; a session id is handed out once and expires at most
//! once; after every session ended, no member holds an ephemeral.

use std::collections::BTreeMap;

use super::Verdict;
use crate::chaos::history::{Op, Operation};

pub fn check(ops: &[Operation]) -> Verdict {
    let mut verdict = Verdict::default();
    let mut opened: BTreeMap<i64, u32> = BTreeMap::new();
    let mut expired: BTreeMap<i64, u32> = BTreeMap::new();
    let mut vanished = Vec::new();
    let mut checks = 0u64;
    let mut finals = Vec::new();
    for op in ops.iter().filter(|o| o.is_ok()) {
        match &op.op {
            Op::OpenSession {
                session: Some(s), ..
            } => *opened.entry(*s).or_default() += 1,
            Op::CheckEphemeral {
                session,
                present: Some(present),
            } => {
                checks += 1;
                if !present {
                    vanished.push(format!("session {session:#x} at event {}", op.invoked));
                }
            }
            Op::SessionExpired { session } => *expired.entry(*session).or_default() += 1,
            Op::ReadEphemerals {
                member,
                sessions: Some(sessions),
            } => finals.push((*member, sessions.clone())),
            _ => {}
        }
    }
    verdict.figure("sessions", opened.len() as u64);
    verdict.figure("expired", expired.len() as u64);
    verdict.figure("checks", checks);
    verdict.anomaly("the ephemeral of a live session was gone", &vanished);
    let reused: Vec<String> = opened
        .iter()
        .filter(|(_, &n)| n > 1)
        .map(|(s, _)| format!("{s:#x}"))
        .collect();
    verdict.anomaly("session ids handed out twice", &reused);
    let twice: Vec<String> = expired
        .iter()
        .filter(|(_, &n)| n > 1)
        .map(|(s, _)| format!("{s:#x}"))
        .collect();
    verdict.anomaly("sessions that expired twice", &twice);
    if finals.is_empty() {
        verdict.anomalies.push("no final read".to_string());
    }
    for (member, sessions) in finals {
        let left: Vec<String> = sessions.iter().map(|s| format!("{s:#x}")).collect();
        verdict.anomaly(
            &format!("member {member} holds ephemerals after every session ended"),
            &left,
        );
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chaos::history::{operations, Kind, Recorder};

    fn ok(h: &Recorder, p: u64, invoke: Op, done: Op) {
        h.invoke(p, invoke);
        h.record(p, Kind::Ok, done, None);
    }

    fn open(h: &Recorder, p: u64, s: i64) {
        ok(
            h,
            p,
            Op::OpenSession { session: None },
            Op::OpenSession { session: Some(s) },
        );
    }

    fn check_own(h: &Recorder, p: u64, s: i64, present: bool) {
        let ask = Op::CheckEphemeral {
            session: s,
            present: None,
        };
        let got = Op::CheckEphemeral {
            session: s,
            present: Some(present),
        };
        ok(h, p, ask, got);
    }

    fn final_read(h: &Recorder, member: u32, sessions: &[i64]) {
        let ask = Op::ReadEphemerals {
            member,
            sessions: None,
        };
        let got = Op::ReadEphemerals {
            member,
            sessions: Some(sessions.to_vec()),
        };
        ok(h, 100 + member as u64, ask, got);
    }

    #[test]
    fn ephemerals_that_live_with_their_sessions_are_valid() {
        let h = Recorder::default();
        open(&h, 0, 7);
        check_own(&h, 0, 7, true);
        ok(
            &h,
            0,
            Op::SessionExpired { session: 7 },
            Op::SessionExpired { session: 7 },
        );
        open(&h, 1, 8);
        check_own(&h, 1, 8, true);
        final_read(&h, 1, &[]);
        let v = check(&operations(&h.events()).unwrap());
        assert!(v.is_valid(), "{v:?}");
    }

    #[test]
    fn a_vanished_ephemeral_a_reused_id_and_a_leftover_are_anomalies() {
        let h = Recorder::default();
        open(&h, 0, 7);
        check_own(&h, 0, 7, false);
        open(&h, 1, 7);
        final_read(&h, 1, &[7]);
        let v = check(&operations(&h.events()).unwrap());
        assert_eq!(v.anomalies.len(), 3, "{v:?}");
    }
}
