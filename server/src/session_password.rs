//! Session passwords as Apache derives them (`ZooKeeperServer.generatePasswd`): a
//! `java.util.Random` seeded with the session id xor a fixed constant, 16 bytes from
//! `nextBytes`. Passwords are never replicated; every member recomputes them, so this must
//! reproduce Java's generator bit for bit.

/// The constant Apache mixes into the seed (`ZooKeeperServer.superSecret`).
const SUPER_SECRET: i64 = 0xB341_5C00;

/// Length of a session password.
pub const PASSWORD_LEN: usize = 16;

/// Java's `java.util.Random`: a 48-bit linear congruential generator.
#[derive(Debug, Clone)]
pub struct JavaRandom {
    seed: u64,
}

const MULTIPLIER: u64 = 0x5_DEEC_E66D;
const ADDEND: u64 = 0xB;
const MASK: u64 = (1 << 48) - 1;

impl JavaRandom {
    /// `new Random(seed)`: the seed is scrambled with the multiplier before first use.
    pub fn new(seed: i64) -> Self {
        JavaRandom {
            seed: (seed as u64 ^ MULTIPLIER) & MASK,
        }
    }

    /// `next(bits)`: advances the generator and returns its top `bits` bits.
    fn next(&mut self, bits: u32) -> i32 {
        self.seed = self.seed.wrapping_mul(MULTIPLIER).wrapping_add(ADDEND) & MASK;
        (self.seed >> (48 - bits)) as i32
    }

    pub fn next_int(&mut self) -> i32 {
        self.next(32)
    }

    /// `nextBytes`: one `nextInt` per 4 bytes, its low byte first; the last int is cut
    /// short when the length is not a multiple of 4 (its unused bytes are lost).
    pub fn next_bytes(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(4) {
            let mut rnd = self.next_int();
            for b in chunk {
                *b = rnd as u8;
                rnd >>= 8;
            }
        }
    }
}

/// The password of a session, as every member derives it.
pub fn session_password(session_id: i64) -> [u8; PASSWORD_LEN] {
    let mut p = [0u8; PASSWORD_LEN];
    JavaRandom::new(session_id ^ SUPER_SECRET).next_bytes(&mut p);
    p
}

/// Whether `passwd` is the password of `session_id` (`ZooKeeperServer.checkPasswd`: session
/// 0 never has a valid password).
pub fn check_password(session_id: i64, passwd: &[u8]) -> bool {
    session_id != 0 && passwd == session_password(session_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values printed by Java 17's own `java.util.Random` (see the fixture's README).
    const FIXTURE: &str = include_str!("../tests/fixtures/java_random/values.txt");

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn matches_java_random_and_apache_passwords() {
        let mut checked = 0;
        for line in FIXTURE
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let f: Vec<&str> = line.split_whitespace().collect();
            match f[0] {
                "ints" => {
                    let seed: i64 = f[1].parse().unwrap();
                    let mut r = JavaRandom::new(seed);
                    let got: Vec<String> =
                        (0..f.len() - 2).map(|_| r.next_int().to_string()).collect();
                    assert_eq!(got, &f[2..], "nextInt from seed {seed}");
                }
                "bytes" => {
                    let seed: i64 = f[1].parse().unwrap();
                    let len: usize = f[2].parse().unwrap();
                    let mut b = vec![0u8; len];
                    JavaRandom::new(seed).next_bytes(&mut b);
                    assert_eq!(
                        hex(&b),
                        f.get(3).copied().unwrap_or(""),
                        "nextBytes({len}) from seed {seed}"
                    );
                }
                "passwd" => {
                    let sid: i64 = f[1].parse().unwrap();
                    assert_eq!(
                        hex(&session_password(sid)),
                        f[2],
                        "password of session {sid:#x}"
                    );
                    assert!(check_password(sid, &session_password(sid)));
                }
                other => panic!("unknown fixture line kind {other}"),
            }
            checked += 1;
        }
        assert!(checked >= 20, "the fixture holds the expected lines");
    }

    #[test]
    fn wrong_password_and_session_zero_are_refused() {
        let mut p = session_password(0x1234);
        assert!(check_password(0x1234, &p));
        p[0] ^= 1;
        assert!(!check_password(0x1234, &p));
        assert!(!check_password(0, &session_password(0)));
        assert!(!check_password(0x1234, &p[..15]));
    }
}
