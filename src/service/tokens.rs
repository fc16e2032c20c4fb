//! Members' login tokens (Bearer), issued through the device authorisation flow: the CLI asks
//! for a device code, a signed-in person confirms its short user code in the browser, and the
//! CLI's next poll receives a token. The device code and the token exist only in the CLI and
//! in the responses; the database keeps their SHA-256. Tokens are revocable, and every use
//! re-checks the member's live membership.

use super::security_log::{self, Event};
use super::users::User;
use super::{Change, Committed};
use crate::db::schema::{device_codes, login_tokens, users};
use crate::db::{DbConnection, write_transaction};
use crate::domain::secret::{self, TOKEN_PREFIX};
use crate::domain::{DeviceCodeState, new_id, now_ms};
use base64::Engine;
use diesel::prelude::*;
use rand::Rng;

pub const DEVICE_CODE_TTL_MS: i64 = 10 * 60 * 1000;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = login_tokens)]
pub struct LoginToken {
    pub id: i64,
    pub user_id: i64,
    pub device_name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// What the CLI is given when it starts a login.
pub struct DeviceStart {
    pub device_code: String,
    pub user_code: String,
    pub expires_at: i64,
}

/// Starts a CLI login for a device that calls itself `device_name`, asked for from
/// `client_address` (both shown to the person asked to confirm it).
pub fn start_device(conn: &mut DbConnection, device_name: &str, client_address: &str) -> QueryResult<DeviceStart> {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let device_code = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let alphabet = b"BCDFGHJKLMNPQRSTVWXZ23456789";
    let mut rng = rand::rngs::OsRng;
    let mut code: String = (0..8).map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char).collect();
    code.insert(4, '-');
    let now = now_ms();
    // Codes a day past their expiry are of no use to anyone.
    diesel::delete(device_codes::table.filter(device_codes::expires_at.lt(now - 24 * 3600 * 1000))).execute(conn)?;
    diesel::insert_into(device_codes::table)
        .values((
            device_codes::id.eq(new_id()),
            device_codes::device_code_hash.eq(secret::hash_secret(&device_code)),
            device_codes::user_code.eq(&code),
            device_codes::device_name.eq(device_name),
            device_codes::state.eq(DeviceCodeState::Pending),
            device_codes::created_at.eq(now),
            device_codes::expires_at.eq(now + DEVICE_CODE_TTL_MS),
            device_codes::client_address.eq(client_address),
        ))
        .execute(conn)?;
    Ok(DeviceStart { device_code, user_code: code, expires_at: now + DEVICE_CODE_TTL_MS })
}

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("That code is unknown, already used, or expired. Run `teamdeck auth login` again for a new one.")]
    Unusable,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

fn normalize_user_code(code: &str) -> String {
    let compact: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect();
    if compact.len() == 8 { format!("{}-{}", &compact[..4], &compact[4..]) } else { compact }
}

/// A CLI login waiting for a person to confirm it, as the confirmation page shows it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = device_codes)]
pub struct PendingDevice {
    /// What the device calls itself (its own words, not checked).
    pub device_name: String,
    /// Where the login was started from (none for logins started before it was kept).
    pub client_address: Option<String>,
    pub created_at: i64,
}

/// The pending, unexpired login of a user code.
pub fn pending_device(conn: &mut DbConnection, user_code: &str) -> QueryResult<Option<PendingDevice>> {
    device_codes::table
        .filter(device_codes::user_code.eq(normalize_user_code(user_code)))
        .filter(device_codes::state.eq(DeviceCodeState::Pending))
        .filter(device_codes::expires_at.gt(now_ms()))
        .select(PendingDevice::as_select())
        .first(conn)
        .optional()
}

/// A signed-in person approves or denies a user code.
pub fn decide(conn: &mut DbConnection, user_code: &str, user_id: i64, approve: bool) -> Result<String, DeviceError> {
    write_transaction(conn, |conn| {
        let name = pending_device(conn, user_code)?.ok_or(DeviceError::Unusable)?.device_name;
        diesel::update(
            device_codes::table
                .filter(device_codes::user_code.eq(normalize_user_code(user_code)))
                .filter(device_codes::state.eq(DeviceCodeState::Pending)),
        )
        .set((
            device_codes::state.eq(if approve { DeviceCodeState::Approved } else { DeviceCodeState::Denied }),
            device_codes::user_id.eq(user_id),
        ))
        .execute(conn)?;
        Ok(name)
    })
}

/// A device code as the CLI's poll reads it.
#[derive(Queryable, Selectable)]
#[diesel(table_name = device_codes)]
struct DeviceCode {
    id: i64,
    state: DeviceCodeState,
    device_name: String,
    user_id: Option<i64>,
    expires_at: i64,
}

pub enum Poll {
    Pending,
    Denied,
    Expired,
    /// The login token, handed out once.
    Token(String),
}

/// The CLI's poll from `client_address`: a token once approved (the device code is then
/// used up), recorded in the person's security log with the device's name and that address.
pub fn poll(conn: &mut DbConnection, device_code: &str, client_address: &str) -> QueryResult<Poll> {
    write_transaction(conn, |conn| {
        let row: Option<DeviceCode> = device_codes::table
            .filter(device_codes::device_code_hash.eq(secret::hash_secret(device_code)))
            .select(DeviceCode::as_select())
            .first(conn)
            .optional()?;
        let Some(DeviceCode { id, state, device_name, user_id, expires_at }) = row else { return Ok(Poll::Expired) };
        match (state, user_id) {
            (DeviceCodeState::Denied, _) => Ok(Poll::Denied),
            (DeviceCodeState::Used, _) => Ok(Poll::Expired),
            _ if expires_at <= now_ms() => Ok(Poll::Expired),
            (DeviceCodeState::Approved, Some(user_id)) => {
                // Claim the code first: of two simultaneous polls only one gets a token.
                let claimed = diesel::update(
                    device_codes::table.find(id).filter(device_codes::state.eq(DeviceCodeState::Approved)),
                )
                .set(device_codes::state.eq(DeviceCodeState::Used))
                .execute(conn)?;
                if claimed != 1 {
                    return Ok(Poll::Expired);
                }
                let minted = secret::mint(TOKEN_PREFIX);
                diesel::insert_into(login_tokens::table)
                    .values((
                        login_tokens::id.eq(new_id()),
                        login_tokens::user_id.eq(user_id),
                        login_tokens::device_name.eq(&device_name),
                        login_tokens::public_id.eq(&minted.public_id),
                        login_tokens::secret_hash.eq(&minted.secret_hash),
                        login_tokens::created_at.eq(now_ms()),
                    ))
                    .execute(conn)?;
                security_log::record(conn, user_id, Event::CliTokenCreated, &device_name, client_address)?;
                Ok(Poll::Token(minted.full))
            }
            _ => Ok(Poll::Pending),
        }
    })
}

/// A presented token that works, and its user. Its `last_used_at` moves at most once a
/// minute (a write only when it is due).
pub fn verify(conn: &mut DbConnection, presented: &str) -> QueryResult<Option<(LoginToken, User)>> {
    let Some((public_id, presented_hash)) = secret::parse(TOKEN_PREFIX, presented) else {
        return Ok(None);
    };
    let found: Option<(LoginToken, String, Option<i64>, User)> = login_tokens::table
        .inner_join(users::table)
        .filter(login_tokens::public_id.eq(public_id))
        .filter(users::deleted_at.is_null())
        .select((LoginToken::as_select(), login_tokens::secret_hash, login_tokens::revoked_at, User::as_select()))
        .first(conn)
        .optional()?;
    let Some((token, stored, revoked_at, user)) = found else { return Ok(None) };
    if revoked_at.is_some() || !secret::hashes_match(&presented_hash, &stored) {
        return Ok(None);
    }
    let now = now_ms();
    if token.last_used_at.is_none_or(|t| t < now - 60_000) {
        diesel::update(login_tokens::table.find(token.id)).set(login_tokens::last_used_at.eq(now)).execute(conn)?;
    }
    Ok(Some((token, user)))
}

/// The user's tokens that still work, newest first.
pub fn list(conn: &mut DbConnection, user_id: i64) -> QueryResult<Vec<LoginToken>> {
    login_tokens::table
        .filter(login_tokens::user_id.eq(user_id))
        .filter(login_tokens::revoked_at.is_null())
        .order(login_tokens::created_at.desc())
        .select(LoginToken::as_select())
        .load(conn)
}

/// Revokes one of the user's tokens; false when there was no such working token.
pub fn revoke(conn: &mut DbConnection, user_id: i64, token_id: i64) -> QueryResult<Committed<bool>> {
    let n = diesel::update(
        login_tokens::table
            .filter(login_tokens::id.eq(token_id))
            .filter(login_tokens::user_id.eq(user_id))
            .filter(login_tokens::revoked_at.is_null()),
    )
    .set(login_tokens::revoked_at.eq(now_ms()))
    .execute(conn)?;
    Ok(Committed::new(n == 1, (n == 1).then_some(Change::TokenRevoked { user_id })))
}

/// Revokes every working token of the user (the CLI signed out everywhere); how many.
pub fn revoke_all(conn: &mut DbConnection, user_id: i64) -> QueryResult<Committed<usize>> {
    let n = diesel::update(
        login_tokens::table.filter(login_tokens::user_id.eq(user_id)).filter(login_tokens::revoked_at.is_null()),
    )
    .set(login_tokens::revoked_at.eq(now_ms()))
    .execute(conn)?;
    Ok(Committed::new(n, (n > 0).then_some(Change::TokenRevoked { user_id })))
}
