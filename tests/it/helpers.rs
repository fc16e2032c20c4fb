//! The harness: `spawn_app()` and a cookie-keeping `Browser` that submits forms with the
//! CSRF token of the page they came from, as a browser does.

use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;
use reqwest::redirect::Policy;
use reqwest::{Response, StatusCode};
use std::sync::LazyLock;
use teamdeck::config::Settings;
use teamdeck::db::Db;
use teamdeck::domain::Role;
use teamdeck::startup::Application;

pub struct TestApp {
    pub address: String,
    /// `Some(path)` of the SQLite file when the test runs on SQLite.
    pub sqlite_file: Option<std::path::PathBuf>,
    pub database_url: String,
    pub db: Db,
    pub data_dir: tempfile::TempDir,
    server: actix_web::dev::ServerHandle,
    running: tokio::task::JoinHandle<std::io::Result<()>>,
}

static CAPTURED: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

struct CaptureWriter;

impl std::io::Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURED.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything the apps of this test binary have logged so far.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&CAPTURED.lock().unwrap()).into_owned()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Spawns the app with settings adjusted by `adjust` (on top of test defaults).
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    static LOGS: LazyLock<()> = LazyLock::new(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            teamdeck::telemetry::init();
        } else {
            // Every log line of every app in this test binary, kept so tests can check that
            // no secret is ever logged.
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
                .with_writer(|| CaptureWriter)
                .with_ansi(false)
                .try_init();
        }
    });
    LazyLock::force(&LOGS);
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let mut settings = Settings::defaults_in(data_dir.path().to_path_buf());
    settings.workers = Some(1);
    settings.db_pool_size = Some(4);
    settings.database_url = Some(test_database_url().await);
    adjust(&mut settings);
    let database_url = settings.database_url();
    let app = Application::build(settings).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let server = app.handle();
    let running = tokio::spawn(app.run_until_stopped());
    let url = database_url.clone();
    let db = tokio::task::spawn_blocking(move || Db::connect(&url, 2)).await.unwrap().unwrap();
    let sqlite_file = database_url.strip_prefix("sqlite://").map(std::path::PathBuf::from);
    TestApp { address, sqlite_file, database_url, db, data_dir, server, running }
}

/// A fresh database: a new one on the PostgreSQL server of `TEST_DATABASE_URL`, else a
/// SQLite file in the test's own directory (left to the caller: `None` here means SQLite).
pub async fn test_database_url() -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(server) if !server.is_empty() => {
            tokio::task::spawn_blocking(move || create_pg_database(&server)).await.unwrap()
        }
        _ => {
            let dir = tempfile::tempdir().expect("a temporary directory").keep();
            format!("sqlite://{}", dir.join("test.db").display())
        }
    }
}

fn create_pg_database(server: &str) -> String {
    use diesel::Connection;
    let name = format!("teamdeck_test_{:016x}", rand::random::<u64>());
    let mut conn = diesel::PgConnection::establish(server).expect("TEST_DATABASE_URL reachable");
    conn.batch_execute(&format!("CREATE DATABASE {name}")).expect("creating a test database");
    let (base, query) = match server.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (server, String::new()),
    };
    let root = base.rsplit_once('/').map(|(r, _)| r).unwrap_or(base);
    format!("{root}/{name}{query}")
}

impl TestApp {
    /// Stops the server gracefully, as SIGTERM does, and waits until it has finished.
    pub async fn stop(self) -> TestApp {
        self.server.stop(true).await;
        let TestApp { address, sqlite_file, database_url, db, data_dir, server, running } = self;
        running.await.expect("the server task").expect("a clean stop");
        TestApp { address, sqlite_file, database_url, db, data_dir, server, running: tokio::spawn(async { Ok(()) }) }
    }

    pub async fn count_rows(&self, table: &str) -> i64 {
        self.count(format!("SELECT COUNT(*) AS n FROM {table}")).await
    }

    /// A new browser with an empty cookie jar.
    pub fn browser(&self) -> Browser {
        Browser {
            base: self.address.clone(),
            client: reqwest::Client::builder().cookie_store(true).redirect(Policy::none()).build().unwrap(),
        }
    }

    /// A new browser whose requests say, through `X-Forwarded-For`, that they come from
    /// `client` (believed when the app trusts 127.0.0.1 as a proxy: `--trusted-proxies`).
    pub fn browser_from(&self, client: &str) -> Browser {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("X-Forwarded-For", client.parse().unwrap());
        Browser {
            base: self.address.clone(),
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(Policy::none())
                .default_headers(headers)
                .build()
                .unwrap(),
        }
    }

    /// A browser signed in as a new user named `name` whose address is verified (see
    /// [`TestApp::registered`]).
    pub async fn signed_up(&self, name: &str, email: &str) -> Browser {
        self.registered(name, email).await;
        self.signed_in(email).await
    }

    /// A new user named `name` with a verified address, signed in nowhere. A shortcut: the
    /// sign-up goes through the page (which signs no one in), then the address is marked
    /// verified straight in the database instead of through the emailed link (which has
    /// tests of its own, in `verification.rs`). Returns once the verification email the
    /// sign-up queued has left the outbox, so a test counting mail, or SMTP refusals, starts
    /// from a quiet outbox (`MailServer::messages` leaves such emails out).
    pub async fn registered(&self, name: &str, email: &str) {
        let response = self.browser().sign_up(name, email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "sign-up of {email} should succeed");
        self.outbox_settled(email).await;
        self.verify_address(email).await;
    }

    /// A browser signed in as a new user whose address is not verified yet.
    pub async fn unverified(&self, name: &str, email: &str) -> Browser {
        let response = self.browser().sign_up(name, email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "sign-up of {email} should succeed");
        self.outbox_settled(email).await;
        self.signed_in(email).await
    }

    /// A new browser signed in through `/login` as the user of `email`.
    pub async fn signed_in(&self, email: &str) -> Browser {
        let browser = self.browser();
        let response = browser.sign_in(email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{email} signs in");
        browser
    }

    /// Marks the address of `email`'s user verified, as its emailed link would.
    pub async fn verify_address(&self, email: &str) {
        self.outside(format!(
            "UPDATE users SET email_verified_at = created_at WHERE email_normalized = '{}'",
            email.trim().to_lowercase().replace('\'', "''")
        ))
        .await;
    }

    /// Waits (up to 10 s) until no email to `email` waits in the outbox: each was sent, or
    /// failed for good.
    pub async fn outbox_settled(&self, email: &str) {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM outbox_emails WHERE lower(to_address) = '{}' AND sent_at IS NULL AND failed_at IS NULL",
            email.trim().to_lowercase().replace('\'', "''")
        );
        for _ in 0..200 {
            if self.count(sql.clone()).await == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("emails to {email} still wait in the outbox after 10 s");
    }

    /// Adds `email`'s user to the team `slug` with `role`, as an accepted invite would.
    pub async fn add_member(&self, slug: &str, email: &str, role: Role) {
        let (slug, email) = (slug.to_owned(), email.to_lowercase());
        self.db
            .query(move |conn| {
                diesel::sql_query(format!(
                    "INSERT INTO memberships (account_id, user_id, role, sort_name, created_at) \
                     SELECT a.id, u.id, '{}', lower(u.name), 0 FROM accounts a, users u \
                     WHERE a.slug = '{}' AND u.email_normalized = '{}'",
                    role.as_str(),
                    slug.replace('\'', "''"),
                    email.replace('\'', "''")
                ))
                .execute(conn)
            })
            .await
            .expect("adding a member");
    }

    pub async fn user_id(&self, email: &str) -> i64 {
        use diesel::prelude::*;
        use teamdeck::db::schema::users;
        let email = email.to_lowercase();
        self.db
            .query(move |conn| users::table.filter(users::email_normalized.eq(email)).select(users::id).first(conn))
            .await
            .expect("a user with that email")
    }

    pub async fn key_id(&self, slug: &str, name: &str) -> i64 {
        use diesel::prelude::*;
        use teamdeck::db::schema::{accounts, api_keys};
        let (slug, name) = (slug.to_owned(), name.to_owned());
        self.db
            .query(move |conn| {
                api_keys::table
                    .inner_join(accounts::table)
                    .filter(accounts::slug.eq(slug))
                    .filter(api_keys::name.eq(name))
                    .select(api_keys::id)
                    .first(conn)
            })
            .await
            .expect("a key")
    }

    pub async fn pending_invitation_id(&self, slug: &str, email: &str) -> i64 {
        use diesel::prelude::*;
        use teamdeck::db::schema::{accounts, invitations};
        let (slug, email) = (slug.to_owned(), email.to_lowercase());
        self.db
            .query(move |conn| {
                invitations::table
                    .inner_join(accounts::table)
                    .filter(accounts::slug.eq(slug))
                    .filter(invitations::email_normalized.eq(email))
                    .filter(invitations::state.eq("pending"))
                    .select(invitations::id)
                    .first(conn)
            })
            .await
            .expect("a pending invitation")
    }

    pub async fn admins_of(&self, slug: &str) -> i64 {
        self.count(format!(
            "SELECT COUNT(*) AS n FROM memberships WHERE role = 'admin' AND account_id = (SELECT id FROM accounts WHERE slug = '{}')",
            slug.replace('\'', "''")
        ))
        .await
    }

    pub async fn pending_count(&self, slug: &str) -> i64 {
        self.count(format!(
            "SELECT COUNT(*) AS n FROM invitations WHERE state = 'pending' AND account_id = (SELECT id FROM accounts WHERE slug = '{}')",
            slug.replace('\'', "''")
        ))
        .await
    }

    /// Runs `sql` on the app's database from outside the app, as another instance or `psql`
    /// would: the app does not hear of it from its own commit (only, on PostgreSQL, through
    /// the change notifications).
    pub async fn outside(&self, sql: String) {
        use diesel::connection::SimpleConnection;
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || db.get().unwrap().batch_execute(&sql).unwrap()).await.unwrap();
    }

    pub async fn count(&self, sql: String) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let rows: Vec<Count> = self.db.query(move |conn| diesel::sql_query(sql).load(conn)).await.unwrap();
        rows[0].n
    }

    /// Adds `n` developers named "Member 000"… (emails member-000@example.com…) to a team,
    /// straight into the database (they never sign in).
    pub async fn add_many_members(&self, slug: &str, n: usize) {
        let slug = slug.replace('\'', "''");
        self.db
            .query(move |conn| {
                for i in 0..n {
                    let id = 1_000_000 + i as i64;
                    diesel::sql_query(format!(
                        "INSERT INTO users (id, email, email_normalized, name, password_hash, created_at) \
                         VALUES ({id}, 'member-{i:03}@example.com', 'member-{i:03}@example.com', 'Member {i:03}', 'x', 0)"
                    ))
                    .execute(conn)?;
                    diesel::sql_query(format!(
                        "INSERT INTO memberships (account_id, user_id, role, sort_name, created_at) \
                         SELECT id, {id}, 'developer', 'member {i:03}', 0 FROM accounts WHERE slug = '{slug}'"
                    ))
                    .execute(conn)?;
                }
                Ok(())
            })
            .await
            .expect("adding members");
    }

    /// Moves every invitation of the team into the past.
    pub async fn expire_invitations(&self, slug: &str) {
        let slug = slug.replace('\'', "''");
        self.db
            .query(move |conn| {
                diesel::sql_query(format!(
                    "UPDATE invitations SET expires_at = 1 WHERE account_id = (SELECT id FROM accounts WHERE slug = '{slug}')"
                ))
                .execute(conn)
            })
            .await
            .expect("expiring invitations");
    }

    /// Whether `needle` appears anywhere in the stored data: the SQLite file and its WAL byte
    /// for byte, or on PostgreSQL every text column of every table.
    pub async fn database_contains(&self, needle: &str) -> bool {
        if let Some(file) = &self.sqlite_file {
            let mut bytes = std::fs::read(file).unwrap_or_default();
            bytes.extend(std::fs::read(format!("{}-wal", file.display())).unwrap_or_default());
            return bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        }
        self.dump_tables(&[
            "users",
            "accounts",
            "invitations",
            "audit_events",
            "outbox_emails",
            "api_keys",
            "login_tokens",
            "device_codes",
            "api_requests",
        ])
        .await
        .contains(needle)
    }

    /// Every text column of the given tables, concatenated (to look for secrets).
    pub async fn dump_tables(&self, tables: &[&str]) -> String {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            text: String,
        }
        let mut out = String::new();
        for table in tables {
            let columns = match *table {
                "invitations" => "email || ' ' || token_hash || ' ' || state",
                "audit_events" => "actor_name || ' ' || action || ' ' || subject || ' ' || detail",
                "outbox_emails" => "to_address || ' ' || subject || ' ' || text_body || ' ' || html_body",
                "api_keys" => "name || ' ' || public_id || ' ' || secret_hash || ' ' || last4",
                "users" => "email || ' ' || name || ' ' || password_hash",
                "accounts" => "slug || ' ' || name",
                "login_tokens" => "device_name || ' ' || public_id || ' ' || secret_hash",
                "device_codes" => "device_code_hash || ' ' || user_code || ' ' || device_name",
                "api_requests" => "method || ' ' || path",
                other => panic!("no dump for {other}"),
            };
            let sql = format!("SELECT {columns} AS text FROM {table}");
            let rows: Vec<Row> = self.db.query(move |conn| diesel::sql_query(sql).load(conn)).await.unwrap();
            for row in rows {
                out.push_str(&row.text);
                out.push('\n');
            }
        }
        out
    }

    /// Changes a member's role directly, as another admin's action would.
    pub async fn set_role(&self, slug: &str, email: &str, role: Role) {
        let (slug, email) = (slug.to_owned(), email.to_lowercase());
        self.db
            .query(move |conn| {
                diesel::sql_query(format!(
                    "UPDATE memberships SET role = '{}' WHERE account_id = (SELECT id FROM accounts WHERE slug = '{}') \
                     AND user_id = (SELECT id FROM users WHERE email_normalized = '{}')",
                    role.as_str(),
                    slug.replace('\'', "''"),
                    email.replace('\'', "''")
                ))
                .execute(conn)
            })
            .await
            .expect("changing a role");
    }
}

pub const PASSWORD: &str = "correct horse battery staple";

/// The tests' requests all come from 127.0.0.1: trusting it as a proxy lets each name its
/// client in `X-Forwarded-For` ([`TestApp::browser_from`]).
pub fn behind_a_proxy(s: &mut Settings) {
    s.trusted_proxies = "127.0.0.1/32".parse().unwrap();
}

pub struct Browser {
    pub base: String,
    pub client: reqwest::Client,
}

impl Browser {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// GET and read the body, asserting the status.
    pub async fn page(&self, path: &str, status: StatusCode) -> String {
        let response = self.get(path).await;
        let got = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(got, status, "GET {path}: {body}");
        body
    }

    /// The page at `path` once it shows `needle` (work done in the background, such as the
    /// request recorder or the outbox, may take a moment); after 5 s, the page as it is.
    pub async fn page_showing(&self, path: &str, needle: &str) -> String {
        let mut page = String::new();
        for _ in 0..100 {
            page = self.page(path, StatusCode::OK).await;
            if page.contains(needle) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        page
    }

    /// Loads `page` and posts `fields` to `action` with the page's CSRF token, as a person
    /// filling in the form on that page would.
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> Response {
        let html = self.get(page).await.text().await.unwrap();
        let token = csrf_token(&html).unwrap_or_else(|| panic!("no CSRF token on {page}"));
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", &token)];
        form.extend_from_slice(fields);
        self.client.post(self.url(action)).form(&form).send().await.expect("POST")
    }

    pub async fn sign_up(&self, name: &str, email: &str, password: &str) -> Response {
        self.submit("/signup", "/signup", &[("name", name), ("email", email), ("password", password)]).await
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Response {
        self.submit("/login", "/login", &[("email", email), ("password", password)]).await
    }

    /// Creates a team and returns its slug (from the redirect into it).
    pub async fn create_team(&self, name: &str) -> String {
        let response = self.submit("/teams/new", "/teams/new", &[("name", name)]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "creating team {name}");
        location(&response).strip_prefix("/a/").expect("a redirect into the team").to_owned()
    }
}

/// The CSRF token a page carries (hidden field or `hx-headers`).
pub fn csrf_token(html: &str) -> Option<String> {
    let start = html.find("name=\"csrf_token\" value=\"")? + "name=\"csrf_token\" value=\"".len();
    Some(html[start..].split('"').next()?.to_owned())
}

pub fn location(response: &Response) -> String {
    response.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

/// The app with its outbox delivering to an in-process SMTP server.
pub async fn spawn_app_with_mail(adjust: impl FnOnce(&mut Settings)) -> (TestApp, crate::smtp::MailServer) {
    let mail = crate::smtp::MailServer::start().await;
    let url = mail.url.clone();
    let app = spawn_app_with(move |s| {
        s.smtp_url = Some(url);
        s.email_retry_seconds = 0;
        adjust(s);
    })
    .await;
    (app, mail)
}

/// The path of an absolute link of this app (e.g. an emailed invite link).
pub fn path_of(link: &str) -> String {
    let after_scheme = link.split_once("://").map(|(_, rest)| rest).unwrap_or(link);
    after_scheme.find('/').map(|i| after_scheme[i..].to_owned()).unwrap_or_else(|| "/".into())
}
