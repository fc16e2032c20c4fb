//! The authenticator app (TOTP). Setting one up writes an unconfirmed row with a new secret
//! (sealed under the secrets key, bound to the person); typing a current code from the app,
//! with the password, confirms it and makes the first set of recovery codes. The step of the
//! last accepted code is kept, and a code is accepted only for a later step.

use super::{MadeFrom, recovery, tell};
use crate::db::schema::totp_factors;
use crate::db::{DbConnection, write_transaction};
use crate::domain::second_factor as codes;
use crate::service::Committed;
use crate::service::secrets::Sealer;
use crate::service::security_log::Event;
use diesel::prelude::*;

/// What the secret is sealed under, beside the person.
const LABEL: &str = "totp";

#[derive(Debug, thiserror::Error)]
pub enum TotpError {
    #[error("An authenticator app is already set up. Remove it first to set up another.")]
    AlreadySetUp,
    #[error("Start again: there is no authenticator app waiting to be confirmed.")]
    NothingPending,
    #[error("That code is not the current one. Check the app's clock and type the newest code.")]
    WrongCode,
    #[error("No authenticator app is set up.")]
    NotSetUp,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = totp_factors)]
struct Row {
    sealed: Vec<u8>,
    confirmed_at: Option<i64>,
    last_step: i64,
}

fn row(conn: &mut DbConnection, user_id: i64) -> QueryResult<Option<Row>> {
    totp_factors::table.find(user_id).select(Row::as_select()).first(conn).optional()
}

/// Whether the person has a confirmed authenticator app.
pub fn confirmed(conn: &mut DbConnection, user_id: i64) -> QueryResult<bool> {
    Ok(row(conn, user_id)?.is_some_and(|r| r.confirmed_at.is_some()))
}

/// Starts setting up an app: a new secret, replacing one waiting to be confirmed. Refused
/// while one is confirmed (replacing it goes through removing it, which takes a code).
pub fn begin(conn: &mut DbConnection, sealer: &Sealer, user_id: i64, now: i64) -> Result<String, TotpError> {
    write_transaction(conn, |conn| {
        if row(conn, user_id)?.is_some_and(|r| r.confirmed_at.is_some()) {
            return Err(TotpError::AlreadySetUp);
        }
        diesel::delete(totp_factors::table.find(user_id)).execute(conn)?;
        let secret = codes::new_secret();
        diesel::insert_into(totp_factors::table)
            .values((
                totp_factors::user_id.eq(user_id),
                totp_factors::sealed.eq(sealer.seal_personal(user_id, LABEL, &secret)),
                totp_factors::last_step.eq(0),
                totp_factors::created_at.eq(now),
            ))
            .execute(conn)?;
        Ok(secret)
    })
}

/// The secret of the app waiting to be confirmed, to show again.
pub fn pending_secret(conn: &mut DbConnection, sealer: &Sealer, user_id: i64) -> QueryResult<Option<String>> {
    Ok(row(conn, user_id)?.filter(|r| r.confirmed_at.is_none()).and_then(|r| sealer.open(user_id, LABEL, &r.sealed)))
}

/// Confirms the waiting app with a current code from it: the first set of recovery codes,
/// to show once.
pub fn confirm(
    conn: &mut DbConnection,
    sealer: &Sealer,
    user_id: i64,
    typed: &str,
    now: i64,
    from: &MadeFrom,
) -> Result<Committed<Vec<String>>, TotpError> {
    write_transaction(conn, |conn| {
        let Some(found) = row(conn, user_id)? else { return Err(TotpError::NothingPending) };
        if found.confirmed_at.is_some() {
            return Err(TotpError::AlreadySetUp);
        }
        let secret = sealer.open(user_id, LABEL, &found.sealed).ok_or(TotpError::NothingPending)?;
        let step = codes::accepted_step(&secret, typed, now, found.last_step).ok_or(TotpError::WrongCode)?;
        diesel::update(totp_factors::table.find(user_id))
            .set((totp_factors::confirmed_at.eq(now), totp_factors::last_step.eq(step)))
            .execute(conn)?;
        let recovery_codes = recovery::replace(conn, user_id, now)?;
        tell(
            conn,
            user_id,
            Event::SecondFactorAdded,
            "An authenticator app was added to your account",
            "Authenticator app",
            from,
            now,
        )?;
        Ok(Committed::new(recovery_codes, []))
    })
}

/// Accepts a current code of the person's confirmed app once: true when `typed` is the code
/// of a step later than the last one accepted, which becomes the last one.
pub fn use_code(conn: &mut DbConnection, sealer: &Sealer, user_id: i64, typed: &str, now: i64) -> QueryResult<bool> {
    let Some(found) = row(conn, user_id)?.filter(|r| r.confirmed_at.is_some()) else { return Ok(false) };
    let Some(secret) = sealer.open(user_id, LABEL, &found.sealed) else {
        tracing::error!(user_id, "an authenticator secret does not open with this server's secrets key");
        return Ok(false);
    };
    let Some(step) = codes::accepted_step(&secret, typed, now, found.last_step) else { return Ok(false) };
    // Only if no other request took this step (or a later one) meanwhile.
    let taken = diesel::update(totp_factors::table.find(user_id).filter(totp_factors::last_step.lt(step)))
        .set(totp_factors::last_step.eq(step))
        .execute(conn)?;
    Ok(taken == 1)
}

/// Removes the app (the caller checked the password and a current code) and the recovery
/// codes that came with it.
pub fn remove(conn: &mut DbConnection, user_id: i64, now: i64, from: &MadeFrom) -> Result<Committed<()>, TotpError> {
    write_transaction(conn, |conn| {
        if diesel::delete(totp_factors::table.find(user_id).filter(totp_factors::confirmed_at.is_not_null()))
            .execute(conn)?
            == 0
        {
            return Err(TotpError::NotSetUp);
        }
        recovery::delete_all(conn, user_id)?;
        tell(
            conn,
            user_id,
            Event::SecondFactorRemoved,
            "An authenticator app was removed from your account",
            "Authenticator app",
            from,
            now,
        )?;
        Ok(Committed::new((), []))
    })
}
