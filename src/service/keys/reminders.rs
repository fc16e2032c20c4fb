//! The expiry reminder: one email to a team's admins 7 days before one of its keys expires
//! (or at once for a key created with less time than that). A pass is idempotent: a key is
//! marked reminded in the transaction that queues its emails.

use super::ApiKey;
use crate::db::schema::{accounts, api_keys, memberships, users};
use crate::db::{DbConnection, write_transaction};
use crate::domain::{Role, When};
use crate::service::accounts::Account;
use crate::service::outbox;
use diesel::prelude::*;

/// How long before its expiry a key's admins are reminded.
pub const REMIND_BEFORE_MS: i64 = 7 * 24 * 3600 * 1000;

/// Queues the reminders due at `now`; returns how many keys were reminded about.
pub fn remind_expiring(conn: &mut DbConnection, now: i64, base_url: &str) -> QueryResult<usize> {
    write_transaction(conn, |conn| {
        let due: Vec<(ApiKey, Account)> = api_keys::table
            .inner_join(accounts::table)
            .filter(api_keys::revoked_at.is_null())
            .filter(accounts::archived_at.is_null())
            .filter(api_keys::expiry_reminded_at.is_null())
            .filter(api_keys::expires_at.gt(now))
            .filter(api_keys::expires_at.le(now + REMIND_BEFORE_MS))
            .select((ApiKey::as_select(), Account::as_select()))
            .load(conn)?;
        for (key, account) in &due {
            diesel::update(api_keys::table.find(key.id)).set(api_keys::expiry_reminded_at.eq(now)).execute(conn)?;
            let composed = super::emails::expiry_reminder(&super::emails::ExpiryReminder {
                team: &account.name,
                key: &key.name,
                expires: &When::from_ms(key.expires_at.unwrap_or(now)).text,
                link: &format!("{base_url}/a/{}/keys", account.slug),
            })
            .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
            let admins: Vec<String> = memberships::table
                .inner_join(users::table)
                .filter(memberships::account_id.eq(account.id))
                .filter(memberships::role.eq(Role::Admin))
                .select(users::email)
                .load(conn)?;
            outbox::enqueue_to_each(conn, admins, &composed)?;
        }
        Ok(due.len())
    })
}
