//! The usage page (`/a/{slug}/usage`, admins and billing): daily spend of the last 30 days
//! as a server-rendered SVG chart split by member and team key, a table by product and by
//! member/key for a chosen period, and its CSV export.

use super::error::AppError;
use super::extract::{Authorized, need};
use actix_web::HttpResponse;

pub async fn show(_auth: Authorized<need::ViewBilling>) -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

pub async fn export(_auth: Authorized<need::ViewBilling>) -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}
