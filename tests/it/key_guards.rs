//! Key lifecycle and guardrails: expiry, rotation with an overlap, the archived keys, and
//! address allowlists, through the keys page, Teamdeck's own API and introspection (with
//! the server's clock moved forward where time matters).

use crate::helpers::{Browser, TestApp, behind_a_proxy, csrf_token, location, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use teamdeck::config::Settings;
use teamdeck::domain::Clock;

const SERVICE: &str = "Bearer svc-token";
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

fn gateway(s: &mut Settings) {
    s.service_token = Some("svc-token".into());
    s.introspect_cache_seconds = 300;
}

/// An app with the gateway endpoints on, trusting 127.0.0.1 as a proxy, on a clock the test
/// moves.
async fn app_with_clock() -> (TestApp, Clock) {
    let clock = Clock::movable();
    let moved = clock.clone();
    let app = spawn_app_with(move |s| {
        gateway(s);
        behind_a_proxy(s);
        s.clock = moved;
    })
    .await;
    (app, clock)
}

/// Creates a key on the keys page with `fields` beside its name and scope; returns its
/// secret (shown once) and its id.
async fn create_key_with(
    app: &TestApp,
    admin: &Browser,
    slug: &str,
    name: &str,
    fields: &[(&str, &str)],
) -> (String, i64) {
    let mut all = vec![("name", name), ("scope", "ADMIN")];
    all.extend_from_slice(fields);
    let response = admin.submit(&format!("/a/{slug}/keys"), &format!("/a/{slug}/keys"), &all).await;
    assert_eq!(location(&response), format!("/a/{slug}/keys"));
    (shown_secret(admin, slug).await, app.key_id(slug, name).await)
}

/// The secret the keys page shows once after a creation or rotation.
async fn shown_secret(admin: &Browser, slug: &str) -> String {
    let page = admin.page(&format!("/a/{slug}/keys"), StatusCode::OK).await;
    let start = page.find("value=\"tdk_").expect("the new secret is shown") + 7;
    page[start..].split('"').next().unwrap().to_owned()
}

/// A call to Teamdeck's own API with a key, from `client` (through the trusted proxy).
async fn whoami(app: &TestApp, secret: &str, client: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/whoami", app.address))
        .header("Authorization", format!("Key {secret}"))
        .header("X-Forwarded-For", client)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
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

async fn introspect(app: &TestApp, secret: &str, client_ip: Option<&str>) -> Value {
    let body = json!({ "credential": format!("Key {secret}"), "client_ip": client_ip });
    let (status, answer) = post_json(app, "/api/v1/introspect", SERVICE, &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

fn assert_refused(response: &(StatusCode, Value), code: &str, what: &str) {
    assert_eq!(response.0, StatusCode::UNAUTHORIZED, "{what}: {}", response.1);
    assert_eq!(response.1["code"], code, "{what}: {}", response.1);
}

fn assert_inactive(answer: &Value, reason: &str, what: &str) {
    assert_eq!(
        (answer["active"].as_bool(), answer["reason"].as_str()),
        (Some(false), Some(reason)),
        "{what}: {answer}"
    );
    assert_eq!(answer["cache_seconds"], 0, "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_with_an_expiry_shows_it_works_until_then_and_is_refused_after() {
    let (app, clock) = app_with_clock().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let (secret, _) = create_key_with(&app, &ada, &slug, "ci", &[("expires", "30d")]).await;

    let page = ada.page(&format!("/a/{slug}/keys"), StatusCode::OK).await;
    let in_30_days = teamdeck::domain::When::from_ms(clock.now_ms() + 30 * 24 * 3600 * 1000).text;
    assert!(page.contains(&in_30_days[..11]), "the expiry date is shown ({in_30_days}): {page}");
    assert_eq!(whoami(&app, &secret, "10.0.0.1").await.0, StatusCode::OK);
    let active = introspect(&app, &secret, None).await;
    assert_eq!(active["active"], true, "{active}");

    clock.advance(31 * DAY);
    assert_refused(&whoami(&app, &secret, "10.0.0.1").await, "key_expired", "the API after the expiry");
    assert_inactive(
        &introspect(&app, &secret, None).await,
        "expired",
        "introspection after the expiry (a kept answer)",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_and_the_form_take_expiries_as_days_dates_or_never_and_refuse_others() {
    let (app, _) = app_with_clock().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let (admin, _) = create_key_with(&app, &ada, &slug, "admin", &[]).await;
    let auth = format!("Key {admin}");
    let path = format!("/api/v1/teams/{slug}/keys");

    let (status, made) =
        post_json(&app, &path, &auth, &json!({ "name": "ninety", "scope": "API", "expires": "90d" })).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert!(made["key"]["expires_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{made}");
    let (_, dated) =
        post_json(&app, &path, &auth, &json!({ "name": "dated", "scope": "API", "expires": "2030-01-31" })).await;
    assert_eq!(dated["key"]["expires_at"], "2030-01-31T00:00:00Z");
    let (_, never) = post_json(&app, &path, &auth, &json!({ "name": "forever", "scope": "API" })).await;
    assert!(never["key"]["expires_at"].is_null());
    for bad in ["soon", "2001-01-01", "0d"] {
        let (status, body) =
            post_json(&app, &path, &auth, &json!({ "name": "bad", "scope": "API", "expires": bad })).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_request")), "{bad}: {body}");
    }

    // The form keeps what was typed after an error.
    let response = ada
        .submit(
            &format!("/a/{slug}/keys"),
            &format!("/a/{slug}/keys"),
            &[("name", "typed"), ("scope", "API"), ("expires", "date"), ("expires_on", "2001-01-01")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    assert!(page.contains("must be in the future") && page.contains("value=\"typed\"") && page.contains("2001-01-01"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_keeps_its_old_secret_through_the_grace_marks_its_calls_and_then_refuses_it() {
    let (app, clock) = app_with_clock().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let (old, key_id) = create_key_with(&app, &ada, &slug, "ci", &[]).await;

    let response = ada
        .submit(
            &format!("/a/{slug}/keys/{key_id}/rotate"),
            &format!("/a/{slug}/keys/{key_id}/rotate"),
            &[("grace", "24h")],
        )
        .await;
    assert_eq!(location(&response), format!("/a/{slug}/keys"));
    let page = ada.page(&format!("/a/{slug}/keys"), StatusCode::OK).await;
    assert!(page.contains("Key ci rotated") && page.contains("You won't see this key again"), "{page}");
    let start = page.find("value=\"tdk_").unwrap() + 7;
    let new = page[start..].split('"').next().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(&new[..14], &old[..14], "the same key: the same public id");

    assert_eq!(whoami(&app, &new, "10.0.0.1").await.0, StatusCode::OK);
    assert_eq!(whoami(&app, &old, "10.0.0.1").await.0, StatusCode::OK, "the old secret works in the grace");
    assert_eq!(introspect(&app, &old, None).await["active"], true);
    let page = ada.page(&format!("/a/{slug}/keys"), StatusCode::OK).await;
    assert!(page.contains("Old secret") && page.contains("Retire the old secret now"), "{page}");
    let sql = "SELECT COUNT(*) AS n FROM api_requests WHERE old_secret = TRUE".to_owned();
    for _ in 0..100 {
        if app.count(sql.clone()).await > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.count(sql).await, 1, "the call with the old secret is marked, the new one's is not");
    let requests = ada.page_showing(&format!("/a/{slug}/requests"), "old secret").await;
    assert!(requests.contains("old secret"), "{requests}");

    clock.advance(25 * HOUR);
    assert_refused(&whoami(&app, &old, "10.0.0.1").await, "key_rotated", "the old secret after the grace");
    assert_inactive(&introspect(&app, &old, None).await, "key_rotated", "introspection of the old secret");
    assert_eq!(whoami(&app, &new, "10.0.0.1").await.0, StatusCode::OK, "the new one works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retiring_the_old_secret_refuses_it_at_once_and_the_cli_path_rotates_through_the_api() {
    let (app, _) = app_with_clock().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let (admin, _) = create_key_with(&app, &ada, &slug, "admin", &[]).await;
    let (old, key_id) = create_key_with(&app, &ada, &slug, "ci", &[]).await;

    let path = format!("/api/v1/teams/{slug}/keys/{key_id}/rotate");
    let (status, body) = post_json(&app, &path, &format!("Key {admin}"), &json!({ "grace": "8d" })).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_request")), "a grace over 7 days");
    let (status, rotated) = post_json(&app, &path, &format!("Key {admin}"), &json!({ "grace": "2h" })).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert!(rotated["key"]["old_secret_until"].is_string());
    assert_eq!(introspect(&app, &old, None).await["active"], true, "kept by introspection");

    let page = ada.page(&format!("/a/{slug}/keys"), StatusCode::OK).await;
    let csrf = csrf_token(&page).unwrap();
    let retired = ada
        .client
        .post(ada.url(&format!("/a/{slug}/keys/{key_id}/retire-old-secret")))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(retired.status(), StatusCode::SEE_OTHER);
    assert_refused(&whoami(&app, &old, "10.0.0.1").await, "key_rotated", "a retired old secret");
    assert_inactive(&introspect(&app, &old, None).await, "key_rotated", "a kept answer is dropped at once");
    assert_eq!(whoami(&app, &new, "10.0.0.1").await.0, StatusCode::OK);
    let audit = app.count("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'key.rotated'".into()).await;
    assert_eq!(audit, 2, "the rotation and the retirement are in the audit log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_key_moves_to_the_archived_keys_and_a_key_made_with_a_team_key_names_it() {
    let (app, _) = app_with_clock().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let (admin, _) = create_key_with(&app, &ada, &slug, "deploy", &[]).await;
    let (made, status) = {
        let (status, made) = post_json(
            &app,
            &format!("/api/v1/teams/{slug}/keys"),
            &format!("Key {admin}"),
            &json!({ "name": "from-ci", "scope": "API" }),
        )
        .await;
        (made, status)
    };
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let page = ada.page(&format!("/a/{slug}/keys"), StatusCode::OK).await;
    assert!(page.contains("<td>team key deploy</td>"), "not “a former member”: {page}");
    assert!(!page.contains("Archived keys"), "no archived section while none is deleted");

    let id = made["key"]["id"].as_str().unwrap();
    let csrf = csrf_token(&page).unwrap();
    let deleted = ada
        .client
        .post(ada.url(&format!("/a/{slug}/keys/{id}/delete")))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
    let page = ada.page(&format!("/a/{slug}/keys"), StatusCode::OK).await;
    let archived = &page[page.find("Archived keys").expect("the archived section")..];
    assert!(page.contains("<details class=\"card archived-keys\""), "collapsed by default (no `open`)");
    assert!(archived.contains("from-ci") && archived.contains("<td>Ada</td>"), "name and who archived it: {archived}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowlisted_key_works_only_from_its_v4_and_v6_ranges_and_shows_where_it_was_last_used() {
    let (app, _) = app_with_clock().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let (secret, _) =
        create_key_with(&app, &ada, &slug, "office", &[("allowed_ips", "10.0.0.0/8\n2001:db8::/32")]).await;

    assert_eq!(whoami(&app, &secret, "10.1.2.3").await.0, StatusCode::OK);
    assert_eq!(whoami(&app, &secret, "2001:db8::5").await.0, StatusCode::OK);
    assert_refused(&whoami(&app, &secret, "192.0.2.1").await, "ip_not_allowed", "an IPv4 address outside");
    assert_refused(&whoami(&app, &secret, "2001:db9::1").await, "ip_not_allowed", "an IPv6 address outside");

    assert_eq!(introspect(&app, &secret, Some("10.9.9.9")).await["active"], true);
    assert_eq!(introspect(&app, &secret, Some("2001:db8:1::1")).await["active"], true);
    assert_inactive(&introspect(&app, &secret, Some("192.0.2.1")).await, "ip_not_allowed", "v4 outside");
    assert_inactive(&introspect(&app, &secret, Some("2001:db9::1")).await, "ip_not_allowed", "v6 outside");
    assert_inactive(&introspect(&app, &secret, None).await, "ip_not_allowed", "no address given");

    let page = ada.page_showing(&format!("/a/{slug}/keys"), "from 10.1.2.3").await;
    assert!(page.contains("Only from 10.0.0.0/8 2001:db8::/32"), "{page}");
    let too_many: Vec<String> = (0..51).map(|i| format!("10.0.{i}.0/24")).collect();
    let response = ada
        .submit(
            &format!("/a/{slug}/keys"),
            &format!("/a/{slug}/keys"),
            &[("name", "many"), ("scope", "API"), ("allowed_ips", &too_many.join(" "))],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.unwrap().contains("at most 50"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_covers_rotation_limits_and_the_client_address() {
    let (app, _) = app_with_clock().await;
    let doc: Value = reqwest::get(format!("{}/api/v1/openapi.json", app.address)).await.unwrap().json().await.unwrap();
    let paths = &doc["paths"];
    assert!(paths["/api/v1/teams/{slug}/keys/{key_id}/rotate"]["post"].is_object(), "{paths}");
    assert!(paths["/api/v1/teams/{slug}/keys/{key_id}/retire-old-secret"]["post"].is_object());
    assert!(paths["/api/v1/teams/{slug}/keys/{key_id}/limits"]["put"].is_object());
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["IntrospectRequest"]["properties"]["client_ip"].is_object());
    for field in ["expires", "spend_cap", "allowed_ips"] {
        assert!(schemas["CreateKey"]["properties"][field].is_object(), "{field}");
    }
    for field in ["expires_at", "old_secret_until", "last_used_ip", "spend_cap", "allowed_ips"] {
        assert!(schemas["KeyOut"]["properties"][field].is_object(), "{field}");
    }
}
