//! Ingesting the gateways' usage batches: each event checked on its own, then against the
//! database in one transaction per batch (ids unique per team, a team's totals kept under
//! 64 bits), with one ledger debit per team and batch.

use crate::db::schema::{accounts, api_keys, invoices, ledger_entries, memberships, usage_events};
use crate::db::{DbConnection, is_unique_violation, write_transaction};
use crate::domain::money::Month;
use crate::domain::{LedgerKind, new_id, now_ms};
use crate::service::billing;
use diesel::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Events one batch may carry.
pub const MAX_BATCH: usize = 1000;
/// How far ahead of this server's clock an event may be stamped.
const FUTURE_SLACK_MS: i64 = 5 * 60 * 1000;
const MAX_QUANTITY: i64 = 1_000_000_000_000;
const MAX_UNIT_PRICE: i64 = 1_000_000_000;
/// One event may cost at most $1,000,000: a batch's sum, and a team's sums for centuries,
/// stay far from the limits of a 64-bit integer.
const MAX_AMOUNT: i64 = 1_000_000_000_000;

/// One event as a gateway sends it (already decoded from JSON).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct EventIn {
    pub id: String,
    /// The account's slug.
    pub account: String,
    /// The team key's id (for a call made with a key).
    #[serde(default)]
    pub key: Option<String>,
    /// The member's user id (for a call made with a login token).
    #[serde(default)]
    pub user: Option<String>,
    pub product: String,
    pub quantity: i64,
    pub unit: String,
    /// Micro-dollars per unit.
    pub unit_price: i64,
    /// RFC 3339.
    pub at: String,
    /// The name of the team's app that used it, when an app did.
    #[serde(default)]
    pub app: Option<String>,
}

/// One event the batch could not keep, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub index: usize,
    pub id: Option<String>,
    pub reason: String,
}

/// What happened to a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// New events recorded.
    pub accepted: usize,
    /// Events already recorded (same id in the same team, same content): nothing changed for
    /// them.
    pub duplicates: usize,
    pub rejected: Vec<Rejected>,
    /// Teams whose spend crossed an alert threshold (an email is queued).
    pub alerts_queued: usize,
    /// Keys and teams whose spend cap or hard limit the batch reached.
    pub capped: usize,
}

/// An event that passed its own checks, not yet those against the database.
struct Checked<'a> {
    index: usize,
    event: &'a EventIn,
    key_id: Option<i64>,
    user_id: Option<i64>,
    at: i64,
    amount: i64,
}

/// Records a batch: new events are kept, re-sent ones counted as duplicates, bad ones
/// rejected with their index and reason (the good ones of the batch are still kept). An id
/// already recorded for the team with different content is rejected as a conflict; an
/// event that would carry the team's total past 64 bits is rejected.
/// `events` holds each event decoded, or the reason it could not be.
pub fn ingest(
    conn: &mut DbConnection,
    events: &[Result<EventIn, String>],
    base_url: &str,
) -> QueryResult<IngestReport> {
    let now = now_ms();
    let mut report = IngestReport::default();
    let mut checked = Vec::new();
    for (index, event) in events.iter().enumerate() {
        match event.as_ref().map_err(Clone::clone).and_then(|e| check(e, now).map(|c| (e, c))) {
            Ok((event, (key_id, user_id, at, amount))) => {
                checked.push(Checked { index, event, key_id, user_id, at, amount })
            }
            Err(reason) => {
                report.rejected.push(Rejected { index, id: event.as_ref().ok().map(|e| e.id.clone()), reason })
            }
        }
    }
    // A concurrent batch on PostgreSQL may record one of these ids first: that aborts this
    // transaction, and the retry sees it as a duplicate.
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut this_try = report.clone();
        match write_transaction(conn, |conn| record(conn, &checked, now, base_url, &mut this_try)) {
            Ok(()) => {
                this_try.rejected.sort_by_key(|r| r.index);
                return Ok(this_try);
            }
            Err(e) if attempt < 3 && is_unique_violation(&e) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The earliest time an event may have: the start of the month before last. The month-close
/// job looks back further than that, so every accepted event ends up on an invoice.
pub fn oldest_accepted(now: i64) -> i64 {
    Month::of_ms(now).previous().previous().start_ms()
}

/// The checks an event passes on its own: ids, names, numbers, time.
fn check(e: &EventIn, now: i64) -> Result<(Option<i64>, Option<i64>, i64, i64), String> {
    let id = e.id.trim();
    if id.is_empty() || id.len() > 128 || id.chars().any(char::is_control) {
        return Err("`id` must be 1 to 128 printable characters".into());
    }
    if e.account.trim().is_empty() {
        return Err("`account` (the team's slug) is missing".into());
    }
    let parse_id = |field: &str, v: &str| v.trim().parse::<i64>().map_err(|_| format!("`{field}` is not an id: {v:?}"));
    let (key_id, user_id) = match (&e.key, &e.user) {
        (Some(k), None) => (Some(parse_id("key", k)?), None),
        (None, Some(u)) => (None, Some(parse_id("user", u)?)),
        _ => return Err("name exactly one of `key` (a team key's id) or `user` (a member's id)".into()),
    };
    for (field, value, max) in [("product", &e.product, 100), ("unit", &e.unit, 32)] {
        if value.trim().is_empty() || value.len() > max || value.chars().any(char::is_control) {
            return Err(format!("`{field}` must be 1 to {max} printable characters"));
        }
    }
    if !(0..=MAX_QUANTITY).contains(&e.quantity) {
        return Err(format!("`quantity` must be between 0 and {MAX_QUANTITY}"));
    }
    if !(0..=MAX_UNIT_PRICE).contains(&e.unit_price) {
        return Err(format!("`unit_price` (micro-dollars) must be between 0 and {MAX_UNIT_PRICE}"));
    }
    let amount = e
        .quantity
        .checked_mul(e.unit_price)
        .filter(|a| *a <= MAX_AMOUNT)
        .ok_or("the event's cost (quantity × unit_price) is over $1,000,000")?;
    let at = time::OffsetDateTime::parse(e.at.trim(), &time::format_description::well_known::Rfc3339)
        .map_err(|_| "`at` must be an RFC 3339 time, such as 2026-11-27T10:00:00Z".to_owned())?;
    let at = (at.unix_timestamp_nanos() / 1_000_000) as i64;
    if at > now + FUTURE_SLACK_MS {
        return Err("`at` is in the future".into());
    }
    if at < oldest_accepted(now) {
        return Err("`at` is too old: usage is taken for this month and the two before it".into());
    }
    Ok((key_id, user_id, at, amount))
}

fn record(
    conn: &mut DbConnection,
    checked: &[Checked<'_>],
    now: i64,
    base_url: &str,
    report: &mut IngestReport,
) -> QueryResult<()> {
    let slugs: Vec<&str> = checked.iter().map(|c| c.event.account.trim()).collect::<HashSet<_>>().into_iter().collect();
    let query = accounts::table
        .filter(accounts::slug.eq_any(&slugs))
        .select((accounts::id, accounts::slug, accounts::archived_at, accounts::usage_amount, accounts::usage_quantity))
        .order(accounts::id);
    // PostgreSQL: the lock (taken in id order, so two batches never wait for each other)
    // makes a month close of these accounts (which locks its account for update) wait for
    // this batch, or this batch wait for it and then see its invoice below, and keeps the
    // team's usage totals this batch moves. SQLite's write lock already does.
    let found: Vec<(i64, String, Option<i64>, i64, i64)> = match conn {
        DbConnection::Postgres(pg) => query.for_update().load(pg)?,
        DbConnection::Sqlite(_) => query.load(conn)?,
    };
    let mut totals: HashMap<i64, Totals> = found
        .iter()
        .map(|(id, _, _, amount, quantity)| (*id, Totals { amount: *amount, quantity: *quantity }))
        .collect();
    let by_slug: HashMap<String, (i64, bool)> =
        found.into_iter().map(|(id, slug, a, _, _)| (slug, (id, a.is_some()))).collect();
    let account_ids: Vec<i64> = by_slug.values().map(|(id, _)| *id).collect();

    let key_ids: Vec<i64> = checked.iter().filter_map(|c| c.key_id).collect();
    let keys: HashMap<i64, i64> = api_keys::table
        .filter(api_keys::id.eq_any(&key_ids))
        .select((api_keys::id, api_keys::account_id))
        .load::<(i64, i64)>(conn)?
        .into_iter()
        .collect();
    let user_ids: Vec<i64> = checked.iter().filter_map(|c| c.user_id).collect();
    let members: HashSet<(i64, i64)> = memberships::table
        .filter(memberships::user_id.eq_any(&user_ids))
        .filter(memberships::account_id.eq_any(&account_ids))
        .select((memberships::account_id, memberships::user_id))
        .load::<(i64, i64)>(conn)?
        .into_iter()
        .collect();
    let app_names: Vec<&str> = checked.iter().filter_map(|c| c.event.app.as_deref()).map(str::trim).collect();
    let apps: HashSet<(i64, String)> = if app_names.is_empty() {
        HashSet::new()
    } else {
        crate::db::schema::apps::table
            .filter(crate::db::schema::apps::account_id.eq_any(&account_ids))
            .filter(crate::db::schema::apps::name.eq_any(&app_names))
            .select((crate::db::schema::apps::account_id, crate::db::schema::apps::name))
            .load::<(i64, String)>(conn)?
            .into_iter()
            .collect()
    };
    let ids: Vec<&str> = checked.iter().map(|c| c.event.id.trim()).collect();
    // Ids are the gateway's and unique within a team: another team's event of the same id is
    // another event.
    let mut seen: HashMap<(i64, String), Recorded> = usage_events::table
        .filter(usage_events::id.eq_any(&ids))
        .filter(usage_events::account_id.eq_any(&account_ids))
        .select((usage_events::account_id, usage_events::id, Recorded::as_select()))
        .load::<(i64, String, Recorded)>(conn)?
        .into_iter()
        .map(|(account_id, id, recorded)| ((account_id, id), recorded))
        .collect();
    let invoiced: HashSet<(i64, String)> = invoices::table
        .filter(invoices::account_id.eq_any(&account_ids))
        .filter(invoices::period.is_not_null())
        .select((invoices::account_id, invoices::period.assume_not_null()))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();

    let mut spent: BTreeMap<i64, (i64, usize)> = BTreeMap::new();
    for c in checked {
        let reject =
            |reason: &str| Rejected { index: c.index, id: Some(c.event.id.clone()), reason: reason.to_owned() };
        let id = c.event.id.trim();
        let Some(&(account_id, archived)) = by_slug.get(c.event.account.trim()) else {
            report.rejected.push(reject("no account has this slug"));
            continue;
        };
        if let Some(recorded) = seen.get(&(account_id, id.to_owned())) {
            if *recorded == Recorded::of(c) {
                report.duplicates += 1;
            } else {
                report.rejected.push(reject("conflict: an event with this id was recorded with different content"));
            }
            continue;
        }
        if archived {
            report.rejected.push(reject("the team is archived: it takes no usage"));
            continue;
        }
        if let Some(key_id) = c.key_id
            && keys.get(&key_id) != Some(&account_id)
        {
            report.rejected.push(reject("`key` is not a key of this account"));
            continue;
        }
        if let Some(user_id) = c.user_id
            && !members.contains(&(account_id, user_id))
        {
            report.rejected.push(reject("`user` is not a member of this account"));
            continue;
        }
        let app = c.event.app.as_deref().map(str::trim);
        if let Some(app) = app
            && !apps.contains(&(account_id, app.to_owned()))
        {
            report.rejected.push(reject("`app` is not an app of this account"));
            continue;
        }
        if invoiced.contains(&(account_id, Month::of_ms(c.at).to_string())) {
            report.rejected.push(reject("that month is closed and invoiced"));
            continue;
        }
        let team = totals.entry(account_id).or_default();
        let Some(after) = team.plus(c.amount, c.event.quantity) else {
            report.rejected.push(reject("the team's total usage would pass the largest amount this server can count"));
            continue;
        };
        *team = after;
        diesel::insert_into(usage_events::table)
            .values((
                usage_events::id.eq(id),
                usage_events::account_id.eq(account_id),
                usage_events::user_id.eq(c.user_id),
                usage_events::key_id.eq(c.key_id),
                usage_events::product.eq(c.event.product.trim()),
                usage_events::quantity.eq(c.event.quantity),
                usage_events::unit.eq(c.event.unit.trim()),
                usage_events::unit_price.eq(c.event.unit_price),
                usage_events::amount.eq(c.amount),
                usage_events::at.eq(c.at),
                usage_events::received_at.eq(now),
                usage_events::app.eq(app),
            ))
            .execute(conn)?;
        seen.insert((account_id, id.to_owned()), Recorded::of(c));
        report.accepted += 1;
        let entry = spent.entry(account_id).or_default();
        entry.0 += c.amount;
        entry.1 += 1;
    }
    for (&account_id, &(amount, count)) in &spent {
        diesel::insert_into(ledger_entries::table)
            .values((
                ledger_entries::id.eq(new_id()),
                ledger_entries::account_id.eq(account_id),
                ledger_entries::kind.eq(LedgerKind::Usage),
                ledger_entries::amount.eq(-amount),
                ledger_entries::description
                    .eq(format!("Usage: {count} {}", if count == 1 { "event" } else { "events" })),
                ledger_entries::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    for &account_id in spent.keys() {
        let team = totals[&account_id];
        diesel::update(accounts::table.find(account_id))
            .set((accounts::usage_amount.eq(team.amount), accounts::usage_quantity.eq(team.quantity)))
            .execute(conn)?;
    }
    let touched: Vec<i64> = spent.keys().copied().collect();
    report.alerts_queued = billing::queue_spend_alerts(conn, &touched, now, base_url)?;
    let mut keys_used: Vec<i64> = checked.iter().filter_map(|c| c.key_id).collect();
    keys_used.sort_unstable();
    keys_used.dedup();
    let outcome = crate::service::keys::spend::after_usage(conn, &keys_used, &touched, now, base_url)?;
    report.alerts_queued += outcome.emails;
    report.capped += outcome.flagged;
    Ok(())
}

/// A team's usage so far (`accounts.usage_amount`, `usage_quantity`): no event may carry it
/// past `i64::MAX`, so every sum of its events, in SQL or here, fits in 64 bits.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    amount: i64,
    quantity: i64,
}

impl Totals {
    fn plus(self, amount: i64, quantity: i64) -> Option<Totals> {
        Some(Totals { amount: self.amount.checked_add(amount)?, quantity: self.quantity.checked_add(quantity)? })
    }
}

/// What a recorded event says, to tell a re-sent event (a duplicate) from another event
/// under the same id (a conflict).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = usage_events)]
struct Recorded {
    user_id: Option<i64>,
    key_id: Option<i64>,
    product: String,
    quantity: i64,
    unit: String,
    unit_price: i64,
    at: i64,
}

impl Recorded {
    fn of(c: &Checked<'_>) -> Self {
        Recorded {
            user_id: c.user_id,
            key_id: c.key_id,
            product: c.event.product.trim().to_owned(),
            quantity: c.event.quantity,
            unit: c.event.unit.trim().to_owned(),
            unit_price: c.event.unit_price,
            at: c.at,
        }
    }
}
