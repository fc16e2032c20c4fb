//! What a credential is worth right now, for the platform's gateways (`POST
//! /api/v1/introspect`): a team key, or a member's login token acting for one of their
//! accounts.

use crate::db::DbConnection;
use crate::db::schema::{accounts, memberships};
use crate::domain::secret::{KEY_PREFIX, TOKEN_PREFIX};
use crate::domain::{KeyScope, Role};
use crate::service::accounts::{Account, AccountMembership};
use crate::service::keys::guards::{self, Refusal};
use crate::service::keys::{self, ApiKey, Found};
use crate::service::tokens;
use crate::service::users::User;
use diesel::prelude::*;

/// The answer to "who is this credential, may it be used now".
#[derive(Debug, Clone)]
pub enum Introspection {
    Active(Box<Grant>),
    /// Why not, in words a gateway can log: `unknown`, `revoked`, `archived`, `not_a_member`,
    /// `expired`, `key_rotated`, `ip_not_allowed`, `key_spend_cap`, `team_spend_limit`.
    Inactive(&'static str),
}

#[derive(Debug, Clone)]
pub struct Grant {
    pub account: Account,
    /// The member behind a login token.
    pub user: Option<User>,
    /// Their role in the account (login token).
    pub role: Option<Role>,
    /// The team key used.
    pub key: Option<ApiKey>,
    /// The scope of the key.
    pub scope: Option<KeyScope>,
    /// The key's secret presented is the one a rotation replaced.
    pub old_secret: bool,
}

impl Grant {
    /// The guardrails that depend on the time and the caller (checked on every call, kept
    /// answer or not): `Ok` with the next time the answer changes by itself, if any.
    pub fn check(&self, now: i64, client: Option<&str>) -> Result<Option<i64>, Refusal> {
        if let Some(key) = &self.key {
            guards::check_key(key, &self.account, self.old_secret, now, client)?;
        }
        guards::check_spend(self.key.as_ref(), &self.account, now)?;
        Ok(self.key.as_ref().and_then(|k| guards::next_change(k, self.old_secret)).filter(|at| *at > now))
    }
}

/// Checks `credential` — an `Authorization` header value (`Key …` or `Bearer …`) or a bare
/// secret — against the database. `team` names the team a login token acts for (its
/// `X-Teamdeck-Team`); without it a login token acts for the member's personal account.
pub fn introspect(conn: &mut DbConnection, credential: &str, team: Option<&str>) -> QueryResult<Introspection> {
    let presented = credential.trim();
    let presented =
        presented.strip_prefix("Key ").or_else(|| presented.strip_prefix("Bearer ")).unwrap_or(presented).trim();
    if presented.starts_with(KEY_PREFIX) {
        key(conn, presented)
    } else if presented.starts_with(TOKEN_PREFIX) {
        login_token(conn, presented, team)
    } else {
        Ok(Introspection::Inactive("unknown"))
    }
}

fn key(conn: &mut DbConnection, presented: &str) -> QueryResult<Introspection> {
    Ok(match keys::lookup(conn, presented)? {
        None => Introspection::Inactive("unknown"),
        Some(found) if found.key.revoked_at.is_some() => Introspection::Inactive("revoked"),
        Some(found) if found.account.is_archived() => Introspection::Inactive("archived"),
        // The guardrails that depend on time and address are checked by the caller, after
        // its cache ([`Grant::check`]).
        Some(Found { key, account, old_secret }) => {
            let scope = Some(key.scope);
            Introspection::Active(Box::new(Grant {
                account,
                user: None,
                role: None,
                key: Some(key),
                scope,
                old_secret,
            }))
        }
    })
}

fn login_token(conn: &mut DbConnection, presented: &str, team: Option<&str>) -> QueryResult<Introspection> {
    let Some((_, user)) = tokens::verify(conn, presented)? else {
        return Ok(Introspection::Inactive("unknown"));
    };
    let mut query = accounts::table
        .inner_join(memberships::table)
        .filter(memberships::user_id.eq(user.id))
        .select((Account::as_select(), memberships::role))
        .into_boxed();
    query = match team {
        Some(slug) => query.filter(accounts::slug.eq(slug.to_owned())),
        None => query.filter(accounts::personal_owner_id.eq(user.id)),
    };
    let found: Option<AccountMembership> = query.first(conn).optional()?;
    Ok(match found {
        None => Introspection::Inactive("not_a_member"),
        Some(AccountMembership { account, .. }) if account.is_archived() => Introspection::Inactive("archived"),
        Some(AccountMembership { account, role }) => Introspection::Active(Box::new(Grant {
            account,
            user: Some(user),
            role: Some(role),
            key: None,
            scope: None,
            old_secret: false,
        })),
    })
}
