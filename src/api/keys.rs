//! `teams/{slug}/keys`: list a team's API keys, create one (its secret returned this once),
//! delete one. Every call needs an ADMIN-scoped team key, or the login token of a member
//! whose role allows it.

use super::auth::ApiCaller;
use super::error::{ApiError, ErrorBody};
use crate::db::Db;
use crate::domain::{KeyScope, Permission, TeamName, When};
use crate::http::AppError;
use crate::service::keys::{self, ApiKey, KeyError};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct KeyOut {
    pub id: String,
    pub name: String,
    /// `API` or `ADMIN`.
    pub scope: String,
    /// The key's prefix and last four characters; the secret is never returned again.
    pub masked: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

impl From<ApiKey> for KeyOut {
    fn from(k: ApiKey) -> Self {
        KeyOut {
            id: k.id.to_string(),
            scope: k.scope().as_str().to_owned(),
            masked: k.masked(),
            created_at: When::from_ms(k.created_at).iso,
            last_used_at: k.last_used_at.map(|t| When::from_ms(t).iso),
            name: k.name,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct KeysOut {
    pub keys: Vec<KeyOut>,
}

/// The team's keys (an ADMIN-scoped key, or the login token of an admin or billing member).
#[utoipa::path(get, path = "/api/v1/teams/{slug}/keys", params(("slug" = String, Path,)),
    responses((status = 200, body = KeysOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_keys(
    caller: ApiCaller,
    slug: web::Path<String>,
    db: web::Data<Db>,
) -> Result<web::Json<KeysOut>, ApiError> {
    let team = caller.team(Some(&slug)).await?;
    team.require(Permission::ViewKeys, true)?;
    let account_id = team.account.id;
    let listed = db.query(move |conn| keys::list(conn, account_id)).await?;
    Ok(web::Json(KeysOut { keys: listed.into_iter().map(|l| l.key.into()).collect() }))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateKey {
    pub name: String,
    /// `API` or `ADMIN`.
    pub scope: String,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    pub key: KeyOut,
    /// The whole key. Returned this once; store it now.
    pub secret: String,
}

/// Creates a key (an ADMIN-scoped key, or an admin's login token).
#[utoipa::path(post, path = "/api/v1/teams/{slug}/keys", params(("slug" = String, Path,)), request_body = CreateKey,
    responses((status = 201, body = CreatedKey), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_key(
    caller: ApiCaller,
    slug: web::Path<String>,
    body: web::Json<CreateKey>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let team = caller.team(Some(&slug)).await?;
    team.require(Permission::ManageKeys, true)?;
    let name = TeamName::parse(&body.name).map_err(|e| AppError::BadRequest(format!("name: {e}")))?;
    let scope: KeyScope = body.scope.parse().map_err(AppError::BadRequest)?;
    let actor = caller.actor();
    let account = team.account.clone();
    let created = db.run(move |conn| Ok::<_, AppError>(keys::create(conn, &account, &actor, &name, scope))).await?;
    match created {
        Ok((key, secret)) => Ok(HttpResponse::Created().json(CreatedKey { key: key.into(), secret })),
        Err(KeyError::Db(e)) => Err(AppError::internal(e).into()),
        Err(e) => Err(AppError::Forbidden(e.to_string()).into()),
    }
}

/// Deletes (revokes) a key: it stops working at once.
#[utoipa::path(delete, path = "/api/v1/teams/{slug}/keys/{key_id}", params(("slug" = String, Path,), ("key_id" = String, Path,)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_key(caller: ApiCaller, path: web::Path<(String, i64)>) -> Result<HttpResponse, ApiError> {
    let (slug, key_id) = path.into_inner();
    let team = caller.team(Some(&slug)).await?;
    team.require(Permission::ManageKeys, true)?;
    let (account_id, actor) = (team.account.id, caller.actor());
    match caller.identity().commit(move |conn| keys::revoke(conn, account_id, &actor, key_id)).await? {
        Ok(_) => Ok(HttpResponse::NoContent().finish()),
        Err(KeyError::Db(e)) => Err(AppError::internal(e).into()),
        Err(_) => Err(AppError::NotFound.into()),
    }
}
