//! The platform's control-plane API (issue #5): credential introspection with its cache,
//! idempotent usage ingestion, the credit ledger, month close, the payment webhook and spend
//! alerts. The gateway endpoints are called over HTTP with the service token; billing
//! operations an operator or a job performs are called on the services directly.

use crate::helpers::{Browser, TestApp, csrf_token, location, spawn_app, spawn_app_with};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;
use teamdeck::config::Settings;
use teamdeck::db::DbConnection;
use teamdeck::domain::money::{Month, round_to_cents};
use teamdeck::domain::now_ms;
use teamdeck::domain::{InvoiceKind, InvoiceStatus, LedgerKind, Role};
use teamdeck::service::accounts::{Account, accounts_of};
use teamdeck::service::audit::Actor;
use teamdeck::service::billing::{self, BillingError, Issuer};
use teamdeck::service::usage;

const SERVICE: &str = "Bearer svc-token";
const WEBHOOK_SECRET: &str = "whsec";

fn platform_settings(s: &mut Settings) {
    s.service_token = Some("svc-token".into());
    s.billing_webhook_secret = Some(WEBHOOK_SECRET.into());
    s.introspect_cache_seconds = 300;
}

pub(crate) async fn platform_app() -> TestApp {
    spawn_app_with(platform_settings).await
}

/// Runs `f` on a pooled connection off the async workers.
async fn with_conn<T, F>(app: &TestApp, f: F) -> T
where
    F: FnOnce(&mut DbConnection) -> T + Send + 'static,
    T: Send + 'static,
{
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = db.get().unwrap();
        f(&mut conn)
    })
    .await
    .unwrap()
}

/// The account `slug` as its member `user_id` sees it.
pub(crate) async fn account(app: &TestApp, user_id: i64, slug: &str) -> Account {
    let slug = slug.to_owned();
    with_conn(app, move |conn| {
        accounts_of(conn, user_id).unwrap().into_iter().find(|m| m.account.slug == slug).expect("a member").account
    })
    .await
}

async fn balance(app: &TestApp, account_id: i64) -> i64 {
    with_conn(app, move |conn| billing::balance(conn, account_id).unwrap()).await
}

pub(crate) async fn usage_total(app: &TestApp, account_id: i64) -> i64 {
    with_conn(app, move |conn| usage::total(conn, account_id, 0, i64::MAX).unwrap()).await
}

fn sql_str(s: &str) -> String {
    s.replace('\'', "''")
}

async fn usage_rows_of(app: &TestApp, slug: &str) -> i64 {
    app.count_rows(&format!(
        "usage_events WHERE account_id = (SELECT id FROM accounts WHERE slug = '{}')",
        sql_str(slug)
    ))
    .await
}

async fn invoice_status(app: &TestApp, number: &str) -> String {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        status: String,
    }
    let sql = format!("SELECT status FROM invoices WHERE number = '{}'", sql_str(number));
    let rows: Vec<Row> =
        app.db.query(move |conn| diesel::RunQueryDsl::load(diesel::sql_query(sql), conn)).await.unwrap();
    rows.into_iter().next().expect("the invoice").status
}

/// Creates a key on the keys page; returns its secret (shown once) and its id.
pub(crate) async fn create_key(app: &TestApp, admin: &Browser, slug: &str, name: &str, scope: &str) -> (String, i64) {
    let response =
        admin.submit(&format!("/a/{slug}/keys"), &format!("/a/{slug}/keys"), &[("name", name), ("scope", scope)]).await;
    assert_eq!(location(&response), format!("/a/{slug}/keys"));
    let page = admin.page(&format!("/a/{slug}/keys"), StatusCode::OK).await;
    let start = page.find("value=\"tdk_").expect("the new key is shown") + 7;
    let secret = page[start..].split('"').next().unwrap().to_owned();
    (secret, app.key_id(slug, name).await)
}

/// A login token of the member signed in in `browser`, through the device flow over HTTP.
pub(crate) async fn login_token(app: &TestApp, browser: &Browser) -> String {
    let client = reqwest::Client::new();
    let start: Value = client
        .post(format!("{}/api/v1/device/code", app.address))
        .json(&json!({ "device_name": "gateway test" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let device_code = start["device_code"].as_str().unwrap().to_owned();
    let user_code = start["user_code"].as_str().unwrap().to_owned();
    let confirm = browser.page(&format!("/device?code={user_code}"), StatusCode::OK).await;
    let csrf = csrf_token(&confirm).unwrap();
    let decided = browser
        .client
        .post(browser.url("/device"))
        .form(&[("csrf_token", csrf.as_str()), ("user_code", user_code.as_str()), ("decision", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(decided.status(), StatusCode::OK);
    let token: Value = client
        .post(format!("{}/api/v1/device/token", app.address))
        .json(&json!({ "device_code": device_code }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().expect("a token").to_owned();
    assert!(token.starts_with("tdt_"), "{token}");
    token
}

/// POSTs `body` as JSON with `auth` as the Authorization header (if any).
async fn post_json(app: &TestApp, path: &str, auth: Option<&str>, body: &Value) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().post(format!("{}{path}", app.address)).json(body);
    if let Some(auth) = auth {
        request = request.header("Authorization", auth);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Introspects `credential` (for `team`) with the service token; asserts a 200.
async fn introspect(app: &TestApp, credential: &str, team: Option<&str>) -> Value {
    let (status, body) =
        post_json(app, "/api/v1/introspect", Some(SERVICE), &json!({ "credential": credential, "team": team })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn assert_inactive(answer: &Value, reason: &str, what: &str) {
    assert_eq!(answer["active"], false, "{what}: {answer}");
    assert_eq!(answer["reason"], reason, "{what}: {answer}");
    assert!(answer["account"].is_null() && answer["user"].is_null() && answer["key"].is_null(), "{what}: {answer}");
    assert_eq!(answer["cache_seconds"], 0, "{what}: an inactive answer is not to be reused");
}

/// Sends a batch of usage events with the service token; asserts a 200.
pub(crate) async fn send_usage(app: &TestApp, events: &[Value]) -> Value {
    let (status, body) = post_json(app, "/api/v1/usage/events", Some(SERVICE), &json!({ "events": events })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// RFC 3339 of a millisecond time.
fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// Who an event is attributed to.
#[derive(Clone, Copy)]
pub(crate) enum By {
    Key(i64),
    User(i64),
}

/// One usage event as a gateway reports it.
pub(crate) fn event(
    id: &str,
    account: &str,
    by: By,
    product: &str,
    quantity: i64,
    unit_price: i64,
    at_ms: i64,
) -> Value {
    let mut e = json!({
        "id": id,
        "account": account,
        "product": product,
        "quantity": quantity,
        "unit": "token",
        "unit_price": unit_price,
        "at": rfc3339(at_ms),
    });
    match by {
        By::Key(k) => e["key"] = json!(k.to_string()),
        By::User(u) => e["user"] = json!(u.to_string()),
    }
    e
}

/// The cost of events as the test computes it: quantity × unit price.
fn cost(events: &[Value]) -> i64 {
    events.iter().map(|e| e["quantity"].as_i64().unwrap() * e["unit_price"].as_i64().unwrap()).sum()
}

fn sign(secret: &str, t: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// POSTs a raw webhook body with the given `Teamdeck-Signature` header (if any).
async fn webhook(app: &TestApp, body: &str, signature: Option<String>) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/api/v1/billing/webhook", app.address))
        .header("Content-Type", "application/json")
        .body(body.to_owned());
    if let Some(signature) = signature {
        request = request.header("Teamdeck-Signature", signature);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn now_secs() -> i64 {
    now_ms() / 1000
}

fn paid_event(id: &str, invoice: &str, amount: i64) -> String {
    json!({ "id": id, "type": "invoice.paid", "invoice": invoice, "amount": amount }).to_string()
}

// ---------------------------------------------------------------------------------------
// 1. Introspection
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_key_is_introspected_in_every_form_and_turns_inactive_at_once_when_revoked() {
    let app = platform_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let (secret, key_id) = create_key(&app, &ada, &slug, "prod", "API").await;
    let (admin_secret, _) = create_key(&app, &ada, &slug, "deploy", "ADMIN").await;

    let forms = [format!("Key {secret}"), format!("Bearer {secret}"), secret.clone()];
    for credential in &forms {
        let answer = introspect(&app, credential, None).await;
        assert_eq!(answer["active"], true, "{credential}: {answer}");
        assert!(answer["reason"].is_null());
        assert_eq!(answer["account"]["slug"], slug.as_str());
        assert_eq!(answer["account"]["name"], "Acme");
        assert_eq!(answer["account"]["kind"], "team");
        assert_eq!(answer["key"]["id"], key_id.to_string());
        assert_eq!(answer["key"]["name"], "prod");
        assert_eq!(answer["key"]["masked"], format!("{}…{}", &secret[..14], &secret[secret.len() - 4..]));
        assert_eq!(answer["scope"], "API");
        assert!(answer["user"].is_null(), "a key is attributed to the team, not a member");
        assert_eq!(answer["cache_seconds"], 300);
    }
    assert_eq!(introspect(&app, &format!("Key {admin_secret}"), None).await["scope"], "ADMIN");
    // Asked again: answered (from the cache) the same.
    assert_eq!(introspect(&app, &forms[0], None).await["key"]["id"], key_id.to_string());

    // Revoked on the keys page of this instance: every form of it is refused at once, in
    // spite of the 300 s cache.
    let deleted = ada.submit(&format!("/a/{slug}/keys"), &format!("/a/{slug}/keys/{key_id}/delete"), &[]).await;
    assert_eq!(location(&deleted), format!("/a/{slug}/keys"));
    for credential in &forms {
        assert_inactive(&introspect(&app, credential, None).await, "revoked", credential);
    }
    assert_eq!(introspect(&app, &format!("Key {admin_secret}"), None).await["active"], true, "the other key works");

    // Revoked through the JSON API (with the ADMIN key): the same.
    let (other_secret, other_id) = create_key(&app, &ada, &slug, "other", "API").await;
    assert_eq!(introspect(&app, &format!("Key {other_secret}"), None).await["active"], true);
    let response = reqwest::Client::new()
        .delete(format!("{}/api/v1/teams/{slug}/keys/{other_id}", app.address))
        .header("Authorization", format!("Key {admin_secret}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_inactive(&introspect(&app, &format!("Key {other_secret}"), None).await, "revoked", "revoked by API");

    // A key with a wrong secret, a garbage credential, an empty one: unknown.
    let mut wrong = secret.clone();
    wrong.pop();
    wrong.push(if secret.ends_with('A') { 'B' } else { 'A' });
    for credential in [
        format!("Key {wrong}"),
        "Key tdk_abcdefghij_0123456789012345678901234567890123456".to_owned(),
        "Bearer tdt_nonsense".to_owned(),
        "garbage".to_owned(),
        "Basic dXNlcjpwYXNz".to_owned(),
        String::new(),
    ] {
        assert_inactive(&introspect(&app, &credential, None).await, "unknown", &credential);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_credentials_of_an_archived_team_turn_inactive_at_once() {
    let app = platform_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Beta").await;
    let (secret, _) = create_key(&app, &ada, &slug, "prod", "ADMIN").await;
    let token = login_token(&app, &ada).await;
    let key = format!("Key {secret}");
    let bearer = format!("Bearer {token}");
    assert_eq!(introspect(&app, &key, None).await["active"], true, "cached before the archive");
    let as_member = introspect(&app, &bearer, Some(&slug)).await;
    assert_eq!((as_member["active"].clone(), as_member["user"]["role"].clone()), (json!(true), json!("admin")));

    let archived = ada
        .submit(&format!("/a/{slug}/settings"), &format!("/a/{slug}/settings/archive"), &[("confirm_name", "Beta")])
        .await;
    assert_eq!(archived.status(), StatusCode::SEE_OTHER);

    assert_inactive(&introspect(&app, &key, None).await, "archived", "the team's key");
    assert_inactive(&introspect(&app, &bearer, Some(&slug)).await, "archived", "a member's token for the team");
    let personal = introspect(&app, &bearer, None).await;
    assert_eq!(personal["active"], true, "the token still works for Ada's own account: {personal}");
    assert_eq!(personal["account"]["kind"], "personal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_token_is_introspected_for_a_team_and_stops_at_once_on_role_change_removal_and_revocation() {
    let app = platform_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let bob = app.signed_up("Bob", "bob@example.com").await;
    app.add_member(&slug, "bob@example.com", Role::Developer).await;
    let bob_id = app.user_id("bob@example.com").await;
    let token = login_token(&app, &bob).await;

    for credential in [format!("Bearer {token}"), format!("Key {token}"), token.clone()] {
        let answer = introspect(&app, &credential, Some(&slug)).await;
        assert_eq!(answer["active"], true, "{answer}");
        assert_eq!(answer["account"]["slug"], slug.as_str());
        assert_eq!(answer["account"]["kind"], "team");
        assert_eq!(answer["user"]["id"], bob_id.to_string());
        assert_eq!(answer["user"]["name"], "Bob");
        assert_eq!(answer["user"]["email"], "bob@example.com");
        assert_eq!(answer["user"]["role"], "developer");
        assert!(answer["key"].is_null() && answer["scope"].is_null(), "{answer}");
        assert_eq!(answer["cache_seconds"], 300);
    }
    let bearer = format!("Bearer {token}");
    let personal = introspect(&app, &bearer, None).await;
    assert_eq!(personal["account"]["kind"], "personal", "without a team: the member's own account");
    assert_eq!(personal["user"]["id"], bob_id.to_string());
    let padded = introspect(&app, &bearer, Some(&format!("  {slug} "))).await;
    assert_eq!(padded["account"]["slug"], slug.as_str(), "the team is trimmed");
    let stranger = introspect(&app, &bearer, Some("no-such-team")).await;
    assert_inactive(&stranger, "not_a_member", "a team Bob is not in");

    // A new role, on this instance: the cached answer is not used.
    let changed = ada
        .submit(&format!("/a/{slug}/members"), &format!("/a/{slug}/members/{bob_id}/role"), &[("role", "billing")])
        .await;
    assert_eq!(location(&changed), format!("/a/{slug}/members"));
    assert_eq!(introspect(&app, &bearer, Some(&slug)).await["user"]["role"], "billing");

    // Removed from the team: refused for it at once; the personal account still works.
    let removed = ada.submit(&format!("/a/{slug}/members"), &format!("/a/{slug}/members/{bob_id}/remove"), &[]).await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    assert_inactive(&introspect(&app, &bearer, Some(&slug)).await, "not_a_member", "removed member");
    assert_eq!(introspect(&app, &bearer, None).await["active"], true);

    // Revoked (the CLI's logout): refused everywhere at once.
    let logout = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/logout", app.address))
        .header("Authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let revoked = introspect(&app, &bearer, None).await;
    // A revoked login token is reported as `unknown` (a revoked key as `revoked`).
    assert_inactive(&revoked, "unknown", "revoked token");
}

/// Polls `introspect` until `done` holds of its answer, at most 500 ms (a change is heard within about 10 ms).
async fn within_moments(app: &TestApp, credential: &str, team: &str, what: &str, done: impl Fn(&Value) -> bool) {
    let started = std::time::Instant::now();
    loop {
        let answer = introspect(app, credential, Some(team)).await;
        if done(&answer) {
            return;
        }
        assert!(started.elapsed() < std::time::Duration::from_millis(500), "{what}: still {answer} after 500 ms");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_role_change_removal_or_revocation_made_elsewhere_stops_a_cached_login_token_within_moments() {
    let app = platform_app().await; // answers are kept for 300 s
    if app.sqlite_file.is_some() {
        return; // SQLite cannot hear another process's commit: its bound is the cache's TTL
    }
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let bob = app.signed_up("Bob", "bob@example.com").await;
    app.add_member(&slug, "bob@example.com", Role::Developer).await;
    let bob_id = app.user_id("bob@example.com").await;
    let bearer = format!("Bearer {}", login_token(&app, &bob).await);
    assert_eq!(introspect(&app, &bearer, Some(&slug)).await["user"]["role"], "developer", "now kept");

    app.outside(format!("UPDATE memberships SET role = 'billing' WHERE user_id = {bob_id}")).await;
    within_moments(&app, &bearer, &slug, "role changed elsewhere", |a| a["user"]["role"] == "billing").await;

    app.outside(format!("UPDATE users SET name = 'Robert' WHERE id = {bob_id}")).await;
    within_moments(&app, &bearer, &slug, "renamed elsewhere", |a| a["user"]["name"] == "Robert").await;

    app.outside(format!("DELETE FROM memberships WHERE user_id = {bob_id} AND account_id = (SELECT id FROM accounts WHERE slug = '{slug}')")).await;
    within_moments(&app, &bearer, &slug, "removed elsewhere", |a| a["reason"] == "not_a_member").await;

    assert_eq!(introspect(&app, &bearer, None).await["active"], true, "the personal account, now kept");
    app.outside(format!("UPDATE login_tokens SET revoked_at = 1 WHERE user_id = {bob_id}")).await;
    let started = std::time::Instant::now();
    while introspect(&app, &bearer, None).await["active"] == true {
        assert!(
            started.elapsed() < std::time::Duration::from_millis(500),
            "revoked elsewhere: still active after 500 ms"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_token_revoked_on_the_tokens_page_stops_at_once() {
    let app = platform_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let token = login_token(&app, &ada).await;
    let bearer = format!("Bearer {token}");
    assert_eq!(introspect(&app, &bearer, None).await["active"], true);
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let ids: Vec<Id> = app
        .db
        .query(|conn| diesel::RunQueryDsl::load(diesel::sql_query("SELECT id FROM login_tokens"), conn))
        .await
        .unwrap();
    assert_eq!(ids.len(), 1);

    let revoked = ada.submit("/account/tokens", &format!("/account/tokens/{}/revoke", ids[0].id), &[]).await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);

    assert_inactive(&introspect(&app, &bearer, None).await, "unknown", "revoked on the page");
}

// ---------------------------------------------------------------------------------------
// 2. Service authentication
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_endpoints_need_the_service_token_and_a_team_key_is_not_one() {
    let app = platform_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let (secret, key_id) = create_key(&app, &ada, &slug, "prod", "ADMIN").await;
    let introspection = json!({ "credential": format!("Key {secret}") });
    let batch = json!({ "events": [event("e-1", &slug, By::Key(key_id), "chat", 10, 2, now_ms())] });

    for (path, body) in [("/api/v1/introspect", &introspection), ("/api/v1/usage/events", &batch)] {
        for auth in [
            None,
            Some("Bearer wrong-token"),
            Some("Bearer svc-token-but-longer"),
            Some("svc-token"),
            Some("Key svc-token"),
            Some("Basic c3ZjLXRva2Vu"),
            Some(&format!("Bearer {secret}") as &str),
            Some(&format!("Key {secret}") as &str),
        ] {
            let (status, answer) = post_json(&app, path, auth, body).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} with {auth:?}: {answer}");
            assert_eq!(answer["code"], "unauthenticated", "{path} with {auth:?}: {answer}");
        }
    }
    assert_eq!(app.count_rows("usage_events").await, 0, "nothing recorded without the service token");

    assert_eq!(post_json(&app, "/api/v1/introspect", Some(SERVICE), &introspection).await.0, StatusCode::OK);
    assert_eq!(post_json(&app, "/api/v1/usage/events", Some(SERVICE), &batch).await.0, StatusCode::OK);
    assert_eq!(app.count_rows("usage_events").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_service_token_or_webhook_secret_the_platform_endpoints_do_not_exist() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let (secret, key_id) = create_key(&app, &ada, &slug, "prod", "API").await;

    for auth in [None, Some(SERVICE), Some("Bearer ")] {
        let (status, body) =
            post_json(&app, "/api/v1/introspect", auth, &json!({ "credential": format!("Key {secret}") })).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{auth:?}");
        let batch = json!({ "events": [event("e-1", &slug, By::Key(key_id), "chat", 10, 2, now_ms())] });
        let (status, body) = post_json(&app, "/api/v1/usage/events", auth, &batch).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{auth:?}");
    }
    let body = paid_event("evt_1", "TD-2026-000001", 1);
    let (status, _) = webhook(&app, &body, Some(sign(WEBHOOK_SECRET, now_secs(), &body))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = webhook(&app, &body, Some(sign("", now_secs(), &body))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not even with an empty secret");
    assert_eq!(app.count_rows("usage_events").await, 0);
    assert_eq!(app.count_rows("webhook_events").await, 0);

    // An empty setting turns them off too.
    let empty = spawn_app_with(|s| {
        s.service_token = Some(String::new());
        s.billing_webhook_secret = Some(String::new());
    })
    .await;
    let (status, _) = post_json(&empty, "/api/v1/introspect", Some("Bearer "), &json!({ "credential": "x" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = webhook(&empty, &body, Some(sign("", now_secs(), &body))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------------------------------
// 3–5. Usage ingestion
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_sent_twice_is_recorded_once() {
    let app = platform_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let (_, key_id) = create_key(&app, &ada, &slug, "prod", "API").await;
    let ada_id = app.user_id("ada@example.com").await;
    let account_id = account(&app, ada_id, &slug).await.id;
    let now = now_ms();
    let batch = vec![
        event("gw1-0001", &slug, By::Key(key_id), "chat-large input", 1_234, 3, now - 60_000),
        event("gw1-0002", &slug, By::Key(key_id), "chat-large output", 567, 15, now - 50_000),
        event("gw1-0003", &slug, By::User(ada_id), "embeddings", 10_000, 1, now - 40_000),
        event("gw1-0004", &slug, By::User(ada_id), "images", 2, 40_000, now),
    ];
    let expected = 1_234 * 3 + 567 * 15 + 10_000 + 2 * 40_000;
    assert_eq!(cost(&batch), expected);

    let first = send_usage(&app, &batch).await;
    assert_eq!(first, json!({ "accepted": 4, "duplicates": 0, "rejected": [] }));
    assert_eq!(usage_rows_of(&app, &slug).await, 4);
    assert_eq!(usage_total(&app, account_id).await, expected);
    assert_eq!(balance(&app, account_id).await, -expected);
    let ledger_rows = app.count_rows("ledger_entries").await;
    assert_eq!(ledger_rows, 1, "one usage debit per team and batch");

    let again = send_usage(&app, &batch).await;
    assert_eq!(again, json!({ "accepted": 0, "duplicates": 4, "rejected": [] }));
    assert_eq!(usage_rows_of(&app, &slug).await, 4);
    assert_eq!(usage_total(&app, account_id).await, expected);
    assert_eq!(balance(&app, account_id).await, -expected);
    assert_eq!(app.count_rows("ledger_entries").await, ledger_rows, "no debit for duplicates");

    // Part old, part new, and one id twice in the batch (the id is trimmed).
    let extra = event("gw1-0005", &slug, By::Key(key_id), "chat-large input", 100, 3, now);
    let mut padded_id = extra.clone();
    padded_id["id"] = json!("  gw1-0005 ");
    let mixed = send_usage(&app, &[batch[0].clone(), extra.clone(), padded_id, batch[3].clone()]).await;
    assert_eq!(mixed, json!({ "accepted": 1, "duplicates": 3, "rejected": [] }));
    assert_eq!(usage_rows_of(&app, &slug).await, 5);
    assert_eq!(usage_total(&app, account_id).await, expected + 300);
    assert_eq!(balance(&app, account_id).await, -(expected + 300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_event_is_rejected_with_its_index_and_reason_and_the_good_ones_are_kept() {
    let app = platform_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let other = ada.create_team("Other").await;
    let (_, key_id) = create_key(&app, &ada, &slug, "prod", "API").await;
    let (_, other_key) = create_key(&app, &ada, &other, "theirs", "API").await;
    let ada_id = app.user_id("ada@example.com").await;
    app.signed_up("Carol", "carol@example.com").await;
    let carol_id = app.user_id("carol@example.com").await;
    let account_id = account(&app, ada_id, &slug).await.id;
    let now = now_ms();

    let too_old = teamdeck::service::usage::oldest_accepted(now) - 1;
    let good_key = event("ok-1", &slug, By::Key(key_id), "chat", 1_000, 7, now - 1_000);
    let good_user = event("ok-2", &slug, By::User(ada_id), "chat", 333, 11, now);
    let mut both = event("bad-both", &slug, By::Key(key_id), "chat", 1, 1, now);
    both["user"] = json!(ada_id.to_string());
    let mut neither = event("bad-neither", &slug, By::Key(key_id), "chat", 1, 1, now);
    neither.as_object_mut().unwrap().remove("key");
    let mut bad_at = event("bad-at", &slug, By::Key(key_id), "chat", 1, 1, now);
    bad_at["at"] = json!("yesterday at noon");
    let mut wrong_type = event("bad-type", &slug, By::Key(key_id), "chat", 1, 1, now);
    wrong_type["quantity"] = json!("12");
    let mut missing = event("bad-missing", &slug, By::Key(key_id), "chat", 1, 1, now);
    missing.as_object_mut().unwrap().remove("unit_price");
    let mut bad_key_id = event("bad-key-id", &slug, By::Key(key_id), "chat", 1, 1, now);
    bad_key_id["key"] = json!("tdk_not_an_id");
    let batch = vec![
        good_key.clone(),                                                           // 0
        event("bad-account", "no-such-team", By::Key(key_id), "chat", 1, 1, now),   // 1
        both,                                                                       // 2
        neither,                                                                    // 3
        event("bad-negative", &slug, By::Key(key_id), "chat", -5, 1, now),          // 4
        bad_at,                                                                     // 5
        event("bad-future", &slug, By::Key(key_id), "chat", 1, 1, now + 3_600_000), // 6
        event("bad-other-key", &slug, By::Key(other_key), "chat", 1, 1, now),       // 7
        event("bad-stranger", &slug, By::User(carol_id), "chat", 1, 1, now),        // 8
        json!(42),                                                                  // 9
        wrong_type,                                                                 // 10
        good_user.clone(),                                                          // 11
        missing,                                                                    // 12
        bad_key_id,                                                                 // 13
        event("bad-price", &slug, By::Key(key_id), "chat", 1, -1, now),             // 14
        event("", &slug, By::Key(key_id), "chat", 1, 1, now),                       // 15
        // Older than the month before last: no invoice would ever carry it.
        event("bad-old", &slug, By::Key(key_id), "chat", 1, 1, too_old), // 16
        // $1,000,000.000001: over the cap of one event, so no sum can overflow.
        event("bad-costly", &slug, By::Key(key_id), "chat", 1_000_000, 1_000_001, now), // 17
    ];

    let report = send_usage(&app, &batch).await;

    assert_eq!(report["accepted"], 2, "{report}");
    assert_eq!(report["duplicates"], 0, "{report}");
    let rejected = report["rejected"].as_array().unwrap();
    let expected: [(usize, Option<&str>, &str); 16] = [
        (1, Some("bad-account"), "no account has this slug"),
        (2, Some("bad-both"), "exactly one of `key`"),
        (3, Some("bad-neither"), "exactly one of `key`"),
        (4, Some("bad-negative"), "`quantity` must be between 0"),
        (5, Some("bad-at"), "`at` must be an RFC 3339 time"),
        (6, Some("bad-future"), "`at` is in the future"),
        (7, Some("bad-other-key"), "`key` is not a key of this account"),
        (8, Some("bad-stranger"), "`user` is not a member of this account"),
        (9, None, "not a usage event"),
        (10, None, "not a usage event"),
        (12, None, "not a usage event"),
        (13, Some("bad-key-id"), "`key` is not an id"),
        (14, Some("bad-price"), "`unit_price` (micro-dollars) must be between 0"),
        (15, Some(""), "`id` must be 1 to 128"),
        (16, Some("bad-old"), "`at` is too old"),
        (17, Some("bad-costly"), "over $1,000,000"),
    ];
    assert_eq!(rejected.len(), expected.len(), "{report}");
    for (got, (index, id, reason)) in rejected.iter().zip(expected) {
        assert_eq!(got["index"], index, "{got}");
        assert_eq!(got["id"].as_str(), id, "{got}");
        assert!(got["reason"].as_str().unwrap().contains(reason), "index {index}: {got}");
    }
    assert!(rejected[8]["reason"].as_str().unwrap().contains("expected struct"), "serde says why: {}", rejected[8]);
    assert!(rejected[9]["reason"].as_str().unwrap().contains("expected i64"), "{}", rejected[9]);
    assert!(rejected[10]["reason"].as_str().unwrap().contains("unit_price"), "{}", rejected[10]);

    let kept = cost(&[good_key, good_user]);
    assert_eq!(kept, 7_000 + 3_663);
    assert_eq!(app.count_rows("usage_events").await, 2);
    assert_eq!(usage_rows_of(&app, &slug).await, 2);
    assert_eq!(usage_total(&app, account_id).await, kept);
    assert_eq!(balance(&app, account_id).await, -kept);
    let other_id = account(&app, ada_id, &other).await.id;
    assert_eq!(balance(&app, other_id).await, 0);
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
    }
    let ids: Vec<Row> = app
        .db
        .query(|conn| diesel::RunQueryDsl::load(diesel::sql_query("SELECT id FROM usage_events ORDER BY id"), conn))
        .await
        .unwrap();
    assert_eq!(ids.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["ok-1", "ok-2"]);

    // The rejected ones can be sent again once fixed: they were not recorded as seen.
    let fixed = event("bad-future", &slug, By::Key(key_id), "chat", 1, 1, now);
    assert_eq!(send_usage(&app, &[fixed]).await["accepted"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_more_than_a_thousand_events_is_refused_whole() {
    let app = platform_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let (_, key_id) = create_key(&app, &ada, &slug, "prod", "API").await;
    let now = now_ms();
    let events: Vec<Value> =
        (0..1_001).map(|i| event(&format!("big-{i:04}"), &slug, By::Key(key_id), "chat", 1, 1, now)).collect();

    let (status, body) = post_json(&app, "/api/v1/usage/events", Some(SERVICE), &json!({ "events": events })).await;

    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "bad_request");
    assert!(body["message"].as_str().unwrap().contains("at most 1000 events; this one has 1001"), "{body}");
    assert_eq!(app.count_rows("usage_events").await, 0);
    assert_eq!(app.count_rows("ledger_entries").await, 0);

    // Exactly 1,000 is fine.
    let report = send_usage(&app, &events[..1_000]).await;
    assert_eq!((report["accepted"].as_u64(), report["rejected"].as_array().map(Vec::len)), (Some(1_000), Some(0)));
    assert_eq!(app.count_rows("usage_events").await, 1_000);

    // Empty, or nothing usable: nothing kept, every refusal named.
    assert_eq!(send_usage(&app, &[]).await, json!({ "accepted": 0, "duplicates": 0, "rejected": [] }));
    let mut nameless = events[0].clone();
    nameless["account"] = json!(" ");
    let report = send_usage(&app, &[json!(null), nameless]).await;
    assert_eq!(report["accepted"], 0, "{report}");
    assert_eq!(report["rejected"][0]["index"], 0, "{report}");
    assert_eq!(report["rejected"][1]["index"], 1, "{report}");
    assert!(report["rejected"][1]["reason"].as_str().unwrap().contains("`account`"), "{report}");
    assert_eq!(app.count_rows("usage_events").await, 1_000);

    // Not a batch at all.
    for body in [json!({}), json!({ "events": {} }), json!([1, 2])] {
        let (status, answer) = post_json(&app, "/api/v1/usage/events", Some(SERVICE), &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archived_team_takes_no_usage() {
    let app = platform_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let (_, key_id) = create_key(&app, &ada, &slug, "prod", "API").await;
    let ada_id = app.user_id("ada@example.com").await;
    let account_id = account(&app, ada_id, &slug).await.id;
    let now = now_ms();
    assert_eq!(send_usage(&app, &[event("before", &slug, By::Key(key_id), "chat", 10, 10, now)]).await["accepted"], 1);
    ada.submit(&format!("/a/{slug}/settings"), &format!("/a/{slug}/settings/archive"), &[("confirm_name", "Acme")])
        .await;

    let report = send_usage(
        &app,
        &[
            event("after-key", &slug, By::Key(key_id), "chat", 10, 10, now),
            event("after-user", &slug, By::User(ada_id), "chat", 10, 10, now),
            event("before", &slug, By::Key(key_id), "chat", 10, 10, now),
        ],
    )
    .await;

    assert_eq!(report["accepted"], 0, "{report}");
    assert_eq!(report["duplicates"], 1, "an event recorded before stays a duplicate: {report}");
    let rejected = report["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2, "{report}");
    for (r, index) in rejected.iter().zip([0, 1]) {
        assert_eq!(r["index"], index);
        assert!(r["reason"].as_str().unwrap().contains("archived"), "{r}");
    }
    assert_eq!(usage_rows_of(&app, &slug).await, 1);
    assert_eq!(balance(&app, account_id).await, -100);
}

// ---------------------------------------------------------------------------------------
// 6–7. Ledger and month close
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_balance_is_purchases_minus_usage_and_an_invoice_is_paid_once() {
    let app = platform_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let (_, key_id) = create_key(&app, &ada, &slug, "prod", "API").await;
    let ada_id = app.user_id("ada@example.com").await;
    let acme = account(&app, ada_id, &slug).await;
    let account_id = acme.id;
    let actor = Actor { id: ada_id, name: "Ada".into() };

    let (invoice_id, number) =
        with_conn(&app, move |conn| billing::buy_credits(conn, &acme, &actor, 50_000_000, &Issuer::default()).unwrap())
            .await;
    assert!(number.starts_with("TD-") && number.ends_with("-000001"), "{number}");
    assert_eq!(invoice_status(&app, &number).await, "open");
    assert_eq!(balance(&app, account_id).await, 0, "an open invoice adds nothing");

    let n = number.clone();
    let paid = with_conn(&app, move |conn| billing::mark_paid(conn, &n).unwrap()).await;
    assert_eq!(paid, billing::Paid { number: number.clone(), account_id, credited: 50_000_000 });
    assert_eq!(balance(&app, account_id).await, 50_000_000);
    assert_eq!(invoice_status(&app, &number).await, "paid");

    let now = now_ms();
    let events = [
        event("u-1", &slug, By::Key(key_id), "chat input", 123_457, 3, now - 3_000),
        event("u-2", &slug, By::Key(key_id), "chat output", 9_876, 15, now - 2_000),
        event("u-3", &slug, By::User(ada_id), "images", 3, 40_000, now - 1_000),
        event("u-4", &slug, By::User(ada_id), "free tier", 1_000, 0, now),
    ];
    assert_eq!(send_usage(&app, &events[..2]).await["accepted"], 2);
    assert_eq!(send_usage(&app, &events[1..]).await["accepted"], 2);
    let used = 123_457 * 3 + 9_876 * 15 + 3 * 40_000;
    assert_eq!(cost(&events), used);
    assert_eq!(balance(&app, account_id).await, 50_000_000 - used);
    assert_eq!(balance(&app, account_id).await, 49_361_489);

    let n = number.clone();
    let again = with_conn(&app, move |conn| billing::mark_paid(conn, &n)).await;
    assert!(matches!(&again, Err(BillingError::AlreadyPaid(n)) if *n == number), "{again:?}");
    assert_eq!(balance(&app, account_id).await, 50_000_000 - used, "no second credit");
    let missing = with_conn(&app, |conn| billing::mark_paid(conn, "TD-1999-999999")).await;
    assert!(matches!(missing, Err(BillingError::NotFound)), "{missing:?}");

    // The ledger: one purchase, one debit per batch.
    let entries = with_conn(&app, move |conn| billing::ledger(conn, account_id, 10).unwrap()).await;
    let mut amounts: Vec<(&str, i64)> = entries.iter().map(|e| (e.kind.as_str(), e.amount)).collect();
    amounts.sort();
    assert_eq!(amounts, [("purchase", 50_000_000), ("usage", -(123_457 * 3 + 9_876 * 15)), ("usage", -(3 * 40_000))]);
    assert_eq!(entries.iter().find(|e| e.kind == LedgerKind::Purchase).unwrap().invoice_id, Some(invoice_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_month_issues_one_invoice_per_team_and_the_month_takes_no_more_usage() {
    let app = platform_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let other = ada.create_team("Other").await;
    let (_, key_id) = create_key(&app, &ada, &slug, "prod", "API").await;
    let (_, other_key) = create_key(&app, &ada, &other, "theirs", "API").await;
    let ada_id = app.user_id("ada@example.com").await;
    let account_id = account(&app, ada_id, &slug).await.id;
    let other_id = account(&app, ada_id, &other).await.id;
    let now = now_ms();
    let this_month = Month::of_ms(now);
    let last_month = this_month.previous();
    let day = 24 * 3_600_000;
    let in_last_month = |d: i64| last_month.start_ms() + d * day + 3_600_000;
    // Two lines: model-a (3 units at $0.334999 = $1.004997, printed $1.00) and model-b
    // ($2.004999, printed $2.00). Rounded per line the total is $3.00; rounding the sum of
    // the events would give $3.01.
    let last_months = [
        event("m-1", &slug, By::Key(key_id), "model-a", 2, 334_999, in_last_month(0)),
        event("m-2", &slug, By::User(ada_id), "model-a", 1, 334_999, in_last_month(9)),
        event("m-3", &slug, By::Key(key_id), "model-b", 1, 2_004_999, last_month.end_ms() - 1),
    ];
    let this_months = [
        event("n-1", &slug, By::Key(key_id), "model-a", 5, 334_999, this_month.start_ms()),
        event("n-2", &other, By::Key(other_key), "model-a", 5, 334_999, now),
    ];
    let before = event("b-1", &slug, By::Key(key_id), "model-a", 7, 1_000, last_month.start_ms() - 1);
    let report = send_usage(&app, &[&last_months[..], &this_months[..], &[before]].concat()).await;
    assert_eq!(report, json!({ "accepted": 6, "duplicates": 0, "rejected": [] }));
    let line_a = round_to_cents(3 * 334_999);
    let line_b = round_to_cents(2_004_999);
    assert_eq!((line_a, line_b), (1_000_000, 2_000_000));
    assert_ne!(line_a + line_b, round_to_cents(cost(&last_months)), "the test tells per-line rounding apart");

    let issuer = Issuer { name: "Teamdeck Inc.".into(), ..Issuer::default() };
    let first = with_conn(&app, {
        let issuer = issuer.clone();
        move |conn| billing::close_month(conn, last_month, &issuer).unwrap()
    })
    .await;
    let second = with_conn(&app, move |conn| billing::close_month(conn, last_month, &issuer).unwrap()).await;

    let year = Month::of_ms(now_ms()).year;
    assert_eq!(first, [format!("TD-{year}-000001")], "one invoice: the other team used nothing last month");
    assert!(second.is_empty(), "{second:?}");
    let period = last_month.to_string();
    assert_eq!(app.count_rows(&format!("invoices WHERE account_id = {account_id} AND period = '{period}'")).await, 1);
    assert_eq!(app.count_rows("invoices").await, 1);
    assert_eq!(app.count_rows(&format!("invoices WHERE account_id = {other_id}")).await, 0);
    let invoices = with_conn(&app, move |conn| billing::invoices(conn, account_id).unwrap()).await;
    let invoice = &invoices[0];
    assert_eq!(invoice.number, format!("TD-{year}-000001"));
    assert_eq!((invoice.kind, invoice.status), (InvoiceKind::Usage, InvoiceStatus::Paid));
    assert_eq!(invoice.period.as_deref(), Some(period.as_str()));
    assert_eq!(invoice.total, line_a + line_b);
    assert_eq!(invoice.total, 3_000_000);
    let invoice_id = invoice.id;
    let (_, lines) =
        with_conn(&app, move |conn| billing::invoice(conn, account_id, invoice_id).unwrap().unwrap()).await;
    let lines: Vec<(String, i64, i64, i64)> =
        lines.into_iter().map(|l| (l.description, l.quantity, l.unit_price, l.amount)).collect();
    assert_eq!(lines, [("model-a".to_owned(), 3, 334_999, 1_000_000), ("model-b".to_owned(), 1, 2_004_999, 2_000_000)]);

    // Late usage for the closed month is refused; the current month still takes it.
    let late = send_usage(
        &app,
        &[
            event("late-1", &slug, By::Key(key_id), "model-a", 1, 334_999, in_last_month(3)),
            event("late-2", &slug, By::Key(key_id), "model-a", 1, 334_999, now),
            event("late-3", &other, By::Key(other_key), "model-a", 1, 334_999, in_last_month(3)),
        ],
    )
    .await;
    assert_eq!(late["accepted"], 2, "{late}");
    let rejected = late["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1, "{late}");
    assert_eq!(rejected[0]["index"], 0);
    assert_eq!(rejected[0]["id"], "late-1");
    assert!(rejected[0]["reason"].as_str().unwrap().contains("closed and invoiced"), "{late}");
    assert_eq!(usage_rows_of(&app, &slug).await, 6);

    // Re-sending a recorded event of the closed month stays a duplicate, not an error.
    let resent = send_usage(&app, &last_months).await;
    assert_eq!(resent, json!({ "accepted": 0, "duplicates": 3, "rejected": [] }));
}

// ---------------------------------------------------------------------------------------
// 8. Payment webhook
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_payment_webhook_credits_once_and_anything_else_is_refused() {
    let app = platform_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let ada_id = app.user_id("ada@example.com").await;
    let acme = account(&app, ada_id, &slug).await;
    let account_id = acme.id;
    let actor = Actor { id: ada_id, name: "Ada".into() };
    let (first, second) = with_conn(&app, move |conn| {
        let first = billing::buy_credits(conn, &acme, &actor, 25_000_000, &Issuer::default()).unwrap().1;
        let second = billing::buy_credits(conn, &acme, &actor, 40_000_000, &Issuer::default()).unwrap().1;
        (first, second)
    })
    .await;

    // Refused before anything happens: no signature, a bad one, another body's, an old one,
    // one from the future.
    let body = paid_event("evt_1", &first, 25_000_000);
    let now = now_secs();
    let other_body = paid_event("evt_1", &first, 1);
    for (what, signature) in [
        ("no signature", None),
        ("empty", Some(String::new())),
        ("wrong secret", Some(sign("not-the-secret", now, &body))),
        ("another body", Some(sign(WEBHOOK_SECRET, now, &other_body))),
        ("garbage", Some("t=abc,v1=zz".to_owned())),
        ("old", Some(sign(WEBHOOK_SECRET, now - 301, &body))),
        ("much older", Some(sign(WEBHOOK_SECRET, now - 3_600, &body))),
        ("future", Some(sign(WEBHOOK_SECRET, now + 600, &body))),
    ] {
        let (status, answer) = webhook(&app, &body, signature).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {answer}");
        assert_eq!(answer["code"], "unauthenticated", "{what}: {answer}");
    }
    assert_eq!(invoice_status(&app, &first).await, "open");
    assert_eq!(balance(&app, account_id).await, 0);
    assert_eq!(app.count_rows("webhook_events").await, 0);

    // Correctly signed: paid and credited.
    let (status, answer) = webhook(&app, &body, Some(sign(WEBHOOK_SECRET, now_secs(), &body))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, json!({ "received": true, "invoice": first, "status": "paid" }));
    assert_eq!(invoice_status(&app, &first).await, "paid");
    assert_eq!(balance(&app, account_id).await, 25_000_000);

    // The same event again, correctly signed with a fresh timestamp: 409, no second credit.
    let (status, answer) = webhook(&app, &body, Some(sign(WEBHOOK_SECRET, now_secs() + 1, &body))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["code"], "conflict");
    // Another event id for the paid invoice: also 409.
    let another = paid_event("evt_2", &first, 25_000_000);
    let (status, answer) = webhook(&app, &another, Some(sign(WEBHOOK_SECRET, now_secs(), &another))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("already paid"), "{answer}");
    assert_eq!(balance(&app, account_id).await, 25_000_000, "no double credit");

    // A wrong amount: 400, the invoice stays open.
    let wrong = paid_event("evt_3", &second, 39_990_000);
    let (status, answer) = webhook(&app, &wrong, Some(sign(WEBHOOK_SECRET, now_secs(), &wrong))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("$39.99")
            && answer["message"].as_str().unwrap().contains("$40.00")
    );
    assert_eq!(invoice_status(&app, &second).await, "open");
    assert_eq!(balance(&app, account_id).await, 25_000_000);

    // Unknown invoice: 404; another event type: acknowledged and ignored.
    let unknown = paid_event("evt_4", "TD-1999-000042", 1);
    assert_eq!(
        webhook(&app, &unknown, Some(sign(WEBHOOK_SECRET, now_secs(), &unknown))).await.0,
        StatusCode::NOT_FOUND
    );
    let refund = json!({ "id": "evt_5", "type": "invoice.refunded", "invoice": second }).to_string();
    let (status, answer) = webhook(&app, &refund, Some(sign(WEBHOOK_SECRET, now_secs(), &refund))).await;
    assert_eq!((status, answer["status"].as_str()), (StatusCode::OK, Some("ignored")));
    assert_eq!(invoice_status(&app, &second).await, "open");

    // Without an amount: paid at the invoice's total.
    let no_amount = json!({ "id": "evt_6", "type": "invoice.paid", "invoice": second }).to_string();
    let (status, answer) = webhook(&app, &no_amount, Some(sign(WEBHOOK_SECRET, now_secs(), &no_amount))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(balance(&app, account_id).await, 65_000_000);
    assert_eq!(app.count_rows("webhook_events").await, 2, "only the events that paid were kept");
    assert_eq!(
        app.count_rows(&format!("ledger_entries WHERE account_id = {account_id} AND kind = 'purchase'")).await,
        2
    );
}

// ---------------------------------------------------------------------------------------
// Concurrency: what is idempotent stays so when the retries arrive at the same moment.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_webhooks_and_month_closes_sent_at_the_same_moment_count_once() {
    let app = platform_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let (_, key_id) = create_key(&app, &ada, &slug, "prod", "API").await;
    let ada_id = app.user_id("ada@example.com").await;
    let acme = account(&app, ada_id, &slug).await;
    let account_id = acme.id;
    let actor = Actor { id: ada_id, name: "Ada".into() };
    let last_month = Month::of_ms(now_ms()).previous();
    let batch: Vec<Value> = (0..50)
        .map(|i| event(&format!("c-{i:03}"), &slug, By::Key(key_id), "chat", 100 + i, 3, last_month.start_ms() + i))
        .collect();

    let reports = futures_util::future::join_all((0..6).map(|_| send_usage(&app, &batch))).await;

    let accepted: u64 = reports.iter().map(|r| r["accepted"].as_u64().unwrap()).sum();
    let duplicates: u64 = reports.iter().map(|r| r["duplicates"].as_u64().unwrap()).sum();
    assert_eq!((accepted, duplicates), (50, 250), "{reports:?}");
    assert!(reports.iter().all(|r| r["rejected"] == json!([])), "{reports:?}");
    assert_eq!(app.count_rows("usage_events").await, 50);
    assert_eq!(balance(&app, account_id).await, -cost(&batch));

    let closes =
        (0..2).map(|_| with_conn(&app, move |conn| billing::close_month(conn, last_month, &Issuer::default())));
    let issued: Vec<String> =
        futures_util::future::join_all(closes).await.into_iter().flat_map(|r| r.unwrap()).collect();
    assert_eq!(issued.len(), 1, "{issued:?}");
    assert_eq!(app.count_rows("invoices").await, 1);

    let number = with_conn(&app, move |conn| {
        billing::buy_credits(conn, &acme, &actor, 10_000_000, &Issuer::default()).unwrap().1
    })
    .await;
    let body = paid_event("evt_same", &number, 10_000_000);
    let same = (0..6).map(|_| webhook(&app, &body, Some(sign(WEBHOOK_SECRET, now_secs(), &body))));
    let mut statuses: Vec<u16> = futures_util::future::join_all(same).await.iter().map(|(s, _)| s.as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 409, 409, 409, 409, 409]);
    assert_eq!(balance(&app, account_id).await, 10_000_000 - cost(&batch));

    let acme = account(&app, ada_id, &slug).await;
    let actor = Actor { id: ada_id, name: "Ada".into() };
    let number = with_conn(&app, move |conn| {
        billing::buy_credits(conn, &acme, &actor, 5_000_000, &Issuer::default()).unwrap().1
    })
    .await;
    let different = (0..6).map(|i| {
        let body = paid_event(&format!("evt_{i}"), &number, 5_000_000);
        let signature = sign(WEBHOOK_SECRET, now_secs(), &body);
        let app = &app;
        async move { webhook(app, &body, Some(signature)).await.0.as_u16() }
    });
    let mut statuses = futures_util::future::join_all(different).await;
    statuses.sort();
    assert_eq!(statuses, [200, 409, 409, 409, 409, 409]);
    assert_eq!(balance(&app, account_id).await, 15_000_000 - cost(&batch), "credited once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_that_arrives_while_its_month_is_being_closed_is_invoiced_or_refused() {
    let app = platform_app().await;
    if app.sqlite_file.is_some() {
        // SQLite: `BEGIN IMMEDIATE` makes the close and the batch wait for each other, and a
        // transaction cannot be held open around `close_month` here; the race is PostgreSQL's.
        return;
    }
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let (_, key_id) = create_key(&app, &ada, &slug, "prod", "API").await;
    let ada_id = app.user_id("ada@example.com").await;
    let account_id = account(&app, ada_id, &slug).await.id;
    let last_month = Month::of_ms(now_ms()).previous();
    let first = event("r-1", &slug, By::Key(key_id), "chat", 1, 1_000_000, last_month.start_ms() + 1);
    assert_eq!(send_usage(&app, &[first]).await["accepted"], 1);

    // The month-close job has written the invoice but not yet committed…
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let db = app.db.clone();
    let closer = tokio::task::spawn_blocking(move || {
        let mut conn = db.get().unwrap();
        diesel::Connection::transaction(&mut *conn, |conn| {
            let issued = billing::close_month(conn, last_month, &Issuer::default())?;
            closed_tx.send(issued).unwrap();
            let _ = go_rx.recv_timeout(std::time::Duration::from_secs(10));
            Ok::<_, diesel::result::Error>(())
        })
        .unwrap();
    });
    assert_eq!(closed_rx.await.unwrap().len(), 1);
    // …when a late event of that month arrives.
    let late = event("r-2", &slug, By::Key(key_id), "chat", 1, 2_000_000, last_month.start_ms() + 2);
    let request = reqwest::Client::new()
        .post(format!("{}/api/v1/usage/events", app.address))
        .header("Authorization", SERVICE)
        .json(&json!({ "events": [late] }))
        .send();
    let ingest = tokio::spawn(async move { request.await.unwrap().json::<Value>().await.unwrap() });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    go_tx.send(()).unwrap();
    closer.await.unwrap();
    let report = ingest.await.unwrap();

    let invoices = with_conn(&app, move |conn| billing::invoices(conn, account_id).unwrap()).await;
    assert_eq!(invoices.len(), 1);
    let invoiced = invoices[0].total;
    let recorded = with_conn(&app, move |conn| {
        usage::total(conn, account_id, last_month.start_ms(), last_month.end_ms()).unwrap()
    })
    .await;
    assert_eq!(
        invoiced, recorded,
        "the invoice of a closed month holds all of its recorded usage (late batch: {report})"
    );
    assert_eq!(report["accepted"], 0, "{report}");
    assert!(report["rejected"][0]["reason"].as_str().unwrap().contains("closed and invoiced"), "{report}");

    // The other order: a batch is being recorded when the month close starts.
    let month = last_month.previous();
    let first = event("r-3", &slug, By::Key(key_id), "chat", 1, 1_000_000, month.start_ms() + 1);
    assert_eq!(send_usage(&app, &[first]).await["accepted"], 1);
    let (recorded_tx, recorded_rx) = tokio::sync::oneshot::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let db = app.db.clone();
    let late = usage::EventIn {
        id: "r-4".into(),
        account: slug.clone(),
        key: Some(key_id.to_string()),
        user: None,
        product: "chat".into(),
        quantity: 1,
        unit: "token".into(),
        unit_price: 4_000_000,
        at: rfc3339(month.start_ms() + 2),
        app: None,
    };
    let batch = tokio::task::spawn_blocking(move || {
        let mut conn = db.get().unwrap();
        diesel::Connection::transaction(&mut *conn, |conn| {
            let report = usage::ingest(conn, &[Ok(late)], "http://localhost")?;
            recorded_tx.send(report.accepted).unwrap();
            let _ = go_rx.recv_timeout(std::time::Duration::from_secs(10));
            Ok::<_, diesel::result::Error>(())
        })
        .unwrap();
    });
    assert_eq!(recorded_rx.await.unwrap(), 1);
    let db = app.db.clone();
    let close = tokio::task::spawn_blocking(move || {
        billing::close_month(&mut db.get().unwrap(), month, &Issuer::default()).unwrap()
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    go_tx.send(()).unwrap();
    batch.await.unwrap();
    assert_eq!(close.await.unwrap().len(), 1);

    let period = month.to_string();
    let invoices = with_conn(&app, move |conn| billing::invoices(conn, account_id).unwrap()).await;
    let invoice = invoices.iter().find(|i| i.period.as_deref() == Some(period.as_str())).unwrap();
    assert_eq!(invoice.total, 5_000_000, "the batch that was being recorded is on the invoice");
}

// ---------------------------------------------------------------------------------------
// 9. Spend alerts
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crossing_80_and_100_percent_of_the_limit_emails_the_admins_and_billing_once_each() {
    let (app, mail) = crate::helpers::spawn_app_with_mail(platform_settings).await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let (_, key_id) = create_key(&app, &ada, &slug, "prod", "API").await;
    app.signed_up("Bill", "bill@example.com").await;
    app.signed_up("Dev", "dev@example.com").await;
    app.add_member(&slug, "bill@example.com", Role::Billing).await;
    app.add_member(&slug, "dev@example.com", Role::Developer).await;
    let ada_id = app.user_id("ada@example.com").await;
    let acme = account(&app, ada_id, &slug).await;
    let actor = Actor { id: ada_id, name: "Ada".into() };
    with_conn(&app, move |conn| {
        let details = billing::Details {
            billing_email: "Accounts@Acme.test".into(),
            legal_name: "Acme Corp.".into(),
            address: String::new(),
            tax_id: String::new(),
        };
        billing::save_details(conn, &acme, &actor, &details).unwrap();
        billing::set_limit(conn, &acme, &actor, Some(10_000_000)).unwrap();
    })
    .await;
    let alerts = |to: &str| format!("outbox_emails WHERE to_address = '{to}' AND subject LIKE '%monthly spend limit%'");
    let now = now_ms();
    let spend = |id: &str, micros: i64| event(id, &slug, By::Key(key_id), "chat", micros, 1, now);

    // 79.99 %: nothing.
    send_usage(&app, &[spend("s-1", 7_999_999)]).await;
    assert_eq!(app.count_rows(&alerts("ada@example.com")).await, 0);
    // 80 %: one email to each admin and billing member.
    send_usage(&app, &[spend("s-2", 1)]).await;
    assert_eq!(app.count_rows(&alerts("ada@example.com")).await, 1);
    assert_eq!(app.count_rows(&alerts("bill@example.com")).await, 1);
    assert_eq!(app.count_rows(&alerts("dev@example.com")).await, 0, "developers are not told");
    assert_eq!(app.count_rows(&alerts("Accounts@Acme.test")).await, 1, "the billing email is");
    // More, still under 100 %: no more.
    send_usage(&app, &[spend("s-3", 1_000_000)]).await;
    assert_eq!(app.count_rows(&alerts("ada@example.com")).await, 1);
    // 100 %: a second one.
    send_usage(&app, &[spend("s-4", 1_000_000)]).await;
    assert_eq!(app.count_rows(&alerts("ada@example.com")).await, 2);
    assert_eq!(app.count_rows(&alerts("bill@example.com")).await, 2);
    // Re-sent and more usage: no more.
    send_usage(&app, &[spend("s-1", 7_999_999), spend("s-4", 1_000_000)]).await;
    send_usage(&app, &[spend("s-5", 5_000_000)]).await;
    assert_eq!(app.count_rows(&alerts("ada@example.com")).await, 2);
    assert_eq!(app.count_rows(&alerts("bill@example.com")).await, 2);
    assert_eq!(app.count_rows(&alerts("dev@example.com")).await, 0);
    assert_eq!(app.count_rows(&alerts("Accounts@Acme.test")).await, 2);
    assert_eq!(app.count_rows("spend_alerts").await, 2);

    let delivered = mail.wait_for(6).await;
    let to_ada: Vec<String> =
        delivered.iter().filter(|m| m.to.contains("ada@example.com")).map(|m| m.decoded()).collect();
    assert_eq!(to_ada.len(), 2, "{to_ada:?}");
    assert!(to_ada.iter().any(|m| m.contains("The team “Acme” has spent $8.00 on Teamdeck")), "{to_ada:?}");
    assert!(to_ada.iter().any(|m| m.contains("80 % of its monthly spend limit of $10.00")), "{to_ada:?}");
    assert!(to_ada.iter().any(|m| m.contains("100 % of its monthly spend limit of $10.00")), "{to_ada:?}");
    let subjects = "outbox_emails WHERE to_address = 'ada@example.com' AND subject = ";
    assert_eq!(
        app.count_rows(&format!("{subjects}'The team “Acme” has used 80 % of its monthly spend limit on Teamdeck'"))
            .await,
        1
    );
    assert_eq!(
        app.count_rows(&format!("{subjects}'The team “Acme” reached its monthly spend limit on Teamdeck'")).await,
        1
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(mail.messages().await.len(), 6, "nothing else was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jumping_past_the_limit_at_once_sends_one_alert() {
    let app = platform_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let (_, key_id) = create_key(&app, &ada, &slug, "prod", "API").await;
    let ada_id = app.user_id("ada@example.com").await;
    let acme = account(&app, ada_id, &slug).await;
    let actor = Actor { id: ada_id, name: "Ada".into() };
    with_conn(&app, move |conn| billing::set_limit(conn, &acme, &actor, Some(1_000_000)).unwrap()).await;
    let now = now_ms();

    send_usage(&app, &[event("x-1", &slug, By::Key(key_id), "chat", 2_000_000, 1, now)]).await;
    send_usage(&app, &[event("x-2", &slug, By::Key(key_id), "chat", 1, 1, now)]).await;

    let alerts = "outbox_emails WHERE to_address = 'ada@example.com' AND subject LIKE '%spend limit%'";
    assert_eq!(app.count_rows(alerts).await, 1);
    assert_eq!(app.count_rows(&format!("{alerts} AND subject LIKE '%reached%'")).await, 1);
    // Last month's usage does not count against this month's limit.
    let last_month = Month::of_ms(now).previous().start_ms();
    let other = ada.create_team("Other").await;
    let (_, other_key) = create_key(&app, &ada, &other, "prod", "API").await;
    let other_account = account(&app, ada_id, &other).await;
    let actor = Actor { id: ada_id, name: "Ada".into() };
    with_conn(&app, move |conn| billing::set_limit(conn, &other_account, &actor, Some(1_000_000)).unwrap()).await;
    send_usage(&app, &[event("y-1", &other, By::Key(other_key), "chat", 5_000_000, 1, last_month)]).await;
    assert_eq!(app.count_rows(alerts).await, 1);
}

// ---------------------------------------------------------------------------------------
// 10. OpenAPI
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_the_platform_endpoints() {
    let app = spawn_app().await;
    let response = reqwest::get(format!("{}/api/v1/openapi.json", app.address)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.unwrap();
    for path in ["/api/v1/introspect", "/api/v1/usage/events", "/api/v1/billing/webhook"] {
        assert!(doc["paths"][path]["post"].is_object(), "{path} in {}", doc["paths"]);
    }
    for schema in ["IntrospectRequest", "IntrospectResponse", "UsageReport", "WebhookEvent"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
}
