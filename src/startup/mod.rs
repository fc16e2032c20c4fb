//! Builds the application: database, session key, workers, middleware and routes, bound to
//! a listener (port 0 in tests) so callers learn the real port.

use crate::auth::{Limits, PasswordHasher};
use crate::config::Settings;
use crate::db::{Backend, Db};
use crate::http::Site;
use crate::mail::Mailer;
use crate::mail::worker::OutboxConfig;
use crate::service::outbox::OutboxSignal;
use crate::web;
use actix_session::SessionMiddleware;
use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::CookieSessionStore;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer};
use anyhow::Context;
use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;
use tracing_actix_web::TracingLogger;

pub mod data_dir;

pub struct Application {
    port: u16,
    site: Site,
    backend: Backend,
    server: Server,
    recorder_task: tokio::task::JoinHandle<()>,
}

const SESSION_DAYS: i64 = 14;

impl Application {
    /// Every check that can refuse a start (the data directory, the database and its
    /// migrations, the keys, the listener) runs before anything starts work: a server that
    /// will not start never claims mail or answers a request.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let database_url = settings.database_url();
        data_dir::prepare(&settings.data_dir, &database_url)?;
        let backend = crate::db::ConnectionManager::new(&database_url)?.backend();
        // SQLite: each connection keeps its own page cache (up to 2 MiB) and reads run side by
        // side in WAL mode; 8 served the bench as well as 16 with less memory. PostgreSQL
        // keeps its caches in the server.
        let pool_size = settings.db_pool_size.unwrap_or(match backend {
            Backend::Sqlite => 8,
            Backend::Postgres => 16,
        });
        let db = tokio::task::spawn_blocking(move || Db::connect(&database_url, pool_size)).await??;
        Self::renormalize_addresses(&db).await?;
        let key = session_key(&settings)?;
        let secrets_material = secrets_material(&settings)?;
        let sealer = crate::service::secrets::Sealer::from_material(&secrets_material);
        let checked = (db.clone(), sealer.clone());
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let mut conn = checked.0.get()?;
            Ok(crate::service::secrets::check_key(&mut conn, &checked.1)?)
        })
        .await??;
        let mailer = Mailer::new(settings.smtp_url.as_deref(), settings.data_dir.join("outbox"))?;
        let outbox_config = OutboxConfig {
            from: settings.mail_from.parse().context("TEAMDECK_MAIL_FROM is not a mailbox")?,
            retry_base: Duration::from_secs(settings.email_retry_seconds),
            max_attempts: settings.email_max_attempts.max(1) as i32,
            poll: Duration::from_secs(2),
            log_links: settings.smtp_url.is_none(),
            links: crate::service::outbox::LinkTokens::from_material(&secrets_material),
        };
        let listener = TcpListener::bind(&settings.bind).with_context(|| format!("binding {}", settings.bind))?;
        let address = listener.local_addr()?;
        let mut site = Site::new(&settings.base_url.clone().unwrap_or_else(|| format!("http://{address}")));
        site.invite_ttl_ms = i64::from(settings.invite_ttl_days) * 24 * 3600 * 1000;
        site.invite_budgets = crate::service::invitation_budgets::Budgets {
            per_team: i64::from(settings.invites_per_day),
            per_person: i64::from(settings.invites_per_person_per_day),
        };
        site.issuer = settings.issuer.issuer();
        site.low_balance = i64::from(settings.low_balance_usd) * crate::domain::money::MICROS_PER_DOLLAR;
        site.proxies = settings.trusted_proxies.clone();
        site.metrics_token = settings.metrics_token.clone().filter(|t| !t.is_empty());
        let platform = actix_web::web::Data::new(crate::api::platform::Platform::new(
            settings.service_token.as_deref(),
            settings.billing_webhook_secret.as_deref(),
        ));
        let signal = OutboxSignal::default();
        let sealer = actix_web::web::Data::new(sealer);
        let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(2);
        let hasher = PasswordHasher::start(cores, settings.password_queue);
        let workers = settings.workers.unwrap_or(cores);
        // Database work runs on each worker's blocking threads. On SQLite one per worker: a
        // query takes microseconds, and a lone thread with a queue goes from one to the next
        // without sleeping, where a pool of them woke a sleeping thread for every query
        // (the bench measured 15–25 % less CPU per page and API call). On PostgreSQL two, so
        // one query can wait on the network while the next is sent: with eight per worker
        // the same throughput came with a p99 of up to a second on 2 cores (threads and
        // server processes fighting for them); raise it when the server is on another host.
        let db_threads = settings.db_threads_per_worker.unwrap_or(match backend {
            Backend::Sqlite => 1,
            Backend::Postgres => 2,
        });
        let limits = actix_web::web::Data::new(Limits::new(db.clone(), settings.clock.clone(), settings.limits()));

        let members_cache = actix_web::web::Data::new(crate::web::MembersCache::default());
        let app_changes = actix_web::web::Data::new(crate::service::apps::AppSignal::default());
        // One thread per lookup: on PostgreSQL a second one (gathering the next batch while
        // the first waits on the network) halved the batches on 2 cores; it may pay when the
        // database is on another host.
        let identity = actix_web::web::Data::new(crate::identity::Identity::start(
            &db,
            &crate::identity::Settings {
                lookup_threads: settings.lookup_threads.unwrap_or(1),
                introspect_ttl: Duration::from_secs(settings.introspect_cache_seconds),
                sessions: settings.session_lifetimes(),
                clock: settings.clock.clone(),
            },
        )?);
        // Checks passed: the background work starts.
        tokio::spawn(crate::service::jobs::close_months(
            db.clone(),
            site.issuer.clone(),
            Duration::from_secs(settings.month_close_interval.max(1)),
            Duration::from_secs(u64::from(settings.month_close_grace_hours) * 3600),
        ));
        tokio::spawn(crate::service::jobs::remind_expiring_keys(
            db.clone(),
            site.base_url.clone(),
            Duration::from_secs(settings.month_close_interval.clamp(1, 3600)),
        ));
        tokio::spawn(crate::service::jobs::keep_requests(
            db.clone(),
            Duration::from_secs(u64::from(settings.request_retention_days) * 24 * 3600),
            Duration::from_secs(3600),
        ));
        Self::start_outbox(db.clone(), mailer, outbox_config, signal.clone());
        let metrics = actix_web::web::Data::new(crate::http::metrics::Metrics::default());
        let (recorder, recorder_task) = crate::api::recorder::Recorder::start(db.clone(), metrics.clone());
        let clock = actix_web::web::Data::new(settings.clock.clone());
        let app_site = site.clone();
        let app_signal = signal.clone();
        let server = HttpServer::new(move || {
            let routes = routes();
            App::new()
                .app_data(actix_web::web::Data::new(db.clone()))
                .app_data(actix_web::web::Data::new(hasher.clone()))
                .app_data(limits.clone())
                .app_data(actix_web::web::Data::new(app_site.clone()))
                .app_data(actix_web::web::Data::new(app_signal.clone()))
                .app_data(actix_web::web::Data::new(recorder.clone()))
                .app_data(platform.clone())
                .app_data(members_cache.clone())
                .app_data(app_changes.clone())
                .app_data(sealer.clone())
                .app_data(identity.clone())
                .app_data(clock.clone())
                .app_data(metrics.clone())
                .app_data(actix_web::web::JsonConfig::default().limit(64 * 1024))
                .app_data(actix_web::web::FormConfig::default().limit(64 * 1024))
                // A path whose id is not a number names nothing: 404, as an unknown id does.
                .app_data(
                    actix_web::web::PathConfig::default().error_handler(|_, _| crate::http::AppError::NotFound.into()),
                )
                .configure(|cfg| routes.configure(cfg))
                .wrap(from_fn(web::csrf::verify))
                .wrap(from_fn(web::access::enforce))
                .wrap(session_middleware(key.clone(), app_site.https))
                .wrap(actix_htmx::HtmxMiddleware)
                .wrap(from_fn(crate::api::recorder::record))
                .wrap(from_fn(web::error::render_errors))
                .wrap(from_fn(crate::api::error::json_errors))
                .wrap(web::headers::security_headers(app_site.https))
                .wrap(from_fn(crate::http::metrics::observe))
                .wrap(TracingLogger::<crate::telemetry::RequestSpan>::new())
        })
        .workers(workers)
        .worker_max_blocking_threads(db_threads.max(1))
        .shutdown_timeout(settings.shutdown_timeout)
        .listen(listener)?
        .run();
        Ok(Self { port: address.port(), site, backend, server, recorder_task })
    }

    /// Before serving: stored addresses normalised by an earlier rule are brought up to
    /// date, so that sign-in and invitations find them (`service::addresses`).
    async fn renormalize_addresses(db: &Db) -> anyhow::Result<()> {
        let db = db.clone();
        let done = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let mut conn = db.get()?;
            Ok(crate::service::addresses::renormalize(&mut conn)?)
        })
        .await??;
        if done != Default::default() {
            tracing::info!(
                users = done.users,
                invitations = done.invitations,
                collisions = done.collisions,
                "normalised addresses brought up to date"
            );
        }
        Ok(())
    }

    /// The outbox worker runs beside the server in the same process. Mail lives in the
    /// database until sent, so stopping the process loses nothing.
    fn start_outbox(db: Db, mailer: Mailer, config: OutboxConfig, signal: OutboxSignal) {
        tokio::spawn(crate::mail::worker::run(db, mailer, config, signal));
    }

    /// Stops the server as SIGTERM would (used by tests and embedders).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn base_url(&self) -> &str {
        &self.site.base_url
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Serves until SIGTERM or Ctrl-C, then finishes in-flight requests, writes the request
    /// records still queued, and returns.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await?;
        if tokio::time::timeout(Duration::from_secs(10), self.recorder_task).await.is_err() {
            tracing::warn!("request records were still being written after 10 s");
        }
        Ok(())
    }
}

/// Every route of the site, each with the access it requires, in the order the router tries
/// them: the health probes, the API, the team pages, then the rest (a route that comes late
/// pays for matching every one before it).
pub fn routes() -> crate::http::RouteTable {
    let mut table = crate::http::RouteTable::default();
    web::probes(&mut table);
    crate::api::routes(&mut table);
    web::routes(&mut table);
    table
}

fn session_middleware(key: Key, https: bool) -> SessionMiddleware<CookieSessionStore> {
    SessionMiddleware::builder(CookieSessionStore::default(), key)
        .cookie_name(if https { "__Host-teamdeck" } else { "teamdeck" }.to_owned())
        .cookie_secure(https)
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .cookie_path("/".to_owned())
        .cookie_content_security(CookieContentSecurity::Private)
        .session_lifecycle(
            PersistentSession::default().session_ttl(actix_web::cookie::time::Duration::days(SESSION_DAYS)),
        )
        .build()
}

/// The key that signs and encrypts session cookies: from the settings, else the one kept in
/// the data directory, else a new one written there readable by the owner only.
fn session_key(settings: &Settings) -> anyhow::Result<Key> {
    if let Some(secret) = &settings.session_key {
        anyhow::ensure!(secret.len() >= 32, "TEAMDECK_SESSION_KEY must be at least 32 bytes long");
        return Ok(Key::derive_from(secret.as_bytes()));
    }
    let path = settings.data_dir.join("session.key");
    load_or_create_key(&path)
}

/// The sealer of the teams' secrets (see [`secrets_material`]).
pub fn secrets_sealer(settings: &Settings) -> anyhow::Result<crate::service::secrets::Sealer> {
    Ok(crate::service::secrets::Sealer::from_material(&secrets_material(settings)?))
}

/// The secrets key: from the settings, else the one kept in the data directory, else a new
/// one written there (as [`session_key`], in a file of its own so that rotating the session
/// key keeps the secrets). The teams' secrets are sealed and the emailed links' tokens made
/// under keys derived from it.
fn secrets_material(settings: &Settings) -> anyhow::Result<Vec<u8>> {
    match &settings.secrets_key {
        Some(secret) => {
            anyhow::ensure!(secret.len() >= 32, "TEAMDECK_SECRETS_KEY must be at least 32 bytes long");
            anyhow::ensure!(
                settings.session_key.as_ref() != Some(secret),
                "TEAMDECK_SECRETS_KEY must differ from TEAMDECK_SESSION_KEY"
            );
            Ok(secret.as_bytes().to_vec())
        }
        None => Ok(load_or_create_key(&settings.data_dir.join("secrets.key"))?.master().to_vec()),
    }
}

fn load_or_create_key(path: &Path) -> anyhow::Result<Key> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let bytes = hex::decode(text.trim()).with_context(|| format!("reading {}", path.display()))?;
            anyhow::ensure!(bytes.len() >= 64, "{} holds fewer than 64 bytes", path.display());
            Ok(Key::from(&bytes))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 64];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(path).with_context(|| format!("creating {}", path.display()))?;
            file.write_all(hex::encode(bytes).as_bytes())?;
            tracing::info!(path = %path.display(), "generated a new key");
            Ok(Key::from(&bytes))
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}
