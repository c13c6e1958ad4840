//! The counter checker. After recovery, on every member: the value equals the number of
//! markers (each increment's multi changed both or neither), every acknowledged
//! increment's marker is there, every marker belongs to an increment that may have
//! happened, and the members agree. During the run: a read (after a sync) is at least the
//! number of increments acknowledged before it was invoked, at most the number invoked
//! and not refused before it returned, and a process never reads a smaller value than it
//! read before.

use std::collections::{BTreeMap, BTreeSet};

use super::Verdict;
use crate::chaos::history::{Op, Operation};

pub fn check(ops: &[Operation]) -> Verdict {
    let mut verdict = Verdict::default();
    let mut acked = BTreeSet::new();
    let mut possible = BTreeSet::new();
    // (event index, +1) when an increment that may happen is invoked / is acknowledged.
    let mut invoked_at = Vec::new();
    let mut acked_at = Vec::new();
    let mut reads = Vec::new();
    let mut finals: Vec<(u32, i64, BTreeSet<u64>)> = Vec::new();
    for op in ops {
        match &op.op {
            Op::Increment { marker } if !op.is_fail() => {
                possible.insert(*marker);
                invoked_at.push(op.invoked);
                if let Some(r) = op.returned() {
                    acked.insert(*marker);
                    acked_at.push(r);
                }
            }
            Op::ReadCounter {
                member: None,
                value: Some(_),
                ..
            } if op.is_ok() => reads.push(op),
            Op::ReadCounter {
                member: Some(m),
                value: Some(v),
                markers: Some(markers),
            } if op.is_ok() => finals.push((*m, *v, markers.iter().copied().collect())),
            _ => {}
        }
    }
    invoked_at.sort_unstable();
    acked_at.sort_unstable();
    verdict.figure("acknowledged", acked.len() as u64);
    verdict.figure("unknown", (possible.len() - acked.len()) as u64);
    verdict.figure("reads", reads.len() as u64);

    let mut too_low = Vec::new();
    let mut too_high = Vec::new();
    let mut backwards = Vec::new();
    let mut last: BTreeMap<u64, i64> = BTreeMap::new();
    for op in &reads {
        let Op::ReadCounter { value: Some(v), .. } = op.op else {
            continue;
        };
        let returned = op.returned().expect("ok reads returned");
        let floor = acked_at.partition_point(|&i| i < op.invoked) as i64;
        let ceiling = invoked_at.partition_point(|&i| i < returned) as i64;
        if v < floor {
            too_low.push(format!(
                "event {}: read {v} < {floor} acknowledged",
                op.invoked
            ));
        }
        if v > ceiling {
            too_high.push(format!(
                "event {}: read {v} > {ceiling} invoked",
                op.invoked
            ));
        }
        if let Some(&before) = last.get(&op.process) {
            if v < before {
                backwards.push(format!(
                    "process {} read {v} after {before} (event {})",
                    op.process, op.invoked
                ));
            }
        }
        last.insert(op.process, v);
    }
    verdict.anomaly(
        "reads below the increments acknowledged before them",
        &too_low,
    );
    verdict.anomaly(
        "reads above the increments invoked before they returned",
        &too_high,
    );
    verdict.anomaly("a process read a smaller value than before", &backwards);

    if finals.is_empty() {
        verdict.anomalies.push("no final read".to_string());
        return verdict;
    }
    for (member, value, markers) in &finals {
        if *value != markers.len() as i64 {
            verdict.anomalies.push(format!(
                "member {member}: the counter holds {value} but {} markers exist",
                markers.len()
            ));
        }
        let lost: Vec<&u64> = acked.difference(markers).collect();
        verdict.anomaly(
            &format!("member {member} lost acknowledged increments"),
            &lost,
        );
        let invented: Vec<&u64> = markers.difference(&possible).collect();
        verdict.anomaly(
            &format!("member {member} holds markers of refused or unknown increments"),
            &invented,
        );
    }
    let (first, value, markers) = &finals[0];
    for (member, v, m) in &finals[1..] {
        if v != value || m != markers {
            verdict.anomalies.push(format!(
                "members {first} and {member} disagree: {value} and {v}, {} and {} markers",
                markers.len(),
                m.len()
            ));
        }
    }
    verdict.figure("final", *value as u64);
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chaos::history::{operations, Kind, Recorder};

    fn increment(h: &Recorder, p: u64, marker: u64, kind: Kind) {
        h.invoke(p, Op::Increment { marker });
        h.record(p, kind, Op::Increment { marker }, None);
    }

    fn read(h: &Recorder, p: u64, value: i64) {
        let empty = Op::ReadCounter {
            member: None,
            value: None,
            markers: None,
        };
        h.invoke(p, empty);
        let op = Op::ReadCounter {
            member: None,
            value: Some(value),
            markers: None,
        };
        h.record(p, Kind::Ok, op, None);
    }

    fn final_read(h: &Recorder, member: u32, value: i64, markers: &[u64]) {
        let p = 100 + member as u64;
        let empty = Op::ReadCounter {
            member: Some(member),
            value: None,
            markers: None,
        };
        h.invoke(p, empty);
        let op = Op::ReadCounter {
            member: Some(member),
            value: Some(value),
            markers: Some(markers.to_vec()),
        };
        h.record(p, Kind::Ok, op, None);
    }

    #[test]
    fn increments_and_reads_that_add_up_are_valid() {
        let h = Recorder::default();
        increment(&h, 0, 10, Kind::Ok);
        read(&h, 1, 1);
        increment(&h, 0, 11, Kind::Info);
        increment(&h, 2, 12, Kind::Fail);
        read(&h, 1, 2);
        final_read(&h, 1, 2, &[10, 11]);
        final_read(&h, 2, 2, &[10, 11]);
        let v = check(&operations(&h.events()).unwrap());
        assert!(v.is_valid(), "{v:?}");
    }

    #[test]
    fn a_stale_read_a_backward_read_and_a_torn_multi_are_anomalies() {
        let h = Recorder::default();
        increment(&h, 0, 10, Kind::Ok);
        increment(&h, 0, 11, Kind::Ok);
        read(&h, 1, 2);
        read(&h, 1, 1);
        final_read(&h, 1, 3, &[10, 11]);
        let v = check(&operations(&h.events()).unwrap());
        let text = v.anomalies.join("\n");
        assert!(text.contains("reads below"), "{text}");
        assert!(text.contains("smaller value"), "{text}");
        assert!(text.contains("holds 3 but 2 markers"), "{text}");
    }

    #[test]
    fn a_read_of_increments_never_invoked_is_an_anomaly() {
        let h = Recorder::default();
        read(&h, 1, 1);
        increment(&h, 0, 10, Kind::Ok);
        final_read(&h, 1, 1, &[10]);
        let v = check(&operations(&h.events()).unwrap());
        assert_eq!(v.anomalies.len(), 1, "{v:?}");
        assert!(v.anomalies[0].contains("reads above"), "{v:?}");
    }
}
