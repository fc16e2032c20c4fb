//! The control-plane interface for the platform's gateways and payment provider:
//! credential introspection, usage ingestion (both with `Authorization: Bearer <service
//! token>`, off unless `TEAMDECK_SERVICE_TOKEN` is set) and the payment webhook (HMAC-signed,
//! off unless `TEAMDECK_BILLING_WEBHOOK_SECRET` is set).
//!
//! One file per endpoint: `introspect.rs`, `usage.rs`, `webhook.rs`, and `runtime.rs` (the
//! runtime contract for apps, with the service token); this one holds what
//! they share (the settings, the service-token check, reading a bounded body).

pub mod introspect;
pub mod runtime;
pub mod usage;
pub mod webhook;

use crate::http::AppError;
use actix_web::http::header;
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What the platform endpoints need, from the settings.
pub struct Platform {
    /// SHA-256 of the service token (compared in constant time); `None` turns the gateway
    /// endpoints off.
    service_token_hash: Option<[u8; 32]>,
    webhook_secret: Option<Vec<u8>>,
}

/// Bodies of introspection and webhook calls: small JSON objects.
const MAX_WEBHOOK_BODY: usize = 64 * 1024;

impl Platform {
    pub fn new(service_token: Option<&str>, webhook_secret: Option<&str>) -> Self {
        Self {
            service_token_hash: service_token.filter(|t| !t.is_empty()).map(|t| Sha256::digest(t.as_bytes()).into()),
            webhook_secret: webhook_secret.filter(|s| !s.is_empty()).map(|s| s.as_bytes().to_vec()),
        }
    }

    /// Refuses a call without the service token (404 when the endpoints are off: they do not
    /// exist on this deployment).
    fn require_service(&self, req: &HttpRequest) -> Result<(), AppError> {
        let Some(expected) = &self.service_token_hash else {
            return Err(AppError::NotFound);
        };
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| AppError::Unauthenticated("Send `Authorization: Bearer <service token>`.".into()))?;
        let hash: [u8; 32] = Sha256::digest(presented.trim().as_bytes()).into();
        if bool::from(hash.ct_eq(expected)) {
            Ok(())
        } else {
            Err(AppError::Unauthenticated("This service token is not valid.".into()))
        }
    }
}

async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::BytesMut, AppError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| AppError::BadRequest(format!("Could not read the request body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(AppError::BadRequest(format!("The request body is larger than {} KiB.", limit / 1024)));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
