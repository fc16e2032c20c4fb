//! Sign-up, sign-in, sign-out and the session.

use crate::helpers::{PASSWORD, csrf_token, location, spawn_app, spawn_app_with};
use reqwest::StatusCode;

#[tokio::test]
async fn signing_up_creates_the_user_unverified_with_their_personal_account_and_signs_no_one_in() {
    let app = spawn_app().await;
    let browser = app.browser();

    let response = browser.sign_up("Ada Lovelace", "Ada@Example.com", PASSWORD).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.cookies().all(|c| c.name() != "teamdeck_session"), "no session cookie");
    let html = response.text().await.unwrap();
    assert!(html.contains("Check your email"), "{html}");
    assert!(html.contains("We sent a message to <strong>Ada@Example.com</strong>."), "{html}");
    assert_eq!(location(&browser.get("/").await), "/login", "nobody is signed in");

    assert_eq!(browser.sign_in("ada@example.com", PASSWORD).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&browser.get("/").await), "/a/ada-lovelace");
    let page = browser.page("/a/ada-lovelace", StatusCode::OK).await;
    assert!(page.contains("Personal account"));
    assert!(page.contains("Ada@Example.com"), "the email is shown as typed");
    assert!(page.contains("Verify your email address: we sent a link to Ada@Example.com."), "{page}");
    assert!(page.contains("disabled aria-describedby=\"verify-banner\">Create team"), "{page}");
}

#[tokio::test]
async fn signing_up_with_an_email_already_used_answers_as_a_new_sign_up_and_makes_no_account() {
    let app = spawn_app().await;
    app.registered("Ada", "ada@example.com").await;
    let other = app.browser();

    let response = other.sign_up("Ada Again", "  ADA@example.COM ", PASSWORD).await;

    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains("Check your email"), "{html}");
    assert!(!html.contains("already exists"), "{html}");
    assert_eq!(app.count_rows("users").await, 1, "no second account");
    assert_eq!(location(&other.get("/").await), "/login", "nobody is signed in");
}

#[tokio::test]
async fn sign_up_errors_name_each_field_and_keep_the_typed_values() {
    let app = spawn_app().await;
    let browser = app.browser();

    let response = browser.sign_up("   ", "not-an-email", "short").await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("Enter a name."), "{html}");
    assert!(html.contains("Enter an email address like name@example.com."));
    assert!(html.contains("Use at least 8 characters."));
    assert!(html.contains("value=\"not-an-email\""));
    assert!(!html.contains("value=\"short\""), "a password is never sent back");
    assert_eq!(browser.get("/").await.status(), StatusCode::SEE_OTHER, "nobody was signed in");
    assert_eq!(location(&browser.get("/").await), "/login");
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer() {
    let app = spawn_app().await;
    app.signed_up("Ada", "ada@example.com").await;

    let wrong_password = app.browser().sign_in("ada@example.com", "not the password").await;
    let unknown_email = app.browser().sign_in("nobody@example.com", "not the password").await;

    assert_eq!(wrong_password.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_email.status(), StatusCode::UNAUTHORIZED);
    let (a, b) = (wrong_password.text().await.unwrap(), unknown_email.text().await.unwrap());
    let message = "That email and password don&#39;t match an account.";
    assert!(a.contains(message) && b.contains(message), "{a}");
    assert!(a.contains("value=\"ada@example.com\""), "the typed email is kept");
}

#[tokio::test]
async fn signing_in_lands_on_the_personal_account_and_signing_out_ends_the_session() {
    let app = spawn_app().await;
    app.signed_up("Ada", "ada@example.com").await;
    let browser = app.browser();

    let response = browser.sign_in("ADA@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/");
    assert_eq!(location(&browser.get("/").await), "/a/ada");

    let response = browser.submit("/a/ada", "/logout", &[]).await;
    assert_eq!(location(&response), "/login?signed_out=1");
    assert!(browser.page("/login?signed_out=1", StatusCode::OK).await.contains("You are signed out."));
    let after = browser.get("/a/ada").await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&after), "/login?next=%2Fa%2Fada");
}

#[tokio::test]
async fn signing_in_renews_the_session_so_a_token_from_before_is_worthless() {
    let app = spawn_app().await;
    app.signed_up("Ada", "ada@example.com").await;
    let browser = app.browser();
    let login_page = browser.page("/login", StatusCode::OK).await;
    let anonymous_token = csrf_token(&login_page).unwrap();
    let anonymous_cookie = session_cookie(&browser.get("/login").await);

    let response = browser.sign_in("ada@example.com", PASSWORD).await;
    let signed_in_cookie = session_cookie(&response);

    assert_ne!(signed_in_cookie, anonymous_cookie, "a new cookie is issued at sign-in");
    let page = browser.page("/a/ada", StatusCode::OK).await;
    assert_ne!(csrf_token(&page).unwrap(), anonymous_token, "a new CSRF token");
    let stale = browser
        .client
        .post(browser.url("/teams/new"))
        .form(&[("csrf_token", anonymous_token.as_str()), ("name", "Acme")])
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::FORBIDDEN);
}

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response.cookies().find(|c| c.name() == "teamdeck").map(|c| c.value().to_owned())
}

#[tokio::test]
async fn a_page_asked_for_while_signed_out_is_shown_after_signing_in() {
    let app = spawn_app().await;
    let owner = app.signed_up("Ada", "ada@example.com").await;
    let slug = owner.create_team("Acme").await;
    let browser = app.browser();

    let response = browser.get(&format!("/a/{slug}/settings")).await;
    let to_login = location(&response);
    assert_eq!(to_login, "/login?next=%2Fa%2Facme%2Fsettings");
    let login_page = browser.page(&to_login, StatusCode::OK).await;
    assert!(login_page.contains("name=\"next\" value=\"/a/acme/settings\""));

    let token = csrf_token(&login_page).unwrap();
    let response = browser
        .client
        .post(browser.url("/login"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", "ada@example.com"),
            ("password", PASSWORD),
            ("next", "/a/acme/settings"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/a/acme/settings");
}

#[tokio::test]
async fn repeated_wrong_passwords_lock_out_the_guessing_address_for_a_while_but_not_the_owner() {
    let app = spawn_app_with(|s| {
        crate::helpers::behind_a_proxy(s);
        s.login_failures_per_email = 3;
    })
    .await;
    app.signed_up("Ada", "ada@example.com").await;
    let attacker = app.browser_from("203.0.113.9");
    for _ in 0..3 {
        assert_eq!(attacker.sign_in("ada@example.com", "guess").await.status(), StatusCode::UNAUTHORIZED);
    }

    let refused = attacker.sign_in("ada@example.com", PASSWORD).await;

    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    let html = refused.text().await.unwrap();
    let words = "Too many wrong passwords for this email from this network. Try again in 15 minutes.";
    assert!(html.contains(words), "{html}");
    let owner = app.browser_from("198.51.100.7");
    assert_eq!(owner.sign_in("ada@example.com", PASSWORD).await.status(), StatusCode::SEE_OTHER, "the owner gets in");
    let elsewhere = app.signed_up("Bob", "bob@example.com").await;
    assert_eq!(elsewhere.get("/").await.status(), StatusCode::SEE_OTHER, "other people still sign in");
}

#[tokio::test]
async fn a_burst_of_sign_ins_waits_in_a_bounded_queue_and_the_rest_get_a_429() {
    let app = spawn_app_with(|s| {
        s.password_queue = 2;
        s.login_attempts_per_client = 10_000;
        s.login_failures_per_email = 10_000;
        s.login_failures_before_delay = 10_000;
        s.workers = Some(2);
    })
    .await;
    app.signed_up("Ada", "ada@example.com").await;
    let burst: Vec<_> = (0..40)
        .map(|_| {
            let browser = app.browser();
            async move {
                let response = browser.sign_in("ada@example.com", "a wrong password").await;
                let status = response.status();
                (status, response.text().await.unwrap())
            }
        })
        .collect();
    let health = async {
        let browser = app.browser();
        browser.get("/healthz").await.status()
    };

    let (results, health) = tokio::join!(futures_util::future::join_all(burst), health);

    assert_eq!(health, StatusCode::OK, "other requests are answered during the burst");
    let refused: Vec<_> = results.iter().filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS).collect();
    assert!(!refused.is_empty(), "with a queue of 2, some of 40 simultaneous sign-ins are refused");
    assert!(refused[0].1.contains("Many people are signing in right now"), "{}", refused[0].1);
    assert!(results.iter().all(|(s, _)| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS));
}
