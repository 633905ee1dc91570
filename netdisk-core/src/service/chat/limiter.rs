//! How fast each person may talk: a token bucket per account, `burst` messages at once, then
//! `per_second` a second. Kept in memory by each server process (a person talking through two
//! processes at once gets each one's allowance).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The buckets of everyone who talked recently.
pub(super) struct Limiter {
    burst: f64,
    per_second: f64,
    buckets: Mutex<HashMap<i64, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Buckets full again after this long idle are forgotten, so the map stays small.
const FORGET_AFTER: Duration = Duration::from_secs(600);

impl Limiter {
    pub(super) fn new(burst: u32, per_second: u32) -> Limiter {
        Limiter {
            burst: f64::from(burst.max(1)),
            per_second: f64::from(per_second.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one message's token for `user` at `now`; when there is none, how long until there
    /// is.
    pub(super) fn take(&self, user: i64, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 10_000 {
            buckets.retain(|_, b| now.duration_since(b.at) < FORGET_AFTER);
        }
        let bucket = buckets.entry(user).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refilled = now.duration_since(bucket.at).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + refilled).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / self.per_second;
            Err(Duration::from_secs_f64(wait))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let limiter = Limiter::new(3, 2);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take(1, start).is_ok());
        }
        let wait = limiter.take(1, start).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        assert!(
            limiter.take(2, start).is_ok(),
            "another person has their own bucket"
        );
        assert!(limiter.take(1, start + Duration::from_millis(500)).is_ok());
        assert!(limiter.take(1, start + Duration::from_millis(600)).is_err());
        assert!(
            limiter.take(1, start + Duration::from_secs(60)).is_ok(),
            "refilled"
        );
    }
}
