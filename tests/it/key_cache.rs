//! Working team keys are answered from memory while every change to keys and teams is heard
//! (`identity`): on PostgreSQL through LISTEN/NOTIFY, so a change made
//! by another instance or by hand stops a key quickly; on SQLite never, so it stops at once.

use crate::helpers::{TestApp, spawn_app};
use crate::keys::create_key;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::{Duration, Instant};
use teamdeck::identity::{Identity, LISTENER_APPLICATION, Settings};

async fn whoami(app: &TestApp, secret: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/whoami", app.address))
        .header("Authorization", format!("Key {secret}"))
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap_or(Value::Null))
}

/// Revokes a key the way nothing in Teamdeck does: with triggers off, so no notification is
/// sent (a change the listener cannot hear; PostgreSQL only).
async fn revoke_unheard(app: &TestApp, secret: &str) {
    app.outside(format!(
        "BEGIN; SET LOCAL session_replication_role = replica;
             UPDATE api_keys SET revoked_at = 1 WHERE public_id = '{}'; COMMIT;",
        public_id(secret)
    ))
    .await;
}

/// A key is `tdk_`, its 10-character public id, `_`, then the secret and check digits.
fn public_id(secret: &str) -> &str {
    &secret["tdk_".len().."tdk_".len() + 10]
}

async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done().await {
        assert!(Instant::now() < deadline, "{what}: not within 5 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_by_another_process_stops_working_at_once_on_sqlite_and_within_moments_on_postgres() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let secret = create_key(&ada, &slug, "ci", "API").await;
    for _ in 0..3 {
        assert_eq!(whoami(&app, &secret).await.0, StatusCode::OK);
    }
    app.outside(format!("UPDATE api_keys SET revoked_at = 1 WHERE public_id = '{}'", public_id(&secret))).await;
    let revoked = Instant::now();
    if app.sqlite_file.is_some() {
        assert_eq!(whoami(&app, &secret).await.0, StatusCode::UNAUTHORIZED, "SQLite reads the database every time");
    } else {
        until("refused after the notification", async || whoami(&app, &secret).await.0 == StatusCode::UNAUTHORIZED)
            .await;
        assert!(revoked.elapsed() < Duration::from_secs(1), "refused within {:?}", revoked.elapsed());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_used_before_is_refused_at_once_after_it_is_deleted_or_its_team_archived_and_renames_show_at_once() {
    let app = spawn_app().await;
    if app.sqlite_file.is_none() {
        // Only this instance's own commits can make its kept answers stale here (the listener,
        // already live, checked the triggers when it connected, and hears nothing now).
        app.outside(
            "ALTER TABLE api_keys DISABLE TRIGGER api_keys_credentials_changed;
                       ALTER TABLE accounts DISABLE TRIGGER accounts_credentials_changed"
                .into(),
        )
        .await;
    }
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let first = create_key(&ada, &slug, "first", "API").await;
    let second = create_key(&ada, &slug, "second", "API").await;
    for secret in [&first, &second] {
        for _ in 0..3 {
            assert_eq!(whoami(&app, secret).await.0, StatusCode::OK);
        }
    }

    let id = app.key_id(&slug, "first").await;
    let deleted = ada.submit(&format!("/a/{slug}/keys"), &format!("/a/{slug}/keys/{id}/delete"), &[]).await;
    assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
    assert_eq!(whoami(&app, &first).await.0, StatusCode::UNAUTHORIZED, "deleted, refused on the next call");

    let renamed =
        ada.submit(&format!("/a/{slug}/settings"), &format!("/a/{slug}/settings/name"), &[("name", "Acme Two")]).await;
    assert_eq!(renamed.status(), StatusCode::SEE_OTHER);
    let (status, body) = whoami(&app, &second).await;
    assert_eq!((status, body["team"]["name"].as_str()), (StatusCode::OK, Some("Acme Two")), "{body}");

    let archived = ada
        .submit(&format!("/a/{slug}/settings"), &format!("/a/{slug}/settings/archive"), &[("confirm_name", "Acme Two")])
        .await;
    assert_eq!(archived.status(), StatusCode::SEE_OTHER);
    assert_eq!(whoami(&app, &second).await.0, StatusCode::UNAUTHORIZED, "archived, refused on the next call");
}

/// PostgreSQL only. An `Identity` of its own counts only its own changes and what its listener
/// hears, so what other tests change cannot empty its cache: a key revoked unheard is still
/// answered from memory, which is what shows that memory is used at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_answered_from_memory_only_while_the_listener_hears_every_change() {
    let app = spawn_app().await;
    if app.sqlite_file.is_some() {
        let lookups = Identity::start(&app.db, &Settings::default()).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!lookups.keys_from_memory(), "SQLite cannot hear other processes' changes");
        return;
    }
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let [heard, unheard, lost] = [
        create_key(&ada, &slug, "heard", "API").await,
        create_key(&ada, &slug, "unheard", "API").await,
        create_key(&ada, &slug, "lost", "API").await,
    ];
    let lookups = Identity::start(&app.db, &Settings::default()).unwrap();
    until("the listener is live", async || lookups.keys_from_memory()).await;
    for secret in [&heard, &unheard, &lost] {
        assert!(lookups.team_key(secret.clone(), None).await.unwrap().is_ok(), "a working key");
    }

    // Unheard: still answered from memory.
    revoke_unheard(&app, &unheard).await;
    until("the listener is live", async || lookups.keys_from_memory()).await;
    assert!(lookups.team_key(unheard.clone(), None).await.unwrap().is_ok(), "answered from memory");

    // A notification (any change to a key or a team) makes every kept answer stale.
    app.outside(format!("UPDATE api_keys SET revoked_at = 1 WHERE public_id = '{}'", public_id(&heard))).await;
    until("the revoked key is refused", async || lookups.team_key(heard.clone(), None).await.unwrap().is_err()).await;
    assert!(lookups.team_key(unheard.clone(), None).await.unwrap().is_err(), "the unheard revocation is read too");

    // The listener's connection is closed: no answer from memory until it listens again,
    // and nothing kept before it listens again counts after that (it did not hear what
    // happened meanwhile).
    let [lost, between] = [lost, create_key(&ada, &slug, "between", "API").await];
    assert!(lookups.team_key(lost.clone(), None).await.unwrap().is_ok());
    let closed = app
        .count(format!(
            "SELECT COUNT(*) AS n FROM (SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
             AND application_name = '{LISTENER_APPLICATION}' OFFSET 0) AS l WHERE pg_terminate_backend(pid)"
        ))
        .await;
    assert!(closed >= 1, "the listeners' connections were closed");
    until("the listener notices", async || !lookups.keys_from_memory()).await;
    revoke_unheard(&app, &lost).await;
    assert!(lookups.team_key(lost.clone(), None).await.unwrap().is_err(), "read from the database while not listening");
    assert!(lookups.team_key(between.clone(), None).await.unwrap().is_ok(), "read while not listening, and kept");
    assert!(!lookups.keys_from_memory(), "still not listening (it waits a second before connecting again)");
    revoke_unheard(&app, &between).await;
    until("the listener is live again", async || lookups.keys_from_memory()).await;
    assert!(
        lookups.team_key(between.clone(), None).await.unwrap().is_err(),
        "nothing kept from before it listened again"
    );
}

/// PostgreSQL only: a listener whose triggers are missing or disabled would hear nothing, so
/// it never counts as live; it does once they are back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_its_triggers_the_listener_never_counts_as_live() {
    let app = spawn_app().await;
    if app.sqlite_file.is_some() {
        return;
    }
    app.outside("ALTER TABLE accounts DISABLE TRIGGER accounts_credentials_changed".into()).await;
    let lookups = Identity::start(&app.db, &Settings::default()).unwrap();
    let deadline = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < deadline {
        assert!(!lookups.keys_from_memory(), "live without its triggers");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.outside("ALTER TABLE accounts ENABLE TRIGGER accounts_credentials_changed".into()).await;
    until("live once the triggers are back", async || lookups.keys_from_memory()).await;
}
