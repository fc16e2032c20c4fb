//! The usage page (`/a/{slug}/usage`, admins and billing): daily spend of the last 30 days
//! as a server-rendered SVG chart split by member and team key, a table by product and by
//! member/key for a chosen period, and its CSV export.
//!
//! The period is two UTC dates typed as YYYY-MM-DD, both included ([`period`]); a wrong one
//! is shown again on the form with what was typed. The CSV is written by
//! [`CsvExport`](super::csv_export), so a spreadsheet never runs a product or key name as a
//! formula.

mod chart;
mod period;

use super::csv_export::{Cell, CsvExport};
use super::error::AppError;
use super::extract::{Authorized, need};
use super::layout::Layout;
use super::render::page_with_status;
use crate::db::Db;
use crate::domain::money::{self, decimal, usd};
use crate::domain::now_ms;
use crate::service::usage::{self, Breakdown, DailyProduct, Names, Who};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chart::Chart;
use period::{Period, date_of, day_number, iso};
use serde::Deserialize;
use std::collections::HashMap;

/// 1234567 → "1,234,567": quantities and counts as tables show them.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::from(if n < 0 { "-" } else { "" });
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub struct ProductRow {
    pub product: String,
    pub unit: String,
    pub quantity: String,
    pub cost: String,
}

pub struct WhoRow {
    pub who: String,
    pub events: String,
    pub cost: String,
}

/// The tables of a valid period.
pub struct Tables {
    pub label: String,
    pub products: Vec<ProductRow>,
    pub people: Vec<WhoRow>,
    pub events: String,
    pub total: String,
}

/// The period form as typed, with its errors.
pub struct PeriodForm {
    pub from: String,
    pub to: String,
    /// `date`, or `text` to keep showing a value that is not a date (a date input drops it).
    pub from_kind: &'static str,
    pub to_kind: &'static str,
    pub from_error: Option<String>,
    pub to_error: Option<String>,
}

pub struct QuickLink {
    pub label: &'static str,
    pub href: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "usage/page.html")]
struct UsagePage {
    layout: Layout,
    base: String,
    team: String,
    chart: Option<Chart>,
    form: PeriodForm,
    quick: Vec<QuickLink>,
    tables: Option<Tables>,
    csv_href: Option<String>,
}

#[derive(Deserialize)]
pub struct PeriodQuery {
    from: Option<String>,
    to: Option<String>,
}

impl PeriodQuery {
    fn period(&self, today: time::Date) -> Result<Period, period::PeriodError> {
        Period::parse(self.from.as_deref(), self.to.as_deref(), today)
    }
}

fn today() -> time::Date {
    period::date_of_ms(now_ms())
}

/// The product table and the member/key table of a period, largest cost first.
fn tables(period: Period, rows: &[Breakdown], names: &Names) -> Tables {
    let mut products: HashMap<(&str, &str), (i64, i64)> = HashMap::new();
    let mut people: HashMap<Who, (i64, i64)> = HashMap::new();
    for r in rows {
        let p = products.entry((&r.product, &r.unit)).or_default();
        p.0 = p.0.saturating_add(r.quantity);
        p.1 = p.1.saturating_add(r.amount);
        let w = people.entry(r.who).or_default();
        w.0 = w.0.saturating_add(r.events);
        w.1 = w.1.saturating_add(r.amount);
    }
    let mut products: Vec<_> = products.into_iter().collect();
    products.sort_by(|(a, (_, a_cost)), (b, (_, b_cost))| b_cost.cmp(a_cost).then_with(|| a.cmp(b)));
    let mut people: Vec<(String, i64, i64)> =
        people.into_iter().map(|(who, (events, amount))| (names.of(who), events, amount)).collect();
    people.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    Tables {
        label: period.label(),
        events: thousands(money::sum(rows.iter().map(|r| r.events))),
        total: usd(money::sum(rows.iter().map(|r| r.amount))),
        products: products
            .into_iter()
            .map(|((product, unit), (quantity, amount))| ProductRow {
                product: product.to_owned(),
                unit: unit.to_owned(),
                quantity: thousands(quantity),
                cost: usd(amount),
            })
            .collect(),
        people: people
            .into_iter()
            .map(|(who, events, amount)| WhoRow { who, events: thousands(events), cost: usd(amount) })
            .collect(),
    }
}

fn quick_links(base: &str, today: time::Date, chosen: Option<Period>) -> Vec<QuickLink> {
    [
        ("This month", Period::this_month(today)),
        ("Last month", Period::last_month(today)),
        ("Last 30 days", Period::last_days(today, chart::DAYS)),
    ]
    .into_iter()
    .map(|(label, p)| QuickLink { label, href: format!("{base}/usage?{}", p.query()), current: chosen == Some(p) })
    .collect()
}

fn form(query: &PeriodQuery, parsed: &Result<Period, period::PeriodError>) -> PeriodForm {
    let kind = |typed: &Option<String>| match typed.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() && period::parse_date(t).is_none() => "text",
        _ => "date",
    };
    match parsed {
        Ok(p) => PeriodForm {
            from: iso(p.from),
            to: iso(p.to),
            from_kind: "date",
            to_kind: "date",
            from_error: None,
            to_error: None,
        },
        Err(e) => PeriodForm {
            from: query.from.clone().unwrap_or_default(),
            to: query.to.clone().unwrap_or_default(),
            from_kind: kind(&query.from),
            to_kind: kind(&query.to),
            from_error: e.from.clone(),
            to_error: e.to.clone(),
        },
    }
}

#[tracing::instrument(name = "usage page", skip_all, fields(account_id = auth.account.id))]
pub async fn show(
    auth: Authorized<need::ViewBilling>,
    query: web::Query<PeriodQuery>,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let today = today();
    let parsed = query.period(today);
    let first_day = day_number(today) - (chart::DAYS - 1);
    let chart_range = (usage::day_ms(first_day), usage::day_ms(first_day + chart::DAYS));
    let range = parsed.as_ref().ok().map(|p| (p.start_ms(), p.end_ms()));
    let account_id = auth.account.id;
    let (spend, breakdown, names) = db
        .query(move |conn| {
            let spend = usage::daily(conn, account_id, chart_range.0, chart_range.1)?;
            let breakdown = match range {
                Some((from, to)) => usage::breakdown(conn, account_id, from, to)?,
                None => Vec::new(),
            };
            let names = Names::load(conn, spend.iter().map(|s| s.who).chain(breakdown.iter().map(|b| b.who)))?;
            Ok((spend, breakdown, names))
        })
        .await?;
    let base = auth.base_path();
    let chosen = parsed.as_ref().ok().copied();
    let page = UsagePage {
        layout: Layout::for_account(&auth, "Usage", "/usage"),
        team: auth.account.name.clone(),
        chart: chart::build(&spend, &names, first_day),
        form: form(&query, &parsed),
        quick: quick_links(&base, today, chosen),
        tables: chosen.map(|p| tables(p, &breakdown, &names)),
        csv_href: chosen.map(|p| format!("{base}/usage.csv?{}", p.query())),
        base,
    };
    let status = if parsed.is_ok() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    page_with_status(status, &page)
}

/// `date,who,product,unit,quantity,cost_usd`, one row per day, member/key and product.
fn csv_body(rows: &[DailyProduct], names: &Names) -> CsvExport {
    let mut named: Vec<(String, &DailyProduct)> = rows.iter().map(|r| (names.of(r.who), r)).collect();
    named.sort_by(|(a_name, a), (b_name, b)| {
        (a.day, a_name, &a.product, &a.unit).cmp(&(b.day, b_name, &b.product, &b.unit))
    });
    let mut out = CsvExport::new(&["date", "who", "product", "unit", "quantity", "cost_usd"]);
    for (name, r) in named {
        out.row([
            Cell::Text(&iso(date_of(r.day))),
            Cell::Text(&name),
            Cell::Text(&r.product),
            Cell::Text(&r.unit),
            Cell::Number(r.quantity.to_string()),
            Cell::Number(decimal(r.amount)),
        ]);
    }
    out
}

#[tracing::instrument(name = "usage csv", skip_all, fields(account_id = auth.account.id))]
pub async fn export(
    auth: Authorized<need::ViewBilling>,
    query: web::Query<PeriodQuery>,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let period = query.period(today()).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let account_id = auth.account.id;
    let (rows, names) = db
        .query(move |conn| {
            let rows = usage::daily_by_product(conn, account_id, period.start_ms(), period.end_ms())?;
            let names = Names::load(conn, rows.iter().map(|r| r.who))?;
            Ok((rows, names))
        })
        .await?;
    let filename = format!("usage-{}-{}-{}.csv", auth.account.slug, iso(period.from), iso(period.to));
    Ok(csv_body(&rows, &names).download(&filename))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(-1_000), "-1,000");
    }

    #[test]
    fn csv_text_cells_cannot_start_a_formula() {
        let rows = [DailyProduct {
            day: 20_000,
            who: Who::Key(1),
            product: "=HYPERLINK(\"http://evil\")".into(),
            unit: "tokens".into(),
            quantity: 1_000,
            amount: 3_000_000,
        }];
        let body = String::from_utf8(csv_body(&rows, &Names::default()).into_bytes()).unwrap();
        assert_eq!(
            body,
            "date,who,product,unit,quantity,cost_usd\n\
             2024-10-04,team key (deleted),\"'=HYPERLINK(\"\"http://evil\"\")\",tokens,1000,3.00\n"
        );
    }
}
