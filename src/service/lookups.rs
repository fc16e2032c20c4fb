//! The lookups every request makes, answered in batches (see `db::batch`): the presented API
//! key with its team, and the signed-in user with their accounts and live roles.
//!
//! A working key is also kept in memory, and the next call with it answered from there, but
//! only while the listener of `db::changes` is live (PostgreSQL): a key revoked or a team
//! archived or renamed on this instance is seen at once ([`credentials::changed`]), and one
//! changed anywhere else as soon as its notification arrives. Without a live listener
//! (SQLite, or the listener's connection lost) every call reads the database.

use super::accounts::Account;
use super::credentials::{self, CredentialCache, Epoch};
use super::keys::{self, ApiKey};
use super::users::{self, WithAccounts};
use crate::db::batch::Batcher;
use crate::db::changes::Changes;
use crate::db::{Db, DbError};
use std::sync::Arc;
use std::time::Duration;

/// How long a working key is answered from memory at most. It bounds how old the key's
/// `last_used_at` in a whoami answer may be (the recorder moves it once a minute).
pub const KEY_TTL: Duration = Duration::from_secs(60);
const MAX_KEYS: usize = 100_000;

#[derive(Clone)]
pub struct Lookups {
    keys: Batcher<String, Option<(ApiKey, Account)>>,
    signed_in: Batcher<i64, Option<WithAccounts>>,
    working_keys: Arc<CredentialCache<(ApiKey, Account)>>,
    changes: Changes,
}

impl Lookups {
    /// Starts `threads` threads for each lookup, and the listener for changes to keys and
    /// teams, moving `epoch`; they end when the last `Lookups` is dropped.
    pub fn start(db: &Db, threads: usize, epoch: Epoch) -> std::io::Result<Self> {
        let heard = epoch.clone();
        Ok(Self {
            keys: Batcher::start("teamdeck-keys", db, threads, keys::verify_batch)?,
            signed_in: Batcher::start("teamdeck-users", db, threads, users::with_accounts_batch)?,
            working_keys: Arc::new(CredentialCache::new(KEY_TTL, MAX_KEYS, epoch)),
            changes: Changes::listen(db, move || heard.bump())?,
        })
    }

    /// The key and its team when `presented` is a working key ([`keys::verify`]).
    pub async fn key(&self, presented: String) -> Result<Option<(ApiKey, Account)>, DbError> {
        if !self.changes.can_listen() {
            return self.keys.get(presented).await;
        }
        let cache_key = credentials::cache_key(&presented, None);
        if self.changes.is_live()
            && let Some((found, _)) = self.working_keys.get(&cache_key)
        {
            return Ok(Some(found));
        }
        let epoch = self.working_keys.epoch();
        let found = self.keys.get(presented).await?;
        if let Some(found) = &found {
            self.working_keys.put(cache_key, epoch, found.clone());
        }
        Ok(found)
    }

    /// The user and their accounts, `None` once the user is gone ([`users::with_accounts`]).
    pub async fn signed_in(&self, user_id: i64) -> Result<Option<WithAccounts>, DbError> {
        self.signed_in.get(user_id).await
    }

    /// Whether keys may be answered from memory now.
    pub fn keys_cached(&self) -> bool {
        self.changes.is_live()
    }
}
