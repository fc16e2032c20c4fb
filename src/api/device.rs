//! The CLI's login (OAuth-style device flow: `device/code`, then `device/token` polled until
//! the person confirms in the browser) and its logout.

use super::auth::{ApiCaller, Credential};
use super::error::{ApiError, ErrorBody};
use crate::auth::Limits;
use crate::db::Db;
use crate::http::AppError;
use crate::service::tokens;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
pub struct DeviceCodeRequest {
    /// Shown to the person confirming, and on their tokens page (e.g. the hostname).
    pub device_name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DeviceCode {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: i64,
    pub interval: i64,
}

/// Starts a CLI login: show `user_code` and `verification_uri` to the person, then poll
/// `device/token` every `interval` seconds. Limited per client address: 429 with code
/// `rate_limited` and `Retry-After` past it.
#[utoipa::path(post, path = "/api/v1/device/code", request_body = DeviceCodeRequest, security(()),
    responses((status = 200, body = DeviceCode), (status = 429, body = ErrorBody)))]
pub async fn device_code(
    req: HttpRequest,
    body: web::Json<DeviceCodeRequest>,
    db: web::Data<Db>,
    site: web::Data<crate::http::Site>,
    limits: web::Data<Limits>,
) -> Result<web::Json<DeviceCode>, ApiError> {
    let client = crate::http::client_address(&req);
    limits.device_code(&client).await?.map_err(AppError::from)?;
    let name: String =
        body.device_name.as_deref().unwrap_or("CLI").chars().filter(|c| !c.is_control()).take(64).collect();
    let started = db.query(move |conn| tokens::start_device(conn, &name, &client)).await?;
    let uri = format!("{}/device", site.base_url);
    Ok(web::Json(DeviceCode {
        verification_uri_complete: format!("{uri}?code={}", started.user_code),
        verification_uri: uri,
        device_code: started.device_code,
        user_code: started.user_code,
        expires_in: tokens::DEVICE_CODE_TTL_MS / 1000,
        interval: 2,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct DeviceTokenRequest {
    pub device_code: String,
}

#[derive(Serialize, ToSchema)]
pub struct AccessToken {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
}

/// The CLI's poll. 400 with code `authorization_pending` until the person confirms;
/// `access_denied` or `expired_token` end the login.
#[utoipa::path(post, path = "/api/v1/device/token", request_body = DeviceTokenRequest, security(()),
    responses((status = 200, body = AccessToken), (status = 400, body = ErrorBody)))]
pub async fn device_token(
    req: HttpRequest,
    body: web::Json<DeviceTokenRequest>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let (code, client) = (body.into_inner().device_code, crate::http::client_address(&req));
    let (status_code, message) = match db.query(move |conn| tokens::poll(conn, &code, &client)).await? {
        tokens::Poll::Token(token) => {
            return Ok(HttpResponse::Ok().json(AccessToken { access_token: token, token_type: "Bearer" }));
        }
        tokens::Poll::Pending => ("authorization_pending", "Waiting for the code to be confirmed in the browser."),
        tokens::Poll::Denied => ("access_denied", "The login was denied in the browser."),
        tokens::Poll::Expired => {
            ("expired_token", "The code expired or was already used. Run `teamdeck auth login` again.")
        }
    };
    Ok(HttpResponse::BadRequest().json(ErrorBody { code: status_code.into(), message: message.into() }))
}

/// Revokes the login token the call is made with (the CLI's `auth logout`).
#[utoipa::path(post, path = "/api/v1/auth/logout", security(("login_token" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(caller: ApiCaller) -> Result<HttpResponse, ApiError> {
    let Credential::LoginToken { token, user } = &caller.credential else {
        return Err(AppError::BadRequest(
            "Only a login token can be logged out; delete a team key on its page.".into(),
        )
        .into());
    };
    let (user_id, token_id) = (user.id, token.id);
    caller.identity().commit(move |conn| tokens::revoke(conn, user_id, token_id)).await??;
    Ok(HttpResponse::NoContent().finish())
}
