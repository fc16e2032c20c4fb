//! A team's secrets: named values its apps receive as environment variables (`HF_TOKEN`,
//! `DATABASE_URL`). Admins and developers set, replace and delete them; nobody reads a value
//! back through the dashboard, and a listing holds names and who changed them, never a value.
//!
//! A value is kept sealed: AES-256-GCM under a key derived from the server's secrets key (not
//! the session key, so rotating sessions keeps the secrets), stored as a format byte, a random
//! nonce and the ciphertext, with the team and the name as associated data, so a sealed value
//! copied to another team or name does not open. A sealed check value in the database
//! ([`check_key`]) stops a server from starting with another key than the one the stored
//! secrets were sealed under (a lost key file, or an instance that generated its own).

use super::audit::{self, Action, Actor};
use crate::db::schema::{secrets, users};
use crate::db::{DbConnection, write_transaction};
use crate::domain::{new_id, now_ms};
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use std::fmt;

/// At most this many secrets per team.
pub const MAX_PER_TEAM: i64 = 200;
/// At most this many bytes per value.
pub const MAX_VALUE_BYTES: usize = 32 * 1024;
const NONCE_BYTES: usize = 12;
/// The first byte of a sealed value: how it was sealed (this key derivation and AES-256-GCM).
const FORMAT: u8 = 1;
/// Names that start with this are the platform's own.
const RESERVED_PREFIX: &str = "TEAMDECK_";

/// A secret's name: an environment variable's, `[A-Z_][A-Z0-9_]*`, at most 128 characters.
/// Lowercase letters typed are taken as uppercase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretNameError {
    #[error("Enter a name.")]
    Empty,
    #[error("Use at most {} characters.", SecretName::MAX_CHARS)]
    TooLong,
    #[error("Use letters, digits and underscores, not starting with a digit (e.g. HF_TOKEN).")]
    NotAVariable,
    #[error("Names starting with TEAMDECK_ are kept for the platform's own variables.")]
    Reserved,
}

impl SecretName {
    pub const MAX_CHARS: usize = 128;

    pub fn parse(input: &str) -> Result<Self, SecretNameError> {
        let name = input.trim().to_ascii_uppercase();
        if name.is_empty() {
            return Err(SecretNameError::Empty);
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(SecretNameError::TooLong);
        }
        let mut chars = name.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_uppercase() || c == '_');
        if !first_ok || !chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') {
            return Err(SecretNameError::NotAVariable);
        }
        if name.starts_with(RESERVED_PREFIX) {
            return Err(SecretNameError::Reserved);
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The key secrets are sealed under. Its `Debug` says nothing of it.
#[derive(Clone)]
pub struct Sealer(Aes256Gcm);

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(…)")
    }
}

impl Sealer {
    /// The sealer of the secrets key `material` (at least 32 bytes): the AES key is
    /// HMAC-SHA256(material, "teamdeck secrets v1"), so the same material given as the session
    /// key too would still not make the two keys one.
    pub fn from_material(material: &[u8]) -> Self {
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(material).expect("HMAC takes a key of any length");
        mac.update(b"teamdeck secrets v1");
        let key: [u8; 32] = mac.finalize().into_bytes().into();
        Self(Aes256Gcm::new(&key.into()))
    }

    fn aad(account_id: i64, name: &str) -> Vec<u8> {
        let mut aad = account_id.to_be_bytes().to_vec();
        aad.extend_from_slice(name.as_bytes());
        aad
    }

    /// The format byte, the nonce, then ciphertext and tag.
    pub fn seal(&self, account_id: i64, name: &SecretName, value: &str) -> Vec<u8> {
        self.seal_raw(account_id, name.as_str(), value)
    }

    /// Seals a person's own secret (an authenticator app's): bound to them and to `label`, a
    /// lowercase word that no team secret's name can be.
    pub fn seal_personal(&self, user_id: i64, label: &str, value: &str) -> Vec<u8> {
        debug_assert!(SecretName::parse(label).map_or(true, |n| n.as_str() != label));
        self.seal_raw(user_id, label, value)
    }

    fn seal_raw(&self, account_id: i64, name: &str, value: &str) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = Self::aad(account_id, name);
        let sealed = self
            .0
            .encrypt(&nonce, Payload { msg: value.as_bytes(), aad: &aad })
            .expect("AES-GCM seals any value shorter than 64 GiB");
        let mut out = Vec::with_capacity(1 + NONCE_BYTES + sealed.len());
        out.push(FORMAT);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// The value, or `None` when `sealed` was not sealed under this key for this team and
    /// name (another server's key, or a value moved in the database).
    pub fn open(&self, account_id: i64, name: &str, sealed: &[u8]) -> Option<String> {
        let (&FORMAT, rest) = sealed.split_first()? else { return None };
        if rest.len() < NONCE_BYTES {
            return None;
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_BYTES);
        let aad = Self::aad(account_id, name);
        let plain = self.0.decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: &aad }).ok()?;
        String::from_utf8(plain).ok()
    }
}

/// A secret as the secrets page lists it: never its value.
#[derive(Debug, Clone)]
pub struct SecretListing {
    pub name: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// Who last set it: a member's name, or "team key NAME"; `None` once the member is gone.
    pub updated_by: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("This team is archived: its secrets can no longer be changed.")]
    Archived,
    #[error("That secret does not exist or was already deleted.")]
    NotFound,
    #[error("The team already has a secret of that name: use Replace in its row to change its value.")]
    Exists,
    #[error("A team can hold at most {MAX_PER_TEAM} secrets. Delete one it no longer needs first.")]
    TooMany,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Whether [`set`] added a secret or replaced the value of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Set {
    Added,
    Replaced,
}

/// What [`set`] may do: only add (the page's add form: a name taken by mistake must not
/// destroy a value that cannot be read back), only replace (its Replace), or either (the
/// API's `PUT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Add,
    Replace,
    Either,
}

/// Why a value cannot be kept, in words for the form or the API.
pub fn check_value(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("Enter a value.".into());
    }
    if value.len() > MAX_VALUE_BYTES {
        return Err(format!("A value can be at most {} KiB.", MAX_VALUE_BYTES / 1024));
    }
    if value.contains('\0') {
        return Err("A value cannot hold a NUL character (environment variables cannot).".into());
    }
    Ok(())
}

/// The team's secrets, by name.
pub fn list(conn: &mut DbConnection, account_id: i64) -> QueryResult<Vec<SecretListing>> {
    listings(conn, account_id, None)
}

/// One of the team's secrets.
pub fn find(conn: &mut DbConnection, account_id: i64, name: &str) -> QueryResult<Option<SecretListing>> {
    Ok(listings(conn, account_id, Some(name))?.pop())
}

fn listings(conn: &mut DbConnection, account_id: i64, only: Option<&str>) -> QueryResult<Vec<SecretListing>> {
    let mut query = secrets::table
        .left_join(users::table.on(users::id.nullable().eq(secrets::updated_by)))
        .filter(secrets::account_id.eq(account_id))
        .order(secrets::name.asc())
        .select((
            secrets::name,
            secrets::created_at,
            secrets::updated_at,
            users::name.nullable(),
            secrets::updated_by_key,
        ))
        .into_boxed();
    if let Some(name) = only {
        query = query.filter(secrets::name.eq(name));
    }
    #[derive(Queryable)]
    struct Row {
        name: String,
        created_at: i64,
        updated_at: i64,
        member: Option<String>,
        key: Option<String>,
    }
    let rows: Vec<Row> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| SecretListing {
            name: r.name,
            created_at: r.created_at,
            updated_at: r.updated_at,
            updated_by: r.member.or(r.key),
        })
        .collect())
}

/// Adds the secret `name`, or replaces its value when the team has one of that name, as
/// `mode` allows; returns what it did and the secret as now listed.
pub fn set(
    conn: &mut DbConnection,
    sealer: &Sealer,
    account_id: i64,
    actor: &Actor,
    name: &SecretName,
    value: &str,
    mode: Mode,
) -> Result<(Set, SecretListing), SecretError> {
    let sealed = sealer.seal(account_id, name, value);
    let by = (actor.id != Actor::NOT_A_USER).then_some(actor.id);
    let by_key = (actor.id == Actor::NOT_A_USER).then_some(actor.name.as_str());
    write_transaction(conn, |conn| {
        if super::accounts::lock_for_change(conn, account_id)?.0 {
            return Err(SecretError::Archived);
        }
        let now = now_ms();
        let existing = secrets::table
            .filter(secrets::account_id.eq(account_id))
            .filter(secrets::name.eq(name.as_str()))
            .select(secrets::id)
            .first::<i64>(conn)
            .optional()?;
        let outcome = match existing {
            Some(_) if mode == Mode::Add => return Err(SecretError::Exists),
            None if mode == Mode::Replace => return Err(SecretError::NotFound),
            Some(id) => {
                diesel::update(secrets::table.find(id))
                    .set((
                        secrets::sealed.eq(&sealed),
                        secrets::updated_by.eq(by),
                        secrets::updated_by_key.eq(by_key),
                        secrets::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                Set::Replaced
            }
            None => {
                let count: i64 = secrets::table.filter(secrets::account_id.eq(account_id)).count().get_result(conn)?;
                if count >= MAX_PER_TEAM {
                    return Err(SecretError::TooMany);
                }
                diesel::insert_into(secrets::table)
                    .values((
                        secrets::id.eq(new_id()),
                        secrets::account_id.eq(account_id),
                        secrets::name.eq(name.as_str()),
                        secrets::sealed.eq(&sealed),
                        secrets::created_by.eq(by),
                        secrets::created_at.eq(now),
                        secrets::updated_by.eq(by),
                        secrets::updated_by_key.eq(by_key),
                        secrets::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                Set::Added
            }
        };
        let action = match outcome {
            Set::Added => Action::SecretAdded,
            Set::Replaced => Action::SecretReplaced,
        };
        audit::record(conn, account_id, actor, action, name.as_str(), "")?;
        let listed = listings(conn, account_id, Some(name.as_str()))?.pop().ok_or(SecretError::NotFound)?;
        Ok((outcome, listed))
    })
}

/// Deletes the secret `name`: apps started afterwards no longer receive it.
pub fn delete(conn: &mut DbConnection, account_id: i64, actor: &Actor, name: &str) -> Result<(), SecretError> {
    write_transaction(conn, |conn| {
        if super::accounts::lock_for_change(conn, account_id)?.0 {
            return Err(SecretError::Archived);
        }
        let deleted =
            diesel::delete(secrets::table.filter(secrets::account_id.eq(account_id)).filter(secrets::name.eq(name)))
                .execute(conn)?;
        if deleted != 1 {
            return Err(SecretError::NotFound);
        }
        audit::record(conn, account_id, actor, Action::SecretDeleted, name, "")?;
        Ok(())
    })
}

/// The team's secrets with their values, for the runtime that starts the team's apps (not
/// part of this server yet; tests use it to show what is kept). A value that does not open
/// under `sealer` is left out and logged by name.
pub fn values(conn: &mut DbConnection, sealer: &Sealer, account_id: i64) -> QueryResult<Vec<(String, String)>> {
    let rows: Vec<(String, Vec<u8>)> = secrets::table
        .filter(secrets::account_id.eq(account_id))
        .order(secrets::name.asc())
        .select((secrets::name, secrets::sealed))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(name, sealed)| match sealer.open(account_id, &name, &sealed) {
            Some(value) => Some((name, value)),
            None => {
                tracing::error!(account_id, secret = %name, "a secret does not open under this server's key");
                None
            }
        })
        .collect())
}

/// Why the server must not start with this secrets key.
#[derive(Debug, thiserror::Error)]
pub enum KeyCheckError {
    #[error(
        "the secrets key (TEAMDECK_SECRETS_KEY, else DATA_DIR/secrets.key) is not the one the stored secrets \
         were sealed under: start with the key used before (every instance needs the same one)"
    )]
    OtherKey,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

const CHECK_ID: i64 = 1;
const CHECK_NAME: &str = "secrets key check";
const CHECK_VALUE: &str = "teamdeck";

/// Checks `sealer` against the check value the first server to start sealed into the
/// database (writing it when there is none yet): a server with another key would list the
/// secrets and could open none of them.
pub fn check_key(conn: &mut DbConnection, sealer: &Sealer) -> Result<(), KeyCheckError> {
    use crate::db::schema::secrets_key_check as check;
    for attempt in 0..2 {
        let stored: Option<Vec<u8>> = check::table.find(CHECK_ID).select(check::sealed).first(conn).optional()?;
        if let Some(stored) = stored {
            return match sealer.open(0, CHECK_NAME, &stored) {
                Some(value) if value == CHECK_VALUE => Ok(()),
                _ => Err(KeyCheckError::OtherKey),
            };
        }
        let sealed = sealer.seal_raw(0, CHECK_NAME, CHECK_VALUE);
        match diesel::insert_into(check::table)
            .values((check::id.eq(CHECK_ID), check::sealed.eq(&sealed)))
            .execute(conn)
        {
            Ok(_) => return Ok(()),
            // Another instance starting at the same time wrote it first: check against theirs.
            Err(e) if attempt == 0 && crate::db::is_unique_violation(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(KeyCheckError::OtherKey)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_environment_variables() {
        assert_eq!(SecretName::parse(" hf_token ").unwrap().as_str(), "HF_TOKEN");
        assert_eq!(SecretName::parse("_X1").unwrap().as_str(), "_X1");
        assert_eq!(SecretName::parse("  "), Err(SecretNameError::Empty));
        for bad in ["1ABC", "MY-KEY", "A B", "ÄPFEL", "A=B"] {
            assert_eq!(SecretName::parse(bad), Err(SecretNameError::NotAVariable), "{bad}");
        }
        assert_eq!(SecretName::parse(&"A".repeat(129)), Err(SecretNameError::TooLong));
        assert_eq!(SecretName::parse("teamdeck_key"), Err(SecretNameError::Reserved));
        assert!(SecretName::parse(&"A".repeat(128)).is_ok());
    }

    #[test]
    fn a_sealed_value_opens_only_for_its_team_and_name_under_its_key() {
        let sealer = Sealer::from_material(&[7; 32]);
        let name = SecretName::parse("HF_TOKEN").unwrap();
        let sealed = sealer.seal(42, &name, "hf_abc");
        assert!(!sealed.windows(6).any(|w| w == b"hf_abc"), "the value is not kept in the clear");
        assert_eq!(sealer.open(42, "HF_TOKEN", &sealed).as_deref(), Some("hf_abc"));
        assert_eq!(sealer.open(43, "HF_TOKEN", &sealed), None, "another team");
        assert_eq!(sealer.open(42, "OTHER", &sealed), None, "another name");
        assert_eq!(Sealer::from_material(&[8; 32]).open(42, "HF_TOKEN", &sealed), None, "another key");
        assert_eq!(sealer.open(42, "HF_TOKEN", &sealed[..5]), None, "cut short");
        assert_eq!(sealed[0], FORMAT, "the format byte first");
        let mut other_format = sealed.clone();
        other_format[0] = 2;
        assert_eq!(sealer.open(42, "HF_TOKEN", &other_format), None, "an unknown format");
        assert_ne!(sealer.seal(42, &name, "hf_abc"), sealed, "a fresh nonce each time");
    }

    #[test]
    fn values_are_checked() {
        assert!(check_value("x").is_ok());
        assert_eq!(check_value("").unwrap_err(), "Enter a value.");
        assert!(check_value("a\0b").unwrap_err().contains("NUL"));
        assert!(check_value(&"x".repeat(MAX_VALUE_BYTES)).is_ok());
        assert!(check_value(&"x".repeat(MAX_VALUE_BYTES + 1)).unwrap_err().contains("32 KiB"));
    }
}
