//! `/device`: where a signed-in person confirms the code their terminal shows
//! (`teamdeck auth login`), seeing where and when that login was started, and revoking a
//! login token (listed on `/account/sessions`). Codes that match no pending login are
//! limited per browser session. A person with a second factor approves with a fresh one: a
//! code is asked when the session's last one passed more than ten minutes ago.

use super::account::reauth;
use super::error::AppError;
use super::extract::SignedIn;
use super::layout::Layout;
use super::render::{page_with_status, retry_after, see_other};
use crate::auth::session::{self, Flash};
use crate::auth::{Limits, Refused};
use crate::db::Db;
use crate::domain::{When, now_ms, time_ago};
use crate::identity::Identity;
use crate::service::tokens::{self, DeviceError, PendingDevice};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "device/page.html")]
struct DevicePage {
    layout: Layout,
    code: String,
    device: Option<Requester>,
    error: Option<String>,
    done: Option<String>,
    /// Approving asks for a second-factor code too (the session's last one is not fresh).
    factor: Option<FactorField>,
}

/// The second-factor code field of the approval, and why a code was refused.
struct FactorField {
    error: Option<String>,
}

/// A pending CLI login as the page shows it: where and when it was started, and what the
/// device says it is, so that a code phished from someone else's terminal looks foreign.
struct Requester {
    /// The device's own words.
    name: String,
    address: Option<String>,
    started: When,
    started_ago: String,
}

impl From<PendingDevice> for Requester {
    fn from(pending: PendingDevice) -> Self {
        Self {
            name: pending.device_name,
            address: pending.client_address.filter(|a| !a.is_empty()),
            started: When::from_ms(pending.created_at),
            started_ago: time_ago(pending.created_at, now_ms()),
        }
    }
}

fn page(
    user: &SignedIn,
    code: String,
    outcome: Outcome,
    status: StatusCode,
    factor: Option<FactorField>,
) -> Result<HttpResponse, AppError> {
    let (device, error, done) = match outcome {
        Outcome::Asking(device) => (device.map(Requester::from), None, None),
        Outcome::Error(error) => (None, Some(error), None),
        Outcome::Done(done) => (None, None, Some(done)),
    };
    let page = DevicePage { layout: Layout::for_user(user, "Confirm a device"), code, device, error, done, factor };
    page_with_status(status, &page)
}

enum Outcome {
    Asking(Option<PendingDevice>),
    Error(String),
    Done(String),
}

/// The code form again, saying when the browser may try codes again.
fn refused(user: &SignedIn, code: String, refused: Refused) -> Result<HttpResponse, AppError> {
    let response = page(user, code, Outcome::Error(refused.message()), StatusCode::TOO_MANY_REQUESTS, None)?;
    Ok(retry_after(response, refused.seconds()))
}

#[derive(Deserialize)]
pub struct CodeQuery {
    #[serde(default)]
    code: String,
}

/// The code form, or the login a code belongs to. A code that matches no pending login counts
/// against the browser session's wrong codes.
pub async fn show(
    req: HttpRequest,
    user: SignedIn,
    query: web::Query<CodeQuery>,
    db: web::Data<Db>,
    limits: web::Data<Limits>,
) -> Result<HttpResponse, AppError> {
    let code = query.into_inner().code;
    if code.is_empty() {
        return page(&user, code, Outcome::Asking(None), StatusCode::OK, None);
    }
    let place = match limits.code_guess(user.signed_in.id).await? {
        Ok(place) => place,
        Err(r) => return refused(&user, code, r),
    };
    let lookup = code.clone();
    match db.query(move |conn| tokens::pending_device(conn, &lookup)).await? {
        Some(device) => {
            limits.right_code(place).await?;
            let factor = reauth::needs_fresh_factor(&req, &user).await?.then_some(FactorField { error: None });
            page(&user, code, Outcome::Asking(Some(device)), StatusCode::OK, factor)
        }
        None => page(&user, code, Outcome::Error(DeviceError::Unusable.to_string()), StatusCode::OK, None),
    }
}

#[derive(Deserialize)]
pub struct Decision {
    user_code: String,
    decision: String,
    /// A current second-factor code, asked when the session's last one is not fresh.
    #[serde(default)]
    factor_code: String,
}

pub async fn decide(
    req: HttpRequest,
    user: SignedIn,
    form: web::Form<Decision>,
    db: web::Data<Db>,
    limits: web::Data<Limits>,
) -> Result<HttpResponse, AppError> {
    let Decision { user_code, decision, factor_code } = form.into_inner();
    let place = match limits.code_guess(user.signed_in.id).await? {
        Ok(place) => place,
        Err(r) => return refused(&user, user_code, r),
    };
    let approve = decision == "approve";
    // Approving signs a device in as the person: with a second factor, a fresh one.
    if approve && let Err(refusal) = reauth::fresh_factor(&req, &user, &factor_code).await? {
        let lookup = user_code.clone();
        let device = db.query(move |conn| tokens::pending_device(conn, &lookup)).await?;
        let factor = Some(FactorField { error: Some(refusal.message.clone()) });
        let response = page(&user, user_code, Outcome::Asking(device), refusal.status, factor)?;
        return Ok(refusal.answer(response));
    }
    let (code, user_id) = (user_code.clone(), user.user.id);
    let decided = db.run(move |conn| Ok::<_, AppError>(tokens::decide(conn, &code, user_id, approve))).await?;
    match decided {
        Ok(device) => {
            limits.right_code(place).await?;
            let done = if approve {
                format!("{device} is signed in as {}. Go back to your terminal.", user.user.email)
            } else {
                format!("The login of {device} was denied. Nothing was signed in.")
            };
            page(&user, user_code, Outcome::Done(done), StatusCode::OK, None)
        }
        Err(DeviceError::Db(e)) => Err(AppError::internal(e)),
        Err(e) => page(&user, user_code, Outcome::Error(e.to_string()), StatusCode::UNPROCESSABLE_ENTITY, None),
    }
}

pub async fn revoke(
    user: SignedIn,
    path: web::Path<i64>,
    identity: web::Data<Identity>,
) -> Result<HttpResponse, AppError> {
    let (user_id, token_id) = (user.user.id, path.into_inner());
    if !identity.commit(move |conn| tokens::revoke(conn, user_id, token_id)).await?? {
        return Err(AppError::NotFound);
    }
    session::push_flash(&user.session, Flash::success("Token revoked. The device using it is signed out."));
    Ok(see_other("/account/sessions#tokens"))
}
