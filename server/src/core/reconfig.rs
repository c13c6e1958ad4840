//! Dynamic reconfiguration in the ZAB roles: what a committed reconfig means, who leads
//! under the new configuration, and the COMMITANDACTIVATE / INFORMANDACTIVATE packets
//! (Apache's `Leader.getDesignatedLeader`, `commitAndActivate`, `informAndActivate`).
//! Pure functions; the leader and follower code calls them.

use std::collections::BTreeSet;

use crate::config::ServerSpec;
use crate::quorum::verifier::QuorumVerifier;
use crate::quorum::wire::packet::{PacketType, QuorumPacket};
use crate::storage::writer::LogEntry;
use crate::txn::Txn;

use super::broadcast::ServerId;

/// The configuration a reconfig transaction carries (its `/zookeeper/config` data), or
/// `None` for any other transaction. A reconfig whose data does not parse is logged and
/// treated as not changing membership: it was prepared by a leader that parsed it.
pub fn committed_config(entry: &LogEntry) -> Option<QuorumVerifier> {
    let Txn::SetData {
        reconfig: true,
        data,
        ..
    } = &*entry.txn
    else {
        return None;
    };
    let text = String::from_utf8_lossy(data.as_deref().unwrap_or_default()).into_owned();
    match QuorumVerifier::parse(&text) {
        Ok(qv) => Some(qv),
        Err(e) => {
            tracing::error!(zxid = entry.hdr.zxid, error = %e, "a reconfig transaction without a usable configuration");
            None
        }
    }
}

/// Who leads once `next` is active. This leader stays if it is a voter of `next` with
/// the same quorum address; otherwise the voter of `next` that acknowledged the reconfig
/// (`acks`) and the most of the proposals after it (`later`, in zxid order), so that the
/// fewest proposals are lost in the handover. Ties go to the lowest id.
pub fn designated_leader<'a>(
    next: &QuorumVerifier,
    me: ServerId,
    my_spec: Option<&ServerSpec>,
    acks: &BTreeSet<ServerId>,
    later: impl Iterator<Item = &'a BTreeSet<ServerId>>,
) -> ServerId {
    if let (Some(now), Some(then)) = (my_spec, next.member(me)) {
        if next.is_voter(me) && now.host == then.host && now.peer_port == then.peer_port {
            return me;
        }
    }
    let voters = next.voters();
    let mut candidates: BTreeSet<ServerId> = acks
        .iter()
        .copied()
        .filter(|id| *id != me && voters.contains(id))
        .collect();
    let Some(&first) = candidates.first() else {
        // Cannot happen for a committed reconfig (a quorum of `next` acknowledged it);
        // staying is the least surprising answer.
        return me;
    };
    let mut best = first;
    for acked in later {
        candidates.retain(|c| acked.contains(c));
        match candidates.first() {
            Some(&c) => best = c,
            None => break,
        }
    }
    best
}

/// COMMITANDACTIVATE: the commit of `zxid` plus the designated leader (a long).
pub fn commit_and_activate(zxid: i64, leader: ServerId) -> QuorumPacket {
    QuorumPacket::new(
        PacketType::COMMITANDACTIVATE,
        zxid,
        Some((leader as i64).to_be_bytes().to_vec()),
    )
}

/// INFORMANDACTIVATE: the designated leader (a long) followed by the proposal's data.
pub fn inform_and_activate(proposal: &QuorumPacket, leader: ServerId) -> QuorumPacket {
    let mut data = (leader as i64).to_be_bytes().to_vec();
    data.extend_from_slice(proposal.data.as_deref().unwrap_or_default());
    QuorumPacket::new(PacketType::INFORMANDACTIVATE, proposal.zxid, Some(data))
}

/// The designated leader at the front of an ...ANDACTIVATE packet's data, and the rest.
pub fn split_activate(data: &[u8]) -> Option<(ServerId, &[u8])> {
    let (leader, rest) = data.split_first_chunk::<8>()?;
    Some((i64::from_be_bytes(*leader) as ServerId, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qv(text: &str) -> QuorumVerifier {
        QuorumVerifier::parse(text).unwrap()
    }

    #[test]
    fn the_leader_stays_when_it_remains_a_voter_at_the_same_address() {
        let old = qv("server.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2");
        let next = qv("server.1=a:1:2\nserver.2=b:1:2\nserver.4=d:1:2");
        let acks = BTreeSet::from([1, 2, 4]);
        assert_eq!(
            designated_leader(&next, 1, old.member(1), &acks, std::iter::empty()),
            1
        );
        let moved = qv("server.1=a:9:2\nserver.2=b:1:2\nserver.4=d:1:2");
        assert_eq!(
            designated_leader(&moved, 1, old.member(1), &acks, std::iter::empty()),
            2
        );
    }

    #[test]
    fn a_removed_leader_hands_over_to_the_most_up_to_date_acker() {
        let old = qv("server.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2");
        let next = qv("server.2=b:1:2\nserver.3=c:1:2");
        let acks = BTreeSet::from([1, 2, 3]);
        let later = [BTreeSet::from([1, 3]), BTreeSet::from([1])];
        assert_eq!(
            designated_leader(&next, 1, old.member(1), &acks, later.iter()),
            3
        );
        let observer = qv("server.1=a:1:2:observer\nserver.2=b:1:2\nserver.3=c:1:2");
        assert_eq!(
            designated_leader(&observer, 1, old.member(1), &acks, std::iter::empty()),
            2,
            "a leader that becomes an observer hands over too"
        );
    }

    #[test]
    fn activate_packets_carry_the_leader_first() {
        let c = commit_and_activate(0x1_0000_0005, 3);
        assert_eq!(c.kind, PacketType::COMMITANDACTIVATE);
        assert_eq!(
            split_activate(c.data.as_deref().unwrap()),
            Some((3, &[][..]))
        );
        let p = QuorumPacket::new(PacketType::PROPOSAL, 7, Some(vec![9, 9]));
        let i = inform_and_activate(&p, 2);
        assert_eq!(i.zxid, 7);
        assert_eq!(
            split_activate(i.data.as_deref().unwrap()),
            Some((2, &[9u8, 9][..]))
        );
        assert_eq!(split_activate(&[1, 2]), None);
    }
}
