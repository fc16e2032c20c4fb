//! The API keys page (`/a/{slug}/keys`): admins create and delete keys; billing members see
//! the list. A new key's secret is shown once, on the page right after creation (carried
//! there in the encrypted session cookie and removed as it is shown); afterwards only its
//! prefix and last four characters.

use super::error::AppError;
use super::extract::{Authorized, need};
use super::layout::Layout;
use super::render::{page_with_status, see_other};
use crate::auth::session::{self, Flash};
use crate::db::Db;
use crate::domain::When;
use crate::domain::{KeyScope, Permission, TeamName};
use crate::identity::Identity;
use crate::service::keys::{self, KeyError};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::{Deserialize, Serialize};

const NEW_KEY: &str = "new_key";

/// A just-created key on its way to the page that shows it once: only that team's page takes it.
#[derive(Serialize, Deserialize)]
struct NewKey {
    account_id: i64,
    name: String,
    secret: String,
}

pub struct KeyRow {
    pub id: i64,
    pub name: String,
    pub scope: KeyScope,
    pub masked: String,
    pub created_by: String,
    pub created: When,
    pub last_used: Option<When>,
}

#[derive(Template)]
#[template(path = "keys/page.html")]
struct KeysPage {
    layout: Layout,
    base: String,
    team: String,
    csrf: String,
    can_manage: bool,
    keys: Vec<KeyRow>,
    new_key: Option<(String, String)>,
    name: String,
    scope: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "keys/delete.html")]
struct DeletePage {
    layout: Layout,
    base: String,
    csrf: String,
    key: KeyRow,
}

impl From<keys::KeyListing> for KeyRow {
    fn from(l: keys::KeyListing) -> Self {
        KeyRow {
            id: l.key.id,
            scope: l.key.scope,
            masked: l.key.masked(),
            created_by: l.created_by.unwrap_or_else(|| "a former member".into()),
            created: When::from_ms(l.key.created_at),
            last_used: l.key.last_used_at.map(When::from_ms),
            name: l.key.name,
        }
    }
}

async fn rows(db: &Db, account_id: i64) -> Result<Vec<KeyRow>, AppError> {
    let listed = db.query(move |conn| keys::list(conn, account_id)).await?;
    Ok(listed.into_iter().map(KeyRow::from).collect())
}

async fn render<P>(
    auth: &Authorized<P>,
    db: &Db,
    form: (String, String, Option<String>),
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let session = &auth.signed_in.session;
    let waiting = session.get::<NewKey>(NEW_KEY).ok().flatten().filter(|k| k.account_id == auth.account.id);
    if waiting.is_some() {
        session.remove(NEW_KEY);
    }
    let new_key = waiting.map(|k| (k.name, k.secret));
    let page = KeysPage {
        layout: Layout::for_account(auth, "API keys", "/keys"),
        base: auth.base_path(),
        team: auth.account.name.clone(),
        csrf: session::csrf_token(&auth.signed_in.session),
        can_manage: auth.role.allows(Permission::ManageKeys) && !auth.account.is_archived(),
        keys: rows(db, auth.account.id).await?,
        new_key,
        name: form.0,
        scope: form.1,
        error: form.2,
    };
    page_with_status(status, &page)
}

pub async fn show(auth: Authorized<need::ViewKeys>, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    render(&auth, &db, (String::new(), "API".into(), None), StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct CreateForm {
    name: String,
    scope: String,
}

#[tracing::instrument(name = "create key", skip_all, fields(account_id = auth.account.id))]
pub async fn create(
    auth: Authorized<need::ManageKeys>,
    form: web::Form<CreateForm>,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let CreateForm { name, scope } = form.into_inner();
    let parsed =
        TeamName::parse(&name).map_err(|e| e.to_string()).and_then(|n| scope.parse::<KeyScope>().map(|s| (n, s)));
    let (key_name, key_scope) = match parsed {
        Ok(parsed) => parsed,
        Err(message) => {
            return render(&auth, &db, (name, scope, Some(message)), StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let (account, actor) = (auth.account.clone(), auth.actor());
    let created =
        db.run(move |conn| Ok::<_, AppError>(keys::create(conn, &account, &actor, &key_name, key_scope))).await?;
    match created {
        Ok((key, secret)) => {
            auth.signed_in
                .session
                .insert(NEW_KEY, NewKey { account_id: key.account_id, name: key.name, secret })
                .map_err(AppError::internal)?;
            Ok(see_other(&format!("{}/keys", auth.base_path())))
        }
        Err(KeyError::Db(e)) => Err(AppError::internal(e)),
        Err(e) => Err(AppError::Forbidden(e.to_string())),
    }
}

async fn find_row(db: &Db, account_id: i64, key_id: i64) -> Result<KeyRow, AppError> {
    let found = db.query(move |conn| keys::find(conn, account_id, key_id)).await?;
    found.map(KeyRow::from).ok_or(AppError::NotFound)
}

pub async fn confirm_delete(
    auth: Authorized<need::ManageKeys>,
    path: web::Path<(String, i64)>,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let key = find_row(&db, auth.account.id, path.into_inner().1).await?;
    let page = DeletePage {
        layout: Layout::for_account(&auth, format!("Delete {}", key.name), "/keys"),
        base: auth.base_path(),
        csrf: session::csrf_token(&auth.signed_in.session),
        key,
    };
    page_with_status(StatusCode::OK, &page)
}

pub async fn delete(
    auth: Authorized<need::ManageKeys>,
    path: web::Path<(String, i64)>,
    identity: web::Data<Identity>,
) -> Result<HttpResponse, AppError> {
    let (account_id, actor, key_id) = (auth.account.id, auth.actor(), path.into_inner().1);
    let revoked = identity.commit(move |conn| keys::revoke(conn, account_id, &actor, key_id)).await?;
    match revoked {
        Ok(key) => {
            session::push_flash(
                &auth.signed_in.session,
                Flash::success(format!("Key {} deleted. Programs using it are refused from now on.", key.name)),
            );
            Ok(see_other(&format!("{}/keys", auth.base_path())))
        }
        Err(KeyError::Db(e)) => Err(AppError::internal(e)),
        Err(_) => Err(AppError::NotFound),
    }
}
