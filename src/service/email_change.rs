//! Changing one's email address: asking for it sends a link to the new address (which proves
//! it) and tells the current one at once; the link, opened, makes the new address the
//! account's, and the old one is told again. Until then the old address stays and works.
//! Whether another account has the new address is checked only when the link is used, in
//! the same transaction as the change, so asking never tells.

use super::emails::{self, Composed, EmailChangeLink, EmailChangeNotice};
use super::outbox::{self, NewEmail};
use super::profile::{ProfileError, lock_user};
use super::security_log::{self, Event};
use super::{Change, Committed, email_links};
use crate::db::schema::{email_links as links_t, users as users_t};
use crate::db::{DbConnection, is_unique_violation, write_transaction};
use crate::domain::secret::hash_secret;
use crate::domain::{EmailAddress, EmailLinkPurpose, now_ms};
use diesel::prelude::*;

/// How long the link that confirms a new address works.
pub const EMAIL_CHANGE_TTL_MS: i64 = 24 * 3600 * 1000;

/// Where and from whom a change of address is asked for or confirmed.
#[derive(Debug, Clone, Copy)]
pub struct Asking<'a> {
    /// The site's base URL, for the links in the emails.
    pub base_url: &'a str,
    pub client_address: &'a str,
}

/// Asks to make `new` the person's address: a link to it (which [`confirm`]
/// takes) replaces any earlier one, and the current address is told at once. Whether another
/// account has the address is not checked here, so the answer never tells (the link says so
/// when it is opened).
pub fn request(
    conn: &mut DbConnection,
    user_id: i64,
    new: &EmailAddress,
    from: Asking<'_>,
) -> Result<(), ProfileError> {
    write_transaction(conn, |conn| {
        let user = lock_user(conn, user_id)?.ok_or(ProfileError::Gone)?;
        if user.email_normalized == new.normalized() {
            return Err(ProfileError::SameAddress);
        }
        let now = now_ms();
        email_links::issue(
            conn,
            user_id,
            EmailLinkPurpose::ChangeEmail,
            new.as_typed(),
            EMAIL_CHANGE_TTL_MS,
            &format!("{}/account/email", from.base_url),
            |link| {
                emails::email_change_link(&EmailChangeLink {
                    name: &user.name,
                    new_email: new.as_typed(),
                    link,
                    expires_at: now + EMAIL_CHANGE_TTL_MS,
                })
            },
        )?;
        let notice = EmailChangeNotice {
            new_email: new.as_typed(),
            at: now,
            client_address: from.client_address,
            base_url: from.base_url,
        };
        enqueue(conn, &user.email, emails::email_change_requested(&notice))?;
        let detail = format!("to {}", new.as_typed());
        security_log::record(conn, user_id, Event::EmailChangeRequested, &detail, from.client_address)?;
        Ok(())
    })
}

/// Where a link to confirm a new address stands, for the page it opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeLink {
    /// It would make `email` the address of the account; `taken` when another account has
    /// that address now.
    Live {
        email: String,
        user_id: i64,
        taken: bool,
    },
    /// The address it names is no longer accepted (the rules tightened since it was sent).
    Refused {
        email: String,
        reason: String,
    },
    Used,
    /// A newer link replaced it, or the address changed otherwise.
    Replaced,
    Expired,
    /// Malformed, never sent, or its account is gone.
    Unknown,
}

/// A link as [`link`] reads it, whatever its state.
#[derive(Queryable, Selectable)]
#[diesel(table_name = links_t)]
struct LinkRow {
    user_id: i64,
    email: String,
    expires_at: i64,
    used_at: Option<i64>,
    voided_at: Option<i64>,
}

/// What the link with `token` would do now, without using it.
pub fn link(conn: &mut DbConnection, token: &str) -> QueryResult<ChangeLink> {
    if !email_links::plausible(token) {
        return Ok(ChangeLink::Unknown);
    }
    let found: Option<LinkRow> = links_t::table
        .inner_join(users_t::table)
        .filter(links_t::token_hash.eq(hash_secret(token)))
        .filter(links_t::purpose.eq(EmailLinkPurpose::ChangeEmail))
        .filter(users_t::deleted_at.is_null())
        .select(LinkRow::as_select())
        .first(conn)
        .optional()?;
    let Some(row) = found else { return Ok(ChangeLink::Unknown) };
    Ok(if row.used_at.is_some() {
        ChangeLink::Used
    } else if row.voided_at.is_some() {
        ChangeLink::Replaced
    } else if row.expires_at <= now_ms() {
        ChangeLink::Expired
    } else {
        match EmailAddress::parse(&row.email) {
            Err(e) => ChangeLink::Refused { email: row.email, reason: e.to_string() },
            Ok(address) => {
                ChangeLink::Live { taken: taken(conn, row.user_id, &address)?, email: row.email, user_id: row.user_id }
            }
        }
    })
}

/// Whether an account other than `user_id` has `address`.
fn taken(conn: &mut DbConnection, user_id: i64, address: &EmailAddress) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users_t::table.filter(users_t::email_normalized.eq(address.normalized())).filter(users_t::id.ne(user_id)),
    ))
    .get_result(conn)
}

/// A change of address made.
#[derive(Debug, Clone)]
pub struct Confirmed {
    pub user_id: i64,
    pub email: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    /// Unknown, used, replaced, expired, or its account is gone.
    #[error("This link no longer works.")]
    Dead,
    /// Another account has the address (it took it after the link was sent).
    #[error("{0} already has a Teamdeck account, so it cannot become this account's address.")]
    Taken(String),
    /// The address is no longer accepted.
    #[error("{0} cannot be used: {1}")]
    Refused(String, String),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Uses the link with `token`: its address becomes the account's (verified, as the link
/// proves it), the old address is told, links sent to the old address stop working. The
/// address is checked free in the same transaction; on PostgreSQL two accounts taking one
/// address at once meet at its unique index, and the loser is told it is taken. A refused
/// confirmation leaves the link unused.
pub fn confirm(conn: &mut DbConnection, token: &str, from: Asking<'_>) -> Result<Committed<Confirmed>, ConfirmError> {
    let mut asked_for = String::new();
    let result = write_transaction(conn, |conn| -> Result<Confirmed, ConfirmError> {
        let link = email_links::use_token(conn, EmailLinkPurpose::ChangeEmail, token)?.ok_or(ConfirmError::Dead)?;
        asked_for.clone_from(&link.email);
        let user = lock_user(conn, link.user_id)?.ok_or(ConfirmError::Dead)?;
        let new =
            EmailAddress::parse(&link.email).map_err(|e| ConfirmError::Refused(link.email.clone(), e.to_string()))?;
        if taken(conn, link.user_id, &new)? {
            return Err(ConfirmError::Taken(new.as_typed().to_owned()));
        }
        let now = now_ms();
        diesel::update(users_t::table.find(link.user_id))
            .set((
                users_t::email.eq(new.as_typed()),
                users_t::email_normalized.eq(new.normalized()),
                users_t::email_verified_at.eq(now),
            ))
            .execute(conn)?;
        // What was sent to the old address must not open the account any more.
        email_links::void(conn, link.user_id, EmailLinkPurpose::Reset)?;
        email_links::void(conn, link.user_id, EmailLinkPurpose::Verify)?;
        let detail = format!("from {} to {}", user.email, new.as_typed());
        security_log::record(conn, link.user_id, Event::EmailChanged, &detail, from.client_address)?;
        let notice = EmailChangeNotice {
            new_email: new.as_typed(),
            at: now,
            client_address: from.client_address,
            base_url: from.base_url,
        };
        enqueue(conn, &user.email, emails::email_changed(&notice))?;
        Ok(Confirmed { user_id: link.user_id, email: new.as_typed().to_owned() })
    });
    match result {
        Ok(confirmed) => {
            let user_id = confirmed.user_id;
            Ok(Committed::new(confirmed, [Change::UserChanged { user_id }]))
        }
        Err(ConfirmError::Db(e)) if is_unique_violation(&e) => Err(ConfirmError::Taken(asked_for)),
        Err(e) => Err(e),
    }
}

/// Queues a notice composed for `to`, in the caller's transaction.
fn enqueue(conn: &mut DbConnection, to: &str, composed: Result<Composed, askama::Error>) -> QueryResult<()> {
    let message = composed.map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    outbox::enqueue(
        conn,
        &NewEmail {
            to: to.to_owned(),
            subject: message.subject,
            text_body: message.text,
            html_body: message.html,
            invitation_id: None,
            email_link_id: None,
        },
    )?;
    Ok(())
}
