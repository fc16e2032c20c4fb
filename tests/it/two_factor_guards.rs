//! What a stolen session or an emailed link cannot do to a person with a second factor:
//! remove it or replace its recovery codes without the password and a current code, approve a
//! CLI login or delete the account without a fresh code, or get around it by resetting the
//! password.

use crate::helpers::{PASSWORD, csrf_token, location, path_of, spawn_app_with_mail};
use crate::two_factor::{STEP, at_second_step, code_at, is_signed_in, set_up_app, spawn, type_code};
use reqwest::StatusCode;
use std::time::Duration;
use teamdeck::domain::Clock;

const ELEVEN_MINUTES: Duration = Duration::from_secs(11 * 60);

#[tokio::test]
async fn removing_the_app_takes_the_password_and_a_current_code() {
    let (app, clock) = spawn().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let (secret, _) = set_up_app(&ada, &clock).await;
    let remove = |password: &'static str, code: String| {
        let ada = &ada;
        async move {
            ada.submit("/account", "/account/two-factor/app/remove", &[("password", password), ("code", &code)]).await
        }
    };
    let no_code = remove(PASSWORD, String::new()).await;
    assert_eq!(no_code.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_code.text().await.unwrap().contains("Enter the current code from your authenticator app"));
    let wrong_password = remove("not it", code_at(&secret, clock.now_ms())).await;
    assert_eq!(wrong_password.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong_password.text().await.unwrap().contains("That is not your password."));
    let wrong_code = remove(PASSWORD, "000000".to_owned()).await;
    assert_eq!(wrong_code.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong_code.text().await.unwrap().contains("That code doesn&#39;t match."));
    assert_eq!(app.count_rows("totp_factors").await, 1, "still there");

    let removed = remove(PASSWORD, code_at(&secret, clock.now_ms())).await;
    assert_eq!((removed.status(), location(&removed)), (StatusCode::SEE_OTHER, "/account#two-factor".to_owned()));
    assert!(ada.page("/account", StatusCode::OK).await.contains("Authenticator app removed"));
    assert_eq!(app.count_rows("recovery_codes").await, 0, "its recovery codes went with it");
    let logged = "SELECT COUNT(*) AS n FROM security_events WHERE kind = 'second_factor_removed'";
    assert_eq!(app.count(logged.to_owned()).await, 1);
    let mailed =
        "SELECT COUNT(*) AS n FROM outbox_emails WHERE subject = 'An authenticator app was removed from your account'";
    assert_eq!(app.count(mailed.to_owned()).await, 1);
    let browser = app.browser();
    let response = browser.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(location(&response), "/", "the password alone signs in again");
}

#[tokio::test]
async fn new_recovery_codes_replace_the_old_set() {
    let (app, clock) = spawn().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let (secret, old) = set_up_app(&ada, &clock).await;
    let refused = ada.submit("/account", "/account/two-factor/recovery", &[("password", PASSWORD), ("code", "")]).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let code = code_at(&secret, clock.now_ms());
    let made = ada.submit("/account", "/account/two-factor/recovery", &[("password", PASSWORD), ("code", &code)]).await;
    assert_eq!(made.status(), StatusCode::OK);
    let new = crate::two_factor::recovery_codes_on(&made.text().await.unwrap());
    assert_eq!(new.len(), 10);
    assert!(old.iter().all(|c| !new.contains(c)));
    let browser = at_second_step(&app, "ada@example.com").await;
    assert_eq!(type_code(&browser, &old[0]).await.status(), StatusCode::UNAUTHORIZED, "the old set is dead");
    assert_eq!(type_code(&browser, &new[0]).await.status(), StatusCode::SEE_OTHER);
}

/// Starts a CLI login over the API: (device code, user code).
async fn start_cli_login(address: &str) -> (String, String) {
    let start: serde_json::Value = reqwest::Client::new()
        .post(format!("{address}/api/v1/device/code"))
        .json(&serde_json::json!({ "device_name": "laptop" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (start["device_code"].as_str().unwrap().to_owned(), start["user_code"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn approving_a_cli_login_asks_for_a_fresh_code_after_ten_minutes() {
    let (app, clock) = spawn().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let (secret, _) = set_up_app(&ada, &clock).await;
    let (_, user_code) = start_cli_login(&app.address).await;
    let fresh = ada.page(&format!("/device?code={user_code}"), StatusCode::OK).await;
    assert!(!fresh.contains("factor_code"), "a code typed minutes ago is fresh enough");

    clock.advance(ELEVEN_MINUTES);
    let (device_code, user_code) = start_cli_login(&app.address).await;
    let page = ada.page(&format!("/device?code={user_code}"), StatusCode::OK).await;
    assert!(page.contains("name=\"factor_code\""), "{page}");
    let approve = |factor: String| {
        let (ada, page, user_code) = (&ada, &page, &user_code);
        async move {
            let csrf = csrf_token(page).unwrap();
            let form = [
                ("csrf_token", csrf.as_str()),
                ("user_code", user_code.as_str()),
                ("decision", "approve"),
                ("factor_code", factor.as_str()),
            ];
            ada.client.post(ada.url("/device")).form(&form).send().await.unwrap()
        }
    };
    assert_eq!(approve(String::new()).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(approve("123456".to_owned()).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let pending = format!("SELECT COUNT(*) AS n FROM device_codes WHERE user_id IS NULL AND user_code = '{user_code}'");
    assert_eq!(app.count(pending.clone()).await, 1, "not approved");
    let approved = approve(code_at(&secret, clock.now_ms())).await;
    assert_eq!(approved.status(), StatusCode::OK);
    assert!(approved.text().await.unwrap().contains("is signed in as ada@example.com"));
    let token: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/api/v1/device/token", app.address))
        .json(&serde_json::json!({ "device_code": device_code }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(token["access_token"].as_str().is_some_and(|t| t.starts_with("tdt_")), "{token}");
}

#[tokio::test]
async fn deleting_the_account_asks_for_a_fresh_code_after_ten_minutes() {
    let (app, clock) = spawn().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let (secret, _) = set_up_app(&ada, &clock).await;
    clock.advance(ELEVEN_MINUTES);
    let page = ada.page("/account", StatusCode::OK).await;
    assert!(page.contains("id=\"delete-code\""), "the form asks for a code");
    let refused = ada.submit("/account", "/account/delete", &[("password", PASSWORD)]).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(is_signed_in(&ada).await, "nothing deleted");
    let code = code_at(&secret, clock.now_ms());
    let deleted = ada.submit("/account", "/account/delete", &[("password", PASSWORD), ("code", &code)]).await;
    assert_eq!((deleted.status(), location(&deleted)), (StatusCode::SEE_OTHER, "/login?deleted=1".to_owned()));
    assert_eq!(app.count_rows("totp_factors").await + app.count_rows("recovery_codes").await, 0);
}

#[tokio::test]
async fn a_password_reset_keeps_the_second_factor_and_signs_no_one_in() {
    let clock = Clock::movable();
    let moved = clock.clone();
    let (app, mail) = spawn_app_with_mail(move |s| s.clock = moved).await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let (secret, _) = set_up_app(&ada, &clock).await;
    let visitor = app.browser();
    visitor.submit("/forgot", "/forgot", &[("email", "ada@example.com")]).await;
    let mut link = None;
    for _ in 0..200 {
        let messages = mail.messages().await;
        if let Some(m) = messages.iter().find(|m| m.data.contains("Subject: Reset your Teamdeck password")) {
            let text = m.decoded();
            let at = text.find("/reset/").unwrap();
            let start = text[..at].rfind("http://").unwrap();
            link =
                Some(path_of(text[start..].split(|c: char| c.is_whitespace() || c == '"' || c == '<').next().unwrap()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let link = link.expect("a reset link");
    let set = visitor.submit(&link, &link, &[("password", "a brand new passphrase")]).await;
    assert_eq!(location(&set), "/login", "to sign in, not signed in");
    assert!(!is_signed_in(&visitor).await);
    assert_eq!(app.count_rows("totp_factors").await, 1, "the factor stays");
    let response = visitor.sign_in("ada@example.com", "a brand new passphrase").await;
    assert_eq!(location(&response), "/login/two-factor", "and is still asked for");
    clock.advance(STEP);
    assert_eq!(type_code(&visitor, &code_at(&secret, clock.now_ms())).await.status(), StatusCode::SEE_OTHER);
}
