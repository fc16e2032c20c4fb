//! A person's second factors: an authenticator app ([`totp`]) and the recovery codes that
//! come with it ([`recovery`]), and the half-done sign-ins that wait for one
//! ([`challenges`]).
//!
//! Rules: a factor is added only once a current code from it was typed, with the password;
//! removing it or replacing its recovery codes takes the password and a current code. A code
//! is accepted once (the step of the last accepted app code is kept; a recovery code is
//! marked used in the same statement that checks it is unused), so two requests racing with
//! one code cannot both pass. Every change is recorded in the person's security log and
//! emailed to them, in the transaction that makes it. A password reset changes none of this.

pub mod challenges;
pub mod recovery;
pub mod totp;

use super::emails::{self, SecondFactorNotice};
use super::outbox::{self, NewEmail};
use super::security_log::{self, Event};
use crate::db::DbConnection;
use crate::db::schema::{sessions, totp_factors};
use crate::service::secrets::Sealer;
use diesel::prelude::*;

/// How long a passed second factor counts as fresh for what asks for it again (approving a
/// CLI login, deleting the account).
pub const FRESH_FOR_MS: i64 = 10 * 60 * 1000;

/// What a person has set up, as `/account` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// An authenticator app, confirmed.
    pub app: bool,
    /// Recovery codes not used yet.
    pub recovery_left: i64,
}

impl Status {
    /// Whether signing in takes a second step.
    pub fn any(&self) -> bool {
        self.app
    }
}

pub fn status(conn: &mut DbConnection, user_id: i64) -> QueryResult<Status> {
    let app = totp::confirmed(conn, user_id)?;
    let recovery_left = if app { recovery::remaining(conn, user_id)? } else { 0 };
    Ok(Status { app, recovery_left })
}

/// Whether the person signs in with a second factor.
pub fn required(conn: &mut DbConnection, user_id: i64) -> QueryResult<bool> {
    totp_factors::table
        .find(user_id)
        .filter(totp_factors::confirmed_at.is_not_null())
        .count()
        .get_result::<i64>(conn)
        .map(|n| n > 0)
}

/// Which factor a typed code passed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Passed {
    App,
    /// A recovery code, now used; how many are left.
    RecoveryCode {
        left: i64,
    },
}

/// Checks `typed` (an app code or a recovery code) for `user_id` at `now` and uses it up: a
/// code accepted here is never accepted again. `None` when it is not a current code.
pub fn check_code(
    conn: &mut DbConnection,
    sealer: &Sealer,
    user_id: i64,
    typed: &str,
    now: i64,
) -> QueryResult<Option<Passed>> {
    if crate::domain::second_factor::looks_like_app_code(typed) {
        return Ok(totp::use_code(conn, sealer, user_id, typed, now)?.then_some(Passed::App));
    }
    if !totp::confirmed(conn, user_id)? {
        return Ok(None);
    }
    if !recovery::use_code(conn, user_id, typed, now)? {
        return Ok(None);
    }
    let left = recovery::remaining(conn, user_id)?;
    Ok(Some(Passed::RecoveryCode { left }))
}

/// Notes on the session that its person passed a second factor at `now`.
pub fn passed_on_session(conn: &mut DbConnection, session_id: i64, now: i64) -> QueryResult<()> {
    diesel::update(sessions::table.find(session_id)).set(sessions::second_factor_at.eq(now)).execute(conn)?;
    Ok(())
}

/// Where a change was made from, for the security log and the email.
#[derive(Debug, Clone, Default)]
pub struct MadeFrom {
    pub client_address: String,
    pub device: String,
}

/// Records a change of second factor in the person's security log and emails them about it,
/// in the caller's transaction. `what` ends "…to your account" / "…from your account".
pub fn tell(
    conn: &mut DbConnection,
    user_id: i64,
    event: Event,
    what: &str,
    detail: &str,
    from: &MadeFrom,
    now: i64,
) -> QueryResult<()> {
    security_log::record(conn, user_id, event, detail, &from.client_address)?;
    let Some(user) = super::users::find(conn, user_id)? else { return Ok(()) };
    let notice = emails::second_factor_notice(&SecondFactorNotice {
        name: &user.name,
        what,
        at: now,
        client_address: &from.client_address,
        device: &from.device,
    })
    .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    outbox::enqueue(
        conn,
        &NewEmail {
            to: user.email,
            subject: notice.subject,
            text_body: notice.text,
            html_body: notice.html,
            invitation_id: None,
            email_link_id: None,
        },
    )?;
    Ok(())
}

/// Forgets every second factor of a person whose account is being deleted.
pub fn forget_all(conn: &mut DbConnection, user_id: i64) -> QueryResult<()> {
    diesel::delete(totp_factors::table.find(user_id)).execute(conn)?;
    recovery::delete_all(conn, user_id)?;
    challenges::delete_for_user(conn, user_id)?;
    Ok(())
}
