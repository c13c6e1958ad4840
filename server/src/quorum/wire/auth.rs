//! Quorum SASL frames (`QuorumAuthPacket{long magic, int status, buffer token}`), which
//! Apache exchanges only when `quorum.auth.enableSasl` is set: right after the election
//! initial message and right after connecting to the learner port, with no length prefix.
//! zkrs does not do quorum SASL; this lets a receiver recognise such a peer (the magic is
//! how Apache itself tells an auth frame from a protocol one) and refuse it clearly.

use super::cursor::Cursor;
use super::WireError;

/// `QuorumAuth.QUORUM_AUTH_MAGIC_NUMBER`, which Java spells `-0xa0dbcafecafe1234L`: the
/// negation of a 64-bit pattern, i.e. 0x5f24_3501_3501_edcc.
pub const QUORUM_AUTH_MAGIC: i64 = (0xa0db_cafe_cafe_1234_u64 as i64).wrapping_neg();

/// `QuorumAuth.Status` codes: 0 in progress, 1 success, -1 error. Kept as the number so
/// that any value decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthStatus(pub i32);

#[cfg_attr(
    not(test),
    allow(
        dead_code,
        reason = "recognising a peer with quorum SASL on is decoded and tested, not wired into the ports yet"
    )
)]
impl AuthStatus {
    pub const IN_PROGRESS: AuthStatus = AuthStatus(0);
    pub const SUCCESS: AuthStatus = AuthStatus(1);
    pub const ERROR: AuthStatus = AuthStatus(-1);
}

/// One SASL frame. The magic is not a field: a record without it is not an auth frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumAuthPacket {
    pub status: AuthStatus,
    /// `None` is jute's null buffer.
    pub token: Option<Vec<u8>>,
}

impl QuorumAuthPacket {
    /// Whether the bytes at the front of `buf` start an auth frame, as Apache's
    /// `QuorumAuth.nextPacketIsAuth` peeks at the first long; `None` until 8 bytes are there.
    #[cfg_attr(
        not(test),
        allow(
            dead_code,
            reason = "recognising a peer with quorum SASL on is decoded and tested, not wired into the ports yet"
        )
    )]
    pub fn is_next(buf: &[u8]) -> Option<bool> {
        let first: [u8; 8] = buf.get(..8)?.try_into().ok()?;
        Some(i64::from_be_bytes(first) == QUORUM_AUTH_MAGIC)
    }

    /// Decodes the frame at the front of `buf`; returns it and the bytes it took. `None`
    /// when the first long is not the magic (not an auth frame).
    pub fn decode(
        buf: &[u8],
        max_buffer: usize,
    ) -> Result<Option<(QuorumAuthPacket, usize)>, WireError> {
        let mut c = Cursor::new(buf);
        if c.i64()? != QUORUM_AUTH_MAGIC {
            return Ok(None);
        }
        let status = AuthStatus(c.i32()?);
        let token = c.jute_buffer(max_buffer)?.map(<[u8]>::to_vec);
        Ok(Some((QuorumAuthPacket { status, token }, c.position())))
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.token.as_ref().map_or(0, Vec::len));
        out.extend_from_slice(&QUORUM_AUTH_MAGIC.to_be_bytes());
        out.extend_from_slice(&self.status.0.to_be_bytes());
        match &self.token {
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(t) => {
                out.extend_from_slice(&(t.len() as i32).to_be_bytes());
                out.extend_from_slice(t);
            }
        }
        out
    }
}
