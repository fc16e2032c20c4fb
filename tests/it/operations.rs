//! What operators read and rely on: `/metrics` behind its token, the request history's
//! retention, and readiness.

use crate::helpers::{spawn_app, spawn_app_with};
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_refused_without_the_configured_token_and_report_requests_pool_and_outbox() {
    let off = spawn_app().await;
    let page = reqwest::get(format!("{}/metrics", off.address)).await.unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND, "no token configured: no metrics");

    let app = spawn_app_with(|s| s.metrics_token = Some("scrape-me".into())).await;
    app.browser().page("/login", StatusCode::OK).await;
    let client = reqwest::Client::new();
    let url = format!("{}/metrics", app.address);
    for auth in [None, Some("Bearer wrong"), Some("scrape-me")] {
        let mut request = client.get(&url);
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        assert_eq!(request.send().await.unwrap().status(), StatusCode::UNAUTHORIZED, "{auth:?}");
    }
    let answer = client.get(&url).header("Authorization", "Bearer scrape-me").send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(answer.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = answer.text().await.unwrap();
    for expected in [
        "teamdeck_http_requests_total{route=\"/login\",status=\"200\"} 1",
        "teamdeck_http_request_duration_seconds_bucket{le=\"+Inf\"}",
        "teamdeck_db_pool_in_use ",
        "teamdeck_outbox_due ",
        "teamdeck_outbox_leased ",
        "teamdeck_outbox_failed 0",
        "teamdeck_request_records_queued ",
        "teamdeck_request_records_dropped_total 0",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    assert!(!text.contains("scrape-me"), "the token is not shown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_records_past_their_retention_are_deleted_and_the_rest_kept() {
    let app = spawn_app().await;
    let now = teamdeck::domain::now_ms();
    let day = 24 * 3600 * 1000_i64;
    let mut values = Vec::new();
    for i in 0..2_500 {
        values.push(format!("(1, 'GET', '/api/v1/whoami', 200, 1, {})", now - 100 * day + i));
    }
    for i in 0..5 {
        values.push(format!("(1, 'GET', '/api/v1/whoami', 200, 1, {})", now - 10 * day + i));
    }
    for chunk in values.chunks(500) {
        let sql = format!(
            "INSERT INTO api_requests (account_id, method, path, status, duration_ms, created_at) VALUES {}",
            chunk.join(", ")
        );
        app.outside(sql).await;
    }
    // A second instance on the same database starts with a 30-day retention: its first pass.
    let _second = spawn_app_with({
        let (url, data_dir) = (app.database_url.clone(), app.data_dir.path().to_path_buf());
        move |s| {
            s.database_url = Some(url);
            s.data_dir = data_dir; // its keys
            s.request_retention_days = 30;
        }
    })
    .await;
    for _ in 0..200 {
        if app.count_rows("api_requests").await == 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(app.count_rows("api_requests").await, 5, "the 2,500 old records went, in batches; the recent stayed");
}

/// On PostgreSQL: the app's database refuses connections and every one it had is ended
/// (`on`), as a database restart does, or takes connections again.
async fn stop_database(app: &crate::helpers::TestApp, on: bool) {
    let server = std::env::var("TEST_DATABASE_URL").unwrap();
    let name = app.database_url.rsplit('/').next().unwrap().split('?').next().unwrap().to_owned();
    tokio::task::spawn_blocking(move || {
        use diesel::Connection;
        use diesel::connection::SimpleConnection;
        let mut admin = diesel::PgConnection::establish(&server).unwrap();
        let allow = if on { "false" } else { "true" };
        let mut sql = format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS {allow};");
        if on {
            sql.push_str(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid();"
            ));
        }
        admin.batch_execute(&sql).unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_database_is_down_requests_get_503_with_retry_after_and_readiness_says_so_at_once() {
    if std::env::var("TEST_DATABASE_URL").is_err() {
        return; // a database that can be stopped and started under a running app: PostgreSQL
    }
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let key = format!("Key {}", crate::keys::create_key(&ada, &slug, "prod", "API").await);
    let client = reqwest::Client::new();
    let ready = || client.get(format!("{}/readyz", app.address)).send();
    assert_eq!(ready().await.unwrap().status(), StatusCode::OK);

    stop_database(&app, true).await;
    let started = std::time::Instant::now();
    let answer = ready().await.unwrap();
    assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(started.elapsed() < std::time::Duration::from_millis(2500), "{:?}", started.elapsed());
    let page = ada.get(&format!("/a/{slug}/members")).await;
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE, "a page, not a 500");
    assert!(page.headers().contains_key("retry-after"));
    assert!(page.text().await.unwrap().contains("cannot reach its database"));
    // A key this instance keeps in memory may still be answered; anything else is a 503.
    let api = client.get(format!("{}/api/v1/whoami", app.address)).header("Authorization", &key).send().await.unwrap();
    if api.status() != StatusCode::OK {
        assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE, "JSON, not a 500");
        assert!(api.headers().contains_key("retry-after"));
        assert!(api.text().await.unwrap().contains("\"code\":\"unavailable\""));
    }

    stop_database(&app, false).await;
    for _ in 0..100 {
        if ready().await.unwrap().status() == StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(ada.get(&format!("/a/{slug}/members")).await.status(), StatusCode::OK, "recovered by itself");
}
