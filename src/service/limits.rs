//! Rate-limit windows, kept in the database so that every instance counts against one
//! budget. One row per limit (`what`) and key holds its current fixed window: it starts at
//! the first hit, lasts the limit's window, and the first hit after it ends starts a new one
//! in the same row. Keys are SHA-256 (hex) of what is counted, so no email or address is
//! stored here.
//!
//! Rules: a hit is counted and read back in one statement (an upsert, `INSERT … ON CONFLICT
//! DO UPDATE … RETURNING`, written per backend since the connection type has no `ON
//! CONFLICT`), so two instances hitting the last place at once get different counts and only
//! one of them is let through. Rows that nobody comes back for are deleted a hundred at a
//! time, through the index on `expires_at`, whenever a new window starts: never a scan.

use crate::db::DbConnection;
use crate::db::schema::rate_limits;
use crate::domain::secret::hash_secret;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

/// A window after a hit: how many hits it holds, and when it ends (UTC milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, QueryableByName, Queryable)]
pub struct Window {
    #[diesel(sql_type = BigInt)]
    pub hits: i64,
    #[diesel(sql_type = BigInt)]
    pub expires_at: i64,
}

/// The stored key of `parts` (an email, an address, a session…): SHA-256 of them joined.
pub fn key(parts: &[&str]) -> String {
    hash_secret(&parts.join("\n"))
}

/// Counts one hit of `key` under `what`, in a window of `window_ms` that starts now if the
/// last one has ended, and returns the window with it.
pub fn hit(conn: &mut DbConnection, what: &str, key: &str, window_ms: i64, now: i64) -> QueryResult<Window> {
    // All the SET expressions read the row as it was before the statement.
    const POSTGRES: &str = "INSERT INTO rate_limits AS r (what, key, window_start, expires_at, hits) \
        VALUES ($1, $2, $3, $4, 1) ON CONFLICT (what, key) DO UPDATE SET \
        window_start = CASE WHEN r.expires_at <= $3 THEN $3 ELSE r.window_start END, \
        hits = CASE WHEN r.expires_at <= $3 THEN 1 ELSE r.hits + 1 END, \
        expires_at = CASE WHEN r.expires_at <= $3 THEN $4 ELSE r.expires_at END \
        RETURNING hits, expires_at";
    const SQLITE: &str = "INSERT INTO rate_limits AS r (what, key, window_start, expires_at, hits) \
        VALUES (?1, ?2, ?3, ?4, 1) ON CONFLICT (what, key) DO UPDATE SET \
        window_start = CASE WHEN r.expires_at <= ?3 THEN ?3 ELSE r.window_start END, \
        hits = CASE WHEN r.expires_at <= ?3 THEN 1 ELSE r.hits + 1 END, \
        expires_at = CASE WHEN r.expires_at <= ?3 THEN ?4 ELSE r.expires_at END \
        RETURNING hits, expires_at";
    let sql = match conn {
        DbConnection::Postgres(_) => POSTGRES,
        DbConnection::Sqlite(_) => SQLITE,
    };
    let window: Window = crate::on_backend!(conn, |c| diesel::sql_query(sql)
        .bind::<Text, _>(what)
        .bind::<Text, _>(key)
        .bind::<BigInt, _>(now)
        .bind::<BigInt, _>(now + window_ms)
        .get_result(c))?;
    if window.hits == 1 {
        sweep(conn, now)?;
    }
    Ok(window)
}

/// The current window of `key` under `what`, without counting a hit.
pub fn current(conn: &mut DbConnection, what: &str, key: &str, now: i64) -> QueryResult<Option<Window>> {
    rate_limits::table
        .find((what, key))
        .filter(rate_limits::expires_at.gt(now))
        .select((rate_limits::hits, rate_limits::expires_at))
        .first(conn)
        .optional()
}

/// Takes one hit back from the current window (an attempt counted up front that turned out
/// to be no failure).
pub fn give_back(conn: &mut DbConnection, what: &str, key: &str, now: i64) -> QueryResult<()> {
    diesel::update(
        rate_limits::table.find((what, key)).filter(rate_limits::expires_at.gt(now)).filter(rate_limits::hits.gt(0)),
    )
    .set(rate_limits::hits.eq(rate_limits::hits - 1))
    .execute(conn)?;
    Ok(())
}

/// Deletes up to a hundred windows that have ended (their keys start afresh anyway).
fn sweep(conn: &mut DbConnection, now: i64) -> QueryResult<()> {
    // The outer condition is checked again on the row as it is when deleted: a window that
    // another instance restarted meanwhile stays.
    const POSTGRES: &str = "DELETE FROM rate_limits WHERE expires_at <= $1 AND (what, key) IN \
        (SELECT what, key FROM rate_limits WHERE expires_at <= $1 ORDER BY expires_at LIMIT 100)";
    const SQLITE: &str = "DELETE FROM rate_limits WHERE expires_at <= ?1 AND (what, key) IN \
        (SELECT what, key FROM rate_limits WHERE expires_at <= ?1 ORDER BY expires_at LIMIT 100)";
    let sql = match conn {
        DbConnection::Postgres(_) => POSTGRES,
        DbConnection::Sqlite(_) => SQLITE,
    };
    crate::on_backend!(conn, |c| diesel::sql_query(sql).bind::<BigInt, _>(now).execute(c))?;
    Ok(())
}
