//! The email outbox: messages are written in the transaction of the change that causes them
//! and delivered later by `mail::worker`, which claims due rows with a lease so several
//! instances never send one message twice at the same time. A message is retried with
//! backoff; after the last attempt it is marked failed (and so is its invitation's delivery).
//!
//! Delivery is at least once: a message handed to SMTP whose outcome was not recorded (the
//! database went away, the process died) is sent again when its lease ends. The link in it
//! is the same in every copy ([`LinkTokens`]), so a second copy never voids the first.

use crate::db::DbConnection;
use crate::db::schema::{invitations, outbox_emails};
use crate::domain::{InvitationDelivery, new_id, now_ms};
use base64::Engine;
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use std::sync::Arc;
use tokio::sync::Notify;

/// Stands in a queued invitation email for the token, which is minted when it is sent.
pub const TOKEN_PLACEHOLDER: &str = "__INVITE_TOKEN__";

pub struct NewEmail {
    pub to: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub invitation_id: Option<i64>,
    /// A link of `email_links` whose token is minted when it is sent.
    pub email_link_id: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox_emails)]
pub struct OutboxEmail {
    pub id: i64,
    pub to_address: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub invitation_id: Option<i64>,
    pub attempts: i32,
    pub email_link_id: Option<i64>,
}

/// Wakes the worker when something was queued, so mail goes out at once.
#[derive(Clone, Default)]
pub struct OutboxSignal(pub Arc<Notify>);

impl OutboxSignal {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// Queues one copy of `composed` for each address (a notice with no link in it).
pub fn enqueue_to_each(
    conn: &mut DbConnection,
    addresses: impl IntoIterator<Item = String>,
    composed: &super::emails::Composed,
) -> QueryResult<usize> {
    let mut queued = 0;
    for to in addresses {
        let email = NewEmail {
            to,
            subject: composed.subject.clone(),
            text_body: composed.text.clone(),
            html_body: composed.html.clone(),
            invitation_id: None,
            email_link_id: None,
        };
        enqueue(conn, &email)?;
        queued += 1;
    }
    Ok(queued)
}

pub fn enqueue(conn: &mut DbConnection, email: &NewEmail) -> QueryResult<i64> {
    let id = new_id();
    let now = now_ms();
    diesel::insert_into(outbox_emails::table)
        .values((
            outbox_emails::id.eq(id),
            outbox_emails::to_address.eq(&email.to),
            outbox_emails::subject.eq(&email.subject),
            outbox_emails::text_body.eq(&email.text_body),
            outbox_emails::html_body.eq(&email.html_body),
            outbox_emails::invitation_id.eq(email.invitation_id),
            outbox_emails::email_link_id.eq(email.email_link_id),
            outbox_emails::attempts.eq(0),
            outbox_emails::next_attempt_at.eq(now),
            outbox_emails::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Claims up to `limit` due messages for `lease_ms` and returns them. A message whose lease
/// ran out (its worker died mid-send) is due again.
pub fn claim_due(conn: &mut DbConnection, lease: i64, lease_ms: i64, limit: i64) -> QueryResult<Vec<OutboxEmail>> {
    let now = now_ms();
    let due = outbox_emails::table
        .filter(outbox_emails::sent_at.is_null())
        .filter(outbox_emails::failed_at.is_null())
        .filter(outbox_emails::next_attempt_at.le(now))
        .filter(outbox_emails::leased_until.is_null().or(outbox_emails::leased_until.lt(now)))
        .select(outbox_emails::id)
        .order(outbox_emails::next_attempt_at)
        .limit(limit);
    let due_ids: Vec<i64> = due.load(conn)?;
    if due_ids.is_empty() {
        return Ok(Vec::new());
    }
    // The conditions are checked again by the UPDATE itself, so of two instances racing for
    // one row only one gets it.
    diesel::update(
        outbox_emails::table
            .filter(outbox_emails::id.eq_any(&due_ids))
            .filter(outbox_emails::leased_until.is_null().or(outbox_emails::leased_until.lt(now))),
    )
    .set((outbox_emails::lease.eq(lease), outbox_emails::leased_until.eq(now + lease_ms)))
    .execute(conn)?;
    outbox_emails::table
        .filter(outbox_emails::lease.eq(lease))
        .filter(outbox_emails::sent_at.is_null())
        .filter(outbox_emails::failed_at.is_null())
        .select(OutboxEmail::as_select())
        .load(conn)
}

pub fn mark_sent(conn: &mut DbConnection, email: &OutboxEmail) -> QueryResult<()> {
    let now = now_ms();
    conn.transaction(|conn| {
        diesel::update(outbox_emails::table.find(email.id))
            .set((
                outbox_emails::sent_at.eq(now),
                outbox_emails::attempts.eq(email.attempts + 1),
                outbox_emails::leased_until.eq(None::<i64>),
                outbox_emails::last_error.eq(None::<String>),
            ))
            .execute(conn)?;
        if let Some(invitation) = email.invitation_id {
            set_delivery(conn, invitation, InvitationDelivery::Sent)?;
        }
        Ok(())
    })
}

/// Records a failed attempt: due again at `retry_at`, or failed for good when `None`.
pub fn mark_attempt_failed(
    conn: &mut DbConnection,
    email: &OutboxEmail,
    error: &str,
    retry_at: Option<i64>,
) -> QueryResult<()> {
    let now = now_ms();
    conn.transaction(|conn| {
        diesel::update(outbox_emails::table.find(email.id))
            .set((
                outbox_emails::attempts.eq(email.attempts + 1),
                outbox_emails::last_error.eq(error),
                outbox_emails::leased_until.eq(None::<i64>),
                outbox_emails::next_attempt_at.eq(retry_at.unwrap_or(now)),
                outbox_emails::failed_at.eq(if retry_at.is_none() { Some(now) } else { None }),
            ))
            .execute(conn)?;
        if let (None, Some(invitation)) = (retry_at, email.invitation_id) {
            set_delivery(conn, invitation, InvitationDelivery::Failed)?;
        }
        Ok(())
    })
}

/// Inside the caller's transaction; the team's row first (`accounts::lock_for_change`).
fn set_delivery(conn: &mut DbConnection, invitation: i64, delivery: InvitationDelivery) -> QueryResult<()> {
    let Some(team) = super::invitations::team_of(conn, invitation)? else { return Ok(()) };
    let _ = super::accounts::lock_for_change(conn, team)?;
    diesel::update(invitations::table.find(invitation)).set(invitations::delivery.eq(delivery)).execute(conn)?;
    Ok(())
}

/// Extends our lease of a message before it is sent; false when it is no longer ours (it ran
/// out and another worker claimed it) or no longer due.
pub fn renew_lease(conn: &mut DbConnection, id: i64, lease: i64, lease_ms: i64) -> QueryResult<bool> {
    let renewed = diesel::update(
        outbox_emails::table
            .find(id)
            .filter(outbox_emails::lease.eq(lease))
            .filter(outbox_emails::sent_at.is_null())
            .filter(outbox_emails::failed_at.is_null()),
    )
    .set(outbox_emails::leased_until.eq(now_ms() + lease_ms))
    .execute(conn)?;
    Ok(renewed == 1)
}

/// Gives back a message we hold (its handling failed before any outcome was recorded), due
/// again at `retry_at`; nothing when it is no longer ours.
pub fn release(conn: &mut DbConnection, id: i64, lease: i64, retry_at: i64) -> QueryResult<()> {
    diesel::update(
        outbox_emails::table.find(id).filter(outbox_emails::lease.eq(lease)).filter(outbox_emails::sent_at.is_null()),
    )
    .set((outbox_emails::leased_until.eq(None::<i64>), outbox_emails::next_attempt_at.eq(retry_at)))
    .execute(conn)?;
    Ok(())
}

/// The token of the link a message carries: HMAC-SHA256 of the message's id under a key
/// derived from the secrets key, so every attempt to send one message carries the same link
/// (the database still keeps only its SHA-256), and no one without the key can work it out.
#[derive(Clone)]
pub struct LinkTokens(Hmac<sha2::Sha256>);

impl LinkTokens {
    /// From the secrets key's `material` (the key is HMAC-SHA256(material, a label of its own)).
    pub fn from_material(material: &[u8]) -> Self {
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(material).expect("HMAC takes a key of any length");
        mac.update(b"teamdeck outbox links v1");
        let key: [u8; 32] = mac.finalize().into_bytes().into();
        Self(<Hmac<sha2::Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes a key of any length"))
    }

    /// 43 base64url characters (256 bits), the form of every emailed token.
    pub fn for_message(&self, outbox_id: i64) -> String {
        let mut mac = self.0.clone();
        mac.update(&outbox_id.to_be_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

/// Messages waiting (due now, not leased), leased (being sent), and failed for good.
pub fn counts(conn: &mut DbConnection) -> QueryResult<(i64, i64, i64)> {
    let now = now_ms();
    let unsent = outbox_emails::table.filter(outbox_emails::sent_at.is_null());
    let due = unsent
        .filter(outbox_emails::failed_at.is_null())
        .filter(outbox_emails::next_attempt_at.le(now))
        .filter(outbox_emails::leased_until.is_null().or(outbox_emails::leased_until.lt(now)))
        .count()
        .get_result(conn)?;
    let leased = unsent.filter(outbox_emails::leased_until.ge(now)).count().get_result(conn)?;
    let failed = outbox_emails::table.filter(outbox_emails::failed_at.is_not_null()).count().get_result(conn)?;
    Ok((due, leased, failed))
}

pub fn new_lease() -> i64 {
    new_id()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_has_one_link_token_and_the_key_decides_it() {
        let tokens = LinkTokens::from_material(&[7; 64]);
        assert_eq!(tokens.for_message(1), tokens.for_message(1), "every attempt, the same link");
        assert_ne!(tokens.for_message(1), tokens.for_message(2));
        assert_ne!(LinkTokens::from_material(&[8; 64]).for_message(1), tokens.for_message(1));
        assert!(crate::service::email_links::plausible(&tokens.for_message(1)));
    }
}
