//! `teams/{slug}/members`: a team's members, a page at a time.

use super::auth::ApiCaller;
use super::error::{ApiError, ErrorBody};
use crate::db::Db;
use crate::domain::{Permission, When};
use crate::service::members;
use actix_web::web;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct MemberOut {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: String,
    pub joined_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct MembersPage {
    pub members: Vec<MemberOut>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

#[derive(Deserialize)]
pub struct PageQuery {
    after: Option<String>,
}

/// The team's members by name, 100 a page.
#[utoipa::path(get, path = "/api/v1/teams/{slug}/members", params(("slug" = String, Path,), ("after" = Option<String>, Query,)),
    responses((status = 200, body = MembersPage), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_members(
    caller: ApiCaller,
    slug: web::Path<String>,
    query: web::Query<PageQuery>,
    db: web::Data<Db>,
) -> Result<web::Json<MembersPage>, ApiError> {
    let team = caller.team(Some(&slug)).await?;
    team.require(Permission::ViewTeam, false)?;
    let cursor = query.after.as_deref().and_then(|a| {
        let (id, name) = a.split_once(':')?;
        Some(members::Cursor { user_id: id.parse().ok()?, sort_name: name.to_owned() })
    });
    let account_id = team.account.id;
    let (page, more) = db.query(move |conn| members::page(conn, account_id, None, cursor.as_ref(), 100)).await?;
    let next = more.then(|| page.last().map(|m| format!("{}:{}", m.user_id, m.sort_name))).flatten();
    Ok(web::Json(MembersPage {
        members: page
            .into_iter()
            .map(|m| MemberOut {
                id: m.user_id.to_string(),
                role: m.role.as_str().to_owned(),
                joined_at: When::from_ms(m.joined_at).iso,
                name: m.name,
                email: m.email,
            })
            .collect(),
        next,
    }))
}
