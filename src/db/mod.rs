//! Database access: one connection type over PostgreSQL and SQLite, a pool, migrations and
//! the write-transaction helper.
//!
//! Rules: no query runs on an async worker: queries run on the blocking pool through
//! [`Db::run`], or, for the lookups every request makes, on the lookup threads of `identity`.
//! A transaction that reads and then writes goes through [`write_transaction`], which
//! takes the write lock first (SQLite `BEGIN IMMEDIATE`), so two such transactions never
//! deadlock on a lock upgrade and invariants checked inside them hold.
//! Errors: query functions return `QueryResult`; [`DbError`] adds the pool, the blocking
//! pool and the lookup threads; the web layer maps both into its one error type.

mod pool;
pub mod schema;

pub use pool::{Backend, ConnectionManager, parse_url};

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// One connection to whichever backend the URL named. SQLite stays last: the derive tries
/// the variants in order when establishing from a bare URL, and SQLite accepts any string as
/// a file name.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

pub type Pool = r2d2::Pool<ConnectionManager>;

/// Runs a diesel query on the backend's own connection (`|c| query.load(c)`), bypassing the
/// `MultiConnection` wrapper. For hot queries only: the wrapper renders a query's SQL text
/// again at every execution, even when the statement is already prepared and cached, and on
/// the members page and the key check that was the larger part of the database time. The
/// body is compiled once per backend, so it must be backend-neutral diesel.
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Postgres($c) => $body,
            $crate::db::DbConnection::Sqlite($c) => $body,
        }
    };
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("no database connection available")]
    Pool(#[from] r2d2::Error),
    #[error("database query failed")]
    Query(#[from] diesel::result::Error),
    #[error("the blocking thread pool is gone")]
    Blocking,
    #[error("could not connect to the database")]
    Connect(#[from] diesel::r2d2::Error),
    #[error("a batched lookup failed")]
    Batched(#[source] std::sync::Arc<DbError>),
    #[error("the database did not answer in time")]
    TimedOut,
}

impl DbError {
    /// Whether the database is away (no connection to be had, a connection lost mid-query,
    /// no answer in time) rather than a query being wrong: the caller may try again shortly.
    pub fn is_outage(&self) -> bool {
        match self {
            DbError::Pool(_) | DbError::Connect(_) | DbError::TimedOut | DbError::Blocking => true,
            DbError::Batched(inner) => inner.is_outage(),
            DbError::Query(e) => is_lost_connection(e),
        }
    }
}

/// A query error that says the connection went away, not that the query was wrong.
pub fn is_lost_connection(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand, _) => true,
        Error::DatabaseError(_, info) => {
            let message = info.message();
            message.contains("server closed the connection")
                || message.contains("terminating connection")
                || message.contains("the database system is")
                || message.contains("no connection to the server")
        }
        Error::BrokenTransactionManager => true,
        _ => false,
    }
}

/// The application's handle on the database.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    /// For connections of their own (the lookup threads and the change listener of `identity`).
    manager: ConnectionManager,
}

impl Db {
    /// Opens a pool on `url` and brings the schema up to date.
    pub fn connect(url: &str, pool_size: u32) -> anyhow::Result<Self> {
        let manager = ConnectionManager::new(url)?;
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            .connection_timeout(std::time::Duration::from_secs(10))
            .build(manager.clone())?;
        let db = Db { pool, manager };
        db.migrate()?;
        Ok(db)
    }

    fn migrate(&self) -> anyhow::Result<()> {
        let mut conn = self.pool.get()?;
        let applied = match &mut *conn {
            DbConnection::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
            DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
        }
        .map_err(|e| anyhow::anyhow!("running migrations: {e}"))?;
        for version in applied {
            tracing::info!(%version, "applied migration");
        }
        Ok(())
    }

    /// Connections of the pool: open, and in use.
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.connections - state.idle_connections)
    }

    /// Runs `f` with a pooled connection on the blocking pool, keeping the caller's span.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let span = tracing::Span::current();
        actix_web::web::block(move || {
            let _entered = span.enter();
            let mut conn = pool.get().map_err(DbError::from)?;
            f(&mut conn)
        })
        .await
        .map_err(|_| E::from(DbError::Blocking))?
    }

    /// [`Db::run`] for a closure that only queries.
    pub async fn query<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConnection) -> diesel::QueryResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.run(move |conn| f(conn).map_err(DbError::from)).await
    }

    /// What opens connections outside the pool, for threads that keep one of their own.
    pub fn manager(&self) -> &ConnectionManager {
        &self.manager
    }

    /// A connection for code that is already off the async workers (CLI, seeding, tests).
    pub fn get(&self) -> Result<r2d2::PooledConnection<ConnectionManager>, DbError> {
        Ok(self.pool.get()?)
    }
}

/// Runs `f` in a transaction that holds the write lock from its first statement: SQLite
/// `BEGIN IMMEDIATE`; on PostgreSQL a plain transaction in which callers lock the rows they
/// read with `FOR UPDATE` or update only rows still in the state they read.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    match conn {
        DbConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
        DbConnection::Postgres(_) => DbConnection::begin_transaction(conn)?,
    }
    match f(conn) {
        Ok(value) => {
            DbConnection::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            DbConnection::rollback_transaction(conn)?;
            Err(e)
        }
    }
}

/// True when `e` is a unique-constraint violation (a concurrent insert won the race).
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(e, diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::connection::SimpleConnection;
    use diesel::migration::MigrationSource;
    use diesel::prelude::*;
    use diesel::sql_types::BigInt;

    #[derive(QueryableByName, Debug, PartialEq)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = BigInt)]
        created_at: i64,
    }

    /// Request records of an older database, with random ids (one of them 1, which the
    /// renumbering also hands out), written at `created_at`; no foreign keys are checked.
    const OLD_RECORDS: &str = "INSERT INTO api_requests (id, account_id, method, path, status, duration_ms, created_at)
        VALUES (9000000000000000000, 1, 'GET', '/a', 200, 1, 30), (5, 1, 'GET', '/b', 200, 1, 10),
               (7000000000000, 1, 'GET', '/c', 200, 1, 20), (2, 1, 'GET', '/d', 200, 1, 20),
               (1, 1, 'GET', '/e', 200, 1, 90);";
    const NEW_RECORD: &str = "INSERT INTO api_requests (account_id, method, path, status, duration_ms, created_at) VALUES (1, 'GET', '/f', 200, 1, 95);";
    const IDS: &str = "SELECT id, created_at FROM api_requests ORDER BY id";

    /// In the order written (created_at, then the old id), then the new record right after.
    fn expected() -> Vec<Row> {
        [(1, 10), (2, 20), (3, 20), (4, 30), (5, 90), (6, 95)].map(|(id, created_at)| Row { id, created_at }).into()
    }

    /// Runs the migrations before the request ids one, adds the old records, runs the rest,
    /// adds a record without an id and reads the ids back.
    macro_rules! migrate_around_old_records {
        ($conn:expr, $migrations:expr) => {{
            let all = MigrationSource::migrations(&$migrations).unwrap();
            let at = all.iter().position(|m| m.name().to_string().ends_with("_request_ids")).unwrap();
            $conn.applied_migrations().unwrap(); // creates the table of applied migrations
            for m in &all[..at] {
                $conn.run_migration(m.as_ref()).unwrap();
            }
            $conn.batch_execute(OLD_RECORDS).unwrap();
            for m in &all[at..] {
                $conn.run_migration(m.as_ref()).unwrap();
            }
            $conn.batch_execute(NEW_RECORD).unwrap();
            diesel::sql_query(IDS).load::<Row>(&mut $conn).unwrap()
        }};
    }

    #[test]
    fn old_request_records_are_renumbered_in_the_order_written_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = diesel::SqliteConnection::establish(dir.path().join("t.db").to_str().unwrap()).unwrap();
        conn.batch_execute("PRAGMA foreign_keys = OFF").unwrap();
        assert_eq!(migrate_around_old_records!(conn, SQLITE_MIGRATIONS), expected());
    }

    /// Runs when `TEST_DATABASE_URL` names a PostgreSQL server (as in CI), on a database of
    /// its own.
    #[test]
    fn old_request_records_are_renumbered_in_the_order_written_on_postgres() {
        let Ok(server) = std::env::var("TEST_DATABASE_URL") else { return };
        let name = format!("teamdeck_test_migration_{:016x}", rand::random::<u64>());
        let mut admin = diesel::PgConnection::establish(&server).unwrap();
        admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let url = format!("{}/{name}", server.rsplit_once('/').unwrap().0);
        let rows = {
            let mut conn = diesel::PgConnection::establish(&url).unwrap();
            conn.batch_execute("SET session_replication_role = replica").unwrap(); // no foreign key checks
            migrate_around_old_records!(conn, POSTGRES_MIGRATIONS)
        };
        admin.batch_execute(&format!("DROP DATABASE {name}")).unwrap();
        assert_eq!(rows, expected());
    }
}
