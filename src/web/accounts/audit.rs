//! The audit log (`/a/{slug}/audit`, admins): who did what, newest first, 100 a page.

use crate::db::Db;
use crate::domain::When;
use crate::service::audit;
use crate::web::error::AppError;
use crate::web::extract::{Authorized, need};
use crate::web::layout::Layout;
use crate::web::render::page_with_status;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

const PAGE: i64 = 100;

pub struct EventRow {
    pub when: When,
    pub actor: String,
    pub what: &'static str,
    pub subject: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "accounts/audit.html")]
struct AuditPage {
    layout: Layout,
    events: Vec<EventRow>,
    next_page: Option<String>,
}

#[derive(Deserialize)]
pub struct AuditQuery {
    before: Option<i64>,
    before_id: Option<i64>,
}

pub async fn show(
    auth: Authorized<need::ViewAdmin>,
    query: web::Query<AuditQuery>,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let before = query.before.zip(query.before_id);
    let account_id = auth.account.id;
    let events = db.query(move |conn| audit::page(conn, account_id, before, PAGE)).await?;
    let next_page = (events.len() as i64 == PAGE)
        .then(|| {
            events.last().map(|e| format!("{}/audit?before={}&before_id={}", auth.base_path(), e.created_at, e.id))
        })
        .flatten();
    let page = AuditPage {
        layout: Layout::for_account(&auth, "Audit log", "/audit"),
        events: events
            .into_iter()
            .map(|e| EventRow {
                when: When::from_ms(e.created_at),
                what: e.action.describe(),
                actor: e.actor_name,
                subject: e.subject,
                detail: e.detail,
            })
            .collect(),
        next_page,
    };
    page_with_status(StatusCode::OK, &page)
}
