//! The register workload's checker: each key's operations, checked for linearizability
//! against a compare-and-set register starting at 0.

use std::collections::BTreeMap;

use super::linearizable::{self, Call, Outcome, Register, RegisterOp};
use super::Verdict;
use crate::chaos::history::{Op, Operation};

/// Search steps per key before a key counts as undecided.
const BUDGET_PER_KEY: u64 = 5_000_000;

pub fn check(ops: &[Operation]) -> Verdict {
    let mut keys: BTreeMap<u64, Vec<(Call<RegisterOp>, &Operation)>> = BTreeMap::new();
    let mut verdict = Verdict::default();
    for op in ops.iter().filter(|o| !o.is_fail()) {
        let (key, model_op) = match op.op {
            // A read of unknown outcome returned nothing to check.
            Op::Read {
                key,
                value: Some(v),
            } if op.is_ok() => (key, RegisterOp::Read(v)),
            Op::Read { .. } => continue,
            Op::Write { key, value } => (key, RegisterOp::Write(value)),
            Op::Cas { key, from, to } => (key, RegisterOp::Cas(from, to)),
            _ => continue,
        };
        let call = Call {
            op: model_op,
            call: op.invoked,
            ret: op.returned(),
        };
        keys.entry(key).or_default().push((call, op));
    }
    verdict.figure("keys", keys.len() as u64);
    for (key, entries) in &keys {
        let calls: Vec<Call<RegisterOp>> = entries.iter().map(|(c, _)| c.clone()).collect();
        match linearizable::check(Register(0), &calls, BUDGET_PER_KEY) {
            Outcome::Linearizable => {}
            Outcome::NotLinearizable { stuck, longest } => {
                let op = entries.get(stuck).map(|(_, o)| *o);
                verdict.anomalies.push(format!(
                    "key {key}: not linearizable ({} operations); no order gets past {} \
                     after {longest} operations",
                    calls.len(),
                    op.map_or_else(
                        || "?".to_string(),
                        |o| format!(
                            "{:?} by process {} (events {}..{:?})",
                            o.op, o.process, o.invoked, o.completed
                        )
                    ),
                ));
            }
            Outcome::Undecided { steps } => verdict.undecided.push(format!(
                "key {key}: undecided after {steps} steps ({} operations)",
                calls.len()
            )),
        }
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chaos::history::{operations, Kind, Recorder};

    #[test]
    fn keys_are_checked_apart_and_failed_operations_are_left_out() {
        let h = Recorder::default();
        h.invoke(0, Op::Write { key: 0, value: 1 });
        h.record(0, Kind::Ok, Op::Write { key: 0, value: 1 }, None);
        // A failed cas wrote nothing; key 1 is untouched by key 0's write.
        h.invoke(
            1,
            Op::Cas {
                key: 0,
                from: 3,
                to: 4,
            },
        );
        h.record(
            1,
            Kind::Fail,
            Op::Cas {
                key: 0,
                from: 3,
                to: 4,
            },
            None,
        );
        h.invoke(
            1,
            Op::Read {
                key: 1,
                value: None,
            },
        );
        h.record(
            1,
            Kind::Ok,
            Op::Read {
                key: 1,
                value: Some(0),
            },
            None,
        );
        h.invoke(
            1,
            Op::Read {
                key: 0,
                value: None,
            },
        );
        h.record(
            1,
            Kind::Ok,
            Op::Read {
                key: 0,
                value: Some(1),
            },
            None,
        );
        let verdict = check(&operations(&h.events()).unwrap());
        assert!(verdict.is_valid(), "{verdict:?}");
        assert_eq!(verdict.figures["keys"], 2);
    }

    #[test]
    fn a_lost_acknowledged_write_is_reported() {
        let h = Recorder::default();
        h.invoke(0, Op::Write { key: 5, value: 2 });
        h.record(0, Kind::Ok, Op::Write { key: 5, value: 2 }, None);
        h.invoke(
            1,
            Op::Read {
                key: 5,
                value: None,
            },
        );
        h.record(
            1,
            Kind::Ok,
            Op::Read {
                key: 5,
                value: Some(0),
            },
            None,
        );
        let verdict = check(&operations(&h.events()).unwrap());
        assert_eq!(verdict.anomalies.len(), 1, "{verdict:?}");
        assert!(verdict.anomalies[0].starts_with("key 5: not linearizable"));
    }
}
