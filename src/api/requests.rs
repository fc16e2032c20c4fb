//! `teams/{slug}/requests`: the team's latest API calls, each with who made it (as written
//! by the request recorder).

use super::auth::ApiCaller;
use super::error::{ApiError, ErrorBody};
use crate::db::Db;
use crate::domain::{Permission, When};
use crate::service::requests;
use actix_web::web;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct RequestOut {
    pub at: String,
    pub method: String,
    pub path: String,
    pub status: i32,
    pub duration_ms: i32,
    /// The member's name, or `team key <name>`.
    pub by: String,
    pub user_id: Option<String>,
    pub key_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RequestsOut {
    pub requests: Vec<RequestOut>,
}

/// The team's latest 100 API requests, newest first, each with who made it.
#[utoipa::path(get, path = "/api/v1/teams/{slug}/requests", params(("slug" = String, Path,)),
    responses((status = 200, body = RequestsOut), (status = 401, body = ErrorBody)))]
pub async fn list_requests(
    caller: ApiCaller,
    slug: web::Path<String>,
    db: web::Data<Db>,
) -> Result<web::Json<RequestsOut>, ApiError> {
    let team = caller.team(Some(&slug)).await?;
    team.require(Permission::ViewTeam, false)?;
    let account_id = team.account.id;
    let rows = db.query(move |conn| requests::recent(conn, account_id, None, None, 100)).await?;
    Ok(web::Json(RequestsOut {
        requests: rows
            .into_iter()
            .map(|r| RequestOut {
                at: When::from_ms(r.created_at).iso,
                by: r.by(),
                method: r.method,
                path: r.path,
                status: r.status,
                duration_ms: r.duration_ms,
                user_id: r.user_id.map(|i| i.to_string()),
                key_id: r.key_id.map(|i| i.to_string()),
            })
            .collect(),
    }))
}
