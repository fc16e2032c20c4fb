//! The JSON API under `/api/v1/` (OpenAPI document at `/api/v1/openapi.json`).
//!
//! Callers authenticate with `Authorization: Key <team key>` (the call is attributed to the
//! team) or `Authorization: Bearer <login token>` (attributed to the member, whose live
//! membership and role are checked on every call). Session cookies are never accepted here,
//! so no CSRF token is needed. Errors are `{ "code": "...", "message": "..." }`.

pub mod auth;
pub mod platform;
pub mod recorder;
pub mod secrets;
pub mod v1;
