//! Team API keys: created and revoked by admins, verified on every API call.
//! A key belongs to the team, not to the member who created it: removing that member does
//! not revoke it. Keys of an archived team, and revoked keys, stop working at once.

use super::accounts::Account;
use super::audit::{self, Action, Actor};
use super::{Change, Committed};
use crate::db::schema::{accounts, api_keys, users};
use crate::db::{DbConnection, write_transaction};
use crate::domain::secret::{self, KEY_PREFIX};
use crate::domain::{KeyScope, TeamName, new_id, now_ms};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub struct ApiKey {
    pub id: i64,
    pub account_id: i64,
    pub name: String,
    pub scope: KeyScope,
    pub public_id: String,
    pub last4: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl ApiKey {
    /// How the key is shown after creation: its prefix and last four characters.
    pub fn masked(&self) -> String {
        format!("{KEY_PREFIX}{}…{}", self.public_id, self.last4)
    }
}

/// A key as the keys page lists it.
#[derive(Debug, Clone)]
pub struct KeyListing {
    pub key: ApiKey,
    pub created_by: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("This team is archived: it cannot have new keys.")]
    Archived,
    #[error("That key does not exist or was already deleted.")]
    NotFound,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Creates a key and returns it with its full secret, which is never shown again.
pub fn create(
    conn: &mut DbConnection,
    account: &Account,
    actor: &Actor,
    name: &TeamName,
    scope: KeyScope,
) -> Result<(ApiKey, String), KeyError> {
    if account.is_archived() {
        return Err(KeyError::Archived);
    }
    let minted = secret::mint(KEY_PREFIX);
    let key = ApiKey {
        id: new_id(),
        account_id: account.id,
        name: name.as_str().to_owned(),
        scope,
        public_id: minted.public_id.clone(),
        last4: minted.last4.clone(),
        created_at: now_ms(),
        last_used_at: None,
        revoked_at: None,
    };
    write_transaction(conn, |conn| {
        if super::accounts::lock_for_change(conn, account.id)?.0 {
            return Err(KeyError::Archived);
        }
        diesel::insert_into(api_keys::table)
            .values((
                api_keys::id.eq(key.id),
                api_keys::account_id.eq(key.account_id),
                api_keys::name.eq(&key.name),
                api_keys::scope.eq(key.scope),
                api_keys::public_id.eq(&key.public_id),
                api_keys::secret_hash.eq(&minted.secret_hash),
                api_keys::last4.eq(&key.last4),
                api_keys::created_by.eq((actor.id != Actor::NOT_A_USER).then_some(actor.id)),
                api_keys::created_at.eq(key.created_at),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            account.id,
            actor,
            Action::KeyCreated,
            &key.name,
            &format!("{} · {}", key.scope.as_str(), key.masked()),
        )?;
        Ok::<_, KeyError>(())
    })?;
    Ok((key, minted.full))
}

/// The team's keys that still work, newest first.
pub fn list(conn: &mut DbConnection, account_id: i64) -> QueryResult<Vec<KeyListing>> {
    listings(conn, account_id, None)
}

/// One of the team's keys that still works.
pub fn find(conn: &mut DbConnection, account_id: i64, key_id: i64) -> QueryResult<Option<KeyListing>> {
    Ok(listings(conn, account_id, Some(key_id))?.pop())
}

fn listings(conn: &mut DbConnection, account_id: i64, only: Option<i64>) -> QueryResult<Vec<KeyListing>> {
    let mut query = api_keys::table
        .left_join(users::table.on(users::id.nullable().eq(api_keys::created_by)))
        .filter(api_keys::account_id.eq(account_id))
        .filter(api_keys::revoked_at.is_null())
        .order((api_keys::created_at.desc(), api_keys::id.desc()))
        .select((ApiKey::as_select(), users::name.nullable()))
        .into_boxed();
    if let Some(key_id) = only {
        query = query.filter(api_keys::id.eq(key_id));
    }
    let rows: Vec<(ApiKey, Option<String>)> = query.load(conn)?;
    Ok(rows.into_iter().map(|(key, created_by)| KeyListing { key, created_by }).collect())
}

/// Keys of `account_id` created by `user_id` that still work (for reviewing a departure).
pub fn created_by(conn: &mut DbConnection, account_id: i64, user_id: i64) -> QueryResult<Vec<ApiKey>> {
    api_keys::table
        .filter(api_keys::account_id.eq(account_id))
        .filter(api_keys::created_by.eq(user_id))
        .filter(api_keys::revoked_at.is_null())
        .select(ApiKey::as_select())
        .load(conn)
}

/// Revokes a key: it stops working on the next call.
pub fn revoke(
    conn: &mut DbConnection,
    account_id: i64,
    actor: &Actor,
    key_id: i64,
) -> Result<Committed<ApiKey>, KeyError> {
    let revoked = write_transaction(conn, |conn| {
        let key: ApiKey = api_keys::table
            .filter(api_keys::id.eq(key_id))
            .filter(api_keys::account_id.eq(account_id))
            .filter(api_keys::revoked_at.is_null())
            .select(ApiKey::as_select())
            .first(conn)
            .optional()?
            .ok_or(KeyError::NotFound)?;
        let revoked = diesel::update(api_keys::table.find(key.id).filter(api_keys::revoked_at.is_null()))
            .set(api_keys::revoked_at.eq(now_ms()))
            .execute(conn)?;
        if revoked != 1 {
            return Err(KeyError::NotFound);
        }
        audit::record(conn, account_id, actor, Action::KeyDeleted, &key.name, &key.masked())?;
        Ok(key)
    })?;
    Ok(Committed::new(revoked, [Change::KeyRevoked { account_id }]))
}

/// The key a presented secret belongs to, and its team, whatever their state (revoked,
/// archived): `None` for an unknown key or a wrong secret.
pub fn lookup(conn: &mut DbConnection, presented: &str) -> QueryResult<Option<(ApiKey, Account)>> {
    let Some((public_id, presented_hash)) = secret::parse(KEY_PREFIX, presented) else {
        return Ok(None);
    };
    // Every API call runs this: straight on the backend's connection (see `on_backend!`).
    let found: Option<(ApiKey, String, Account)> = crate::on_backend!(conn, |c| api_keys::table
        .inner_join(accounts::table)
        .filter(api_keys::public_id.eq(public_id))
        .select((ApiKey::as_select(), api_keys::secret_hash, Account::as_select()))
        .first(c)
        .optional())?;
    Ok(found
        .filter(|(_, stored_hash, _)| secret::hashes_match(&presented_hash, stored_hash))
        .map(|(key, _, account)| (key, account)))
}

/// A presented key that works: its record and its team (not archived).
pub fn verify(conn: &mut DbConnection, presented: &str) -> QueryResult<Option<(ApiKey, Account)>> {
    Ok(lookup(conn, presented)?.filter(works))
}

/// Whether a key found by [`lookup`] works: not revoked, its team not archived.
pub fn works((key, account): &(ApiKey, Account)) -> bool {
    key.revoked_at.is_none() && !account.is_archived()
}
