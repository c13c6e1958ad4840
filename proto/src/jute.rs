//! Jute, ZooKeeper's record serialization: big-endian integers, length-prefixed buffers and
//! strings (length -1 means null), length-prefixed vectors.
//!
//! The reader never trusts a length it reads: every length is checked against what is left
//! in the buffer before anything is allocated, so a hostile peer cannot make us allocate.

use crate::error::DecodeError;

/// A cursor over one received frame.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated {
                needed: n,
                remaining: self.remaining(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn read_i32(&mut self) -> Result<i32, DecodeError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn read_i64(&mut self) -> Result<i64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    pub fn read_bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.take(1)?[0] != 0)
    }

    /// A buffer; a length of -1 (null) reads as `None`.
    pub fn read_opt_buffer(&mut self) -> Result<Option<Vec<u8>>, DecodeError> {
        let len = self.read_i32()?;
        if len == -1 {
            return Ok(None);
        }
        if len < 0 {
            return Err(DecodeError::NegativeLength(len));
        }
        Ok(Some(self.take(len as usize)?.to_vec()))
    }

    /// A buffer borrowed from the input; a length of -1 (null) reads as `None`.
    pub fn read_opt_bytes(&mut self) -> Result<Option<&'a [u8]>, DecodeError> {
        let len = self.read_i32()?;
        if len == -1 {
            return Ok(None);
        }
        if len < 0 {
            return Err(DecodeError::NegativeLength(len));
        }
        self.take(len as usize).map(Some)
    }

    /// A string borrowed from the input; null reads as empty. Invalid UTF-8 is an error.
    pub fn read_str(&mut self) -> Result<&'a str, DecodeError> {
        match self.read_opt_bytes()? {
            None => Ok(""),
            Some(b) => std::str::from_utf8(b).map_err(|_| DecodeError::InvalidUtf8),
        }
    }

    /// A buffer; null reads as empty, as the Java server treats it.
    pub fn read_buffer(&mut self) -> Result<Vec<u8>, DecodeError> {
        Ok(self.read_opt_buffer()?.unwrap_or_default())
    }

    /// A string; null reads as `None`. Invalid UTF-8 is an error.
    pub fn read_opt_string(&mut self) -> Result<Option<String>, DecodeError> {
        match self.read_opt_buffer()? {
            None => Ok(None),
            Some(b) => String::from_utf8(b)
                .map(Some)
                .map_err(|_| DecodeError::InvalidUtf8),
        }
    }

    /// A string; null reads as empty.
    pub fn read_string(&mut self) -> Result<String, DecodeError> {
        Ok(self.read_opt_string()?.unwrap_or_default())
    }

    /// A vector length; -1 (null) reads as `None`. Each element takes at least `min_elem`
    /// bytes, which bounds the count by what is left in the frame.
    pub fn read_vec_len(&mut self, min_elem: usize) -> Result<Option<usize>, DecodeError> {
        let len = self.read_i32()?;
        if len == -1 {
            return Ok(None);
        }
        if len < 0 {
            return Err(DecodeError::NegativeLength(len));
        }
        let len = len as usize;
        if len.saturating_mul(min_elem.max(1)) > self.remaining() {
            return Err(DecodeError::Truncated {
                needed: len.saturating_mul(min_elem.max(1)),
                remaining: self.remaining(),
            });
        }
        Ok(Some(len))
    }

    /// A vector of strings; null reads as empty.
    pub fn read_string_vec(&mut self) -> Result<Vec<String>, DecodeError> {
        let n = self.read_vec_len(4)?.unwrap_or(0);
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(self.read_string()?);
        }
        Ok(v)
    }

    /// Every byte was consumed; trailing garbage is an error for records that must fill a
    /// frame exactly.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes(self.remaining()))
        }
    }
}

/// Appends jute-encoded values to a byte vector.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Writer { buf: Vec::new() }
    }

    pub fn with_capacity(n: usize) -> Self {
        Writer {
            buf: Vec::with_capacity(n),
        }
    }

    /// Starts a frame: reserves the 4-byte length prefix that [`Writer::finish_frame`] fills.
    pub fn frame() -> Self {
        let mut w = Writer::with_capacity(64);
        w.buf.extend_from_slice(&[0, 0, 0, 0]);
        w
    }

    /// Fills the length prefix reserved by [`Writer::frame`] and returns the bytes.
    pub fn finish_frame(mut self) -> Vec<u8> {
        let len = (self.buf.len() - 4) as i32;
        self.buf[..4].copy_from_slice(&len.to_be_bytes());
        self.buf
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }

    pub fn write_i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn write_i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn write_bool(&mut self, v: bool) {
        self.buf.push(v as u8);
    }

    pub fn write_buffer(&mut self, v: &[u8]) {
        self.write_i32(v.len() as i32);
        self.buf.extend_from_slice(v);
    }

    pub fn write_opt_buffer(&mut self, v: Option<&[u8]>) {
        match v {
            None => self.write_i32(-1),
            Some(b) => self.write_buffer(b),
        }
    }

    pub fn write_string(&mut self, v: &str) {
        self.write_buffer(v.as_bytes());
    }

    pub fn write_string_vec(&mut self, v: &[String]) {
        self.write_i32(v.len() as i32);
        for s in v {
            self.write_string(s);
        }
    }

    pub fn write_raw(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
}

/// A record with a jute encoding.
pub trait Record: Sized {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
    fn write(&self, w: &mut Writer);

    /// Decodes a record that must fill `buf` exactly.
    fn decode_exact(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        let v = Self::read(&mut r)?;
        r.finish()?;
        Ok(v)
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.write(&mut w);
        w.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_round_trip() {
        let mut w = Writer::new();
        w.write_i32(-7);
        w.write_i64(1 << 40);
        w.write_bool(true);
        w.write_string("héllo");
        w.write_opt_buffer(None);
        w.write_string_vec(&["a".into(), "bc".into()]);
        let b = w.into_inner();
        let mut r = Reader::new(&b);
        assert_eq!(r.read_i32().unwrap(), -7);
        assert_eq!(r.read_i64().unwrap(), 1 << 40);
        assert!(r.read_bool().unwrap());
        assert_eq!(r.read_string().unwrap(), "héllo");
        assert_eq!(r.read_opt_buffer().unwrap(), None);
        assert_eq!(r.read_string_vec().unwrap(), vec!["a", "bc"]);
        r.finish().unwrap();
    }

    #[test]
    fn hostile_lengths_are_errors_not_allocations() {
        let mut r = Reader::new(&[0x7f, 0xff, 0xff, 0xff, 1, 2]);
        assert!(matches!(
            r.read_buffer(),
            Err(DecodeError::Truncated { .. })
        ));
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xfe]);
        assert_eq!(r.read_buffer(), Err(DecodeError::NegativeLength(-2)));
        let mut r = Reader::new(&[0x7f, 0xff, 0xff, 0xff]);
        assert!(r.read_string_vec().is_err());
        let mut r = Reader::new(&[0, 0, 0, 2, 0xff, 0xfe]);
        assert_eq!(r.read_string(), Err(DecodeError::InvalidUtf8));
    }
}
