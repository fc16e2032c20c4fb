//! Spend caps: a key's monthly cap and a team's hard monthly limit, reached by usage the
//! gateways report, seen by introspection until the month turns (the clock moved) or the cap
//! is raised; the 80 % and 100 % emails.

use crate::helpers::{Browser, TestApp, behind_a_proxy, csrf_token, location, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use teamdeck::domain::{Clock, now_ms};

const SERVICE: &str = "Bearer svc-token";

async fn app_with_clock() -> (TestApp, Clock) {
    let clock = Clock::movable();
    let moved = clock.clone();
    let app = spawn_app_with(move |s| {
        s.service_token = Some("svc-token".into());
        s.introspect_cache_seconds = 300;
        behind_a_proxy(s);
        s.clock = moved;
    })
    .await;
    (app, clock)
}

async fn post_json(app: &TestApp, path: &str, auth: &str, body: &Value) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", app.address))
        .header("Authorization", auth)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn introspect(app: &TestApp, credential: &str, team: Option<&str>) -> Value {
    let (status, answer) =
        post_json(app, "/api/v1/introspect", SERVICE, &json!({ "credential": credential, "team": team })).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

/// Reports one event of `micros` made with the key `key_id` of `slug`, now.
async fn spend(app: &TestApp, id: &str, slug: &str, key_id: i64, micros: i64) -> Value {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(now_ms()) * 1_000_000)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let event = json!({ "id": id, "account": slug, "key": key_id.to_string(), "product": "chat",
        "quantity": micros, "unit": "token", "unit_price": 1, "at": at });
    let (status, report) = post_json(app, "/api/v1/usage/events", SERVICE, &json!({ "events": [event] })).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    report
}

async fn create_key(app: &TestApp, admin: &Browser, slug: &str, name: &str, cap: &str) -> (String, i64) {
    let fields = [("name", name), ("scope", "API"), ("spend_cap", cap)];
    let response = admin.submit(&format!("/a/{slug}/keys"), &format!("/a/{slug}/keys"), &fields).await;
    assert_eq!(location(&response), format!("/a/{slug}/keys"));
    let page = admin.page(&format!("/a/{slug}/keys"), StatusCode::OK).await;
    let start = page.find("value=\"tdk_").expect("the new key is shown") + 7;
    (page[start..].split('"').next().unwrap().to_owned(), app.key_id(slug, name).await)
}

async fn emails_about(app: &TestApp, words: &str) -> i64 {
    app.count(format!("SELECT COUNT(*) AS n FROM outbox_emails WHERE subject LIKE '%{words}%'")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_at_its_cap_is_inactive_at_introspection_until_the_month_turns_and_its_usage_is_still_taken() {
    let (app, clock) = app_with_clock().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let (secret, key_id) = create_key(&app, &ada, &slug, "ci", "1").await;
    let credential = format!("Key {secret}");
    assert_eq!(introspect(&app, &credential, None).await["active"], true, "kept in the cache from now");

    spend(&app, "e1", &slug, key_id, 850_000).await;
    assert_eq!(introspect(&app, &credential, None).await["active"], true, "85 % of the cap");
    assert_eq!(emails_about(&app, "has used 80 % of its monthly spend cap").await, 1, "one email to the admin");
    let report = spend(&app, "e2", &slug, key_id, 200_000).await;
    assert_eq!(report["accepted"], 1, "usage past the cap is still taken: {report}");
    let answer = introspect(&app, &credential, None).await;
    assert_eq!(
        (answer["active"].as_bool(), answer["reason"].as_str()),
        (Some(false), Some("key_spend_cap")),
        "{answer}"
    );
    assert_eq!(emails_about(&app, "reached its monthly spend cap").await, 1);
    spend(&app, "e3", &slug, key_id, 100_000).await;
    assert_eq!(emails_about(&app, "spend cap").await, 2, "once each per month");

    clock.advance(Duration::from_secs(32 * 24 * 3600));
    assert_eq!(introspect(&app, &credential, None).await["active"], true, "the next month the key works again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raising_a_cap_through_the_api_makes_the_key_work_again_at_once() {
    let (app, _) = app_with_clock().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let (admin, _) = create_key(&app, &ada, &slug, "admin", "").await;
    let (secret, key_id) = create_key(&app, &ada, &slug, "ci", "1").await;
    spend(&app, "e1", &slug, key_id, 1_500_000).await;
    assert_eq!(introspect(&app, &format!("Key {secret}"), None).await["reason"], "key_spend_cap");

    let response = reqwest::Client::new()
        .put(format!("{}/api/v1/teams/{slug}/keys/{key_id}/limits", app.address))
        .header("Authorization", format!("Key {admin}"))
        .json(&json!({ "spend_cap": 2_000_000 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "an API-scoped key cannot manage keys");
    let page = ada.page(&format!("/a/{slug}/keys"), StatusCode::OK).await;
    assert!(page.contains("Cap $1.00 a month"), "the cap is shown");
    drop(page);
    // An admin's login token may.
    let token = crate::platform::login_token(&app, &ada).await;
    let response = reqwest::Client::new()
        .put(format!("{}/api/v1/teams/{slug}/keys/{key_id}/limits", app.address))
        .header("Authorization", format!("Bearer {token}"))
        .json(&json!({ "spend_cap": 2_000_000 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(introspect(&app, &format!("Key {secret}"), None).await["active"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hard_team_limit_stops_every_key_and_login_token_and_warning_only_stays_the_default() {
    let (app, _) = app_with_clock().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let (secret, key_id) = create_key(&app, &ada, &slug, "ci", "").await;
    let token = format!("Bearer {}", crate::platform::login_token(&app, &ada).await);
    let set_limit = async |hard: bool| {
        let page = ada.page(&format!("/a/{slug}/billing"), StatusCode::OK).await;
        let csrf = csrf_token(&page).unwrap();
        let mut form = vec![("csrf_token", csrf.as_str()), ("limit", "1")];
        if hard {
            form.push(("hard", "on"));
        }
        let response = ada.client.post(ada.url(&format!("/a/{slug}/billing/limit"))).form(&form).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    };

    set_limit(false).await;
    spend(&app, "e1", &slug, key_id, 1_500_000).await;
    assert_eq!(introspect(&app, &format!("Key {secret}"), None).await["active"], true, "a warning-only limit");

    set_limit(true).await;
    let key = introspect(&app, &format!("Key {secret}"), None).await;
    assert_eq!((key["active"].as_bool(), key["reason"].as_str()), (Some(false), Some("team_spend_limit")), "{key}");
    let member = introspect(&app, &token, Some(&slug)).await;
    assert_eq!(member["reason"], "team_spend_limit", "{member}");
    let personal = introspect(&app, &token, None).await;
    assert_eq!(personal["active"], true, "another account of the member is not limited");

    set_limit(false).await;
    assert_eq!(introspect(&app, &token, Some(&slug)).await["active"], true, "back to warning only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admins_are_reminded_once_of_a_key_that_expires_within_7_days() {
    let (app, _) = app_with_clock().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    for (name, expires) in [("soon", "5d"), ("later", "30d"), ("never", "never")] {
        let fields = [("name", name), ("scope", "API"), ("expires", expires)];
        let response = ada.submit(&format!("/a/{slug}/keys"), &format!("/a/{slug}/keys"), &fields).await;
        assert_eq!(location(&response), format!("/a/{slug}/keys"));
    }
    let remind = |now: i64| {
        let db = app.db.clone();
        async move {
            db.query(move |conn| teamdeck::service::keys::reminders::remind_expiring(conn, now, "http://td.test"))
                .await
                .unwrap()
        }
    };
    assert_eq!(remind(now_ms()).await, 1, "only the key expiring in 5 days");
    assert_eq!(remind(now_ms()).await, 0, "once");
    assert_eq!(emails_about(&app, "The key “soon” of the team “Acme” expires on").await, 1);
    assert_eq!(remind(now_ms() + 24 * 24 * 3600 * 1000).await, 1, "the 30-day key, 24 days on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_cap_reached_through_one_instance_stops_the_key_on_another_within_moments() {
    let (app, _) = app_with_clock().await;
    if app.sqlite_file.is_some() {
        return; // SQLite cannot hear another process's commit: its bound is the cache's TTL
    }
    let (url, data_dir) = (app.database_url.clone(), app.data_dir.path().to_path_buf());
    let other = spawn_app_with(move |s| {
        s.data_dir = data_dir; // the same secrets key
        s.service_token = Some("svc-token".into());
        s.introspect_cache_seconds = 300;
        s.database_url = Some(url);
    })
    .await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let (secret, key_id) = create_key(&app, &ada, &slug, "ci", "1").await;
    let credential = format!("Key {secret}");
    assert_eq!(introspect(&other, &credential, None).await["active"], true, "kept by the other instance");

    spend(&app, "e1", &slug, key_id, 1_200_000).await;
    let started = std::time::Instant::now();
    while introspect(&other, &credential, None).await["active"] == true {
        assert!(started.elapsed() < Duration::from_secs(1), "the other instance still answers active after 1 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(introspect(&other, &credential, None).await["reason"], "key_spend_cap");
}
