//! Team API keys: created and revoked by admins, verified on every API call.
//! A key belongs to the team, not to the member who created it: removing that member does
//! not revoke it. Keys of an archived team, and revoked keys, stop working at once. A
//! deleted key is archived, not erased: the keys page lists it with who deleted it.
//! The guardrails a key carries (expiry, a rotated secret's grace, an address allowlist, a
//! monthly spend cap) are in [`guards`]; rotation in [`rotation`].

pub mod emails;
pub mod guards;
pub mod reminders;
pub mod rotation;
pub mod spend;

use super::accounts::Account;
use super::audit::{self, Action, Actor};
use super::{Change, Committed};
use crate::db::schema::{accounts, api_keys, users};
use crate::db::{DbConnection, write_transaction};
use crate::domain::secret::{self, KEY_PREFIX};
use crate::domain::{Allowlist, KeyScope, TeamName, new_id, now_ms};
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
    /// When the key stops working (`None`: never).
    pub expires_at: Option<i64>,
    /// After a rotation: the old secret's last four characters and until when it works.
    pub previous_last4: Option<String>,
    pub previous_until: Option<i64>,
    pub rotated_at: Option<i64>,
    pub allowed_ips: Allowlist,
    /// Micro-dollars per calendar month.
    pub spend_cap: Option<i64>,
    /// The end of the month whose spend reached the cap (set by usage ingestion).
    pub spend_capped_until: Option<i64>,
    pub last_used_ip: Option<String>,
    /// The team key this key was created with (`created_by` names a member).
    pub created_by_key: Option<String>,
    /// Who deleted (archived) it.
    pub revoked_by: Option<String>,
}

impl ApiKey {
    /// How the key is shown after creation: its prefix and last four characters.
    pub fn masked(&self) -> String {
        format!("{KEY_PREFIX}{}…{}", self.public_id, self.last4)
    }

    /// The rotated-out secret, masked, while it still works at `now`.
    pub fn previous_masked(&self, now: i64) -> Option<String> {
        let last4 = self.previous_last4.as_ref()?;
        self.previous_until.filter(|until| *until > now).map(|_| format!("{KEY_PREFIX}{}…{last4}", self.public_id))
    }
}

/// What a new key is given besides its name and scope.
#[derive(Debug, Clone, Default)]
pub struct KeyTerms {
    pub expires_at: Option<i64>,
    pub allowed_ips: Allowlist,
    pub spend_cap: Option<i64>,
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
    #[error("{0}")]
    Invalid(String),
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
    terms: &KeyTerms,
) -> Result<(ApiKey, String), KeyError> {
    if account.is_archived() {
        return Err(KeyError::Archived);
    }
    if terms.spend_cap.is_some_and(|cap| cap <= 0) {
        return Err(KeyError::Invalid("A spend cap must be more than $0.".into()));
    }
    let made_by_key = (actor.id == Actor::NOT_A_USER).then(|| actor.name.trim_start_matches("team key ").to_owned());
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
        expires_at: terms.expires_at,
        previous_last4: None,
        previous_until: None,
        rotated_at: None,
        allowed_ips: terms.allowed_ips.clone(),
        spend_cap: terms.spend_cap,
        spend_capped_until: None,
        last_used_ip: None,
        created_by_key: made_by_key,
        revoked_by: None,
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
                api_keys::expires_at.eq(key.expires_at),
                api_keys::allowed_ips.eq(&key.allowed_ips),
                api_keys::spend_cap.eq(key.spend_cap),
                api_keys::created_by_key.eq(&key.created_by_key),
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

/// The team's keys that still work (not deleted), newest first.
pub fn list(conn: &mut DbConnection, account_id: i64) -> QueryResult<Vec<KeyListing>> {
    listings(conn, account_id, None, false)
}

/// The team's deleted (archived) keys, most recently deleted first.
pub fn archived(conn: &mut DbConnection, account_id: i64) -> QueryResult<Vec<KeyListing>> {
    let mut list = listings(conn, account_id, None, true)?;
    list.sort_by_key(|l| std::cmp::Reverse(l.key.revoked_at));
    Ok(list)
}

/// One of the team's keys that still works.
pub fn find(conn: &mut DbConnection, account_id: i64, key_id: i64) -> QueryResult<Option<KeyListing>> {
    Ok(listings(conn, account_id, Some(key_id), false)?.pop())
}

fn listings(
    conn: &mut DbConnection,
    account_id: i64,
    only: Option<i64>,
    deleted: bool,
) -> QueryResult<Vec<KeyListing>> {
    let mut query = api_keys::table
        .left_join(users::table.on(users::id.nullable().eq(api_keys::created_by)))
        .filter(api_keys::account_id.eq(account_id))
        .order((api_keys::created_at.desc(), api_keys::id.desc()))
        .select((ApiKey::as_select(), users::name.nullable()))
        .into_boxed();
    query = if deleted {
        query.filter(api_keys::revoked_at.is_not_null())
    } else {
        query.filter(api_keys::revoked_at.is_null())
    };
    if let Some(key_id) = only {
        query = query.filter(api_keys::id.eq(key_id));
    }
    let rows: Vec<(ApiKey, Option<String>)> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(key, member)| {
            let created_by = member.or_else(|| key.created_by_key.as_ref().map(|k| format!("team key {k}")));
            KeyListing { key, created_by }
        })
        .collect())
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
            .set((api_keys::revoked_at.eq(now_ms()), api_keys::revoked_by.eq(&actor.name)))
            .execute(conn)?;
        if revoked != 1 {
            return Err(KeyError::NotFound);
        }
        audit::record(conn, account_id, actor, Action::KeyDeleted, &key.name, &key.masked())?;
        Ok(key)
    })?;
    Ok(Committed::new(revoked, [Change::KeyRevoked { account_id }]))
}

/// A key found by a presented secret, whatever its state (revoked, expired, archived team).
#[derive(Debug, Clone)]
pub struct Found {
    pub key: ApiKey,
    pub account: Account,
    /// The secret presented is the one a rotation replaced (in its grace, or past it).
    pub old_secret: bool,
}

impl Found {
    /// Not revoked, its team not archived: what may be kept in memory (the other checks,
    /// [`guards::check`], depend on the time and the caller's address).
    pub fn may_work(&self) -> bool {
        self.key.revoked_at.is_none() && !self.account.is_archived()
    }
}

/// The row [`lookup`] reads: the key, its current and previous secret hashes, its team.
pub type LookupRow = (ApiKey, String, Option<String>, Account);

/// Which secret of a looked-up row `presented_hash` is, if either.
pub fn matched((key, current, previous, account): LookupRow, presented_hash: &str) -> Option<Found> {
    if secret::hashes_match(presented_hash, &current) {
        Some(Found { key, account, old_secret: false })
    } else if previous.is_some_and(|p| secret::hashes_match(presented_hash, &p)) {
        Some(Found { key, account, old_secret: true })
    } else {
        None
    }
}

/// The key a presented secret (its current one, or the one a rotation replaced) belongs to,
/// and its team, whatever their state: `None` for an unknown key or a wrong secret.
pub fn lookup(conn: &mut DbConnection, presented: &str) -> QueryResult<Option<Found>> {
    let Some((public_id, presented_hash)) = secret::parse(KEY_PREFIX, presented) else {
        return Ok(None);
    };
    // Every API call runs this: straight on the backend's connection (see `on_backend!`).
    let found: Option<LookupRow> = crate::on_backend!(conn, |c| api_keys::table
        .inner_join(accounts::table)
        .filter(api_keys::public_id.eq(public_id))
        .select((ApiKey::as_select(), api_keys::secret_hash, api_keys::previous_secret_hash, Account::as_select()))
        .first(c)
        .optional())?;
    Ok(found.and_then(|row| matched(row, &presented_hash)))
}
