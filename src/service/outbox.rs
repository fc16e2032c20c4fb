//! The email outbox: messages are written in the transaction of the change that causes them
//! and delivered later by `mail::worker`, which claims due rows with a lease so several
//! instances never send one message twice at the same time. A message is retried with
//! backoff; after the last attempt it is marked failed (and so is its invitation's delivery).

use crate::db::DbConnection;
use crate::db::schema::{invitations, outbox_emails};
use crate::domain::{InvitationDelivery, new_id, now_ms};
use diesel::prelude::*;
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

pub fn new_lease() -> i64 {
    new_id()
}
