//! `introspect`: who a credential belongs to, for the platform's gateways.

use super::{MAX_WEBHOOK_BODY, Platform, read_body};
use crate::api::error::{ApiError, ErrorBody};
use crate::http::AppError;
use crate::identity::{Identity, Introspection};
use actix_web::{HttpRequest, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
pub struct IntrospectRequest {
    /// The caller's `Authorization` header value: `Key tdk_…` or `Bearer tdt_…`.
    pub credential: String,
    /// The team a login token acts for (the caller's `X-Teamdeck-Team`); without it, the
    /// member's personal account.
    pub team: Option<String>,
    /// The caller's address as the gateway saw it (IPv4 or IPv6), checked against a key's
    /// address allowlist; a key with an allowlist is refused without it.
    pub client_ip: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AccountOut {
    pub id: String,
    pub slug: String,
    pub name: String,
    /// `personal` or `team`.
    pub kind: String,
}

#[derive(Serialize, ToSchema)]
pub struct IntrospectUser {
    pub id: String,
    pub name: String,
    pub email: String,
    /// The member's role in the account.
    pub role: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct IntrospectKey {
    pub id: String,
    pub name: String,
    pub masked: String,
}

#[derive(Serialize, ToSchema)]
pub struct IntrospectResponse {
    pub active: bool,
    /// Why not, when not active: `unknown`, `revoked`, `archived`, `not_a_member`, `expired`,
    /// `key_rotated` (a rotated key's old secret after its grace), `ip_not_allowed`,
    /// `key_spend_cap` (the key's monthly cap is reached) or `team_spend_limit` (the team's
    /// hard monthly limit is reached).
    pub reason: Option<String>,
    /// Who is billed: report usage against this account's slug.
    pub account: Option<AccountOut>,
    /// For a login token: the member the call is attributed to (report usage with `user`).
    pub user: Option<IntrospectUser>,
    /// For a team key: the key the call is attributed to (report usage with `key`).
    pub key: Option<IntrospectKey>,
    /// A key's scope, `API` or `ADMIN`.
    pub scope: Option<String>,
    /// Seconds this answer may be reused by the caller.
    pub cache_seconds: u64,
}

fn response(answer: &Introspection, cache_seconds: u64) -> IntrospectResponse {
    match answer {
        Introspection::Inactive(reason) => IntrospectResponse {
            active: false,
            reason: Some((*reason).to_owned()),
            account: None,
            user: None,
            key: None,
            scope: None,
            cache_seconds: 0,
        },
        Introspection::Active(g) => IntrospectResponse {
            active: true,
            reason: None,
            account: Some(AccountOut {
                id: g.account.id.to_string(),
                slug: g.account.slug.clone(),
                name: g.account.name.clone(),
                kind: g.account.kind.as_str().to_owned(),
            }),
            user: g.user.as_ref().map(|u| IntrospectUser {
                id: u.id.to_string(),
                name: u.name.clone(),
                email: u.email.clone(),
                role: g.role.map(|r| r.as_str().to_owned()),
            }),
            key: g.key.as_ref().map(|k| IntrospectKey {
                id: k.id.to_string(),
                name: k.name.clone(),
                masked: k.masked(),
            }),
            scope: g.scope.map(|s| s.as_str().to_owned()),
            cache_seconds,
        },
    }
}

/// Who a credential belongs to and whether it may be used now (for the platform's gateways).
/// Answers may come from a cache for up to `cache_seconds`; a key revoked, a team archived or
/// a member removed on this instance is seen at once.
#[utoipa::path(post, path = "/api/v1/introspect", tag = "super::platform", request_body = IntrospectRequest, security(("service_token" = [])),
    responses((status = 200, body = IntrospectResponse), (status = 401, body = ErrorBody)))]
pub async fn introspect(
    req: HttpRequest,
    payload: web::Payload,
    platform: web::Data<Platform>,
    identity: web::Data<Identity>,
) -> Result<web::Json<IntrospectResponse>, ApiError> {
    platform.require_service(&req)?;
    let body = read_body(payload, MAX_WEBHOOK_BODY).await?;
    let IntrospectRequest { credential, team, client_ip } = serde_json::from_slice(&body)
        .map_err(|e| AppError::BadRequest(format!("The body must be {{\"credential\": \"…\"}}: {e}")))?;
    let team = team.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    // A gateway may reuse an answer only for what is left of its life here, so a change is
    // seen everywhere within one TTL.
    let (answer, fresh_for) = identity.introspect(credential, team, client_ip).await?;
    Ok(web::Json(response(&answer, fresh_for.as_millis().div_ceil(1000) as u64)))
}
