//! Links emailed to a person: to verify their address, to reset their password, to confirm a
//! new address. Like invitations, the token (256 bits, base64url) is minted by the outbox
//! worker when the message is sent ([`mint_token`]); the queued message holds
//! [`TOKEN_PLACEHOLDER`] and the database only the token's SHA-256. A link is used once, ends
//! at `expires_at`, and is voided by a newer link of the same purpose for the same person
//! (and, for reset links, by a sign-in with the password: [`void`]).

use super::emails::Composed;
use super::outbox::{self, NewEmail};
use crate::db::DbConnection;
use crate::db::schema::email_links;
use crate::domain::secret::hash_secret;
use crate::domain::{EmailLinkPurpose, new_id, now_ms};
use diesel::prelude::*;

/// Stands in a queued message for the link's token, minted when it is sent.
pub const TOKEN_PLACEHOLDER: &str = "__EMAIL_LINK_TOKEN__";

/// A link that was found live and has just been used.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = email_links)]
pub struct UsedLink {
    pub id: i64,
    pub user_id: i64,
    pub purpose: EmailLinkPurpose,
    /// The address the link was sent to.
    pub email: String,
    pub created_at: i64,
}

/// Voids the person's earlier links of `purpose`, records a new one to `email` valid for
/// `ttl_ms`, and queues its message in the caller's transaction. `compose` gets the link's
/// URL with the placeholder in it (`{base_url}/{path}/{TOKEN_PLACEHOLDER}`).
pub fn issue(
    conn: &mut DbConnection,
    user_id: i64,
    purpose: EmailLinkPurpose,
    email: &str,
    ttl_ms: i64,
    link_base: &str,
    compose: impl FnOnce(&str) -> Result<Composed, askama::Error>,
) -> QueryResult<i64> {
    let now = now_ms();
    void(conn, user_id, purpose)?;
    let id = new_id();
    diesel::insert_into(email_links::table)
        .values((
            email_links::id.eq(id),
            email_links::user_id.eq(user_id),
            email_links::purpose.eq(purpose),
            email_links::email.eq(email),
            email_links::created_at.eq(now),
            email_links::expires_at.eq(now + ttl_ms),
        ))
        .execute(conn)?;
    let url = format!("{link_base}/{TOKEN_PLACEHOLDER}");
    let message = compose(&url).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    outbox::enqueue(
        conn,
        &NewEmail {
            to: email.to_owned(),
            subject: message.subject,
            text_body: message.text,
            html_body: message.html,
            invitation_id: None,
            email_link_id: Some(id),
        },
    )?;
    Ok(id)
}

/// Ends the person's unused links of `purpose` (a newer one replaces them; a sign-in with the
/// password ends reset links).
pub fn void(conn: &mut DbConnection, user_id: i64, purpose: EmailLinkPurpose) -> QueryResult<usize> {
    diesel::update(
        email_links::table
            .filter(email_links::user_id.eq(user_id))
            .filter(email_links::purpose.eq(purpose))
            .filter(email_links::used_at.is_null())
            .filter(email_links::voided_at.is_null()),
    )
    .set(email_links::voided_at.eq(now_ms()))
    .execute(conn)
}

/// Gives a live link the token of the message about to be sent (another attempt at the same
/// message sets the same token, see `outbox::LinkTokens`); false when the link was used,
/// voided or has expired (nothing to send).
pub fn mint_token(conn: &mut DbConnection, link_id: i64, token: &str) -> QueryResult<bool> {
    let updated = diesel::update(live().filter(email_links::id.eq(link_id)))
        .set(email_links::token_hash.eq(hash_secret(token)))
        .execute(conn)?;
    Ok(updated == 1)
}

/// The live link of `purpose` with this token, without using it (the page that asks for a
/// new password shows the form first).
pub fn peek(conn: &mut DbConnection, purpose: EmailLinkPurpose, token: &str) -> QueryResult<Option<UsedLink>> {
    if !plausible(token) {
        return Ok(None);
    }
    live()
        .filter(email_links::purpose.eq(purpose))
        .filter(email_links::token_hash.eq(hash_secret(token)))
        .select(UsedLink::as_select())
        .first(conn)
        .optional()
}

/// Uses the live link of `purpose` with this token, in the caller's transaction: the same
/// token never works twice, even for two requests racing (the update checks it is unused).
pub fn use_token(conn: &mut DbConnection, purpose: EmailLinkPurpose, token: &str) -> QueryResult<Option<UsedLink>> {
    let Some(link) = peek(conn, purpose, token)? else { return Ok(None) };
    let updated = diesel::update(live().filter(email_links::id.eq(link.id)))
        .set(email_links::used_at.eq(now_ms()))
        .execute(conn)?;
    Ok((updated == 1).then_some(link))
}

type Live = diesel::dsl::Filter<
    diesel::dsl::Filter<
        diesel::dsl::Filter<email_links::table, diesel::dsl::IsNull<email_links::used_at>>,
        diesel::dsl::IsNull<email_links::voided_at>,
    >,
    diesel::dsl::Gt<email_links::expires_at, i64>,
>;

fn live() -> Live {
    email_links::table
        .filter(email_links::used_at.is_null())
        .filter(email_links::voided_at.is_null())
        .filter(email_links::expires_at.gt(now_ms()))
}

/// A token as minted: 43 base64url characters. Anything else is not looked up.
pub fn plausible(token: &str) -> bool {
    token.len() == 43 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
fn new_token() -> (String, String) {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_secret(&token);
    (token, hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bits_and_only_their_form_is_looked_up() {
        let (token, hash) = new_token();
        assert_eq!(token.len(), 43);
        assert!(plausible(&token));
        assert_eq!(hash, hash_secret(&token));
        assert_ne!(new_token().0, token);
        for bad in ["", "short", &format!("{token}x"), &token.replace(&token[..1], "%"), &"é".repeat(22)] {
            assert!(!plausible(bad), "{bad:?}");
        }
    }
}
