//! The wire's framing: a 4-byte big-endian length, then that many bytes. One reader for
//! blocking sockets and one for Tokio streams, shared by every test that reads raw frames.

use std::io::Read;

use tokio::io::{AsyncRead, AsyncReadExt};

/// Larger lengths are taken as garbage rather than allocated (replies may exceed the 1 MB
/// request limit, but not by this much).
pub const MAX_FRAME: i32 = 16 << 20;

/// `body` with its length prefix.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(4 + body.len());
    f.extend_from_slice(&(body.len() as i32).to_be_bytes());
    f.extend_from_slice(body);
    f
}

fn checked_len(len: [u8; 4]) -> std::io::Result<usize> {
    let len = i32::from_be_bytes(len);
    if !(0..=MAX_FRAME).contains(&len) {
        return Err(std::io::Error::other(format!("bad frame length {len}")));
    }
    Ok(len as usize)
}

/// Reads one frame's body from a blocking stream.
pub fn read_frame_blocking(stream: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let mut body = vec![0u8; checked_len(len)?];
    stream.read_exact(&mut body)?;
    Ok(body)
}

/// Reads one frame's body from an async stream.
pub async fn read_frame(stream: &mut (impl AsyncRead + Unpin)) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await?;
    let mut body = vec![0u8; checked_len(len)?];
    stream.read_exact(&mut body).await?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_reads_back_and_bad_lengths_are_errors() {
        let f = frame(b"hello");
        assert_eq!(read_frame_blocking(&mut &f[..]).unwrap(), b"hello");
        let negative = (-1i32).to_be_bytes();
        assert!(read_frame_blocking(&mut &negative[..]).is_err());
        let short = [0, 0, 0, 9, 1];
        assert!(read_frame_blocking(&mut &short[..]).is_err());
    }
}
