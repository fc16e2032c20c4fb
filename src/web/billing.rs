//! The billing page (`/a/{slug}/billing`, admins and billing): credit balance and ledger,
//! buying credits (an invoice paid by bank transfer), the monthly spend limit, billing
//! details, and the invoices with their printable pages and CSV.

use super::error::AppError;
use super::extract::{Authorized, need};
use actix_web::HttpResponse;

pub async fn show(_auth: Authorized<need::ViewBilling>) -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

pub async fn buy_credits(_auth: Authorized<need::ManageBilling>) -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

pub async fn set_limit(_auth: Authorized<need::ManageBilling>) -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

pub async fn save_details(_auth: Authorized<need::ManageBilling>) -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

pub async fn invoice(_auth: Authorized<need::ViewBilling>) -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

pub async fn invoice_csv(_auth: Authorized<need::ViewBilling>) -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

pub async fn cancel_invoice(_auth: Authorized<need::ManageBilling>) -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}
