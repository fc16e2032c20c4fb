//! Rotation with an overlap: a new secret is issued under the key's public id and the old
//! one keeps working for a grace period chosen at rotation (one hour to seven days), or
//! until an admin retires it. Calls made with the old secret are marked in the request
//! history, so the team can find who has not switched; after the grace it is refused with
//! `key_rotated`. A second rotation replaces the old secret: only one is ever kept.

use super::{ApiKey, KeyError};
use crate::db::schema::api_keys;
use crate::db::{DbConnection, write_transaction};
use crate::domain::secret::{self, KEY_PREFIX};
use crate::domain::{Grace, now_ms};
use crate::service::audit::{self, Action, Actor};
use crate::service::{Change, Committed};
use diesel::prelude::*;

fn working_key(conn: &mut DbConnection, account_id: i64, key_id: i64) -> Result<ApiKey, KeyError> {
    api_keys::table
        .filter(api_keys::id.eq(key_id))
        .filter(api_keys::account_id.eq(account_id))
        .filter(api_keys::revoked_at.is_null())
        .select(ApiKey::as_select())
        .first(conn)
        .optional()?
        .ok_or(KeyError::NotFound)
}

/// Issues a new secret for a key (returned this once) and keeps the old one working for
/// `grace`.
pub fn rotate(
    conn: &mut DbConnection,
    account_id: i64,
    actor: &Actor,
    key_id: i64,
    grace: Grace,
) -> Result<Committed<(ApiKey, String)>, KeyError> {
    let rotated = write_transaction(conn, |conn| {
        if super::super::accounts::lock_for_change(conn, account_id)?.0 {
            return Err(KeyError::Archived);
        }
        let (mut key, current_hash): (ApiKey, String) = api_keys::table
            .filter(api_keys::id.eq(key_id))
            .filter(api_keys::account_id.eq(account_id))
            .filter(api_keys::revoked_at.is_null())
            .select((ApiKey::as_select(), api_keys::secret_hash))
            .first(conn)
            .optional()?
            .ok_or(KeyError::NotFound)?;
        let minted = secret::mint_for(KEY_PREFIX, key.public_id.clone());
        let now = now_ms();
        let until = now + grace.ms();
        diesel::update(api_keys::table.find(key.id))
            .set((
                api_keys::previous_secret_hash.eq(&current_hash),
                api_keys::previous_last4.eq(&key.last4),
                api_keys::previous_until.eq(until),
                api_keys::rotated_at.eq(now),
                api_keys::secret_hash.eq(&minted.secret_hash),
                api_keys::last4.eq(&minted.last4),
            ))
            .execute(conn)?;
        key.previous_last4 = Some(std::mem::replace(&mut key.last4, minted.last4.clone()));
        key.previous_until = Some(until);
        key.rotated_at = Some(now);
        audit::record(
            conn,
            account_id,
            actor,
            Action::KeyRotated,
            &key.name,
            &format!("{} · the old secret works until {}", key.masked(), crate::domain::When::from_ms(until).text),
        )?;
        Ok((key, minted.full))
    })?;
    Ok(Committed::new(rotated, [Change::KeyChanged { account_id }]))
}

/// Ends a rotated key's grace now: its old secret is refused from the next call on.
pub fn retire_old_secret(
    conn: &mut DbConnection,
    account_id: i64,
    actor: &Actor,
    key_id: i64,
) -> Result<Committed<ApiKey>, KeyError> {
    let retired = write_transaction(conn, |conn| {
        let mut key = working_key(conn, account_id, key_id)?;
        let now = now_ms();
        if key.previous_until.is_none_or(|until| until <= now) {
            return Err(KeyError::Invalid(format!("Key {} has no old secret that still works.", key.name)));
        }
        diesel::update(api_keys::table.find(key.id)).set(api_keys::previous_until.eq(now)).execute(conn)?;
        key.previous_until = Some(now);
        audit::record(conn, account_id, actor, Action::KeyRotated, &key.name, "the old secret was retired")?;
        Ok(key)
    })?;
    Ok(Committed::new(retired, [Change::KeyChanged { account_id }]))
}
