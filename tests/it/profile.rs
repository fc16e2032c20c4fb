//! The profile on `/account`: a new name shows at once on every members page of the person's
//! teams (on every instance), refused input is shown again with the reason, a password change
//! signs out every other browser (and the CLI when asked) and keeps this one, and the
//! security log lists what happened.

use crate::helpers::{Browser, PASSWORD, TestApp, location, spawn_app, spawn_app_with};
use reqwest::StatusCode;
use teamdeck::domain::{PersonName, Role};

const NEW_PASSWORD: &str = "a new and longer passphrase";

async fn change_name(browser: &Browser, name: &str) -> reqwest::Response {
    browser.submit("/account", "/account/name", &[("name", name)]).await
}

async fn change_password(browser: &Browser, current: &str, new: &str, revoke_tokens: bool) -> reqwest::Response {
    let mut fields = vec![("current_password", current), ("new_password", new)];
    if revoke_tokens {
        fields.push(("revoke_tokens", "1"));
    }
    browser.submit("/account", "/account/password", &fields).await
}

async fn whoami(app: &TestApp, token: &str) -> StatusCode {
    let request = reqwest::Client::new()
        .get(format!("{}/api/v1/whoami", app.address))
        .header("Authorization", format!("Bearer {token}"));
    request.send().await.unwrap().status()
}

/// Whether the browser is still signed in, as its next click finds out.
async fn still_signed_in(browser: &Browser) -> bool {
    let response = browser.get("/account").await;
    match response.status() {
        StatusCode::OK => true,
        StatusCode::SEE_OTHER if location(&response).starts_with("/login") => false,
        other => panic!("GET /account: {other}"),
    }
}

/// The security log's table on `/account`.
fn security_log(page: &str) -> &str {
    let start = page.find("id=\"security-log\"").expect("the security log card");
    let rest = &page[start..];
    &rest[..rest.find("</section>").unwrap()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_name_shows_at_once_on_the_members_pages_of_every_instance() {
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
    let ada = one.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    one.signed_up("Bob", "bob@example.com").await;
    one.add_member(&slug, "bob@example.com", Role::Developer).await;
    let bob = two.browser();
    assert_eq!(bob.sign_in("bob@example.com", PASSWORD).await.status(), StatusCode::SEE_OTHER);
    let members = format!("/a/{slug}/members");
    let before = bob.page(&members, StatusCode::OK).await;
    assert!(before.contains("Ada") && !before.contains("Ada Lovelace"), "{before}");
    let also_before = ada.page(&members, StatusCode::OK).await;
    assert!(!also_before.contains("Ada Lovelace"));

    let changed = change_name(&ada, "  Ada Lovelace ").await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&changed), "/account");
    let account = ada.page("/account", StatusCode::OK).await;
    assert!(account.contains("Your name is now “Ada Lovelace”. Your teams see it at once."), "{account}");
    assert!(account.contains("value=\"Ada Lovelace\""), "the form shows the new name");

    for (who, browser) in [("Bob on instance two", &bob), ("Ada on instance one", &ada)] {
        let page = browser.page(&members, StatusCode::OK).await;
        assert!(page.contains("Ada Lovelace"), "{who} sees the new name at once: {page}");
    }
    let sort_name = one
        .count(format!(
            "SELECT COUNT(*) AS n FROM memberships WHERE sort_name = 'ada lovelace' AND user_id = {}",
            one.user_id("ada@example.com").await
        ))
        .await;
    assert_eq!(sort_name, 2, "the team and the personal account list her under her new name");
    let personal =
        one.count("SELECT COUNT(*) AS n FROM accounts WHERE kind = 'personal' AND name = 'Ada Lovelace'".into()).await;
    assert_eq!(personal, 1, "her personal account is named after her");

    let log = ada.page("/account", StatusCode::OK).await;
    let log = security_log(&log);
    assert!(log.contains("Changed the name") && log.contains("from “Ada” to “Ada Lovelace”"), "{log}");
    assert!(log.contains("127.0.0.1"), "with the client's address: {log}");

    let same = change_name(&ada, "Ada Lovelace").await;
    assert_eq!(same.status(), StatusCode::SEE_OTHER);
    let page = ada.page("/account", StatusCode::OK).await;
    assert!(page.contains("Your name is already “Ada Lovelace”."), "{page}");
    assert_eq!(security_log(&page).matches("Changed the name").count(), 1, "nothing changed, nothing logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_personal_account_renamed_by_its_owner_keeps_its_name() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let personal = location(&ada.get("/").await);
    let renamed =
        ada.submit(&format!("{personal}/settings"), &format!("{personal}/settings/name"), &[("name", "Lab")]).await;
    assert_eq!(renamed.status(), StatusCode::SEE_OTHER);
    assert_eq!(change_name(&ada, "Ada Lovelace").await.status(), StatusCode::SEE_OTHER);
    let page = ada.page(&personal, StatusCode::OK).await;
    assert!(page.contains("Lab") && page.contains("Ada Lovelace"), "{page}");
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM accounts WHERE name = 'Lab'".into()).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_name_is_shown_again_with_what_was_typed_and_why() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let long = "n".repeat(PersonName::MAX_CHARS + 1);
    for typed in ["   ", long.as_str()] {
        let message = askama_escaped(&PersonName::parse(typed).unwrap_err().to_string());
        let refused = change_name(&ada, typed).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{typed:?}");
        let page = refused.text().await.unwrap();
        assert!(page.contains(&message), "{typed:?}: {page}");
        assert!(page.contains(&format!("value=\"{typed}\"")), "what was typed is kept: {page}");
        assert!(page.contains("aria-invalid=\"true\""));
    }
    // Bidi overrides, invisible characters and line breaks: whatever the name's own rules
    // say, the page says, and a name refused changes nothing.
    for typed in ["Ada\u{202E}nimdA", "\u{200B}\u{200B}", "Ada\u{2066}x\u{2069}", "Ada\nLovelace"] {
        let response = change_name(&ada, typed).await;
        match PersonName::parse(typed) {
            Err(e) => {
                assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{typed:?}");
                let page = response.text().await.unwrap();
                assert!(page.contains(&askama_escaped(&e.to_string())), "{typed:?}: {page}");
            }
            Ok(name) => {
                assert_eq!(response.status(), StatusCode::SEE_OTHER, "{typed:?}");
                let stored = name.as_str().replace('\'', "''");
                let n = app.count(format!("SELECT COUNT(*) AS n FROM users WHERE name = '{stored}'")).await;
                assert_eq!(n, 1, "{typed:?} is stored as the name parsed it");
            }
        }
    }
    let stored = app.count("SELECT COUNT(*) AS n FROM users WHERE name = 'Ada'".into()).await;
    let refusals_only =
        ["   ", long.as_str(), "Ada\u{202E}nimdA", "\u{200B}\u{200B}", "Ada\u{2066}x\u{2069}", "Ada\nLovelace"]
            .iter()
            .all(|typed| PersonName::parse(typed).is_err());
    assert_eq!(stored == 1, refusals_only, "the name changed only for a name its rules take");
}

/// A message as the page's HTML has it.
fn askama_escaped(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&#34;").replace('\'', "&#39;")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_signs_out_every_other_browser_and_the_cli_only_when_asked() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let elsewhere = app.browser();
    assert_eq!(elsewhere.sign_in("ada@example.com", PASSWORD).await.status(), StatusCode::SEE_OTHER);
    let token = crate::platform::login_token(&app, &ada).await;
    assert_eq!(whoami(&app, &token).await, StatusCode::OK);
    let page = ada.page("/account", StatusCode::OK).await;
    assert!(page.contains("Also sign out the CLI everywhere (revoke 1 login token)"), "{page}");

    let wrong = change_password(&ada, "not my password", NEW_PASSWORD, true).await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = wrong.text().await.unwrap();
    assert!(page.contains("That is not your current password."), "{page}");
    assert!(page.contains("name=\"revoke_tokens\" value=\"1\" checked"), "the choice is kept: {page}");
    let short = change_password(&ada, PASSWORD, "short", false).await;
    assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short.text().await.unwrap().contains("Use at least 8 characters."));
    assert!(still_signed_in(&elsewhere).await, "nothing changed");
    assert_eq!(app.browser().sign_in("ada@example.com", PASSWORD).await.status(), StatusCode::SEE_OTHER);

    let changed = change_password(&ada, PASSWORD, NEW_PASSWORD, false).await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&changed), "/account");
    let page = ada.page("/account", StatusCode::OK).await;
    assert!(page.contains("Password changed. You were signed out everywhere else."), "{page}");
    assert!(!elsewhere.get("/account").await.status().is_server_error());
    assert!(!still_signed_in(&elsewhere).await, "the other browser is signed out at its next request");
    assert!(still_signed_in(&ada).await, "this one stays");
    assert_eq!(whoami(&app, &token).await, StatusCode::OK, "the CLI was not asked to go");
    assert_eq!(app.browser().sign_in("ada@example.com", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.browser().sign_in("ada@example.com", NEW_PASSWORD).await.status(), StatusCode::SEE_OTHER);

    let again = change_password(&ada, NEW_PASSWORD, PASSWORD, true).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    let page = ada.page("/account", StatusCode::OK).await;
    assert!(page.contains("Password changed. You were signed out everywhere else. 1 CLI token was revoked."), "{page}");
    assert_eq!(whoami(&app, &token).await, StatusCode::UNAUTHORIZED, "the CLI is signed out");
    assert!(page.contains("Also sign out the CLI everywhere (revoke 0 login tokens)"), "{page}");

    let log = security_log(&page);
    assert_eq!(log.matches("Changed the password").count(), 2, "{log}");
    assert!(log.contains("2 other browsers signed out"), "the browser and the sign-in of the check: {log}");
    assert!(log.contains("1 CLI token revoked"), "{log}");
    assert!(log.contains("Signed in the CLI") && log.contains("gateway test"), "the device's name: {log}");
    let newest_first = log.find("1 CLI token revoked").unwrap() < log.find("Signed in the CLI").unwrap();
    assert!(newest_first, "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_current_passwords_count_as_sign_in_guesses() {
    let app = spawn_app_with(|s| s.login_failures_per_email = 2).await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    for _ in 0..2 {
        let wrong = change_password(&ada, "not my password", NEW_PASSWORD, false).await;
        assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let limited = change_password(&ada, PASSWORD, NEW_PASSWORD, false).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS, "even the right one, once the window is full");
    assert!(limited.headers().contains_key("retry-after"));
    let page = limited.text().await.unwrap();
    assert!(page.contains("Too many wrong passwords from this network. Try again in"), "{page}");
    let signing_in = app.browser().sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(signing_in.status(), StatusCode::TOO_MANY_REQUESTS, "one budget with the sign-in form");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profile_forms_refuse_a_post_without_the_page_csrf_token() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    ada.page("/account", StatusCode::OK).await;
    let forms: [(&str, &[(&str, &str)]); 3] = [
        ("/account/name", &[("name", "Mallory")]),
        ("/account/email", &[("email", "mallory@example.com"), ("password", PASSWORD)]),
        ("/account/password", &[("current_password", PASSWORD), ("new_password", NEW_PASSWORD)]),
    ];
    for (action, fields) in forms {
        for token in [None, Some("not-the-token")] {
            let mut form = fields.to_vec();
            if let Some(token) = token {
                form.push(("csrf_token", token));
            }
            let response = ada.client.post(ada.url(action)).form(&form).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{action} with {token:?}");
        }
    }
    let cross_site = ada
        .client
        .post(ada.url("/account/name"))
        .header("Origin", "https://evil.example")
        .form(&[("name", "Mallory")])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM users WHERE name = 'Mallory'".into()).await, 0);
    let links = "SELECT COUNT(*) AS n FROM email_links WHERE purpose = 'change_email'";
    assert_eq!(app.count(links.into()).await, 0);
    assert_eq!(app.browser().sign_in("ada@example.com", PASSWORD).await.status(), StatusCode::SEE_OTHER);
}
