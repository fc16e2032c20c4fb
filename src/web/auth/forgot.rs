//! `/forgot`: asks for a link that sets a new password. The answer never tells whether an
//! address has an account: a well-formed address always gets the same page (byte for byte,
//! same status and headers), rendered before the address is looked up; the lookup and the
//! email happen after the answer, so neither can change it or how long it takes. Requests
//! are limited per client address and per address typed, whether or not it has an account.

use super::super::error::AppError;
use super::super::layout::Head;
use super::super::render::{page_with_status, retry_after};
use crate::auth::{Limits, session};
use crate::db::Db;
use crate::domain::EmailAddress;
use crate::http::Site;
use crate::service::outbox::OutboxSignal;
use crate::service::password_reset;
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use tracing::Instrument;

#[derive(Template)]
#[template(path = "auth/forgot.html")]
struct ForgotPage {
    head: Head,
    csrf: String,
    email: String,
    error: Option<String>,
}

/// The answer to every well-formed address. It holds nothing of the request (not even the
/// address): what it shows must be the same whether or not the address has an account.
#[derive(Template)]
#[template(path = "auth/forgot_sent.html")]
struct SentPage {
    head: Head,
    minutes: i64,
}

#[derive(Deserialize)]
pub struct ForgotQuery {
    email: Option<String>,
}

#[derive(Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
}

fn form(session: &Session, email: String, error: Option<String>, status: StatusCode) -> Result<HttpResponse, AppError> {
    let page = ForgotPage { head: Head::new("Reset your password"), csrf: session::csrf_token(session), email, error };
    page_with_status(status, &page)
}

/// The form, with the address typed on the sign-in page if there was one.
pub async fn show(session: Session, query: web::Query<ForgotQuery>) -> Result<HttpResponse, AppError> {
    form(&session, query.into_inner().email.unwrap_or_default(), None, StatusCode::OK)
}

#[tracing::instrument(name = "forgot password", skip_all)]
pub async fn submit(
    req: HttpRequest,
    session: Session,
    form_data: web::Form<ForgotForm>,
    db: web::Data<Db>,
    site: web::Data<Site>,
    limits: web::Data<Limits>,
    outbox: web::Data<OutboxSignal>,
) -> Result<HttpResponse, AppError> {
    let typed = form_data.into_inner().email;
    let address = match EmailAddress::parse(&typed) {
        Ok(address) => address,
        Err(e) => return form(&session, typed, Some(e.to_string()), StatusCode::UNPROCESSABLE_ENTITY),
    };
    // The client first: a client past its budget does not use up the address's.
    let counted = match limits.reset_request(&crate::http::client_address(&req)).await? {
        Ok(()) => limits.reset_email(address.normalized()).await?,
        Err(refused) => Err(refused),
    };
    if let Err(refused) = counted {
        let page = form(&session, typed, Some(refused.message()), StatusCode::TOO_MANY_REQUESTS)?;
        return Ok(retry_after(page, refused.seconds()));
    }
    let answer = page_with_status(
        StatusCode::OK,
        &SentPage { head: Head::new("Check your email"), minutes: password_reset::LINK_TTL_MS / 60_000 },
    )?;

    let (db, base_url, outbox) = (db.get_ref().clone(), site.base_url.clone(), outbox.get_ref().clone());
    let normalized = address.normalized().to_owned();
    let issue = async move {
        match db.query(move |conn| password_reset::request(conn, &normalized, &base_url)).await {
            Ok(true) => {
                tracing::info!("reset link queued");
                outbox.wake();
            }
            Ok(false) => {}
            Err(e) => tracing::error!(error = ?e, "could not queue a reset link"),
        }
    };
    tokio::spawn(issue.instrument(tracing::Span::current()));
    Ok(answer)
}
