//! Browser sessions: one row per signed-in browser. The browser holds a random token (256
//! bits, base64url) in its cookie; the database keeps only its SHA-256, so a copy of the table
//! signs no one in. A session ends when it is revoked (signing out, "sign out everywhere
//! else", deleting the account), when it has been idle longer than the idle timeout, or at
//! its absolute end, whichever comes first; every instance reads the row for every request,
//! so an end is seen by all of them at the next request.

use crate::db::DbConnection;
use crate::db::schema::sessions;
use crate::domain::new_id;
use crate::domain::secret::hash_secret;
use base64::Engine;
use diesel::prelude::*;

/// How long a session lives: since it was last used, and at most since it began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    pub idle_ms: i64,
    pub absolute_ms: i64,
}

impl Default for Lifetimes {
    /// 14 days idle, 30 days in all.
    fn default() -> Self {
        const DAY_MS: i64 = 24 * 3600 * 1000;
        Self { idle_ms: 14 * DAY_MS, absolute_ms: 30 * DAY_MS }
    }
}

/// `last_seen_at` is written at most this often for one session.
pub const SEEN_EVERY_MS: i64 = 60_000;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct BrowserSession {
    pub id: i64,
    pub user_id: i64,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub client_address: String,
    pub user_agent: String,
    pub second_factor_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl BrowserSession {
    /// Whether it still signs its browser in at `now`.
    pub fn is_live(&self, now: i64, lifetimes: &Lifetimes) -> bool {
        self.revoked_at.is_none() && now < self.expires_at && now < self.last_seen_at + lifetimes.idle_ms
    }

    /// Whether `last_seen_at` is due to be written again.
    pub fn seen_long_ago(&self, now: i64) -> bool {
        now - self.last_seen_at >= SEEN_EVERY_MS
    }
}

/// Where a sign-in came from, as the sessions page shows it.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub client_address: String,
    pub user_agent: String,
}

/// The longest user agent kept (some are padded to kilobytes).
const MAX_USER_AGENT: usize = 512;

/// The hash a token is kept and found by; `None` for what cannot be a token (wrong length or
/// alphabet), which is then never looked up.
pub fn token_hash(token: &str) -> Option<String> {
    let well_formed = token.len() == 43 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then(|| hash_secret(token))
}

/// Sessions are forgotten this long after they ended.
const KEPT_AFTER_END_MS: i64 = 30 * 24 * 3600 * 1000;

/// Starts a session for `user_id`: the token for the cookie (never stored) and the row's id.
/// `second_factor` says the person passed a second factor to sign in (at `now`). The user's
/// sessions that ended more than a month ago go (they are no use to anyone).
pub fn start(
    conn: &mut DbConnection,
    user_id: i64,
    origin: &Origin,
    now: i64,
    lifetimes: &Lifetimes,
    second_factor: bool,
) -> QueryResult<(String, i64)> {
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let id = new_id();
    let user_agent: String = origin.user_agent.chars().filter(|c| !c.is_control()).take(MAX_USER_AGENT).collect();
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(id),
            sessions::user_id.eq(user_id),
            sessions::token_hash.eq(hash_secret(&token)),
            sessions::created_at.eq(now),
            sessions::last_seen_at.eq(now),
            sessions::expires_at.eq(now + lifetimes.absolute_ms),
            sessions::client_address.eq(&origin.client_address),
            sessions::user_agent.eq(user_agent),
            sessions::second_factor_at.eq(second_factor.then_some(now)),
        ))
        .execute(conn)?;
    let long_ago = now - KEPT_AFTER_END_MS;
    diesel::delete(
        sessions::table.filter(sessions::user_id.eq(user_id)).filter(
            sessions::revoked_at
                .lt(long_ago)
                .or(sessions::expires_at.lt(long_ago))
                .or(sessions::last_seen_at.lt(long_ago - lifetimes.idle_ms)),
        ),
    )
    .execute(conn)?;
    Ok((token, id))
}

/// The session a token hash names, whatever its state.
pub fn by_token_hash(conn: &mut DbConnection, hash: &str) -> QueryResult<Option<BrowserSession>> {
    crate::on_backend!(conn, |c| sessions::table
        .filter(sessions::token_hash.eq(hash))
        .select(BrowserSession::as_select())
        .first(c)
        .optional())
}

/// Ends the session whose cookie holds `token` (signing out); false when there was none.
pub fn revoke_token(conn: &mut DbConnection, token: &str, now: i64) -> QueryResult<bool> {
    let Some(hash) = token_hash(token) else { return Ok(false) };
    let ended =
        diesel::update(sessions::table.filter(sessions::token_hash.eq(hash)).filter(sessions::revoked_at.is_null()))
            .set(sessions::revoked_at.eq(now))
            .execute(conn)?;
    Ok(ended == 1)
}

/// Ends one of the user's sessions; false when they have no such session still open.
pub fn revoke(conn: &mut DbConnection, user_id: i64, session_id: i64, now: i64) -> QueryResult<bool> {
    let ended = diesel::update(
        sessions::table
            .filter(sessions::id.eq(session_id))
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(now))
    .execute(conn)?;
    Ok(ended == 1)
}

/// Ends every session of the user but `keep` (none with `None`); how many ended.
pub fn revoke_all(conn: &mut DbConnection, user_id: i64, keep: Option<i64>, now: i64) -> QueryResult<usize> {
    diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::id.ne(keep.unwrap_or(0))),
    )
    .set(sessions::revoked_at.eq(now))
    .execute(conn)
}

/// The user's sessions that still sign a browser in, the most recently used first.
pub fn live(
    conn: &mut DbConnection,
    user_id: i64,
    now: i64,
    lifetimes: &Lifetimes,
) -> QueryResult<Vec<BrowserSession>> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::last_seen_at.gt(now - lifetimes.idle_ms))
        .order((sessions::last_seen_at.desc(), sessions::id))
        .select(BrowserSession::as_select())
        .load(conn)
}

/// Records that the session was used at `now` (called at most every [`SEEN_EVERY_MS`]).
pub fn seen(conn: &mut DbConnection, session_id: i64, now: i64) -> QueryResult<()> {
    diesel::update(sessions::table.find(session_id).filter(sessions::last_seen_at.lt(now)))
        .set(sessions::last_seen_at.eq(now))
        .execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_a_token_can_be_is_looked_up() {
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8; 32]);
        assert_eq!(token_hash(&token), Some(hash_secret(&token)));
        for bad in ["", "short", &format!("{token}x"), &token[1..], &format!("{}!", &token[1..]), &"é".repeat(22)] {
            assert_eq!(token_hash(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_session_ends_when_revoked_idle_or_at_its_end() {
        let lifetimes = Lifetimes { idle_ms: 100, absolute_ms: 1_000 };
        let session = BrowserSession {
            id: 1,
            user_id: 2,
            created_at: 0,
            last_seen_at: 500,
            expires_at: 1_000,
            client_address: String::new(),
            user_agent: String::new(),
            second_factor_at: None,
            revoked_at: None,
        };
        assert!(session.is_live(599, &lifetimes));
        assert!(!session.is_live(600, &lifetimes), "idle for the whole idle timeout");
        let busy = BrowserSession { last_seen_at: 990, ..session.clone() };
        assert!(busy.is_live(999, &lifetimes) && !busy.is_live(1_000, &lifetimes), "at its absolute end");
        assert!(!BrowserSession { revoked_at: Some(550), ..session }.is_live(560, &lifetimes));
    }
}
