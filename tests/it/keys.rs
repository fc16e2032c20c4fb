//! API keys: the page, the JSON API with a team key, scopes, revocation and attribution.

use crate::helpers::{Browser, TestApp, location, spawn_app};
use reqwest::StatusCode;
use serde_json::Value;
use teamdeck::domain::Role;

/// Creates a key on the keys page and returns its secret, read from the page shown once.
pub(crate) async fn create_key(admin: &Browser, slug: &str, name: &str, scope: &str) -> String {
    let response =
        admin.submit(&format!("/a/{slug}/keys"), &format!("/a/{slug}/keys"), &[("name", name), ("scope", scope)]).await;
    assert_eq!(location(&response), format!("/a/{slug}/keys"));
    let page = admin.page(&format!("/a/{slug}/keys"), StatusCode::OK).await;
    let start = page.find("value=\"tdk_").expect("the new key is shown") + 7;
    page[start..].split('"').next().unwrap().to_owned()
}

async fn api(app: &TestApp, method: reqwest::Method, path: &str, auth: Option<&str>) -> (StatusCode, Value) {
    let client = reqwest::Client::new();
    let mut request = client.request(method, format!("{}{path}", app.address));
    if let Some(auth) = auth {
        request = request.header("Authorization", auth);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_key_is_shown_once_and_afterwards_only_its_prefix_and_last_four() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;

    let secret = create_key(&ada, &slug, "production", "ADMIN").await;

    assert!(secret.starts_with("tdk_") && secret.len() > 40, "{secret}");
    let again = ada.get(&format!("/a/{slug}/keys")).await;
    assert_eq!(again.headers()["cache-control"], "no-store");
    let page = again.text().await.unwrap();
    assert!(!page.contains(&secret), "never shown again");
    assert!(page.contains(&format!("{}…{}", &secret[..14], &secret[secret.len() - 4..])), "prefix…last4");
    assert!(page.contains("<td>Ada</td>") && page.contains(">Never</td>"), "created by, never used");
    assert!(!app.dump_tables(&["api_keys"]).await.contains(&secret[15..47]), "only a hash of the secret is stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_key_calls_the_api_as_the_team_and_the_call_is_attributed_to_the_team() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let secret = create_key(&ada, &slug, "ci", "API").await;

    let (status, me) = api(&app, reqwest::Method::GET, "/api/v1/whoami", Some(&format!("Key {secret}"))).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["authenticated_by"], "team_key");
    assert_eq!(me["attributed_to"], "team");
    assert_eq!(me["team"]["slug"], slug);
    assert_eq!(me["scope"], "API");
    let page = ada.page_showing(&format!("/a/{slug}/requests"), "GET /api/v1/whoami").await;
    assert!(page.contains("<td>team key ci</td>") && page.contains("GET /api/v1/whoami"), "{page}");
    let keys_page = ada.page(&format!("/a/{slug}/keys"), StatusCode::OK).await;
    assert!(!keys_page.contains(">Never</td>"), "last used is recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_refusals_are_json_with_a_code_and_the_right_status() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let other = ada.create_team("Other").await;
    let api_key = format!("Key {}", create_key(&ada, &slug, "api", "API").await);

    let (status, body) = api(&app, reqwest::Method::GET, "/api/v1/whoami", None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")));
    let (status, _) = api(
        &app,
        reqwest::Method::GET,
        "/api/v1/whoami",
        Some("Key tdk_abcdefghij_0123456789012345678901234567890123456"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = api(&app, reqwest::Method::GET, &format!("/api/v1/teams/{slug}/keys"), Some(&api_key)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden")),
        "an API-scoped key cannot manage"
    );
    assert!(body["message"].as_str().unwrap().contains("ADMIN-scoped"));
    let (status, body) =
        api(&app, reqwest::Method::GET, &format!("/api/v1/teams/{other}/members"), Some(&api_key)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found")),
        "another team does not exist"
    );
    let (status, body) =
        api(&app, reqwest::Method::GET, &format!("/api/v1/teams/{slug}/members"), Some(&api_key)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["members"][0]["email"], "ada@example.com");
    let session_only = ada.get("/api/v1/whoami").await;
    assert_eq!(session_only.status(), StatusCode::UNAUTHORIZED, "the session cookie is not accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_scoped_key_manages_keys_and_a_deleted_key_stops_working_at_once() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let admin_key = format!("Key {}", create_key(&ada, &slug, "deploy", "ADMIN").await);
    let client = reqwest::Client::new();

    let created = client
        .post(format!("{}/api/v1/teams/{slug}/keys", app.address))
        .header("Authorization", &admin_key)
        .json(&serde_json::json!({ "name": "made by api", "scope": "API" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let new_secret = created["secret"].as_str().unwrap().to_owned();
    let new_id = created["key"]["id"].as_str().unwrap().to_owned();
    let (status, list) = api(&app, reqwest::Method::GET, &format!("/api/v1/teams/{slug}/keys"), Some(&admin_key)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["keys"].as_array().unwrap().len(), 2);
    assert!(!list.to_string().contains(&new_secret), "a listing never holds a secret");

    let (status, _) =
        api(&app, reqwest::Method::DELETE, &format!("/api/v1/teams/{slug}/keys/{new_id}"), Some(&admin_key)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api(&app, reqwest::Method::GET, "/api/v1/whoami", Some(&format!("Key {new_secret}"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "revoked at once");
    let audit = ada.page(&format!("/a/{slug}/audit"), StatusCode::OK).await;
    assert!(audit.contains("team key deploy") && audit.contains("deleted the API key made by api"), "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_sees_the_keys_read_only_and_developers_are_refused() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    create_key(&ada, &slug, "prod", "API").await;
    let bill = app.signed_up("Bill", "bill@example.com").await;
    let dev = app.signed_up("Dev", "dev@example.com").await;
    app.add_member(&slug, "bill@example.com", Role::Billing).await;
    app.add_member(&slug, "dev@example.com", Role::Developer).await;

    let page = bill.page(&format!("/a/{slug}/keys"), StatusCode::OK).await;
    assert!(page.contains("<td>prod</td>") && !page.contains("Create a key") && !page.contains("/delete"));
    let refused =
        bill.submit(&format!("/a/{slug}/keys"), &format!("/a/{slug}/keys"), &[("name", "x"), ("scope", "API")]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(dev.get(&format!("/a/{slug}/keys")).await.status(), StatusCode::FORBIDDEN);
    assert!(
        !dev.page(&format!("/a/{slug}"), StatusCode::OK).await.contains("API keys</a>"),
        "no nav entry for developers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keys_of_an_archived_team_stop_working() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let key = format!("Key {}", create_key(&ada, &slug, "prod", "ADMIN").await);
    assert_eq!(api(&app, reqwest::Method::GET, "/api/v1/whoami", Some(&key)).await.0, StatusCode::OK);

    ada.submit(&format!("/a/{slug}/settings"), &format!("/a/{slug}/settings/archive"), &[("confirm_name", "Acme")])
        .await;

    assert_eq!(api(&app, reqwest::Method::GET, "/api/v1/whoami", Some(&key)).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_the_api() {
    let app = spawn_app().await;
    let (status, doc) = api(&app, reqwest::Method::GET, "/api/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/api/v1/whoami", "/api/v1/teams/{slug}/keys", "/api/v1/teams/{slug}/requests"] {
        assert!(doc["paths"].get(path).is_some(), "{path}");
    }
    // How to authenticate: a team key or a login token, and the header that names the team.
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["team_key"]["type"], "apiKey", "{schemes}");
    assert_eq!((&schemes["team_key"]["in"], &schemes["team_key"]["name"]), (&"header".into(), &"Authorization".into()));
    assert_eq!(
        (&schemes["login_token"]["type"], &schemes["login_token"]["scheme"]),
        (&"http".into(), &"bearer".into())
    );
    assert_eq!(doc["security"], serde_json::json!([{ "team_key": [] }, { "login_token": [] }]));
    let whoami = &doc["paths"]["/api/v1/whoami"]["get"];
    let team = whoami["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "X-Teamdeck-Team");
    assert_eq!(team.map(|p| &p["in"]), Some(&"header".into()), "{whoami}");
    assert_eq!(doc["paths"]["/api/v1/device/code"]["post"]["security"], serde_json::json!([{}]), "no credential yet");
    assert_eq!(doc["paths"]["/api/v1/auth/logout"]["post"]["security"], serde_json::json!([{ "login_token": [] }]));
    assert_eq!(doc["paths"]["/api/v1/introspect"]["post"]["security"], serde_json::json!([{ "service_token": [] }]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_record_is_lost_when_the_server_stops_gracefully() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let key = format!("Key {}", create_key(&ada, &slug, "prod", "API").await);
    let calls = (0..40).map(|_| api(&app, reqwest::Method::GET, "/api/v1/whoami", Some(&key)));
    let statuses = futures_util::future::join_all(calls).await;
    assert!(statuses.iter().all(|(s, _)| *s == StatusCode::OK));

    let app = app.stop().await;

    assert_eq!(app.count_rows("api_requests").await, 40, "every call was written before the process ended");
    // The database numbers them in the order written (appends to the end of the table),
    // rather than the random ids every other table gets.
    assert_eq!(app.count("SELECT MAX(id) - MIN(id) + 1 AS n FROM api_requests".into()).await, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_member_keeps_the_keys_they_created_and_says_which_they_are() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let bob = app.signed_up("Bob", "bob@example.com").await;
    app.add_member(&slug, "bob@example.com", Role::Admin).await;
    let bobs_key = format!("Key {}", create_key(&bob, &slug, "bob-laptop", "API").await);
    let bob_id = app.user_id("bob@example.com").await;

    let confirm = ada.page(&format!("/a/{slug}/members/{bob_id}/remove"), StatusCode::OK).await;
    assert!(confirm.contains("Keys Bob created") && confirm.contains("bob-laptop (API, tdk_"), "{confirm}");
    ada.submit(&format!("/a/{slug}/members"), &format!("/a/{slug}/members/{bob_id}/remove"), &[]).await;

    assert_eq!(
        api(&app, reqwest::Method::GET, "/api/v1/whoami", Some(&bobs_key)).await.0,
        StatusCode::OK,
        "team keys belong to the team"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_that_is_not_a_number_names_nothing_and_is_answered_404() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let admin_key = format!("Key {}", create_key(&ada, &slug, "deploy", "ADMIN").await);

    for path in [format!("/a/{slug}/keys/abc/delete"), format!("/a/{slug}/billing/invoices/abc")] {
        let page = ada.page(&path, StatusCode::NOT_FOUND).await;
        assert!(page.contains("<h1>"), "the site's own not-found page for {path}: {page}");
    }
    let (status, answer) =
        api(&app, reqwest::Method::DELETE, &format!("/api/v1/teams/{slug}/keys/abc"), Some(&admin_key)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["code"], "not_found", "{answer}");
}
