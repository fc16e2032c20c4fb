//! Sign-ins half done: the password was right and the person has a second factor. The
//! browser gets a random token in a cookie of its own (never the session cookie: nothing
//! signs it in yet, so no other page opens for it); only the token's SHA-256 is kept. A
//! challenge lives five minutes, takes at most five wrong codes, and is used once: the
//! session starts only as the challenge is deleted.

use crate::db::DbConnection;
use crate::db::schema::sign_in_challenges;
use crate::domain::new_id;
use crate::domain::secret::hash_secret;
use crate::service::sessions::token_hash;
use base64::Engine;
use diesel::prelude::*;

/// How long the second step waits for its code.
pub const LIFETIME_MS: i64 = 5 * 60 * 1000;
/// Wrong codes one challenge takes before it ends (the password is then asked again).
pub const MAX_FAILURES: i32 = 5;
/// What the challenge waits for.
const SECOND_FACTOR: &str = "second_factor";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sign_in_challenges)]
pub struct Challenge {
    pub id: i64,
    pub user_id: i64,
    /// Where to go once signed in (a local path, checked when it was taken).
    pub next: String,
    pub failures: i32,
    pub expires_at: i64,
}

/// Starts the second step for `user_id`: the token for the browser's cookie (never stored).
/// Challenges that have ended go.
pub fn start(conn: &mut DbConnection, user_id: i64, next: &str, now: i64) -> QueryResult<String> {
    diesel::delete(sign_in_challenges::table.filter(sign_in_challenges::expires_at.le(now))).execute(conn)?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    diesel::insert_into(sign_in_challenges::table)
        .values((
            sign_in_challenges::id.eq(new_id()),
            sign_in_challenges::token_hash.eq(hash_secret(&token)),
            sign_in_challenges::user_id.eq(user_id),
            sign_in_challenges::purpose.eq(SECOND_FACTOR),
            sign_in_challenges::next.eq(next),
            sign_in_challenges::created_at.eq(now),
            sign_in_challenges::expires_at.eq(now + LIFETIME_MS),
        ))
        .execute(conn)?;
    Ok(token)
}

/// The live challenge of `token`.
pub fn find(conn: &mut DbConnection, token: &str, now: i64) -> QueryResult<Option<Challenge>> {
    let Some(hash) = token_hash(token) else { return Ok(None) };
    sign_in_challenges::table
        .filter(sign_in_challenges::token_hash.eq(hash))
        .filter(sign_in_challenges::purpose.eq(SECOND_FACTOR))
        .filter(sign_in_challenges::expires_at.gt(now))
        .filter(sign_in_challenges::failures.lt(MAX_FAILURES))
        .select(Challenge::as_select())
        .first(conn)
        .optional()
}

/// Counts a wrong code: how many the challenge has taken (at [`MAX_FAILURES`] it is over).
pub fn failed(conn: &mut DbConnection, id: i64) -> QueryResult<i32> {
    diesel::update(sign_in_challenges::table.find(id))
        .set(sign_in_challenges::failures.eq(sign_in_challenges::failures + 1))
        .execute(conn)?;
    let failures = sign_in_challenges::table
        .find(id)
        .select(sign_in_challenges::failures)
        .first(conn)
        .optional()?
        .unwrap_or(MAX_FAILURES);
    if failures >= MAX_FAILURES {
        end(conn, id)?;
    }
    Ok(failures)
}

/// Ends the challenge; true for the one request that ended it (that one signs in).
pub fn end(conn: &mut DbConnection, id: i64) -> QueryResult<bool> {
    Ok(diesel::delete(sign_in_challenges::table.find(id)).execute(conn)? == 1)
}

pub fn delete_for_user(conn: &mut DbConnection, user_id: i64) -> QueryResult<()> {
    diesel::delete(sign_in_challenges::table.filter(sign_in_challenges::user_id.eq(user_id))).execute(conn)?;
    Ok(())
}
