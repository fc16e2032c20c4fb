//! Email verification in the browser: the emailed link (`/verify/{token}`, which verifies
//! and signs no one in), "Resend the link" (`/account/verify/resend`, limited per address),
//! and the page that refuses an unverified person what needs a verified address
//! (`access::enforce` shows it).

use super::error::AppError;
use super::extract::{MaybeSignedIn, SignedIn};
use super::layout::{Head, Layout};
use super::render::{page_with_status, safe_next, see_other};
use crate::auth::Limits;
use crate::auth::session::{self, Flash};
use crate::db::Db;
use crate::http::Site;
use crate::service::outbox::OutboxSignal;
use crate::service::verification::{self, Resent};
use actix_session::Session;
use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

/// `GET /verify/{token}`: uses the link. Its owner, signed in, goes to their account; anyone
/// else to the sign-in page, told that the address is verified. A link that does not work
/// gets a page saying so, with the way to a new one.
#[tracing::instrument(name = "verify email", skip_all)]
pub async fn open(
    req: HttpRequest,
    session: Session,
    signed_in: MaybeSignedIn,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    // As it came, not decoded: a token is base64url, and anything else (malformed escapes
    // included) is a dead link, not an error.
    let token = req.match_info().get("token").unwrap_or_default().to_owned();
    let client = crate::http::client_address(&req);
    let Some(verified) = db.query(move |conn| verification::verify(conn, &token, &client)).await? else {
        return dead_link(&session, signed_in.0.as_ref());
    };
    tracing::info!(user_id = verified.user_id, "email address verified");
    match signed_in.0 {
        Some(me) if me.user.id == verified.user_id => {
            let done = format!("Your address {} is verified. You can create teams and invite people.", verified.email);
            session::push_flash(&me.session, Flash::success(done));
            Ok(see_other("/account"))
        }
        Some(other) => {
            let done = format!(
                "{} is verified. You are signed in as {}: sign out, then sign in with it to continue.",
                verified.email, other.user.email
            );
            session::push_flash(&other.session, Flash::info(done));
            Ok(see_other("/"))
        }
        None => {
            session::push_flash(&session, Flash::success("Your address is verified. Sign in to continue."));
            Ok(see_other("/login"))
        }
    }
}

#[derive(Template)]
#[template(path = "verify/dead.html")]
struct DeadLinkPage {
    head: Head,
    csrf: String,
    /// Signed in and still unverified: a new link is one click away.
    can_resend: bool,
    signed_in: bool,
}

fn dead_link(session: &Session, signed_in: Option<&SignedIn>) -> Result<HttpResponse, AppError> {
    let page = DeadLinkPage {
        head: Head::new("This link doesn't work"),
        csrf: session::csrf_token(session),
        can_resend: signed_in.is_some_and(|s| !s.user.is_verified()),
        signed_in: signed_in.is_some(),
    };
    page_with_status(StatusCode::GONE, &page)
}

#[derive(Deserialize)]
pub struct ResendForm {
    /// Where to go next (the page the form was on, when not given).
    #[serde(default)]
    next: String,
}

/// `POST /account/verify/resend`: a new link to the person's address (earlier ones stop
/// working), then back to the page they were on.
#[tracing::instrument(name = "resend verification", skip_all, fields(user_id = user.user.id))]
pub async fn resend(
    req: HttpRequest,
    user: SignedIn,
    form: web::Form<ResendForm>,
    db: web::Data<Db>,
    limits: web::Data<Limits>,
    site: web::Data<Site>,
    outbox: web::Data<OutboxSignal>,
) -> Result<HttpResponse, AppError> {
    if let Err(refused) = limits.verification_email(&verification::normalized(&user.user.email)).await? {
        return Err(refused.into());
    }
    let (user_id, base_url) = (user.user.id, site.base_url.clone());
    let flash = match db.query(move |conn| verification::resend(conn, user_id, &base_url)).await? {
        Some(Resent::Sent { to }) => {
            outbox.wake();
            Flash::success(format!(
                "We sent a new link to {to}. It works for 24 hours; links sent before no longer work."
            ))
        }
        Some(Resent::AlreadyVerified) => Flash::info("Your address is already verified."),
        None => return Err(AppError::SignInRequired),
    };
    session::push_flash(&user.session, flash);
    let next = safe_next(Some(&form.next));
    let to = if next.is_empty() { back(&req) } else { next };
    Ok(see_other(&to))
}

/// The page the form was sent from (the path of its `Referer`: the CSRF check made sure the
/// form was this site's), else the dashboard.
fn back(req: &HttpRequest) -> String {
    let referer = req.headers().get(header::REFERER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let path = referer.split_once("://").and_then(|(_, rest)| rest.find('/').map(|at| &rest[at..]));
    let path = safe_next(path);
    if path.is_empty() { "/".to_owned() } else { path }
}

#[derive(Template)]
#[template(path = "verify/refused.html")]
struct RefusedPage {
    layout: Layout,
    message: String,
}

/// What needs a verified address, asked by someone without one: 403, as a page that says
/// why with "Resend the link", or as a toast for htmx (the page's banner has the button).
pub fn refuse_unverified(req: ServiceRequest, signed_in: &SignedIn) -> ServiceResponse<BoxBody> {
    let message = unverified_message(&signed_in.user.email);
    if req.headers().get("HX-Request").is_some_and(|v| v == "true") {
        return req.error_response(AppError::Forbidden(message));
    }
    let mut layout = Layout::for_user(signed_in, "Verify your email address first");
    // The page says it all; the banner would say it twice.
    layout.unverified = None;
    let page = RefusedPage { layout, message };
    match page_with_status(StatusCode::FORBIDDEN, &page) {
        Ok(response) => req.into_response(response),
        Err(e) => req.error_response(e),
    }
}

/// Why creating a team or inviting is refused, in words.
pub fn unverified_message(email: &str) -> String {
    format!(
        "Verify your email address first: we sent a link to {email}. Until then you can't create teams or send invitations."
    )
}
