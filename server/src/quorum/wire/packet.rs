//! The learner port: `QuorumPacket` records and the payloads of the learner handshake
//! (Apache's `Leader`, `Learner`, `LearnerHandler`; jute `QuorumPacket`, `LearnerInfo`).
//!
//! There is **no length prefix** per packet: both sides wrap the socket in jute's
//! `BinaryOutputArchive`/`BinaryInputArchive` and write records back to back. So a reader
//! decodes a packet from the front of its buffer and learns from
//! [`WireError::Truncated`] that the packet is not all there yet. (After SNAP the snapshot
//! follows raw in the same stream; that is not a `QuorumPacket` and is not handled here.)

use zkrs_proto::Id;

use super::cursor::Cursor;
use super::WireError;

/// `jute.maxbuffer` (0xfffff) plus `zookeeper.jute.maxbuffer.extrasize`, which defaults to
/// the same value in 3.8.1+ and 3.9 (3.8.0 used 1024). The larger, newer limit: a peer
/// with the defaults never sends more, and refusing what a newer Apache accepts would split
/// a mixed ensemble.
pub const DEFAULT_MAX_BUFFER: usize = 0xfffff + 0xfffff;

/// The Zab protocol version in `LearnerInfo` and in LEADERINFO's payload. A learner that
/// sends less is put on the pre-1.0 path, which has no LEADERINFO.
pub const ZAB_PROTOCOL_VERSION: i32 = 0x10000;

/// A packet's type (`Leader.java` constants). A newtype rather than an enum so that a type
/// this code does not know survives decoding as its number: Apache's learner logs unknown
/// types and goes on, and the drivers decide what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PacketType(pub i32);

impl PacketType {
    pub const REQUEST: PacketType = PacketType(1);
    pub const PROPOSAL: PacketType = PacketType(2);
    pub const ACK: PacketType = PacketType(3);
    pub const COMMIT: PacketType = PacketType(4);
    pub const PING: PacketType = PacketType(5);
    pub const REVALIDATE: PacketType = PacketType(6);
    pub const SYNC: PacketType = PacketType(7);
    pub const INFORM: PacketType = PacketType(8);
    #[cfg_attr(
        not(test),
        allow(dead_code, reason = "dynamic reconfiguration's packets")
    )]
    pub const COMMITANDACTIVATE: PacketType = PacketType(9);
    pub const NEWLEADER: PacketType = PacketType(10);
    pub const FOLLOWERINFO: PacketType = PacketType(11);
    pub const UPTODATE: PacketType = PacketType(12);
    pub const DIFF: PacketType = PacketType(13);
    pub const TRUNC: PacketType = PacketType(14);
    pub const SNAP: PacketType = PacketType(15);
    pub const OBSERVERINFO: PacketType = PacketType(16);
    pub const LEADERINFO: PacketType = PacketType(17);
    pub const ACKEPOCH: PacketType = PacketType(18);
    #[cfg_attr(
        not(test),
        allow(dead_code, reason = "dynamic reconfiguration's packets")
    )]
    pub const INFORMANDACTIVATE: PacketType = PacketType(19);

    /// Apache's name for a known type (as its logs print it).
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "REQUEST",
            2 => "PROPOSAL",
            3 => "ACK",
            4 => "COMMIT",
            5 => "PING",
            6 => "REVALIDATE",
            7 => "SYNC",
            8 => "INFORM",
            9 => "COMMITANDACTIVATE",
            10 => "NEWLEADER",
            11 => "FOLLOWERINFO",
            12 => "UPTODATE",
            13 => "DIFF",
            14 => "TRUNC",
            15 => "SNAP",
            16 => "OBSERVERINFO",
            17 => "LEADERINFO",
            18 => "ACKEPOCH",
            19 => "INFORMANDACTIVATE",
            _ => return None,
        })
    }
}

/// `QuorumPacket{int type, long zxid, buffer data, vector<Id> authinfo}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumPacket {
    pub kind: PacketType,
    pub zxid: i64,
    /// `None` is jute's null buffer (length -1), which Apache sends for ACK, COMMIT,
    /// UPTODATE and others. Send `Some(vec![])` for PING and REVALIDATE: Apache's leader
    /// wraps their data in a stream and fails on null.
    pub data: Option<Vec<u8>>,
    /// `None` is a null vector (what Apache sends except on REQUEST and PING replies).
    pub authinfo: Option<Vec<Id>>,
}

impl QuorumPacket {
    pub fn new(kind: PacketType, zxid: i64, data: Option<Vec<u8>>) -> Self {
        QuorumPacket {
            kind,
            zxid,
            data,
            authinfo: None,
        }
    }

    /// Decodes the packet at the front of `buf` as `BinaryInputArchive` reads it; returns it
    /// and the number of bytes it took. Buffer and string lengths above `max_buffer`
    /// ([`DEFAULT_MAX_BUFFER`] for Apache's defaults) or below -1 are refused. A vector
    /// count below -1 reads as empty, as Java's loop over it runs zero times.
    /// [`WireError::Truncated`] means the rest of the packet has not arrived.
    pub fn decode(buf: &[u8], max_buffer: usize) -> Result<(QuorumPacket, usize), WireError> {
        let mut c = Cursor::new(buf);
        let kind = PacketType(c.i32()?);
        let zxid = c.i64()?;
        let data = c.jute_buffer(max_buffer)?.map(<[u8]>::to_vec);
        let count = c.i32()?;
        let authinfo = if count == -1 {
            None
        } else {
            let count = count.max(0) as usize;
            // Each Id is at least two 4-byte lengths; this bounds the allocation by what
            // is in the buffer, whatever count the peer claims.
            let mut ids = Vec::with_capacity(count.min(c.remaining() / 8));
            for _ in 0..count {
                let scheme = jute_string(&mut c, max_buffer)?;
                let id = jute_string(&mut c, max_buffer)?;
                ids.push(Id { scheme, id });
            }
            Some(ids)
        };
        Ok((
            QuorumPacket {
                kind,
                zxid,
                data,
                authinfo,
            },
            c.position(),
        ))
    }

    /// Appends the packet as `BinaryOutputArchive.writeRecord` writes it.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.kind.0.to_be_bytes());
        out.extend_from_slice(&self.zxid.to_be_bytes());
        write_opt_buffer(out, self.data.as_deref());
        match &self.authinfo {
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(ids) => {
                out.extend_from_slice(&(ids.len() as i32).to_be_bytes());
                for id in ids {
                    write_opt_buffer(out, Some(id.scheme.as_bytes()));
                    write_opt_buffer(out, Some(id.id.as_bytes()));
                }
            }
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(20 + self.data.as_ref().map_or(0, Vec::len));
        self.encode_into(&mut out);
        out
    }
}

/// A jute `ustring`. Java decodes it with replacement characters, so invalid UTF-8 is not
/// an error; a null string reads as empty (Apache would fail on it later, when it uses it).
fn jute_string(c: &mut Cursor<'_>, limit: usize) -> Result<String, WireError> {
    Ok(c.jute_buffer(limit)?
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default())
}

fn write_opt_buffer(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        Some(b) => {
            out.extend_from_slice(&(b.len() as i32).to_be_bytes());
            out.extend_from_slice(b);
        }
    }
}

/// `LearnerInfo{long serverid, int protocolVersion, long configVersion}`: the data of
/// FOLLOWERINFO and OBSERVERINFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LearnerInfo {
    pub server_id: i64,
    pub protocol_version: i32,
    pub config_version: i64,
}

/// What a leader takes from FOLLOWERINFO/OBSERVERINFO data. Apache reads each field only
/// if the data is long enough for it (`LearnerHandler.run`): under 8 bytes there is no sid,
/// under 12 no protocol version (the pre-1.0 path), under 20 no config version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LearnerInfoFields {
    pub server_id: Option<i64>,
    pub protocol_version: Option<i32>,
    pub config_version: Option<i64>,
}

impl LearnerInfo {
    /// A learner's info as Apache's learners send it.
    pub fn new(server_id: i64, config_version: i64) -> Self {
        LearnerInfo {
            server_id,
            protocol_version: ZAB_PROTOCOL_VERSION,
            config_version,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(20);
        out.extend_from_slice(&self.server_id.to_be_bytes());
        out.extend_from_slice(&self.protocol_version.to_be_bytes());
        out.extend_from_slice(&self.config_version.to_be_bytes());
        out
    }

    /// The whole record; bytes after it are ignored, as Apache ignores them.
    pub fn decode(data: &[u8]) -> Result<LearnerInfo, WireError> {
        let mut c = Cursor::new(data);
        Ok(LearnerInfo {
            server_id: c.i64()?,
            protocol_version: c.i32()?,
            config_version: c.i64()?,
        })
    }

    /// The fields a leader reads from data of any length (see [`LearnerInfoFields`]).
    /// Apache's leader gives a learner with null data a made-up negative sid; that is the
    /// caller's business, so null data is simply all `None`.
    pub fn decode_fields(data: Option<&[u8]>) -> LearnerInfoFields {
        let data = data.unwrap_or_default();
        let mut c = Cursor::new(data);
        let server_id = c.i64().ok();
        let protocol_version = server_id.and(c.i32().ok());
        let config_version = protocol_version.and(c.i64().ok());
        LearnerInfoFields {
            server_id,
            protocol_version,
            config_version,
        }
    }
}

/// The 4-byte int that LEADERINFO (protocol version) and ACKEPOCH (current epoch, or -1)
/// carry. Apache reads the first 4 bytes and ignores the rest; null data is refused (Java
/// would throw on it).
pub fn decode_int_payload(data: Option<&[u8]>) -> Result<i32, WireError> {
    let data = data.ok_or(WireError::MissingPayload)?;
    Cursor::new(data).i32()
}

/// The data of LEADERINFO and ACKEPOCH.
pub fn encode_int_payload(v: i32) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

/// LEADERINFO as Apache's leader sends it: zxid = newEpoch << 32, data = the protocol version.
pub fn leader_info(new_epoch: u32) -> QuorumPacket {
    QuorumPacket::new(
        PacketType::LEADERINFO,
        i64::from(new_epoch) << 32,
        Some(encode_int_payload(ZAB_PROTOCOL_VERSION)),
    )
}

/// ACKEPOCH as Apache's learner sends it: zxid = its last logged zxid, data = its current
/// epoch, or -1 when it had already accepted the proposed epoch.
pub fn ack_epoch(last_logged_zxid: i64, current_epoch: i32) -> QuorumPacket {
    QuorumPacket::new(
        PacketType::ACKEPOCH,
        last_logged_zxid,
        Some(encode_int_payload(current_epoch)),
    )
}
