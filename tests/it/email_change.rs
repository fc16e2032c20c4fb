//! Changing one's email address, end to end through real SMTP: a link to the new address
//! confirms it, the old address works until then and is told at once and again when it
//! changed; a taken address is not revealed when asked for and refused plainly when
//! confirmed; every dead or malformed link gets a plain page.

use crate::helpers::{Browser, PASSWORD, TestApp, location, path_of, spawn_app, spawn_app_with_mail};
use crate::smtp::{Mail, MailServer};
use reqwest::StatusCode;
use std::time::Duration;
use teamdeck::domain::EmailAddress;

const REQUESTED: &str = "A change of your Teamdeck email address was asked for";
const CONFIRM: &str = "Confirm your new email address for Teamdeck";
const CHANGED: &str = "Your Teamdeck email address was changed";

async fn ask_for(browser: &Browser, email: &str, password: &str) -> reqwest::Response {
    browser.submit("/account", "/account/email", &[("email", email), ("password", password)]).await
}

/// The messages to `to` whose subject is `subject`, once there are `count` of them (mail sent
/// for other reasons, such as signing up, is left aside).
async fn mails_to(mail: &MailServer, to: &str, subject: &str, count: usize) -> Vec<Mail> {
    for _ in 0..200 {
        let found: Vec<Mail> = mail
            .messages()
            .await
            .into_iter()
            .filter(|m| m.to.eq_ignore_ascii_case(to) && m.decoded().contains(&format!("Subject: {subject}")))
            .collect();
        if found.len() >= count {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {count} mails to {to} about {subject:?}: {:?}", mail.messages().await);
}

/// The path of the link to confirm a new address in `mail`.
fn confirmation_path(mail: &Mail) -> String {
    let text = mail.decoded();
    let start = text.find("http://").expect("a link");
    let link = text[start..].split(|c: char| c.is_whitespace() || c == '"' || c == '<').next().unwrap();
    let path = path_of(link);
    assert!(path.starts_with("/account/email/"), "{path}");
    path
}

async fn signs_in(app: &TestApp, email: &str) -> StatusCode {
    app.browser().sign_in(email, PASSWORD).await.status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_address_is_confirmed_by_its_link_and_the_old_one_is_told_and_works_until_then() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let new = "Ada.New@Example.org";

    let wrong = ask_for(&ada, new, "not my password").await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = wrong.text().await.unwrap();
    assert!(page.contains("That is not your password.") && page.contains(&format!("value=\"{new}\"")), "{page}");
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM email_links WHERE purpose = 'change_email'".into()).await, 0);

    let asked = ask_for(&ada, new, PASSWORD).await;
    assert_eq!(asked.status(), StatusCode::SEE_OTHER);
    let page = ada.page("/account", StatusCode::OK).await;
    assert!(page.contains(&format!("We sent a link to {new}. Open it within 24 hours")), "{page}");
    assert!(page.contains(&format!("Waiting for you to open the link sent to <strong>{new}</strong>")), "{page}");

    let told = &mails_to(&mail, "ada@example.com", REQUESTED, 1).await[0];
    let text = told.decoded();
    assert!(text.contains(&format!("to {new} was asked for on")) && text.contains("from 127.0.0.1"), "{text}");
    assert!(text.contains("/forgot"), "says how to reset the password: {text}");
    let link = confirmation_path(&mails_to(&mail, new, CONFIRM, 1).await[0]);
    assert!(mails_to(&mail, new, CONFIRM, 1).await[0].decoded().contains("“Ada”"), "the name quoted as a name");

    // Until the link is opened, nothing changes.
    assert_eq!(signs_in(&app, "ada@example.com").await, StatusCode::SEE_OTHER);
    assert_eq!(signs_in(&app, new).await, StatusCode::UNAUTHORIZED);

    // Opened on another device, not signed in: the page asks first, and asking uses nothing.
    let phone = app.browser();
    for _ in 0..2 {
        let page = phone.page(&link, StatusCode::OK).await;
        assert!(page.contains("Confirm your new email address") && page.contains("Confirm this address"), "{page}");
    }
    let confirmed = phone.submit(&link, &link, &[]).await;
    assert_eq!(confirmed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&confirmed), "/account/email/confirmed");
    let done = phone.page("/account/email/confirmed", StatusCode::OK).await;
    assert!(done.contains(&format!("Your email address is now {new}. Sign in with it from now on.")), "{done}");

    let text = mails_to(&mail, "ada@example.com", CHANGED, 1).await[0].decoded();
    assert!(
        text.contains(&format!("changed to {new} on")) && text.contains("This address no longer signs in"),
        "{text}"
    );
    assert_eq!(signs_in(&app, "ada@example.com").await, StatusCode::UNAUTHORIZED, "the old address no longer signs in");
    assert_eq!(signs_in(&app, "ada.new@example.org").await, StatusCode::SEE_OTHER, "compared normalised");
    let verified = "SELECT COUNT(*) AS n FROM users WHERE email_normalized = 'ada.new@example.org' AND email_verified_at IS NOT NULL";
    assert_eq!(app.count(verified.into()).await, 1, "the link proved the address");

    let page = ada.page("/account", StatusCode::OK).await;
    assert!(page.contains(&format!("You sign in with <strong>{new}</strong>")), "still signed in here: {page}");
    assert!(!page.contains("Waiting for you to open the link"), "{page}");
    assert!(page.contains("Asked to change the email address") && page.contains(&format!("to {new}")), "{page}");
    assert!(page.contains("Changed the email address") && page.contains(&format!("from ada@example.com to {new}")));

    let again = phone.page(&link, StatusCode::GONE).await;
    assert!(again.contains("This link has already been used"), "{again}");
    let reused = ada.submit("/account", &link, &[]).await;
    assert_eq!(reused.status(), StatusCode::GONE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirming_while_signed_in_lands_on_the_account_page() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    assert_eq!(ask_for(&ada, "ada@new.example", PASSWORD).await.status(), StatusCode::SEE_OTHER);
    let link = confirmation_path(&mails_to(&mail, "ada@new.example", CONFIRM, 1).await[0]);
    let confirmed = ada.submit(&link, &link, &[]).await;
    assert_eq!(location(&confirmed), "/account");
    let page = ada.page("/account", StatusCode::OK).await;
    assert!(page.contains("Your email address is now ada@new.example."), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_address_is_not_revealed_when_asked_for_and_refused_plainly_at_confirmation() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    app.signed_up("Bob", "bob@example.com").await;

    // Asking for an address that has an account reads exactly as asking for a free one.
    let (mut answers, mut links) = (Vec::new(), Vec::new());
    for address in ["bob@example.com", "carol@example.com"] {
        let asked = ask_for(&ada, address, PASSWORD).await;
        assert_eq!((asked.status(), location(&asked)), (StatusCode::SEE_OTHER, "/account".to_owned()));
        let page = ada.page("/account", StatusCode::OK).await;
        let flash = page.split("role=\"status\">").nth(1).unwrap().split('<').next().unwrap().to_owned();
        answers.push(flash.replace(address, "ADDRESS"));
        // Sent before the next request replaces it.
        links.push(confirmation_path(&mails_to(&mail, address, CONFIRM, 1).await[0]));
    }
    assert_eq!(answers[0], answers[1]);
    let (bob_link, carol_link) = (&links[0], &links[1]);
    let replaced = app.browser().page(bob_link, StatusCode::GONE).await;
    assert!(replaced.contains("This link was replaced"), "only the newest link works: {replaced}");

    // Carol signs up with the address before Ada's link is opened.
    app.signed_up("Carol", "carol@example.com").await;
    let page = app.browser().page(carol_link, StatusCode::CONFLICT).await;
    assert!(page.contains("This address already has an account"), "{page}");
    let refused = ada.submit("/account", carol_link, &[]).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let page = refused.text().await.unwrap();
    assert!(page.contains("carol@example.com belongs to another Teamdeck account"), "{page}");
    assert!(page.contains("Nothing changed"));
    assert_eq!(signs_in(&app, "ada@example.com").await, StatusCode::SEE_OTHER, "Ada keeps her address");
    assert_eq!(signs_in(&app, "carol@example.com").await, StatusCode::SEE_OTHER, "Carol keeps hers");
    let ada_page = ada.page("/account", StatusCode::OK).await;
    assert!(!ada_page.contains("Changed the email address"), "{ada_page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_unknown_or_expired_links_get_a_plain_page_and_no_error() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let stranger = app.browser();
    let long = "x".repeat(4000);
    let unknown = "A".repeat(43);
    for token in ["not-a-token", unknown.as_str(), long.as_str(), "%E2%80%AEabc", "..%2F..%2Flogin"] {
        let path = format!("/account/email/{token}");
        let page = stranger.page(&path, StatusCode::NOT_FOUND).await;
        assert!(page.contains("This link isn't valid"), "{token}: {page}");
        let posted = ada.submit("/account", &path, &[]).await;
        assert_eq!(posted.status(), StatusCode::NOT_FOUND, "{token}");
    }

    assert_eq!(ask_for(&ada, "ada@new.example", PASSWORD).await.status(), StatusCode::SEE_OTHER);
    let link = confirmation_path(&mails_to(&mail, "ada@new.example", CONFIRM, 1).await[0]);
    app.outside("UPDATE email_links SET expires_at = 1 WHERE purpose = 'change_email'".into()).await;
    let page = stranger.page(&link, StatusCode::GONE).await;
    assert!(page.contains("This link has expired"), "{page}");
    let posted = ada.submit("/account", &link, &[]).await;
    assert_eq!(posted.status(), StatusCode::GONE);
    assert_eq!(signs_in(&app, "ada@example.com").await, StatusCode::SEE_OTHER);
    let logs = crate::helpers::captured_logs();
    let errors: Vec<&str> = logs.lines().filter(|l| l.contains(" ERROR ") && l.contains("/account/email")).collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_or_unchanged_address_is_shown_again_with_the_reason() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let malformed = |typed: &str| EmailAddress::parse(typed).unwrap_err().to_string();
    for (typed, message) in [
        ("not-an-email", malformed("not-an-email")),
        ("", malformed("")),
        ("ada@@example.com", malformed("ada@@example.com")),
        (" ADA@example.com ", "That is already your email address.".to_owned()),
    ] {
        let refused = ask_for(&ada, typed, PASSWORD).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{typed:?}");
        let page = refused.text().await.unwrap();
        assert!(page.contains(&message), "{typed:?}: {page}");
        assert!(page.contains(&format!("value=\"{typed}\"")), "{typed:?} kept: {page}");
    }
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM email_links WHERE purpose = 'change_email'".into()).await, 0);
    let sent = format!("SELECT COUNT(*) AS n FROM outbox_emails WHERE subject IN ('{REQUESTED}', '{CONFIRM}')");
    assert_eq!(app.count(sent).await, 0);
}
