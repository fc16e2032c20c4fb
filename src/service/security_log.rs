//! A person's own security log, shown on `/account`: what happened to how they sign in, when
//! and from where. Append-only; never holds a secret (a token's name, not the token).

use crate::db::DbConnection;
use crate::db::schema::security_events;
use crate::domain::{new_id, now_ms};
use diesel::prelude::*;

/// What happened. Stored as the word of `as_str`; a word this code does not know (written by a
/// newer version) is shown as it is, never dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    SignedIn,
    SignedUp,
    PasswordChanged,
    PasswordReset,
    EmailChangeRequested,
    EmailChanged,
    EmailVerified,
    NameChanged,
    CliTokenCreated,
    SecondFactorAdded,
    SecondFactorRemoved,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::SignedIn => "signed_in",
            Event::SignedUp => "signed_up",
            Event::PasswordChanged => "password_changed",
            Event::PasswordReset => "password_reset",
            Event::EmailChangeRequested => "email_change_requested",
            Event::EmailChanged => "email_changed",
            Event::EmailVerified => "email_verified",
            Event::NameChanged => "name_changed",
            Event::CliTokenCreated => "cli_token_created",
            Event::SecondFactorAdded => "second_factor_added",
            Event::SecondFactorRemoved => "second_factor_removed",
        }
    }

    /// How the log on `/account` says it.
    pub fn label(kind: &str) -> &str {
        match kind {
            "signed_in" => "Signed in",
            "signed_up" => "Created the account",
            "password_changed" => "Changed the password",
            "password_reset" => "Reset the password by email",
            "email_change_requested" => "Asked to change the email address",
            "email_changed" => "Changed the email address",
            "email_verified" => "Verified the email address",
            "name_changed" => "Changed the name",
            "cli_token_created" => "Signed in the CLI",
            "second_factor_added" => "Added a second factor",
            "second_factor_removed" => "Removed a second factor",
            other => other,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = security_events)]
pub struct SecurityEvent {
    pub id: i64,
    pub kind: String,
    pub detail: String,
    pub client_address: String,
    pub created_at: i64,
}

impl SecurityEvent {
    pub fn label(&self) -> &str {
        Event::label(&self.kind)
    }
}

/// Appends an event in the caller's transaction. `detail` is shown as it is (escaped): a
/// device's name, "from a@x to b@y"; never a secret.
pub fn record(
    conn: &mut DbConnection,
    user_id: i64,
    event: Event,
    detail: &str,
    client_address: &str,
) -> QueryResult<()> {
    diesel::insert_into(security_events::table)
        .values((
            security_events::id.eq(new_id()),
            security_events::user_id.eq(user_id),
            security_events::kind.eq(event.as_str()),
            security_events::detail.eq(detail),
            security_events::client_address.eq(client_address),
            security_events::created_at.eq(now_ms()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The person's latest `limit` events, newest first.
pub fn latest(conn: &mut DbConnection, user_id: i64, limit: i64) -> QueryResult<Vec<SecurityEvent>> {
    security_events::table
        .filter(security_events::user_id.eq(user_id))
        .order((security_events::created_at.desc(), security_events::id.desc()))
        .limit(limit)
        .select(SecurityEvent::as_select())
        .load(conn)
}
