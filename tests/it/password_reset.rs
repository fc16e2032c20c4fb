//! Forgotten passwords: `/forgot` answers the same whether or not an address has an account,
//! the emailed link sets a new password once, and setting it ends every session of the
//! person; newer links, sign-ins with the password and time end older links; limits per
//! address and per client.

use crate::helpers::{
    Browser, PASSWORD, TestApp, behind_a_proxy, csrf_token, location, path_of, spawn_app_with, spawn_app_with_mail,
};
use crate::smtp::{Mail, MailServer};
use reqwest::StatusCode;
use std::time::Duration;

const NEW_PASSWORD: &str = "a brand new passphrase";
const RESET_SUBJECT: &str = "Subject: Reset your Teamdeck password";
const NOTICE_SUBJECT: &str = "Subject: Your Teamdeck password was reset";
const SENT: &str = "If an account uses that address, we sent it a link to set a new password.";

/// The `n`th message (from 1) to `to` whose headers hold `subject`, once it arrived (10 s at
/// most). Other messages (a verification email, say) are not counted.
async fn nth_mail(mail: &MailServer, to: &str, subject: &str, n: usize) -> Mail {
    for _ in 0..200 {
        let found: Vec<Mail> =
            mail.messages().await.into_iter().filter(|m| m.to == to && m.data.contains(subject)).collect();
        if found.len() >= n {
            return found[n - 1].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no message {n} to {to} with {subject:?}");
}

/// The path of the reset link in a message.
fn reset_path(mail: &Mail) -> String {
    let text = mail.decoded();
    let at = text.find("/reset/").expect("a reset link in the mail");
    let start = text[..at].rfind("http://").expect("an absolute link");
    let link = text[start..].split(|c: char| c.is_whitespace() || c == '"' || c == '<').next().unwrap();
    path_of(link)
}

/// Asks for a reset link for `email` from a new browser and returns that browser.
async fn ask_for_link(app: &TestApp, email: &str) -> Browser {
    let browser = app.browser();
    let response = browser.submit("/forgot", "/forgot", &[("email", email)]).await;
    assert_eq!(response.status(), StatusCode::OK, "asking for a link for {email}");
    assert!(response.text().await.unwrap().contains(SENT));
    browser
}

/// Whether `browser` is signed in (its account page opens rather than sending it to sign in).
async fn is_signed_in(browser: &Browser) -> bool {
    let response = browser.get("/account").await;
    match response.status() {
        StatusCode::OK => true,
        StatusCode::SEE_OTHER if location(&response).starts_with("/login") => false,
        other => panic!("GET /account: {other}"),
    }
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.count(sql.to_owned()).await
}

#[tokio::test]
async fn a_forgotten_password_is_set_again_with_the_emailed_link_and_every_browser_signed_in_before_is_signed_out() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    let first = app.signed_up("Ada", "ada@example.com").await;
    let second = app.browser();
    assert_eq!(second.sign_in("ada@example.com", PASSWORD).await.status(), StatusCode::SEE_OTHER);

    let visitor = app.browser();
    let login = visitor.page("/login", StatusCode::OK).await;
    assert!(login.contains("href=\"/forgot\">Forgot your password?</a>"), "{login}");
    ask_for_link(&app, "ADA@example.com").await;

    let message = nth_mail(&mail, "ada@example.com", RESET_SUBJECT, 1).await;
    let text = message.decoded();
    assert!(text.contains("the Teamdeck account “Ada” (ada@example.com)"), "the name quoted as a name: {text}");
    let link = reset_path(&message);
    let form = visitor.page(&link, StatusCode::OK).await;
    assert!(form.contains("Set a new password") && form.contains("ada@example.com"), "{form}");
    assert!(!form.contains("sign_out_cli"), "no CLI to sign out, nothing offered");

    let set = visitor.submit(&link, &link, &[("password", NEW_PASSWORD)]).await;
    assert_eq!(set.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&set), "/login", "to sign in, not signed in");
    let login = visitor.page("/login", StatusCode::OK).await;
    assert!(login.contains("Your password is set. Sign in with it."), "{login}");

    assert!(!is_signed_in(&first).await, "the browser that signed up is signed out at its next request");
    assert!(!is_signed_in(&second).await, "and so is every other browser");
    assert_eq!(visitor.sign_in("ada@example.com", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(visitor.sign_in("ada@example.com", NEW_PASSWORD).await.status(), StatusCode::SEE_OTHER);
    assert!(is_signed_in(&visitor).await);

    let notice = nth_mail(&mail, "ada@example.com", NOTICE_SUBJECT, 1).await.decoded();
    assert!(notice.contains("from 127.0.0.1"), "where it was done from: {notice}");
    assert!(notice.contains("/forgot"), "what to do if it was not them: {notice}");
    let reset_logged =
        "SELECT COUNT(*) AS n FROM security_events WHERE kind = 'password_reset' AND client_address = '127.0.0.1'";
    assert_eq!(count(&app, reset_logged).await, 1, "the security log has it");
    let dead = visitor.page(&link, StatusCode::GONE).await;
    assert!(dead.contains("This link no longer works") && dead.contains("href=\"/forgot\""), "{dead}");
}

#[tokio::test]
async fn the_link_also_signs_the_cli_out_everywhere_when_asked_and_proves_the_address() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let token = crate::platform::login_token(&app, &ada).await;
    app.outside("UPDATE users SET email_verified_at = NULL".into()).await;
    let whoami = |token: String| {
        let url = format!("{}/api/v1/whoami", app.address);
        async move { reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap().status() }
    };
    assert_eq!(whoami(token.clone()).await, StatusCode::OK);

    let visitor = ask_for_link(&app, "ada@example.com").await;
    let link = reset_path(&nth_mail(&mail, "ada@example.com", RESET_SUBJECT, 1).await);
    let form = visitor.page(&link, StatusCode::OK).await;
    assert!(form.contains("Also sign out the CLI everywhere (revoke its 1 login token)"), "{form}");
    let set = visitor.submit(&link, &link, &[("password", NEW_PASSWORD), ("sign_out_cli", "1")]).await;
    assert_eq!(set.status(), StatusCode::SEE_OTHER);

    assert_eq!(whoami(token).await, StatusCode::UNAUTHORIZED, "the CLI's token is revoked");
    let verified = "SELECT COUNT(*) AS n FROM users WHERE email_verified_at IS NOT NULL";
    assert_eq!(count(&app, verified).await, 1, "the link went to the account's address, which is proved");
    let notice = nth_mail(&mail, "ada@example.com", NOTICE_SUBJECT, 1).await.decoded();
    assert!(notice.contains("1 login token revoked"), "{notice}");
}

#[tokio::test]
async fn without_the_checkbox_the_cli_stays_signed_in() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    crate::platform::login_token(&app, &ada).await;
    let visitor = ask_for_link(&app, "ada@example.com").await;
    let link = reset_path(&nth_mail(&mail, "ada@example.com", RESET_SUBJECT, 1).await);

    let set = visitor.submit(&link, &link, &[("password", NEW_PASSWORD)]).await;

    assert_eq!(set.status(), StatusCode::SEE_OTHER);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM login_tokens WHERE revoked_at IS NULL").await, 1);
    assert!(!is_signed_in(&ada).await, "browsers are signed out whatever the checkbox says");
}

#[tokio::test]
async fn a_link_sets_a_password_once_even_when_two_requests_race() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    app.signed_up("Ada", "ada@example.com").await;
    ask_for_link(&app, "ada@example.com").await;
    let link = reset_path(&nth_mail(&mail, "ada@example.com", RESET_SUBJECT, 1).await);
    let (one, two) = (app.browser(), app.browser());
    let mut posts = Vec::new();
    for (browser, password) in [(&one, "first new password"), (&two, "second new password")] {
        let token = csrf_token(&browser.page(&link, StatusCode::OK).await).unwrap();
        let form = [("csrf_token", token), ("password", password.to_owned())];
        posts.push(browser.client.post(browser.url(&link)).form(&form).send());
    }

    let (second, first) = (posts.pop().unwrap(), posts.pop().unwrap());
    let (a, b) = tokio::join!(first, second);

    let mut statuses = [a.unwrap().status(), b.unwrap().status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::SEE_OTHER, StatusCode::GONE], "one sets it, the other is told the link is used");
    let signed_in = [
        app.browser().sign_in("ada@example.com", "first new password").await.status(),
        app.browser().sign_in("ada@example.com", "second new password").await.status(),
    ];
    assert_eq!(signed_in.iter().filter(|s| **s == StatusCode::SEE_OTHER).count(), 1, "{signed_in:?}");
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM security_events WHERE kind = 'password_reset'").await, 1);
}

#[tokio::test]
async fn a_newer_link_ends_the_one_before() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    app.signed_up("Ada", "ada@example.com").await;
    ask_for_link(&app, "ada@example.com").await;
    let older = reset_path(&nth_mail(&mail, "ada@example.com", RESET_SUBJECT, 1).await);
    ask_for_link(&app, "ada@example.com").await;
    let newer = reset_path(&nth_mail(&mail, "ada@example.com", RESET_SUBJECT, 2).await);
    let browser = app.browser();

    browser.page(&older, StatusCode::GONE).await;
    let refused = browser.submit(&newer, &older, &[("password", NEW_PASSWORD)]).await;
    assert_eq!(refused.status(), StatusCode::GONE, "nor can it set a password");
    browser.page(&newer, StatusCode::OK).await;
    assert_eq!(browser.submit(&newer, &newer, &[("password", NEW_PASSWORD)]).await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn signing_in_with_the_password_ends_an_outstanding_link_and_is_logged() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    app.signed_up("Ada", "ada@example.com").await;
    ask_for_link(&app, "ada@example.com").await;
    let link = reset_path(&nth_mail(&mail, "ada@example.com", RESET_SUBJECT, 1).await);

    let client = reqwest::Client::builder()
        .cookie_store(true)
        .user_agent("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0")
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let remembered = Browser { base: app.address.clone(), client };
    assert_eq!(remembered.sign_in("ada@example.com", PASSWORD).await.status(), StatusCode::SEE_OTHER);

    let dead = app.browser().page(&link, StatusCode::GONE).await;
    assert!(dead.contains("signing in with your password ends it"), "{dead}");
    let logged = "SELECT COUNT(*) AS n FROM security_events \
        WHERE kind = 'signed_in' AND detail = 'Firefox on Linux' AND client_address = '127.0.0.1'";
    assert_eq!(count(&app, logged).await, 1, "the sign-in is in the security log");
}

#[tokio::test]
async fn an_expired_link_says_so_and_changes_nothing() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    app.signed_up("Ada", "ada@example.com").await;
    let browser = ask_for_link(&app, "ada@example.com").await;
    let link = reset_path(&nth_mail(&mail, "ada@example.com", RESET_SUBJECT, 1).await);
    let token = csrf_token(&browser.page(&link, StatusCode::OK).await).unwrap();
    app.outside(format!("UPDATE email_links SET expires_at = {}", teamdeck::domain::now_ms() - 1)).await;

    let page = browser.page(&link, StatusCode::GONE).await;
    assert!(page.contains("This link no longer works") && page.contains("href=\"/forgot\""), "{page}");
    let form = [("csrf_token", token.as_str()), ("password", NEW_PASSWORD)];
    let posted = browser.client.post(browser.url(&link)).form(&form).send().await.unwrap();
    assert_eq!(posted.status(), StatusCode::GONE);
    assert_eq!(app.browser().sign_in("ada@example.com", PASSWORD).await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn malformed_unknown_and_oversized_tokens_get_a_page_never_an_error() {
    let app = spawn_app_with(|_| {}).await;
    let browser = app.browser();
    let token = csrf_token(&browser.page("/forgot", StatusCode::OK).await).unwrap();
    let plausible = "A".repeat(43);
    let long = "x".repeat(20_000);
    for bad in ["x", plausible.as_str(), "%00", "..%2F..%2Flogin", "%C3%A9%FF", "a%20b", long.as_str()] {
        let path = format!("/reset/{bad}");
        let shown = browser.get(&path).await;
        assert!(!shown.status().is_server_error(), "GET {}: {}", &path[..path.len().min(40)], shown.status());
        let form = [("csrf_token", token.as_str()), ("password", NEW_PASSWORD)];
        let posted = browser.client.post(browser.url(&path)).form(&form).send().await.unwrap();
        assert!(!posted.status().is_server_error(), "POST {}: {}", &path[..path.len().min(40)], posted.status());
    }
    assert_eq!(browser.get(&format!("/reset/{plausible}")).await.status(), StatusCode::GONE);
    assert_eq!(browser.get("/reset/x").await.status(), StatusCode::GONE);
}

#[tokio::test]
async fn a_new_password_follows_the_rules_of_sign_up_and_a_refused_one_keeps_the_link() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    app.signed_up("Ada", "ada@example.com").await;
    let browser = ask_for_link(&app, "ada@example.com").await;
    let link = reset_path(&nth_mail(&mail, "ada@example.com", RESET_SUBJECT, 1).await);

    let long = "p".repeat(257);
    for (password, error) in [("short", "Use at least 8 characters."), (long.as_str(), "Use at most 256 characters.")] {
        let refused = browser.submit(&link, &link, &[("password", password)]).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.text().await.unwrap().contains(error));
    }
    assert_eq!(browser.submit(&link, &link, &[("password", NEW_PASSWORD)]).await.status(), StatusCode::SEE_OTHER);
}

/// Status, headers but the date, and body with the CSRF token blanked: what tells one answer
/// from another.
async fn answer(response: reqwest::Response) -> (StatusCode, Vec<(String, String)>, String) {
    let status = response.status();
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(name, _)| *name != "date")
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    let mut body = response.text().await.unwrap();
    if let Some(token) = csrf_token(&body) {
        body = body.replace(&token, "CSRF");
    }
    (status, headers, body)
}

#[tokio::test]
async fn forgot_answers_byte_for_byte_the_same_whether_or_not_the_address_has_an_account() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    app.signed_up("Ada", "ada@example.com").await;

    let known = answer(app.browser().submit("/forgot", "/forgot", &[("email", "ada@example.com")]).await).await;
    let unknown = answer(app.browser().submit("/forgot", "/forgot", &[("email", "nobody@example.com")]).await).await;

    assert_eq!(known.0, StatusCode::OK);
    assert!(known.2.contains(SENT), "{}", known.2);
    assert_eq!(known, unknown, "nothing tells an account from none");
    nth_mail(&mail, "ada@example.com", RESET_SUBJECT, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(mail.messages().await.iter().all(|m| m.to != "nobody@example.com"), "no mail to an unknown address");
}

#[tokio::test]
async fn a_malformed_address_is_shown_again_with_what_to_fix() {
    let app = spawn_app_with(|_| {}).await;
    let browser = app.browser();

    let response = browser.submit("/forgot", "/forgot", &[("email", "ada at example")]).await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("Enter an email address like name@example.com."), "{html}");
    assert!(html.contains("value=\"ada at example\""), "what was typed is kept");
    let prefilled = browser.page("/forgot?email=ada%40example.com", StatusCode::OK).await;
    assert!(prefilled.contains("value=\"ada@example.com\""), "the address from the sign-in page is kept");
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers().get("retry-after").expect("a Retry-After header").to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn reset_emails_are_limited_per_address_whether_or_not_it_has_an_account() {
    let app = spawn_app_with(|_| {}).await;
    app.signed_up("Ada", "ada@example.com").await;
    let browser = app.browser();

    for address in ["ada@example.com", "nobody@example.com"] {
        for n in 0..5 {
            let response = browser.submit("/forgot", "/forgot", &[("email", address)]).await;
            assert_eq!(response.status(), StatusCode::OK, "request {n} for {address}");
        }
        let refused = browser.submit("/forgot", "/forgot", &[("email", address)]).await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "{address}");
        assert!((3590..=3600).contains(&retry_after(&refused)));
        let html = refused.text().await.unwrap();
        let words = "Too many password reset emails were sent to this address. Try again in 60 minutes.";
        assert!(html.contains(words), "{html}");
        assert!(html.contains(&format!("value=\"{address}\"")), "the typed address is kept");
    }
    let other = browser.submit("/forgot", "/forgot", &[("email", "bob@example.com")]).await;
    assert_eq!(other.status(), StatusCode::OK, "another address has its own budget");
}

#[tokio::test]
async fn reset_requests_are_limited_per_client_address() {
    let app = spawn_app_with(|s| {
        behind_a_proxy(s);
        s.reset_requests_per_client = 3;
    })
    .await;
    let browser = app.browser_from("203.0.113.7");
    for n in 0..3 {
        let address = format!("person{n}@example.com");
        let response = browser.submit("/forgot", "/forgot", &[("email", &address)]).await;
        assert_eq!(response.status(), StatusCode::OK, "request {n}");
    }

    let refused = browser.submit("/forgot", "/forgot", &[("email", "person9@example.com")]).await;

    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!((3590..=3600).contains(&retry_after(&refused)));
    let html = refused.text().await.unwrap();
    assert!(html.contains("Too many password resets were asked for from this network. Try again in 60 minutes."));
    let elsewhere = app.browser_from("203.0.113.8");
    let response = elsewhere.submit("/forgot", "/forgot", &[("email", "person9@example.com")]).await;
    assert_eq!(response.status(), StatusCode::OK, "another client has its own budget");
}

#[tokio::test]
async fn forms_without_their_csrf_token_are_refused() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    app.signed_up("Ada", "ada@example.com").await;
    let browser = ask_for_link(&app, "ada@example.com").await;
    let link = reset_path(&nth_mail(&mail, "ada@example.com", RESET_SUBJECT, 1).await);
    browser.page(&link, StatusCode::OK).await;

    let forgot = browser.client.post(browser.url("/forgot")).form(&[("email", "ada@example.com")]).send().await;
    assert_eq!(forgot.unwrap().status(), StatusCode::FORBIDDEN);
    let reset = browser.client.post(browser.url(&link)).form(&[("password", NEW_PASSWORD)]).send().await;
    assert_eq!(reset.unwrap().status(), StatusCode::FORBIDDEN);

    browser.page(&link, StatusCode::OK).await;
    assert_eq!(app.browser().sign_in("ada@example.com", PASSWORD).await.status(), StatusCode::SEE_OTHER);
}
