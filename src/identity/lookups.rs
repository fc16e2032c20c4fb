//! The queries behind the lookups every request makes, for a whole batch at once (see
//! [`super::batch`]): one answer per key, in the keys' order. PostgreSQL answers a batch with
//! one `= ANY($1)` query; SQLite with the single-row query, prepared once and kept, run for
//! each key inside one read transaction.

use super::Person;
use super::batch::one_by_one;
use crate::db::DbConnection;
use crate::db::schema::{
    accounts as accounts_table, api_keys, memberships, sessions as sessions_table, users as users_table,
};
use crate::domain::Role;
use crate::domain::secret::{self, KEY_PREFIX};
use crate::service::accounts::{self, Account, AccountMembership};
use crate::service::keys::{self, ApiKey, Found, LookupRow};
use crate::service::sessions::BrowserSession;
use crate::service::users::{self, User};
use diesel::prelude::*;

/// The user and every account they belong to, `None` once the user is gone.
pub fn person(conn: &mut DbConnection, user_id: i64) -> QueryResult<Option<Person>> {
    let Some(user) = users::find(conn, user_id)? else { return Ok(None) };
    Ok(Some(Person { user, accounts: accounts::accounts_of(conn, user_id)? }))
}

/// [`person`] for a batch of users.
pub fn people(conn: &mut DbConnection, user_ids: &[i64]) -> QueryResult<Vec<Option<Person>>> {
    let DbConnection::Postgres(c) = conn else {
        return one_by_one(conn, user_ids, |conn, id| person(conn, *id));
    };
    let rows: Vec<(User, Option<Account>, Option<Role>)> = users_table::table
        .left_join(memberships::table.inner_join(accounts_table::table))
        .filter(users_table::id.eq_any(user_ids))
        .filter(users_table::deleted_at.is_null())
        .select((User::as_select(), Option::<Account>::as_select(), memberships::role.nullable()))
        .load(c)?;
    Ok(user_ids
        .iter()
        .map(|id| {
            let mut rows = rows.iter().filter(|(user, _, _)| user.id == *id).peekable();
            let user = rows.peek()?.0.clone();
            let memberships = rows
                .filter_map(|(_, account, role)| Some(AccountMembership { account: account.clone()?, role: (*role)? }));
            Some(Person { user, accounts: accounts::in_switcher_order(memberships.collect()) })
        })
        .collect())
}

/// The key a presented secret belongs to, whatever its state ([`keys::lookup`]), for a batch
/// of presented keys.
pub fn team_keys(conn: &mut DbConnection, presented: &[String]) -> QueryResult<Vec<Option<Found>>> {
    let DbConnection::Postgres(c) = conn else {
        return one_by_one(conn, presented, |conn, p| keys::lookup(conn, p));
    };
    let parsed: Vec<Option<(String, String)>> = presented.iter().map(|p| secret::parse(KEY_PREFIX, p)).collect();
    let ids: Vec<&str> = parsed.iter().flatten().map(|(id, _)| id.as_str()).collect();
    let found: Vec<LookupRow> = api_keys::table
        .inner_join(accounts_table::table)
        .filter(api_keys::public_id.eq_any(&ids))
        .select((ApiKey::as_select(), api_keys::secret_hash, api_keys::previous_secret_hash, Account::as_select()))
        .load(c)?;
    Ok(parsed
        .iter()
        .map(|parsed| {
            let (public_id, presented_hash) = parsed.as_ref()?;
            let at = found.iter().position(|(key, _, _, _)| &key.public_id == public_id)?;
            keys::matched(found[at].clone(), presented_hash)
        })
        .collect())
}

/// The token hash, the session, its user and one of their memberships (if any): the rows of
/// one signed-in request, read with one query.
type SessionRow = (String, BrowserSession, User, Option<Account>, Option<Role>);

/// The session a token hash names (whatever its state) and its person, `None` once the user
/// is gone: the session with its user (one query), then their accounts. (One query joining
/// the accounts too is what PostgreSQL's batch runs; SQLite's planner scans the memberships
/// for it.)
pub fn session(conn: &mut DbConnection, hash: &str) -> QueryResult<Option<(BrowserSession, Person)>> {
    let found: Option<(BrowserSession, User)> = crate::on_backend!(conn, |c| sessions_table::table
        .inner_join(users_table::table)
        .filter(sessions_table::token_hash.eq(hash))
        .filter(users_table::deleted_at.is_null())
        .select((BrowserSession::as_select(), User::as_select()))
        .first(c)
        .optional())?;
    let Some((session, user)) = found else { return Ok(None) };
    let accounts = accounts::accounts_of(conn, user.id)?;
    Ok(Some((session, Person { user, accounts })))
}

/// [`session`] for a batch of token hashes.
pub fn sessions_batch(
    conn: &mut DbConnection,
    hashes: &[String],
) -> QueryResult<Vec<Option<(BrowserSession, Person)>>> {
    let DbConnection::Postgres(c) = conn else {
        return one_by_one(conn, hashes, |conn, hash| session(conn, hash));
    };
    let rows: Vec<SessionRow> = sessions_table::table
        .inner_join(users_table::table.left_join(memberships::table.inner_join(accounts_table::table)))
        .filter(sessions_table::token_hash.eq_any(hashes))
        .filter(users_table::deleted_at.is_null())
        .select((
            sessions_table::token_hash,
            BrowserSession::as_select(),
            User::as_select(),
            Option::<Account>::as_select(),
            memberships::role.nullable(),
        ))
        .load(c)?;
    Ok(hashes.iter().map(|hash| session_of(&rows, hash)).collect())
}

/// The session of `hash` and its person, from the joined rows of one or more sessions.
fn session_of(rows: &[SessionRow], hash: &str) -> Option<(BrowserSession, Person)> {
    let mut rows = rows.iter().filter(|row| row.0 == hash).peekable();
    let (_, session, user, _, _) = rows.peek()?;
    let (session, user) = (session.clone(), user.clone());
    let memberships = rows
        .filter_map(|(_, _, _, account, role)| Some(AccountMembership { account: account.clone()?, role: (*role)? }));
    Some((session, Person { user, accounts: accounts::in_switcher_order(memberships.collect()) }))
}
