//! `QuorumPacket`s on a byte stream, as the learner port carries them: one jute record after
//! another with no length prefix (Apache's `BinaryInputArchive` over the socket). A SNAP
//! packet is followed by the snapshot itself, raw in the same stream, which is why the
//! reader works field by field on a `Read` rather than on framed buffers.
//!
//! Blocking I/O: each learner connection has its own threads, as in Apache, and a read
//! timeout on the socket is the liveness check (`syncLimit` ticks).

use std::io::{self, Read, Write};

use zkrs_proto::Id;

use super::wire::packet::PacketType;
use super::wire::packet::QuorumPacket;

/// Reads one packet. Every length is checked against `max_buffer` before anything is
/// allocated; a peer that sends more gets [`io::ErrorKind::InvalidData`].
pub fn read_packet(r: &mut impl Read, max_buffer: usize) -> io::Result<QuorumPacket> {
    let kind = PacketType(read_i32(r)?);
    let zxid = read_i64(r)?;
    let data = read_buffer(r, max_buffer)?;
    let count = read_i32(r)?;
    let authinfo = if count == -1 {
        None
    } else {
        // Java's loop runs zero times for a negative count.
        let count = count.max(0) as usize;
        if count > max_buffer / 8 {
            return Err(invalid(format!("authinfo count {count} is unreasonable")));
        }
        let mut ids = Vec::with_capacity(count.min(16));
        for _ in 0..count {
            let scheme = read_string(r, max_buffer)?;
            let id = read_string(r, max_buffer)?;
            ids.push(Id { scheme, id });
        }
        Some(ids)
    };
    Ok(QuorumPacket {
        kind,
        zxid,
        data,
        authinfo,
    })
}

/// Writes one packet (not flushed).
pub fn write_packet(w: &mut impl Write, p: &QuorumPacket) -> io::Result<()> {
    w.write_all(&p.encode())
}

pub fn read_i32(r: &mut impl Read) -> io::Result<i32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(i32::from_be_bytes(b))
}

pub fn read_i64(r: &mut impl Read) -> io::Result<i64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(i64::from_be_bytes(b))
}

/// A jute buffer: an int length (-1 is null) and the bytes.
pub fn read_buffer(r: &mut impl Read, max_buffer: usize) -> io::Result<Option<Vec<u8>>> {
    let len = read_i32(r)?;
    if len == -1 {
        return Ok(None);
    }
    if len < 0 || len as usize > max_buffer {
        return Err(invalid(format!(
            "buffer length {len} outside 0..={max_buffer}"
        )));
    }
    let mut buf = vec![0u8; len as usize];
    r.read_exact(&mut buf)?;
    Ok(Some(buf))
}

/// A jute string (null reads as empty).
pub fn read_string(r: &mut impl Read, max_buffer: usize) -> io::Result<String> {
    let bytes = read_buffer(r, max_buffer)?.unwrap_or_default();
    String::from_utf8(bytes).map_err(|_| invalid("a string that is not UTF-8".to_string()))
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_read_back_one_after_another_with_what_follows_left_in_the_stream() {
        let mut bytes = Vec::new();
        let mut ping = QuorumPacket::new(PacketType::PING, 7, Some(vec![1, 2, 3]));
        ping.authinfo = Some(vec![Id::new("digest", "u:x")]);
        let snap = QuorumPacket::new(PacketType::SNAP, 9, None);
        write_packet(&mut bytes, &ping).unwrap();
        write_packet(&mut bytes, &snap).unwrap();
        bytes.extend_from_slice(b"raw");
        let mut r = &bytes[..];
        assert_eq!(read_packet(&mut r, 1024).unwrap(), ping);
        assert_eq!(read_packet(&mut r, 1024).unwrap(), snap);
        assert_eq!(r, b"raw");
    }

    #[test]
    fn oversized_and_truncated_packets_are_errors() {
        let mut big = Vec::new();
        write_packet(
            &mut big,
            &QuorumPacket::new(PacketType::PROPOSAL, 1, Some(vec![0; 100])),
        )
        .unwrap();
        assert_eq!(
            read_packet(&mut &big[..], 50).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        assert_eq!(
            read_packet(&mut &big[..20], 1024).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
    }
}
