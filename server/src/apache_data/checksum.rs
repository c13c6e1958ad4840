//! Adler-32 (`java.util.zip.Adler32`), the checksum of Apache's snapshot seals and of
//! each transaction log record. Java hands the 32-bit value out as a `long`, and Apache
//! writes that `long`: the checksum is the low half of an 8-byte field.

const MOD: u32 = 65_521;
/// The most bytes that can be summed before the sums must be reduced to stay in a u32.
const NMAX: usize = 5552;

#[derive(Debug, Clone, Copy)]
pub struct Adler32 {
    a: u32,
    b: u32,
}

impl Default for Adler32 {
    fn default() -> Self {
        Adler32 { a: 1, b: 0 }
    }
}

impl Adler32 {
    pub fn update(&mut self, data: &[u8]) {
        for chunk in data.chunks(NMAX) {
            for &byte in chunk {
                self.a += u32::from(byte);
                self.b += self.a;
            }
            self.a %= MOD;
            self.b %= MOD;
        }
    }

    /// The value as Apache writes it (`Checksum.getValue()`, a non-negative long).
    pub fn value(&self) -> i64 {
        i64::from((self.b << 16) | self.a)
    }

    pub fn of(data: &[u8]) -> i64 {
        let mut c = Adler32::default();
        c.update(data);
        c.value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(Adler32::of(b""), 1);
        assert_eq!(Adler32::of(b"Wikipedia"), 0x11E6_0398);
        // Long input crosses the reduction boundary; the value is zlib's.
        let big = vec![0xffu8; 100_000];
        assert_eq!(Adler32::of(&big), 0x149a_302c);
    }

    #[test]
    fn updates_in_pieces_equal_one_update() {
        let data: Vec<u8> = (0..20_000u32).map(|i| (i * 7) as u8).collect();
        let mut c = Adler32::default();
        for piece in data.chunks(999) {
            c.update(piece);
        }
        assert_eq!(c.value(), Adler32::of(&data));
    }
}
