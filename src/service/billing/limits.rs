//! The monthly spend limit: warning-only by default, or hard (the team's keys and login
//! tokens stop at introspection once the month's spend reaches it), and its 80 % / 100 %
//! alerts, sent once per month and threshold.

use super::{BillingError, ensure_writable, profile, store_profile};
use crate::db::schema::{accounts, billing_profiles, memberships, spend_alerts, users};
use crate::db::{DbConnection, write_transaction};
use crate::domain::money::{self, Month};
use crate::domain::{Role, now_ms};
use crate::service::accounts::Account;
use crate::service::audit::{self, Action, Actor};
use crate::service::{outbox, usage};
use diesel::prelude::*;

pub const ALERT_THRESHOLDS: [i32; 2] = [80, 100];

/// Sets (or with `None` removes) the monthly spend limit.
pub fn set_limit(
    conn: &mut DbConnection,
    account: &Account,
    actor: &Actor,
    limit: Option<i64>,
) -> Result<(), BillingError> {
    write_transaction(conn, |conn| {
        ensure_writable(conn, account.id)?;
        let mut p = profile(conn, account.id)?;
        let old = p.monthly_limit;
        p.monthly_limit = limit;
        store_profile(conn, account.id, &p)?;
        // A hard limit raised (or removed) lifts the team's flag; one lowered under this
        // month's spend sets it.
        let hard = p.hard_limit;
        let month = Month::of_ms(now_ms());
        let spent = usage::total(conn, account.id, month.start_ms(), month.end_ms())?;
        let blocked = hard && limit.is_some_and(|l| spent >= l);
        diesel::update(accounts::table.find(account.id))
            .set(accounts::spend_blocked_until.eq(blocked.then_some(month.end_ms())))
            .execute(conn)?;
        let show = |l: Option<i64>| l.map(money::usd).unwrap_or_else(|| "none".into());
        audit::record(
            conn,
            account.id,
            actor,
            Action::SpendLimitChanged,
            &account.name,
            &format!("{} → {}", show(old), show(limit)),
        )?;
        Ok(())
    })
}

/// Makes the monthly limit hard (every key and login token of the team is refused at
/// introspection once this month's spend reaches it) or warning-only (the default). The
/// team's flag is re-read at once: set when the month's spend is already over a hard limit,
/// cleared otherwise.
pub fn set_hard_limit(
    conn: &mut DbConnection,
    account: &Account,
    actor: &Actor,
    hard: bool,
) -> Result<crate::service::Committed<()>, BillingError> {
    write_transaction(conn, |conn| {
        ensure_writable(conn, account.id)?;
        let p = profile(conn, account.id)?;
        store_profile(conn, account.id, &p)?;
        diesel::update(billing_profiles::table.find(account.id))
            .set(billing_profiles::hard_limit.eq(hard))
            .execute(conn)?;
        let month = Month::of_ms(now_ms());
        let blocked = hard
            && p.monthly_limit.is_some_and(|limit| {
                usage::total(conn, account.id, month.start_ms(), month.end_ms()).is_ok_and(|s| s >= limit)
            });
        diesel::update(accounts::table.find(account.id))
            .set(accounts::spend_blocked_until.eq(blocked.then_some(month.end_ms())))
            .execute(conn)?;
        let mode = if hard { "hard: calls stop at the limit" } else { "warning only" };
        audit::record(conn, account.id, actor, Action::SpendLimitChanged, &account.name, mode)?;
        Ok::<_, BillingError>(())
    })?;
    Ok(crate::service::Committed::new((), [crate::service::Change::Account { account_id: account.id }]))
}

/// After usage was recorded for `account_ids`: queues one email per threshold (80 %, 100 %
/// of the monthly limit) the month's spend crossed, to admins, billing members and the
/// billing email. Returns how many teams got an alert.
pub fn queue_spend_alerts(
    conn: &mut DbConnection,
    account_ids: &[i64],
    now: i64,
    base_url: &str,
) -> QueryResult<usize> {
    let limits: Vec<(i64, i64)> = billing_profiles::table
        .filter(billing_profiles::account_id.eq_any(account_ids))
        .filter(billing_profiles::monthly_limit.is_not_null())
        .select((billing_profiles::account_id, billing_profiles::monthly_limit.assume_not_null()))
        .load(conn)?;
    let month = Month::of_ms(now);
    let mut alerted = 0;
    for (account_id, limit) in limits {
        if limit <= 0 {
            continue;
        }
        let spent = usage::total(conn, account_id, month.start_ms(), month.end_ms())?;
        let Some(&threshold) =
            ALERT_THRESHOLDS.iter().rev().find(|&&t| i128::from(spent) * 100 >= i128::from(limit) * i128::from(t))
        else {
            continue;
        };
        let already: i64 = spend_alerts::table
            .filter(spend_alerts::account_id.eq(account_id))
            .filter(spend_alerts::period.eq(month.to_string()))
            .filter(spend_alerts::threshold.ge(threshold))
            .count()
            .get_result(conn)?;
        if already > 0 {
            continue;
        }
        for t in ALERT_THRESHOLDS.iter().filter(|&&t| t <= threshold) {
            let exists: i64 = spend_alerts::table.find((account_id, month.to_string(), *t)).count().get_result(conn)?;
            if exists == 0 {
                diesel::insert_into(spend_alerts::table)
                    .values((
                        spend_alerts::account_id.eq(account_id),
                        spend_alerts::period.eq(month.to_string()),
                        spend_alerts::threshold.eq(*t),
                        spend_alerts::sent_at.eq(now),
                    ))
                    .execute(conn)?;
            }
        }
        let account: Account = accounts::table.find(account_id).select(Account::as_select()).first(conn)?;
        let billing_email = profile(conn, account_id)?.billing_email;
        let mut to: Vec<String> = memberships::table
            .inner_join(users::table)
            .filter(memberships::account_id.eq(account_id))
            .filter(memberships::role.eq_any([Role::Admin, Role::Billing]))
            .select(users::email)
            .load(conn)?;
        if !billing_email.is_empty() && !to.iter().any(|e| e.eq_ignore_ascii_case(&billing_email)) {
            to.push(billing_email);
        }
        let composed = crate::service::emails::spend_alert(&crate::service::emails::SpendAlertEmail {
            team: &account.name,
            personal: account.is_personal(),
            percent: threshold,
            spent: &money::usd(spent),
            limit: &money::usd(limit),
            month: &month.label(),
            link: &format!("{base_url}/a/{}/usage", account.slug),
        })
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
        outbox::enqueue_to_each(conn, to, &composed)?;
        alerted += 1;
    }
    Ok(alerted)
}
