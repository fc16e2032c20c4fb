//! Deleting one's account: the password asked again, refused while the person is a team's
//! only admin (also when two admins delete at once), and afterwards signed out everywhere,
//! their tokens and personal keys refused, their email free, their teams kept.

use crate::helpers::{Browser, PASSWORD, location, spawn_app};
use reqwest::StatusCode;
use teamdeck::domain::Role;

async fn delete_account(browser: &Browser, password: &str) -> reqwest::Response {
    browser.submit("/account", "/account/delete", &[("password", password)]).await
}

async fn whoami(app: &crate::helpers::TestApp, auth: &str) -> StatusCode {
    let client = reqwest::Client::new();
    let request = client.get(format!("{}/api/v1/whoami", app.address)).header("Authorization", auth);
    request.send().await.unwrap().status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_account_is_signed_out_everywhere_its_credentials_stop_and_its_teams_stay() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let bob = app.signed_up("Bob", "bob@example.com").await;
    app.add_member(&slug, "bob@example.com", Role::Admin).await;
    let bob_elsewhere = app.browser();
    assert_eq!(bob_elsewhere.sign_in("bob@example.com", PASSWORD).await.status(), StatusCode::SEE_OTHER);
    let token = format!("Bearer {}", crate::platform::login_token(&app, &bob).await);
    let personal = location(&bob.get("/").await).trim_start_matches("/a/").to_owned();
    let personal_key = format!("Key {}", crate::keys::create_key(&bob, &personal, "laptop", "API").await);
    let team_key = format!("Key {}", crate::keys::create_key(&bob, &slug, "made by bob", "API").await);
    for auth in [&token, &personal_key, &team_key] {
        assert_eq!(whoami(&app, auth).await, StatusCode::OK);
    }

    let page = bob.page("/account", StatusCode::OK).await;
    assert!(
        page.contains("bob@example.com")
            && page.contains("You leave your team at once; the team, its keys and everything in it stay"),
        "{page}"
    );
    let wrong = delete_account(&bob, "not my password").await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.text().await.unwrap().contains("That is not your password."));
    assert_eq!(whoami(&app, &token).await, StatusCode::OK, "nothing happened");

    let deleted = delete_account(&bob, PASSWORD).await;
    assert_eq!(location(&deleted), "/login?deleted=1");
    let login = bob.page("/login?deleted=1", StatusCode::OK).await;
    assert!(login.contains("Your account was deleted."), "{login}");
    assert_eq!(location(&bob.get(&format!("/a/{slug}")).await).split('?').next(), Some("/login"));
    assert_eq!(location(&bob_elsewhere.get("/").await), "/login", "signed out in the other browser too");
    assert_eq!(app.browser().sign_in("bob@example.com", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(whoami(&app, &token).await, StatusCode::UNAUTHORIZED, "the login token is revoked");
    assert_eq!(whoami(&app, &personal_key).await, StatusCode::UNAUTHORIZED, "personal keys stop");
    assert_eq!(whoami(&app, &team_key).await, StatusCode::OK, "a team's key is the team's: it keeps working");

    let members = ada.page(&format!("/a/{slug}/members"), StatusCode::OK).await;
    assert!(!members.contains("bob@example.com"), "{members}");
    let audit = ada.page(&format!("/a/{slug}/audit"), StatusCode::OK).await;
    assert!(audit.contains("left the team") && audit.contains("account deleted"), "{audit}");
    let rows = app.dump_tables(&["users", "accounts", "login_tokens"]).await.to_lowercase();
    assert!(!rows.contains("bob"), "name, email and the slug made from them are gone: {rows}");
    let again = app.browser().sign_up("Bob", "bob@example.com", PASSWORD).await;
    assert_eq!(again.status(), StatusCode::OK);
    let live = "SELECT COUNT(*) AS n FROM users WHERE email_normalized = 'bob@example.com' AND deleted_at IS NULL";
    assert_eq!(app.count(live.into()).await, 1, "the email can sign up again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_only_admin_of_a_team_cannot_delete_their_account_until_the_team_has_another() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let acme = ada.create_team("Acme").await;
    let solo = ada.create_team("Solo").await;
    app.signed_up("Dev", "dev@example.com").await;
    app.add_member(&acme, "dev@example.com", Role::Developer).await;

    let page = ada.page("/account", StatusCode::OK).await;
    assert!(page.contains("You are the only admin of 2 teams"), "said before trying: {page}");
    assert!(page.contains("disabled aria-describedby=\"delete-blocked\">Delete my account</button>"), "{page}");
    let refused = delete_account(&ada, PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let page = refused.text().await.unwrap();
    assert!(page.contains("You are the only admin of 2 teams"), "{page}");
    assert!(!page.contains("aria-invalid"), "the password was right: {page}");
    assert!(page.contains(&format!("<a href=\"/a/{acme}/members\">Acme</a>: make another member its admin")), "{page}");
    assert!(page.contains(&format!("<a href=\"/a/{solo}/members\">Solo</a>: you are its only member")), "{page}");
    assert_eq!(location(&ada.get("/").await).split('/').nth(1), Some("a"), "still signed in");
    assert_eq!(app.admins_of(&acme).await, 1);

    app.set_role(&acme, "dev@example.com", Role::Admin).await;
    let archived = ada
        .submit(&format!("/a/{solo}/settings"), &format!("/a/{solo}/settings/archive"), &[("confirm_name", "Solo")])
        .await;
    assert_eq!(archived.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&delete_account(&ada, PASSWORD).await), "/login?deleted=1");
    assert_eq!(app.admins_of(&acme).await, 1, "Dev is Acme's admin");
    let kept = format!(
        "SELECT COUNT(*) AS n FROM memberships m JOIN accounts a ON a.id = m.account_id WHERE a.slug = '{solo}'"
    );
    assert_eq!(app.count(kept).await, 1, "an archived team is read-only: it keeps its member");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_admins_deleting_their_accounts_at_once_leave_the_team_one_admin() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let bob = app.signed_up("Bob", "bob@example.com").await;
    app.add_member(&slug, "bob@example.com", Role::Admin).await;

    for _ in 0..3 {
        let (a, b) = tokio::join!(delete_account(&ada, PASSWORD), delete_account(&bob, PASSWORD));
        let statuses = [a.status(), b.status()];
        if statuses.contains(&StatusCode::SEE_OTHER) {
            assert!(statuses.contains(&StatusCode::CONFLICT), "one is refused: {statuses:?}");
            break;
        }
        assert_eq!(statuses, [StatusCode::CONFLICT; 2], "{statuses:?}");
    }
    assert_eq!(app.admins_of(&slug).await, 1, "a team always keeps an admin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_on_the_delete_form_count_as_sign_in_failures() {
    let app = crate::helpers::spawn_app_with(|s| s.login_failures_per_email = 2).await;
    let ada = app.signed_up("Ada", "ada@example.com").await;

    for _ in 0..2 {
        assert_eq!(delete_account(&ada, "guess").await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let limited = delete_account(&ada, PASSWORD).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS, "even the right one, for now");
    assert!(
        limited.text().await.unwrap().contains("Too many wrong passwords from this network. Try again in 15 minutes.")
    );
    assert_eq!(app.browser().sign_in("ada@example.com", PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(location(&ada.get("/").await).split('/').nth(1), Some("a"), "the account is still there");
}

/// An account deletion racing another admin's deletion or leaving, on PostgreSQL (SQLite runs
/// one write transaction at a time), forced to overlap: the first holds the team's row and
/// waits at its audit line; the second must wait for the row and then be refused, or the
/// team would end without an admin.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_account_deletion_racing_another_admins_deletion_or_leaving_leaves_the_team_an_admin() {
    let app = spawn_app().await;
    if app.sqlite_file.is_some() {
        return;
    }
    for (case, team) in [("deletes", "Acme"), ("leaves", "Beta")] {
        let ada = std::sync::Arc::new(app.signed_up("Ada", &format!("ada-{team}@example.com")).await);
        let slug = ada.create_team(team).await;
        let bob = std::sync::Arc::new(app.signed_up("Bob", &format!("bob-{team}@example.com")).await);
        app.add_member(&slug, &format!("bob-{team}@example.com"), Role::Admin).await;

        let release = crate::members::hold_audit_inserts(&app).await;
        let first = tokio::spawn({
            let ada = ada.clone();
            async move { delete_account(&ada, PASSWORD).await.status() }
        });
        crate::members::until_waiting(&app, 1).await;
        let second = tokio::spawn({
            let (bob, slug) = (bob.clone(), slug.clone());
            async move {
                if case == "deletes" {
                    delete_account(&bob, PASSWORD).await.status() == StatusCode::CONFLICT
                } else {
                    // A refused leave goes back to the members page with the reason.
                    let leave = format!("/a/{slug}/leave");
                    location(&bob.submit(&leave, &leave, &[]).await) == format!("/a/{slug}/members")
                }
            }
        });
        crate::members::until_waiting(&app, 2).await;
        release.send(()).unwrap();
        let (first, second) = (first.await.unwrap(), second.await.unwrap());
        assert_eq!(first, StatusCode::SEE_OTHER, "{case}: the first goes through");
        assert!(second, "{case}: the second is refused");
        assert_eq!(app.admins_of(&slug).await, 1, "{case}: a team always keeps an admin");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_one_can_take_the_slug_a_deletion_needs_or_a_word_of_the_site() {
    let app = spawn_app().await;
    let bob = app.signed_up("Bob", "bob@example.com").await;
    let bob_id = app.user_id("bob@example.com").await;
    let mallory = app.signed_up("Mallory", "mallory@example.com").await;
    let squatted = mallory.create_team(&format!("Deleted {bob_id}")).await;
    assert_eq!(squatted, format!("the-deleted-{bob_id}"), "the deleted accounts' slugs are kept for them");
    for (name, slug) in [("API", "api-2"), ("New", "new-2"), ("Settings", "settings-2"), ("Deleted", "the-deleted")] {
        assert_eq!(mallory.create_team(name).await, slug, "{name}");
    }
    assert_eq!(location(&delete_account(&bob, PASSWORD).await), "/login?deleted=1");

    // A database from before the rule may hold such a slug already: the deletion still goes.
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let ada_id = app.user_id("ada@example.com").await;
    app.outside(format!("UPDATE accounts SET slug = 'deleted-{ada_id}' WHERE slug = '{squatted}'")).await;
    assert_eq!(location(&delete_account(&ada, PASSWORD).await), "/login?deleted=1");
    let slugs = "SELECT COUNT(*) AS n FROM accounts WHERE slug LIKE 'deleted-%'";
    assert_eq!(app.count(slugs.into()).await, 3, "bob's, the old team's and ada's, each its own");
}
