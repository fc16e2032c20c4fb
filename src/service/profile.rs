//! A person's own account, as they change it on `/account`: their name (shown in every team
//! at once) and their password (every other browser is signed out); their email address is
//! `email_change`'s. Each change is one transaction that records it in the person's security
//! log.
//!
//! Lock order, as everywhere (`accounts::lock_for_change`): the teams a change shows in
//! first, in id order, then the user's row.

use super::security_log::{self, Event, SecurityEvent};
use super::users::{self, HeldBy};
use super::{Change, Committed, accounts, email_links, sessions, tokens};
use crate::db::schema::{accounts as accounts_t, email_links as links_t, invitations, memberships, users as users_t};
use crate::db::{DbConnection, write_transaction};
use crate::domain::{EmailLinkPurpose, PersonName, now_ms};
use diesel::prelude::*;

/// How many of the latest security events `/account` shows.
pub const EVENTS_SHOWN: i64 = 20;

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("This account no longer exists.")]
    Gone,
    /// Asked to change the address to the one it is.
    #[error("That is already your email address.")]
    SameAddress,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// What `/account` shows besides the person themselves.
#[derive(Debug)]
pub struct Overview {
    /// The teams the person is the only admin of (they keep the account from being deleted).
    pub held: Vec<HeldBy>,
    /// The latest events of the security log, newest first.
    pub events: Vec<SecurityEvent>,
    /// Login tokens of the CLI that still work.
    pub cli_tokens: usize,
    /// A new address waiting for its link to be opened, and when that link ends.
    pub pending_email: Option<(String, i64)>,
}

pub fn overview(conn: &mut DbConnection, user_id: i64) -> QueryResult<Overview> {
    let (_, held) = users::teams_held(conn, user_id, false)?;
    let events = security_log::latest(conn, user_id, EVENTS_SHOWN)?;
    let cli_tokens = tokens::list(conn, user_id)?.len();
    let pending_email = links_t::table
        .filter(links_t::user_id.eq(user_id))
        .filter(links_t::purpose.eq(EmailLinkPurpose::ChangeEmail))
        .filter(links_t::used_at.is_null())
        .filter(links_t::voided_at.is_null())
        .filter(links_t::expires_at.gt(now_ms()))
        .order(links_t::created_at.desc())
        .select((links_t::email, links_t::expires_at))
        .first(conn)
        .optional()?;
    Ok(Overview { held, events, cli_tokens, pending_email })
}

/// The password hash of a live user, to check the password they type again.
pub fn password_hash(conn: &mut DbConnection, user_id: i64) -> QueryResult<Option<String>> {
    users_t::table
        .find(user_id)
        .filter(users_t::deleted_at.is_null())
        .select(users_t::password_hash)
        .first(conn)
        .optional()
}

/// The user's row as a change reads it, locked until the transaction ends.
pub(super) struct Locked {
    pub name: String,
    pub email: String,
    pub email_normalized: String,
}

/// The live user's row, locked against other changes of it (and against deletion) until the
/// transaction ends; `None` once the user is deleted. SQLite's write lock covers it.
pub(super) fn lock_user(conn: &mut DbConnection, user_id: i64) -> QueryResult<Option<Locked>> {
    let row = users_t::table.find(user_id).filter(users_t::deleted_at.is_null()).select((
        users_t::name,
        users_t::email,
        users_t::email_normalized,
    ));
    let found: Option<(String, String, String)> = match conn {
        DbConnection::Postgres(pg) => row.for_no_key_update().first(pg).optional()?,
        DbConnection::Sqlite(_) => row.first(conn).optional()?,
    };
    Ok(found.map(|(name, email, email_normalized)| Locked { name, email, email_normalized }))
}

/// Changes the person's name: in every team at once (the members pages' `members_version`
/// moves with it, on every instance) and in the order of members lists; their personal
/// account follows it unless they renamed that account themselves. `false` when the name
/// was already this one (nothing written).
pub fn change_name(
    conn: &mut DbConnection,
    user_id: i64,
    name: &PersonName,
    client_address: &str,
) -> Result<Committed<bool>, ProfileError> {
    let new = name.as_str();
    let (changed, personal) = write_transaction(conn, |conn| {
        // Every team that shows the name (as a member, or as the inviter of its invitations)
        // has its members_version moved at commit by the users trigger: take them first.
        let mut shown_in: Vec<i64> =
            memberships::table.filter(memberships::user_id.eq(user_id)).select(memberships::account_id).load(conn)?;
        shown_in.extend(
            invitations::table
                .filter(invitations::invited_by.eq(user_id))
                .select(invitations::account_id)
                .distinct()
                .load::<i64>(conn)?,
        );
        // The personal account is not one of them: it is changed after the user's row, as
        // deleting the account does (locking it first would deadlock against a deletion).
        let own: Option<i64> = accounts_t::table
            .filter(accounts_t::personal_owner_id.eq(user_id))
            .select(accounts_t::id)
            .first(conn)
            .optional()?;
        shown_in.retain(|id| Some(*id) != own);
        shown_in.sort_unstable();
        shown_in.dedup();
        for account_id in shown_in {
            let _archived_or_not = accounts::lock_for_change(conn, account_id)?;
        }
        let old = lock_user(conn, user_id)?.ok_or(ProfileError::Gone)?;
        if old.name == new {
            return Ok((false, None));
        }
        diesel::update(users_t::table.find(user_id)).set(users_t::name.eq(new)).execute(conn)?;
        diesel::update(memberships::table.filter(memberships::user_id.eq(user_id)))
            .set(memberships::sort_name.eq(accounts::sort_name(new)))
            .execute(conn)?;
        // The personal account was named after its owner at sign-up.
        let personal: Option<i64> = accounts_t::table
            .filter(accounts_t::personal_owner_id.eq(user_id))
            .filter(accounts_t::name.eq(&old.name))
            .select(accounts_t::id)
            .first(conn)
            .optional()?;
        if let Some(personal) = personal {
            diesel::update(accounts_t::table.find(personal)).set(accounts_t::name.eq(new)).execute(conn)?;
        }
        let detail = format!("from “{}” to “{new}”", old.name);
        security_log::record(conn, user_id, Event::NameChanged, &detail, client_address)?;
        Ok::<_, ProfileError>((true, personal))
    })?;
    let mut changes = Vec::new();
    if changed {
        changes.push(Change::UserChanged { user_id });
    }
    if let Some(account_id) = personal {
        changes.push(Change::Account { account_id });
    }
    Ok(Committed::new(changed, changes))
}

/// What a password change ended besides the old password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordChanged {
    pub sessions_ended: usize,
    pub tokens_revoked: usize,
}

/// Sets the password whose hash is `password_hash` (hashed by the caller, outside the
/// transaction): every other browser of the person is signed out (`keep_session` stays), the
/// links to reset the password stop working, and, with `revoke_tokens`, so does every login
/// token of the CLI.
pub fn change_password(
    conn: &mut DbConnection,
    user_id: i64,
    keep_session: i64,
    password_hash: &str,
    revoke_tokens: bool,
    client_address: &str,
    now: i64,
) -> Result<Committed<PasswordChanged>, ProfileError> {
    let changed = write_transaction(conn, |conn| {
        lock_user(conn, user_id)?.ok_or(ProfileError::Gone)?;
        diesel::update(users_t::table.find(user_id)).set(users_t::password_hash.eq(password_hash)).execute(conn)?;
        let sessions_ended = sessions::revoke_all(conn, user_id, Some(keep_session), now)?;
        email_links::void(conn, user_id, EmailLinkPurpose::Reset)?;
        let tokens_revoked = if revoke_tokens { tokens::revoke_all(conn, user_id)?.value } else { 0 };
        let mut detail = vec![counted(sessions_ended, "other browser", "other browsers") + " signed out"];
        if revoke_tokens {
            detail.push(counted(tokens_revoked, "CLI token", "CLI tokens") + " revoked");
        }
        security_log::record(conn, user_id, Event::PasswordChanged, &detail.join(", "), client_address)?;
        Ok::<_, ProfileError>(PasswordChanged { sessions_ended, tokens_revoked })
    })?;
    let revoked = (changed.tokens_revoked > 0).then_some(Change::TokenRevoked { user_id });
    Ok(Committed::new(changed, revoked))
}

/// "1 CLI token", "2 CLI tokens", "no CLI token".
pub fn counted(n: usize, one: &str, many: &str) -> String {
    match n {
        0 => format!("no {one}"),
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

#[cfg(test)]
mod tests {
    use super::counted;

    #[test]
    fn counts_read_as_words() {
        assert_eq!(counted(0, "CLI token", "CLI tokens"), "no CLI token");
        assert_eq!(counted(1, "other browser", "other browsers"), "1 other browser");
        assert_eq!(counted(3, "other browser", "other browsers"), "3 other browsers");
    }
}
