//! The secrets page (`/a/{slug}/secrets`): admins and developers add a secret, replace its
//! value or delete it; the page lists names and who last set them, never a value.

use super::error::AppError;
use super::extract::{Authorized, need};
use super::layout::Layout;
use super::render::{When, page_with_status, see_other};
use crate::auth::session::{self, Flash};
use crate::db::Db;
use crate::domain::Permission;
use crate::service::secrets::{self, Sealer, SecretError, SecretListing, SecretName, Set};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

pub struct SecretRow {
    pub name: String,
    pub updated_by: String,
    pub updated: When,
    pub created: When,
}

impl From<SecretListing> for SecretRow {
    fn from(l: SecretListing) -> Self {
        SecretRow {
            updated_by: l.updated_by.unwrap_or_else(|| "a former member".into()),
            updated: When::from_ms(l.updated_at),
            created: When::from_ms(l.created_at),
            name: l.name,
        }
    }
}

#[derive(Template)]
#[template(path = "secrets/page.html")]
struct SecretsPage {
    layout: Layout,
    base: String,
    team: String,
    csrf: String,
    can_manage: bool,
    secrets: Vec<SecretRow>,
    /// The form as typed, and what is wrong with it.
    name: String,
    value: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "secrets/delete.html")]
struct DeletePage {
    layout: Layout,
    base: String,
    csrf: String,
    secret: SecretRow,
}

async fn render<P>(
    auth: &Authorized<P>,
    db: &Db,
    form: SetForm,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let account_id = auth.account.id;
    let listed = db.query(move |conn| secrets::list(conn, account_id)).await?;
    let page = SecretsPage {
        layout: Layout::for_account(auth, "Secrets", "/secrets"),
        base: auth.base_path(),
        team: auth.account.name.clone(),
        csrf: session::csrf_token(&auth.signed_in.session),
        can_manage: auth.role.allows(Permission::ManageSecrets) && !auth.account.is_archived(),
        secrets: listed.into_iter().map(SecretRow::from).collect(),
        name: form.name,
        value: form.value,
        error,
    };
    page_with_status(status, &page)
}

#[derive(Deserialize, Default)]
pub struct Prefill {
    /// "Replace value" links here with the secret's name filled in.
    #[serde(default)]
    name: String,
}

pub async fn show(
    auth: Authorized<need::ViewSecrets>,
    query: web::Query<Prefill>,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let form = SetForm { name: query.into_inner().name, value: String::new() };
    render(&auth, &db, form, None, StatusCode::OK).await
}

#[derive(Deserialize, Default)]
pub struct SetForm {
    name: String,
    value: String,
}

/// Why a value cannot be kept, in words for the form.
fn check_value(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("Enter a value.".into());
    }
    if value.len() > secrets::MAX_VALUE_BYTES {
        return Err(format!("A value can be at most {} KiB.", secrets::MAX_VALUE_BYTES / 1024));
    }
    Ok(())
}

#[tracing::instrument(name = "set secret", skip_all, fields(account_id = auth.account.id))]
pub async fn set(
    auth: Authorized<need::ManageSecrets>,
    form: web::Form<SetForm>,
    db: web::Data<Db>,
    sealer: web::Data<Sealer>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let name = match SecretName::parse(&form.name).map_err(|e| e.to_string()) {
        Ok(name) => name,
        Err(message) => return render(&auth, &db, form, Some(message), StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    if let Err(message) = check_value(&form.value) {
        return render(&auth, &db, form, Some(message), StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let (account_id, actor, sealer) = (auth.account.id, auth.actor(), sealer.into_inner());
    let (kept, value) = (name.clone(), form.value.clone());
    let outcome =
        db.run(move |conn| Ok::<_, AppError>(secrets::set(conn, &sealer, account_id, &actor, &kept, &value))).await?;
    let message = match outcome {
        Ok(Set::Added) => {
            format!("Secret {} added. Apps of {} receive it from their next start.", name.as_str(), auth.account.name)
        }
        Ok(Set::Replaced) => {
            format!("The value of {} was replaced. Apps receive the new one from their next start.", name.as_str())
        }
        Err(e @ SecretError::TooMany) => {
            return render(&auth, &db, form, Some(e.to_string()), StatusCode::UNPROCESSABLE_ENTITY).await;
        }
        Err(SecretError::Db(e)) => return Err(AppError::internal(e)),
        Err(e) => return Err(AppError::Forbidden(e.to_string())),
    };
    session::push_flash(&auth.signed_in.session, Flash::success(message));
    Ok(see_other(&format!("{}/secrets", auth.base_path())))
}

pub async fn confirm_delete(
    auth: Authorized<need::ManageSecrets>,
    path: web::Path<(String, String)>,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let (account_id, name) = (auth.account.id, path.into_inner().1);
    let found = db.query(move |conn| secrets::find(conn, account_id, &name)).await?;
    let secret = found.map(SecretRow::from).ok_or(AppError::NotFound)?;
    let page = DeletePage {
        layout: Layout::for_account(&auth, format!("Delete {}", secret.name), "/secrets"),
        base: auth.base_path(),
        csrf: session::csrf_token(&auth.signed_in.session),
        secret,
    };
    page_with_status(StatusCode::OK, &page)
}

pub async fn delete(
    auth: Authorized<need::ManageSecrets>,
    path: web::Path<(String, String)>,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let (account_id, actor, name) = (auth.account.id, auth.actor(), path.into_inner().1);
    let gone = name.clone();
    let deleted = db.run(move |conn| Ok::<_, AppError>(secrets::delete(conn, account_id, &actor, &gone))).await?;
    match deleted {
        Ok(()) => {
            session::push_flash(
                &auth.signed_in.session,
                Flash::success(format!("Secret {name} deleted. Apps started from now on no longer receive it.")),
            );
            Ok(see_other(&format!("{}/secrets", auth.base_path())))
        }
        Err(SecretError::Db(e)) => Err(AppError::internal(e)),
        Err(SecretError::NotFound) => Err(AppError::NotFound),
        Err(e) => Err(AppError::Forbidden(e.to_string())),
    }
}
