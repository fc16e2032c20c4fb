//! The usage page, its CSV and the model calls on the requests page, fed through the real
//! usage API as the platform's gateways feed it.

use crate::helpers::{Browser, TestApp, location, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{Value, json};
use teamdeck::domain::Role;
use time::format_description::well_known::Rfc3339;

const SERVICE: &str = "Bearer svc-token";

/// A team "Acme" of Ada (admin) with Bob (developer) and a team key "ci".
struct Team {
    app: TestApp,
    ada: Browser,
    bob: Browser,
    slug: String,
    bob_id: i64,
    key_id: i64,
}

async fn team() -> Team {
    let app = spawn_app_with(|s| s.service_token = Some("svc-token".into())).await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let bob = app.signed_up("Bob", "bob@example.com").await;
    app.add_member(&slug, "bob@example.com", Role::Developer).await;
    let keys = format!("/a/{slug}/keys");
    let created = ada.submit(&keys, &keys, &[("name", "ci"), ("scope", "API")]).await;
    assert_eq!(location(&created), keys);
    let (bob_id, key_id) = (app.user_id("bob@example.com").await, app.key_id(&slug, "ci").await);
    Team { app, ada, bob, slug, bob_id, key_id }
}

/// A minute ago, when every event of these tests happened.
fn a_minute_ago() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc() - time::Duration::minutes(1)
}

/// The period from the events' day to today, as the page's query string.
fn period_query() -> String {
    let day = |t: time::OffsetDateTime| t.date().to_string();
    format!("from={}&to={}", day(a_minute_ago()), day(time::OffsetDateTime::now_utc()))
}

impl Team {
    /// Reports one usage event (`who` is `("user", id)` or `("key", id)`) and checks it is kept.
    async fn report(&self, id: &str, who: (&str, i64), product: &str, quantity: i64, unit_price: i64) {
        let mut event = json!({
            "id": id, "account": self.slug, "product": product, "quantity": quantity,
            "unit": "tokens", "unit_price": unit_price, "at": a_minute_ago().format(&Rfc3339).unwrap(),
        });
        event[who.0] = Value::String(who.1.to_string());
        let response = reqwest::Client::new()
            .post(format!("{}/api/v1/usage/events", self.app.address))
            .header("Authorization", SERVICE)
            .json(&json!({ "events": [event] }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let report: Value = response.json().await.unwrap();
        assert_eq!(report["accepted"], 1, "{report}");
    }

    /// Bob spends $3.00 on gpt-large; the key ci $1.50 on gpt-large and $2.00 on embed-small.
    async fn some_usage(&self) {
        self.report("e1", ("user", self.bob_id), "gpt-large", 1_000_000, 3).await;
        self.report("e2", ("key", self.key_id), "gpt-large", 500_000, 3).await;
        self.report("e3", ("key", self.key_id), "embed-small", 2_000_000, 1).await;
    }
}

/// The part of `page` from `heading` on.
fn from_heading<'a>(page: &'a str, heading: &str) -> &'a str {
    &page[page.find(heading).unwrap_or_else(|| panic!("no {heading:?} in {page}"))..]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_splits_spend_by_member_and_team_key_and_the_tables_add_it_up() {
    let t = team().await;
    t.some_usage().await;

    let page = t.ada.page(&format!("/a/{}/usage?{}", t.slug, period_query()), StatusCode::OK).await;

    let chart = from_heading(&page, "Daily spend, last 30 days");
    assert!(chart.contains("<svg class=\"chart\"") && chart.contains("role=\"img\""), "{chart}");
    assert!(chart.contains("<desc id=\"chart-desc\">") && chart.contains("$6.50 in total"), "{chart}");
    assert!(chart.contains("series-1\" aria-hidden=\"true\"></span>team key ci <span class=\"legend__amount\">$3.50"));
    assert!(chart.contains("series-2\" aria-hidden=\"true\"></span>Bob <span class=\"legend__amount\">$3.00"));
    assert!(chart.contains("<rect class=\"chart__bar series-1\""), "a bar segment for the key");
    assert!(chart.contains(" · team key ci: $3.50</title>"), "a tooltip for the key's segment");
    assert!(chart.contains(" · Bob: $3.00</title>"), "a tooltip for Bob's segment");
    assert!(!chart.contains(">Others<"), "two spenders need no Others");

    let tables = from_heading(&page, "id=\"period-heading\"");
    assert!(tables.contains("Total <strong>$6.50</strong>"), "{tables}");
    assert!(tables.contains(
        "<th scope=\"row\">gpt-large</th><td>tokens</td><td class=\"num\">1,500,000</td><td class=\"num\">$4.50</td>"
    ));
    assert!(tables.contains(
        "<th scope=\"row\">embed-small</th><td>tokens</td><td class=\"num\">2,000,000</td><td class=\"num\">$2.00</td>"
    ));
    assert!(tables.contains("<th scope=\"row\">team key ci</th><td class=\"num\">2</td><td class=\"num\">$3.50</td>"));
    assert!(tables.contains("<th scope=\"row\">Bob</th><td class=\"num\">1</td><td class=\"num\">$3.00</td>"));
    let csv_link = format!("href=\"/a/{}/usage.csv?{}\"", t.slug, period_query());
    assert!(page.replace("&#38;", "&").contains(&csv_link), "a CSV of the same period: {page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csv_neutralises_formulas_and_adds_up_to_the_page_total() {
    let t = team().await;
    t.some_usage().await;
    t.report("e4", ("user", t.bob_id), "=HYPERLINK(\"http://evil\")", 10_000, 100).await;
    let page = t.ada.page(&format!("/a/{}/usage?{}", t.slug, period_query()), StatusCode::OK).await;
    assert!(page.contains("Total <strong>$7.50</strong>"), "{page}");

    let response = t.ada.get(&format!("/a/{}/usage.csv?{}", t.slug, period_query())).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    let today = time::OffsetDateTime::now_utc().date();
    let from = a_minute_ago().date();
    assert_eq!(
        response.headers()["content-disposition"],
        format!("attachment; filename=\"usage-{}-{from}-{today}.csv\"", t.slug).as_str()
    );
    let body = response.text().await.unwrap();
    let mut csv = csv::Reader::from_reader(body.as_bytes());
    assert_eq!(csv.headers().unwrap(), vec!["date", "who", "product", "unit", "quantity", "cost_usd"]);
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 4, "one row per day, member/key and product: {body}");
    let evil = rows.iter().find(|r| r[2].contains("HYPERLINK")).expect("the product's row");
    assert_eq!(&evil[2], "'=HYPERLINK(\"http://evil\")");
    assert_eq!((&evil[1], &evil[4], &evil[5]), ("Bob", "10000", "1.00"));
    assert!(rows.iter().any(|r| &r[1] == "team key ci" && &r[2] == "embed-small" && &r[5] == "2.00"), "{body}");
    let cents: i64 = rows.iter().map(|r| r[5].replace('.', "").parse::<i64>().unwrap()).sum();
    assert_eq!(cents, 750, "the CSV adds up to the page's $7.50");
    assert!(rows.iter().flat_map(|r| r.iter()).all(|cell| !cell.starts_with(['=', '+', '-', '@'])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_period_is_shown_again_with_what_was_typed() {
    let t = team().await;
    let usage = format!("/a/{}/usage", t.slug);
    let empty = t.ada.page(&usage, StatusCode::OK).await;
    assert!(empty.contains("No usage in the last 30 days."), "{empty}");

    let page = t.ada.page(&format!("{usage}?from=2026-13-45&to=2026-11-27"), StatusCode::BAD_REQUEST).await;

    assert!(page.contains("“2026-13-45” is not a start date: write it as YYYY-MM-DD"), "{page}");
    assert!(page.contains("id=\"from\" name=\"from\" type=\"text\" value=\"2026-13-45\""), "the typed value is kept");
    assert!(page.contains("aria-invalid=\"true\"") && page.contains("aria-describedby=\"period-help from-error\""));
    assert!(page.contains("No usage in the last 30 days."), "the rest of the page is still there");
    let reversed = t.ada.page(&format!("{usage}?from=2026-11-20&to=2026-11-05"), StatusCode::BAD_REQUEST).await;
    assert!(reversed.contains("The start, 2026-11-20, is after the end, 2026-11-05"), "{reversed}");
    let long = t.ada.page(&format!("{usage}?from=2024-01-01&to=2026-11-05"), StatusCode::BAD_REQUEST).await;
    assert!(long.contains("A period covers at most 366 days"), "{long}");
    let csv = t.ada.get(&format!("{usage}.csv?from=yesterday")).await;
    assert_eq!(csv.status(), StatusCode::BAD_REQUEST);
    assert!(csv.text().await.unwrap().contains("“yesterday” is not a start date"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_requests_page_lists_model_calls_with_their_cost_for_admins_only() {
    let t = team().await;
    t.some_usage().await;
    let requests = format!("/a/{}/requests", t.slug);

    let admin_view = t.ada.page(&requests, StatusCode::OK).await;

    let calls = from_heading(&admin_view, "id=\"calls-heading\"");
    assert!(calls.contains("<th scope=\"col\" class=\"num\">Cost</th>"), "{calls}");
    assert!(calls.contains("<td>team key ci</td>") && calls.contains("<td>embed-small</td>"), "{calls}");
    assert!(calls.contains("<td>Bob</td>") && calls.contains("<td class=\"num\">1,000,000 tokens</td>"));
    assert!(calls.contains("<td class=\"num\">$3.00</td>") && calls.contains("<td class=\"num\">$2.00</td>"));
    assert!(calls.contains("<time class=\"js-localtime\" datetime=\""), "times as on the rest of the page");
    assert_eq!(calls.matches("<tr>").count(), 3 + 1, "three calls and the header row: {calls}");

    let developer_view = t.bob.page(&requests, StatusCode::OK).await;

    let calls = from_heading(&developer_view, "id=\"calls-heading\"");
    assert!(calls.contains("<td>team key ci</td>") && calls.contains("<td>Bob</td>"), "{calls}");
    assert!(!calls.contains(">Cost<") && !calls.contains('$'), "a developer sees no spend: {calls}");
    t.bob.page(&format!("/a/{}/usage", t.slug), StatusCode::FORBIDDEN).await;
}
