//! The runtime contract, for the platform's runtime (with the service token): the apps
//! changed since a cursor (a long poll), a revision's environment, status reports.
//!
//! The long poll answers at once when apps changed after the cursor; otherwise it waits until
//! a change on this instance wakes it ([`AppSignal`]) or the wait ends, re-reading the
//! database every [`RECHECK`] meanwhile so that a change made by another instance (or a team
//! archived) is seen within that. An empty answer returns the same cursor.

use super::{MAX_WEBHOOK_BODY, Platform, read_body};
use crate::api::apps::RevisionOut;
use crate::api::error::{ApiError, ErrorBody};
use crate::db::Db;
use crate::domain::AppStatus;
use crate::http::AppError;
use crate::service::apps::runtime::{self, Reported, StatusReport};
use crate::service::apps::{self, AppSignal};
use crate::service::secrets::Sealer;
use actix_web::{HttpRequest, web};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use utoipa::{IntoParams, ToSchema};

/// The longest a poll waits.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// How often a waiting poll reads the database (changes made by another instance).
pub const RECHECK: Duration = Duration::from_secs(2);

#[derive(Deserialize, IntoParams)]
pub struct ChangesQuery {
    /// The `cursor` of the last answer; 0 (default) for every app.
    pub cursor: Option<i64>,
    /// Seconds to wait for a change when there is none (default 30, at most 60; 0 answers at once).
    pub wait: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct DesiredAppOut {
    /// The app's id (the runtime's handle on it).
    pub id: String,
    pub team: String,
    pub name: String,
    /// `running`, `stopped` (the team is archived) or `deleted`.
    pub desired: String,
    pub change: i64,
    /// The revision that should run.
    pub revision: RevisionOut,
}

#[derive(Serialize, ToSchema)]
pub struct ChangesOut {
    pub apps: Vec<DesiredAppOut>,
    /// Send it back as `cursor` to get the changes after these.
    pub cursor: i64,
}

/// The apps changed since `cursor`, in order, each with what should run; waits for a change
/// when there is none yet.
#[utoipa::path(get, path = "/api/v1/runtime/changes", tag = "super::platform", params(ChangesQuery), security(("service_token" = [])),
    responses((status = 200, body = ChangesOut), (status = 401, body = ErrorBody)))]
pub async fn changes(
    req: HttpRequest,
    query: web::Query<ChangesQuery>,
    platform: web::Data<Platform>,
    db: web::Data<Db>,
    signal: web::Data<AppSignal>,
) -> Result<web::Json<ChangesOut>, ApiError> {
    platform.require_service(&req)?;
    let cursor = query.cursor.unwrap_or(0).max(0);
    let wait = Duration::from_secs(query.wait.unwrap_or(30)).min(MAX_WAIT);
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        // Subscribed before reading, so a change committed after the read wakes this wait.
        let mut woken = signal.subscribe();
        let found = db.query(move |conn| runtime::changes(conn, cursor)).await?;
        let now = tokio::time::Instant::now();
        if !found.is_empty() || now >= deadline {
            let next = found.last().map_or(cursor, |d| d.app.change_seq);
            let apps = found
                .into_iter()
                .map(|d| DesiredAppOut {
                    id: d.app.id.to_string(),
                    team: d.team,
                    name: d.app.name,
                    desired: d.desired.as_str().to_owned(),
                    change: d.app.change_seq,
                    revision: d.revision.into(),
                })
                .collect();
            return Ok(web::Json(ChangesOut { apps, cursor: next }));
        }
        tokio::select! {
            _ = woken.changed() => {}
            _ = tokio::time::sleep_until(deadline.min(now + RECHECK)) => {}
        }
    }
}

fn app_id(raw: &str) -> Result<i64, AppError> {
    raw.parse().map_err(|_| AppError::NotFound)
}

fn refusal(e: apps::AppError) -> ApiError {
    match e {
        apps::AppError::Db(e) => AppError::internal(e).into(),
        apps::AppError::Archived => AppError::Conflict("The app's team is archived: the app must stop.".into()).into(),
        _ => AppError::NotFound.into(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct EnvironmentOut {
    /// The values of the secrets the revision lists, by name (exactly those).
    pub env: BTreeMap<String, String>,
    /// Names the revision lists that the team no longer has.
    pub missing: Vec<String>,
}

/// A revision's environment: the team's secrets it lists, opened. Only over this call.
#[utoipa::path(get, path = "/api/v1/runtime/apps/{app}/revisions/{number}/environment", tag = "super::platform", params(("app" = String, Path,), ("number" = i32, Path,)), security(("service_token" = [])),
    responses((status = 200, body = EnvironmentOut), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn environment(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    platform: web::Data<Platform>,
    db: web::Data<Db>,
    sealer: web::Data<Sealer>,
) -> Result<web::Json<EnvironmentOut>, ApiError> {
    platform.require_service(&req)?;
    // Parsed after the credential is checked, so a caller without it learns nothing.
    let (app, number) = path.into_inner();
    let app = app_id(&app)?;
    let number: i32 = number.parse().map_err(|_| AppError::NotFound)?;
    let sealer = sealer.into_inner();
    let env = db
        .run(move |conn| Ok::<_, AppError>(runtime::environment(conn, &sealer, app, number)))
        .await?
        .map_err(refusal)?;
    Ok(web::Json(EnvironmentOut { env: env.values.into_iter().collect(), missing: env.missing }))
}

#[derive(Deserialize, ToSchema)]
pub struct ReportIn {
    /// Chosen by the runtime: a report sent again with the same id is recorded once.
    pub id: String,
    pub revision: i32,
    /// `queued`, `building`, `starting`, `running` or `failed`.
    pub status: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub instances: i32,
    /// The URL the app answers at.
    pub endpoint: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ReportOut {
    /// `applied` (the app's status is now this), `kept` (recorded; a superseded revision or
    /// an older step) or `duplicate`.
    pub outcome: String,
}

/// Reports a revision's status.
#[utoipa::path(post, path = "/api/v1/runtime/apps/{app}/reports", tag = "super::platform", params(("app" = String, Path,)), request_body = ReportIn, security(("service_token" = [])),
    responses((status = 200, body = ReportOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn report(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    platform: web::Data<Platform>,
    db: web::Data<Db>,
) -> Result<web::Json<ReportOut>, ApiError> {
    platform.require_service(&req)?;
    let app = app_id(&path)?;
    let body = read_body(payload, MAX_WEBHOOK_BODY).await?;
    let r: ReportIn =
        serde_json::from_slice(&body).map_err(|e| AppError::BadRequest(format!("Not a status report: {e}")))?;
    let status = AppStatus::parse(&r.status)
        .ok_or_else(|| AppError::BadRequest("status: one of queued, building, starting, running, failed.".into()))?;
    let id_ok = !r.id.is_empty() && r.id.len() <= 128;
    let endpoint_ok = r.endpoint.as_ref().is_none_or(|e| {
        e.len() <= 512 && (e.starts_with("https://") || e.starts_with("http://")) && !e.contains(char::is_whitespace)
    });
    if !id_ok || !endpoint_ok || r.message.len() > 2000 || !(0..=10_000).contains(&r.instances) {
        return Err(AppError::BadRequest(
            "id: 1 to 128 characters; endpoint: an http(s) URL; message: at most 2000 bytes; instances ≥ 0.".into(),
        )
        .into());
    }
    let report = StatusReport {
        report_id: r.id,
        revision: r.revision,
        status,
        message: r.message,
        instances: r.instances,
        endpoint: r.endpoint,
    };
    let outcome = db.run(move |conn| Ok::<_, AppError>(runtime::report(conn, app, &report))).await?.map_err(refusal)?;
    let outcome = match outcome {
        Reported::Applied => "applied",
        Reported::Kept => "kept",
        Reported::Duplicate => "duplicate",
    };
    Ok(web::Json(ReportOut { outcome: outcome.to_owned() }))
}
