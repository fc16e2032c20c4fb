//! The web layer's one error type, and the middleware that turns every error response into
//! what the caller can read: a full error page for a browser, a toast fragment for htmx
//! (retargeted to `#toasts`), or `{code, message}` JSON under `/api/`.
//!
//! Internal causes are logged with their chain and never shown.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Not signed in: browsers are sent to the sign-in page.
    #[error("sign in required")]
    SignInRequired,
    /// An API credential that is missing or does not work; the message says which.
    #[error("{0}")]
    Unauthenticated(String),
    /// Unknown, or not the caller's to know about (another team's pages).
    #[error("not found")]
    NotFound,
    /// The request itself is wrong; the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// Known to the caller but not allowed; the message says why and what to do.
    #[error("{0}")]
    Forbidden(String),
    /// A state-changing request without a valid CSRF token, or from another site.
    #[error("cross-site request refused")]
    CsrfRejected,
    /// The request clashes with the current state (already done, replayed); the message says how.
    #[error("{0}")]
    Conflict(String),
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: Duration },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(e.into())
    }

    /// The stable code of the JSON form.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::SignInRequired | AppError::Unauthenticated(_) => "unauthenticated",
            AppError::NotFound => "not_found",
            AppError::BadRequest(_) => "bad_request",
            AppError::Forbidden(_) => "forbidden",
            AppError::CsrfRejected => "csrf_rejected",
            AppError::Conflict(_) => "conflict",
            AppError::TooManyRequests { .. } => "rate_limited",
            AppError::Internal(_) => "internal",
        }
    }

    /// What the person is told.
    pub fn user_message(&self) -> String {
        match self {
            AppError::Forbidden(m) | AppError::BadRequest(m) | AppError::Unauthenticated(m) | AppError::Conflict(m) => {
                m.clone()
            }
            AppError::TooManyRequests { message, .. } => message.clone(),
            AppError::CsrfRejected => {
                "This form has expired or was sent from another site. Reload the page and try again.".into()
            }
            other => default_message(other.status_code()).into(),
        }
    }
}

impl From<crate::db::DbError> for AppError {
    fn from(e: crate::db::DbError) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        AppError::Internal(e.into())
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::SignInRequired | AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Forbidden(_) | AppError::CsrfRejected => StatusCode::FORBIDDEN,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A bare response: [`render_errors`] gives it its body once it knows who asked.
    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::new(self.status_code());
        if let AppError::TooManyRequests { retry_after, .. } = self {
            let secs = retry_after.as_secs().max(1).to_string();
            if let Ok(value) = header::HeaderValue::from_str(&secs) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

fn default_message(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "The request could not be understood. Check what you entered and try again.",
        401 => "Sign in to continue.",
        403 => "You don't have access to this.",
        404 => "There is nothing here. The address may be mistyped, or it belongs to a team you are not in.",
        405 => "That action is not available here.",
        413 => "What you sent is too large.",
        429 => "Too many requests. Wait a moment and try again.",
        _ => "Something went wrong on our side. Try again in a moment; if it keeps happening, contact support.",
    }
}

fn title(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "Bad request",
        401 => "Sign in required",
        403 => "No access",
        404 => "Page not found",
        405 => "Not allowed",
        413 => "Too large",
        429 => "Slow down",
        _ => "Something went wrong",
    }
}

#[derive(Template)]
#[template(path = "errors/page.html")]
struct ErrorPage<'a> {
    head: super::layout::Head,
    status: u16,
    message: &'a str,
}

#[derive(Template)]
#[template(path = "errors/toast.html")]
struct ErrorToast<'a> {
    message: &'a str,
}

/// Gives every error response its body (see the module doc). Responses that already carry a
/// body (a form re-rendered with its errors, say) pass through untouched.
pub async fn render_errors<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B, BoxBody>>, actix_web::Error> {
    // Taken before the call: the router needs the request to itself (no clones held).
    let is_htmx = req.headers().get("HX-Request").is_some_and(|v| v == "true");
    let is_api = req.path().starts_with("/api/");
    let came_for = (req.method() == actix_web::http::Method::GET && req.path() != "/")
        .then(|| req.uri().path_and_query().map(|p| p.as_str().to_owned()))
        .flatten();
    let res = next.call(req).await?.map_into_left_body();
    let status = res.status();
    let app_error = res.response().error().and_then(|e| e.as_error::<AppError>());
    let has_body =
        !matches!(res.response().body().size(), actix_web::body::BodySize::Sized(0) | actix_web::body::BodySize::None);
    if !(status.is_client_error() || status.is_server_error())
        || (app_error.is_none() && has_body && res.response().error().is_none())
    {
        return Ok(res);
    }
    if let Some(AppError::Internal(cause)) = app_error {
        tracing::error!(error = ?cause, "request failed");
    } else if let Some(err) = res.response().error().filter(|_| status.is_server_error()) {
        tracing::error!(error = %err, "request failed");
    }
    if matches!(app_error, Some(AppError::SignInRequired)) && !is_api {
        return Ok(res.into_response(sign_in_redirect(came_for.as_deref(), is_htmx)).map_into_right_body());
    }
    let message = app_error.map(AppError::user_message).unwrap_or_else(|| default_message(status).to_owned());
    let mut builder = HttpResponse::build(status);
    for (name, value) in res.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            builder.append_header((name.clone(), value.clone()));
        }
    }
    let response = if is_api {
        let code = app_error.map(AppError::code).unwrap_or(match status.as_u16() {
            401 => "unauthenticated",
            404 => "not_found",
            405 => "method_not_allowed",
            _ if status.is_server_error() => "internal",
            _ => "bad_request",
        });
        builder.json(serde_json::json!({ "code": code, "message": message }))
    } else if is_htmx {
        let body = ErrorToast { message: &message }.render().unwrap_or_default();
        builder
            .insert_header(("HX-Retarget", "#toasts"))
            .insert_header(("HX-Reswap", "beforeend"))
            .content_type("text/html; charset=utf-8")
            .body(body)
    } else {
        let page =
            ErrorPage { head: super::layout::Head::new(title(status)), status: status.as_u16(), message: &message };
        builder.content_type("text/html; charset=utf-8").body(page.render().unwrap_or_default())
    };
    Ok(res.into_response(response).map_into_right_body())
}

/// To the sign-in page, coming back afterwards to the page that was asked for (not to a
/// form post).
fn sign_in_redirect(came_for: Option<&str>, is_htmx: bool) -> HttpResponse {
    let location = match came_for {
        Some(next) => format!("/login?{}", serde_urlencoded::to_string([("next", next)]).unwrap_or_default()),
        None => String::from("/login"),
    };
    if is_htmx {
        HttpResponse::Ok().insert_header(("HX-Redirect", location)).finish()
    } else {
        HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish()
    }
}
