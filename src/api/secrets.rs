//! `/api/v1/teams/{slug}/secrets`: list a team's secrets by name, set one, delete one, as
//! `teamdeck`'s users script it. Management calls: an ADMIN-scoped team key, or the login
//! token of a member whose role manages secrets. No call ever returns a value.

use super::auth::ApiCaller;
use super::error::{ApiError, ErrorBody};
use crate::db::Db;
use crate::domain::Permission;
use crate::domain::When;
use crate::http::AppError;
use crate::service::secrets::{self, Mode, Sealer, SecretError, SecretListing, SecretName, Set};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct SecretOut {
    pub name: String,
    pub created_at: String,
    pub updated_at: String,
    /// Who last set it: the member's name, or `team key <name>`; null once the member is gone.
    pub updated_by: Option<String>,
}

impl From<SecretListing> for SecretOut {
    fn from(l: SecretListing) -> Self {
        SecretOut {
            created_at: When::from_ms(l.created_at).iso,
            updated_at: When::from_ms(l.updated_at).iso,
            updated_by: l.updated_by,
            name: l.name,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SecretsOut {
    pub secrets: Vec<SecretOut>,
}

/// The team's secrets by name (never a value).
#[utoipa::path(get, path = "/api/v1/teams/{slug}/secrets", tag = "super::secrets", params(("slug" = String, Path,)),
    responses((status = 200, body = SecretsOut), (status = 403, body = ErrorBody)))]
pub async fn list_secrets(
    caller: ApiCaller,
    slug: web::Path<String>,
    db: web::Data<Db>,
) -> Result<web::Json<SecretsOut>, ApiError> {
    let team = caller.team(Some(&slug)).await?;
    team.require(Permission::ViewSecrets, true)?;
    let account_id = team.account.id;
    let listed = db.query(move |conn| secrets::list(conn, account_id)).await?;
    Ok(web::Json(SecretsOut { secrets: listed.into_iter().map(SecretOut::from).collect() }))
}

#[derive(Deserialize, ToSchema)]
pub struct SetSecret {
    /// At most 32 KiB.
    pub value: String,
}

/// Sets a secret: adds it (201) or replaces its value (200). The name is an environment
/// variable's (`[A-Z_][A-Z0-9_]*`; lowercase letters are taken as uppercase).
#[utoipa::path(put, path = "/api/v1/teams/{slug}/secrets/{secret}", tag = "super::secrets", params(("slug" = String, Path,), ("secret" = String, Path,)),
    request_body = SetSecret,
    responses((status = 201, body = SecretOut), (status = 200, body = SecretOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn set_secret(
    caller: ApiCaller,
    path: web::Path<(String, String)>,
    body: web::Json<SetSecret>,
    db: web::Data<Db>,
    sealer: web::Data<Sealer>,
) -> Result<HttpResponse, ApiError> {
    let (slug, name) = path.into_inner();
    let team = caller.team(Some(&slug)).await?;
    team.require(Permission::ManageSecrets, true)?;
    let name = SecretName::parse(&name).map_err(|e| AppError::BadRequest(format!("name: {e}")))?;
    let value = body.into_inner().value;
    secrets::check_value(&value).map_err(|e| AppError::BadRequest(format!("value: {e}")))?;
    let (account_id, actor, sealer) = (team.account.id, caller.actor(), sealer.into_inner());
    let outcome = db
        .run(move |conn| {
            Ok::<_, AppError>(secrets::set(conn, &sealer, account_id, &actor, &name, &value, Mode::Either))
        })
        .await?;
    match outcome {
        Ok((set, listed)) => {
            let mut response = if set == Set::Added { HttpResponse::Created() } else { HttpResponse::Ok() };
            Ok(response.json(SecretOut::from(listed)))
        }
        Err(e @ SecretError::TooMany) => Err(AppError::BadRequest(e.to_string()).into()),
        Err(SecretError::Db(e)) => Err(AppError::internal(e).into()),
        Err(e) => Err(AppError::Forbidden(e.to_string()).into()),
    }
}

/// Deletes a secret: apps started afterwards no longer receive it.
#[utoipa::path(delete, path = "/api/v1/teams/{slug}/secrets/{secret}", tag = "super::secrets", params(("slug" = String, Path,), ("secret" = String, Path,)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_secret(
    caller: ApiCaller,
    path: web::Path<(String, String)>,
    db: web::Data<Db>,
) -> Result<HttpResponse, ApiError> {
    let (slug, name) = path.into_inner();
    let team = caller.team(Some(&slug)).await?;
    team.require(Permission::ManageSecrets, true)?;
    // The caller manages the team's secrets: naming the one they asked for tells them nothing new.
    let missing = |shown: &str| AppError::Missing(format!("no secret {shown} in {}", team.account.slug));
    let typed: String = name.chars().take(SecretName::MAX_CHARS).collect::<String>().to_ascii_uppercase();
    let name = SecretName::parse(&name).map_err(|_| missing(&typed))?;
    let (account_id, actor) = (team.account.id, caller.actor());
    let deleting = name.clone();
    match db.run(move |conn| Ok::<_, AppError>(secrets::delete(conn, account_id, &actor, deleting.as_str()))).await? {
        Ok(()) => Ok(HttpResponse::NoContent().finish()),
        Err(SecretError::Db(e)) => Err(AppError::internal(e).into()),
        Err(SecretError::NotFound) => Err(missing(name.as_str()).into()),
        Err(e) => Err(AppError::Forbidden(e.to_string()).into()),
    }
}
