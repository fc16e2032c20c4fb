//! The API keys page (`/a/{slug}/keys`): admins create (with an expiry, a monthly spend cap
//! and an address allowlist), rotate and delete keys; billing members see the list. A new
//! key's secret (and a rotated key's new one) is shown once, on the page right after
//! (carried there in the encrypted session cookie and removed as it is shown); afterwards
//! only its prefix and last four characters. Deleted keys are listed under "Archived keys".

mod rotate;
pub use rotate::{confirm_rotate, retire, rotate};

use crate::auth::session::{self, Flash};
use crate::db::Db;
use crate::domain::money::{self, parse_usd};
use crate::domain::{Allowlist, Expiry, KeyScope, Permission, TeamName, When, now_ms};
use crate::identity::Identity;
use crate::service::keys::{self, KeyError, KeyTerms};
use crate::web::error::AppError;
use crate::web::extract::{Authorized, need};
use crate::web::layout::Layout;
use crate::web::render::{page_with_status, see_other};
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
    /// Issued by a rotation (the dialog says so).
    #[serde(default)]
    rotated: bool,
}

pub struct KeyRow {
    pub id: i64,
    pub name: String,
    pub scope: KeyScope,
    pub masked: String,
    pub created_by: String,
    pub created: When,
    pub last_used: Option<When>,
    pub last_used_ip: Option<String>,
    pub expires: Option<When>,
    pub expired: bool,
    /// A rotated-out secret that still works: its mask and until when.
    pub old_secret: Option<(String, When)>,
    pub spend_cap: Option<String>,
    pub allowed_ips: String,
    pub archived_by: String,
    pub archived: Option<When>,
}

/// What the create form was sent with (kept after an error).
pub struct CreateValues {
    pub name: String,
    pub scope: String,
    pub expires: String,
    pub expires_on: String,
    pub spend_cap: String,
    pub allowed_ips: String,
}

impl Default for CreateValues {
    fn default() -> Self {
        Self {
            name: String::new(),
            scope: "API".into(),
            expires: "never".into(),
            expires_on: String::new(),
            spend_cap: String::new(),
            allowed_ips: String::new(),
        }
    }
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
    archived: Vec<KeyRow>,
    /// The key's name, its secret, and whether a rotation issued it.
    new_key: Option<(String, String, bool)>,
    form: CreateValues,
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
        let now = now_ms();
        let key = l.key;
        KeyRow {
            id: key.id,
            scope: key.scope,
            masked: key.masked(),
            created_by: l.created_by.unwrap_or_else(|| "a former member".into()),
            created: When::from_ms(key.created_at),
            last_used: key.last_used_at.map(When::from_ms),
            expires: key.expires_at.map(When::from_ms),
            expired: key.expires_at.is_some_and(|at| at <= now),
            old_secret: key.previous_masked(now).zip(key.previous_until.map(When::from_ms)),
            spend_cap: key.spend_cap.map(money::usd),
            allowed_ips: key.allowed_ips.to_string(),
            archived_by: key.revoked_by.clone().unwrap_or_else(|| "someone".into()),
            archived: key.revoked_at.map(When::from_ms),
            last_used_ip: key.last_used_ip,
            name: key.name,
        }
    }
}

async fn rows(db: &Db, account_id: i64) -> Result<(Vec<KeyRow>, Vec<KeyRow>), AppError> {
    let (listed, archived) = db
        .query(move |conn| {
            Ok::<_, diesel::result::Error>((keys::list(conn, account_id)?, keys::archived(conn, account_id)?))
        })
        .await?;
    Ok((listed.into_iter().map(KeyRow::from).collect(), archived.into_iter().map(KeyRow::from).collect()))
}

async fn render<P>(
    auth: &Authorized<P>,
    db: &Db,
    form: CreateValues,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let session = &auth.signed_in.session;
    let waiting = session.get::<NewKey>(NEW_KEY).ok().flatten().filter(|k| k.account_id == auth.account.id);
    if waiting.is_some() {
        session.remove(NEW_KEY);
    }
    let new_key = waiting.map(|k| (k.name, k.secret, k.rotated));
    let (keys, archived) = rows(db, auth.account.id).await?;
    let page = KeysPage {
        layout: Layout::for_account(auth, "API keys", "/keys"),
        base: auth.base_path(),
        team: auth.account.name.clone(),
        csrf: session::csrf_token(&auth.signed_in.session),
        can_manage: auth.role.allows(Permission::ManageKeys) && !auth.account.is_archived(),
        keys,
        archived,
        new_key,
        form,
        error,
    };
    page_with_status(status, &page)
}

pub async fn show(auth: Authorized<need::ViewKeys>, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    render(&auth, &db, CreateValues::default(), None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct CreateForm {
    name: String,
    scope: String,
    #[serde(default)]
    expires: String,
    #[serde(default)]
    expires_on: String,
    #[serde(default)]
    spend_cap: String,
    #[serde(default)]
    allowed_ips: String,
}

/// The largest monthly cap a key takes: $1,000,000.
const MAX_CAP: i64 = 1_000_000_000_000;

impl CreateValues {
    fn parse(&self) -> Result<(TeamName, KeyScope, KeyTerms), String> {
        let name = TeamName::parse(&self.name).map_err(|e| e.to_string())?;
        let scope = self.scope.parse::<KeyScope>()?;
        let expiry = if self.expires == "date" { &self.expires_on } else { &self.expires };
        let expires_at = Expiry::parse(expiry)?.at(now_ms())?;
        let spend_cap = match self.spend_cap.trim() {
            "" => None,
            cap => Some(parse_usd(cap, 10_000, MAX_CAP).map_err(|e| format!("Spend cap: {e}"))?),
        };
        let allowed_ips = Allowlist::parse(&self.allowed_ips)?;
        Ok((name, scope, KeyTerms { expires_at, allowed_ips, spend_cap }))
    }
}

#[tracing::instrument(name = "create key", skip_all, fields(account_id = auth.account.id))]
pub async fn create(
    auth: Authorized<need::ManageKeys>,
    form: web::Form<CreateForm>,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let CreateForm { name, scope, expires, expires_on, spend_cap, allowed_ips } = form.into_inner();
    let values = CreateValues { name, scope, expires, expires_on, spend_cap, allowed_ips };
    let (key_name, key_scope, terms) = match values.parse() {
        Ok(parsed) => parsed,
        Err(message) => {
            return render(&auth, &db, values, Some(message), StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let (account, actor) = (auth.account.clone(), auth.actor());
    let created = db
        .run(move |conn| Ok::<_, AppError>(keys::create(conn, &account, &actor, &key_name, key_scope, &terms)))
        .await?;
    match created {
        Ok((key, secret)) => show_once(&auth, key.account_id, key.name, secret, false),
        Err(KeyError::Db(e)) => Err(AppError::internal(e)),
        Err(KeyError::Invalid(message)) => {
            render(&auth, &db, values, Some(message), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(AppError::Forbidden(e.to_string())),
    }
}

/// Carries a new secret to the keys page, which shows it once.
fn show_once<P>(
    auth: &Authorized<P>,
    account_id: i64,
    name: String,
    secret: String,
    rotated: bool,
) -> Result<HttpResponse, AppError> {
    auth.signed_in.session.insert(NEW_KEY, NewKey { account_id, name, secret, rotated }).map_err(AppError::internal)?;
    Ok(see_other(&format!("{}/keys", auth.base_path())))
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
