//! CSRF protection for every state-changing browser request (anything but GET, HEAD and
//! OPTIONS outside `/api/`, whose callers authenticate with headers, not cookies):
//! 1. a request the browser marks as cross-site (`Sec-Fetch-Site`) or whose `Origin` is not
//!    this site (its base URL, or the host the request was sent to: the `Host` header, or
//!    what a trusted proxy forwarded, never a forwarding header from anyone else) is refused;
//! 2. the session's token must come back, in the `X-CSRF-Token` header (htmx sends it from
//!    `hx-headers` on `<body>`) or in the `csrf_token` field of a form (url-encoded or
//!    multipart).
//!
//! The comparison is constant-time. Sign-in is covered too: the anonymous session has a token.

use super::access::pass;
use super::error::AppError;
use crate::auth::session;
use crate::http::{Site, TrustedProxies};
use actix_session::SessionExt;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use subtle::ConstantTimeEq;

pub const HEADER: &str = "X-CSRF-Token";
pub const FIELD: &str = "csrf_token";
/// Larger bodies are refused before they are read (file uploads go through their own route
/// with the token in the header or query).
const MAX_FORM_BYTES: usize = 256 * 1024;

pub async fn verify<B: MessageBody>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) || req.path().starts_with("/api/") {
        return pass(req, next).await;
    }
    // No route takes this method here (`access::enforce` declared nothing): the router
    // answers 404 or 405, and nothing runs that a forged request could use.
    if req.extensions().get::<crate::http::Access>().is_none() {
        return pass(req, next).await;
    }
    let refuse = |req: ServiceRequest| Ok(req.error_response(AppError::CsrfRejected).map_into_right_body());
    if !same_site(&req) {
        tracing::warn!(route = ?req.match_pattern(), "cross-site request refused");
        return refuse(req);
    }
    let Some(expected) = session::existing_csrf_token(&req.get_session()) else {
        return refuse(req);
    };
    let mut sent = req.headers().get(HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body_kind = body_kind(&req);
    if sent.is_none() && body_kind.is_some() {
        let body = match req.extract::<web::Bytes>().await {
            Ok(body) if body.len() <= MAX_FORM_BYTES => body,
            Ok(_) => {
                return Ok(req
                    .error_response(actix_web::error::ErrorPayloadTooLarge("form too large"))
                    .map_into_right_body());
            }
            Err(e) => return Ok(req.error_response(e).map_into_right_body()),
        };
        sent = match body_kind {
            Some(BodyKind::Multipart) => multipart_field(&body, FIELD),
            _ => form_field(&body, FIELD),
        };
        req.set_payload(Payload::from(body));
    }
    match sent {
        Some(sent) if bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) => pass(req, next).await,
        _ => refuse(req),
    }
}

fn same_site(req: &ServiceRequest) -> bool {
    if let Some(site) = req.headers().get("Sec-Fetch-Site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    let Some(origin) = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true; // older clients and non-browsers: the token still has to match
    };
    let site = req.app_data::<web::Data<Site>>();
    // The host as the browser named it: a trusted proxy may say so, anyone else may not (a
    // forged X-Forwarded-Host must not make another site's origin look like this one).
    let untrusted = TrustedProxies::default();
    let proxies = site.map_or(&untrusted, |s| &s.proxies);
    let host = proxies.host(req.peer_addr().map(|a| a.ip()), req.headers());
    let origin_host = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
    site.is_some_and(|s| s.origin == origin) || (host.is_some() && origin_host == host.as_deref())
}

#[derive(Clone, Copy)]
enum BodyKind {
    UrlEncoded,
    Multipart,
}

fn body_kind(req: &ServiceRequest) -> Option<BodyKind> {
    let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok())?;
    if ct.starts_with("application/x-www-form-urlencoded") {
        Some(BodyKind::UrlEncoded)
    } else if ct.starts_with("multipart/form-data") {
        Some(BodyKind::Multipart)
    } else {
        None
    }
}

/// The value of a small text part of a multipart body (the CSRF token precedes the file).
fn multipart_field(body: &[u8], name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\"");
    let at = body.windows(marker.len()).position(|w| w == marker.as_bytes())?;
    let rest = &body[at..];
    let start = rest.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let len = rest[start..].windows(2).position(|w| w == b"\r\n")?;
    String::from_utf8(rest[start..start + len].to_vec()).ok()
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find_map(|(k, v)| (k == name).then_some(v))
}
