//! Settings of `teamdeck serve`: each a flag and an environment variable (12-factor).
//! Secrets are never printed: `--help` hides their values and `Debug` redacts them.

use std::fmt;
use std::path::PathBuf;

#[derive(clap::Args, Clone)]
pub struct Settings {
    /// Address and port to listen on.
    #[arg(long, env = "TEAMDECK_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,

    /// Directory for the SQLite database, the generated session key and the mail outbox.
    #[arg(long, env = "TEAMDECK_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Database URL: postgres://… or sqlite://PATH [default: a SQLite file in the data dir].
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// The public URL of this server, for links in emails and secure cookies when https
    /// [default: http://BIND].
    #[arg(long, env = "TEAMDECK_BASE_URL")]
    pub base_url: Option<String>,

    /// Secret for signing and encrypting session cookies, at least 32 bytes; share it between
    /// instances [default: generated once and kept in DATA_DIR/session.key].
    #[arg(long, env = "TEAMDECK_SESSION_KEY", hide_env_values = true)]
    pub session_key: Option<String>,

    /// Secret under which the teams' secrets are encrypted in the database, at least 32
    /// bytes; share it between instances and keep it apart from the database's backups
    /// [default: generated once and kept in DATA_DIR/secrets.key].
    #[arg(long, env = "TEAMDECK_SECRETS_KEY", hide_env_values = true)]
    pub secrets_key: Option<String>,

    /// SMTP relay for outgoing mail: smtp://user:pass@host:port or smtps://… [default: none,
    /// messages are written as .eml files under DATA_DIR/outbox and invite links logged].
    #[arg(long, env = "SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// Sender of Teamdeck's emails.
    #[arg(long, env = "TEAMDECK_MAIL_FROM", default_value = "Teamdeck <teamdeck@localhost>")]
    pub mail_from: String,

    /// Days an invitation link stays valid.
    #[arg(long, env = "TEAMDECK_INVITE_TTL_DAYS", default_value_t = 7)]
    pub invite_ttl_days: u32,

    /// Invitations (sent or resent) one team may make in 24 hours.
    #[arg(long, env = "TEAMDECK_INVITES_PER_DAY", default_value_t = 200)]
    pub invites_per_day: u32,

    /// Invitations (sent or resent) one person may make in 24 hours across all the teams
    /// they administer, on top of each team's limit.
    #[arg(long, env = "TEAMDECK_INVITES_PER_PERSON_PER_DAY", default_value_t = 200)]
    pub invites_per_person_per_day: u32,

    /// Seconds before the first retry of an email that failed; doubled each time.
    #[arg(long, env = "TEAMDECK_EMAIL_RETRY_SECONDS", default_value_t = 30)]
    pub email_retry_seconds: u64,

    /// Attempts before an email is given up as failed.
    #[arg(long, env = "TEAMDECK_EMAIL_MAX_ATTEMPTS", default_value_t = 5)]
    pub email_max_attempts: u32,

    /// HTTP worker threads [default: one per core].
    #[arg(long, env = "TEAMDECK_WORKERS")]
    pub workers: Option<usize>,

    /// Maximum database connections in the pool [default: 8 on SQLite, 16 on PostgreSQL].
    #[arg(long, env = "TEAMDECK_DB_POOL_SIZE")]
    pub db_pool_size: Option<u32>,

    /// Threads per HTTP worker that run its database work [default: 1 on SQLite, 2 on
    /// PostgreSQL].
    #[arg(long, env = "TEAMDECK_DB_THREADS_PER_WORKER")]
    pub db_threads_per_worker: Option<usize>,

    /// Threads that answer the per-request lookups (the signed-in user, a presented key) in
    /// batches, for each of the two [default: 1].
    #[arg(long, env = "TEAMDECK_LOOKUP_THREADS")]
    pub lookup_threads: Option<usize>,

    /// Sign-in requests allowed to wait for a password check before new ones get 429.
    #[arg(long, env = "TEAMDECK_PASSWORD_QUEUE", default_value_t = 64)]
    pub password_queue: usize,

    /// Wrong passwords allowed for one email from one client address in 15 minutes; past
    /// them that address is refused for that email until the window ends (other addresses,
    /// the owner's among them, are not).
    #[arg(long, env = "TEAMDECK_LOGIN_FAILURES_PER_EMAIL", default_value_t = 10)]
    pub login_failures_per_email: u32,

    /// Wrong passwords for one email from all addresses together in 15 minutes after which
    /// each further attempt for it waits 1 s, 2 s, 4 s… (at most 10 s) before its password is
    /// checked.
    #[arg(long, env = "TEAMDECK_LOGIN_FAILURES_BEFORE_DELAY", default_value_t = 10)]
    pub login_failures_before_delay: u32,

    /// Sign-in attempts allowed per client address in 15 minutes.
    #[arg(long, env = "TEAMDECK_LOGIN_ATTEMPTS_PER_CLIENT", default_value_t = 100)]
    pub login_attempts_per_client: u32,

    /// Sign-ups allowed per client address in an hour.
    #[arg(long, env = "TEAMDECK_SIGNUPS_PER_CLIENT", default_value_t = 20)]
    pub signups_per_client: u32,

    /// CLI logins (device codes) that one client address may start in an hour.
    #[arg(long, env = "TEAMDECK_DEVICE_CODES_PER_CLIENT", default_value_t = 30)]
    pub device_codes_per_client: u32,

    /// Password resets (`/forgot`) one client address may ask for in an hour, whatever
    /// addresses it names; each address gets at most 5 reset emails an hour besides.
    #[arg(long, env = "TEAMDECK_RESET_REQUESTS_PER_CLIENT", default_value_t = 20)]
    pub reset_requests_per_client: u32,

    /// Codes that match no pending CLI login one browser session may enter on /device in 15
    /// minutes.
    #[arg(long, env = "TEAMDECK_DEVICE_CODE_GUESSES_PER_SESSION", default_value_t = 10)]
    pub device_code_guesses_per_session: u32,

    /// Proxies whose forwarding headers are believed, as comma-separated addresses or CIDR
    /// ranges (e.g. 10.0.0.0/8,127.0.0.1). Only a request whose socket peer is one of them may
    /// name its client (X-Forwarded-For, Forwarded: for=) and its host (X-Forwarded-Host,
    /// Forwarded: host=) [default: none, the peer is the client].
    #[arg(long, env = "TEAMDECK_TRUSTED_PROXIES", default_value = "", hide_default_value = true)]
    pub trusted_proxies: crate::http::TrustedProxies,

    /// Bearer token the platform's gateways call introspection and usage ingestion with
    /// [default: none, and those endpoints are off].
    #[arg(long, env = "TEAMDECK_SERVICE_TOKEN", hide_env_values = true)]
    pub service_token: Option<String>,

    /// Token a metrics scraper presents (`Authorization: Bearer …`) to read `/metrics`
    /// [default: none, and `/metrics` answers 404].
    #[arg(long, env = "TEAMDECK_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// Days the API request history is kept; older records are deleted in small batches by
    /// a background job.
    #[arg(long, env = "TEAMDECK_REQUEST_RETENTION_DAYS", default_value_t = 90,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub request_retention_days: u32,

    /// Seconds a verified credential may be answered from memory by introspection (at most
    /// 300); a change made on this instance takes effect at once, one made on another within
    /// this time.
    #[arg(long, env = "TEAMDECK_INTROSPECT_CACHE_SECONDS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(0..=300))]
    pub introspect_cache_seconds: u64,

    /// HMAC-SHA256 secret of the payment provider's webhook [default: none, the webhook is off].
    #[arg(long, env = "TEAMDECK_BILLING_WEBHOOK_SECRET", hide_env_values = true)]
    pub billing_webhook_secret: Option<String>,

    #[command(flatten)]
    pub issuer: IssuerSettings,

    /// Credit balance (in dollars) under which billing pages show a low-balance banner.
    #[arg(long, env = "TEAMDECK_LOW_BALANCE_USD", default_value_t = 10)]
    pub low_balance_usd: u32,

    /// Seconds between passes of the month-close job (usage invoices of closed months).
    #[arg(long, env = "TEAMDECK_MONTH_CLOSE_INTERVAL", default_value_t = 3600)]
    pub month_close_interval: u64,

    /// Hours after a month ends before its usage invoices are issued (gateways' late reports
    /// of that month are taken until then).
    #[arg(long, env = "TEAMDECK_MONTH_CLOSE_GRACE_HOURS", default_value_t = 24)]
    pub month_close_grace_hours: u32,

    /// Seconds to finish in-flight requests after SIGTERM or Ctrl-C.
    #[arg(long, env = "TEAMDECK_SHUTDOWN_TIMEOUT", default_value_t = 30)]
    pub shutdown_timeout: u64,

    /// Days a browser session stays signed in without being used.
    #[arg(long, env = "TEAMDECK_SESSION_IDLE_DAYS", default_value_t = 14,
          value_parser = clap::value_parser!(u32).range(1..=365))]
    pub session_idle_days: u32,

    /// Days a browser session stays signed in at most, however much it is used.
    #[arg(long, env = "TEAMDECK_SESSION_LIFETIME_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=365))]
    pub session_lifetime_days: u32,

    /// The server's clock (tests move it forward).
    #[arg(skip)]
    pub clock: crate::domain::Clock,
}

impl Settings {
    /// Defaults for tests and tools: every flag at its default, environment ignored.
    pub fn defaults_in(data_dir: PathBuf) -> Self {
        Self {
            bind: "127.0.0.1:0".into(),
            data_dir,
            database_url: None,
            base_url: None,
            session_key: None,
            secrets_key: None,
            smtp_url: None,
            mail_from: "Teamdeck <teamdeck@localhost>".into(),
            invite_ttl_days: 7,
            invites_per_day: 200,
            invites_per_person_per_day: 200,
            email_retry_seconds: 30,
            email_max_attempts: 5,
            workers: None,
            db_pool_size: None,
            db_threads_per_worker: None,
            lookup_threads: None,
            password_queue: 64,
            login_failures_per_email: 10,
            login_failures_before_delay: 10,
            login_attempts_per_client: 100,
            signups_per_client: 20,
            device_codes_per_client: 30,
            reset_requests_per_client: 20,
            device_code_guesses_per_session: 10,
            trusted_proxies: crate::http::TrustedProxies::default(),
            shutdown_timeout: 30,
            service_token: None,
            metrics_token: None,
            request_retention_days: 90,
            introspect_cache_seconds: 5,
            billing_webhook_secret: None,
            issuer: IssuerSettings::default(),
            low_balance_usd: 10,
            month_close_interval: 3600,
            month_close_grace_hours: 24,
            session_idle_days: 14,
            session_lifetime_days: 30,
            clock: crate::domain::Clock::default(),
        }
    }

    /// How long browser sessions last.
    pub fn session_lifetimes(&self) -> crate::service::sessions::Lifetimes {
        const DAY_MS: i64 = 24 * 3600 * 1000;
        crate::service::sessions::Lifetimes {
            idle_ms: i64::from(self.session_idle_days) * DAY_MS,
            absolute_ms: i64::from(self.session_lifetime_days) * DAY_MS,
        }
    }

    /// The numbers of the rate limits.
    pub fn limits(&self) -> crate::auth::limits::Rules {
        use crate::auth::limits::{Rule, Rules};
        let defaults = Rules::default();
        let with = |rule: Rule, max: u32| Rule { max, ..rule };
        Rules {
            sign_ins_per_client: with(defaults.sign_ins_per_client, self.login_attempts_per_client),
            failures_per_email_and_client: with(defaults.failures_per_email_and_client, self.login_failures_per_email),
            failures_before_delay: self.login_failures_before_delay,
            sign_ups_per_client: with(defaults.sign_ups_per_client, self.signups_per_client),
            device_codes_per_client: with(defaults.device_codes_per_client, self.device_codes_per_client),
            code_guesses_per_session: with(defaults.code_guesses_per_session, self.device_code_guesses_per_session),
            reset_requests_per_client: with(defaults.reset_requests_per_client, self.reset_requests_per_client),
            ..defaults
        }
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("teamdeck.db").display()))
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("Settings")
            .field("bind", &self.bind)
            .field("data_dir", &self.data_dir)
            .field("database_url", &redacted(&self.database_url))
            .field("base_url", &self.base_url)
            .field("session_key", &redacted(&self.session_key))
            .field("secrets_key", &redacted(&self.secrets_key))
            .field("smtp_url", &redacted(&self.smtp_url))
            .field("service_token", &redacted(&self.service_token))
            .field("metrics_token", &redacted(&self.metrics_token))
            .field("billing_webhook_secret", &redacted(&self.billing_webhook_secret))
            .field("workers", &self.workers)
            .field("db_pool_size", &self.db_pool_size)
            .field("db_threads_per_worker", &self.db_threads_per_worker)
            .field("lookup_threads", &self.lookup_threads)
            .field("trusted_proxies", &self.trusted_proxies)
            .finish_non_exhaustive()
    }
}

/// Who issues invoices and where bank transfers go (shared by the server and the billing
/// commands).
#[derive(clap::Args, Clone, Debug)]
pub struct IssuerSettings {
    /// Name of the invoice issuer.
    #[arg(long = "issuer-name", env = "TEAMDECK_ISSUER_NAME", default_value = "Teamdeck")]
    pub name: String,

    /// Postal address of the invoice issuer (a literal \\n separates lines).
    #[arg(long = "issuer-address", env = "TEAMDECK_ISSUER_ADDRESS", default_value = "")]
    pub address: String,

    /// Tax id (VAT number) of the invoice issuer.
    #[arg(long = "issuer-tax-id", env = "TEAMDECK_ISSUER_TAX_ID", default_value = "")]
    pub tax_id: String,

    /// Bank transfer details printed on credit invoices (payee, IBAN, BIC…).
    #[arg(long = "payee-details", env = "TEAMDECK_PAYEE_DETAILS", default_value = DEFAULT_PAYEE)]
    pub payee: String,
}

const DEFAULT_PAYEE: &str = "Set TEAMDECK_PAYEE_DETAILS to the bank account that receives transfers.";

impl Default for IssuerSettings {
    fn default() -> Self {
        Self { name: "Teamdeck".into(), address: String::new(), tax_id: String::new(), payee: DEFAULT_PAYEE.into() }
    }
}

impl IssuerSettings {
    /// The issuer as invoices print it (a literal `\n` in a setting starts a new line).
    pub fn issuer(&self) -> crate::service::billing::Issuer {
        crate::service::billing::Issuer {
            name: self.name.clone(),
            address: self.address.replace("\\n", "\n"),
            tax_id: self.tax_id.clone(),
            payee: self.payee.replace("\\n", "\n"),
        }
    }
}
