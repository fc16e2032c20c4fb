//! Addresses and names as people type them: look-alike and invisible characters refused on
//! the form with words, compatibility forms and internationalised domains found again at
//! sign-in, and accounts stored under the earlier rule brought up to date at start.

use crate::helpers::{PASSWORD, spawn_app, spawn_app_with, spawn_app_with_mail};
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_up_form_refuses_look_alike_addresses_and_names_that_reorder_text_keeping_what_was_typed() {
    let app = spawn_app().await;
    let browser = app.browser();

    let response = browser.sign_up("\u{202E}nimdA", "ada@p\u{430}ypal.com", PASSWORD).await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("“p\u{430}ypal” in this address mixes Latin and Cyrillic letters, as look-alike addresses do."),
        "{html}"
    );
    assert!(html.contains("Text-direction controls (such as a right-to-left override) are not allowed."), "{html}");
    assert!(html.contains("value=\"ada@p\u{430}ypal.com\""), "the typed address is kept");
    assert!(html.contains("value=\"\u{202E}nimdA\""), "the typed name is kept");

    let response = browser.sign_up("\u{200B}\u{3164}", "ada\u{200B}@example.com", PASSWORD).await;

    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("This address contains an invisible character"), "{html}");
    assert!(html.contains("Enter a name with characters that can be seen."), "{html}");
    assert!(html.contains("value=\"ada\u{200B}@example.com\""), "{html}");
    assert_eq!(app.count_rows("users").await, 0, "no account was made");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_typed_in_full_width_letters_or_as_its_a_label_is_the_same_account() {
    let app = spawn_app().await;
    app.signed_up("Jürgen", "Jürgen@Müller.de").await;

    for typed in ["jürgen@müller.de", "JÜRGEN@xn--mller-kva.de", "ｊürgen@ｍüller．de"] {
        let response = app.browser().sign_in(typed, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{typed} signs in");
    }
    app.browser().sign_up("Impostor", "jürgen@XN--MLLER-KVA.DE", PASSWORD).await;
    assert_eq!(app.count_rows("users WHERE email_normalized = 'jürgen@xn--mller-kva.de'").await, 1, "one account");
    assert_eq!(app.count_rows("users WHERE email = 'Jürgen@Müller.de'").await, 1, "stored as typed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_stored_under_the_earlier_rule_are_found_again_after_a_restart() {
    const SECRETS_KEY: &str = "a secrets key both starts of the server share, 32+ bytes";
    let first = spawn_app_with(|s| s.secrets_key = Some(SECRETS_KEY.into())).await;
    first.signed_up("José", "José@Müller.de").await;
    first.signed_up("Ana", "ana@example.com").await;
    // As the earlier rule stored them: only trimmed and lowercased, the domain in Unicode
    // and the é decomposed, as some keyboards send it.
    first
        .outside(
            "UPDATE users SET email = 'Jose\u{301}@Müller.de', email_normalized = 'jose\u{301}@müller.de' \
             WHERE email = 'José@Müller.de'"
                .into(),
        )
        .await;
    assert_eq!(first.browser().sign_in("josé@müller.de", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);

    let url = first.database_url.clone();
    let restarted = spawn_app_with(move |s| {
        s.secrets_key = Some(SECRETS_KEY.into());
        s.database_url = Some(url);
    })
    .await;

    assert_eq!(restarted.count_rows("users WHERE email_normalized = 'josé@xn--mller-kva.de'").await, 1);
    assert_eq!(restarted.browser().sign_in("josé@müller.de", PASSWORD).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(restarted.browser().sign_in("ana@example.com", PASSWORD).await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_to_an_internationalised_domain_shows_and_goes_to_its_a_label() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let members = format!("/a/{slug}/members");
    for email in ["Bob@Müller.de", "ｃarol@example.com"] {
        ada.submit(&members, &format!("/a/{slug}/invites"), &[("email", email), ("role", "developer")]).await;
    }

    let page = ada.page(&members, StatusCode::OK).await;
    assert!(page.contains("<td>Bob@Müller.de <span class=\"muted\">(xn--mller-kva.de)</span></td>"), "{page}");
    assert!(page.contains("<td>ｃarol@example.com</td>"), "shown as typed");
    let mut to: Vec<String> = mail.wait_for(2).await.into_iter().map(|m| m.to).collect();
    to.sort();
    assert_eq!(to, ["Bob@xn--mller-kva.de", "carol@example.com"], "sent where mail servers find them");
}
