//! `billing/webhook`: the payment provider says an invoice was paid, in an HMAC-signed call.

use super::{MAX_WEBHOOK_BODY, Platform, read_body};
use crate::api::error::{ApiError, ErrorBody};
use crate::db::Db;
use crate::domain::now_ms;
use crate::http::AppError;
use crate::service::billing::{self, BillingError};
use actix_web::{HttpRequest, web};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;

/// A webhook's timestamp may be this far from the server's clock.
const WEBHOOK_TOLERANCE_SECS: i64 = 300;
pub const SIGNATURE_HEADER: &str = "Teamdeck-Signature";

#[derive(Deserialize, ToSchema)]
pub struct WebhookEvent {
    /// The provider's event id: each is processed once.
    pub id: String,
    /// `invoice.paid` (other types are acknowledged and ignored).
    #[serde(rename = "type")]
    pub kind: String,
    /// The invoice number, e.g. `TD-2026-000123`.
    pub invoice: String,
    /// Micro-dollars received; must match the invoice's total when given.
    pub amount: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookOutcome {
    pub received: bool,
    pub invoice: Option<String>,
    pub status: String,
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, within the tolerance.
pub fn verify_signature(secret: &[u8], header_value: &str, body: &[u8], now_secs: i64) -> Result<(), &'static str> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header_value.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", s)) => signatures.extend(hex::decode(s).ok()),
            _ => {}
        }
    }
    let t = timestamp.ok_or("the signature has no timestamp")?;
    if now_secs.abs_diff(t) > WEBHOOK_TOLERANCE_SECS as u64 {
        return Err("the signature's timestamp is too old or in the future");
    }
    for signature in signatures {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| "bad secret")?;
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        if mac.verify_slice(&signature).is_ok() {
            return Ok(());
        }
    }
    Err("the signature does not match")
}

/// The payment provider tells Teamdeck an invoice was paid. Signed with HMAC-SHA256 in the
/// `Teamdeck-Signature` header; a replayed event id is refused (409).
#[utoipa::path(post, path = "/api/v1/billing/webhook", tag = "super::platform", request_body = WebhookEvent, security(()),
    responses((status = 200, body = WebhookOutcome), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn billing_webhook(
    req: HttpRequest,
    payload: web::Payload,
    platform: web::Data<Platform>,
    db: web::Data<Db>,
) -> Result<web::Json<WebhookOutcome>, ApiError> {
    let Some(secret) = &platform.webhook_secret else {
        return Err(AppError::NotFound.into());
    };
    let body = read_body(payload, MAX_WEBHOOK_BODY).await?;
    let signature = req.headers().get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if let Err(why) = verify_signature(secret, signature, &body, now_ms() / 1000) {
        tracing::warn!(why, "billing webhook refused");
        return Err(AppError::Unauthenticated(format!("Webhook signature refused: {why}.")).into());
    }
    let event: WebhookEvent =
        serde_json::from_slice(&body).map_err(|e| AppError::BadRequest(format!("Not a webhook event: {e}")))?;
    if event.kind != "invoice.paid" {
        return Ok(web::Json(WebhookOutcome { received: true, invoice: None, status: "ignored".into() }));
    }
    let WebhookEvent { id, invoice, amount, .. } = event;
    if id.trim().is_empty() || id.len() > 200 {
        return Err(AppError::BadRequest("The event needs an `id` of 1 to 200 characters.".into()).into());
    }
    let paid = db
        .run(move |conn| billing::webhook_paid(conn, id.trim(), &invoice, amount).map_err(WebhookError::from))
        .await
        .map_err(|e| match e {
            WebhookError::Billing(BillingError::Replayed) => {
                AppError::Conflict("This event id was already processed.".into())
            }
            WebhookError::Billing(BillingError::NotFound) => AppError::NotFound,
            WebhookError::Billing(e @ (BillingError::AlreadyPaid(_) | BillingError::Void(_))) => {
                AppError::Conflict(e.to_string())
            }
            WebhookError::Billing(e @ BillingError::WrongAmount { .. }) => AppError::BadRequest(e.to_string()),
            WebhookError::Billing(e) => AppError::internal(e),
            WebhookError::Db(e) => AppError::from(e),
        })?;
    tracing::info!(invoice = %paid.number, "invoice paid by the payment provider");
    Ok(web::Json(WebhookOutcome { received: true, invoice: Some(paid.number), status: "paid".into() }))
}

#[derive(Debug, thiserror::Error)]
enum WebhookError {
    #[error(transparent)]
    Billing(#[from] BillingError),
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn only_a_fresh_signature_of_this_body_with_this_secret_passes() {
        let body = br#"{"id":"evt_1"}"#;
        let now = 1_800_000_000;
        assert_eq!(verify_signature(b"s3cret", &sign(b"s3cret", now, body), body, now), Ok(()));
        assert!(verify_signature(b"s3cret", &sign(b"other", now, body), body, now).is_err());
        assert!(verify_signature(b"s3cret", &sign(b"s3cret", now, body), br#"{"id":"evt_2"}"#, now).is_err());
        assert!(verify_signature(b"s3cret", &sign(b"s3cret", now - 301, body), body, now).is_err());
        assert!(verify_signature(b"s3cret", "v1=00", body, now).is_err());
        assert!(verify_signature(b"s3cret", "", body, now).is_err());
    }
}
