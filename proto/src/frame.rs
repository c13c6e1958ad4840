//! Length-prefixed framing: every message is a 4-byte big-endian length and that many bytes.

use crate::error::DecodeError;

/// Apache's default `jute.maxbuffer`: 0xfffff bytes (1 MiB - 1).
pub const DEFAULT_MAX_FRAME: usize = 0xfffff;

/// Looks for one complete frame at the start of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed, `Ok(Some((start, end)))` with the body's
/// range (the whole frame is `buf[..end]`), or an error for a negative or oversized length,
/// which the connection cannot recover from (the stream can no longer be re-synchronised).
pub fn find_frame(buf: &[u8], max_len: usize) -> Result<Option<(usize, usize)>, DecodeError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if len < 0 {
        return Err(DecodeError::InvalidFrameLength(len));
    }
    let len = len as usize;
    if len > max_len {
        return Err(DecodeError::FrameTooLarge { len, max: max_len });
    }
    if buf.len() < 4 + len {
        return Ok(None);
    }
    Ok(Some((4, 4 + len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        assert_eq!(find_frame(&[0, 0], 10), Ok(None));
        assert_eq!(find_frame(&[0, 0, 0, 2, 1], 10), Ok(None));
        assert_eq!(find_frame(&[0, 0, 0, 2, 1, 2, 3], 10), Ok(Some((4, 6))));
        assert_eq!(
            find_frame(&[0, 0, 0, 11], 10),
            Err(DecodeError::FrameTooLarge { len: 11, max: 10 })
        );
        assert_eq!(
            find_frame(&[0xff, 0xff, 0xff, 0xff], 10),
            Err(DecodeError::InvalidFrameLength(-1))
        );
    }
}
