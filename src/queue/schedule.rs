//! The retry schedule: when a deferred recipient is tried again, when a message expires,
//! and when the sender gets a "delayed" notice.
//!
//! Times are unix seconds; the caller passes `now` and the jitter, so the schedule is
//! deterministic under test.

use std::time::Duration;

/// Used when a policy has no interval at all (config checks refuse that; this keeps the
/// queue from spinning if one slips through).
const FALLBACK_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// Jitter spreads retries by up to this fraction either way, so that a burst of messages
/// deferred together does not come back as one burst.
const JITTER_SPREAD: f64 = 0.1;

/// Retry intervals, maximum queue lifetime and delay-notice threshold (`[queue]` config).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait after the 1st, 2nd, ... failed attempt; the last one repeats.
    pub intervals: Vec<Duration>,
    /// A message still undelivered this long after arrival fails with a DSN.
    pub max_age: Duration,
    /// A message still undelivered this long after arrival gets one "delayed" DSN.
    pub delay_notice: Duration,
}

impl Default for RetryPolicy {
    /// 5m, 10m, 30m, 1h, 2h, 4h (repeating); expire after 5 days; delay notice at 4 hours.
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        RetryPolicy {
            intervals: vec![
                minutes(5),
                minutes(10),
                minutes(30),
                minutes(60),
                minutes(120),
                minutes(240),
            ],
            max_age: Duration::from_secs(5 * 24 * 3600),
            delay_notice: minutes(240),
        }
    }
}

impl RetryPolicy {
    /// The un-jittered wait after `attempts_so_far` attempts (counting the one that just
    /// failed; 0 is treated like 1).
    pub fn interval(&self, attempts_so_far: u32) -> Duration {
        let index = usize::try_from(attempts_so_far.saturating_sub(1)).unwrap_or(usize::MAX);
        self.intervals
            .get(index)
            .or(self.intervals.last())
            .copied()
            .unwrap_or(FALLBACK_INTERVAL)
    }

    /// When to try again after `attempts_so_far` attempts: `now` plus the interval with
    /// ±10% jitter; `jitter` is a random number in [0, 1) (clamped; NaN counts as 0.5).
    ///
    /// Always at least one second after `now`.
    pub fn next_attempt(&self, attempts_so_far: u32, now: i64, jitter: f64) -> i64 {
        let jitter = if jitter.is_nan() {
            0.5
        } else {
            jitter.clamp(0.0, 1.0)
        };
        let factor = 1.0 + JITTER_SPREAD * (2.0 * jitter - 1.0);
        let wait = self.interval(attempts_so_far).as_secs_f64() * factor;
        // `as` saturates for floats; intervals are far below i64::MAX seconds anyway.
        let wait = (wait.round() as i64).max(1);
        now.saturating_add(wait)
    }

    /// The moment a message that arrived at `received_at` expires.
    pub fn expires_at(&self, received_at: i64) -> i64 {
        received_at.saturating_add(secs(self.max_age))
    }

    /// Whether a message that arrived at `received_at` is past `max_age` at `now` (its
    /// pending recipients then fail with a final DSN, RFC 5321 §4.5.4.1).
    pub fn expired(&self, received_at: i64, now: i64) -> bool {
        now >= self.expires_at(received_at)
    }

    /// Whether a "delayed" DSN is due: past `delay_notice`, not yet sent, and not expired
    /// (an expired message gets the failure DSN instead).
    pub fn delay_notice_due(&self, received_at: i64, now: i64, already_notified: bool) -> bool {
        !already_notified
            && now >= received_at.saturating_add(secs(self.delay_notice))
            && !self.expired(received_at, now)
    }
}

/// Whole seconds of `d` as i64, saturating.
fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    #[test]
    fn default_schedule_steps_then_repeats_the_last_interval() {
        let p = RetryPolicy::default();
        let waits: Vec<i64> = (1..=8).map(|n| p.next_attempt(n, NOW, 0.5) - NOW).collect();
        assert_eq!(
            waits,
            [300, 600, 1800, 3600, 7200, 14400, 14400, 14400],
            "jitter 0.5 is the exact interval"
        );
        assert_eq!(p.interval(0), p.interval(1));
        assert_eq!(p.interval(u32::MAX), Duration::from_secs(14400));
        assert_eq!(p.max_age, Duration::from_secs(432_000));
        assert_eq!(p.delay_notice, Duration::from_secs(14400));
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let p = RetryPolicy::default();
        assert_eq!(p.next_attempt(1, NOW, 0.0), NOW + 270);
        assert_eq!(p.next_attempt(1, NOW, 0.999_999), NOW + 330);
        for i in 0..100 {
            let at = p.next_attempt(4, NOW, f64::from(i) / 100.0);
            assert!((NOW + 3240..=NOW + 3960).contains(&at), "{at}");
        }
        // Out-of-range and NaN jitter are tamed, never a panic or a past time.
        assert_eq!(p.next_attempt(1, NOW, -5.0), NOW + 270);
        assert_eq!(p.next_attempt(1, NOW, 7.0), NOW + 330);
        assert_eq!(p.next_attempt(1, NOW, f64::NAN), NOW + 300);
        assert_eq!(p.next_attempt(1, i64::MAX, 0.5), i64::MAX);
    }

    #[test]
    fn degenerate_policies_never_retry_in_a_loop() {
        let empty = RetryPolicy {
            intervals: Vec::new(),
            ..RetryPolicy::default()
        };
        assert_eq!(empty.next_attempt(3, NOW, 0.5), NOW + 300);
        let zero = RetryPolicy {
            intervals: vec![Duration::ZERO],
            ..RetryPolicy::default()
        };
        assert_eq!(zero.next_attempt(1, NOW, 0.0), NOW + 1);
    }

    #[test]
    fn expiry_is_at_max_age() {
        let p = RetryPolicy::default();
        let five_days = 5 * 24 * 3600;
        assert_eq!(p.expires_at(NOW), NOW + five_days);
        assert!(!p.expired(NOW, NOW));
        assert!(!p.expired(NOW, NOW + five_days - 1));
        assert!(p.expired(NOW, NOW + five_days));
        // A clock that steps back does not expire anything.
        assert!(!p.expired(NOW, NOW - 100));
        let forever = RetryPolicy {
            max_age: Duration::MAX,
            ..RetryPolicy::default()
        };
        assert!(!forever.expired(NOW, i64::MAX - 1));
    }

    #[test]
    fn delay_notice_once_between_threshold_and_expiry() {
        let p = RetryPolicy::default();
        let four_hours = 4 * 3600;
        assert!(!p.delay_notice_due(NOW, NOW + four_hours - 1, false));
        assert!(p.delay_notice_due(NOW, NOW + four_hours, false));
        assert!(!p.delay_notice_due(NOW, NOW + four_hours, true));
        assert!(!p.delay_notice_due(NOW, p.expires_at(NOW), false));
        // A notice threshold past max_age never fires: the failure DSN comes first.
        let late = RetryPolicy {
            delay_notice: Duration::from_secs(6 * 24 * 3600),
            ..RetryPolicy::default()
        };
        assert!(!late.delay_notice_due(NOW, NOW + 6 * 24 * 3600, false));
    }
}
