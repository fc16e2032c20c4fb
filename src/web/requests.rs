//! The requests page (`/a/{slug}/requests`, every member): the team's API requests newest
//! first, each with who made it (a member, or "team key `<name>`"), filterable by member or
//! key, with per-member and per-key counts for the last 24 hours and 7 days; and below them
//! the latest model calls the platform's gateways reported, with their cost for the roles
//! that may see spend.

use super::error::AppError;
use super::extract::{Authorized, need};
use super::layout::Layout;
use super::render::page_with_status;
use super::usage::thousands;
use crate::db::Db;
use crate::domain::When;
use crate::domain::money::usd;
use crate::domain::{Permission, now_ms};
use crate::service::requests::{self, By};
use crate::service::usage::{self, Names};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

const PAGE: i64 = 100;
const CALLS: i64 = 50;
const DAY_MS: i64 = 24 * 3600 * 1000;

pub struct Row {
    pub when: When,
    pub method: String,
    pub path: String,
    pub status: i32,
    pub duration_ms: i32,
    pub by: String,
}

/// A model call: its cost only for members who may see spend.
pub struct CallRow {
    pub when: When,
    pub who: String,
    pub product: String,
    pub quantity: String,
    pub unit: String,
    pub cost: Option<String>,
}

pub struct Count {
    pub name: String,
    pub filter: String,
    pub day: i64,
    pub week: i64,
}

#[derive(Template)]
#[template(path = "requests/page.html")]
struct RequestsPage {
    layout: Layout,
    base: String,
    rows: Vec<Row>,
    counts: Vec<Count>,
    filtered_by: Option<String>,
    calls: Vec<CallRow>,
    show_cost: bool,
}

#[derive(Deserialize)]
pub struct Filter {
    member: Option<i64>,
    key: Option<i64>,
}

pub async fn show(
    auth: Authorized<need::ViewTeam>,
    filter: web::Query<Filter>,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let by = match (filter.member, filter.key) {
        (Some(id), _) => Some(By::Member(id)),
        (None, Some(id)) => Some(By::Key(id)),
        _ => None,
    };
    let account_id = auth.account.id;
    let now = now_ms();
    let (rows, day, week, calls, names) = db
        .query(move |conn| {
            let calls = usage::recent_calls(conn, account_id, CALLS)?;
            let names = Names::load(conn, calls.iter().map(|c| c.who))?;
            Ok((
                requests::recent(conn, account_id, by, None, PAGE)?,
                requests::counts_since(conn, account_id, now - DAY_MS)?,
                requests::counts_since(conn, account_id, now - 7 * DAY_MS)?,
                calls,
                names,
            ))
        })
        .await?;
    let show_cost = auth.role.allows(Permission::ViewBilling);
    let base = auth.base_path();
    let counts = week
        .iter()
        .map(|(who, name, n)| Count {
            name: name.clone(),
            filter: match who {
                By::Member(id) => format!("{base}/requests?member={id}"),
                By::Key(id) => format!("{base}/requests?key={id}"),
            },
            day: day.iter().find(|(w, _, _)| w == who).map(|(_, _, n)| *n).unwrap_or(0),
            week: *n,
        })
        .collect();
    let filtered_by = by.map(|b| {
        week.iter()
            .find(|(w, _, _)| *w == b)
            .map(|(_, n, _)| n.clone())
            .unwrap_or_else(|| "someone with no recent requests".into())
    });
    let page = RequestsPage {
        layout: Layout::for_account(&auth, "Requests", "/requests"),
        base,
        rows: rows
            .into_iter()
            .map(|r| Row {
                when: When::from_ms(r.created_at),
                by: r.by(),
                method: r.method,
                path: r.path,
                status: r.status,
                duration_ms: r.duration_ms,
            })
            .collect(),
        counts,
        filtered_by,
        calls: calls
            .into_iter()
            .map(|c| CallRow {
                when: When::from_ms(c.at),
                who: names.of(c.who),
                quantity: thousands(c.quantity),
                cost: show_cost.then(|| usd(c.amount)),
                product: c.product,
                unit: c.unit,
            })
            .collect(),
        show_cost,
    };
    page_with_status(StatusCode::OK, &page)
}
