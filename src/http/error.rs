//! The error enum the browser pages and the JSON API share: what went wrong, its status, a
//! stable code and the words a person is told. How it is shown is each layer's own:
//! `web::error` renders a page or an htmx toast, `api::error` a JSON body.
//!
//! Internal causes are logged with their chain (by the layer that renders them) and never
//! shown.

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, HttpResponseBuilder, ResponseError};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Not signed in: browsers are sent to the sign-in page.
    #[error("sign in required")]
    SignInRequired,
    /// An API credential that is missing or does not work; the message says which.
    #[error("{0}")]
    Unauthenticated(String),
    /// A credential that is known but refused now, with a code of its own (`key_expired`,
    /// `key_rotated`, `ip_not_allowed`): 401 as `Unauthenticated`.
    #[error("{message}")]
    CredentialRefused { code: &'static str, message: String },
    /// Unknown, or not the caller's to know about (another team's pages).
    #[error("not found")]
    NotFound,
    /// Something the caller may know about does not exist; the message names it ("no secret
    /// FOO in acme-research"). Only where naming it tells the caller nothing new.
    #[error("{0}")]
    Missing(String),
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
    /// The database is away for the moment: 503 with `Retry-After`, never a 500.
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// What a client is told to wait before trying again while the database is away.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 2;

impl AppError {
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(e.into())
    }

    /// The stable code of the JSON form.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::SignInRequired | AppError::Unauthenticated(_) => "unauthenticated",
            AppError::CredentialRefused { code, .. } => code,
            AppError::NotFound | AppError::Missing(_) => "not_found",
            AppError::BadRequest(_) => "bad_request",
            AppError::Forbidden(_) => "forbidden",
            AppError::CsrfRejected => "csrf_rejected",
            AppError::Conflict(_) => "conflict",
            AppError::TooManyRequests { .. } => "rate_limited",
            AppError::Unavailable(_) => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }

    /// What the person is told.
    pub fn user_message(&self) -> String {
        match self {
            AppError::Forbidden(m)
            | AppError::BadRequest(m)
            | AppError::Unauthenticated(m)
            | AppError::Conflict(m)
            | AppError::Missing(m) => m.clone(),
            AppError::TooManyRequests { message, .. } | AppError::CredentialRefused { message, .. } => message.clone(),
            AppError::CsrfRejected => {
                "This form has expired or was sent from another site. Reload the page and try again.".into()
            }
            other => default_message(other.status_code()).into(),
        }
    }
}

impl From<crate::db::DbError> for AppError {
    fn from(e: crate::db::DbError) -> Self {
        if e.is_outage() { AppError::Unavailable(e.into()) } else { AppError::Internal(e.into()) }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        if crate::db::is_lost_connection(&e) { AppError::Unavailable(e.into()) } else { AppError::Internal(e.into()) }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::SignInRequired | AppError::Unauthenticated(_) | AppError::CredentialRefused { .. } => {
                StatusCode::UNAUTHORIZED
            }
            AppError::NotFound | AppError::Missing(_) => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Forbidden(_) | AppError::CsrfRejected => StatusCode::FORBIDDEN,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A bare response: the layer that rendered it gives it its body once it knows who asked.
    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::new(self.status_code());
        let retry_after = match self {
            AppError::TooManyRequests { retry_after, .. } => Some(*retry_after),
            AppError::Unavailable(_) => Some(Duration::from_secs(UNAVAILABLE_RETRY_AFTER_SECS)),
            _ => None,
        };
        if let Some(retry_after) = retry_after {
            let secs = retry_after.as_secs().max(1).to_string();
            if let Ok(value) = header::HeaderValue::from_str(&secs) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

/// What a person is told for a status when nothing more specific is known.
pub fn default_message(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "The request could not be understood. Check what you entered and try again.",
        401 => "Sign in to continue.",
        403 => "You don't have access to this.",
        404 => "There is nothing here. The address may be mistyped, or it belongs to a team you are not in.",
        405 => "That action is not available here.",
        413 => "What you sent is too large.",
        503 => "Teamdeck cannot reach its database for the moment. Try again in a few seconds.",
        429 => "Too many requests. Wait a moment and try again.",
        _ => "Something went wrong on our side. Try again in a moment; if it keeps happening, contact support.",
    }
}

/// An error response that still needs its body, as the layer rendering it sees it.
pub struct Failure<'a> {
    /// The error behind it, when a handler or extractor of ours returned one.
    pub app_error: Option<&'a AppError>,
}

impl<'a> Failure<'a> {
    /// `Some` for a 4xx or 5xx response that is ours to render (an [`AppError`], or an error
    /// of actix's own such as a malformed body), having logged an internal cause; `None` for
    /// anything else, including a response that already has a body of its own (a form
    /// re-rendered with its errors).
    ///
    /// `app_error` is the [`AppError`] behind the response as the rendering layer finds it
    /// (its handlers' error type wraps it, or is it).
    pub fn of<B: MessageBody>(res: &'a ServiceResponse<B>, app_error: Option<&'a AppError>) -> Option<Self> {
        let status = res.status();
        let error = res.response().error();
        let has_body = !matches!(
            res.response().body().size(),
            actix_web::body::BodySize::Sized(0) | actix_web::body::BodySize::None
        );
        if !(status.is_client_error() || status.is_server_error()) || (error.is_none() && has_body) {
            return None;
        }
        if let Some(AppError::Internal(cause)) = app_error {
            tracing::error!(error = ?cause, "request failed");
        } else if let Some(AppError::Unavailable(cause)) = app_error {
            tracing::warn!(error = ?cause, "request refused: the database is unavailable");
        } else if let Some(err) = error.filter(|_| status.is_server_error() && app_error.is_none()) {
            tracing::error!(error = %err, "request failed");
        }
        Some(Self { app_error })
    }

    /// What the person is told.
    pub fn message(&self, status: StatusCode) -> String {
        self.app_error.map(AppError::user_message).unwrap_or_else(|| default_message(status).to_owned())
    }

    /// A response of the same status carrying the headers already set (`Retry-After`, say),
    /// for the new body.
    pub fn builder<B>(&self, res: &ServiceResponse<B>) -> HttpResponseBuilder {
        let mut builder = HttpResponse::build(res.status());
        for (name, value) in res.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                builder.append_header((name.clone(), value.clone()));
            }
        }
        builder
    }
}
