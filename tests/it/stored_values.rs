//! A value in the database that this version has no name for (written by a newer version, or
//! by hand) is refused when it is read, never taken for another one.

use crate::helpers::{TestApp, captured_logs, spawn_app};
use reqwest::StatusCode;
use teamdeck::domain::Role;
use teamdeck::service::members;

/// The error and its causes, as the log shows them.
fn with_causes(error: &dyn std::error::Error) -> String {
    std::iter::successors(Some(error), |e| e.source()).map(ToString::to_string).collect::<Vec<_>>().join(": ")
}

/// Runs `sql` with the CHECK constraints out of the way, as a database written by another
/// version would be: SQLite stops checking them on this connection around `sql`, PostgreSQL drops
/// the one on `memberships.role` (the database is the test's own).
async fn write_unchecked(app: &TestApp, sql: &str) {
    let sql = if app.sqlite_file.is_some() {
        format!("PRAGMA ignore_check_constraints = ON; {sql}; PRAGMA ignore_check_constraints = OFF;")
    } else {
        format!("ALTER TABLE memberships DROP CONSTRAINT memberships_role_check; {sql};")
    };
    app.outside(sql).await;
}

#[tokio::test]
async fn a_role_this_version_does_not_know_is_refused_rather_than_read_as_another_role() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    app.signed_up("Bob", "bob@example.com").await;
    app.add_member(&slug, "bob@example.com", Role::Developer).await;
    let bob_id = app.user_id("bob@example.com").await;
    write_unchecked(
        &app,
        &format!(
            "UPDATE memberships SET role = 'owner' WHERE user_id = {bob_id} \
             AND account_id = (SELECT id FROM accounts WHERE slug = '{slug}')"
        ),
    )
    .await;

    // Read through the connection of either backend (`DbConnection`)…
    let db = app.db.clone();
    let team = slug.clone();
    let found = tokio::task::spawn_blocking(move || {
        use diesel::prelude::*;
        use teamdeck::db::schema::accounts;
        let conn = &mut *db.get().unwrap();
        let account_id = accounts::table.filter(accounts::slug.eq(team)).select(accounts::id).first(conn).unwrap();
        members::find(conn, account_id, bob_id)
    })
    .await
    .unwrap();
    let error = with_causes(&found.expect_err("an unknown role is an error, not a developer"));
    assert!(error.contains("unknown role “owner” in the database"), "{error}");

    // …and through the backend's own connection, as the members page reads its first page:
    // the page fails and the log says why, rather than listing Bob as a developer.
    let page = ada.get(&format!("/a/{slug}/members")).await;
    assert_eq!(page.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = page.text().await.unwrap();
    assert!(!body.contains("Developer"), "{body}");
    assert!(captured_logs().contains("unknown role “owner”"), "the log names the value");
}
