//! Metered usage reported by the platform's gateways: ingested in idempotent batches, and
//! read back by day, product and member/key for the usage page, its CSV and the requests page.
//!
//! Each accepted batch also writes one usage debit per team to the credit ledger, in the
//! same transaction as its events, so the balance always equals purchases − usage.

use super::billing;
use crate::db::schema::{accounts, api_keys, invoices, ledger_entries, memberships, usage_events, users};
use crate::db::{DbConnection, is_unique_violation, write_transaction};
use crate::domain::money::Month;
use crate::domain::{LedgerKind, new_id, now_ms};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable};
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
    /// Events already recorded (by id): nothing changed for them.
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
/// rejected with their index and reason (the good ones of the batch are still kept).
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
    let query = accounts::table.filter(accounts::slug.eq_any(&slugs)).select((
        accounts::id,
        accounts::slug,
        accounts::archived_at,
    ));
    // PostgreSQL: the share lock makes a month close of these accounts (which locks its
    // account for update) wait for this batch, or this batch wait for it and then see its
    // invoice below. SQLite's write lock already does.
    let found: Vec<(i64, String, Option<i64>)> = match conn {
        DbConnection::Postgres(pg) => query.for_share().load(pg)?,
        DbConnection::Sqlite(_) => query.load(conn)?,
    };
    let by_slug: HashMap<String, (i64, bool)> =
        found.into_iter().map(|(id, slug, a)| (slug, (id, a.is_some()))).collect();
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
    let ids: Vec<&str> = checked.iter().map(|c| c.event.id.trim()).collect();
    let mut seen: HashSet<String> = usage_events::table
        .filter(usage_events::id.eq_any(&ids))
        .select(usage_events::id)
        .load(conn)?
        .into_iter()
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
        if seen.contains(id) {
            report.duplicates += 1;
            continue;
        }
        let Some(&(account_id, archived)) = by_slug.get(c.event.account.trim()) else {
            report.rejected.push(reject("no account has this slug"));
            continue;
        };
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
        if invoiced.contains(&(account_id, Month::of_ms(c.at).to_string())) {
            report.rejected.push(reject("that month is closed and invoiced"));
            continue;
        }
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
            ))
            .execute(conn)?;
        seen.insert(id.to_owned());
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
    let touched: Vec<i64> = spent.keys().copied().collect();
    report.alerts_queued = billing::queue_spend_alerts(conn, &touched, now, base_url)?;
    let mut keys_used: Vec<i64> = checked.iter().filter_map(|c| c.key_id).collect();
    keys_used.sort_unstable();
    keys_used.dedup();
    let outcome = super::keys::spend::after_usage(conn, &keys_used, &touched, now, base_url)?;
    report.alerts_queued += outcome.emails;
    report.capped += outcome.flagged;
    Ok(())
}

/// Whom spend is attributed to: a member (login token), a team key, or neither any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Who {
    Member(i64),
    Key(i64),
    Unknown,
}

impl Who {
    fn of(user_id: Option<i64>, key_id: Option<i64>) -> Self {
        match (user_id, key_id) {
            (Some(u), _) => Who::Member(u),
            (None, Some(k)) => Who::Key(k),
            (None, None) => Who::Unknown,
        }
    }
}

/// Display names of members and keys: "Alice Smith", "team key ci-deploy".
#[derive(Debug, Default)]
pub struct Names {
    users: HashMap<i64, String>,
    keys: HashMap<i64, String>,
}

impl Names {
    pub fn load(conn: &mut DbConnection, who: impl IntoIterator<Item = Who>) -> QueryResult<Self> {
        let (mut user_ids, mut key_ids) = (Vec::new(), Vec::new());
        for w in who {
            match w {
                Who::Member(u) => user_ids.push(u),
                Who::Key(k) => key_ids.push(k),
                Who::Unknown => {}
            }
        }
        let users = users::table
            .filter(users::id.eq_any(&user_ids))
            .select((users::id, users::name))
            .load::<(i64, String)>(conn)?
            .into_iter()
            .collect();
        let keys = api_keys::table
            .filter(api_keys::id.eq_any(&key_ids))
            .select((api_keys::id, api_keys::name))
            .load::<(i64, String)>(conn)?
            .into_iter()
            .collect();
        Ok(Names { users, keys })
    }

    pub fn of(&self, who: Who) -> String {
        match who {
            Who::Member(u) => self.users.get(&u).cloned().unwrap_or_else(|| "a former member".into()),
            Who::Key(k) => format!("team key {}", self.keys.get(&k).map(String::as_str).unwrap_or("(deleted)")),
            Who::Unknown => "a deleted member or key".into(),
        }
    }
}

/// Spend of one member or key on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailySpend {
    /// Days since the epoch (UTC).
    pub day: i64,
    pub who: Who,
    pub amount: i64,
}

const DAY_MS: i64 = 24 * 3600 * 1000;

/// Spend per day and member/key in `[from_ms, to_ms)`.
pub fn daily(conn: &mut DbConnection, account_id: i64, from_ms: i64, to_ms: i64) -> QueryResult<Vec<DailySpend>> {
    let rows: Vec<(i64, Option<i64>, Option<i64>, i64)> = usage_events::table
        .filter(usage_events::account_id.eq(account_id))
        .filter(usage_events::at.ge(from_ms))
        .filter(usage_events::at.lt(to_ms))
        .group_by(sql::<BigInt>(&format!("at / {DAY_MS}, user_id, key_id")))
        .select(sql::<(BigInt, Nullable<BigInt>, Nullable<BigInt>, BigInt)>(&format!(
            "at / {DAY_MS}, user_id, key_id, CAST(SUM(amount) AS BIGINT)"
        )))
        .load(conn)?;
    Ok(rows.into_iter().map(|(day, u, k, amount)| DailySpend { day, who: Who::of(u, k), amount }).collect())
}

/// Spend of one member or key on one product over a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breakdown {
    pub product: String,
    pub unit: String,
    pub who: Who,
    pub quantity: i64,
    pub amount: i64,
    pub events: i64,
}

/// Spend by product and member/key in `[from_ms, to_ms)`, largest first.
pub fn breakdown(conn: &mut DbConnection, account_id: i64, from_ms: i64, to_ms: i64) -> QueryResult<Vec<Breakdown>> {
    type Row = (String, String, Option<i64>, Option<i64>, i64, i64, i64);
    let rows: Vec<Row> = usage_events::table
        .filter(usage_events::account_id.eq(account_id))
        .filter(usage_events::at.ge(from_ms))
        .filter(usage_events::at.lt(to_ms))
        .group_by((usage_events::product, usage_events::unit, usage_events::user_id, usage_events::key_id))
        .select((
            usage_events::product,
            usage_events::unit,
            usage_events::user_id,
            usage_events::key_id,
            sql::<BigInt>("CAST(SUM(quantity) AS BIGINT)"),
            sql::<BigInt>("CAST(SUM(amount) AS BIGINT)"),
            sql::<BigInt>("CAST(COUNT(*) AS BIGINT)"),
        ))
        .load(conn)?;
    let mut list: Vec<Breakdown> = rows
        .into_iter()
        .map(|(product, unit, u, k, quantity, amount, events)| Breakdown {
            product,
            unit,
            who: Who::of(u, k),
            quantity,
            amount,
            events,
        })
        .collect();
    list.sort_by(|a, b| b.amount.cmp(&a.amount).then_with(|| a.product.cmp(&b.product)).then(a.who.cmp(&b.who)));
    Ok(list)
}

/// Spend of the account in `[from_ms, to_ms)`.
pub fn total(conn: &mut DbConnection, account_id: i64, from_ms: i64, to_ms: i64) -> QueryResult<i64> {
    usage_events::table
        .filter(usage_events::account_id.eq(account_id))
        .filter(usage_events::at.ge(from_ms))
        .filter(usage_events::at.lt(to_ms))
        .select(sql::<BigInt>("CAST(COALESCE(SUM(amount), 0) AS BIGINT)"))
        .first(conn)
}

/// A recorded model call, for the requests page.
#[derive(Debug, Clone)]
pub struct Call {
    pub id: String,
    pub at: i64,
    pub who: Who,
    pub product: String,
    pub quantity: i64,
    pub unit: String,
    pub amount: i64,
}

/// The latest `limit` model calls of the account, newest first.
pub fn recent_calls(conn: &mut DbConnection, account_id: i64, limit: i64) -> QueryResult<Vec<Call>> {
    type Row = (String, i64, Option<i64>, Option<i64>, String, i64, String, i64);
    let rows: Vec<Row> = usage_events::table
        .filter(usage_events::account_id.eq(account_id))
        .order((usage_events::at.desc(), usage_events::id.desc()))
        .limit(limit)
        .select((
            usage_events::id,
            usage_events::at,
            usage_events::user_id,
            usage_events::key_id,
            usage_events::product,
            usage_events::quantity,
            usage_events::unit,
            usage_events::amount,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, at, u, k, product, quantity, unit, amount)| Call {
            id,
            at,
            who: Who::of(u, k),
            product,
            quantity,
            unit,
            amount,
        })
        .collect())
}

/// Millisecond time of the start of day number `day`.
pub fn day_ms(day: i64) -> i64 {
    day * DAY_MS
}

/// Spend of one member or key on one product on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyProduct {
    /// Days since the epoch (UTC).
    pub day: i64,
    pub who: Who,
    pub product: String,
    pub unit: String,
    pub quantity: i64,
    pub amount: i64,
}

/// Spend per day, member/key and product in `[from_ms, to_ms)`, by day then member/key then
/// product: the rows of the usage CSV.
pub fn daily_by_product(
    conn: &mut DbConnection,
    account_id: i64,
    from_ms: i64,
    to_ms: i64,
) -> QueryResult<Vec<DailyProduct>> {
    /// Day, user, key, product, unit, quantity, amount.
    type Row = (i64, Option<i64>, Option<i64>, String, String, i64, i64);
    let rows: Vec<Row> = usage_events::table
        .filter(usage_events::account_id.eq(account_id))
        .filter(usage_events::at.ge(from_ms))
        .filter(usage_events::at.lt(to_ms))
        .group_by(sql::<BigInt>(&format!("at / {DAY_MS}, user_id, key_id, product, unit")))
        .select(sql::<(
            BigInt,
            Nullable<BigInt>,
            Nullable<BigInt>,
            diesel::sql_types::Text,
            diesel::sql_types::Text,
            BigInt,
            BigInt,
        )>(&format!(
            "at / {DAY_MS}, user_id, key_id, product, unit, CAST(SUM(quantity) AS BIGINT), CAST(SUM(amount) AS BIGINT)"
        )))
        .load(conn)?;
    let mut list: Vec<DailyProduct> = rows
        .into_iter()
        .map(|(day, u, k, product, unit, quantity, amount)| DailyProduct {
            day,
            who: Who::of(u, k),
            product,
            unit,
            quantity,
            amount,
        })
        .collect();
    list.sort_by(|a, b| (a.day, a.who, &a.product, &a.unit).cmp(&(b.day, b.who, &b.product, &b.unit)));
    Ok(list)
}
