//! The unique-ids checker: no name handed out twice, every name handed out in every
//! member's final read, no more names there than creates that may have happened, and the
//! members agree.

use std::collections::{BTreeMap, BTreeSet};

use super::Verdict;
use crate::chaos::history::{Op, Operation};

pub fn check(ops: &[Operation]) -> Verdict {
    let mut verdict = Verdict::default();
    let mut given: BTreeMap<String, u32> = BTreeMap::new();
    let mut unknown = 0u64;
    let mut reads: Vec<(u32, BTreeSet<String>)> = Vec::new();
    for op in ops {
        match &op.op {
            Op::GenerateId { name: Some(name) } if op.is_ok() => {
                *given.entry(name.clone()).or_default() += 1;
            }
            Op::GenerateId { .. } if op.is_unknown() => unknown += 1,
            Op::ReadIds {
                member,
                names: Some(names),
            } if op.is_ok() => reads.push((*member, names.iter().cloned().collect())),
            _ => {}
        }
    }
    let duplicates: Vec<&String> = given
        .iter()
        .filter(|(_, &n)| n > 1)
        .map(|(k, _)| k)
        .collect();
    verdict.anomaly("names handed out more than once", &duplicates);
    verdict.figure("acknowledged", given.values().map(|&n| u64::from(n)).sum());
    verdict.figure("unknown", unknown);
    if reads.is_empty() {
        verdict.anomalies.push("no final read".to_string());
        return verdict;
    }
    for (member, read) in &reads {
        let lost: Vec<&String> = given.keys().filter(|n| !read.contains(*n)).collect();
        verdict.anomaly(&format!("member {member} lost acknowledged ids"), &lost);
        let extra: Vec<&String> = read.iter().filter(|n| !given.contains_key(*n)).collect();
        if extra.len() as u64 > unknown {
            verdict.anomaly(
                &format!(
                    "member {member} holds more unacknowledged ids than {unknown} creates of \
                     unknown outcome explain"
                ),
                &extra,
            );
        }
    }
    let (first, first_read) = &reads[0];
    for (member, read) in &reads[1..] {
        let differ: Vec<&String> = first_read.symmetric_difference(read).collect();
        verdict.anomaly(&format!("members {first} and {member} disagree"), &differ);
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chaos::history::{operations, Kind, Recorder};

    fn generate(h: &Recorder, p: u64, name: Option<&str>, kind: Kind) {
        h.invoke(p, Op::GenerateId { name: None });
        let name = name.map(str::to_string);
        h.record(p, kind, Op::GenerateId { name }, None);
    }

    fn read(h: &Recorder, member: u32, names: &[&str]) {
        let p = 100 + member as u64;
        h.invoke(
            p,
            Op::ReadIds {
                member,
                names: None,
            },
        );
        let names = Some(names.iter().map(|s| s.to_string()).collect());
        h.record(p, Kind::Ok, Op::ReadIds { member, names }, None);
    }

    #[test]
    fn distinct_ids_all_present_are_valid() {
        let h = Recorder::default();
        generate(&h, 0, Some("id-0000000000"), Kind::Ok);
        generate(&h, 1, None, Kind::Info);
        generate(&h, 2, Some("id-0000000002"), Kind::Ok);
        read(&h, 1, &["id-0000000000", "id-0000000001", "id-0000000002"]);
        let v = check(&operations(&h.events()).unwrap());
        assert!(v.is_valid(), "{v:?}");
    }

    #[test]
    fn a_duplicate_a_loss_and_an_unexplained_id_are_anomalies() {
        let h = Recorder::default();
        generate(&h, 0, Some("id-0000000000"), Kind::Ok);
        generate(&h, 1, Some("id-0000000000"), Kind::Ok);
        generate(&h, 2, Some("id-0000000001"), Kind::Ok);
        read(&h, 1, &["id-0000000000", "id-0000000007"]);
        let v = check(&operations(&h.events()).unwrap());
        assert_eq!(v.anomalies.len(), 3, "{v:?}");
    }
}
