//! Proving an address: the emailed link (`/verify/{token}`, 24 hours, single use, replaced
//! by a newer one) that marks a person's address verified. Until it is, they can sign in,
//! accept invitations (an invitation to their address proves it too) and use their personal
//! account, but not create teams or send invitations (`Access::needs_verified_address`).
//!
//! A link proves only the address it was sent to: once the account's address is another,
//! it verifies nothing.

use super::email_links;
use super::emails::{self, VerifyEmail};
use super::security_log::{self, Event};
use super::users::{self, Proof};
use crate::db::{DbConnection, write_transaction};
use crate::domain::{EmailAddress, EmailLinkPurpose, now_ms};
use diesel::QueryResult;

/// How long a verification link works.
pub const LINK_TTL_MS: i64 = 24 * 3600 * 1000;

/// An address as it is compared (see `EmailAddress::normalized`); one stored before today's
/// rules that they would refuse is compared trimmed and lowercased.
pub fn normalized(address: &str) -> String {
    EmailAddress::parse(address).map_or_else(|_| address.trim().to_lowercase(), |a| a.normalized().to_owned())
}

/// Queues a verification link to `email` for the user, in the caller's transaction; earlier
/// links stop working. `base_url`: where the site is served.
pub fn issue(conn: &mut DbConnection, user_id: i64, email: &str, base_url: &str) -> QueryResult<i64> {
    let expires_at = now_ms() + LINK_TTL_MS;
    let link_base = format!("{base_url}/verify");
    email_links::issue(conn, user_id, EmailLinkPurpose::Verify, email, LINK_TTL_MS, &link_base, |link| {
        emails::verification(&VerifyEmail { link, expires_at })
    })
}

/// What asking for a new link did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resent {
    /// A new link is on its way to this address.
    Sent { to: String },
    /// Nothing to prove.
    AlreadyVerified,
}

/// A new link for the user's current address, unless it is verified. `None`: the account is gone.
pub fn resend(conn: &mut DbConnection, user_id: i64, base_url: &str) -> QueryResult<Option<Resent>> {
    write_transaction(conn, |conn| {
        let Some(user) = users::find(conn, user_id)? else { return Ok(None) };
        if user.is_verified() {
            return Ok(Some(Resent::AlreadyVerified));
        }
        issue(conn, user.id, &user.email, base_url)?;
        Ok(Some(Resent::Sent { to: user.email }))
    })
}

/// A link that worked: whose address it proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub user_id: i64,
    pub email: String,
}

/// Uses the verification link of `token` and marks the address it was sent to verified, if
/// it is still the account's. `None` for a link that is unknown, used, replaced, expired,
/// or sent to an address the account no longer has (it is used up all the same).
pub fn verify(conn: &mut DbConnection, token: &str, client_address: &str) -> QueryResult<Option<Verified>> {
    write_transaction(conn, |conn| {
        let Some(link) = email_links::use_token(conn, EmailLinkPurpose::Verify, token)? else { return Ok(None) };
        match users::prove_address(conn, link.user_id, &normalized(&link.email))? {
            Proof::NotTheirs => return Ok(None),
            Proof::Verified => {
                security_log::record(conn, link.user_id, Event::EmailVerified, &link.email, client_address)?;
            }
            Proof::AlreadyVerified => {}
        }
        Ok(Some(Verified { user_id: link.user_id, email: link.email }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_compare_as_sign_up_compares_them() {
        assert_eq!(normalized("  Ada@Example.COM "), "ada@example.com");
        assert_eq!(normalized("not an address "), "not an address", "stored before the rules: lowercased");
    }
}
