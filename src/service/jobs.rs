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
