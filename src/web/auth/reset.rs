//! `/reset/{token}`: the page an emailed reset link opens. A live link shows the form for a
//! new password (the rules of sign-up) and offers to sign the CLI out everywhere; a link that
//! was used, replaced, has expired or never existed gets a page that says so (410) and leads
//! to `/forgot`. Setting the password ends every session of the person and leads to the
//! sign-in page: it never signs anyone in.

use super::super::error::AppError;
use super::super::layout::Head;
use super::super::render::{page_with_status, retry_after, see_other};
use super::login::with_cookie;
use super::signup::password_error;
use crate::auth::session::{self, Flash};
use crate::auth::{HashError, PasswordHasher};
use crate::db::Db;
use crate::service::outbox::OutboxSignal;
use crate::service::password_reset::{self, NewPassword, Pending, ResetError};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

enum State {
    /// The link works: ask for the new password.
    Asking { pending: Pending, error: Option<String>, sign_out_cli: bool },
    /// Used, replaced, expired or unknown.
    Dead,
}

#[derive(Template)]
#[template(path = "auth/reset.html")]
struct ResetPage {
    head: Head,
    csrf: String,
    token: String,
    state: State,
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    password: String,
    /// The checkbox "Also sign out the CLI everywhere".
    sign_out_cli: Option<String>,
}

fn asking(
    session: &Session,
    token: String,
    pending: Pending,
    error: Option<String>,
    sign_out_cli: bool,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let page = ResetPage {
        head: Head::new("Set a new password"),
        csrf: session::csrf_token(session),
        token,
        state: State::Asking { pending, error, sign_out_cli },
    };
    page_with_status(status, &page)
}

fn dead() -> Result<HttpResponse, AppError> {
    let page = ResetPage {
        head: Head::new("This link no longer works"),
        // No form on it.
        csrf: String::new(),
        token: String::new(),
        state: State::Dead,
    };
    page_with_status(StatusCode::GONE, &page)
}

/// The form again with `error` (or the dead link's page, if it died meanwhile).
async fn again(
    db: &Db,
    session: &Session,
    token: String,
    error: String,
    sign_out_cli: bool,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let lookup = token.clone();
    match db.query(move |conn| password_reset::pending(conn, &lookup)).await? {
        Some(pending) => asking(session, token, pending, Some(error), sign_out_cli, status),
        None => dead(),
    }
}

pub async fn show(session: Session, token: web::Path<String>, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let token = token.into_inner();
    let lookup = token.clone();
    match db.query(move |conn| password_reset::pending(conn, &lookup)).await? {
        Some(pending) => asking(&session, token, pending, None, false, StatusCode::OK),
        None => dead(),
    }
}

#[tracing::instrument(name = "reset password", skip_all)]
pub async fn submit(
    req: HttpRequest,
    session: Session,
    token: web::Path<String>,
    form: web::Form<ResetForm>,
    db: web::Data<Db>,
    hasher: web::Data<PasswordHasher>,
    outbox: web::Data<OutboxSignal>,
) -> Result<HttpResponse, AppError> {
    let (identity, site) = super::parts(&req)?;
    let token = token.into_inner();
    let ResetForm { password, sign_out_cli } = form.into_inner();
    let sign_out_cli = sign_out_cli.is_some();
    if let Some(error) = password_error(&password) {
        return again(&db, &session, token, error, sign_out_cli, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    // A dead link costs no password hash: look before hashing. `complete` checks again in
    // its transaction, so a link used meanwhile is still refused.
    let lookup = token.clone();
    if db.query(move |conn| password_reset::pending(conn, &lookup)).await?.is_none() {
        return dead();
    }
    let password_hash = match hasher.hash(password).await {
        Ok(hash) => hash,
        Err(HashError::Busy) => {
            let busy = "Many people are setting passwords right now. Try again in a few seconds.".to_owned();
            let page = again(&db, &session, token, busy, sign_out_cli, StatusCode::TOO_MANY_REQUESTS).await?;
            return Ok(retry_after(page, 2));
        }
        Err(e) => return Err(AppError::internal(e)),
    };
    let user_agent = req.headers().get("User-Agent").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let new = NewPassword {
        token,
        password_hash,
        sign_out_cli,
        client_address: crate::http::client_address(&req),
        device: crate::web::sessions::device_of(user_agent),
        base_url: site.base_url.clone(),
        now: identity.session_lifetimes().1,
    };
    match identity.commit(move |conn| password_reset::complete(conn, &new)).await? {
        Ok(done) => {
            outbox.wake();
            tracing::info!(
                user_id = done.user_id,
                sessions_ended = done.sessions_ended,
                tokens_revoked = done.tokens_revoked,
                "password reset"
            );
            // Whoever this browser was signed in as, it is signed out now: the sign-in page
            // it lands on asks for the new password.
            let cookie = super::end_session(&req).await?;
            session::push_flash(&session, Flash::success("Your password is set. Sign in with it."));
            Ok(with_cookie(see_other("/login"), &cookie))
        }
        Err(ResetError::LinkDead) => dead(),
        Err(ResetError::Db(e)) => Err(AppError::internal(e)),
    }
}
