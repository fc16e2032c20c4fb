//! A team's apps: deployed through the API with an ADMIN-scoped key or the login token of an
//! admin or developer, run by the platform's runtime through its contract (changes since a
//! cursor, a revision's environment, status reports), rolled back and deleted.

use crate::helpers::{Browser, TestApp, spawn_app_with};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use teamdeck::domain::Role;

const SERVICE: &str = "Bearer svc-token";

pub(crate) async fn apps_app() -> TestApp {
    spawn_app_with(|s| s.service_token = Some("svc-token".into())).await
}

/// Calls the API: status and JSON body.
pub(crate) async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    auth: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request =
        reqwest::Client::new().request(method, format!("{}{path}", app.address)).header("Authorization", auth);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn set_secret(browser: &Browser, slug: &str, name: &str, value: &str) {
    let page = format!("/a/{slug}/secrets");
    browser.submit(&page, &page, &[("name", name), ("value", value)]).await;
}

fn deployment(id: &str, image: &str, env: &[&str]) -> Value {
    json!({ "deployment_id": id, "image": image, "min_instances": 1, "max_instances": 2, "env": env })
}

async fn deploy(app: &TestApp, slug: &str, name: &str, auth: &str, body: Value) -> (StatusCode, Value) {
    call(app, Method::POST, &format!("/api/v1/teams/{slug}/apps/{name}/deployments"), auth, Some(body)).await
}

async fn changes(app: &TestApp, cursor: i64, wait: u64) -> Value {
    let (status, body) =
        call(app, Method::GET, &format!("/api/v1/runtime/changes?cursor={cursor}&wait={wait}"), SERVICE, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn report(app: &TestApp, app_id: &str, id: &str, revision: i64, status: &str) -> (StatusCode, Value) {
    let body = json!({ "id": id, "revision": revision, "status": status, "message": format!("{status} now"),
        "instances": 1, "endpoint": "https://web.apps.example" });
    call(app, Method::POST, &format!("/api/v1/runtime/apps/{app_id}/reports"), SERVICE, Some(body)).await
}

/// A team "Acme" with secrets HF_TOKEN and DB_URL, its admin Ada, a developer and a billing
/// member; returns their credentials: (slug, ADMIN key, API key, developer token, billing token).
async fn team(app: &TestApp) -> (String, Browser, String, String, String, String) {
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    set_secret(&ada, &slug, "HF_TOKEN", "hf_secret_value").await;
    set_secret(&ada, &slug, "DB_URL", "postgres://db").await;
    set_secret(&ada, &slug, "UNLISTED", "never-sent").await;
    let admin_key = format!("Key {}", crate::keys::create_key(&ada, &slug, "deploy", "ADMIN").await);
    let api_key = format!("Key {}", crate::keys::create_key(&ada, &slug, "runner", "API").await);
    let dev = app.signed_up("Dev", "dev@example.com").await;
    app.add_member(&slug, "dev@example.com", Role::Developer).await;
    let dev_token = format!("Bearer {}", crate::platform::login_token(app, &dev).await);
    let bill = app.signed_up("Bill", "bill@example.com").await;
    app.add_member(&slug, "bill@example.com", Role::Billing).await;
    let bill_token = format!("Bearer {}", crate::platform::login_token(app, &bill).await);
    (slug, ada, admin_key, api_key, dev_token, bill_token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_key_and_a_developer_deploy_and_an_api_key_and_a_billing_member_are_refused() {
    let app = apps_app().await;
    let (slug, _ada, admin_key, api_key, dev_token, bill_token) = team(&app).await;

    let (status, body) =
        deploy(&app, &slug, "Web", &admin_key, deployment("d-1", "ghcr.io/acme/web:1", &["hf_token"])).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["name"], "web", "the name is taken in lowercase");
    assert_eq!(body["status"], "queued");
    assert_eq!(body["revision"]["number"], 1);
    assert_eq!(body["revision"]["env"], json!(["HF_TOKEN"]));
    assert_eq!(body["revision"]["deployed_by"], "team key deploy");

    let (status, body) = deploy(&app, &slug, "web", &dev_token, deployment("d-2", "ghcr.io/acme/web:2", &[])).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["revision"]["number"], 2);
    assert_eq!(body["revision"]["deployed_by"], "Dev", "the member who deployed");

    let (status, body) = deploy(&app, &slug, "web", &api_key, deployment("d-3", "x:3", &[])).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["message"].as_str().unwrap().contains("ADMIN-scoped"), "{body}");
    let (status, body) = deploy(&app, &slug, "web", &bill_token, deployment("d-4", "x:4", &[])).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["message"].as_str().unwrap().contains("Billing"), "{body}");
    for auth in [&api_key, &bill_token] {
        let (status, _) =
            call(&app, Method::POST, &format!("/api/v1/teams/{slug}/apps/web/revisions/1/rollback"), auth, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "rollback by {auth}");
        let (status, _) = call(&app, Method::DELETE, &format!("/api/v1/teams/{slug}/apps/web"), auth, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "delete by {auth}");
    }

    // Everyone of the team sees the apps; the refused calls changed nothing.
    let (status, listed) = call(&app, Method::GET, &format!("/api/v1/teams/{slug}/apps"), &bill_token, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["apps"].as_array().unwrap().len(), 1);
    assert_eq!(listed["apps"][0]["revision"]["number"], 2);
    let (_, revisions) =
        call(&app, Method::GET, &format!("/api/v1/teams/{slug}/apps/web/revisions"), &api_key, None).await;
    assert_eq!(revisions["revisions"].as_array().unwrap().len(), 2);

    // A secret the team does not have, a bad name, a bad configuration.
    let (status, body) = deploy(&app, &slug, "web", &admin_key, deployment("d-5", "x:5", &["NOPE"])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().unwrap().contains("no secret named NOPE"), "{body}");
    let (status, _) = deploy(&app, &slug, "my_app", &admin_key, deployment("d-6", "x:6", &[])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let bad = json!({ "deployment_id": "d-7", "image": "x:7", "min_instances": 3, "max_instances": 1 });
    assert_eq!(deploy(&app, &slug, "web", &admin_key, bad).await.0, StatusCode::BAD_REQUEST);
    let (_, revisions) =
        call(&app, Method::GET, &format!("/api/v1/teams/{slug}/apps/web/revisions"), &api_key, None).await;
    assert_eq!(revisions["revisions"].as_array().unwrap().len(), 2, "no revision for a refused deploy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_id_deploys_once_and_another_configuration_under_it_is_refused() {
    let app = apps_app().await;
    let (slug, _ada, admin_key, ..) = team(&app).await;
    let body = deployment("same-id", "ghcr.io/acme/web@sha256:aa", &["DB_URL"]);
    let (first, one) = deploy(&app, &slug, "web", &admin_key, body.clone()).await;
    let (again, two) = deploy(&app, &slug, "web", &admin_key, body).await;
    assert_eq!((first, again), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(one["revision"]["number"], two["revision"]["number"]);
    let (status, _) = deploy(&app, &slug, "web", &admin_key, deployment("same-id", "other:1", &[])).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(app.count_rows("app_revisions").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_follows_changes_reads_exactly_the_listed_secrets_and_reports_in_order() {
    let app = apps_app().await;
    let (slug, _ada, admin_key, ..) = team(&app).await;

    // Without the service token, nothing.
    let (status, _) = call(&app, Method::GET, "/api/v1/runtime/changes?wait=0", &admin_key, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let empty = changes(&app, 0, 0).await;
    assert_eq!(empty, json!({ "apps": [], "cursor": 0 }));

    // A waiting poll is woken by a deploy, long before its wait ends.
    let started = Instant::now();
    let poll = {
        let (address, url) = (app.address.clone(), "/api/v1/runtime/changes?cursor=0&wait=30");
        tokio::spawn(async move {
            reqwest::Client::new()
                .get(format!("{address}{url}"))
                .header("Authorization", SERVICE)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, deployed) =
        deploy(&app, &slug, "web", &admin_key, deployment("d-1", "img:1", &["HF_TOKEN", "DB_URL"])).await;
    let woken = poll.await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "woken by the deploy: {:?}", started.elapsed());
    assert_eq!(woken["apps"][0]["name"], "web");
    assert_eq!(woken["apps"][0]["desired"], "running");
    assert_eq!(woken["apps"][0]["team"], slug);
    let cursor = woken["cursor"].as_i64().unwrap();
    assert!(cursor > 0);
    assert_eq!(changes(&app, cursor, 0).await["apps"], json!([]), "nothing after the cursor");
    let app_id = deployed["id"].as_str().unwrap().to_owned();

    // The environment holds exactly the listed secrets, opened.
    let (status, env) =
        call(&app, Method::GET, &format!("/api/v1/runtime/apps/{app_id}/revisions/1/environment"), SERVICE, None).await;
    assert_eq!(status, StatusCode::OK, "{env}");
    assert_eq!(env["env"], json!({ "DB_URL": "postgres://db", "HF_TOKEN": "hf_secret_value" }));
    let (status, _) =
        call(&app, Method::GET, &format!("/api/v1/runtime/apps/{app_id}/revisions/1/environment"), &admin_key, None)
            .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a team key never reads values");

    // Reports move forward; a resent one is a duplicate, an older step changes nothing.
    assert_eq!(report(&app, &app_id, "r1", 1, "building").await.1["outcome"], "applied");
    assert_eq!(report(&app, &app_id, "r1", 1, "building").await.1["outcome"], "duplicate");
    assert_eq!(report(&app, &app_id, "r2", 1, "running").await.1["outcome"], "applied");
    assert_eq!(report(&app, &app_id, "r3", 1, "starting").await.1["outcome"], "kept");
    assert_eq!(report(&app, &app_id, "r9", 7, "running").await.0, StatusCode::NOT_FOUND);
    assert_eq!(report(&app, &app_id, "bad", 1, "exploded").await.0, StatusCode::BAD_REQUEST);
    let (_, listed) = call(&app, Method::GET, &format!("/api/v1/teams/{slug}/apps"), &admin_key, None).await;
    assert_eq!(listed["apps"][0]["status"], "running");
    assert_eq!(listed["apps"][0]["endpoint"], "https://web.apps.example");

    // A second revision supersedes the first: its late reports are kept, the app follows rev 2.
    deploy(&app, &slug, "web", &admin_key, deployment("d-2", "img:2", &[])).await;
    let next = changes(&app, cursor, 0).await;
    assert_eq!(next["apps"][0]["revision"]["number"], 2);
    assert_eq!(report(&app, &app_id, "r4", 2, "building").await.1["outcome"], "applied");
    assert_eq!(report(&app, &app_id, "r5", 1, "failed").await.1["outcome"], "kept", "rev 1 is superseded");
    let (_, listed) = call(&app, Method::GET, &format!("/api/v1/teams/{slug}/apps"), &admin_key, None).await;
    assert_eq!(listed["apps"][0]["status"], "building", "{listed}");
    assert_eq!(app.count_rows("app_status_reports").await, 5, "r1 to r5, each kept once");
    let (_, env) =
        call(&app, Method::GET, &format!("/api/v1/runtime/apps/{app_id}/revisions/2/environment"), SERVICE, None).await;
    assert_eq!(env["env"], json!({}), "revision 2 lists no secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_deploys_an_old_configuration_again_and_a_delete_tells_the_runtime() {
    let app = apps_app().await;
    let (slug, _ada, admin_key, _api_key, dev_token, _) = team(&app).await;
    deploy(&app, &slug, "web", &admin_key, deployment("d-1", "img:1", &["HF_TOKEN"])).await;
    deploy(&app, &slug, "web", &admin_key, deployment("d-2", "img:2", &[])).await;
    let (status, body) =
        call(&app, Method::POST, &format!("/api/v1/teams/{slug}/apps/web/revisions/1/rollback"), &dev_token, None)
            .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["revision"]["number"], 3);
    assert_eq!(body["revision"]["image"], "img:1");
    assert_eq!(body["revision"]["env"], json!(["HF_TOKEN"]));
    assert_eq!(body["revision"]["rollback_of"], 1);
    let (status, _) =
        call(&app, Method::POST, &format!("/api/v1/teams/{slug}/apps/web/revisions/9/rollback"), &dev_token, None)
            .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let cursor = changes(&app, 0, 0).await["cursor"].as_i64().unwrap();
    let (status, _) = call(&app, Method::DELETE, &format!("/api/v1/teams/{slug}/apps/web"), &dev_token, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let after = changes(&app, cursor, 0).await;
    assert_eq!(after["apps"][0]["desired"], "deleted");
    let (_, listed) = call(&app, Method::GET, &format!("/api/v1/teams/{slug}/apps"), &admin_key, None).await;
    assert_eq!(listed["apps"], json!([]));
    let (status, _) = call(&app, Method::DELETE, &format!("/api/v1/teams/{slug}/apps/web"), &dev_token, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "deleted once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archiving_a_team_tells_the_runtime_to_stop_its_apps_and_refuses_deploys() {
    let app = apps_app().await;
    let (slug, ada, _admin_key, _api_key, dev_token, _) = team(&app).await;
    let (_, deployed) = deploy(&app, &slug, "web", &dev_token, deployment("d-1", "img:1", &["HF_TOKEN"])).await;
    let app_id = deployed["id"].as_str().unwrap().to_owned();
    let cursor = changes(&app, 0, 0).await["cursor"].as_i64().unwrap();
    let archived = ada
        .submit(&format!("/a/{slug}/settings"), &format!("/a/{slug}/settings/archive"), &[("confirm_name", "Acme")])
        .await;
    assert_eq!(archived.status(), StatusCode::SEE_OTHER);
    let after = changes(&app, cursor, 0).await;
    assert_eq!(after["apps"][0]["desired"], "stopped", "{after}");
    let (status, _) =
        call(&app, Method::GET, &format!("/api/v1/runtime/apps/{app_id}/revisions/1/environment"), SERVICE, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "no secrets for an app that must stop");
    let (status, _) = deploy(&app, &slug, "web", &dev_token, deployment("d-2", "img:2", &[])).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, listed) = call(&app, Method::GET, &format!("/api/v1/teams/{slug}/apps"), &dev_token, None).await;
    assert_eq!((status, listed["apps"].as_array().unwrap().len()), (StatusCode::OK, 1), "still listed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_apps_pages_show_status_poll_only_while_deploying_and_let_developers_roll_back_but_not_billing() {
    let app = apps_app().await;
    let (slug, ada, admin_key, _api_key, _dev_token, _) = team(&app).await;
    let list = format!("/a/{slug}/apps");
    let empty = ada.page(&list, StatusCode::OK).await;
    assert!(empty.contains("No apps yet.") && empty.contains("teamdeck apps deploy"), "{empty}");
    assert!(empty.contains(&format!("href=\"{list}\" aria-current=\"page\"")), "in the navigation: {empty}");

    let (_, deployed) = deploy(&app, &slug, "web", &admin_key, deployment("d-1", "img:1", &["HF_TOKEN"])).await;
    deploy(&app, &slug, "web", &admin_key, deployment("d-2", "img:2", &[])).await;
    let app_id = deployed["id"].as_str().unwrap().to_owned();
    let page = ada.page(&list, StatusCode::OK).await;
    assert!(page.contains("Queued") && page.contains("team key deploy") && page.contains("#2 img:2"), "{page}");
    assert!(page.contains("hx-trigger=\"every 3s\""), "polls while the revision is queued: {page}");

    report(&app, &app_id, "r1", 2, "running").await;
    let page = ada.page(&list, StatusCode::OK).await;
    assert!(page.contains("Running") && page.contains("https://web.apps.example"), "{page}");
    assert!(!page.contains("hx-trigger"), "no polling once running: {page}");
    let fragment =
        ada.client.get(ada.url(&list)).header("HX-Request", "true").send().await.unwrap().text().await.unwrap();
    assert!(fragment.starts_with("<div class=\"card\" id=\"apps-list\"") && !fragment.contains("<html"), "{fragment}");

    let detail = ada.page(&format!("{list}/web"), StatusCode::OK).await;
    assert!(detail.contains("image: img:1 → img:2") && detail.contains("env: HF_TOKEN → (none)"), "the diff: {detail}");
    assert!(detail.contains("Roll back to #1") && detail.contains("Delete app"), "{detail}");
    let rolled = ada.submit(&format!("{list}/web"), &format!("{list}/web/rollback"), &[("revision", "1")]).await;
    assert_eq!(rolled.status(), StatusCode::SEE_OTHER);
    let detail = ada.page(&format!("{list}/web"), StatusCode::OK).await;
    assert!(detail.contains("revision 3 deploys the configuration of revision 1"), "{detail}");
    assert!(detail.contains("rollback to #1"), "{detail}");

    // A billing member reads the pages and is offered nothing, and refused if they try.
    let bill = app.signed_in("bill@example.com").await;
    let read_only = bill.page(&format!("{list}/web"), StatusCode::OK).await;
    assert!(!read_only.contains("Roll back to") && !read_only.contains("Delete app"), "{read_only}");
    let token = crate::helpers::csrf_token(&read_only).unwrap();
    for (path, fields) in
        [(format!("{list}/web/rollback"), vec![("revision", "1")]), (format!("{list}/web/delete"), vec![])]
    {
        let mut form = vec![("csrf_token", token.as_str())];
        form.extend(fields);
        let response = bill.client.post(bill.url(&path)).form(&form).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "POST {path} by a billing member");
    }
    // Without the CSRF token, refused too.
    let response = ada.client.post(ada.url(&format!("{list}/web/delete"))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let deleted = ada.submit(&format!("{list}/web"), &format!("{list}/web/delete"), &[]).await;
    assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
    let page = ada.page(&list, StatusCode::OK).await;
    assert!(page.contains("App web deleted") && page.contains("No apps yet."), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_events_may_name_one_of_the_teams_apps() {
    let app = apps_app().await;
    let (slug, _ada, admin_key, ..) = team(&app).await;
    deploy(&app, &slug, "web", &admin_key, deployment("d-1", "img:1", &[])).await;
    let (_, me) = call(&app, Method::GET, "/api/v1/whoami", &admin_key, None).await;
    let key_id = me["key"]["id"].as_str().map(str::to_owned).unwrap_or_else(|| me["key_id"].to_string());
    let at = teamdeck::domain::When::from_ms(teamdeck::domain::now_ms() - 1000).iso;
    let event = |id: &str, app_name: &str| {
        json!({ "id": id, "account": slug, "key": key_id, "product": "chat", "quantity": 1, "unit": "call",
            "unit_price": 10, "at": at, "app": app_name })
    };
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/v1/usage/events",
        SERVICE,
        Some(json!({ "events": [event("u1", "web"), event("u2", "nope")] })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accepted"], 1, "{body}");
    assert_eq!(body["rejected"][0]["reason"], "`app` is not an app of this account");
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM usage_events WHERE app = 'web'".into()).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_runtime_runs_a_revisions_command_with_its_secrets_and_reports_it_running() {
    let app = apps_app().await;
    let (slug, _ada, admin_key, ..) = team(&app).await;
    let out = app.data_dir.path().join("seen-env");
    let command = format!("printf %s \"$HF_TOKEN\" > '{}'; exec sleep 5", out.display());
    let body = json!({ "deployment_id": "d-1", "image": "local", "command": command, "env": ["HF_TOKEN"] });
    let (status, _) = deploy(&app, &slug, "web", &admin_key, body).await;
    assert_eq!(status, StatusCode::CREATED);
    let mut runtime = std::process::Command::new(env!("CARGO_BIN_EXE_teamdeck"))
        .args(["runtime", "--exec", "--server", &app.address, "--service-token", "svc-token"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let listed = loop {
        let (_, listed) = call(&app, Method::GET, &format!("/api/v1/teams/{slug}/apps"), &admin_key, None).await;
        if listed["apps"][0]["status"] == "running" || Instant::now() > deadline {
            break listed;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    runtime.kill().unwrap();
    runtime.wait().unwrap();
    assert_eq!(listed["apps"][0]["status"], "running", "{listed}");
    assert!(listed["apps"][0]["endpoint"].as_str().unwrap().starts_with("http://127.0.0.1:"), "{listed}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "hf_secret_value", "the command got its secret");
}
