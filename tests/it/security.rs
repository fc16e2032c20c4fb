//! CSRF, security headers, cookies, escaping and error rendering.

use crate::helpers::{csrf_token, spawn_app, spawn_app_with};
use reqwest::StatusCode;

const HEADERS: [(&str, &str); 4] = [
    ("content-security-policy", "default-src 'none'; script-src 'self'; style-src 'self';"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("x-frame-options", "DENY"),
];

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    let browser = app.signed_up("Ada", "ada@example.com").await;
    for path in ["/a/ada", "/login", "/a/missing", "/no/such/page", "/static/app.css", "/healthz"] {
        let response = browser.get(path).await;
        for (name, expected) in HEADERS {
            let value = response.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
            assert!(value.as_deref().is_some_and(|v| v.starts_with(expected)), "{path}: {name} = {value:?}");
        }
        let csp = response.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"), "{csp}");
    }
}

#[tokio::test]
async fn pages_have_no_inline_script_or_style_and_configure_htmx_safely() {
    let app = spawn_app().await;
    let browser = app.signed_up("Ada", "ada@example.com").await;
    let page = browser.page("/a/ada", StatusCode::OK).await;
    assert!(!page.contains("<script>") && !page.contains("style="), "nothing inline");
    assert!(page.contains("\"includeIndicatorStyles\":false") && page.contains("\"allowEval\":false"));
    assert!(page.contains("<body class=\"app\" hx-headers='{\"X-CSRF-Token\": \""), "htmx sends the token");
}

#[tokio::test]
async fn a_form_post_without_the_csrf_token_is_refused() {
    let app = spawn_app().await;
    let browser = app.signed_up("Ada", "ada@example.com").await;

    let missing = browser.client.post(browser.url("/teams/new")).form(&[("name", "Acme")]).send().await.unwrap();
    let wrong = browser
        .client
        .post(browser.url("/teams/new"))
        .form(&[("csrf_token", "forged"), ("name", "Acme")])
        .send()
        .await
        .unwrap();

    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert!(wrong.text().await.unwrap().contains("This form has expired or was sent from another site."));
    assert_eq!(browser.get("/a/acme").await.status(), StatusCode::NOT_FOUND, "no team was created");
}

#[tokio::test]
async fn an_htmx_request_is_checked_by_its_header_and_refused_with_a_toast() {
    let app = spawn_app().await;
    let browser = app.signed_up("Ada", "ada@example.com").await;
    let token = csrf_token(&browser.page("/teams/new", StatusCode::OK).await).unwrap();

    let refused = browser
        .client
        .post(browser.url("/teams/new"))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", "forged")
        .form(&[("name", "Acme")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(refused.headers()["hx-retarget"], "#toasts");
    let toast = refused.text().await.unwrap();
    assert!(toast.starts_with("<div class=\"toast toast--error\" role=\"status\">"), "{toast}");

    let accepted = browser
        .client
        .post(browser.url("/teams/new"))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", token)
        .form(&[("name", "Acme")])
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_cross_site_post_is_refused_even_with_a_valid_token() {
    let app = spawn_app().await;
    let browser = app.signed_up("Ada", "ada@example.com").await;
    let token = csrf_token(&browser.page("/teams/new", StatusCode::OK).await).unwrap();
    let post = |header: (&'static str, &'static str)| {
        browser
            .client
            .post(browser.url("/teams/new"))
            .header(header.0, header.1)
            .form(&[("csrf_token", token.as_str()), ("name", "Acme")])
            .send()
    };

    assert_eq!(post(("Sec-Fetch-Site", "cross-site")).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(post(("Sec-Fetch-Site", "same-site")).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(post(("Origin", "https://evil.example")).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(post(("Sec-Fetch-Site", "same-origin")).await.unwrap().status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn signing_in_needs_the_token_of_the_sign_in_page() {
    let app = spawn_app().await;
    app.signed_up("Ada", "ada@example.com").await;
    let browser = app.browser();

    let response = browser
        .client
        .post(browser.url("/login"))
        .form(&[("email", "ada@example.com"), ("password", crate::helpers::PASSWORD)])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::FORBIDDEN, "login CSRF is refused");
    assert_eq!(browser.get("/").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(crate::helpers::location(&browser.get("/").await), "/login");
}

#[tokio::test]
async fn markup_in_a_team_name_is_shown_as_text() {
    let app = spawn_app().await;
    let browser = app.signed_up("Ada <b>", "ada@example.com").await;
    let payload = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";

    let slug = browser.create_team(payload).await;

    let page = browser.page(&format!("/a/{slug}"), StatusCode::OK).await;
    assert!(!page.contains("<script>alert(1)</script>"), "{page}");
    assert!(!page.contains("<img src=x"));
    assert!(page.contains("&#60;script&#62;alert(1)&#60;/script&#62;&#34;&#62;&#60;img src=x onerror=alert(2)&#62;"));
    assert!(page.contains("Ada &#60;b&#62;"));
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site() {
    let app = spawn_app().await;
    let response = app.browser().get("/login").await;
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("teamdeck="), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"));
    assert!(!cookie.contains("Secure"), "plain http here");
}

#[tokio::test]
async fn behind_https_the_cookie_is_secure_and_host_prefixed() {
    let app = spawn_app_with(|s| s.base_url = Some("https://teamdeck.example.com".into())).await;
    let response = app.browser().get("/login").await;
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-teamdeck="), "{cookie}");
    assert!(cookie.contains("Secure") && cookie.contains("HttpOnly") && !cookie.contains("Domain="));
    assert!(response.headers()["strict-transport-security"].to_str().unwrap().contains("max-age="));
}

#[tokio::test]
async fn a_generated_session_key_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app().await;
    let metadata = std::fs::metadata(app.data_dir.path().join("session.key")).expect("a session key file");
    assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_and_every_file_in_it_are_the_owners_only() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app_with(|s| {
        s.data_dir = s.data_dir.join("data");
        if s.database_url.as_deref().is_some_and(|u| u.starts_with("sqlite")) {
            s.database_url = None; // the default: a file in the data directory
        }
    })
    .await;
    app.browser().sign_up("Ada", "ada@example.com", crate::helpers::PASSWORD).await;
    let data = app.data_dir.path().join("data");
    let outbox = data.join("outbox");
    for _ in 0..100 {
        if std::fs::read_dir(&outbox).is_ok_and(|mut d| d.next().is_some()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&outbox), 0o700);
    let mut files = Vec::new();
    for dir in [&data, &outbox] {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            if entry.file_type().unwrap().is_file() {
                files.push(entry.path());
            }
        }
    }
    let names: Vec<String> = files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert!(names.iter().any(|n| n.ends_with(".eml")), "the verification email: {names:?}");
    assert!(names.iter().any(|n| n == "secrets.key"), "{names:?}");
    if app.sqlite_file.is_some() {
        assert!(names.iter().any(|n| n == "teamdeck.db-wal"), "{names:?}");
    }
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
}

#[tokio::test]
async fn static_files_are_cached_for_a_year_under_their_content_hash() {
    let app = spawn_app().await;
    let browser = app.browser();
    let page = browser.page("/login", StatusCode::OK).await;
    let start = page.find("/static/app.css?v=").unwrap();
    let url = &page[start..page[start..].find('"').unwrap() + start];

    let response = browser.get(url).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(response.headers()["content-type"], "text/css; charset=utf-8");
    let etag = response.headers()["etag"].clone();
    let again = browser.client.get(browser.url(url)).header("If-None-Match", etag).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(browser.get("/static/nope.js").await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    let browser = app.browser();
    assert_eq!(browser.page("/healthz", StatusCode::OK).await, "ok");
    assert_eq!(browser.page("/readyz", StatusCode::OK).await, "ready");
}

#[tokio::test]
async fn unknown_pages_get_a_full_error_page_and_api_paths_get_json() {
    let app = spawn_app().await;
    let browser = app.browser();

    let html = browser.page("/nowhere", StatusCode::NOT_FOUND).await;
    assert!(html.contains("<h1>Page not found</h1>") && html.contains("Go to your dashboard"));

    let response = browser.get("/api/v1/nowhere").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "not_found");
    assert!(body["message"].as_str().unwrap().len() > 10);
}

#[actix_web::test]
async fn request_logs_name_the_route_not_the_path_so_tokens_stay_out_of_logs() {
    use actix_web::{App, test};
    use tracing::Subscriber;
    use tracing_subscriber::layer::{Context, SubscriberExt};
    // Records the fields of every span opened while the request is handled.
    #[derive(Clone, Default)]
    struct Fields(std::sync::Arc<std::sync::Mutex<String>>);
    impl<S: Subscriber> tracing_subscriber::Layer<S> for Fields {
        fn on_new_span(&self, attrs: &tracing::span::Attributes<'_>, _: &tracing::span::Id, _: Context<'_, S>) {
            struct Visit<'a>(&'a mut String);
            impl tracing::field::Visit for Visit<'_> {
                fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                    self.0.push_str(&format!("{}={:?} ", field.name(), value));
                }
            }
            attrs.record(&mut Visit(&mut self.0.lock().unwrap()));
        }
    }
    let fields = Fields::default();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(fields.clone()));
    let app = test::init_service(
        App::new()
            .route("/invites/{token}", actix_web::web::get().to(|| async { "ok" }))
            .wrap(tracing_actix_web::TracingLogger::<teamdeck::telemetry::RequestSpan>::new()),
    )
    .await;

    test::call_service(&app, test::TestRequest::get().uri("/invites/SECRET-TOKEN-VALUE?x=1").to_request()).await;

    let seen = fields.0.lock().unwrap().clone();
    assert!(seen.contains("route=/invites/{token}"), "{seen}");
    assert!(!seen.contains("SECRET-TOKEN-VALUE"), "{seen}");
}

#[tokio::test]
async fn a_page_without_news_sends_no_new_session_cookie() {
    let app = spawn_app().await;
    let browser = app.signed_up("Ada", "ada@example.com").await;
    let slug = browser.create_team("Acme").await;
    // The redirect after creating the team carries a flash; showing it changes the session.
    let first = browser.get(&format!("/a/{slug}")).await;
    assert!(first.headers().contains_key("set-cookie"), "the flash is taken out of the cookie");
    assert!(first.text().await.unwrap().contains("Acme"));
    // Nothing changes after that, so the cookie is neither encrypted again nor resent.
    for path in [format!("/a/{slug}"), format!("/a/{slug}/members"), format!("/a/{slug}/keys")] {
        let again = browser.get(&path).await;
        assert_eq!(again.status(), StatusCode::OK, "{path}");
        assert!(!again.headers().contains_key("set-cookie"), "{path} rewrote the session cookie");
    }
}

#[tokio::test]
async fn markup_in_a_key_name_is_escaped_once_in_its_delete_dialog() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let keys = format!("/a/{slug}/keys");
    let created = ada.submit(&keys, &keys, &[("name", "<b>ci</b>"), ("scope", "API")]).await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);

    let page = ada.page(&keys, StatusCode::OK).await;
    assert!(!page.contains("<b>ci</b>"), "{page}");
    assert!(page.contains("<h2 class=\"dialog__title\" id=\"delete-"), "the dialog: {page}");
    assert!(page.contains("Delete key &#60;b&#62;ci&#60;/b&#62;?</h2>"), "escaped once, not twice: {page}");
    assert!(!page.contains("&amp;#60;") && !page.contains("&#38;#60;"), "{page}");
}
