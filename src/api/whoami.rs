//! `whoami` and `teams`: who is calling, and which teams a member can act for.

use super::auth::{ApiCaller, Credential, TeamAccess};
use super::error::{ApiError, ErrorBody};
use super::keys::KeyOut;
use crate::http::AppError;
use actix_web::web;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct TeamRef {
    pub slug: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct WhoAmI {
    /// `team_key` or `login_token`.
    pub authenticated_by: &'static str,
    /// `team` (a team key) or `member` (a login token).
    pub attributed_to: &'static str,
    /// The team the call acts on (for a login token: from the `X-Teamdeck-Team` header).
    pub team: Option<TeamRef>,
    /// The member's role in that team (login token).
    pub role: Option<String>,
    pub key: Option<KeyOut>,
    pub user: Option<UserOut>,
    pub scope: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UserOut {
    pub id: String,
    pub name: String,
    pub email: String,
}

fn team_ref(t: &TeamAccess) -> TeamRef {
    TeamRef { slug: t.account.slug.clone(), name: t.account.name.clone() }
}

/// Who is calling, for which team, and how they authenticated.
#[utoipa::path(get, path = "/api/v1/whoami",
    params(("X-Teamdeck-Team" = Option<String>, Header, description = "With a login token: the team to act for (its slug).")),
    responses((status = 200, body = WhoAmI), (status = 401, body = ErrorBody)))]
pub async fn whoami(caller: ApiCaller) -> Result<web::Json<WhoAmI>, ApiError> {
    let team = match (&caller.credential, caller.chosen_team()) {
        (Credential::LoginToken { .. }, None) => None,
        _ => Some(caller.team(None).await?),
    };
    Ok(web::Json(match &caller.credential {
        Credential::TeamKey { key, .. } => WhoAmI {
            authenticated_by: "team_key",
            attributed_to: "team",
            team: team.as_ref().map(team_ref),
            role: None,
            scope: Some(key.scope.as_str().to_owned()),
            key: Some((**key).clone().into()),
            user: None,
        },
        Credential::LoginToken { user, .. } => WhoAmI {
            authenticated_by: "login_token",
            attributed_to: "member",
            team: team.as_ref().map(team_ref),
            role: team.as_ref().and_then(|t| t.role).map(|r| r.as_str().to_owned()),
            scope: None,
            key: None,
            user: Some(UserOut { id: user.id.to_string(), name: user.name.clone(), email: user.email.clone() }),
        },
    }))
}

#[derive(Serialize, ToSchema)]
pub struct TeamOut {
    pub slug: String,
    pub name: String,
    /// `personal` or `team`.
    pub kind: String,
    pub role: String,
    pub archived: bool,
}

#[derive(Serialize, ToSchema)]
pub struct TeamsOut {
    pub teams: Vec<TeamOut>,
}

/// The accounts of the member behind a login token, with their role in each.
#[utoipa::path(get, path = "/api/v1/teams", responses((status = 200, body = TeamsOut), (status = 403, body = ErrorBody)))]
pub async fn list_teams(caller: ApiCaller) -> Result<web::Json<TeamsOut>, ApiError> {
    let user_id = caller
        .member()
        .map(|u| u.id)
        .ok_or_else(|| AppError::Forbidden("A team key belongs to one team: call whoami to see which.".into()))?;
    let accounts = caller.db().query(move |conn| crate::service::accounts::accounts_of(conn, user_id)).await?;
    Ok(web::Json(TeamsOut {
        teams: accounts
            .into_iter()
            .map(|m| TeamOut {
                kind: m.account.kind.as_str().to_owned(),
                role: m.role.as_str().to_owned(),
                archived: m.account.is_archived(),
                slug: m.account.slug,
                name: m.account.name,
            })
            .collect(),
    }))
}
