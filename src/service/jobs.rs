//! Background jobs that run beside the server. Each pass is idempotent, so several
//! instances may run them at once and a restart mid-pass loses nothing.

use super::billing::{self, Issuer};
use crate::db::Db;
use crate::domain::now_ms;
use std::time::Duration;

/// Months the month-close pass looks back (a server down for longer catches up on start).
const MONTHS_BACK: u32 = 3;

/// Issues the usage invoices of months that ended at least `grace` ago: at start, then every
/// `every`.
pub async fn close_months(db: Db, issuer: Issuer, every: Duration, grace: Duration) {
    let grace_ms = grace.as_millis() as i64;
    loop {
        let issuer_c = issuer.clone();
        match db.query(move |conn| billing::close_due_months(conn, now_ms(), MONTHS_BACK, grace_ms, &issuer_c)).await {
            Ok(issued) if !issued.is_empty() => {
                tracing::info!(invoices = ?issued, "month closed: usage invoices issued")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "month close failed; it is retried on the next pass"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Emails the admins of teams whose keys expire within 7 days (once per key): at start, then
/// every `every`.
pub async fn remind_expiring_keys(db: Db, base_url: String, every: Duration) {
    loop {
        let base = base_url.clone();
        match db.query(move |conn| super::keys::reminders::remind_expiring(conn, now_ms(), &base)).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "key expiry reminders queued"),
            Err(e) => tracing::warn!(error = %e, "key expiry reminders failed; retried on the next pass"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Records deleted per statement by the retention job: small, so that no pass holds the
/// write lock long enough for a request to notice.
const RETENTION_BATCH: i64 = 1_000;

/// Deletes API request records older than `retention`, at start and then every `every`, a
/// small batch at a time with a pause between batches.
pub async fn keep_requests(db: Db, retention: Duration, every: Duration) {
    let retention_ms = retention.as_millis() as i64;
    loop {
        let mut deleted = 0;
        loop {
            let cutoff = now_ms() - retention_ms;
            match db.query(move |conn| super::requests::delete_older_than(conn, cutoff, RETENTION_BATCH)).await {
                Ok((n, more)) => {
                    deleted += n;
                    if !more {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "request retention failed; it is retried on the next pass");
                    break;
                }
            }
        }
        if deleted > 0 {
            tracing::info!(deleted, "request records past their retention deleted");
        }
        tokio::time::sleep(every).await;
    }
}
