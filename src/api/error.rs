//! The API's errors: `{ "code": "...", "message": "..." }` with the status of the shared
//! [`AppError`]. [`ApiError`] is what API handlers and the `ApiCaller` extractor return
//! (the functions they call build an [`AppError`], which `?` wraps); [`json_errors`] gives
//! the same body to every other error answered under `/api/` (an unknown path, a malformed
//! JSON body, a method the route does not take).

use crate::http::error::{AppError, Failure};
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// Every error: a stable code and words for people.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

/// An API handler's error: the shared [`AppError`], answered as JSON.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ApiError(#[from] pub AppError);

impl From<crate::db::DbError> for ApiError {
    fn from(e: crate::db::DbError) -> Self {
        ApiError(e.into())
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        ApiError(e.into())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }

    /// The bare response of [`AppError`] (with its `Retry-After`); [`json_errors`] gives it
    /// its body, and logs an internal cause, as for every other error under `/api/`.
    fn error_response(&self) -> HttpResponse {
        self.0.error_response()
    }
}

/// The stable code of a status no [`AppError`] stands behind.
fn code_of(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "unauthenticated",
        404 => "not_found",
        405 => "method_not_allowed",
        _ if status.is_server_error() => "internal",
        _ => "bad_request",
    }
}

/// Gives every error response under `/api/` its JSON body (see the module doc).
pub async fn json_errors<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B, BoxBody>>, actix_web::Error> {
    if !crate::http::is_api(req.path()) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let res = next.call(req).await?.map_into_left_body();
    let app_error = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>().map(|e| &e.0).or_else(|| e.as_error::<AppError>()));
    let Some(failure) = Failure::of(&res, app_error) else { return Ok(res) };
    let status = res.status();
    let code = failure.app_error.map(AppError::code).unwrap_or_else(|| code_of(status));
    let body = ErrorBody { code: code.to_owned(), message: failure.message(status) };
    let response = failure.builder(&res).json(body);
    Ok(res.into_response(response).map_into_right_body())
}
