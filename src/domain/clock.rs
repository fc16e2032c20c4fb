//! Now, as the server sees it: the system clock, or one that tests can move forward to see
//! what happens days later (a session going idle, an expiry) without waiting for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// The system clock ([`Clock::default`]) or a movable one ([`Clock::movable`]). Cheap to
/// clone; clones share the offset.
#[derive(Debug, Clone, Default)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    /// The system clock, which can be moved forward with [`Clock::advance`].
    pub fn movable() -> Self {
        Self(Some(Arc::new(AtomicI64::new(0))))
    }

    /// Moves a movable clock forward; the system clock stays where it is.
    pub fn advance(&self, by: Duration) {
        if let Some(offset) = &self.0 {
            offset.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
        }
    }

    /// UTC milliseconds since the epoch.
    pub fn now_ms(&self) -> i64 {
        super::now_ms() + self.0.as_ref().map_or(0, |offset| offset.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_movable_clock_moves_for_every_clone_and_the_system_clock_does_not() {
        let clock = Clock::movable();
        let copy = clock.clone();
        let before = copy.now_ms();
        clock.advance(Duration::from_secs(15 * 24 * 3600));
        assert!(copy.now_ms() - before >= 15 * 24 * 3600 * 1000);
        let system = Clock::default();
        system.advance(Duration::from_secs(3600));
        assert!(system.now_ms() - super::super::now_ms() < 60_000);
    }
}
