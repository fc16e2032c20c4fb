//! `/api/v1/teams/{slug}/apps`: deploy an app (a new revision), list the team's apps, an
//! app's revisions, roll back, delete. Deploying and changing take an ADMIN-scoped team key,
//! or the login token of a member whose role manages apps (admins, developers); listing takes
//! any member or key of the team.

use super::auth::ApiCaller;
use super::error::{ApiError, ErrorBody};
use crate::db::Db;
use crate::domain::{AppConfig, AppName, Permission, When};
use crate::http::AppError;
use crate::service::apps::{self, AppListing, AppSignal, Deployed, Revision};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct RevisionOut {
    pub number: i32,
    pub deployment_id: String,
    pub image: String,
    pub command: Option<String>,
    pub machine_type: String,
    pub min_instances: i32,
    pub max_instances: i32,
    /// The names of the team's secrets it receives.
    pub env: Vec<String>,
    pub public: bool,
    /// The revision whose configuration this one deployed again.
    pub rollback_of: Option<i32>,
    /// A member's name or `team key NAME`.
    pub deployed_by: String,
    pub created_at: String,
    /// `queued`, `building`, `starting`, `running` or `failed`.
    pub status: String,
    pub status_message: String,
    pub instances: i32,
    pub endpoint: Option<String>,
}

impl From<Revision> for RevisionOut {
    fn from(r: Revision) -> Self {
        RevisionOut {
            env: r.env_names(),
            number: r.number,
            deployment_id: r.deployment_id,
            image: r.image,
            command: r.command,
            machine_type: r.machine_type,
            min_instances: r.min_instances,
            max_instances: r.max_instances,
            public: r.public,
            rollback_of: r.rollback_of,
            deployed_by: r.deployed_by_name,
            created_at: When::from_ms(r.created_at).iso,
            status: r.status.as_str().to_owned(),
            status_message: r.status_message,
            instances: r.instances,
            endpoint: r.endpoint,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AppOut {
    pub id: String,
    pub name: String,
    /// The current revision's status as last reported.
    pub status: String,
    pub status_message: String,
    pub instances: i32,
    pub endpoint: Option<String>,
    pub created_at: String,
    /// The revision that should run.
    pub revision: RevisionOut,
}

impl From<AppListing> for AppOut {
    fn from(l: AppListing) -> Self {
        AppOut {
            id: l.app.id.to_string(),
            name: l.app.name,
            status: l.app.status.as_str().to_owned(),
            status_message: l.app.status_message,
            instances: l.app.instances,
            endpoint: l.app.endpoint,
            created_at: When::from_ms(l.app.created_at).iso,
            revision: l.revision.into(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AppsOut {
    pub apps: Vec<AppOut>,
}

#[derive(Serialize, ToSchema)]
pub struct RevisionsOut {
    pub revisions: Vec<RevisionOut>,
}

#[derive(Deserialize, ToSchema)]
pub struct Deployment {
    /// Chosen by the client (e.g. a UUID): sending the same deploy again makes no new revision.
    pub deployment_id: String,
    /// An image (`registry/name@sha256:…`) or source reference.
    pub image: String,
    /// The command to start; the image's own when absent.
    pub command: Option<String>,
    /// Default `cpu-small`.
    pub machine_type: Option<String>,
    /// Default 0.
    pub min_instances: Option<i32>,
    /// Default 1, at most 100.
    pub max_instances: Option<i32>,
    /// Names of the team's secrets the app receives as environment variables.
    #[serde(default)]
    pub env: Vec<String>,
    /// Whether the endpoint answers anyone (default false: only the team's keys).
    #[serde(default)]
    pub public: bool,
}

fn refusal(e: apps::AppError) -> ApiError {
    use apps::AppError as E;
    match e {
        E::Db(e) => AppError::internal(e).into(),
        E::NotFound | E::NoSuchRevision => AppError::NotFound.into(),
        E::Archived => AppError::Forbidden(e.to_string()).into(),
        E::DeploymentIdReused => AppError::Conflict(e.to_string()).into(),
        E::UnknownSecrets(_) | E::BadDeploymentId | E::TooMany => AppError::BadRequest(e.to_string()).into(),
    }
}

fn deployed(d: Deployed) -> HttpResponse {
    let mut response = if d.created { HttpResponse::Created() } else { HttpResponse::Ok() };
    response.json(AppOut::from(AppListing { app: d.app, revision: d.revision }))
}

/// Deploys an app: creates it on its first deploy and a new revision each time (201); the
/// same `deployment_id` again answers the revision it made (200).
#[utoipa::path(post, path = "/api/v1/teams/{slug}/apps/{name}/deployments", tag = "super::apps", params(("slug" = String, Path,), ("name" = String, Path,)),
    request_body = Deployment,
    responses((status = 201, body = AppOut), (status = 200, body = AppOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn deploy(
    caller: ApiCaller,
    path: web::Path<(String, String)>,
    body: web::Json<Deployment>,
    db: web::Data<Db>,
    signal: web::Data<AppSignal>,
) -> Result<HttpResponse, ApiError> {
    let (slug, name) = path.into_inner();
    let team = caller.team(Some(&slug)).await?;
    team.require(Permission::ManageApps, true)?;
    let name = AppName::parse(&name).map_err(|e| AppError::BadRequest(format!("name: {e}")))?;
    let body = body.into_inner();
    let config = AppConfig {
        image: body.image,
        command: body.command,
        machine_type: body.machine_type.unwrap_or_default(),
        min_instances: body.min_instances.unwrap_or(0),
        max_instances: body.max_instances.unwrap_or(1),
        env: body.env,
        public: body.public,
    }
    .check()
    .map_err(AppError::BadRequest)?;
    let (account_id, actor, id) = (team.account.id, caller.actor(), body.deployment_id);
    let outcome = db
        .run(move |conn| Ok::<_, AppError>(apps::deploy(conn, account_id, &actor, &name, id.trim(), &config)))
        .await?
        .map_err(refusal)?;
    if outcome.created {
        signal.changed();
    }
    Ok(deployed(outcome))
}

/// The team's apps with their status and current revision.
#[utoipa::path(get, path = "/api/v1/teams/{slug}/apps", tag = "super::apps", params(("slug" = String, Path,)),
    responses((status = 200, body = AppsOut), (status = 403, body = ErrorBody)))]
pub async fn list_apps(
    caller: ApiCaller,
    slug: web::Path<String>,
    db: web::Data<Db>,
) -> Result<web::Json<AppsOut>, ApiError> {
    let team = caller.team(Some(&slug)).await?;
    team.require(Permission::ViewTeam, false)?;
    let account_id = team.account.id;
    let listed = db.query(move |conn| apps::list(conn, account_id)).await?;
    Ok(web::Json(AppsOut { apps: listed.into_iter().map(AppOut::from).collect() }))
}

/// An app's revisions, newest first.
#[utoipa::path(get, path = "/api/v1/teams/{slug}/apps/{name}/revisions", tag = "super::apps", params(("slug" = String, Path,), ("name" = String, Path,)),
    responses((status = 200, body = RevisionsOut), (status = 404, body = ErrorBody)))]
pub async fn list_revisions(
    caller: ApiCaller,
    path: web::Path<(String, String)>,
    db: web::Data<Db>,
) -> Result<web::Json<RevisionsOut>, ApiError> {
    let (slug, name) = path.into_inner();
    let team = caller.team(Some(&slug)).await?;
    team.require(Permission::ViewTeam, false)?;
    let account_id = team.account.id;
    let revisions = db
        .query(move |conn| match apps::find(conn, account_id, &name)? {
            Some(found) => apps::revisions(conn, found.app.id).map(Some),
            None => Ok(None),
        })
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(web::Json(RevisionsOut { revisions: revisions.into_iter().map(RevisionOut::from).collect() }))
}

/// Rolls back: deploys the configuration of an earlier revision again, as a new revision.
#[utoipa::path(post, path = "/api/v1/teams/{slug}/apps/{name}/revisions/{number}/rollback", tag = "super::apps", params(("slug" = String, Path,), ("name" = String, Path,), ("number" = i32, Path,)),
    responses((status = 201, body = AppOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rollback(
    caller: ApiCaller,
    path: web::Path<(String, String, i32)>,
    db: web::Data<Db>,
    signal: web::Data<AppSignal>,
) -> Result<HttpResponse, ApiError> {
    let (slug, name, number) = path.into_inner();
    let team = caller.team(Some(&slug)).await?;
    team.require(Permission::ManageApps, true)?;
    let (account_id, actor) = (team.account.id, caller.actor());
    let outcome = db
        .run(move |conn| Ok::<_, AppError>(apps::rollback(conn, account_id, &actor, &name, number)))
        .await?
        .map_err(refusal)?;
    signal.changed();
    Ok(deployed(outcome))
}

/// Deletes an app: the runtime removes it; its history stays.
#[utoipa::path(delete, path = "/api/v1/teams/{slug}/apps/{name}", tag = "super::apps", params(("slug" = String, Path,), ("name" = String, Path,)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_app(
    caller: ApiCaller,
    path: web::Path<(String, String)>,
    db: web::Data<Db>,
    signal: web::Data<AppSignal>,
) -> Result<HttpResponse, ApiError> {
    let (slug, name) = path.into_inner();
    let team = caller.team(Some(&slug)).await?;
    team.require(Permission::ManageApps, true)?;
    let (account_id, actor) = (team.account.id, caller.actor());
    db.run(move |conn| Ok::<_, AppError>(apps::delete(conn, account_id, &actor, &name))).await?.map_err(refusal)?;
    signal.changed();
    Ok(HttpResponse::NoContent().finish())
}
