//! Sign-up as the world sees it: the page answers the same whether or not the address has
//! an account, and only the address's owner learns which it was, by email. A new address
//! gets an unverified account and a verification link; an address with an account gets a
//! note to its owner instead. Each path is one transaction with the check that chose it.
//!
//! The exception is a sign-up from an invitation to the same address: the invitation proves
//! the address (its link was mailed there), so the account is verified at once, and its
//! holder may be told that the address has an account already (they own it).

use super::outbox::{self, NewEmail};
use super::security_log::{self, Event};
use super::users::{self, SignedUp};
use super::{emails, invitations, verification};
use crate::db::{DbConnection, write_transaction};
use crate::domain::{EmailAddress, PersonName, now_ms};
use diesel::QueryResult;

/// A sign-up to make.
pub struct Registration<'a> {
    pub name: &'a PersonName,
    pub email: &'a EmailAddress,
    pub password_hash: &'a str,
    /// The client's address, for the person's security log.
    pub client_address: &'a str,
    /// Where the site is served, for the links in the emails.
    pub base_url: &'a str,
    /// Whether to email: false when the address had its share of verification emails.
    pub send_email: bool,
    /// The token of the invitation the sign-up came from, if it came from one.
    pub invitation: Option<&'a str>,
}

/// What a sign-up did.
#[derive(Debug)]
pub enum Registered {
    /// A new account, unverified; its verification link is queued (if emailing).
    New(SignedUp),
    /// The address has an account; its owner is told (if emailing).
    Known,
    /// A new account whose invitation proved its address: verified.
    Invited(SignedUp),
    /// The invited address has an account: its owner holds the invitation.
    InvitedKnown,
}

/// Signs up `r` (see the module doc).
pub fn register(conn: &mut DbConnection, r: &Registration<'_>) -> QueryResult<Registered> {
    match write_transaction(conn, |conn| attempt(conn, r)) {
        // Two sign-ups of one new address at once on PostgreSQL: the later one meets the
        // unique index, and on a second look the address is known.
        Err(e) if crate::db::is_unique_violation(&e) => write_transaction(conn, |conn| attempt(conn, r)),
        other => other,
    }
}

fn attempt(conn: &mut DbConnection, r: &Registration<'_>) -> QueryResult<Registered> {
    let invited = match r.invitation {
        Some(token) => invitations::proves_address(conn, token, r.email.normalized())?,
        None => false,
    };
    if let Some(owner) = users::email_of(conn, r.email.normalized())? {
        if invited {
            return Ok(Registered::InvitedKnown);
        }
        if r.send_email {
            tell_owner(conn, &owner, r.base_url)?;
        }
        return Ok(Registered::Known);
    }
    let signed_up = users::insert_new(conn, r.name, r.email, r.password_hash, invited.then(now_ms))?;
    let user_id = signed_up.user.id;
    security_log::record(conn, user_id, Event::SignedUp, "", r.client_address)?;
    if invited {
        let detail = "by the invitation it signed up from";
        security_log::record(conn, user_id, Event::EmailVerified, detail, r.client_address)?;
        return Ok(Registered::Invited(signed_up));
    }
    if r.send_email {
        verification::issue(conn, user_id, r.email.as_typed(), r.base_url)?;
    }
    Ok(Registered::New(signed_up))
}

/// Someone tried to sign up with `owner`'s address: tell them, and how to get in if it was them.
fn tell_owner(conn: &mut DbConnection, owner: &str, base_url: &str) -> QueryResult<()> {
    let (login, forgot) = (format!("{base_url}/login"), format!("{base_url}/forgot"));
    let message = emails::sign_up_attempt(&emails::SignUpAttemptEmail { login: &login, forgot: &forgot })
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    outbox::enqueue(
        conn,
        &NewEmail {
            to: owner.to_owned(),
            subject: message.subject,
            text_body: message.text,
            html_body: message.html,
            invitation_id: None,
            email_link_id: None,
        },
    )?;
    Ok(())
}
