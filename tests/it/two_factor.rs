//! Two-factor sign-in with an authenticator app: setting it up (a current code and the
//! password), the second step of sign-in (codes one step either side, never twice, five wrong
//! codes per step and ten per person), recovery codes (once each), and that nothing opens
//! between the password and the code. Codes are computed here with `totp-rs`, on the app's
//! clock, which the tests move.

use crate::helpers::{Browser, PASSWORD, TestApp, location, spawn_app_with};
use reqwest::StatusCode;
use std::time::Duration;
use teamdeck::domain::Clock;
use totp_rs::{Algorithm, Secret, TOTP};

pub const STEP: Duration = Duration::from_secs(30);

/// The app's code at `at_ms`, as an authenticator app computes it.
pub fn code_at(secret: &str, at_ms: i64) -> String {
    let bytes = Secret::Encoded(secret.to_owned()).to_bytes().expect("a base32 secret");
    let totp = TOTP::new_unchecked(Algorithm::SHA1, 6, 1, 30, bytes, None, String::new());
    totp.generate(u64::try_from(at_ms / 1000).unwrap())
}

/// The app with a clock the test moves.
pub async fn spawn() -> (TestApp, Clock) {
    let clock = Clock::movable();
    let moved = clock.clone();
    (spawn_app_with(move |s| s.clock = moved).await, clock)
}

/// Sets up an authenticator app for the signed-in `browser`: its secret and recovery codes.
pub async fn set_up_app(browser: &Browser, clock: &Clock) -> (String, Vec<String>) {
    let begun = browser.submit("/account", "/account/two-factor/app", &[]).await;
    assert_eq!((begun.status(), location(&begun)), (StatusCode::SEE_OTHER, "/account/two-factor/app".to_owned()));
    let page = browser.page("/account/two-factor/app", StatusCode::OK).await;
    let secret = secret_on(&page);
    assert!(page.contains("<svg role=\"img\""), "a QR code drawn in the page: {page}");
    let code = code_at(&secret, clock.now_ms());
    let done = browser
        .submit(
            "/account/two-factor/app",
            "/account/two-factor/app/confirm",
            &[("code", &code), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(done.status(), StatusCode::OK);
    let page = done.text().await.unwrap();
    let codes = recovery_codes_on(&page);
    assert_eq!(codes.len(), 10, "{page}");
    // The code just used is spent: the next one comes from the next step.
    clock.advance(STEP);
    (secret, codes)
}

pub fn secret_on(page: &str) -> String {
    let at = page.find("id=\"totp-secret\">").expect("the secret as text") + "id=\"totp-secret\">".len();
    page[at..].split('<').next().unwrap().replace(' ', "")
}

pub fn recovery_codes_on(page: &str) -> Vec<String> {
    let at = page.find("id=\"recovery-codes\"").expect("the recovery codes");
    let list = &page[at..page[at..].find("</ol>").unwrap() + at];
    list.split("<li>").skip(1).map(|item| item.split("</li>").next().unwrap().trim().to_owned()).collect()
}

/// A new browser past the password of `email`: at the second step.
pub async fn at_second_step(app: &TestApp, email: &str) -> Browser {
    let browser = app.browser();
    let response = browser.sign_in(email, PASSWORD).await;
    assert_eq!((response.status(), location(&response)), (StatusCode::SEE_OTHER, "/login/two-factor".to_owned()));
    browser
}

/// Types `code` at the second step (with the CSRF token of the browser's pages, taken from
/// the sign-in page: the step's own page sends a browser whose step is over to it).
pub async fn type_code(browser: &Browser, code: &str) -> reqwest::Response {
    browser.submit("/login", "/login/two-factor", &[("code", code)]).await
}

pub async fn is_signed_in(browser: &Browser) -> bool {
    let response = browser.get("/account").await;
    match response.status() {
        StatusCode::OK => true,
        StatusCode::SEE_OTHER if location(&response).starts_with("/login") => false,
        other => panic!("GET /account: {other}"),
    }
}

#[tokio::test]
async fn an_app_is_set_up_with_a_current_code_and_the_password_and_then_asked_for_at_sign_in() {
    let (app, clock) = spawn().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let account = ada.page("/account", StatusCode::OK).await;
    assert!(account.contains("Set up an authenticator app"), "{account}");

    ada.submit("/account", "/account/two-factor/app", &[]).await;
    let page = ada.page("/account/two-factor/app", StatusCode::OK).await;
    let secret = secret_on(&page);
    assert!(!page.contains("style="), "the QR code keeps to the CSP: no inline style");
    let now = code_at(&secret, clock.now_ms());
    let wrong_password = ada
        .submit("/account/two-factor/app", "/account/two-factor/app/confirm", &[("code", &now), ("password", "nope")])
        .await;
    assert_eq!(wrong_password.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong_password.text().await.unwrap().contains("That is not your password."));
    let stale = code_at(&secret, clock.now_ms() - 5 * 60_000);
    let wrong_code = ada
        .submit(
            "/account/two-factor/app",
            "/account/two-factor/app/confirm",
            &[("code", &stale), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(wrong_code.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong_code.text().await.unwrap().contains("That code is not the current one."));
    assert!(is_signed_in(&at_second_step_or_in(&app).await).await, "not set up yet: the password alone signs in");

    let done = ada
        .submit("/account/two-factor/app", "/account/two-factor/app/confirm", &[("code", &now), ("password", PASSWORD)])
        .await;
    assert_eq!(done.status(), StatusCode::OK);
    let page = done.text().await.unwrap();
    assert_eq!(recovery_codes_on(&page).len(), 10);
    assert!(page.contains("download=\"teamdeck-recovery-codes.txt\"") && page.contains("href=\"data:text/plain"));
    let account = ada.page("/account", StatusCode::OK).await;
    assert!(account.contains("<strong>10</strong> unused recovery codes left"), "{account}");
    assert!(!app.database_contains(&secret).await, "the secret is sealed at rest");

    // Signing in now takes the code; the one used to set it up is spent.
    let another = at_second_step(&app, "ada@example.com").await;
    let replayed = type_code(&another, &now).await;
    assert_eq!(replayed.status(), StatusCode::UNAUTHORIZED, "a code is never accepted twice");
    assert!(!is_signed_in(&another).await);
    clock.advance(STEP);
    let signed_in = type_code(&another, &code_at(&secret, clock.now_ms())).await;
    assert_eq!((signed_in.status(), location(&signed_in)), (StatusCode::SEE_OTHER, "/".to_owned()));
    assert!(is_signed_in(&another).await);
    let with_factor =
        "SELECT COUNT(*) AS n FROM sessions WHERE second_factor_at IS NOT NULL AND revoked_at IS NULL".to_owned();
    assert_eq!(app.count(with_factor).await, 2, "the sign-in and the set-up both passed a second factor");
    let logged = "SELECT COUNT(*) AS n FROM security_events WHERE kind = 'second_factor_added'".to_owned();
    assert_eq!(app.count(logged).await, 1);
    let mailed =
        "SELECT COUNT(*) AS n FROM outbox_emails WHERE subject = 'An authenticator app was added to your account'";
    assert_eq!(app.count(mailed.to_owned()).await, 1);
}

/// A new browser signed in with the password alone (asserting no second step).
async fn at_second_step_or_in(app: &TestApp) -> Browser {
    let browser = app.browser();
    let response = browser.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!((response.status(), location(&response)), (StatusCode::SEE_OTHER, "/".to_owned()));
    browser
}

#[tokio::test]
async fn codes_one_step_either_side_are_accepted_and_older_ones_refused() {
    let (app, clock) = spawn().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let (secret, _) = set_up_app(&ada, &clock).await;
    clock.advance(STEP * 4);
    let now = clock.now_ms();
    let near = [now - 30_000, now, now + 30_000].map(|at| code_at(&secret, at));
    let two_steps_ago = code_at(&secret, now - 60_000);
    if !near.contains(&two_steps_ago) {
        let browser = at_second_step(&app, "ada@example.com").await;
        assert_eq!(type_code(&browser, &two_steps_ago).await.status(), StatusCode::UNAUTHORIZED);
    }
    let browser = at_second_step(&app, "ada@example.com").await;
    assert_eq!(type_code(&browser, &near[2]).await.status(), StatusCode::SEE_OTHER, "the next step's code");
    // The step before the last accepted one is refused from now on, even inside the window.
    let browser = at_second_step(&app, "ada@example.com").await;
    if near[1] != near[2] {
        assert_eq!(type_code(&browser, &near[1]).await.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn a_recovery_code_signs_in_once() {
    let (app, clock) = spawn().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let (_, codes) = set_up_app(&ada, &clock).await;
    let browser = at_second_step(&app, "ada@example.com").await;
    let typed = codes[3].to_uppercase().replace('-', " ");
    let response = type_code(&browser, &typed).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "however it is typed");
    let home = browser.page("/account", StatusCode::OK).await;
    assert!(home.contains("You signed in with a recovery code") && home.contains("9 left"), "{home}");
    assert!(home.contains("<strong>9</strong> unused recovery codes left"), "{home}");
    let again = at_second_step(&app, "ada@example.com").await;
    assert_eq!(type_code(&again, &codes[3]).await.status(), StatusCode::UNAUTHORIZED, "used");
    assert_eq!(type_code(&again, &codes[4]).await.status(), StatusCode::SEE_OTHER, "another one works");
}

#[tokio::test]
async fn nothing_opens_between_the_password_and_the_code() {
    let (app, clock) = spawn().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    set_up_app(&ada, &clock).await;
    let half = at_second_step(&app, "ada@example.com").await;
    for path in ["/", "/account", "/device", "/account/sessions", &format!("/a/{slug}"), "/teams/new"] {
        let response = half.get(path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(location(&response).starts_with("/login"), "{path}: {}", location(&response));
    }
    let posted = half.submit("/login", "/account/two-factor/app", &[]).await;
    assert!(location(&posted).starts_with("/login"), "a form posted from the step signs nothing in either");

    // The step's token is no session token, whatever cookie it is sent in.
    let response = app.browser().sign_in("ada@example.com", PASSWORD).await;
    let set: Vec<String> =
        response.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    assert!(!set.iter().any(|c| c.starts_with("teamdeck_session=")), "no session cookie yet: {set:?}");
    let step = set.iter().find(|c| c.starts_with("teamdeck_second_step=")).expect("the step's cookie");
    assert!(step.contains("HttpOnly") && step.contains("SameSite=Strict"), "{step}");
    let token = step["teamdeck_second_step=".len()..].split(';').next().unwrap();
    let forged = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let account = forged
        .get(format!("{}/account", app.address))
        .header("Cookie", format!("teamdeck_session={token}"))
        .send()
        .await
        .unwrap();
    assert!(location(&account).starts_with("/login"), "the step's token signs nothing in");

    let anonymous = app.browser();
    let over = anonymous.page("/login/two-factor", StatusCode::OK).await;
    assert!(over.contains("Your sign-in timed out") && !over.contains("name=\"code\""), "{over}");
    let wrong_password = app.browser().sign_in("ada@example.com", "not it").await;
    let unknown = app.browser().sign_in("nobody@example.com", "not it").await;
    assert_eq!(wrong_password.status(), unknown.status(), "a wrong password says nothing of a second factor");
    assert!(location(&wrong_password).is_empty());
}

#[tokio::test]
async fn a_step_takes_five_wrong_codes_a_person_ten_and_a_step_ends_after_five_minutes() {
    let (app, clock) = spawn().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let (secret, _) = set_up_app(&ada, &clock).await;
    let wrong = |n: u32| format!("{:06}", (n * 7919) % 1_000_000);
    let browser = at_second_step(&app, "ada@example.com").await;
    for n in 0..4 {
        assert_eq!(type_code(&browser, &wrong(n)).await.status(), StatusCode::UNAUTHORIZED);
    }
    let fifth = type_code(&browser, &wrong(4)).await;
    assert_eq!((fifth.status(), location(&fifth)), (StatusCode::SEE_OTHER, "/login".to_owned()));
    let login = browser.page("/login", StatusCode::OK).await;
    assert!(login.contains("Too many wrong codes. Enter your password again."), "{login}");
    let right = code_at(&secret, clock.now_ms());
    assert_eq!(location(&type_code(&browser, &right).await), "/login", "that step is over, even with the code");

    // Another step: five more wrong codes for the person in this window, then every code is
    // refused, right ones too, until the window ends.
    let browser = at_second_step(&app, "ada@example.com").await;
    for n in 5..9 {
        assert_eq!(type_code(&browser, &wrong(n)).await.status(), StatusCode::UNAUTHORIZED);
    }
    let browser = at_second_step(&app, "ada@example.com").await;
    assert_eq!(type_code(&browser, &wrong(9)).await.status(), StatusCode::UNAUTHORIZED);
    let refused = type_code(&browser, &right).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    assert!(refused.text().await.unwrap().contains("Too many wrong codes for this account."));

    clock.advance(Duration::from_secs(16 * 60));
    let browser = at_second_step(&app, "ada@example.com").await;
    clock.advance(Duration::from_secs(6 * 60));
    let expired = type_code(&browser, &code_at(&secret, clock.now_ms())).await;
    assert_eq!(location(&expired), "/login", "the step lasts five minutes");
    let browser = at_second_step(&app, "ada@example.com").await;
    assert_eq!(type_code(&browser, &code_at(&secret, clock.now_ms())).await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn signing_in_through_the_step_lands_on_next_with_a_new_session() {
    let (app, clock) = spawn().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let (secret, _) = set_up_app(&ada, &clock).await;
    let browser = app.browser();
    let form = browser.page("/login?next=/account/sessions", StatusCode::OK).await;
    let csrf = crate::helpers::csrf_token(&form).unwrap();
    let response = browser
        .client
        .post(browser.url("/login"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("email", "ada@example.com"),
            ("password", PASSWORD),
            ("next", "/account/sessions"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/login/two-factor");
    let done = type_code(&browser, &code_at(&secret, clock.now_ms())).await;
    assert_eq!(location(&done), "/account/sessions");
    let csrf_after = crate::helpers::csrf_token(&browser.page("/account", StatusCode::OK).await).unwrap();
    assert_ne!(csrf, csrf_after, "what the pages keep is renewed at sign-in");
    let signed_in = "SELECT COUNT(*) AS n FROM security_events WHERE kind = 'signed_in'".to_owned();
    assert_eq!(app.count(signed_in).await, 2, "the sign-up's and this one's, not the password step's");
}
