//! The secrets page (`/a/{slug}/secrets`): admins and developers add a secret, replace its
//! value or delete it; the page lists names and who last set them, never a value.

use super::error::AppError;
use super::extract::{Authorized, need};
use super::layout::Layout;
use super::render::{page_with_status, see_other};
use crate::auth::session::{self, Flash};
use crate::db::Db;
use crate::domain::Permission;
use crate::domain::When;
use crate::service::secrets::{self, Mode, Sealer, SecretError, SecretListing, SecretName, Set};
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

/// Which field a form error concerns (it is shown next to it), or the whole form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Name,
    Value,
    Form,
}

#[derive(Template)]
#[template(path = "secrets/page.html")]
struct SecretsPage {
    layout: Layout,
    base: String,
    team: String,
    csrf: String,
    can_manage: bool,
    archived: bool,
    secrets: Vec<SecretRow>,
    /// Replacing the value of `name` (its row's Replace), rather than adding a secret.
    replacing: bool,
    /// The form as typed, and what is wrong with it.
    name: String,
    value: String,
    error: Option<(Field, String)>,
}

impl SecretsPage {
    fn error_at(&self, field: Field) -> Option<&str> {
        self.error.as_ref().filter(|(at, _)| *at == field).map(|(_, message)| message.as_str())
    }
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
    error: Option<(Field, String)>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let account_id = auth.account.id;
    let listed = db.query(move |conn| secrets::list(conn, account_id)).await?;
    let replacing = form.mode == "replace" && listed.iter().any(|s| s.name == form.name);
    let page = SecretsPage {
        layout: Layout::for_account(auth, "Secrets", "/secrets"),
        base: auth.base_path(),
        team: auth.account.name.clone(),
        csrf: session::csrf_token(&auth.signed_in.session),
        can_manage: auth.role.allows(Permission::ManageSecrets) && !auth.account.is_archived(),
        archived: auth.account.is_archived(),
        secrets: listed.into_iter().map(SecretRow::from).collect(),
        replacing,
        name: form.name,
        value: form.value,
        error,
    };
    page_with_status(status, &page)
}

#[derive(Deserialize, Default)]
pub struct Replace {
    /// A row's Replace links here with the secret's name.
    #[serde(default)]
    replace: String,
}

pub async fn show(
    auth: Authorized<need::ViewSecrets>,
    query: web::Query<Replace>,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let name = query.into_inner().replace;
    let mode = if name.is_empty() { String::new() } else { "replace".into() };
    render(&auth, &db, SetForm { name, value: String::new(), mode }, None, StatusCode::OK).await
}

#[derive(Deserialize, Default)]
pub struct SetForm {
    name: String,
    value: String,
    /// `replace` from a row's Replace; anything else adds.
    #[serde(default)]
    mode: String,
}

#[tracing::instrument(name = "set secret", skip_all, fields(account_id = auth.account.id))]
pub async fn set(
    auth: Authorized<need::ManageSecrets>,
    form: web::Form<SetForm>,
    db: web::Data<Db>,
    sealer: web::Data<Sealer>,
) -> Result<HttpResponse, AppError> {
    let mut form = form.into_inner();
    // A textarea sends its line breaks as CRLF (HTML); a variable's value wants LF.
    form.value = form.value.replace("\r\n", "\n");
    let name = match SecretName::parse(&form.name) {
        Ok(name) => name,
        Err(e) => return invalid(&auth, &db, form, Field::Name, e.to_string()).await,
    };
    if let Err(message) = secrets::check_value(&form.value) {
        return invalid(&auth, &db, form, Field::Value, message).await;
    }
    let mode = if form.mode == "replace" { Mode::Replace } else { Mode::Add };
    let (account_id, actor, sealer) = (auth.account.id, auth.actor(), sealer.into_inner());
    let (kept, value) = (name.clone(), form.value.clone());
    let outcome = db
        .run(move |conn| Ok::<_, AppError>(secrets::set(conn, &sealer, account_id, &actor, &kept, &value, mode)))
        .await?;
    let message = match outcome {
        Ok((Set::Added, _)) => format!("Secret {} added.", name.as_str()),
        Ok((Set::Replaced, _)) => format!("The value of {} was replaced.", name.as_str()),
        Err(SecretError::Exists) => {
            let message = format!("{} already exists: use Replace in its row to change its value.", name.as_str());
            return invalid(&auth, &db, form, Field::Name, message).await;
        }
        Err(SecretError::NotFound) => {
            form.mode.clear();
            let message = format!("{} was deleted meanwhile: save to add it again.", name.as_str());
            return invalid(&auth, &db, form, Field::Form, message).await;
        }
        Err(e @ SecretError::TooMany) => return invalid(&auth, &db, form, Field::Form, e.to_string()).await,
        Err(SecretError::Db(e)) => return Err(AppError::internal(e)),
        Err(e) => return Err(AppError::Forbidden(e.to_string())),
    };
    session::push_flash(&auth.signed_in.session, Flash::success(message));
    Ok(see_other(&format!("{}/secrets", auth.base_path())))
}

/// The page again with the form as typed and what is wrong with `field`.
async fn invalid<P>(
    auth: &Authorized<P>,
    db: &Db,
    form: SetForm,
    field: Field,
    message: String,
) -> Result<HttpResponse, AppError> {
    render(auth, db, form, Some((field, message)), StatusCode::UNPROCESSABLE_ENTITY).await
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
            session::push_flash(&auth.signed_in.session, Flash::success(format!("Secret {name} deleted.")));
            Ok(see_other(&format!("{}/secrets", auth.base_path())))
        }
        // Deleted already (a second click, or someone else): say so where the list is.
        Err(e @ SecretError::NotFound) => {
            session::push_flash(&auth.signed_in.session, Flash::info(e.to_string()));
            Ok(see_other(&format!("{}/secrets", auth.base_path())))
        }
        Err(SecretError::Db(e)) => Err(AppError::internal(e)),
        Err(e) => Err(AppError::Forbidden(e.to_string())),
    }
}
