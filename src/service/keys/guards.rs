//! The guardrails checked every time a key is used: its expiry, a rotated secret's grace,
//! its address allowlist, and (at introspection, where the gateways meter usage) the key's
//! monthly spend cap and its team's hard monthly limit. Every check is answered from the key
//! and team rows already read (or kept in memory) for the call: no further query.

use super::{ApiKey, Found};
use crate::service::accounts::Account;

/// Why a credential may not be used now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Unknown,
    Revoked,
    Archived,
    Expired,
    /// The secret a rotation replaced, after its grace.
    Rotated,
    IpNotAllowed,
    KeySpendCap,
    TeamSpendLimit,
}

impl Refusal {
    /// The `reason` introspection answers.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Unknown => "unknown",
            Refusal::Revoked => "revoked",
            Refusal::Archived => "archived",
            Refusal::Expired => "expired",
            Refusal::Rotated => "key_rotated",
            Refusal::IpNotAllowed => "ip_not_allowed",
            Refusal::KeySpendCap => "key_spend_cap",
            Refusal::TeamSpendLimit => "team_spend_limit",
        }
    }

    /// The error `code` of Teamdeck's own API (`None`: the generic `unauthenticated`).
    pub fn api_code(self) -> Option<&'static str> {
        match self {
            Refusal::Expired => Some("key_expired"),
            Refusal::Rotated => Some("key_rotated"),
            Refusal::IpNotAllowed => Some("ip_not_allowed"),
            Refusal::KeySpendCap => Some("key_spend_cap"),
            Refusal::TeamSpendLimit => Some("team_spend_limit"),
            Refusal::Unknown | Refusal::Revoked | Refusal::Archived => None,
        }
    }

    /// In words, for the API's error message.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::Unknown | Refusal::Revoked | Refusal::Archived => {
                "This key is not valid: it is unknown, deleted, or its team is archived."
            }
            Refusal::Expired => "This key has expired. An admin of the team can create a new one.",
            Refusal::Rotated => "This key was rotated and its old secret no longer works. Use the new secret.",
            Refusal::IpNotAllowed => "This key may not be used from this address (see its address allowlist).",
            Refusal::KeySpendCap => "This key has reached its monthly spend cap.",
            Refusal::TeamSpendLimit => "The team has reached its hard monthly spend limit.",
        }
    }
}

/// Whether a found key may be used at `now` from `client`: revoked, archived, expired, an
/// old secret past its grace, or an address outside the allowlist are refused.
pub fn check(found: &Found, now: i64, client: Option<&str>) -> Result<(), Refusal> {
    check_key(&found.key, &found.account, found.old_secret, now, client)
}

/// [`check`] on the parts of a found key.
pub fn check_key(
    key: &ApiKey,
    account: &Account,
    old_secret: bool,
    now: i64,
    client: Option<&str>,
) -> Result<(), Refusal> {
    if key.revoked_at.is_some() {
        return Err(Refusal::Revoked);
    }
    if account.is_archived() {
        return Err(Refusal::Archived);
    }
    if key.expires_at.is_some_and(|at| at <= now) {
        return Err(Refusal::Expired);
    }
    if old_secret && key.previous_until.is_none_or(|until| until <= now) {
        return Err(Refusal::Rotated);
    }
    if !key.allowed_ips.allows(client) {
        return Err(Refusal::IpNotAllowed);
    }
    Ok(())
}

/// The spend limits, checked at introspection: the key's cap, then its team's hard limit.
pub fn check_spend(key: Option<&ApiKey>, account: &Account, now: i64) -> Result<(), Refusal> {
    if key.and_then(|k| k.spend_capped_until).is_some_and(|until| until > now) {
        return Err(Refusal::KeySpendCap);
    }
    if account.spend_blocked_until.is_some_and(|until| until > now) {
        return Err(Refusal::TeamSpendLimit);
    }
    Ok(())
}

/// The next time an answer about `found` changes by itself (its expiry, the end of an old
/// secret's grace), so a gateway is never told to reuse it past then.
pub fn next_change(key: &ApiKey, old_secret: bool) -> Option<i64> {
    let grace_end = if old_secret { key.previous_until } else { None };
    [key.expires_at, grace_end, key.spend_capped_until].into_iter().flatten().min()
}
