//! The outbox under faults: a message whose outcome could not be recorded strands none of
//! the others and is sent again with the same link (at least once, never a dead first
//! copy); a server that refuses to start claims no mail.

use crate::helpers::{PASSWORD, location, path_of, spawn_app_with_mail, test_database_url};
use reqwest::StatusCode;
use std::time::Duration;
use teamdeck::config::Settings;
use teamdeck::db::{Db, DbConnection};
use teamdeck::service::outbox::{self, NewEmail};

/// Makes recording that a message to `to` was sent fail (`on`), as a connection dropped
/// right after the message went to SMTP would, or stops doing so.
async fn arm(app: &crate::helpers::TestApp, to: &str, on: bool) {
    let (db, to) = (app.db.clone(), to.to_owned());
    tokio::task::spawn_blocking(move || {
        use diesel::connection::SimpleConnection;
        let mut conn = db.get().unwrap();
        let sqlite = matches!(&*conn, DbConnection::Sqlite(_));
        let sql = trigger_sql(sqlite, &to, on);
        conn.batch_execute(&sql).unwrap();
    })
    .await
    .unwrap();
}

fn trigger_sql(sqlite: bool, to: &str, on: bool) -> String {
    match (sqlite, on) {
        (true, true) => format!(
            "CREATE TRIGGER drop_connection BEFORE UPDATE OF sent_at ON outbox_emails \
             WHEN NEW.sent_at IS NOT NULL AND NEW.to_address = '{to}' \
             BEGIN SELECT RAISE(ABORT, 'connection dropped'); END;"
        ),
        (true, false) => "DROP TRIGGER drop_connection;".to_owned(),
        (false, true) => format!(
            "CREATE FUNCTION drop_connection() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.sent_at IS NOT NULL AND NEW.to_address = '{to}' THEN RAISE EXCEPTION 'connection dropped'; END IF; \
             RETURN NEW; END $$; \
             CREATE TRIGGER drop_connection BEFORE UPDATE ON outbox_emails FOR EACH ROW EXECUTE FUNCTION drop_connection();"
        ),
        (false, false) => "DROP TRIGGER drop_connection ON outbox_emails; DROP FUNCTION drop_connection();".to_owned(),
    }
}

/// The count `sql` reaches `want` within 15 s (a retry comes 5 s after a failure), or its last value.
async fn settles_at(app: &crate::helpers::TestApp, sql: &str, want: i64) -> i64 {
    for _ in 0..300 {
        if app.count(sql.into()).await == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.count(sql.into()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_whose_outcome_was_lost_strands_no_other_and_its_second_copy_keeps_the_link() {
    let (app, mail) = spawn_app_with_mail(|_| {}).await;
    let people = ["ada@example.com", "bob@example.com", "carol@example.com"];
    for email in people {
        assert_eq!(app.browser().sign_up("Someone", email, PASSWORD).await.status(), StatusCode::OK);
    }
    for email in people {
        mail.wait_for_mail_to(email, 1).await;
    }
    // The three due again at once, so one pass claims them together; recording bob's fails.
    arm(&app, "bob@example.com", true).await;
    app.outside("UPDATE outbox_emails SET sent_at = NULL, attempts = 0, next_attempt_at = 0".into()).await;

    for email in people {
        mail.wait_for_mail_to(email, 2).await; // the pass went on past bob's
    }
    let stuck = "SELECT COUNT(*) AS n FROM outbox_emails WHERE sent_at IS NULL";
    assert_eq!(settles_at(&app, stuck, 1).await, 1, "only bob's is unrecorded");
    arm(&app, "bob@example.com", false).await;
    assert_eq!(settles_at(&app, stuck, 0).await, 0, "bob's is recorded once the database answers");
    let copies = mail.wait_for_mail_to("bob@example.com", 2).await;

    let links: Vec<String> = copies.iter().map(|m| m.invite_link()).collect();
    assert!(links.iter().all(|l| *l == links[0]), "every copy carries one link: {links:?}");
    let opened = app.browser().get(&path_of(&links[0])).await;
    assert_eq!(location(&opened), "/login", "the first copy's link still works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_refuses_to_start_claims_no_mail() {
    let url = test_database_url().await;
    let connect = url.clone();
    let db = tokio::task::spawn_blocking(move || Db::connect(&connect, 2)).await.unwrap().unwrap();
    let conn_db = db.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = conn_db.get().unwrap();
        let sealer = teamdeck::service::secrets::Sealer::from_material(b"the key the secrets are sealed under!");
        teamdeck::service::secrets::check_key(&mut conn, &sealer).unwrap();
        let email = NewEmail {
            to: "ada@example.com".into(),
            subject: "Due".into(),
            text_body: "Due now.".into(),
            html_body: "<p>Due now.</p>".into(),
            invitation_id: None,
            email_link_id: None,
        };
        outbox::enqueue(&mut conn, &email).unwrap();
    })
    .await
    .unwrap();

    let data_dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::defaults_in(data_dir.path().to_path_buf());
    settings.database_url = Some(url);
    settings.bind = "127.0.0.1:0".into();
    settings.secrets_key = Some("another key, not the one the secrets need".into());
    let refused = teamdeck::startup::Application::build(settings).await.err().expect("refused");
    assert!(refused.to_string().contains("is not the one the stored secrets were sealed under"), "{refused}");

    tokio::time::sleep(Duration::from_millis(2500)).await;
    let untouched = "SELECT COUNT(*) AS n FROM outbox_emails WHERE leased_until IS NULL AND sent_at IS NULL";
    let count_db = db.clone();
    let n = tokio::task::spawn_blocking(move || {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let rows: Vec<Count> =
            diesel::RunQueryDsl::load(diesel::sql_query(untouched), &mut count_db.get().unwrap()).unwrap();
        rows[0].n
    })
    .await
    .unwrap();
    assert_eq!(n, 1, "the due message was neither claimed nor sent");
    assert!(std::fs::read_dir(data_dir.path().join("outbox")).map_or(true, |mut d| d.next().is_none()));
}
