//! The apps pages (`/a/{slug}/apps`): every member sees the team's apps, their status,
//! revisions and the runtime's reports; admins and developers roll back and delete. While a
//! revision is under way the status part refreshes itself with htmx every few seconds, and
//! stops once it is running or failed.

use super::error::AppError;
use super::extract::{Authorized, need};
use super::layout::Layout;
use super::render::{page_with_status, see_other};
use crate::auth::session::{self, Flash};
use crate::db::Db;
use crate::domain::{AppStatus, Permission, When};
use crate::service::apps::runtime::{self, ReportRow};
use crate::service::apps::{self, AppListing, AppSignal, Revision};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

/// How often a page with a deploy under way asks for its status, in seconds.
const POLL_SECONDS: u32 = 3;

pub struct AppRow {
    pub name: String,
    pub status: AppStatus,
    pub status_message: String,
    pub instances: i32,
    pub endpoint: Option<String>,
    pub revision: i32,
    pub image: String,
    pub deployed_by: String,
    pub deployed: When,
}

impl From<AppListing> for AppRow {
    fn from(l: AppListing) -> Self {
        AppRow {
            name: l.app.name,
            status: l.app.status,
            status_message: l.app.status_message,
            instances: l.app.instances,
            endpoint: l.app.endpoint,
            revision: l.revision.number,
            image: l.revision.image,
            deployed_by: l.revision.deployed_by_name,
            deployed: When::from_ms(l.revision.created_at),
        }
    }
}

/// The list of apps: the part that refreshes itself.
#[derive(Template)]
#[template(path = "apps/_list.html")]
pub struct AppsList {
    base: String,
    apps: Vec<AppRow>,
    poll: Option<u32>,
    slug: String,
}

#[derive(Template)]
#[template(path = "apps/page.html")]
struct AppsPage {
    layout: Layout,
    team: String,
    archived: bool,
    list: AppsList,
}

fn is_htmx(req: &HttpRequest) -> bool {
    req.headers().get("HX-Request").is_some_and(|v| v == "true")
}

pub async fn list(
    auth: Authorized<need::ViewTeam>,
    req: HttpRequest,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let account_id = auth.account.id;
    let listed = db.query(move |conn| apps::list(conn, account_id)).await?;
    let apps: Vec<AppRow> = listed.into_iter().map(AppRow::from).collect();
    let poll = apps.iter().any(|a| a.status.in_progress()).then_some(POLL_SECONDS);
    let list = AppsList { base: auth.base_path(), apps, poll, slug: auth.account.slug.clone() };
    if is_htmx(&req) {
        return page_with_status(StatusCode::OK, &list);
    }
    let page = AppsPage {
        layout: Layout::for_account(&auth, "Apps", "/apps"),
        team: auth.account.name.clone(),
        archived: auth.account.is_archived(),
        list,
    };
    page_with_status(StatusCode::OK, &page)
}

pub struct RevisionRow {
    pub number: i32,
    pub image: String,
    pub status: AppStatus,
    pub status_message: String,
    pub deployed_by: String,
    pub deployed: When,
    pub rollback_of: Option<i32>,
    /// What changed from the revision before it.
    pub diff: Vec<String>,
    pub current: bool,
}

pub struct ReportLine {
    pub revision: i32,
    pub status: AppStatus,
    pub message: String,
    pub instances: i32,
    pub at: When,
    pub applied: bool,
}

impl From<ReportRow> for ReportLine {
    fn from(r: ReportRow) -> Self {
        ReportLine {
            revision: r.revision,
            status: r.status,
            message: r.message,
            instances: r.instances,
            at: When::from_ms(r.received_at),
            applied: r.applied,
        }
    }
}

/// An app's status, revisions and reports: the part that refreshes itself.
#[derive(Template)]
#[template(path = "apps/_detail.html")]
pub struct AppDetail {
    base: String,
    csrf: String,
    can_manage: bool,
    app: AppRow,
    revisions: Vec<RevisionRow>,
    reports: Vec<ReportLine>,
    poll: Option<u32>,
}

#[derive(Template)]
#[template(path = "apps/app.html")]
struct AppPage {
    layout: Layout,
    detail: AppDetail,
}

fn revision_rows(revisions: Vec<Revision>, current: i32) -> Vec<RevisionRow> {
    // Newest first: each revision's diff is against the one after it in the list.
    let configs: Vec<_> = revisions.iter().map(Revision::config).collect();
    revisions
        .into_iter()
        .enumerate()
        .map(|(i, r)| RevisionRow {
            diff: configs.get(i + 1).map(|before| configs[i].diff(before)).unwrap_or_default(),
            number: r.number,
            current: r.number == current,
            image: r.image,
            status: r.status,
            status_message: r.status_message,
            deployed_by: r.deployed_by_name,
            deployed: When::from_ms(r.created_at),
            rollback_of: r.rollback_of,
        })
        .collect()
}

pub async fn show(
    auth: Authorized<need::ViewTeam>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let (account_id, name) = (auth.account.id, path.into_inner().1);
    let found = db
        .query(move |conn| {
            let Some(listing) = apps::find(conn, account_id, &name)? else { return Ok(None) };
            let revisions = apps::revisions(conn, listing.app.id)?;
            let reports = runtime::history(conn, listing.app.id, 50)?;
            Ok(Some((listing, revisions, reports)))
        })
        .await?;
    let (listing, revisions, reports) = found.ok_or(AppError::NotFound)?;
    let current = listing.app.current_revision;
    let app = AppRow::from(listing);
    let detail = AppDetail {
        base: auth.base_path(),
        csrf: session::csrf_token(&auth.signed_in.session),
        can_manage: auth.role.allows(Permission::ManageApps) && !auth.account.is_archived(),
        poll: app.status.in_progress().then_some(POLL_SECONDS),
        revisions: revision_rows(revisions, current),
        reports: reports.into_iter().map(ReportLine::from).collect(),
        app,
    };
    if is_htmx(&req) {
        return page_with_status(StatusCode::OK, &detail);
    }
    let page = AppPage { layout: Layout::for_account(&auth, detail.app.name.clone(), "/apps"), detail };
    page_with_status(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct RollbackForm {
    revision: i32,
}

#[tracing::instrument(name = "roll back app", skip_all, fields(account_id = auth.account.id))]
pub async fn rollback(
    auth: Authorized<need::ManageApps>,
    path: web::Path<(String, String)>,
    form: web::Form<RollbackForm>,
    db: web::Data<Db>,
    signal: web::Data<AppSignal>,
) -> Result<HttpResponse, AppError> {
    let (account_id, actor, name) = (auth.account.id, auth.actor(), path.into_inner().1);
    let (to, app_name) = (form.revision, name.clone());
    let outcome =
        db.run(move |conn| Ok::<_, AppError>(apps::rollback(conn, account_id, &actor, &app_name, to))).await?;
    let page = format!("{}/apps/{name}", auth.base_path());
    match outcome {
        Ok(deployed) => {
            signal.changed();
            let message = format!(
                "Rolled back {name}: revision {} deploys the configuration of revision {to}.",
                deployed.revision.number
            );
            session::push_flash(&auth.signed_in.session, Flash::success(message));
            Ok(see_other(&page))
        }
        Err(apps::AppError::Db(e)) => Err(AppError::internal(e)),
        Err(apps::AppError::NotFound | apps::AppError::NoSuchRevision) => Err(AppError::NotFound),
        Err(e) => Err(AppError::Forbidden(e.to_string())),
    }
}

#[derive(Template)]
#[template(path = "apps/delete.html")]
struct DeletePage {
    layout: Layout,
    base: String,
    csrf: String,
    name: String,
}

pub async fn confirm_delete(
    auth: Authorized<need::ManageApps>,
    path: web::Path<(String, String)>,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let (account_id, name) = (auth.account.id, path.into_inner().1);
    let found = db.query(move |conn| apps::find(conn, account_id, &name)).await?.ok_or(AppError::NotFound)?;
    let page = DeletePage {
        layout: Layout::for_account(&auth, format!("Delete {}", found.app.name), "/apps"),
        base: auth.base_path(),
        csrf: session::csrf_token(&auth.signed_in.session),
        name: found.app.name,
    };
    page_with_status(StatusCode::OK, &page)
}

pub async fn delete(
    auth: Authorized<need::ManageApps>,
    path: web::Path<(String, String)>,
    db: web::Data<Db>,
    signal: web::Data<AppSignal>,
) -> Result<HttpResponse, AppError> {
    let (account_id, actor, name) = (auth.account.id, auth.actor(), path.into_inner().1);
    let gone = name.clone();
    let deleted = db.run(move |conn| Ok::<_, AppError>(apps::delete(conn, account_id, &actor, &gone))).await?;
    let list = format!("{}/apps", auth.base_path());
    match deleted {
        Ok(()) => {
            signal.changed();
            session::push_flash(
                &auth.signed_in.session,
                Flash::success(format!("App {name} deleted: the runtime stops it.")),
            );
            Ok(see_other(&list))
        }
        Err(e @ apps::AppError::NotFound) => {
            session::push_flash(&auth.signed_in.session, Flash::info(e.to_string()));
            Ok(see_other(&list))
        }
        Err(apps::AppError::Db(e)) => Err(AppError::internal(e)),
        Err(e) => Err(AppError::Forbidden(e.to_string())),
    }
}
