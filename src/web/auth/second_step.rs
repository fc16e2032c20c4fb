//! The second step of signing in (`/login/two-factor`), for a person with a second factor
//! whose password was right. Until a code from their authenticator app (or a recovery code)
//! is typed, the browser holds only the half-done sign-in's own cookie, which no other page
//! accepts. The step lives five minutes and takes five wrong codes (then the password is
//! asked again); wrong codes also count against the person's limit across every browser. On
//! success the half-done sign-in ends, and a new session starts with the second factor
//! recorded, exactly as a sign-in without one would (a new session token, new CSRF token).

use super::super::error::AppError;
use super::super::layout::Head;
use super::super::render::{page_with_status, retry_after, see_other};
use super::login::{finish, with_cookie};
use crate::auth::{Limits, session};
use crate::db::{Db, write_transaction};
use crate::domain::Clock;
use crate::http::Site;
use crate::service::secrets::Sealer;
use crate::service::two_factor::challenges::{self, Challenge};
use crate::service::two_factor::{self, Passed};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "auth/second_step.html")]
struct SecondStepPage {
    head: Head,
    csrf: String,
    error: Option<String>,
    /// Why there is nothing to type a code for (no half-done sign-in, or it is over).
    over: Option<&'static str>,
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

const WRONG_CODE: &str =
    "That code doesn't match. Type the current code from your authenticator app, or one of your recovery codes.";

/// Starts the second step for `user_id`, whose password was right: the half-done sign-in's
/// cookie and a redirect to its page.
pub async fn begin(req: &HttpRequest, db: &Db, user_id: i64, next: &str) -> Result<HttpResponse, AppError> {
    let (clock, https) = (app::<Clock>(req)?.now_ms(), app::<Site>(req)?.https);
    let next = next.to_owned();
    let token = db.query(move |conn| challenges::start(conn, user_id, &next, clock)).await?;
    let cookie = session::second_step_cookie(token, https, challenges::LIFETIME_MS);
    Ok(with_cookie(see_other("/login/two-factor"), &cookie))
}

/// The half-done sign-in this browser holds, if it is still waiting.
async fn pending(req: &HttpRequest, db: &Db) -> Result<Option<Challenge>, AppError> {
    let https = app::<Site>(req)?.https;
    let Some(token) = session::presented_second_step(req, https) else { return Ok(None) };
    let now = app::<Clock>(req)?.now_ms();
    Ok(db.query(move |conn| challenges::find(conn, &token, now)).await?)
}

/// Back to the password, saying why, without the dead cookie.
fn start_again(req: &HttpRequest, session: &Session, why: &str) -> Result<HttpResponse, AppError> {
    session::push_flash(session, session::Flash::error(why));
    let https = app::<Site>(req)?.https;
    Ok(with_cookie(see_other("/login"), &session::second_step_removal(https)))
}

const EXPIRED: &str = "Your sign-in timed out. Enter your password again.";

fn page(session: &Session, status: StatusCode, error: Option<String>) -> Result<HttpResponse, AppError> {
    let page =
        SecondStepPage { head: Head::new("Two-factor sign-in"), csrf: session::csrf_token(session), error, over: None };
    page_with_status(status, &page)
}

/// The code form; without a half-done sign-in, a page that says so (a public page: it never
/// sends anyone to sign in by itself).
pub async fn show(req: HttpRequest, session: Session, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    if pending(&req, &db).await?.is_none() {
        let page = SecondStepPage {
            head: Head::new("Two-factor sign-in"),
            csrf: String::new(),
            error: None,
            over: Some(EXPIRED),
        };
        let https = app::<Site>(&req)?.https;
        return Ok(with_cookie(page_with_status(StatusCode::OK, &page)?, &session::second_step_removal(https)));
    }
    page(&session, StatusCode::OK, None)
}

#[tracing::instrument(name = "second step of sign-in", skip_all)]
pub async fn submit(
    req: HttpRequest,
    session: Session,
    form: web::Form<CodeForm>,
    db: web::Data<Db>,
    limits: web::Data<Limits>,
    sealer: web::Data<Sealer>,
) -> Result<HttpResponse, AppError> {
    let Some(challenge) = pending(&req, &db).await? else { return start_again(&req, &session, EXPIRED) };
    let user_id = challenge.user_id;
    let place = match limits.second_factor_guess(user_id).await? {
        Ok(place) => place,
        Err(refused) => {
            let response = page(&session, StatusCode::TOO_MANY_REQUESTS, Some(refused.message()))?;
            return Ok(retry_after(response, refused.seconds()));
        }
    };
    let (now, sealer, code, id) =
        (app::<Clock>(&req)?.now_ms(), sealer.into_inner(), form.into_inner().code, challenge.id);
    // The code is used up and the half-done sign-in ended in one transaction: of two requests
    // racing with one code, only one signs in.
    let outcome = db
        .query(move |conn| {
            write_transaction(conn, |conn| match two_factor::check_code(conn, &sealer, user_id, &code, now)? {
                Some(passed) if challenges::end(conn, id)? => Ok(Ok(passed)),
                Some(_) => Ok(Err(challenges::MAX_FAILURES)),
                None => challenges::failed(conn, id).map(Err),
            })
        })
        .await?;
    let passed = match outcome {
        Ok(passed) => passed,
        Err(failures) if failures >= challenges::MAX_FAILURES => {
            return start_again(&req, &session, "Too many wrong codes. Enter your password again.");
        }
        Err(_) => return page(&session, StatusCode::UNAUTHORIZED, Some(WRONG_CODE.to_owned())),
    };
    limits.right_code(place).await?;
    let cookie = super::sign_in_with_password(&req, &session, user_id, true).await?;
    tracing::info!(user_id, "signed in with a second factor");
    if let Passed::RecoveryCode { left } = passed {
        session::push_flash(
            &session,
            session::Flash::info(format!(
                "You signed in with a recovery code; it no longer works. {left} left: make new ones on Your account if you are running out."
            )),
        );
    }
    let client = crate::http::client_address(&req);
    let response = finish(&db, &session, user_id, &challenge.next, client, &cookie).await?;
    Ok(with_cookie(response, &session::second_step_removal(app::<Site>(&req)?.https)))
}

/// What the app was built with (`startup` gives every handler the same).
fn app<T: 'static>(req: &HttpRequest) -> Result<&web::Data<T>, AppError> {
    req.app_data::<web::Data<T>>()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("no {} in the app", std::any::type_name::<T>())))
}
