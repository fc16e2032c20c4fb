//! The r2d2 connection manager: picks the backend from the URL scheme and prepares every new
//! SQLite connection (busy timeout before WAL, then synchronous=NORMAL and foreign keys).
//!
//! A PostgreSQL connection gives up on a peer that stopped answering (a network partition,
//! a host that went away) after [`TCP_DEFAULTS`], unless the URL sets those parameters
//! itself. Without them a lookup thread or the change listener, blocked on such a connection,
//! would wait for the kernel's retransmissions to give up (some 15 minutes on Linux) before
//! it connected again, long after the database was back.

use super::DbConnection;
use diesel::connection::SimpleConnection;
use diesel::r2d2::{Error, R2D2Connection};
use diesel::{Connection, PgConnection, SqliteConnection};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

#[derive(Clone)]
pub struct ConnectionManager {
    backend: Backend,
    /// For PostgreSQL the URL as given; for SQLite the file path.
    target: String,
}

const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000;
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;
PRAGMA temp_store = MEMORY;";

impl std::fmt::Debug for ConnectionManager {
    /// The URL may hold a password: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionManager").field("backend", &self.backend).finish_non_exhaustive()
    }
}

impl ConnectionManager {
    /// `postgres://…` and `postgresql://…` open PostgreSQL; `sqlite://PATH`, `sqlite:PATH` or
    /// a plain path open SQLite. Any other scheme is refused rather than guessed.
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let (backend, target) = parse_url(url)?;
        Ok(Self { backend, target })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }
}

/// libpq parameters added to a PostgreSQL URL that sets none of them: data sent and not
/// acknowledged for 10 s fails the connection (`tcp_user_timeout`, Linux); an idle
/// connection is probed after 30 s, and given up after three unanswered probes 5 s apart.
/// A query that takes long is not affected: what it sent was acknowledged.
pub const TCP_DEFAULTS: [(&str, &str); 4] =
    [("tcp_user_timeout", "10000"), ("keepalives_idle", "30"), ("keepalives_interval", "5"), ("keepalives_count", "3")];

pub fn parse_url(url: &str) -> anyhow::Result<(Backend, String)> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((Backend::Postgres, with_tcp_defaults(url)));
    }
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    if let Some((scheme, _)) = path.split_once("://") {
        anyhow::bail!("unsupported database URL scheme `{scheme}`: use postgres:// or sqlite://");
    }
    if path.is_empty() {
        anyhow::bail!("the SQLite database path is empty");
    }
    Ok((Backend::Sqlite, path.to_owned()))
}

/// `url` with [`TCP_DEFAULTS`] appended to its query, unless it names any of them (then it is
/// left as it is: whoever set one chose the rest too).
fn with_tcp_defaults(url: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut names = query.split('&').filter_map(|pair| pair.split('=').next());
    if names.any(|name| TCP_DEFAULTS.iter().any(|(default, _)| *default == name)) {
        return url.to_owned();
    }
    let defaults = TCP_DEFAULTS.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("&");
    if query.is_empty() { format!("{base}?{defaults}") } else { format!("{base}?{query}&{defaults}") }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = Error;

    fn connect(&self) -> Result<DbConnection, Error> {
        match self.backend {
            Backend::Postgres => {
                PgConnection::establish(&self.target).map(DbConnection::Postgres).map_err(Error::ConnectionError)
            }
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(&self.target).map_err(Error::ConnectionError)?;
                conn.batch_execute(SQLITE_PRAGMAS).map_err(Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    /// Run at every checkout. A SQLite connection is a file handle that cannot go away, so
    /// only PostgreSQL's are pinged (`SELECT 1`; it costs a round trip, and it keeps a
    /// connection the server closed from failing the next request).
    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Error> {
        match conn {
            DbConnection::Sqlite(_) => Ok(()),
            DbConnection::Postgres(_) => conn.ping().map_err(Error::QueryError),
        }
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        conn.is_broken()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_picks_the_backend() {
        assert_eq!(parse_url("postgres://u@h/db").unwrap().0, Backend::Postgres);
        assert_eq!(parse_url("postgresql://u@h/db").unwrap().0, Backend::Postgres);
        assert_eq!(parse_url("sqlite://data/x.db").unwrap(), (Backend::Sqlite, "data/x.db".into()));
        assert_eq!(parse_url("sqlite:x.db").unwrap(), (Backend::Sqlite, "x.db".into()));
        assert_eq!(parse_url("./data/x.db").unwrap(), (Backend::Sqlite, "./data/x.db".into()));
        assert!(parse_url("mysql://h/db").is_err());
        assert!(parse_url("sqlite://").is_err());
    }

    #[test]
    fn a_postgres_url_gets_the_tcp_timeouts_unless_it_sets_its_own() {
        let defaults = "tcp_user_timeout=10000&keepalives_idle=30&keepalives_interval=5&keepalives_count=3";
        assert_eq!(parse_url("postgres://u@h/db").unwrap().1, format!("postgres://u@h/db?{defaults}"));
        assert_eq!(
            parse_url("postgresql://u@h:5433/db?sslmode=require").unwrap().1,
            format!("postgresql://u@h:5433/db?sslmode=require&{defaults}")
        );
        for own in ["postgres://u@h/db?keepalives_idle=5", "postgres://u@h/db?sslmode=disable&tcp_user_timeout=0"] {
            assert_eq!(parse_url(own).unwrap().1, own, "a URL that sets one keeps its own");
        }
    }
}
