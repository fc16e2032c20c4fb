//! The outbox worker: claims due messages with a lease, sends them off the async workers,
//! and records the outcome. A failed attempt is retried after `retry_base × 2^attempts`;
//! after `max_attempts` the message (and its invitation's delivery) is marked failed.
//! Nothing is lost on restart or SMTP outage: the outbox is in the database.

use super::Mailer;
use crate::db::Db;
use crate::domain::now_ms;
use crate::service::outbox::{self, OutboxSignal};
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
}

const LEASE_MS: i64 = 5 * 60 * 1000;

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

/// Sends what is due now; returns how many messages it handled.
pub async fn deliver_due(db: &Db, mailer: &Mailer, config: &OutboxConfig) -> Result<usize, crate::db::DbError> {
    let lease = outbox::new_lease();
    let due = db.query(move |conn| outbox::claim_due(conn, lease, LEASE_MS, 10)).await?;
    let handled = due.len();
    for email in due {
        let mut message = email.clone();
        // The token of the link in the message, for the local outbox's log line.
        let mut minted: Option<String> = None;
        if let Some(invitation) = email.invitation_id.filter(|_| message.text_body.contains(outbox::TOKEN_PLACEHOLDER))
        {
            match db.query(move |conn| invitations::mint_token(conn, invitation)).await? {
                Some(token) => {
                    message.text_body = message.text_body.replace(outbox::TOKEN_PLACEHOLDER, &token);
                    message.html_body = message.html_body.replace(outbox::TOKEN_PLACEHOLDER, &token);
                    minted = Some(token);
                }
                None => {
                    // Cancelled (or accepted) before it went out: nothing to send.
                    let email = email.clone();
                    db.query(move |conn| {
                        outbox::mark_attempt_failed(conn, &email, "the invitation is no longer pending", None)
                    })
                    .await?;
                    continue;
                }
            }
        }
        if let Some(link) = email.email_link_id.filter(|_| message.text_body.contains(email_links::TOKEN_PLACEHOLDER)) {
            match db.query(move |conn| email_links::mint_token(conn, link)).await? {
                Some(token) => {
                    message.text_body = message.text_body.replace(email_links::TOKEN_PLACEHOLDER, &token);
                    message.html_body = message.html_body.replace(email_links::TOKEN_PLACEHOLDER, &token);
                    minted = Some(token);
                }
                None => {
                    // Used, replaced by a newer link or expired before it went out.
                    let email = email.clone();
                    db.query(move |conn| outbox::mark_attempt_failed(conn, &email, "the link is no longer live", None))
                        .await?;
                    continue;
                }
            }
        }
        let (mailer, config_c, log_text) = (mailer.clone(), config.clone(), message.text_body.clone());
        let sent = tokio::task::spawn_blocking(move || {
            let message_id = format!("<outbox-{}@teamdeck>", message.id);
            mailer.send(
                &config_c.from,
                &message.to_address,
                &message.subject,
                &message.text_body,
                &message.html_body,
                &message_id,
            )
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
    }
    Ok(handled)
}
