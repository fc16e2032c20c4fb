//! A member who leaves or is removed takes back the admin-role invitations they sent: those
//! still pending are cancelled (the others stay), and the removal confirmation lists them.

use crate::helpers::{Browser, PASSWORD, TestApp, location, spawn_app};
use reqwest::StatusCode;
use teamdeck::domain::Role;

async fn invite(admin: &Browser, slug: &str, email: &str, role: &str) {
    let members = format!("/a/{slug}/members");
    let sent = admin.submit(&members, &format!("/a/{slug}/invites"), &[("email", email), ("role", role)]).await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER, "inviting {email}");
}

async fn pending(app: &TestApp, email: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) AS n FROM invitations WHERE email = '{email}' AND state = 'pending'");
    app.count(sql).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_member_cancels_the_admin_invitations_they_sent_and_the_confirmation_says_so() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    app.signed_up("Bob", "bob@example.com").await;
    app.add_member(&slug, "bob@example.com", Role::Admin).await;
    let bob = app.signed_in("bob@example.com").await;
    invite(&bob, &slug, "carol@example.com", "admin").await;
    invite(&bob, &slug, "dave@example.com", "developer").await;
    let bob_id = app.user_id("bob@example.com").await;

    let confirm = ada.page(&format!("/a/{slug}/members/{bob_id}/remove"), StatusCode::OK).await;
    assert!(confirm.contains("Invitations Bob sent"), "{confirm}");
    assert!(confirm.contains("carol@example.com as Admin — <strong>cancelled with the removal</strong>"), "{confirm}");
    assert!(confirm.contains("dave@example.com as Developer — stays pending"), "{confirm}");

    let removed = ada.submit(&format!("/a/{slug}/members"), &format!("/a/{slug}/members/{bob_id}/remove"), &[]).await;
    assert_eq!(location(&removed), format!("/a/{slug}/members"));
    assert_eq!(pending(&app, "carol@example.com").await, 0, "the admin invitation is cancelled");
    assert_eq!(pending(&app, "dave@example.com").await, 1, "the developer invitation stays");
    let audit = ada.page(&format!("/a/{slug}/audit"), StatusCode::OK).await;
    assert!(audit.contains("its sender left the team"), "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_or_deleting_the_account_cancels_the_admin_invitations_one_sent() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    for (name, email) in [("Bob", "bob@example.com"), ("Eve", "eve@example.com")] {
        app.signed_up(name, email).await;
        app.add_member(&slug, email, Role::Admin).await;
    }
    let bob = app.signed_in("bob@example.com").await;
    invite(&bob, &slug, "carol@example.com", "admin").await;
    let eve = app.signed_in("eve@example.com").await;
    invite(&eve, &slug, "dave@example.com", "admin").await;

    let left = bob.submit(&format!("/a/{slug}/leave"), &format!("/a/{slug}/leave"), &[]).await;
    assert_eq!(location(&left), "/");
    assert_eq!(pending(&app, "carol@example.com").await, 0, "cancelled when its sender left");

    let deleted = eve.submit("/account", "/account/delete", &[("password", PASSWORD)]).await;
    assert_eq!(location(&deleted), "/login?deleted=1");
    assert_eq!(pending(&app, "dave@example.com").await, 0, "cancelled when its sender's account went");
}
