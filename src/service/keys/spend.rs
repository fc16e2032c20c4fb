//! Spend caps: a key's monthly cap and a team's hard monthly limit. Usage is always
//! accepted (the work was done); after a batch is recorded, in its transaction, a key whose
//! spend this calendar month reached its cap is flagged until the month's end
//! (`spend_capped_until`), and so is a team whose hard limit was reached
//! (`spend_blocked_until`). Introspection reads the flags from the rows it already has
//! (see `guards::check_spend`). The admins and billing members get one email per key at
//! 80 % and at 100 % of its cap each month.

use super::ApiKey;
use crate::db::DbConnection;
use crate::db::schema::{accounts, api_keys, billing_profiles, key_spend_alerts, memberships, usage_events, users};
use crate::domain::Role;
use crate::domain::money::{self, Month};
use crate::service::accounts::Account;
use crate::service::billing::ALERT_THRESHOLDS;
use crate::service::outbox;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

/// Spend of one key in `month`.
fn key_spent(conn: &mut DbConnection, key_id: i64, month: Month) -> QueryResult<i64> {
    usage_events::table
        .filter(usage_events::key_id.eq(key_id))
        .filter(usage_events::at.ge(month.start_ms()))
        .filter(usage_events::at.lt(month.end_ms()))
        .select(sql::<BigInt>("CAST(COALESCE(SUM(amount), 0) AS BIGINT)"))
        .first(conn)
}

/// After usage was recorded for `key_ids` and `account_ids` (inside the batch's
/// transaction): flags the keys whose cap, and the teams whose hard limit, this month's spend
/// reached, and queues the keys' 80 % / 100 % emails.
pub fn after_usage(
    conn: &mut DbConnection,
    key_ids: &[i64],
    account_ids: &[i64],
    now: i64,
    base_url: &str,
) -> QueryResult<SpendOutcome> {
    let mut outcome = SpendOutcome::default();
    let month = Month::of_ms(now);
    let capped: Vec<ApiKey> = api_keys::table
        .filter(api_keys::id.eq_any(key_ids))
        .filter(api_keys::spend_cap.is_not_null())
        .filter(api_keys::revoked_at.is_null())
        .select(ApiKey::as_select())
        .load(conn)?;
    for key in capped {
        let cap = key.spend_cap.unwrap_or_default().max(1);
        let spent = key_spent(conn, key.id, month)?;
        if spent >= cap && key.spend_capped_until.is_none_or(|until| until < month.end_ms()) {
            diesel::update(api_keys::table.find(key.id))
                .set(api_keys::spend_capped_until.eq(month.end_ms()))
                .execute(conn)?;
            outcome.flagged += 1;
        }
        outcome.emails += alert(conn, &key, spent, cap, month, now, base_url)?;
    }
    let hard: Vec<(i64, i64)> = billing_profiles::table
        .filter(billing_profiles::account_id.eq_any(account_ids))
        .filter(billing_profiles::hard_limit.eq(true))
        .filter(billing_profiles::monthly_limit.is_not_null())
        .select((billing_profiles::account_id, billing_profiles::monthly_limit.assume_not_null()))
        .load(conn)?;
    for (account_id, limit) in hard {
        let spent = crate::service::usage::total(conn, account_id, month.start_ms(), month.end_ms())?;
        if spent >= limit {
            outcome.flagged +=
                diesel::update(accounts::table.find(account_id).filter(
                    accounts::spend_blocked_until.is_null().or(accounts::spend_blocked_until.lt(month.end_ms())),
                ))
                .set(accounts::spend_blocked_until.eq(month.end_ms()))
                .execute(conn)?;
        }
    }
    Ok(outcome)
}

/// What [`after_usage`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpendOutcome {
    /// Emails queued.
    pub emails: usize,
    /// Keys and teams newly flagged (introspection answers about them changed).
    pub flagged: usize,
}

/// Re-reads a key's flag after its cap changed: cleared when this month's spend is under the
/// new cap (or there is none any more), set when it is not.
pub fn recheck_cap(conn: &mut DbConnection, key_id: i64, cap: Option<i64>, now: i64) -> QueryResult<()> {
    let month = Month::of_ms(now);
    let capped = match cap {
        Some(cap) => key_spent(conn, key_id, month)? >= cap,
        None => false,
    };
    diesel::update(api_keys::table.find(key_id))
        .set(api_keys::spend_capped_until.eq(capped.then_some(month.end_ms())))
        .execute(conn)?;
    Ok(())
}

/// Queues the email for the highest threshold `spent` crossed, once per key and month.
fn alert(
    conn: &mut DbConnection,
    key: &ApiKey,
    spent: i64,
    cap: i64,
    month: Month,
    now: i64,
    base_url: &str,
) -> QueryResult<usize> {
    let Some(&threshold) =
        ALERT_THRESHOLDS.iter().rev().find(|&&t| i128::from(spent) * 100 >= i128::from(cap) * i128::from(t))
    else {
        return Ok(0);
    };
    let already: i64 = key_spend_alerts::table
        .filter(key_spend_alerts::key_id.eq(key.id))
        .filter(key_spend_alerts::period.eq(month.to_string()))
        .filter(key_spend_alerts::threshold.ge(threshold))
        .count()
        .get_result(conn)?;
    if already > 0 {
        return Ok(0);
    }
    for t in ALERT_THRESHOLDS.iter().filter(|&&t| t <= threshold) {
        let exists: i64 = key_spend_alerts::table.find((key.id, month.to_string(), *t)).count().get_result(conn)?;
        if exists == 0 {
            diesel::insert_into(key_spend_alerts::table)
                .values((
                    key_spend_alerts::key_id.eq(key.id),
                    key_spend_alerts::period.eq(month.to_string()),
                    key_spend_alerts::threshold.eq(*t),
                    key_spend_alerts::sent_at.eq(now),
                ))
                .execute(conn)?;
        }
    }
    let account: Account = accounts::table.find(key.account_id).select(Account::as_select()).first(conn)?;
    let composed = super::emails::cap_alert(&super::emails::CapAlert {
        team: &account.name,
        key: &key.name,
        percent: threshold,
        spent: &money::usd(spent),
        cap: &money::usd(cap),
        month: &month.label(),
        link: &format!("{base_url}/a/{}/keys", account.slug),
    })
    .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    let to = admins_and_billing(conn, key.account_id)?;
    outbox::enqueue_to_each(conn, to, &composed)
}

/// The addresses of a team's admins and billing members.
pub fn admins_and_billing(conn: &mut DbConnection, account_id: i64) -> QueryResult<Vec<String>> {
    memberships::table
        .inner_join(users::table)
        .filter(memberships::account_id.eq(account_id))
        .filter(memberships::role.eq_any([Role::Admin, Role::Billing]))
        .select(users::email)
        .load(conn)
}

/// Replaces a key's limits (its monthly cap and address allowlist); a cap raised above this
/// month's spend lifts the key's flag at once, a cap lowered below it sets it.
pub fn set_limits(
    conn: &mut DbConnection,
    account_id: i64,
    actor: &crate::service::audit::Actor,
    key_id: i64,
    cap: Option<i64>,
    allowed_ips: &crate::domain::Allowlist,
) -> Result<crate::service::Committed<ApiKey>, super::KeyError> {
    use crate::service::audit::{self, Action};
    if cap.is_some_and(|c| c <= 0) {
        return Err(super::KeyError::Invalid("A spend cap must be more than $0.".into()));
    }
    let key = crate::db::write_transaction(conn, |conn| {
        let found: Option<ApiKey> = api_keys::table
            .filter(api_keys::id.eq(key_id))
            .filter(api_keys::account_id.eq(account_id))
            .filter(api_keys::revoked_at.is_null())
            .select(ApiKey::as_select())
            .first(conn)
            .optional()?;
        let key = found.ok_or(super::KeyError::NotFound)?;
        diesel::update(api_keys::table.find(key.id))
            .set((api_keys::spend_cap.eq(cap), api_keys::allowed_ips.eq(allowed_ips)))
            .execute(conn)?;
        recheck_cap(conn, key.id, cap, crate::domain::now_ms())?;
        let detail = format!(
            "cap {} · addresses {}",
            cap.map(money::usd).unwrap_or_else(|| "none".into()),
            if allowed_ips.is_empty() { "any".to_owned() } else { allowed_ips.to_string() }
        );
        audit::record(conn, account_id, actor, Action::KeyChanged, &key.name, &detail)?;
        Ok::<_, super::KeyError>(key.id)
    })?;
    let key: ApiKey = api_keys::table.find(key).select(ApiKey::as_select()).first(conn)?;
    Ok(crate::service::Committed::new(key, [crate::service::Change::KeyChanged { account_id }]))
}
