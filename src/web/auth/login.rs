//! Sign-in. A wrong password and an unknown email get the same words and take the same time;
//! attempts are limited per client address, wrong passwords per email and client address,
//! and an email under many wrong passwords is slowed down (`auth::limits`); password checks
//! wait in a bounded queue and are refused with 429 when it is full. A sign-in with the
//! password ends the person's unused reset links and is recorded in their security log. A
//! person with a second factor is not signed in by the password: the second step
//! (`second_step`) asks for it first.

use super::super::error::AppError;
use super::super::extract::MaybeSignedIn;
use super::super::layout::Head;
use super::super::render::{page_with_status, retry_after, safe_next, see_other};
use crate::auth::{HashError, Limits, PasswordHasher, session};
use crate::db::Db;
use crate::service::{two_factor, users};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    head: Head,
    csrf: String,
    email: String,
    next: String,
    error: Option<String>,
    notice: Option<&'static str>,
    /// Messages left by the page before (a new password set, an address just verified).
    flashes: Vec<session::Flash>,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    signed_out: Option<String>,
    /// Set after the person deleted their account.
    deleted: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

const WRONG_CREDENTIALS: &str = "That email and password don't match an account. Check them and try again.";

pub async fn show(
    session: Session,
    signed_in: MaybeSignedIn,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(query.next.as_deref());
    if signed_in.0.is_some() {
        return Ok(see_other(if next.is_empty() { "/" } else { &next }));
    }
    let page = LoginPage {
        head: Head::new("Sign in"),
        csrf: session::csrf_token(&session),
        email: String::new(),
        next,
        error: None,
        notice: match (&query.deleted, &query.signed_out) {
            (Some(_), _) => Some("Your account was deleted. You are signed out."),
            (None, Some(_)) => Some("You are signed out."),
            (None, None) => None,
        },
        flashes: session::take_flashes(&session),
    };
    page_with_status(StatusCode::OK, &page)
}

#[tracing::instrument(name = "sign in", skip_all)]
pub async fn submit(
    req: HttpRequest,
    session: Session,
    form: web::Form<LoginForm>,
    db: web::Data<Db>,
    hasher: web::Data<PasswordHasher>,
    limits: web::Data<Limits>,
) -> Result<HttpResponse, AppError> {
    let LoginForm { email, password, next } = form.into_inner();
    let next = safe_next(Some(&next));
    let normalized = crate::domain::email::normalize(&email);
    let again = |status: StatusCode, error: String| {
        let page = LoginPage {
            head: Head::new("Sign in"),
            csrf: session::csrf_token(&session),
            email: email.clone(),
            next: next.clone(),
            error: Some(error),
            notice: None,
            flashes: Vec::new(),
        };
        page_with_status(status, &page)
    };

    let busy = || {
        let busy = "Many people are signing in right now. Try again in a few seconds.";
        Ok(retry_after(again(StatusCode::TOO_MANY_REQUESTS, busy.into())?, 2))
    };
    // Every password check taken: answered before anything is counted (nothing is checked).
    if hasher.is_full() {
        return busy();
    }
    let client = crate::http::client_address(&req);
    let guess = match limits.sign_in(&normalized, &client).await? {
        Ok(guess) => guess,
        Err(refused) => {
            return Ok(retry_after(again(StatusCode::TOO_MANY_REQUESTS, refused.message())?, refused.seconds()));
        }
    };
    // Many wrong passwords for this email, from anywhere: slowed down, never locked.
    guess.wait().await;

    // A place among the password checks before the database read: when they are all taken
    // (a storm of sign-ins), the answer is 429 at once.
    let checked = match hasher.reserve() {
        Ok(place) => {
            let lookup = normalized.clone();
            let stored = db.query(move |conn| users::credentials(conn, &lookup)).await?;
            let (user_id, phc) = stored.map_or((None, None), |(id, phc)| (Some(id), Some(phc)));
            hasher.verify_in(place, password, phc).await.map(|ok| (ok, user_id))
        }
        Err(busy) => Err(busy),
    };
    match &checked {
        Ok((false, _)) => limits.wrong_password(guess).await?,
        // Right, or not checked at all: no failure to count.
        _ => limits.give_back(guess).await?,
    }
    match checked {
        Ok((true, user_id)) => {
            let user_id = user_id.ok_or_else(|| AppError::internal(anyhow::anyhow!("verified without a user")))?;
            // A person with a second factor is not signed in yet: the second step asks for it.
            if db.query(move |conn| two_factor::required(conn, user_id)).await? {
                return super::second_step::begin(&req, &db, user_id, &next).await;
            }
            let cookie = super::sign_in_with_password(&req, &session, user_id, false).await?;
            tracing::info!(user_id, "signed in");
            finish(&db, &session, user_id, &next, client, &cookie).await
        }
        Ok((false, _)) => again(StatusCode::UNAUTHORIZED, WRONG_CREDENTIALS.into()),
        Err(HashError::Busy) => busy(),
        Err(e) => Err(AppError::internal(e)),
    }
}

/// Where a browser goes once signed in: `next`, or, signed in from an invite for this
/// address, into the team (the invite accepted, as signing up from it does). Any other case
/// (another address, expired…) goes back to the invite page, which says what is wrong.
pub(super) async fn finish(
    db: &Db,
    session: &Session,
    user_id: i64,
    next: &str,
    client: String,
    cookie: &actix_web::cookie::Cookie<'_>,
) -> Result<HttpResponse, AppError> {
    if next.starts_with("/invites/")
        && let Some(user) = db.query(move |conn| users::find(conn, user_id)).await?
        && let Some((slug, message)) = crate::web::invites::accept_from_next(db, session, &user, next, client).await?
    {
        session::push_flash(session, session::Flash::success(message));
        return Ok(with_cookie(see_other(&format!("/a/{slug}")), cookie));
    }
    Ok(with_cookie(see_other(if next.is_empty() { "/" } else { next }), cookie))
}

/// `response` carrying `cookie`.
pub(super) fn with_cookie(mut response: HttpResponse, cookie: &actix_web::cookie::Cookie<'_>) -> HttpResponse {
    // Only fails for a cookie that is not a valid header value, which the session's is not.
    let _ = response.add_cookie(cookie);
    response
}
