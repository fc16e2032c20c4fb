//! The JSON API under `/api/v1/` (OpenAPI document at `/api/v1/openapi.json`).
//!
//! Callers authenticate with `Authorization: Key <team key>` (the call is attributed to the
//! team) or `Authorization: Bearer <login token>` (attributed to the member, whose live
//! membership and role are checked on every call). Session cookies are never accepted here,
//! so no CSRF token is needed. Errors are `{ "code": "...", "message": "..." }`.
//!
//! - `auth.rs`: the `ApiCaller` extractor: which credential, which team, what it may do.
//! - `error.rs`: `ApiError`, what handlers return, and the JSON body of every error under `/api/`.
//! - `recorder.rs`: records each authenticated call (who, what, status), written in the background.
//! - `openapi.rs`: the OpenAPI document, its security schemes, and the handler serving it.
//! - `whoami.rs`: who is calling (`whoami`) and a member's teams (`teams`).
//! - `device.rs`: the CLI's login (device code, token poll) and its logout.
//! - `members.rs`: a team's members, a page at a time.
//! - `keys.rs`: a team's API keys: list, create, delete.
//! - `requests.rs`: a team's latest API calls, with who made each.
//! - `secrets.rs`: a team's secrets by name: list, set, delete.
//! - `apps.rs`: a team's apps: deploy, list, revisions, roll back, delete.
//! - `platform/`: for the platform's own services: introspection, usage events, the
//!   runtime contract, billing webhook.

pub mod apps;
pub mod auth;
pub mod device;
pub mod error;
pub mod keys;
pub mod members;
pub mod openapi;
pub mod platform;
pub mod recorder;
pub mod requests;
pub mod secrets;
pub mod whoami;

use crate::http::{Access, RouteTable};

/// Every endpoint of the API, each with the access it requires (`Api`: the caller's
/// credential is checked by the `ApiCaller` extractor; the device flow and the document are
/// public).
pub fn routes(r: &mut RouteTable) {
    use Access::{Api, Public};
    r.get("/api/v1/openapi.json", Public, openapi::openapi)
        .get("/api/v1/whoami", Api, whoami::whoami)
        .get("/api/v1/teams", Api, whoami::list_teams)
        .post("/api/v1/device/code", Public, device::device_code)
        .post("/api/v1/device/token", Public, device::device_token)
        .post("/api/v1/auth/logout", Api, device::logout)
        .get("/api/v1/teams/{slug}/members", Api, members::list_members)
        .get("/api/v1/teams/{slug}/keys", Api, keys::list_keys)
        .post("/api/v1/teams/{slug}/keys", Api, keys::create_key)
        .delete("/api/v1/teams/{slug}/keys/{key_id}", Api, keys::delete_key)
        .post("/api/v1/teams/{slug}/keys/{key_id}/rotate", Api, keys::rotate_key)
        .put("/api/v1/teams/{slug}/keys/{key_id}/limits", Api, keys::set_key_limits)
        .post("/api/v1/teams/{slug}/keys/{key_id}/retire-old-secret", Api, keys::retire_old_secret)
        .get("/api/v1/teams/{slug}/requests", Api, requests::list_requests)
        .get("/api/v1/teams/{slug}/secrets", Api, secrets::list_secrets)
        .put("/api/v1/teams/{slug}/secrets/{secret}", Api, secrets::set_secret)
        .delete("/api/v1/teams/{slug}/secrets/{secret}", Api, secrets::delete_secret)
        .get("/api/v1/teams/{slug}/apps", Api, apps::list_apps)
        .post("/api/v1/teams/{slug}/apps/{name}/deployments", Api, apps::deploy)
        .get("/api/v1/teams/{slug}/apps/{name}/revisions", Api, apps::list_revisions)
        .post("/api/v1/teams/{slug}/apps/{name}/revisions/{number}/rollback", Api, apps::rollback)
        .delete("/api/v1/teams/{slug}/apps/{name}", Api, apps::delete_app)
        .get("/api/v1/runtime/changes", Api, platform::runtime::changes)
        .get("/api/v1/runtime/apps/{app}/revisions/{number}/environment", Api, platform::runtime::environment)
        .post("/api/v1/runtime/apps/{app}/reports", Api, platform::runtime::report)
        .post("/api/v1/introspect", Api, platform::introspect::introspect)
        .post("/api/v1/usage/events", Api, platform::usage::usage_events)
        .post("/api/v1/billing/webhook", Api, platform::webhook::billing_webhook);
}
