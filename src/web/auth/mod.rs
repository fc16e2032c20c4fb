//! Sign-up, sign-in and sign-out, and the one way a browser is signed in or out.

pub mod forgot;
pub mod login;
pub mod logout;
pub mod reset;
pub mod second_step;
pub mod signup;

use crate::auth::session;
use crate::db::DbConnection;
use crate::http::{AppError, Site};
use crate::identity::Identity;
use crate::service::password_reset;
use crate::service::sessions::Origin;
use actix_session::Session;
use actix_web::cookie::Cookie;
use actix_web::{HttpRequest, web};

/// Signs the browser of `req` in as `user_id`: a new session (the one it held before, if any,
/// ends, so a session id never outlives a sign-in), and a new CSRF token. The returned cookie
/// goes on the response.
pub async fn sign_in(req: &HttpRequest, session: &Session, user_id: i64) -> Result<Cookie<'static>, AppError> {
    start(req, session, user_id, false, |_| Ok(())).await
}

/// [`sign_in`] after the password was checked (and the second factor, when `second_factor`):
/// in the same transaction as the new session, the person's unused reset links end and their
/// security log records the sign-in.
pub async fn sign_in_with_password(
    req: &HttpRequest,
    session: &Session,
    user_id: i64,
    second_factor: bool,
) -> Result<Cookie<'static>, AppError> {
    let origin = origin(req);
    let device = super::sessions::device_of(&origin.user_agent);
    start(req, session, user_id, second_factor, move |conn| {
        password_reset::signed_in_with_password(conn, user_id, &device, &origin.client_address)
    })
    .await
}

async fn start<F>(
    req: &HttpRequest,
    session: &Session,
    user_id: i64,
    second_factor: bool,
    first: F,
) -> Result<Cookie<'static>, AppError>
where
    F: FnOnce(&mut DbConnection) -> diesel::QueryResult<()> + Send + 'static,
{
    let (identity, site) = parts(req)?;
    if let Some(old) = session::presented_token(req, site.https) {
        identity.end_session(old).await?;
    }
    let token = identity.start_session_after(user_id, origin(req), second_factor, first).await?;
    session::renew_for_sign_in(session);
    let (lifetimes, _) = identity.session_lifetimes();
    Ok(session::signed_in_cookie(token, site.https, lifetimes.absolute_ms))
}

/// Signs the browser of `req` out: its session ends on every instance at once, and what the
/// pages kept is forgotten. The returned cookie (a removal) goes on the response.
pub async fn sign_out(req: &HttpRequest, session: &Session) -> Result<Cookie<'static>, AppError> {
    let cookie = end_session(req).await?;
    session::forget(session);
    Ok(cookie)
}

/// Ends the browser's session, on every instance at once, but keeps what the pages keep (a
/// message for the next page). The returned cookie (a removal) goes on the response.
pub async fn end_session(req: &HttpRequest) -> Result<Cookie<'static>, AppError> {
    let (identity, site) = parts(req)?;
    if let Some(token) = session::presented_token(req, site.https) {
        identity.end_session(token).await?;
    }
    Ok(session::signed_out_cookie(site.https))
}

/// Where a request comes from, as the sessions page and the security log show it.
pub(crate) fn origin(req: &HttpRequest) -> Origin {
    Origin {
        client_address: crate::http::client_address(req),
        user_agent: req.headers().get("User-Agent").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned(),
    }
}

pub(crate) fn parts(req: &HttpRequest) -> Result<(web::Data<Identity>, web::Data<Site>), AppError> {
    let identity = req.app_data::<web::Data<Identity>>().cloned();
    let site = req.app_data::<web::Data<Site>>().cloned();
    identity.zip(site).ok_or_else(|| AppError::internal(anyhow::anyhow!("no identity or site")))
}
