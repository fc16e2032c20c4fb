//! Rendered members tables, kept for reuse while nothing on them has changed.
//!
//! The members page is the heaviest page a team has: fifty rows read, decoded and rendered
//! into some 50 KB of HTML for every view. What it shows changes only when a membership, an
//! invitation or a member's name or email does, and triggers count each such change in the
//! account's `members_version` (migration `members_version`). The version comes with the
//! viewer's live role, which `access::enforce` reads from the database for every request
//! anyway, so a page rendered at the same version is still exact: it is reused without
//! touching the database again. Nothing here is needed by another instance; each keeps its
//! own, and a change made anywhere moves the version they all read.
//!
//! Everything else a rendering depends on is part of the key: the viewer (their own row has
//! no Remove button), what they may do, their session's CSRF token (inside every form), the
//! account's name and slug, and the search and page asked for. An entry with pending
//! invitations also stops being used when the first of them expires. The cache holds at most
//! [`MAX_ENTRIES`] renderings and [`MAX_BYTES`] (HTML and keys), dropping the oldest first.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

pub const MAX_ENTRIES: usize = 256;
pub const MAX_BYTES: usize = 8 * 1024 * 1024;

/// Everything a members table and invitations section are rendered from besides the data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageKey {
    pub account_id: i64,
    pub members_version: i64,
    pub slug: String,
    pub team: String,
    pub viewer: i64,
    pub can: [bool; 3],
    pub csrf: String,
    pub q: String,
    pub after: (Option<String>, Option<i64>),
}

impl PageKey {
    fn size(&self) -> usize {
        self.slug.len()
            + self.team.len()
            + self.csrf.len()
            + self.q.len()
            + self.after.0.as_ref().map_or(0, String::len)
    }
}

/// A members table and invitations section as rendered.
#[derive(Debug)]
pub struct Rendered {
    pub table: String,
    pub invites: String,
    /// When the first pending invitation shown expires (it is then shown as expired).
    pub valid_until: i64,
}

impl Rendered {
    fn size(&self) -> usize {
        self.table.len() + self.invites.len()
    }
}

/// What an entry takes, key included (a search can be long).
fn entry_size(key: &PageKey, rendered: &Rendered) -> usize {
    key.size() + rendered.size()
}

#[derive(Default)]
pub struct MembersCache {
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    map: HashMap<PageKey, Arc<Rendered>>,
    order: VecDeque<PageKey>,
    bytes: usize,
}

impl MembersCache {
    /// The rendering for `key`, if one is kept and still shows the page as it is at `now`.
    pub fn get(&self, key: &PageKey, now: i64) -> Option<Arc<Rendered>> {
        let entries = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.map.get(key).filter(|r| now < r.valid_until).cloned()
    }

    /// Keeps a rendering, replacing any under the same key and dropping the oldest ones
    /// beyond the limits. Renderings of an account's older versions are never asked for
    /// again; they age out the same way.
    pub fn put(&self, key: PageKey, rendered: Rendered) -> Arc<Rendered> {
        let rendered = Arc::new(rendered);
        if rendered.size() > MAX_BYTES / 4 {
            return rendered;
        }
        let mut entries = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entries = &mut *entries;
        entries.bytes += entry_size(&key, &rendered);
        if let Some(old) = entries.map.insert(key.clone(), rendered.clone()) {
            entries.bytes -= entry_size(&key, &old);
            entries.order.retain(|k| *k != key);
        }
        entries.order.push_back(key);
        while entries.order.len() > MAX_ENTRIES || entries.bytes > MAX_BYTES {
            let Some(oldest) = entries.order.pop_front() else { break };
            if let Some(old) = entries.map.remove(&oldest) {
                entries.bytes -= entry_size(&oldest, &old);
            }
        }
        rendered
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().unwrap().map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(version: i64) -> PageKey {
        PageKey {
            account_id: 1,
            members_version: version,
            slug: "acme".into(),
            team: "Acme".into(),
            viewer: 7,
            can: [true, true, true],
            csrf: "token".into(),
            q: String::new(),
            after: (None, None),
        }
    }

    fn rendered(table: &str, valid_until: i64) -> Rendered {
        Rendered { table: table.into(), invites: String::new(), valid_until }
    }

    #[test]
    fn a_rendering_is_found_only_under_its_own_version_viewer_and_token() {
        let cache = MembersCache::default();
        cache.put(key(3), rendered("v3", i64::MAX));
        assert_eq!(cache.get(&key(3), 0).map(|r| r.table.clone()).as_deref(), Some("v3"));
        assert!(cache.get(&key(4), 0).is_none(), "a newer version is a miss");
        assert!(cache.get(&PageKey { viewer: 8, ..key(3) }, 0).is_none(), "another viewer is a miss");
        assert!(cache.get(&PageKey { csrf: "other".into(), ..key(3) }, 0).is_none(), "another session is a miss");
        assert!(cache.get(&PageKey { can: [false, true, true], ..key(3) }, 0).is_none(), "other rights are a miss");
    }

    #[test]
    fn a_rendering_is_not_used_once_an_invitation_on_it_has_expired() {
        let cache = MembersCache::default();
        cache.put(key(1), rendered("with an invitation", 1_000));
        assert!(cache.get(&key(1), 999).is_some());
        assert!(cache.get(&key(1), 1_000).is_none());
    }

    #[test]
    fn the_cache_keeps_at_most_its_limits_dropping_the_oldest_first() {
        let cache = MembersCache::default();
        for version in 0..(MAX_ENTRIES as i64 + 10) {
            cache.put(key(version), rendered("row", i64::MAX));
        }
        assert_eq!(cache.len(), MAX_ENTRIES);
        assert!(cache.get(&key(0), 0).is_none(), "the oldest went first");
        assert!(cache.get(&key(MAX_ENTRIES as i64 + 9), 0).is_some());

        let big = "x".repeat(MAX_BYTES / 5);
        for version in 0..6 {
            cache.put(key(1_000 + version), rendered(&big, i64::MAX));
        }
        let kept = cache.inner.lock().unwrap().bytes;
        assert!(kept <= MAX_BYTES, "kept {kept} bytes");
        assert!(cache.get(&key(1_005), 0).is_some());
    }

    #[test]
    fn putting_the_same_key_again_replaces_it_without_counting_it_twice() {
        let cache = MembersCache::default();
        cache.put(key(1), rendered("first", i64::MAX));
        cache.put(key(1), rendered("second", i64::MAX));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.inner.lock().unwrap().bytes, key(1).size() + "second".len());
        assert_eq!(cache.inner.lock().unwrap().order.len(), 1);
    }
}
