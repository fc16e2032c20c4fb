//! Walks every registered route and checks that what it declares is what it enforces:
//! signed-out callers are sent to sign in, non-members get 404, members whose role lacks the
//! permission get 403, everyone allowed gets through, and nothing answers 5xx.

use crate::helpers::{Browser, csrf_token, location};
use actix_web::http::Method;
use reqwest::StatusCode;
use teamdeck::domain::Role;
use teamdeck::http::Access;

/// The path with real values: the team, a member to act on, a pending invitation.
fn concrete(path: &str, slug: &str, user_id: i64, invitation_id: i64, key_id: i64, invoice_id: &str) -> String {
    path.replace("{slug}", slug)
        .replace("{invoice_id}", invoice_id)
        .replace("{key_id}", &key_id.to_string())
        .replace("{name}", "app.css")
        .replace("{app}", APP)
        .replace("{secret}", SECRET)
        .replace("{user_id}", &user_id.to_string())
        .replace("{id}", &invitation_id.to_string())
        .replace("{token}", "not-a-real-token")
}

/// An app of the team, deployed again before each call that names it (it may be deleted).
const APP: &str = "web";

/// A secret of the team, added again before each call that names it (a developer may delete it too).
const SECRET: &str = "HF_TOKEN";

/// Deploys (or brings back) the team's app [`APP`].
async fn deploy_app(app: &crate::helpers::TestApp, slug: &str) {
    use teamdeck::domain::{AppConfig, AppName};
    let slug = slug.to_owned();
    app.db
        .query(move |conn| {
            use diesel::prelude::*;
            use teamdeck::db::schema::accounts;
            let account_id: i64 = accounts::table.filter(accounts::slug.eq(&slug)).select(accounts::id).first(conn)?;
            let config = AppConfig {
                image: "img:1".into(),
                command: None,
                machine_type: String::new(),
                min_instances: 0,
                max_instances: 1,
                env: vec![],
                public: false,
            }
            .check()
            .unwrap();
            let actor = teamdeck::service::audit::Actor::team_key("routes");
            let id = format!("routes-{}", teamdeck::domain::new_id());
            teamdeck::service::apps::deploy(conn, account_id, &actor, &AppName::parse(APP).unwrap(), &id, &config)
                .map_err(|e| match e {
                    teamdeck::service::apps::AppError::Db(e) => e,
                    other => panic!("{other}"),
                })?;
            Ok(())
        })
        .await
        .unwrap();
}

async fn call(browser: &Browser, method: &Method, path: &str, token: &str) -> reqwest::Response {
    let request = if method == Method::GET {
        browser.client.get(browser.url(path))
    } else if method == Method::DELETE {
        browser.client.delete(browser.url(path))
    } else if method == Method::PUT {
        browser.client.put(browser.url(path))
    } else {
        browser.client.post(browser.url(path)).form(&[("csrf_token", token)])
    };
    request.send().await.unwrap()
}

#[tokio::test]
async fn every_route_declares_its_access_and_enforces_it() {
    // The gateway endpoints and the payment webhook exist only when configured.
    let app = crate::helpers::spawn_app_with(|s| {
        s.service_token = Some("service-token".into());
        s.billing_webhook_secret = Some("webhook-secret".into());
    })
    .await;
    let admin = app.signed_up("Admin", "admin@example.com").await;
    let slug = admin.create_team("Acme").await;
    let outsider = app.signed_up("Outsider", "outsider@example.com").await;
    let mut members = vec![(Role::Admin, admin)];
    for role in [Role::Developer, Role::Billing] {
        let email = format!("{}@example.com", role.as_str());
        let browser = app.signed_up(role.label(), &email).await;
        app.add_member(&slug, &email, role).await;
        members.push((role, browser));
    }
    // Someone to act on, and a pending invitation.
    app.signed_up("Target", "target@example.com").await;
    app.add_member(&slug, "target@example.com", Role::Developer).await;
    let target_id = app.user_id("target@example.com").await;
    let invited = members[0]
        .1
        .submit(
            &format!("/a/{slug}/members"),
            &format!("/a/{slug}/invites"),
            &[("email", "new@example.com"), ("role", "developer")],
        )
        .await;
    assert_eq!(invited.status(), StatusCode::SEE_OTHER);
    let invitation_id = app.pending_invitation_id(&slug, "new@example.com").await;
    let created = members[0]
        .1
        .submit(&format!("/a/{slug}/keys"), &format!("/a/{slug}/keys"), &[("name", "k"), ("scope", "API")])
        .await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let key_id = app.key_id(&slug, "k").await;
    let ordered = members[0]
        .1
        .submit(&format!("/a/{slug}/billing"), &format!("/a/{slug}/billing/credits"), &[("amount", "50")])
        .await;
    assert_eq!(ordered.status(), StatusCode::SEE_OTHER);
    let invoice_id = location(&ordered).rsplit('/').next().unwrap().to_owned();
    assert!(invoice_id.parse::<i64>().is_ok(), "redirected to the new invoice: {}", location(&ordered));
    let token_of = |html: String| csrf_token(&html).unwrap();
    let outsider_token = token_of(outsider.page("/teams/new", StatusCode::OK).await);
    let mut member_tokens = Vec::new();
    for (_, browser) in &members {
        member_tokens.push(token_of(browser.page("/teams/new", StatusCode::OK).await));
    }

    let mut specs = teamdeck::startup::routes().specs();
    // Leaving takes the probing members out of the team: walk it last.
    specs.sort_by_key(|s| s.method == Method::POST && s.path.ends_with("/leave"));
    assert!(specs.len() >= 30, "the table lists the routes: {specs:?}");
    for spec in specs {
        let path = concrete(spec.path, &slug, target_id, invitation_id, key_id, &invoice_id);
        let what = format!("{} {}", spec.method, spec.path);
        // Signed out.
        let anonymous = call(&app.browser(), &spec.method, &path, "").await;
        match spec.access {
            Access::Public => assert_ne!(location(&anonymous).split('?').next(), Some("/login"), "{what} is public"),
            Access::Api => {
                assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{what} needs a credential");
                assert_eq!(anonymous.headers()["content-type"], "application/json", "{what} answers JSON");
            }
            _ => {
                assert_eq!(anonymous.status(), StatusCode::SEE_OTHER, "{what} needs a signed-in user");
                assert!(location(&anonymous).starts_with("/login"), "{what}");
            }
        }
        assert!(!anonymous.status().is_server_error(), "{what}: {}", anonymous.status());
        let Access::Team(permission) = spec.access else { continue };
        // Signed in, not a member.
        let response = call(&outsider, &spec.method, &path, &outsider_token).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{what} as a non-member");
        // Each role.
        for ((role, browser), token) in members.iter().zip(&member_tokens) {
            if spec.path.contains("{secret}") {
                let set = members[0]
                    .1
                    .submit(
                        &format!("/a/{slug}/secrets"),
                        &format!("/a/{slug}/secrets"),
                        &[("name", SECRET), ("value", "v")],
                    )
                    .await;
                // Added (303), or there already (422: the add form does not replace).
                assert!(
                    [StatusCode::SEE_OTHER, StatusCode::UNPROCESSABLE_ENTITY].contains(&set.status()),
                    "the secret {SECRET} is there: {}",
                    set.status()
                );
            }
            if spec.path.starts_with("/a/{slug}/apps/{app}") {
                deploy_app(&app, &slug).await;
            }
            let status = call(browser, &spec.method, &path, token).await.status();
            if role.allows(permission) {
                assert!(
                    status.is_success()
                        || status.is_redirection()
                        || status == StatusCode::BAD_REQUEST
                        || status == StatusCode::UNPROCESSABLE_ENTITY,
                    "{what} as {role:?} should be allowed, got {status}"
                );
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{what} as {role:?}");
            }
        }
    }
}

#[actix_web::test]
async fn a_route_registered_without_a_declared_access_is_refused() {
    use actix_web::{App, HttpResponse, middleware::from_fn, test, web};
    let table = teamdeck::startup::routes();
    let app = test::init_service(
        App::new()
            .configure(|cfg| table.configure(cfg))
            .route("/sneaky", web::get().to(|| async { HttpResponse::Ok().body("secret") }))
            .wrap(from_fn(teamdeck::web::access::enforce)),
    )
    .await;

    let response = test::call_service(&app, test::TestRequest::get().uri("/sneaky").to_request()).await;

    assert_eq!(response.status(), actix_web::http::StatusCode::NOT_FOUND);
}

/// The router tries routes in the table's order (scopes included), so a route registered
/// early could swallow the paths of one declared after it; none does.
#[actix_web::test]
async fn every_route_is_the_one_the_router_picks_for_its_own_path() {
    use actix_web::{App, HttpResponse, middleware::from_fn, test};
    let table = teamdeck::startup::routes();
    let app = test::init_service(App::new().configure(|cfg| table.configure(cfg)).wrap(from_fn(
        |req: actix_web::dev::ServiceRequest, _: actix_web::middleware::Next<actix_web::body::BoxBody>| async move {
            let pattern = req.match_pattern().unwrap_or_else(|| "(none)".to_owned());
            Ok::<_, actix_web::Error>(req.into_response(HttpResponse::Ok().body(pattern)))
        },
    )))
    .await;
    for spec in table.specs() {
        let path = concrete(spec.path, "acme", 7, 8, 9, "10");
        let request = test::TestRequest::default().method(spec.method.clone()).uri(&path).to_request();
        let matched = test::call_and_read_body(&app, request).await;
        assert_eq!(std::str::from_utf8(&matched).unwrap(), spec.path, "{} {path}", spec.method);
    }
}

/// An admin whose address is not verified yet: every route declared as needing a verified
/// address refuses them with a page that says why and offers a new link.
#[tokio::test]
async fn every_route_that_needs_a_verified_address_refuses_an_unverified_person() {
    let app = crate::helpers::spawn_app().await;
    let admin = app.signed_up("Admin", "admin@example.com").await;
    let slug = admin.create_team("Acme").await;
    let invited = admin
        .submit(
            &format!("/a/{slug}/members"),
            &format!("/a/{slug}/invites"),
            &[("email", "new@example.com"), ("role", "developer")],
        )
        .await;
    assert_eq!(invited.status(), StatusCode::SEE_OTHER);
    let invitation_id = app.pending_invitation_id(&slug, "new@example.com").await;
    let unverified = app.unverified("Eve", "eve@example.com").await;
    app.add_member(&slug, "eve@example.com", Role::Admin).await;
    let token = csrf_token(&unverified.page("/account", StatusCode::OK).await).unwrap();

    let specs: Vec<_> =
        teamdeck::startup::routes().specs().into_iter().filter(|s| s.access.needs_verified_address()).collect();
    assert!(specs.iter().any(|s| s.path == "/teams/new"), "{specs:?}");
    assert!(specs.iter().any(|s| s.path == "/a/{slug}/members/bulk/confirm"), "{specs:?}");
    for spec in specs {
        let path = concrete(spec.path, &slug, 0, invitation_id, 0, "0");
        let what = format!("{} {}", spec.method, spec.path);
        let response = call(&unverified, &spec.method, &path, &token).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{what}");
        let html = response.text().await.unwrap();
        assert!(html.contains("Verify your email address first: we sent a link to eve@example.com."), "{what}: {html}");
        assert!(html.contains("Resend the link"), "{what}");
    }
}

/// `HEAD` is answered wherever `GET` is, with the headers and no body; any method a known
/// path does not take gets 405 with `Allow` (pages and API alike), and an unknown path 404.
#[tokio::test]
async fn head_is_answered_on_every_get_route_and_other_methods_get_405_with_allow() {
    let app = crate::helpers::spawn_app().await;
    let admin = app.signed_up("Admin", "admin@example.com").await;
    let slug = admin.create_team("Acme").await;
    let mut gets = 0;
    for spec in teamdeck::startup::routes().specs() {
        if spec.method != Method::GET || spec.path.contains('{') && !spec.path.ends_with("{slug}") {
            continue;
        }
        let path = spec.path.replace("{slug}", &slug);
        let (get, head) = (admin.get(&path).await, admin.client.head(admin.url(&path)).send().await.unwrap());
        assert_eq!(head.status(), get.status(), "HEAD {path}");
        assert_eq!(head.headers().get("content-type"), get.headers().get("content-type"), "HEAD {path}");
        assert!(head.bytes().await.unwrap().is_empty(), "HEAD {path} sends no body");
        gets += 1;
    }
    assert!(gets > 10, "the walk reached the routes: {gets}");
    let head = admin.client.head(admin.url(&format!("/a/{slug}/members"))).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK, "a team page, through its access check");

    for (method, path, allow) in [
        (Method::DELETE, "/login".to_owned(), "GET, HEAD, POST"),
        (Method::PUT, format!("/a/{slug}/members"), "GET, HEAD"),
        (Method::PATCH, "/api/v1/whoami".to_owned(), "GET, HEAD"),
        (Method::GET, "/api/v1/device/code".to_owned(), "POST"),
    ] {
        let response = admin.client.request(method.as_str().parse().unwrap(), admin.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
        let json = path.starts_with("/api/");
        let body = response.text().await.unwrap();
        assert_eq!(body.contains("\"code\":\"method_not_allowed\""), json, "{method} {path}: {body}");
        assert!(body.contains("That action is not available here."), "{method} {path}: {body}");
    }
    assert_eq!(admin.client.delete(admin.url("/no/such/page")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
}
