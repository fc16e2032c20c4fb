//! Forgotten passwords. A link is emailed to the account's address (`email_links`: 256 bits,
//! only its SHA-256 stored, single use, 60 minutes, replaced by a newer one and ended by a
//! sign-in with the password); the new password it sets ends every session of the person,
//! and optionally their CLI's login tokens, in one transaction with the link's use.
//!
//! Rules: whether an address has an account is nobody's business, so [`request`] returns it
//! only for logs and tests, and the page answers before it runs. The link proves the person
//! reads the address it went to: when that is still the account's address, it counts as
//! verified.

use super::emails::{self, PasswordResetEmail, PasswordResetNoticeEmail};
use super::outbox::{self, NewEmail};
use super::security_log::{self, Event};
use super::users::User;
use super::{Committed, email_links, sessions, tokens};
use crate::db::schema::users;
use crate::db::{DbConnection, write_transaction};
use crate::domain::{EmailLinkPurpose, now_ms};
use diesel::prelude::*;

/// How long a reset link works.
pub const LINK_TTL_MS: i64 = 60 * 60 * 1000;

/// Emails a reset link to the account that uses `email_normalized`, if a live one does
/// (its earlier reset links stop working). True when a link was queued.
pub fn request(conn: &mut DbConnection, email_normalized: &str, base_url: &str) -> QueryResult<bool> {
    write_transaction(conn, |conn| {
        let Some(user) = live_user(conn, email_normalized)? else { return Ok(false) };
        let expires_at = now_ms() + LINK_TTL_MS;
        email_links::issue(
            conn,
            user.id,
            EmailLinkPurpose::Reset,
            &user.email,
            LINK_TTL_MS,
            &format!("{base_url}/reset"),
            |link| {
                emails::password_reset(&PasswordResetEmail { name: &user.name, email: &user.email, link, expires_at })
            },
        )?;
        Ok(true)
    })
}

fn live_user(conn: &mut DbConnection, email_normalized: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::email_normalized.eq(email_normalized))
        .filter(users::deleted_at.is_null())
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// A live reset link, as the page that asks for the new password shows it.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The address the link was sent to.
    pub email: String,
    /// The person's working CLI login tokens (the page offers to revoke them).
    pub cli_tokens: usize,
}

/// The live reset link with this token, without using it; `None` when it is unknown, used,
/// replaced, expired, or its account was deleted.
pub fn pending(conn: &mut DbConnection, token: &str) -> QueryResult<Option<Pending>> {
    let Some(link) = email_links::peek(conn, EmailLinkPurpose::Reset, token)? else { return Ok(None) };
    if super::users::find(conn, link.user_id)?.is_none() {
        return Ok(None);
    }
    let cli_tokens = tokens::list(conn, link.user_id)?.len();
    Ok(Some(Pending { email: link.email, cli_tokens }))
}

/// A new password, set with a link.
#[derive(Debug, Clone)]
pub struct NewPassword {
    pub token: String,
    /// The argon2 hash of the new password (hashed before the transaction).
    pub password_hash: String,
    /// Also revoke every login token of the CLI.
    pub sign_out_cli: bool,
    pub client_address: String,
    /// The browser, as the security log names it ("Firefox on Linux").
    pub device: String,
    /// For the notice's link back to `/forgot`.
    pub base_url: String,
    /// Now, by the clock sessions are ended with.
    pub now: i64,
}

/// What a reset did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub user_id: i64,
    pub sessions_ended: usize,
    pub tokens_revoked: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    /// Used (perhaps by a request racing this one), replaced, expired, unknown, or its
    /// account deleted.
    #[error("This link no longer works.")]
    LinkDead,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Sets the new password, in one transaction with the use of the link: every session of the
/// person ends (this browser's too, if it was one), their CLI's tokens are revoked when
/// asked, their other reset links end, their address counts as verified when the link went
/// to it, the security log records it, and a notice is queued to the account's address.
/// Locks the link, then the user's row, then their sessions: the order a sign-in with the
/// password takes the links and the sessions in.
pub fn complete(conn: &mut DbConnection, new: &NewPassword) -> Result<Committed<Done>, ResetError> {
    write_transaction(conn, |conn| {
        let link = email_links::use_token(conn, EmailLinkPurpose::Reset, &new.token)?.ok_or(ResetError::LinkDead)?;
        let user_id = link.user_id;
        // SQLite's write lock covers the row; PostgreSQL locks it (a deletion waits, or wins).
        let user: Option<User> = match conn {
            DbConnection::Postgres(pg) => users::table
                .find(user_id)
                .filter(users::deleted_at.is_null())
                .select(User::as_select())
                .for_update()
                .first(pg)
                .optional()?,
            DbConnection::Sqlite(_) => super::users::find(conn, user_id)?,
        };
        let user = user.ok_or(ResetError::LinkDead)?;
        let verified_at = user.email_verified_at.or((link.email == user.email).then_some(new.now));
        diesel::update(users::table.find(user_id))
            .set((users::password_hash.eq(&new.password_hash), users::email_verified_at.eq(verified_at)))
            .execute(conn)?;
        let sessions_ended = sessions::revoke_all(conn, user_id, None, new.now)?;
        let revoked = if new.sign_out_cli { tokens::revoke_all(conn, user_id)? } else { Committed::new(0, []) };
        email_links::void(conn, user_id, EmailLinkPurpose::Reset)?;
        security_log::record(conn, user_id, Event::PasswordReset, &new.device, &new.client_address)?;
        let forgot_link = format!("{}/forgot", new.base_url);
        let notice = emails::password_reset_notice(&PasswordResetNoticeEmail {
            name: &user.name,
            email: &link.email,
            reset_at: new.now,
            client_address: &new.client_address,
            tokens_revoked: revoked.value,
            forgot_link: &forgot_link,
        })
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
        outbox::enqueue(
            conn,
            &NewEmail {
                to: user.email.clone(),
                subject: notice.subject,
                text_body: notice.text,
                html_body: notice.html,
                invitation_id: None,
                email_link_id: None,
            },
        )?;
        let done = Done { user_id, sessions_ended, tokens_revoked: revoked.value };
        Ok(Committed::new(done, revoked.changed))
    })
}

/// What a sign-in with the password changes beside its new session, in the same transaction
/// and before it: the person's unused reset links end (they remembered the password), and
/// their security log records the sign-in.
pub fn signed_in_with_password(
    conn: &mut DbConnection,
    user_id: i64,
    device: &str,
    client_address: &str,
) -> QueryResult<()> {
    email_links::void(conn, user_id, EmailLinkPurpose::Reset)?;
    security_log::record(conn, user_id, Event::SignedIn, device, client_address)
}
