//! The set workload's checker: every acknowledged add is in every member's final read,
//! nothing in a final read was never added (or was refused), and the members agree.

use std::collections::BTreeSet;

use super::Verdict;
use crate::chaos::history::{Op, Operation};

pub fn check(ops: &[Operation]) -> Verdict {
    let mut verdict = Verdict::default();
    let mut acked = BTreeSet::new();
    let mut possible = BTreeSet::new();
    let mut reads: Vec<(u32, BTreeSet<u64>)> = Vec::new();
    for op in ops {
        match &op.op {
            Op::Add { element } if op.is_ok() => {
                acked.insert(*element);
                possible.insert(*element);
            }
            Op::Add { element } if op.is_unknown() => {
                possible.insert(*element);
            }
            Op::ReadSet {
                member,
                elements: Some(elements),
            } if op.is_ok() => reads.push((*member, elements.iter().copied().collect())),
            _ => {}
        }
    }
    verdict.figure("acknowledged", acked.len() as u64);
    verdict.figure("unknown", (possible.len() - acked.len()) as u64);
    if reads.is_empty() {
        verdict.anomalies.push("no final read".to_string());
        return verdict;
    }
    for (member, read) in &reads {
        let lost: Vec<u64> = acked.difference(read).copied().collect();
        verdict.anomaly(&format!("member {member} lost acknowledged adds"), &lost);
        let invented: Vec<u64> = read.difference(&possible).copied().collect();
        verdict.anomaly(
            &format!("member {member} holds elements never (successfully) added"),
            &invented,
        );
    }
    let (first, first_read) = &reads[0];
    for (member, read) in &reads[1..] {
        let differ: Vec<u64> = first_read.symmetric_difference(read).copied().collect();
        verdict.anomaly(
            &format!("members {first} and {member} disagree after recovery"),
            &differ,
        );
    }
    verdict.figure("final", first_read.len() as u64);
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chaos::history::{operations, Kind, Recorder};

    fn add(h: &Recorder, p: u64, element: u64, kind: Kind) {
        h.invoke(p, Op::Add { element });
        h.record(p, kind, Op::Add { element }, None);
    }

    fn read(h: &Recorder, member: u32, elements: &[u64]) {
        let p = 100 + member as u64;
        h.invoke(
            p,
            Op::ReadSet {
                member,
                elements: None,
            },
        );
        h.record(
            p,
            Kind::Ok,
            Op::ReadSet {
                member,
                elements: Some(elements.to_vec()),
            },
            None,
        );
    }

    #[test]
    fn acknowledged_and_unknown_adds_may_be_read_back() {
        let h = Recorder::default();
        add(&h, 0, 1, Kind::Ok);
        add(&h, 1, 2, Kind::Info);
        add(&h, 2, 3, Kind::Info);
        read(&h, 1, &[1, 2]);
        read(&h, 2, &[1, 2]);
        let v = check(&operations(&h.events()).unwrap());
        assert!(v.is_valid(), "{v:?}");
    }

    #[test]
    fn a_lost_add_an_invented_element_and_a_disagreement_are_anomalies() {
        let h = Recorder::default();
        add(&h, 0, 1, Kind::Ok);
        add(&h, 0, 2, Kind::Ok);
        add(&h, 0, 3, Kind::Fail);
        read(&h, 1, &[1, 2, 3]);
        read(&h, 2, &[1]);
        let v = check(&operations(&h.events()).unwrap());
        assert_eq!(v.anomalies.len(), 3, "{v:?}");
        assert!(
            v.anomalies[0].contains("member 1 holds elements never"),
            "{v:?}"
        );
        assert!(
            v.anomalies[1].contains("member 2 lost acknowledged adds: 1 (2)"),
            "{v:?}"
        );
        assert!(v.anomalies[2].contains("disagree"), "{v:?}");
    }

    #[test]
    fn a_history_without_a_final_read_is_not_valid() {
        let h = Recorder::default();
        add(&h, 0, 1, Kind::Ok);
        assert!(!check(&operations(&h.events()).unwrap()).is_valid());
    }
}
