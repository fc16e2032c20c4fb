//! Server-side sessions: the browser's cookie holds only a random token, and the database
//! decides, for every request on every instance, whether it still signs anyone in.

use crate::helpers::{Browser, PASSWORD, TestApp, location, spawn_app, spawn_app_with};
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use std::time::Duration;
use teamdeck::domain::Clock;

const COOKIE: &str = "teamdeck_session";
const DAY: Duration = Duration::from_secs(24 * 3600);

/// The session token a response sets, if it sets one.
fn token_set_by(response: &reqwest::Response) -> Option<String> {
    response.cookies().find(|c| c.name() == COOKIE).map(|c| c.value().to_owned())
}

/// Signs up a new user and signs a new browser in as them, returning it and the session
/// token its cookie holds.
async fn sign_up(app: &TestApp, name: &str, email: &str) -> (Browser, String) {
    app.registered(name, email).await;
    let browser = app.browser();
    let response = browser.sign_in(email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let token = token_set_by(&response).expect("sign-in sets the session cookie");
    (browser, token)
}

/// A browser with its own user agent and an empty cookie jar.
fn browser_of(app: &TestApp, user_agent: &str) -> Browser {
    let client =
        reqwest::Client::builder().cookie_store(true).user_agent(user_agent).redirect(Policy::none()).build().unwrap();
    Browser { base: app.address.clone(), client }
}

/// GET `path` of `address` with nothing but `cookie` as the session cookie (a copy of it
/// replayed from elsewhere).
async fn replay(address: &str, path: &str, cookie: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
        .get(format!("{address}{path}"))
        .header("Cookie", format!("{COOKIE}={cookie}"))
        .send()
        .await
        .unwrap()
}

async fn signed_in(address: &str, path: &str, cookie: &str) -> bool {
    let response = replay(address, path, cookie).await;
    match response.status() {
        StatusCode::OK => true,
        StatusCode::SEE_OTHER if location(&response).starts_with("/login") => false,
        other => panic!("GET {path}: {other}"),
    }
}

#[tokio::test]
async fn a_copy_of_the_cookie_taken_before_signing_out_signs_no_one_in_afterwards() {
    let app = spawn_app().await;
    let (ada, copy) = sign_up(&app, "Ada", "ada@example.com").await;
    assert!(signed_in(&app.address, "/a/ada", &copy).await, "the copy works while Ada is signed in");

    let out = ada.submit("/a/ada", "/logout", &[]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let dropped = out.headers().get_all("set-cookie").iter().any(|c| {
        let c = c.to_str().unwrap();
        c.starts_with(&format!("{COOKIE}=;")) && c.contains("Max-Age=0")
    });
    assert!(dropped, "signing out drops the cookie");

    let replayed = replay(&app.address, "/a/ada", &copy).await;
    assert_eq!(replayed.status(), StatusCode::SEE_OTHER);
    assert!(location(&replayed).starts_with("/login"), "treated as signed out");
    assert!(
        replayed
            .headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with(&format!("{COOKIE}=;"))),
        "a dead cookie is dropped"
    );
    let form = reqwest::Client::new()
        .post(format!("{}/teams/new", app.address))
        .header("Cookie", format!("{COOKIE}={copy}"))
        .form(&[("name", "Acme")])
        .send()
        .await
        .unwrap();
    assert_ne!(form.status(), StatusCode::SEE_OTHER, "no form is taken from it either");
    assert_eq!(app.count_rows("accounts WHERE slug = 'acme'").await, 0);
}

#[tokio::test]
async fn signing_in_again_starts_a_new_session_and_ends_the_one_the_browser_had() {
    let app = spawn_app().await;
    let (_, first) = sign_up(&app, "Ada", "ada@example.com").await;
    // A sign-in form loaded before, sent by a browser that holds the first session.
    let client = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
    let form = client.get(format!("{}/login", app.address)).send().await.unwrap();
    let pages: Vec<String> = form
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    let csrf = crate::helpers::csrf_token(&form.text().await.unwrap()).unwrap();
    let response = client
        .post(format!("{}/login", app.address))
        .header("Cookie", format!("{}; {COOKIE}={first}", pages.join("; ")))
        .form(&[("csrf_token", csrf.as_str()), ("email", "ada@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let second = token_set_by(&response).expect("a new session cookie");
    assert_ne!(first, second);
    assert!(!signed_in(&app.address, "/a/ada", &first).await, "the old session ended");
    assert!(signed_in(&app.address, "/a/ada", &second).await);
    let hashes =
        app.count(format!("SELECT COUNT(*) AS n FROM sessions WHERE token_hash IN ('{first}', '{second}')")).await;
    assert_eq!(hashes, 0, "the database keeps no token, only its hash");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ended_on_one_instance_is_refused_by_another_at_its_next_request() {
    // Two instances on one database, with the keys they share in production.
    let shared = |s: &mut teamdeck::config::Settings| {
        s.session_key = Some("a session key shared by both instances, 32+ bytes".into());
        s.secrets_key = Some("a secrets key shared by both instances, 32+ bytes".into());
    };
    let one = spawn_app_with(shared).await;
    let url = one.database_url.clone();
    let two = spawn_app_with(move |s| {
        shared(s);
        s.database_url = Some(url);
    })
    .await;
    let (ada, copy) = sign_up(&one, "Ada", "ada@example.com").await;
    assert!(signed_in(&two.address, "/a/ada", &copy).await, "instance two knows the session");

    // Signed out on instance one.
    assert_eq!(ada.submit("/a/ada", "/logout", &[]).await.status(), StatusCode::SEE_OTHER);
    assert!(!signed_in(&two.address, "/a/ada", &copy).await, "refused on instance two at once");

    // Revoked from the sessions page on instance one, while browsing instance two.
    let ada = browser_of(&one, "Firefox/133.0 (X11; Linux x86_64)");
    let response = ada.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let elsewhere = browser_of(&two, "Chrome/131.0 (Macintosh; Intel Mac OS X 10_15_7) Safari/537.36");
    let signed = elsewhere.sign_in("ada@example.com", PASSWORD).await;
    let other = token_set_by(&signed).unwrap();
    assert_eq!(elsewhere.get("/a/ada").await.status(), StatusCode::OK);
    let id =
        one.count("SELECT id AS n FROM sessions WHERE user_agent LIKE 'Chrome%' AND revoked_at IS NULL".into()).await;
    let revoked = ada.submit("/account/sessions", &format!("/account/sessions/{id}/revoke"), &[]).await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    let next = elsewhere.get("/a/ada").await;
    assert_eq!(next.status(), StatusCode::SEE_OTHER, "signed out at its next click");
    assert!(location(&next).starts_with("/login"));
    assert!(!signed_in(&two.address, "/a/ada", &other).await);
}

/// Waits until the session of `token` was noted as used at or after `at` (written after the
/// request was answered).
async fn seen_since(app: &TestApp, user_email: &str, at: i64) {
    for _ in 0..200 {
        let seen = app
            .count(format!(
                "SELECT COALESCE(MAX(s.last_seen_at), 0) AS n FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE u.email = '{user_email}' AND s.revoked_at IS NULL"
            ))
            .await;
        if seen >= at {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the session of {user_email} was not noted as used");
}

#[tokio::test]
async fn an_idle_session_ends_after_the_idle_timeout_and_a_busy_one_at_its_absolute_end() {
    let clock = Clock::movable();
    let moved = clock.clone();
    let app = spawn_app_with(move |s| s.clock = moved).await;
    let (busy, _) = sign_up(&app, "Ada", "ada@example.com").await;
    let (idle, _) = sign_up(&app, "Bob", "bob@example.com").await;

    // Ada comes back every 13 days: each visit keeps her signed in (idle timeout 14 days).
    for _ in 0..2 {
        clock.advance(13 * DAY);
        assert_eq!(busy.get("/a/ada").await.status(), StatusCode::OK);
        seen_since(&app, "ada@example.com", clock.now_ms() - 1_000).await;
    }
    // Bob was away for 26 days: signed out.
    let bob = idle.get("/a/bob").await;
    assert_eq!((bob.status(), location(&bob).starts_with("/login")), (StatusCode::SEE_OTHER, true));

    // Day 31: past the 30 days a session lasts at most, however busy.
    clock.advance(5 * DAY);
    let ada = busy.get("/a/ada").await;
    assert_eq!((ada.status(), location(&ada).starts_with("/login")), (StatusCode::SEE_OTHER, true));
    // Signing in again works, with a new session.
    assert_eq!(busy.sign_in("ada@example.com", PASSWORD).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(busy.get("/a/ada").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn sessions_that_ended_are_forgotten_a_month_later() {
    let clock = Clock::movable();
    let moved = clock.clone();
    let app = spawn_app_with(move |s| s.clock = moved).await;
    let (ada, _) = sign_up(&app, "Ada", "ada@example.com").await;
    assert_eq!(ada.submit("/a/ada", "/logout", &[]).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count_rows("sessions").await, 1, "a revoked session is kept for a while");
    clock.advance(20 * DAY);
    assert_eq!(ada.sign_in("ada@example.com", PASSWORD).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count_rows("sessions").await, 2);
    clock.advance(11 * DAY);
    assert_eq!(ada.submit("/a/ada", "/logout", &[]).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(ada.sign_in("ada@example.com", PASSWORD).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count_rows("sessions").await, 2, "the first, ended 31 days ago, is gone; the second is kept");
}

#[tokio::test]
async fn idle_and_absolute_lifetimes_are_settings() {
    let clock = Clock::movable();
    let moved = clock.clone();
    let app = spawn_app_with(move |s| {
        s.clock = moved;
        s.session_idle_days = 1;
        s.session_lifetime_days = 2;
    })
    .await;
    let (ada, _) = sign_up(&app, "Ada", "ada@example.com").await;
    clock.advance(Duration::from_secs(23 * 3600));
    assert_eq!(ada.get("/a/ada").await.status(), StatusCode::OK);
    seen_since(&app, "ada@example.com", clock.now_ms() - 1_000).await;
    clock.advance(Duration::from_secs(23 * 3600));
    assert_eq!(ada.get("/a/ada").await.status(), StatusCode::OK);
    clock.advance(Duration::from_secs(3 * 3600));
    assert_eq!(ada.get("/a/ada").await.status(), StatusCode::SEE_OTHER, "past two days");
}

#[tokio::test]
async fn malformed_unknown_oversized_or_dead_cookies_sign_no_one_in_and_break_nothing() {
    let app = spawn_app().await;
    let (ada, token) = sign_up(&app, "Ada", "ada@example.com").await;
    // Bob's session, then his account deleted: a session of a user who is gone.
    let (bob, bobs) = sign_up(&app, "Bob", "bob@example.com").await;
    let deleted = bob.submit("/account", "/account/delete", &[("password", PASSWORD)]).await;
    assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
    drop(ada);

    let unknown = "A".repeat(43);
    let truncated = &token[..20];
    let longer = format!("{token}A");
    let oversized = "x".repeat(4000);
    let bad = [
        "",
        "not a token",
        unknown.as_str(),
        truncated,
        longer.as_str(),
        oversized.as_str(),
        "%00%00",
        "%C3%A9%C3%A9",
        bobs.as_str(),
    ];
    for cookie in bad {
        let response = replay(&app.address, "/a/ada", cookie).await;
        let status = response.status();
        assert!(!status.is_server_error(), "{cookie:?}: {status}");
        assert_eq!(status, StatusCode::SEE_OTHER, "{cookie:?}");
        assert!(location(&response).starts_with("/login"), "{cookie:?}");
        let login = replay(&app.address, "/login", cookie).await;
        assert_eq!(login.status(), StatusCode::OK, "{cookie:?}: the sign-in page is shown");
    }
    assert!(signed_in(&app.address, "/a/ada", &token).await, "Ada's own session still works");
    let logs = crate::helpers::captured_logs();
    // The log is the process's: a line naming another test's database (one that a test of
    // outages stops on purpose) is that test's.
    let own = app.database_url.rsplit('/').next().unwrap_or_default();
    let errors: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains(" ERROR ") && (l.contains("session") || l.contains("lookup")))
        .filter(|l| !l.contains("teamdeck_test_") || l.contains(own))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[tokio::test]
async fn the_sessions_page_lists_each_browser_and_signs_out_one_or_every_other() {
    let app = spawn_app().await;
    let here = browser_of(&app, "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0");
    app.registered("Ada", "ada@example.com").await;
    assert_eq!(here.sign_in("ada@example.com", PASSWORD).await.status(), StatusCode::SEE_OTHER);
    let phone = browser_of(&app, "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Version/18.1 Safari/604.1");
    let laptop = browser_of(&app, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Chrome/131.0.0.0 Safari/537.36");
    for other in [&phone, &laptop] {
        assert_eq!(other.sign_in("ada@example.com", PASSWORD).await.status(), StatusCode::SEE_OTHER);
    }

    let page = here.page("/account/sessions", StatusCode::OK).await;
    for device in ["Firefox on Linux", "Safari on iPhone", "Chrome on macOS"] {
        assert!(page.contains(device), "{device} listed");
    }
    assert_eq!(page.matches("This device").count(), 1);
    let this_row = &page[page.find("Firefox on Linux").unwrap()..];
    assert!(this_row[..this_row.find("</tr>").unwrap()].contains("This device"));
    assert!(page.contains("127.0.0.1"), "the client address");
    assert!(page.contains("Sign out everywhere else"));
    assert_eq!(here.page("/account/tokens", StatusCode::OK).await.matches("This device").count(), 1, "same page");

    // Revoke the phone: it is signed out at its next request; the others are not.
    let phone_id = app.count("SELECT id AS n FROM sessions WHERE user_agent LIKE '%iPhone%'".into()).await;
    let revoked = here.submit("/account/sessions", &format!("/account/sessions/{phone_id}/revoke"), &[]).await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert_eq!(phone.get("/a/ada").await.status(), StatusCode::SEE_OTHER);
    assert_eq!(laptop.get("/a/ada").await.status(), StatusCode::OK);
    let page = here.page("/account/sessions", StatusCode::OK).await;
    assert!(page.contains("That browser is signed out.") && !page.contains("Safari on iPhone"));
    // Revoking it again, or someone else's session, finds nothing.
    let again = here.submit("/account/sessions", &format!("/account/sessions/{phone_id}/revoke"), &[]).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    let (_, _) = sign_up(&app, "Bob", "bob@example.com").await;
    let bobs = app
        .count(
            "SELECT s.id AS n FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = 'bob@example.com'"
                .into(),
        )
        .await;
    let foreign = here.submit("/account/sessions", &format!("/account/sessions/{bobs}/revoke"), &[]).await;
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    let bob_live =
        app.count(format!("SELECT COUNT(*) AS n FROM sessions WHERE id = {bobs} AND revoked_at IS NULL")).await;
    assert_eq!(bob_live, 1, "Bob's session untouched");

    // Everywhere else: the laptop too; this browser stays.
    let out = here.submit("/account/sessions", "/account/sessions/revoke-others", &[]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(laptop.get("/a/ada").await.status(), StatusCode::SEE_OTHER);
    let page = here.page("/account/sessions", StatusCode::OK).await;
    assert!(page.contains("1 other browser is signed out."), "{page}");
    assert!(!page.contains("Chrome on macOS") && !page.contains("Sign out everywhere else"));
}

#[tokio::test]
async fn deleting_the_account_ends_its_sessions_everywhere_and_leaving_every_team_does_not() {
    let app = spawn_app().await;
    let (ada, _) = sign_up(&app, "Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let (bob, _) = sign_up(&app, "Bob", "bob@example.com").await;
    app.add_member(&slug, "bob@example.com", teamdeck::domain::Role::Developer).await;
    let bob_elsewhere = app.browser();
    assert_eq!(bob_elsewhere.sign_in("bob@example.com", PASSWORD).await.status(), StatusCode::SEE_OTHER);

    // Removed from the team, Bob still owns his personal account and stays signed in.
    let bob_id = app.user_id("bob@example.com").await;
    let removed = ada.submit(&format!("/a/{slug}/members"), &format!("/a/{slug}/members/{bob_id}/remove"), &[]).await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    assert_eq!(bob.get("/a/bob").await.status(), StatusCode::OK);

    let deleted = bob.submit("/account", "/account/delete", &[("password", PASSWORD)]).await;
    assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
    let other = bob_elsewhere.get("/account").await;
    assert_eq!(other.status(), StatusCode::SEE_OTHER, "the other browser is signed out too");
    let live =
        app.count(format!("SELECT COUNT(*) AS n FROM sessions WHERE user_id = {bob_id} AND revoked_at IS NULL")).await;
    assert_eq!(live, 0);
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site_and_lasts_as_long_as_a_session() {
    let app = spawn_app().await;
    app.registered("Ada", "ada@example.com").await;
    let response = app.browser().sign_in("ada@example.com", PASSWORD).await;
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .find(|c| c.starts_with(&format!("{COOKIE}=")))
        .expect("the session cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"), "{cookie}");
    assert!(cookie.contains("Max-Age=2592000"), "kept for the 30 days a session lasts at most: {cookie}");
    assert!(!cookie.contains("Secure"));
}
