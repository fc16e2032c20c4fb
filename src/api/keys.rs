//! `teams/{slug}/keys`: list a team's API keys, create one (its secret returned this once,
//! with an optional expiry, monthly spend cap and address allowlist), rotate one (the new
//! secret returned this once, the old one kept for a grace), retire a rotated-out secret,
//! delete one. Every call needs an ADMIN-scoped team key, or the login token of a member
//! whose role allows it.

use super::auth::ApiCaller;
use super::error::{ApiError, ErrorBody};
use crate::db::Db;
use crate::domain::{Allowlist, Expiry, Grace, KeyScope, Permission, TeamName, When, now_ms};
use crate::http::AppError;
use crate::service::keys::{self, ApiKey, KeyError, KeyTerms, rotation};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct KeyOut {
    pub id: String,
    pub name: String,
    /// `API` or `ADMIN`.
    pub scope: String,
    /// The key's prefix and last four characters; the secret is never returned again.
    pub masked: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    /// The client address of the last use.
    pub last_used_ip: Option<String>,
    /// When the key stops working; `null`: never.
    pub expires_at: Option<String>,
    /// After a rotation, until when the old secret still works (`null` once it does not).
    pub old_secret_until: Option<String>,
    /// Micro-dollars per calendar month; `null`: no cap.
    pub spend_cap: Option<i64>,
    /// CIDR ranges the key may be used from; empty: anywhere.
    pub allowed_ips: Vec<String>,
}

impl From<ApiKey> for KeyOut {
    fn from(k: ApiKey) -> Self {
        let now = now_ms();
        KeyOut {
            id: k.id.to_string(),
            scope: k.scope.as_str().to_owned(),
            masked: k.masked(),
            created_at: When::from_ms(k.created_at).iso,
            last_used_at: k.last_used_at.map(|t| When::from_ms(t).iso),
            last_used_ip: k.last_used_ip.clone(),
            expires_at: k.expires_at.map(|t| When::from_ms(t).iso),
            old_secret_until: k.previous_until.filter(|t| *t > now).map(|t| When::from_ms(t).iso),
            spend_cap: k.spend_cap,
            allowed_ips: k.allowed_ips.ranges().iter().map(ToString::to_string).collect(),
            name: k.name,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct KeysOut {
    pub keys: Vec<KeyOut>,
}

/// The team's keys (an ADMIN-scoped key, or the login token of an admin or billing member).
#[utoipa::path(get, path = "/api/v1/teams/{slug}/keys", params(("slug" = String, Path,)),
    responses((status = 200, body = KeysOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_keys(
    caller: ApiCaller,
    slug: web::Path<String>,
    db: web::Data<Db>,
) -> Result<web::Json<KeysOut>, ApiError> {
    let team = caller.team(Some(&slug)).await?;
    team.require(Permission::ViewKeys, true)?;
    let account_id = team.account.id;
    let listed = db.query(move |conn| keys::list(conn, account_id)).await?;
    Ok(web::Json(KeysOut { keys: listed.into_iter().map(|l| l.key.into()).collect() }))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateKey {
    pub name: String,
    /// `API` or `ADMIN`.
    pub scope: String,
    /// `30d`, `90d`, `365d` (any number of days), a date `2027-01-31`, or `never` (the default).
    pub expires: Option<String>,
    /// Monthly spend cap in micro-dollars.
    pub spend_cap: Option<i64>,
    /// Up to 50 CIDR ranges (IPv4 or IPv6) the key may be used from.
    #[serde(default)]
    pub allowed_ips: Vec<String>,
}

impl CreateKey {
    fn terms(&self) -> Result<KeyTerms, String> {
        let expires_at = Expiry::parse(self.expires.as_deref().unwrap_or_default())?.at(now_ms())?;
        let allowed_ips = Allowlist::parse(&self.allowed_ips.join(" "))?;
        Ok(KeyTerms { expires_at, allowed_ips, spend_cap: self.spend_cap })
    }
}

#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    pub key: KeyOut,
    /// The whole key. Returned this once; store it now.
    pub secret: String,
}

/// Creates a key (an ADMIN-scoped key, or an admin's login token).
#[utoipa::path(post, path = "/api/v1/teams/{slug}/keys", params(("slug" = String, Path,)), request_body = CreateKey,
    responses((status = 201, body = CreatedKey), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_key(
    caller: ApiCaller,
    slug: web::Path<String>,
    body: web::Json<CreateKey>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let team = caller.team(Some(&slug)).await?;
    team.require(Permission::ManageKeys, true)?;
    let name = TeamName::parse(&body.name).map_err(|e| AppError::BadRequest(format!("name: {e}")))?;
    let scope: KeyScope = body.scope.parse().map_err(AppError::BadRequest)?;
    let terms = body.terms().map_err(AppError::BadRequest)?;
    let actor = caller.actor();
    let account = team.account.clone();
    let created =
        db.run(move |conn| Ok::<_, AppError>(keys::create(conn, &account, &actor, &name, scope, &terms))).await?;
    match created {
        Ok((key, secret)) => Ok(HttpResponse::Created().json(CreatedKey { key: key.into(), secret })),
        Err(e) => Err(key_error(e).into()),
    }
}

fn key_error(e: KeyError) -> AppError {
    match e {
        KeyError::Db(e) => AppError::internal(e),
        KeyError::NotFound => AppError::NotFound,
        KeyError::Invalid(m) => AppError::BadRequest(m),
        KeyError::Archived => AppError::Forbidden(e.to_string()),
    }
}

#[derive(Deserialize, ToSchema)]
pub struct RotateKey {
    /// How long the old secret keeps working: `1h` to `7d` (default `24h`).
    pub grace: Option<String>,
}

/// Rotates a key: a new secret (returned this once) under the same key; the old secret keeps
/// working for the grace, and calls made with it are marked in the request history.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/keys/{key_id}/rotate", params(("slug" = String, Path,), ("key_id" = String, Path,)), request_body = RotateKey,
    responses((status = 200, body = CreatedKey), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rotate_key(
    caller: ApiCaller,
    path: web::Path<(String, i64)>,
    body: web::Json<RotateKey>,
) -> Result<web::Json<CreatedKey>, ApiError> {
    let (slug, key_id) = path.into_inner();
    let team = caller.team(Some(&slug)).await?;
    team.require(Permission::ManageKeys, true)?;
    let grace = Grace::parse(body.grace.as_deref().unwrap_or("24h")).map_err(AppError::BadRequest)?;
    let (account_id, actor) = (team.account.id, caller.actor());
    let rotated =
        caller.identity().commit(move |conn| rotation::rotate(conn, account_id, &actor, key_id, grace)).await?;
    let (key, secret) = rotated.map_err(key_error)?;
    Ok(web::Json(CreatedKey { key: key.into(), secret }))
}

/// Retires a rotated key's old secret now, before its grace ends.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/keys/{key_id}/retire-old-secret", params(("slug" = String, Path,), ("key_id" = String, Path,)),
    responses((status = 200, body = KeyOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn retire_old_secret(
    caller: ApiCaller,
    path: web::Path<(String, i64)>,
) -> Result<web::Json<KeyOut>, ApiError> {
    let (slug, key_id) = path.into_inner();
    let team = caller.team(Some(&slug)).await?;
    team.require(Permission::ManageKeys, true)?;
    let (account_id, actor) = (team.account.id, caller.actor());
    let retired =
        caller.identity().commit(move |conn| rotation::retire_old_secret(conn, account_id, &actor, key_id)).await?;
    Ok(web::Json(retired.map_err(key_error)?.into()))
}

/// Deletes (revokes) a key: it stops working at once.
#[utoipa::path(delete, path = "/api/v1/teams/{slug}/keys/{key_id}", params(("slug" = String, Path,), ("key_id" = String, Path,)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_key(caller: ApiCaller, path: web::Path<(String, i64)>) -> Result<HttpResponse, ApiError> {
    let (slug, key_id) = path.into_inner();
    let team = caller.team(Some(&slug)).await?;
    team.require(Permission::ManageKeys, true)?;
    let (account_id, actor) = (team.account.id, caller.actor());
    match caller.identity().commit(move |conn| keys::revoke(conn, account_id, &actor, key_id)).await? {
        Ok(_) => Ok(HttpResponse::NoContent().finish()),
        Err(KeyError::Db(e)) => Err(AppError::internal(e).into()),
        Err(_) => Err(AppError::NotFound.into()),
    }
}

#[derive(Deserialize, ToSchema)]
pub struct KeyLimits {
    /// Monthly spend cap in micro-dollars; `null` or absent: no cap.
    pub spend_cap: Option<i64>,
    /// Up to 50 CIDR ranges; empty or absent: any address.
    #[serde(default)]
    pub allowed_ips: Vec<String>,
}

/// Replaces a key's limits: its monthly spend cap and its address allowlist. Raising the cap
/// above this month's spend makes the key work again at once.
#[utoipa::path(put, path = "/api/v1/teams/{slug}/keys/{key_id}/limits", params(("slug" = String, Path,), ("key_id" = String, Path,)), request_body = KeyLimits,
    responses((status = 200, body = KeyOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_key_limits(
    caller: ApiCaller,
    path: web::Path<(String, i64)>,
    body: web::Json<KeyLimits>,
) -> Result<web::Json<KeyOut>, ApiError> {
    let (slug, key_id) = path.into_inner();
    let team = caller.team(Some(&slug)).await?;
    team.require(Permission::ManageKeys, true)?;
    let allowed = Allowlist::parse(&body.allowed_ips.join(" ")).map_err(AppError::BadRequest)?;
    let (account_id, actor, cap) = (team.account.id, caller.actor(), body.spend_cap);
    let changed = caller
        .identity()
        .commit(move |conn| keys::spend::set_limits(conn, account_id, &actor, key_id, cap, &allowed))
        .await?;
    Ok(web::Json(changed.map_err(key_error)?.into()))
}
