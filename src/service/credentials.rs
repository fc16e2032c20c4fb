//! What a credential is worth right now, for the platform's gateways (`POST
//! /api/v1/introspect`), with an in-memory cache for the hot path; and the cache of working
//! team keys that Teamdeck's own API may answer from (see `service::lookups`).
//!
//! Bounds: a cached answer is used for at most the cache's TTL (`TEAMDECK_INTROSPECT_CACHE_SECONDS`,
//! 5 s by default), and a gateway is told to keep it only for what is left of that, so a key
//! revoked, a team archived or a member removed on another instance stops working everywhere
//! within one TTL. On the instance that made the change introspection sees it at once: every
//! such change calls [`changed`] after it commits, which makes every cached answer stale. On
//! PostgreSQL a change made anywhere (another instance, `psql`) to a key, a team, a
//! membership, a login token or a user does the same as soon as this instance hears of it
//! (`db::changes`, within about 10 ms while its listener is live).

use super::accounts::{Account, AccountMembership};
use super::keys::ApiKey;
use super::users::User;
use crate::db::DbConnection;
use crate::db::schema::{accounts, memberships};
use crate::domain::secret::{KEY_PREFIX, TOKEN_PREFIX};
use crate::domain::{KeyScope, Role};
use diesel::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

/// A count of the changes that may have made a cached credential stale. A cached answer is
/// served only while the count is the one read before the database was asked.
#[derive(Clone, Default)]
pub struct Epoch(Arc<AtomicU64>);

impl Epoch {
    /// The process's own, which [`changed`] moves.
    pub fn global() -> Epoch {
        static GLOBAL: LazyLock<Epoch> = LazyLock::new(Epoch::default);
        GLOBAL.clone()
    }

    pub fn current(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    /// Makes every answer cached under this epoch stale.
    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A credential may have stopped working (key revoked, team archived or renamed, member
/// removed or changed, token revoked): forget every cached answer. Call it after the change
/// commits, so an answer cached in between cannot outlive it.
pub fn changed() {
    Epoch::global().bump();
}

/// The answer to "who is this credential, may it be used now".
#[derive(Debug, Clone)]
pub enum Introspection {
    Active(Box<Grant>),
    /// Why not, in words a gateway can log: `unknown`, `revoked`, `archived`, `not_a_member`.
    Inactive(&'static str),
}

#[derive(Debug, Clone)]
pub struct Grant {
    pub account: Account,
    /// The member behind a login token.
    pub user: Option<User>,
    /// Their role in the account (login token).
    pub role: Option<Role>,
    /// The team key used.
    pub key: Option<ApiKey>,
    /// The scope of the key.
    pub scope: Option<KeyScope>,
}

/// Checks `credential` — an `Authorization` header value (`Key …` or `Bearer …`) or a bare
/// secret — against the database. `team` names the team a login token acts for (its
/// `X-Teamdeck-Team`); without it a login token acts for the member's personal account.
pub fn introspect(conn: &mut DbConnection, credential: &str, team: Option<&str>) -> QueryResult<Introspection> {
    let presented = credential.trim();
    let presented =
        presented.strip_prefix("Key ").or_else(|| presented.strip_prefix("Bearer ")).unwrap_or(presented).trim();
    if presented.starts_with(KEY_PREFIX) {
        key(conn, presented)
    } else if presented.starts_with(TOKEN_PREFIX) {
        login_token(conn, presented, team)
    } else {
        Ok(Introspection::Inactive("unknown"))
    }
}

fn key(conn: &mut DbConnection, presented: &str) -> QueryResult<Introspection> {
    Ok(match super::keys::lookup(conn, presented)? {
        None => Introspection::Inactive("unknown"),
        Some((key, _)) if key.revoked_at.is_some() => Introspection::Inactive("revoked"),
        Some((_, account)) if account.is_archived() => Introspection::Inactive("archived"),
        Some((key, account)) => {
            let scope = Some(key.scope);
            Introspection::Active(Box::new(Grant { account, user: None, role: None, key: Some(key), scope }))
        }
    })
}

fn login_token(conn: &mut DbConnection, presented: &str, team: Option<&str>) -> QueryResult<Introspection> {
    let Some((_, user)) = super::tokens::verify(conn, presented)? else {
        return Ok(Introspection::Inactive("unknown"));
    };
    let mut query = accounts::table
        .inner_join(memberships::table)
        .filter(memberships::user_id.eq(user.id))
        .select((Account::as_select(), memberships::role))
        .into_boxed();
    query = match team {
        Some(slug) => query.filter(accounts::slug.eq(slug.to_owned())),
        None => query.filter(accounts::personal_owner_id.eq(user.id)),
    };
    let found: Option<AccountMembership> = query.first(conn).optional()?;
    Ok(match found {
        None => Introspection::Inactive("not_a_member"),
        Some(AccountMembership { account, .. }) if account.is_archived() => Introspection::Inactive("archived"),
        Some(AccountMembership { account, role }) => Introspection::Active(Box::new(Grant {
            account,
            user: Some(user),
            role: Some(role),
            key: None,
            scope: None,
        })),
    })
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

    fn grant() -> Arc<Introspection> {
        let account = Account {
            id: 1,
            kind: crate::domain::AccountKind::Team,
            slug: "acme".into(),
            name: "Acme".into(),
            personal_owner_id: None,
            created_at: 0,
            archived_at: None,
            members_version: 0,
        };
        Arc::new(Introspection::Active(Box::new(Grant { account, user: None, role: None, key: None, scope: None })))
    }

    #[test]
    fn a_change_on_this_instance_makes_every_cached_answer_stale() {
        let cache = CredentialCache::new(Duration::from_secs(300), 10, Epoch::global());
        let key = cache_key("Key tdk_x", None);
        cache.put(key, cache.epoch(), grant());
        let (_, left) = cache.get(&key).expect("cached");
        assert!(left <= Duration::from_secs(300) && left > Duration::from_secs(290));
        changed();
        assert!(cache.get(&key).is_none(), "stale after a change");
        // An answer read before a change and stored after it is never served.
        let before = cache.epoch();
        changed();
        cache.put(key, before, grant());
        assert!(cache.get(&key).is_none());
    }

    #[test]
    fn only_active_answers_are_kept_and_never_past_their_time() {
        let cache = CredentialCache::new(Duration::from_secs(300), 10, Epoch::global());
        let key = cache_key("Key tdk_y", Some("acme"));
        cache.put_active(key, cache.epoch(), Arc::new(Introspection::Inactive("revoked")));
        assert!(cache.get(&key).is_none());
        let off = CredentialCache::new(Duration::ZERO, 10, Epoch::global());
        off.put_active(key, off.epoch(), grant());
        assert!(off.get(&key).is_none(), "a TTL of 0 turns the cache off");
        assert_ne!(key, cache_key("Key tdk_y", None), "the team is part of the key");
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = CredentialCache::new(Duration::from_secs(300), 3, Epoch::default());
        let epoch = cache.epoch();
        for i in 0..10 {
            cache.put(cache_key(&format!("Key tdk_{i}"), None), epoch, grant());
        }
        assert!(cache.entries.lock().unwrap().len() <= 3);
    }
}
