//! Sign-in rate limiting: fixed windows counted per email address and per client address.
//!
//! Kept in process memory: each instance limits what it sees, which bounds guessing per
//! instance without a database write on every attempt.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct LoginLimiter {
    window: Duration,
    max_failures_per_email: u32,
    max_attempts_per_client: u32,
    failures_by_email: Mutex<HashMap<String, Window>>,
    attempts_by_client: Mutex<HashMap<String, Window>>,
}

#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    count: u32,
}

/// How long until the caller may try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// "Try again in 3 minutes." (whole minutes, at least one).
    pub fn try_again(&self) -> String {
        let minutes = self.0.as_secs().div_ceil(60).max(1);
        format!("Try again in {minutes} minute{}.", if minutes == 1 { "" } else { "s" })
    }

    /// The `Retry-After` header's value: whole seconds, at least one.
    pub fn seconds(&self) -> u64 {
        self.0.as_secs().max(1)
    }
}

const MAX_TRACKED: usize = 100_000;

impl LoginLimiter {
    pub fn new(window: Duration, max_failures_per_email: u32, max_attempts_per_client: u32) -> Self {
        Self {
            window,
            max_failures_per_email,
            max_attempts_per_client,
            failures_by_email: Mutex::default(),
            attempts_by_client: Mutex::default(),
        }
    }

    /// Counts an attempt from `client` and refuses it when either limit is reached.
    pub fn check(&self, email: &str, client: &str) -> Result<(), RetryAfter> {
        let now = Instant::now();
        self.count(&self.attempts_by_client, client, self.max_attempts_per_client, now, 1)?;
        self.count(&self.failures_by_email, email, self.max_failures_per_email, now, 0)
    }

    /// Counts a wrong password for `email`.
    pub fn record_failure(&self, email: &str) {
        let _ = self.count(&self.failures_by_email, email, u32::MAX, Instant::now(), 1);
    }

    fn count(
        &self,
        map: &Mutex<HashMap<String, Window>>,
        key: &str,
        max: u32,
        now: Instant,
        add: u32,
    ) -> Result<(), RetryAfter> {
        let mut map = map.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if map.len() >= MAX_TRACKED {
            map.retain(|_, w| now.duration_since(w.started) < self.window);
        }
        let window = map.entry(key.to_owned()).or_insert(Window { started: now, count: 0 });
        if now.duration_since(window.started) >= self.window {
            *window = Window { started: now, count: 0 };
        }
        if window.count >= max {
            return Err(RetryAfter(self.window.saturating_sub(now.duration_since(window.started))));
        }
        window.count = window.count.saturating_add(add);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_for_one_email_are_limited_without_touching_others() {
        let limiter = LoginLimiter::new(Duration::from_secs(60), 3, 100);
        for _ in 0..3 {
            assert!(limiter.check("a@x.io", "1.2.3.4").is_ok());
            limiter.record_failure("a@x.io");
        }
        let refused = limiter.check("a@x.io", "5.6.7.8").unwrap_err();
        assert!(refused.0 <= Duration::from_secs(60) && refused.0 > Duration::from_secs(50));
        assert!(limiter.check("b@x.io", "1.2.3.4").is_ok());
    }

    #[test]
    fn attempts_from_one_client_are_limited() {
        let limiter = LoginLimiter::new(Duration::from_secs(60), 100, 2);
        assert!(limiter.check("a@x.io", "9.9.9.9").is_ok());
        assert!(limiter.check("b@x.io", "9.9.9.9").is_ok());
        assert!(limiter.check("c@x.io", "9.9.9.9").is_err());
        assert!(limiter.check("c@x.io", "8.8.8.8").is_ok());
    }

    #[test]
    fn a_window_resets_after_it_passes() {
        let limiter = LoginLimiter::new(Duration::from_millis(20), 1, 100);
        limiter.record_failure("a@x.io");
        assert!(limiter.check("a@x.io", "c").is_err());
        std::thread::sleep(Duration::from_millis(25));
        assert!(limiter.check("a@x.io", "c").is_ok());
    }
}
