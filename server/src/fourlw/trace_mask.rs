//! The trace mask `stmk` sets and `gtmk` reads (Apache's `ZooTrace` text trace level).
//! zkrs traces nothing by mask, but keeps the value, so that a tool that sets the mask and
//! reads it back sees what it set, as with Apache. One per server, shared by the client
//! port's words and the admin server's `set_trace_mask` / `get_trace_mask`.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use super::DEFAULT_TRACE_MASK;

/// A server's trace mask; clones share the value.
#[derive(Debug, Clone)]
pub struct TraceMask(Arc<AtomicI64>);

impl Default for TraceMask {
    /// Apache's initial mask.
    fn default() -> Self {
        TraceMask(Arc::new(AtomicI64::new(DEFAULT_TRACE_MASK)))
    }
}

impl TraceMask {
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }

    pub fn set(&self, mask: i64) {
        self.0.store(mask, Ordering::Relaxed);
    }

    /// `stmk`'s argument: the 8 bytes after the word, a big-endian i64 (None when fewer
    /// arrived).
    pub fn from_stmk_bytes(bytes: &[u8]) -> Option<i64> {
        let arg: [u8; 8] = bytes.get(4..12)?.try_into().ok()?;
        Some(i64::from_be_bytes(arg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_mask_which_starts_at_apaches_default() {
        let mask = TraceMask::default();
        let other = mask.clone();
        assert_eq!(other.get(), DEFAULT_TRACE_MASK);
        mask.set(12);
        assert_eq!(other.get(), 12);
    }

    #[test]
    fn stmk_carries_a_big_endian_mask_after_the_word() {
        let mut bytes = b"stmk".to_vec();
        bytes.extend_from_slice(&(-2i64).to_be_bytes());
        assert_eq!(TraceMask::from_stmk_bytes(&bytes), Some(-2));
        assert_eq!(TraceMask::from_stmk_bytes(&bytes[..11]), None);
        assert_eq!(TraceMask::from_stmk_bytes(b"stmk"), None);
    }
}
