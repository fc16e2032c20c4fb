//! The outbox worker: claims due messages with a lease, sends them off the async workers,
//! and records the outcome. A failed attempt is retried after `retry_base × 2^attempts`;
//! after `max_attempts` the message (and its invitation's delivery) is marked failed.
//! Nothing is lost on restart or SMTP outage: the outbox is in the database.
//!
//! Each claimed message is handled on its own: an error on one (the database dropped the
//! connection) gives that one back for a retry and the worker goes on with the rest. The
//! lease covers one send (the SMTP timeout and a margin) and is renewed before each, so a
//! message whose worker died is due again within [`LEASE`]. Delivery is at least once; a
//! repeated message carries the same link as the first (`outbox::LinkTokens`).

use super::{Mailer, SMTP_TIMEOUT};
use crate::db::{Db, DbError};
use crate::domain::now_ms;
use crate::service::outbox::{self, LinkTokens, OutboxEmail, OutboxSignal};
use crate::service::{email_links, invitations};
use lettre::message::Mailbox;
use std::time::Duration;

#[derive(Clone)]
pub struct OutboxConfig {
    pub from: Mailbox,
    pub retry_base: Duration,
    pub max_attempts: i32,
    pub poll: Duration,
    /// The local outbox: each invite link is also logged so a local user can click it.
    pub log_links: bool,
    /// The tokens of the links messages carry.
    pub links: LinkTokens,
}

/// How long a claimed message is ours: one send, and a margin for recording its outcome.
pub const LEASE: Duration = Duration::from_secs(SMTP_TIMEOUT.as_secs() + 10);
/// When a message whose handling failed (not its sending) is tried again.
const RELEASE_DELAY_MS: i64 = 5_000;

pub async fn run(db: Db, mailer: Mailer, config: OutboxConfig, signal: OutboxSignal) {
    loop {
        match deliver_due(&db, &mailer, &config).await {
            Ok(0) => {}
            Ok(_) => continue, // there may be more
            Err(e) => tracing::warn!(error = %e, "outbox: could not read due messages"),
        }
        tokio::select! {
            _ = signal.0.notified() => {}
            _ = tokio::time::sleep(config.poll) => {}
        }
    }
}

/// Sends what is due now; returns how many messages it claimed. Fails only when it could
/// not claim any.
pub async fn deliver_due(db: &Db, mailer: &Mailer, config: &OutboxConfig) -> Result<usize, DbError> {
    let lease = outbox::new_lease();
    let lease_ms = LEASE.as_millis() as i64;
    let due = db.query(move |conn| outbox::claim_due(conn, lease, lease_ms, 10)).await?;
    let handled = due.len();
    for email in due {
        let id = email.id;
        if let Err(error) = deliver(db, mailer, config, lease, email).await {
            tracing::warn!(outbox_id = id, %error, "outbox: a message could not be handled; it is tried again");
            let retry_at = now_ms() + RELEASE_DELAY_MS;
            if let Err(error) = db.query(move |conn| outbox::release(conn, id, lease, retry_at)).await {
                // Its lease runs out soon enough: it is due again then.
                tracing::warn!(outbox_id = id, %error, "outbox: could not give the message back");
            }
        }
    }
    Ok(handled)
}

/// Sends one claimed message and records the outcome.
async fn deliver(
    db: &Db,
    mailer: &Mailer,
    config: &OutboxConfig,
    lease: i64,
    email: OutboxEmail,
) -> Result<(), DbError> {
    // The batch's earlier sends took time: the lease is renewed to cover this one.
    let lease_ms = LEASE.as_millis() as i64;
    if !db.query(move |conn| outbox::renew_lease(conn, email.id, lease, lease_ms)).await? {
        return Ok(()); // no longer ours
    }
    let Some((message, minted)) = with_link(db, config, email.clone()).await? else { return Ok(()) };
    let (mailer_c, from, log_text) = (mailer.clone(), config.from.clone(), message.text_body.clone());
    let sent = tokio::task::spawn_blocking(move || {
        let message_id = format!("<outbox-{}@teamdeck>", message.id);
        mailer_c.send(&from, &message.to_address, &message.subject, &message.text_body, &message.html_body, &message_id)
    })
    .await
    .unwrap_or_else(|e| Err(format!("the sending thread failed: {e}")));
    let attempt = email.attempts + 1;
    match sent {
        Ok(()) => {
            if let Some(token) = minted.as_deref().filter(|_| config.log_links) {
                if let Some(link) = log_text.lines().find(|l| l.contains(token)) {
                    tracing::info!(to = %email.to_address, link = %link.trim(), "link written to the local outbox");
                }
            } else {
                tracing::info!(outbox_id = email.id, attempt, "email sent");
            }
            db.query(move |conn| outbox::mark_sent(conn, &email)).await?;
        }
        Err(error) => {
            let retry_at = (attempt < config.max_attempts)
                .then(|| now_ms() + (config.retry_base.as_millis() as i64) * (1i64 << (attempt - 1).clamp(0, 20)));
            tracing::warn!(outbox_id = email.id, attempt, %error, gives_up = retry_at.is_none(), "email not sent");
            db.query(move |conn| outbox::mark_attempt_failed(conn, &email, &error, retry_at)).await?;
        }
    }
    Ok(())
}

/// The message with its link's token in place of the placeholder (and the token), or `None`
/// when the invitation or link is no longer live (the message is then marked failed).
async fn with_link(
    db: &Db,
    config: &OutboxConfig,
    email: OutboxEmail,
) -> Result<Option<(OutboxEmail, Option<String>)>, DbError> {
    let mut message = email.clone();
    let token = config.links.for_message(email.id);
    let (placeholder, live, gone) = if let Some(invitation) =
        email.invitation_id.filter(|_| message.text_body.contains(outbox::TOKEN_PLACEHOLDER))
    {
        let t = token.clone();
        let live = db.query(move |conn| invitations::mint_token(conn, invitation, &t)).await?;
        (outbox::TOKEN_PLACEHOLDER, live, "the invitation is no longer pending")
    } else if let Some(link) =
        email.email_link_id.filter(|_| message.text_body.contains(email_links::TOKEN_PLACEHOLDER))
    {
        let t = token.clone();
        let live = db.query(move |conn| email_links::mint_token(conn, link, &t)).await?;
        (email_links::TOKEN_PLACEHOLDER, live, "the link is no longer live")
    } else {
        return Ok(Some((message, None)));
    };
    if !live {
        // Cancelled, used, replaced or expired before it went out: nothing to send.
        db.query(move |conn| outbox::mark_attempt_failed(conn, &email, gone, None)).await?;
        return Ok(None);
    }
    message.text_body = message.text_body.replace(placeholder, &token);
    message.html_body = message.html_body.replace(placeholder, &token);
    Ok(Some((message, Some(token))))
}
