//! The members page is kept once rendered and reused while nothing on it has changed
//! (`web/members/cache.rs`): these tests change what it shows by every path there is,
//! including straight in the database as another instance would, and check that the next
//! view shows it; and that one viewer's page is never shown to another.

use crate::helpers::{Browser, TestApp, csrf_token, spawn_app};
use reqwest::StatusCode;
use teamdeck::domain::Role;

/// The table row of the member `user_id`.
fn row(html: &str, user_id: i64) -> &str {
    let start = html.find(&format!("<tr id=\"member-{user_id}\">")).unwrap_or_else(|| panic!("no row for {user_id}"));
    let rest = &html[start..];
    &rest[..rest.find("</tr>").unwrap()]
}

/// The members table, dialog included.
fn table(html: &str) -> &str {
    let start = html.find("<div id=\"members-table\"").expect("the members table");
    &html[start..html.find("<section id=\"invites\"").expect("the invitations")]
}

/// The members table alone, as htmx asks for it (search, pagination).
async fn htmx_table(browser: &Browser, path: &str) -> String {
    let response = browser
        .client
        .get(browser.url(path))
        .header("HX-Request", "true")
        .header("HX-Target", "members-table")
        .send()
        .await
        .unwrap();
    response.text().await.unwrap()
}

async fn execute(app: &TestApp, sql: String) {
    use diesel::RunQueryDsl;
    app.db.query(move |conn| diesel::sql_query(sql).execute(conn)).await.expect("the statement");
}

/// Ada, admin of the team Acme (its slug returned), and Bob, a developer in it (his id).
async fn acme_with_bob(app: &TestApp) -> (Browser, String, i64) {
    let ada = app.signed_up("Ada Admin", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    app.signed_up("Bob", "bob@example.com").await;
    app.add_member(&slug, "bob@example.com", Role::Developer).await;
    (ada, slug, app.user_id("bob@example.com").await)
}

async fn members_version(app: &TestApp, slug: &str) -> i64 {
    app.count(format!("SELECT members_version AS n FROM accounts WHERE slug = '{slug}'")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_page_seen_before_shows_each_change_made_since_even_by_another_instance() {
    let app = spawn_app().await;
    let (ada, slug, bob_id) = acme_with_bob(&app).await;
    let members = format!("/a/{slug}/members");
    let page = ada.page(&members, StatusCode::OK).await;
    assert!(row(&page, bob_id).contains("<option value=\"developer\" selected>"));
    let again = ada.page(&members, StatusCode::OK).await;
    assert_eq!(table(&page), table(&again), "nothing changed: the same table");

    // Another instance (or any code path) changes the role: only the database knows.
    app.set_role(&slug, "bob@example.com", Role::Billing).await;
    let page = ada.page(&members, StatusCode::OK).await;
    assert!(row(&page, bob_id).contains("<option value=\"billing\" selected>"), "{}", row(&page, bob_id));

    execute(&app, format!("UPDATE users SET name = 'Robert' WHERE id = {bob_id}")).await;
    let page = ada.page(&members, StatusCode::OK).await;
    assert!(row(&page, bob_id).contains("<td>Robert</td>"), "{}", row(&page, bob_id));

    execute(&app, format!("UPDATE users SET email = 'robert@example.com' WHERE id = {bob_id}")).await;
    let page = ada.page(&members, StatusCode::OK).await;
    assert!(row(&page, bob_id).contains("robert@example.com"), "{}", row(&page, bob_id));

    app.signed_up("Cleo", "cleo@example.com").await;
    app.add_member(&slug, "cleo@example.com", Role::Developer).await;
    let cleo_id = app.user_id("cleo@example.com").await;
    let page = ada.page(&members, StatusCode::OK).await;
    assert!(row(&page, cleo_id).contains("<td>Cleo</td>"));

    execute(&app, format!("DELETE FROM memberships WHERE user_id = {bob_id}")).await;
    let page = ada.page(&members, StatusCode::OK).await;
    assert!(!page.contains(&format!("member-{bob_id}")), "Bob is gone");

    // Invitations: sent through the page, then expired in the database.
    let token = csrf_token(&page).unwrap();
    let response = ada
        .client
        .post(ada.url(&format!("/a/{slug}/invites")))
        .form(&[("csrf_token", token.as_str()), ("email", "dora@example.com"), ("role", "developer")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = ada.page(&members, StatusCode::OK).await;
    assert!(page.contains("dora@example.com"), "the new invitation is listed");
    assert!(!page.contains("Expired"));
    app.expire_invitations(&slug).await;
    let page = ada.page(&members, StatusCode::OK).await;
    assert!(page.contains("Expired"), "the invitation shows as expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_viewer_gets_a_page_of_their_own_with_their_own_controls_and_token() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada Admin", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let eve = app.signed_up("Eve", "eve@example.com").await;
    app.add_member(&slug, "eve@example.com", Role::Admin).await;
    let dev = app.signed_up("Dev", "dev@example.com").await;
    app.add_member(&slug, "dev@example.com", Role::Developer).await;
    let (ada_id, eve_id, dev_id) = (
        app.user_id("ada@example.com").await,
        app.user_id("eve@example.com").await,
        app.user_id("dev@example.com").await,
    );
    let members = format!("/a/{slug}/members");

    let for_ada = ada.page(&members, StatusCode::OK).await;
    let for_eve = eve.page(&members, StatusCode::OK).await;
    let for_dev = dev.page(&members, StatusCode::OK).await;

    assert!(row(&for_ada, ada_id).contains("(you)") && !row(&for_ada, eve_id).contains("(you)"));
    assert!(row(&for_eve, eve_id).contains("(you)") && !row(&for_eve, ada_id).contains("(you)"));
    assert!(row(&for_ada, eve_id).contains(">Remove</a>") && !row(&for_ada, ada_id).contains(">Remove</a>"));
    assert!(row(&for_eve, ada_id).contains(">Remove</a>") && !row(&for_eve, eve_id).contains(">Remove</a>"));
    assert!(!for_dev.contains("<select id=\"role-") && !for_dev.contains(">Remove</a>"), "no controls for a developer");
    let (ada_token, eve_token) = (csrf_token(&for_ada).unwrap(), csrf_token(&for_eve).unwrap());
    assert_ne!(ada_token, eve_token);
    assert!(!for_eve.contains(&ada_token), "Ada's token never reaches Eve");

    // Eve's page, seen again, still carries her own token, which her role form accepts.
    let again = eve.page(&members, StatusCode::OK).await;
    assert!(row(&again, dev_id).contains(&format!("value=\"{eve_token}\"")));
    let response = eve
        .client
        .post(eve.url(&format!("/a/{slug}/members/{dev_id}/role")))
        .form(&[("csrf_token", eve_token.as_str()), ("role", "billing")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = ada.page(&members, StatusCode::OK).await;
    assert!(row(&page, dev_id).contains("<option value=\"billing\" selected>"));

    // Demoted, Eve's next view has no controls, although her page with them was kept.
    app.set_role(&slug, "eve@example.com", Role::Developer).await;
    let page = eve.page(&members, StatusCode::OK).await;
    assert!(!page.contains("<select id=\"role-") && !page.contains(">Remove</a>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_members_version_moves_with_every_change_the_page_shows_and_only_those() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada Admin", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    app.signed_up("Bob", "bob@example.com").await;
    let bob_id = app.user_id("bob@example.com").await;
    let ada_id = app.user_id("ada@example.com").await;
    let account = format!("(SELECT id FROM accounts WHERE slug = '{slug}')");

    let changes = [
        format!(
            "INSERT INTO memberships (account_id, user_id, role, sort_name, created_at) \
             SELECT id, {bob_id}, 'developer', 'bob', 0 FROM accounts WHERE slug = '{slug}'"
        ),
        format!("UPDATE memberships SET role = 'billing' WHERE user_id = {bob_id} AND account_id = {account}"),
        format!("UPDATE users SET name = 'Robert' WHERE id = {bob_id}"),
        format!("UPDATE users SET email = 'robert@example.com' WHERE id = {bob_id}"),
        format!("DELETE FROM memberships WHERE user_id = {bob_id} AND account_id = {account}"),
        format!(
            "INSERT INTO invitations (id, account_id, email, email_normalized, role, invited_by, token_hash, state, \
             delivery, created_at, expires_at, updated_at) SELECT 77, id, 'x@example.com', 'x@example.com', \
             'developer', {bob_id}, 'hash', 'pending', 'queued', 0, 1, 0 FROM accounts WHERE slug = '{slug}'"
        ),
        "UPDATE invitations SET delivery = 'failed' WHERE id = 77".to_owned(),
        // The inviter's name shows next to the invitation, also once they have left the team.
        format!("UPDATE users SET name = 'Bob the inviter' WHERE id = {bob_id}"),
        "DELETE FROM invitations WHERE id = 77".to_owned(),
    ];
    for change in changes {
        let before = members_version(&app, &slug).await;
        execute(&app, change.clone()).await;
        assert!(members_version(&app, &slug).await > before, "no new version after {change}");
    }

    let unrelated = [
        format!("UPDATE users SET password_hash = 'other' WHERE id = {ada_id}"),
        format!("UPDATE users SET name = 'Ada Admin' WHERE id = {ada_id}"), // unchanged
        format!("UPDATE users SET name = 'Bobby' WHERE id = {bob_id}"),     // no longer a member
    ];
    for change in unrelated {
        let before = members_version(&app, &slug).await;
        execute(&app, change.clone()).await;
        assert_eq!(members_version(&app, &slug).await, before, "a new version after {change}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rendered_page_is_served_again_while_the_version_it_was_rendered_at_stands() {
    let app = spawn_app().await;
    let (ada, slug, bob_id) = acme_with_bob(&app).await;
    let members = format!("/a/{slug}/members");
    ada.page(&members, StatusCode::OK).await;
    let version = members_version(&app, &slug).await;

    // A change the triggers are made not to see: the kept page, not the database, answers.
    app.set_role(&slug, "bob@example.com", Role::Billing).await;
    execute(&app, format!("UPDATE accounts SET members_version = {version} WHERE slug = '{slug}'")).await;
    let page = ada.page(&members, StatusCode::OK).await;
    assert!(row(&page, bob_id).contains("<option value=\"developer\" selected>"), "served from the kept page");
    let part = htmx_table(&ada, &members).await;
    assert_eq!(part, table(&page).trim_end(), "the htmx table is the kept one too");

    // Another page of the list is not the first page.
    let later = ada.page(&format!("{members}?after=zzz"), StatusCode::OK).await;
    assert!(later.contains("First page"), "a later page links back to the first");
    assert!(!ada.page(&members, StatusCode::OK).await.contains("First page"));

    execute(&app, format!("UPDATE accounts SET members_version = {version} + 100 WHERE slug = '{slug}'")).await;
    let page = ada.page(&members, StatusCode::OK).await;
    assert!(row(&page, bob_id).contains("<option value=\"billing\" selected>"), "a new version renders afresh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_rendering_serves_every_viewer_with_the_same_controls_each_with_their_own_token_and_row() {
    let app = spawn_app().await;
    let (ada, slug, bob_id) = acme_with_bob(&app).await;
    let eve = app.signed_up("Eve", "eve@example.com").await;
    app.add_member(&slug, "eve@example.com", Role::Admin).await;
    let (ada_id, eve_id) = (app.user_id("ada@example.com").await, app.user_id("eve@example.com").await);
    let members = format!("/a/{slug}/members");
    let for_ada = ada.page(&members, StatusCode::OK).await;
    let version = members_version(&app, &slug).await;

    // A change the triggers are made not to see: what Eve is shown next comes from the
    // rendering made for Ada.
    app.set_role(&slug, "bob@example.com", Role::Billing).await;
    execute(&app, format!("UPDATE accounts SET members_version = {version} WHERE slug = '{slug}'")).await;
    let for_eve = eve.page(&members, StatusCode::OK).await;
    assert!(row(&for_eve, bob_id).contains("<option value=\"developer\" selected>"), "Ada's rendering, kept");

    // Yet each page is the viewer's own: their token in every form, "(you)" on their row.
    let (ada_token, eve_token) = (csrf_token(&for_ada).unwrap(), csrf_token(&for_eve).unwrap());
    assert_ne!(ada_token, eve_token);
    assert!(!for_eve.contains(&ada_token), "Ada's token never reaches Eve");
    let tokens_in = |html: &str, token: &str| html.matches(&format!("value=\"{token}\"")).count();
    assert_eq!(tokens_in(table(&for_eve), &eve_token), tokens_in(table(&for_ada), &ada_token), "every form filled");
    assert!(row(&for_eve, eve_id).contains("(you)") && !row(&for_eve, eve_id).contains(">Remove</a>"));
    assert!(row(&for_eve, ada_id).contains(">Remove</a>") && !row(&for_eve, ada_id).contains("(you)"));
    assert!(row(&for_eve, eve_id).contains(&format!("value=\"{eve_token}\"")), "her own row has her token");
    let table_for_eve = htmx_table(&eve, &members).await;
    assert_eq!(table_for_eve, table(&for_eve).trim_end(), "the htmx table is filled in the same way");
}
