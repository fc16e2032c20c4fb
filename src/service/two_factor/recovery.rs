//! Recovery codes: ten single-use codes made with an authenticator app, shown once, kept as
//! SHA-256 only. A new set replaces the old one whole.

use super::{MadeFrom, tell};
use crate::db::schema::recovery_codes;
use crate::db::{DbConnection, write_transaction};
use crate::domain::new_id;
use crate::domain::second_factor as codes;
use crate::domain::secret::hash_secret;
use crate::service::Committed;
use crate::service::security_log::Event;
use diesel::prelude::*;

/// Replaces the person's recovery codes with a new set (in the caller's transaction): the
/// codes, to show once.
pub fn replace(conn: &mut DbConnection, user_id: i64, now: i64) -> QueryResult<Vec<String>> {
    delete_all(conn, user_id)?;
    let fresh = codes::new_recovery_codes();
    for code in &fresh {
        let plain = codes::normalize_recovery_code(code).expect("a new code reads back");
        // One row at a time: the connection type has no multi-row insert.
        diesel::insert_into(recovery_codes::table)
            .values((
                recovery_codes::id.eq(new_id()),
                recovery_codes::user_id.eq(user_id),
                recovery_codes::code_hash.eq(hash_secret(&plain)),
                recovery_codes::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(fresh)
}

/// A new set for a person with an app (the caller checked the password and a current code).
pub fn regenerate(
    conn: &mut DbConnection,
    user_id: i64,
    now: i64,
    from: &MadeFrom,
) -> QueryResult<Committed<Vec<String>>> {
    write_transaction(conn, |conn| {
        let fresh = replace(conn, user_id, now)?;
        tell(
            conn,
            user_id,
            Event::SecondFactorAdded,
            "New recovery codes were made for your account",
            "New recovery codes (the old ones no longer work)",
            from,
            now,
        )?;
        Ok(Committed::new(fresh, []))
    })
}

/// How many of the person's codes are unused.
pub fn remaining(conn: &mut DbConnection, user_id: i64) -> QueryResult<i64> {
    recovery_codes::table
        .filter(recovery_codes::user_id.eq(user_id))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)
}

/// Uses `typed` up if it is one of the person's unused codes.
pub fn use_code(conn: &mut DbConnection, user_id: i64, typed: &str, now: i64) -> QueryResult<bool> {
    let Some(plain) = codes::normalize_recovery_code(typed) else { return Ok(false) };
    let used = diesel::update(
        recovery_codes::table
            .filter(recovery_codes::user_id.eq(user_id))
            .filter(recovery_codes::code_hash.eq(hash_secret(&plain)))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(now))
    .execute(conn)?;
    Ok(used == 1)
}

pub fn delete_all(conn: &mut DbConnection, user_id: i64) -> QueryResult<()> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id))).execute(conn)?;
    Ok(())
}
