//! The watches checker: each watcher process observes the node's values in the order
//! they were written (zxid order: never a smaller value after a larger one), observes
//! only values that were written, and, when its session lived to the end, observed the
//! final write (no change is lost across reconnects).

use std::collections::{BTreeMap, BTreeSet};

use super::Verdict;
use crate::chaos::history::{Op, Operation};

pub fn check(ops: &[Operation]) -> Verdict {
    let mut verdict = Verdict::default();
    let mut written: BTreeSet<i64> = BTreeSet::from([0]);
    let mut last: BTreeMap<u64, i64> = BTreeMap::new();
    let mut backwards = Vec::new();
    let mut observed = Vec::new();
    let mut missed = Vec::new();
    let mut ended = 0u64;
    for op in ops {
        match &op.op {
            Op::WatchedWrite { value } if !op.is_fail() => {
                written.insert(*value);
            }
            Op::Observed { value: Some(v) } if op.is_ok() => {
                observed.push(*v);
                if let Some(&before) = last.get(&op.process) {
                    if *v < before {
                        backwards.push(format!(
                            "process {} saw {v} after {before} (event {})",
                            op.process, op.invoked
                        ));
                    }
                }
                last.insert(op.process, *v);
            }
            Op::WatchEnded { last, sentinel } if op.is_ok() => {
                ended += 1;
                if *last != Some(*sentinel) {
                    missed.push(format!(
                        "process {} last saw {last:?}, the final write was {sentinel}",
                        op.process
                    ));
                }
            }
            _ => {}
        }
    }
    verdict.figure("observations", observed.len() as u64);
    verdict.figure("watchers", ended);
    verdict.anomaly("watchers that saw values out of order", &backwards);
    let invented: Vec<i64> = observed
        .iter()
        .filter(|v| !written.contains(v))
        .copied()
        .collect();
    verdict.anomaly("values observed that were never written", &invented);
    verdict.anomaly("watchers that missed the final write", &missed);
    if ended == 0 {
        verdict
            .anomalies
            .push("no watcher lived to the end".to_string());
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

    fn write(h: &Recorder, value: i64) {
        ok(h, 0, Op::WatchedWrite { value }, Op::WatchedWrite { value });
    }

    fn seen(h: &Recorder, p: u64, value: i64) {
        let done = Op::Observed { value: Some(value) };
        ok(h, p, Op::Observed { value: None }, done);
    }

    fn end(h: &Recorder, p: u64, last: i64, sentinel: i64) {
        let done = Op::WatchEnded {
            last: Some(last),
            sentinel,
        };
        ok(
            h,
            p,
            Op::WatchEnded {
                last: None,
                sentinel,
            },
            done,
        );
    }

    #[test]
    fn ordered_observations_that_reach_the_final_write_are_valid() {
        let h = Recorder::default();
        seen(&h, 1, 0);
        write(&h, 1);
        write(&h, 2);
        seen(&h, 1, 2);
        seen(&h, 1, 2);
        write(&h, 3);
        seen(&h, 1, 3);
        end(&h, 1, 3, 3);
        let v = check(&operations(&h.events()).unwrap());
        assert!(v.is_valid(), "{v:?}");
    }

    #[test]
    fn a_reordering_an_invented_value_and_a_missed_final_write_are_anomalies() {
        let h = Recorder::default();
        write(&h, 1);
        write(&h, 2);
        seen(&h, 1, 2);
        seen(&h, 1, 1);
        seen(&h, 2, 9);
        write(&h, 3);
        end(&h, 1, 1, 3);
        let v = check(&operations(&h.events()).unwrap());
        assert_eq!(v.anomalies.len(), 3, "{v:?}");
    }
}
