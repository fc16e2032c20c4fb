//! Answers kept in memory by a hash of what was presented (the secret itself is never
//! kept): working team keys, and introspection answers for the platform's gateways. Every
//! answer is stamped with the [`Epoch`] read before the database was asked, and is served
//! only while the epoch is still that one: a change heard (this instance's own, after its
//! commit, or another's through the listener) moves the epoch and makes every kept answer
//! stale at once.

use super::introspect::Introspection;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A count of the changes that may have made a cached credential stale. A cached answer is
/// served only while the count is the one read before the database was asked.
#[derive(Clone, Default)]
pub struct Epoch(Arc<AtomicU64>);

impl Epoch {
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    /// Makes every answer cached under this epoch stale.
    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// The cache key of a credential and the team it is used for.
pub fn cache_key(credential: &str, team: Option<&str>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(credential.trim().as_bytes());
    hasher.update([0]);
    hasher.update(team.unwrap_or_default().as_bytes());
    hasher.finalize().into()
}

struct Entry<V> {
    answer: V,
    epoch: u64,
    expires: Instant,
}

/// Answers by a hash of what was presented (the secret itself is never kept): introspection
/// answers (`Arc<Introspection>`, the default) or working team keys.
pub struct CredentialCache<V = Arc<Introspection>> {
    ttl: Duration,
    max_entries: usize,
    epoch: Epoch,
    entries: Mutex<HashMap<[u8; 32], Entry<V>>>,
}

impl<V: Clone> CredentialCache<V> {
    /// A cache whose answers go stale when `epoch` moves.
    pub fn new(ttl: Duration, max_entries: usize, epoch: Epoch) -> Self {
        Self { ttl, max_entries, epoch, entries: Mutex::new(HashMap::new()) }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A fresh cached answer, if any, with how long it stays fresh.
    pub fn get(&self, key: &[u8; 32]) -> Option<(V, Duration)> {
        let epoch = self.epoch.current();
        let now = Instant::now();
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(key).filter(|e| e.epoch == epoch && e.expires > now).map(|e| (e.answer.clone(), e.expires - now))
    }

    /// Keeps an answer; `epoch` is [`CredentialCache::epoch`] read before the database was
    /// asked, so an answer that raced a change is never kept as fresh.
    pub fn put(&self, key: [u8; 32], epoch: u64, answer: V) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.max_entries {
            let now = Instant::now();
            let current = self.epoch.current();
            entries.retain(|_, e| e.epoch == current && e.expires > now);
            if entries.len() >= self.max_entries {
                entries.clear();
            }
        }
        entries.insert(key, Entry { answer, epoch, expires: Instant::now() + self.ttl });
    }

    /// The current change count, to read before asking the database and pass to
    /// [`CredentialCache::put`].
    pub fn epoch(&self) -> u64 {
        self.epoch.current()
    }
}

impl CredentialCache {
    /// Keeps an introspection answer if it is active: a credential that does not work is
    /// asked about again (it may be one about to be created).
    pub fn put_active(&self, key: [u8; 32], epoch: u64, answer: Arc<Introspection>) {
        if matches!(*answer, Introspection::Active(_)) {
            self.put(key, epoch, answer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_heard_makes_every_kept_answer_stale() {
        let epoch = Epoch::default();
        let cache = CredentialCache::new(Duration::from_secs(300), 10, epoch.clone());
        let key = cache_key("Key tdk_x", None);
        cache.put(key, cache.epoch(), "acme");
        let (_, left) = cache.get(&key).expect("kept");
        assert!(left <= Duration::from_secs(300) && left > Duration::from_secs(290));
        epoch.bump();
        assert!(cache.get(&key).is_none(), "stale after a change");
        // An answer read before a change and stored after it is never served.
        let before = cache.epoch();
        epoch.bump();
        cache.put(key, before, "acme");
        assert!(cache.get(&key).is_none());
    }

    #[test]
    fn only_active_answers_are_kept_and_never_past_their_time() {
        let cache = CredentialCache::new(Duration::from_secs(300), 10, Epoch::default());
        let key = cache_key("Key tdk_y", Some("acme"));
        cache.put_active(key, cache.epoch(), Arc::new(Introspection::Inactive("revoked")));
        assert!(cache.get(&key).is_none());
        let off = CredentialCache::new(Duration::ZERO, 10, Epoch::default());
        off.put(key, off.epoch(), "acme");
        assert!(off.get(&key).is_none(), "a TTL of 0 turns the cache off");
        assert_ne!(key, cache_key("Key tdk_y", None), "the team is part of the key");
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = CredentialCache::new(Duration::from_secs(300), 3, Epoch::default());
        let epoch = cache.epoch();
        for i in 0..10 {
            cache.put(cache_key(&format!("Key tdk_{i}"), None), epoch, i);
        }
        assert!(cache.entries.lock().unwrap().len() <= 3);
    }
}
