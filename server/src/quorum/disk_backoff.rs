//! How long a member waits before its next role after its disk refused a write (a full or
//! failing disk). Without a pause, a member whose disk stays full rejoins at once, fails
//! at its first write, reloads its state and tries again, several times a second: each
//! attempt costs the leader a sync, which in the chaos harness halved the healthy
//! majority's throughput. (Apache's server exits on such a failure and waits for an
//! operator; zkrs keeps trying, so that it serves again by itself once the disk has room.)

use std::time::Duration;

/// The first pause after a role ended on a disk failure.
const FIRST: Duration = Duration::from_millis(200);
/// The longest pause: a member whose disk has room again serves within about this long.
const MAX: Duration = Duration::from_secs(2);

/// The pause before the next role: doubling from [`FIRST`] to [`MAX`] while roles keep
/// ending on disk failures, none after a role that ended otherwise.
#[derive(Debug, Default)]
pub struct DiskBackoff {
    next: Option<Duration>,
}

impl DiskBackoff {
    /// The pause before the next role, given whether the role that just ended did so
    /// because the disk refused a write.
    pub fn after_role(&mut self, disk_failed: bool) -> Duration {
        if !disk_failed {
            self.next = None;
            return Duration::ZERO;
        }
        let pause = self.next.unwrap_or(FIRST);
        self.next = Some((pause * 2).min(MAX));
        pause
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_doubles_while_the_disk_fails_and_ends_with_a_role_that_did_not_fail() {
        let mut backoff = DiskBackoff::default();
        let ms = |d: Duration| d.as_millis();
        let pauses: Vec<u128> = (0..6).map(|_| ms(backoff.after_role(true))).collect();
        assert_eq!(pauses, [200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(backoff.after_role(false), Duration::ZERO);
        assert_eq!(ms(backoff.after_role(true)), 200, "starts over");
    }
}
