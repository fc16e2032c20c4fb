//! Request records survive a database that fails their writes for a while: they are kept
//! and written once it answers again, none lost.

use crate::helpers::{TestApp, spawn_app};
use reqwest::StatusCode;
use std::time::Duration;
use teamdeck::db::DbConnection;

/// Makes every insert into `api_requests` fail (`on`), as a database refusing writes would,
/// or stops doing so.
async fn refuse_record_writes(app: &TestApp, on: bool) {
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        use diesel::connection::SimpleConnection;
        let mut conn = db.get().unwrap();
        let sql = match (matches!(&*conn, DbConnection::Sqlite(_)), on) {
            (true, true) => "CREATE TRIGGER refuse_records BEFORE INSERT ON api_requests \
                             BEGIN SELECT RAISE(ABORT, 'disk full'); END;"
                .to_owned(),
            (true, false) => "DROP TRIGGER refuse_records;".to_owned(),
            (false, true) => "CREATE FUNCTION refuse_records() RETURNS trigger LANGUAGE plpgsql AS $$ \
                              BEGIN RAISE EXCEPTION 'disk full'; END $$; \
                              CREATE TRIGGER refuse_records BEFORE INSERT ON api_requests \
                              FOR EACH ROW EXECUTE FUNCTION refuse_records();"
                .to_owned(),
            (false, false) => "DROP TRIGGER refuse_records ON api_requests; DROP FUNCTION refuse_records();".to_owned(),
        };
        conn.batch_execute(&sql).unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_whose_write_failed_are_written_once_the_database_takes_them() {
    let app = spawn_app().await;
    let ada = app.signed_up("Ada", "ada@example.com").await;
    let slug = ada.create_team("Acme").await;
    let key = format!("Key {}", crate::keys::create_key(&ada, &slug, "prod", "API").await);
    refuse_record_writes(&app, true).await;
    let client = reqwest::Client::new();
    for _ in 0..5 {
        let response = client.get(format!("{}/api/v1/whoami", app.address)).header("Authorization", &key).send().await;
        assert_eq!(response.unwrap().status(), StatusCode::OK);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.count_rows("api_requests").await, 0, "the writes failed so far");

    refuse_record_writes(&app, false).await;
    for _ in 0..200 {
        if app.count_rows("api_requests").await == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.count_rows("api_requests").await, 5, "every call is recorded once the database takes them");
}
