//! Invitations: the email, the link, and every state of the page it opens.

use crate::helpers::{PASSWORD, location, path_of, spawn_app_with_mail};
use reqwest::StatusCode;
use teamdeck::domain::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invited_person_gets_an_email_signs_up_from_its_link_and_lands_in_the_team() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    let ada = app.signed_up("Ada Admin", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;

    let response = ada
        .submit(
            &format!("/a/{slug}/members"),
            &format!("/a/{slug}/invites"),
            &[("email", "Bob@Example.com"), ("role", "developer")],
        )
        .await;

    assert_eq!(location(&response), format!("/a/{slug}/members#invites"));
    let members_page = ada.page(&format!("/a/{slug}/members"), StatusCode::OK).await;
    assert!(
        members_page.contains("Invite sent to Bob@Example.com as Developer. The link expires on"),
        "{members_page}"
    );
    assert!(members_page.contains("<td>Bob@Example.com</td>"), "listed as pending, as typed");
    let messages = mail.wait_for(1).await;
    let message = &messages[0];
    assert_eq!(message.to, "Bob@Example.com");
    assert_eq!(
        message.subject(),
        "Ada Admin invited you to join the team “Acme” on Teamdeck",
        "the team quoted as a name"
    );
    let text = message.decoded();
    assert!(text.contains("Ada Admin invited you to join the team “Acme” on Teamdeck as Developer."), "{text}");
    assert!(text.contains("Content-Type: text/plain") && text.contains("Content-Type: text/html"), "both parts");
    assert!(text.contains("expires on"));
    let link = message.invite_link();
    assert!(link.starts_with(&format!("{}/invites/", app.address)), "{link}");

    let bob = app.browser();
    let invite_page = bob.page(&path_of(&link), StatusCode::OK).await;
    assert!(
        invite_page
            .contains("Ada Admin invited Bob@Example.com to join <strong>Acme</strong> as <strong>Developer</strong>")
    );
    let signup_link = format!("/signup?email=Bob%40Example.com&next={}", path_of(&link));
    assert!(invite_page.contains(&signup_link.replace('&', "&amp;")), "a sign-up link with the email: {invite_page}");
    let signup_page = bob.page(&signup_link, StatusCode::OK).await;
    assert!(signup_page.contains("value=\"Bob@Example.com\""), "the invited email is prefilled");
    let token = crate::helpers::csrf_token(&signup_page).unwrap();
    let response = bob
        .client
        .post(bob.url("/signup"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("name", "Bob"),
            ("email", "Bob@Example.com"),
            ("password", PASSWORD),
            ("next", &path_of(&link)),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(location(&response), format!("/a/{slug}"), "straight into the team");
    let team_page = bob.page(&format!("/a/{slug}"), StatusCode::OK).await;
    assert!(team_page.contains("You joined Acme as Developer."));
    assert!(team_page.contains("Welcome to Teamdeck, Bob."), "{team_page}");
    assert!(!team_page.contains("This is your personal account"), "not told to make a team of their own");
    assert!(team_page.contains("<span class=\"badge badge--developer\">Developer</span>"));
    let members_page = ada.page(&format!("/a/{slug}/members"), StatusCode::OK).await;
    assert!(members_page.contains("<td>Bob@Example.com</td>") && members_page.contains("No pending invitations."));
    let used = app.browser().get(&path_of(&link)).await;
    assert_eq!(used.status(), StatusCode::GONE);
    assert!(used.text().await.unwrap().contains("This invite has already been used"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inviting_a_member_says_so_and_inviting_twice_updates_and_resends_with_a_new_link() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let members = format!("/a/{slug}/members");
    let invite = format!("/a/{slug}/invites");

    let response = ada.submit(&members, &invite, &[("email", " ADA@example.com "), ("role", "billing")]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("ADA@example.com is already a member of Acme."), "{html}");
    assert!(html.contains("value=\" ADA@example.com \""), "the typed value is kept");

    ada.submit(&members, &invite, &[("email", "carol@example.com"), ("role", "developer")]).await;
    let first = mail.wait_for(1).await[0].invite_link();
    let again = ada.submit(&members, &invite, &[("email", "Carol@Example.com"), ("role", "billing")]).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    let second = mail.wait_for(2).await[1].invite_link();

    assert_ne!(first, second);
    let page = ada.page(&members, StatusCode::OK).await;
    assert!(page.contains("Invite to Carol@Example.com sent again as Billing"), "{page}");
    assert_eq!(page.matches("<tr id=\"invite-").count(), 1, "one pending invitation, never two");
    let old = app.browser().get(&path_of(&first)).await;
    assert_eq!(old.status(), StatusCode::NOT_FOUND, "the old link is dead");
    let old = old.text().await.unwrap();
    assert!(old.contains("This invite link isn't valid"));
    assert!(old.contains("if you got more than one email, use the link in the latest"), "{old}");
    let new = app.browser().page(&path_of(&second), StatusCode::OK).await;
    assert!(new.contains("as <strong>Billing</strong>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invite_link_is_bound_to_its_address_and_says_when_it_is_cancelled_or_expired() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let members = format!("/a/{slug}/members");
    for email in ["bob@example.com", "eve@example.com", "dan@example.com"] {
        ada.submit(&members, &format!("/a/{slug}/invites"), &[("email", email), ("role", "developer")]).await;
    }
    let messages = mail.wait_for(3).await;
    let link_for = |to: &str| path_of(&messages.iter().find(|m| m.to == to).unwrap().invite_link());

    // Someone else signed in.
    let mallory = app.signed_up("Mallory", "mallory@example.com").await;
    let page = mallory.page(&link_for("bob@example.com"), StatusCode::OK).await;
    assert!(page.contains("You are signed in as mallory@example.com, but this invite to Acme is for bob@example.com."));
    let token = link_for("bob@example.com").trim_start_matches("/invites/").to_owned();
    let stolen = mallory.submit(&link_for("bob@example.com"), &format!("/invites/{token}/accept"), &[]).await;
    assert_eq!(stolen.status(), StatusCode::FORBIDDEN);
    assert_eq!(mallory.get(&format!("/a/{slug}")).await.status(), StatusCode::NOT_FOUND, "not let in");

    // Cancelled.
    let eve_id = app.pending_invitation_id(&slug, "eve@example.com").await;
    let cancelled = ada.submit(&members, &format!("/a/{slug}/invites/{eve_id}/cancel"), &[]).await;
    assert_eq!(cancelled.status(), StatusCode::SEE_OTHER);
    let page = app.browser().get(&link_for("eve@example.com")).await;
    assert_eq!(page.status(), StatusCode::GONE);
    assert!(page.text().await.unwrap().contains("This invite was cancelled"));

    // Expired.
    app.expire_invitations(&slug).await;
    let page = app.browser().get(&link_for("dan@example.com")).await;
    assert_eq!(page.status(), StatusCode::GONE);
    assert!(page.text().await.unwrap().contains("This invite has expired"));
    assert!(ada.page(&members, StatusCode::OK).await.contains("pill--expired\">Expired"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_with_an_account_signs_in_from_the_invite_link_and_lands_in_the_team() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let members = format!("/a/{slug}/members");
    drop(app.signed_up("Bob", "bob@example.com").await);
    drop(app.signed_up("Eve", "eve@example.com").await);
    ada.submit(&members, &format!("/a/{slug}/invites"), &[("email", "Bob@example.com"), ("role", "billing")]).await;
    let link = path_of(&mail.wait_for(1).await[0].invite_link());

    // Signed in as someone else from the link: back on the invite page, which says so.
    let eve = app.browser();
    let page = eve.page(&link, StatusCode::OK).await;
    let sign_in = format!("/login?next={link}");
    assert!(page.contains(&sign_in), "a sign-in link that comes back: {page}");
    let wrong =
        eve.submit(&sign_in, "/login", &[("email", "eve@example.com"), ("password", PASSWORD), ("next", &link)]).await;
    assert_eq!(location(&wrong), link);
    assert_eq!(app.pending_count(&slug).await, 1, "still pending");

    let bob = app.browser();
    let signed_in =
        bob.submit(&sign_in, "/login", &[("email", "bob@example.com"), ("password", PASSWORD), ("next", &link)]).await;
    assert_eq!(location(&signed_in), format!("/a/{slug}"), "straight into the team");
    let team_page = bob.page(&format!("/a/{slug}"), StatusCode::OK).await;
    assert!(team_page.contains("You joined Acme as Billing."), "{team_page}");
    assert_eq!(app.pending_count(&slug).await, 0);
}

/// What an invitation that raced the archive (written after the archive cancelled the
/// pending ones) would look like: it gets no link, so no email goes out for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_link_is_minted_for_an_invitation_of_an_archived_team() {
    let (app, _mail) = spawn_app_with_mail(|_| {}).await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    ada.submit(
        &format!("/a/{slug}/members"),
        &format!("/a/{slug}/invites"),
        &[("email", "x@example.com"), ("role", "developer")],
    )
    .await;
    let id = app.pending_invitation_id(&slug, "x@example.com").await;
    let db = app.db.clone();
    let (open, archived) = tokio::task::spawn_blocking(move || {
        use diesel::connection::SimpleConnection;
        let conn = &mut db.get().unwrap();
        let open = teamdeck::service::invitations::mint_token(conn, id, "a-token").unwrap();
        conn.batch_execute(&format!("UPDATE accounts SET archived_at = 1 WHERE slug = '{slug}'")).unwrap();
        (open, teamdeck::service::invitations::mint_token(conn, id, "a-token").unwrap())
    })
    .await
    .unwrap();
    assert!(open, "a pending invitation of an open team gets a link");
    assert!(!archived, "still pending, but its team is archived");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_hash_of_the_invite_token_is_stored() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    ada.submit(
        &format!("/a/{slug}/members"),
        &format!("/a/{slug}/invites"),
        &[("email", "bob@example.com"), ("role", "admin")],
    )
    .await;
    let link = mail.wait_for(1).await[0].invite_link();
    let token = link.rsplit('/').next().unwrap().to_owned();
    assert!(token.len() >= 43, "at least 256 bits: {token}");

    let dump = app.dump_tables(&["invitations", "audit_events", "outbox_emails"]).await;

    assert!(!dump.contains(&token), "the token itself is nowhere in the database");
    assert!(dump.contains(&teamdeck::service::invitations::hash_token(&token)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_outage_delays_the_email_without_losing_it() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    mail.refuse_next(2);

    ada.submit(
        &format!("/a/{slug}/members"),
        &format!("/a/{slug}/invites"),
        &[("email", "bob@example.com"), ("role", "developer")],
    )
    .await;

    let messages = mail.wait_for(1).await;
    assert_eq!(messages.len(), 1, "sent once, after two refusals");
    assert_eq!(messages[0].to, "bob@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_last_attempt_the_invite_shows_that_delivery_failed_and_can_be_resent() {
    let (app, mail) = spawn_app_with_mail(|s| s.email_max_attempts = 2).await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    mail.refuse_next(2);
    let members = format!("/a/{slug}/members");
    ada.submit(&members, &format!("/a/{slug}/invites"), &[("email", "bob@example.com"), ("role", "developer")]).await;

    let page = ada.page_showing(&members, "Delivery failed").await;
    assert!(page.contains("pill--failed\">Delivery failed"), "{page}");
    let id = app.pending_invitation_id(&slug, "bob@example.com").await;
    let resent = ada.submit(&members, &format!("/a/{slug}/invites/{id}/resend"), &[]).await;
    assert_eq!(resent.status(), StatusCode::SEE_OTHER);
    assert_eq!(mail.wait_for(1).await[0].to, "bob@example.com", "the resend goes through");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_smtp_the_invite_is_written_to_the_local_outbox() {
    let app = crate::helpers::spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    ada.submit(
        &format!("/a/{slug}/members"),
        &format!("/a/{slug}/invites"),
        &[("email", "bob@example.com"), ("role", "developer")],
    )
    .await;

    let outbox = app.data_dir.path().join("outbox");
    // Beside the verification link of Ada's sign-up: the invitation.
    let mut to_bob = Vec::new();
    for _ in 0..100 {
        let files: Vec<_> = std::fs::read_dir(&outbox).map(|d| d.filter_map(Result::ok).collect()).unwrap_or_default();
        to_bob = files
            .iter()
            .map(|f| std::fs::read_to_string(f.path()).unwrap())
            .filter(|eml| eml.contains("To: bob@example.com"))
            .collect();
        if !to_bob.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(to_bob.len(), 1, "one .eml file for Bob");
    assert!(to_bob[0].contains("/invites/"));
    let _ = Role::Admin;
}
