//! The lookups every request makes, answered in batches (see `db::batch`): the presented API
//! key with its team, and the signed-in user with their accounts and live roles.

use super::accounts::Account;
use super::keys::{self, ApiKey};
use super::users::{self, WithAccounts};
use crate::db::batch::Batcher;
use crate::db::{Db, DbError};

#[derive(Clone)]
pub struct Lookups {
    keys: Batcher<String, Option<(ApiKey, Account)>>,
    signed_in: Batcher<i64, Option<WithAccounts>>,
}

impl Lookups {
    /// Starts `threads` threads for each lookup; they end when the last `Lookups` is dropped.
    pub fn start(db: &Db, threads: usize) -> std::io::Result<Self> {
        Ok(Self {
            keys: Batcher::start("teamdeck-keys", db, threads, keys::verify_batch)?,
            signed_in: Batcher::start("teamdeck-users", db, threads, users::with_accounts_batch)?,
        })
    }

    /// The key and its team when `presented` is a working key ([`keys::verify`]).
    pub async fn key(&self, presented: String) -> Result<Option<(ApiKey, Account)>, DbError> {
        self.keys.get(presented).await
    }

    /// The user and their accounts, `None` once the user is gone ([`users::with_accounts`]).
    pub async fn signed_in(&self, user_id: i64) -> Result<Option<WithAccounts>, DbError> {
        self.signed_in.get(user_id).await
    }
}
