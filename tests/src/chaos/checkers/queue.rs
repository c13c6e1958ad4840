//! The queue checker (Jepsen's total queue): every acknowledged enqueue was dequeued or is
//! left at the end (or was taken by a dequeue of unknown outcome), no value was taken
//! twice, and nothing taken or left was never enqueued.

use std::collections::{BTreeMap, BTreeSet};

use super::Verdict;
use crate::chaos::history::{Op, Operation};

pub fn check(ops: &[Operation]) -> Verdict {
    let mut verdict = Verdict::default();
    let mut acked = BTreeSet::new();
    let mut possible = BTreeSet::new();
    let mut taken: BTreeMap<u64, u32> = BTreeMap::new();
    let mut maybe_taken = BTreeSet::new();
    let mut left: Option<Vec<u64>> = None;
    for op in ops {
        match &op.op {
            Op::Enqueue { value } if !op.is_fail() => {
                possible.insert(*value);
                if op.is_ok() {
                    acked.insert(*value);
                }
            }
            Op::Dequeue { value: Some(v) } if op.is_ok() => *taken.entry(*v).or_default() += 1,
            Op::Dequeue { value: Some(v) } if op.is_unknown() => {
                maybe_taken.insert(*v);
            }
            Op::Drain {
                values: Some(values),
            } if op.is_ok() => left = Some(values.clone()),
            _ => {}
        }
    }
    verdict.figure("enqueued", acked.len() as u64);
    verdict.figure("dequeued", taken.values().map(|&n| u64::from(n)).sum());
    let Some(left) = left else {
        verdict.anomalies.push("no final drain".to_string());
        return verdict;
    };
    verdict.figure("left", left.len() as u64);
    let mut seen: BTreeMap<u64, u32> = taken.clone();
    for v in &left {
        *seen.entry(*v).or_default() += 1;
    }
    let twice: Vec<u64> = seen
        .iter()
        .filter(|(_, &n)| n > 1)
        .map(|(v, _)| *v)
        .collect();
    verdict.anomaly(
        "values dequeued twice (or dequeued and still queued)",
        &twice,
    );
    let lost: Vec<u64> = acked
        .iter()
        .filter(|v| !seen.contains_key(v) && !maybe_taken.contains(v))
        .copied()
        .collect();
    verdict.anomaly("acknowledged enqueues lost", &lost);
    let unexpected: Vec<u64> = seen
        .keys()
        .filter(|v| !possible.contains(v))
        .copied()
        .collect();
    verdict.anomaly("values never enqueued", &unexpected);
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chaos::history::{operations, Kind, Recorder};

    fn op(h: &Recorder, p: u64, invoke: Op, done: Op, kind: Kind) {
        h.invoke(p, invoke);
        h.record(p, kind, done, None);
    }

    fn enqueue(h: &Recorder, value: u64, kind: Kind) {
        op(h, 0, Op::Enqueue { value }, Op::Enqueue { value }, kind);
    }

    fn dequeue(h: &Recorder, value: u64, kind: Kind) {
        let done = Op::Dequeue { value: Some(value) };
        op(h, 1, Op::Dequeue { value: None }, done, kind);
    }

    fn drain(h: &Recorder, values: &[u64]) {
        let done = Op::Drain {
            values: Some(values.to_vec()),
        };
        op(h, 2, Op::Drain { values: None }, done, Kind::Ok);
    }

    #[test]
    fn everything_enqueued_is_taken_once_or_left() {
        let h = Recorder::default();
        enqueue(&h, 1, Kind::Ok);
        enqueue(&h, 2, Kind::Ok);
        enqueue(&h, 3, Kind::Info);
        enqueue(&h, 4, Kind::Ok);
        dequeue(&h, 1, Kind::Ok);
        // Taken by a dequeue whose delete may or may not have happened.
        dequeue(&h, 4, Kind::Info);
        drain(&h, &[2, 3]);
        let v = check(&operations(&h.events()).unwrap());
        assert!(v.is_valid(), "{v:?}");
    }

    #[test]
    fn a_loss_a_double_dequeue_and_an_invented_value_are_anomalies() {
        let h = Recorder::default();
        enqueue(&h, 1, Kind::Ok);
        enqueue(&h, 2, Kind::Ok);
        dequeue(&h, 1, Kind::Ok);
        dequeue(&h, 1, Kind::Ok);
        drain(&h, &[9]);
        let v = check(&operations(&h.events()).unwrap());
        assert_eq!(v.anomalies.len(), 3, "{v:?}");
    }
}
