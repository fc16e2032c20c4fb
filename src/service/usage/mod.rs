//! Metered usage reported by the platform's gateways: ingested in idempotent batches, and
//! read back by day, product and member/key for the usage page, its CSV and the requests page.
//!
//! Each accepted batch also writes one usage debit per team to the credit ledger, in the
//! same transaction as its events, so the balance always equals purchases − usage.

mod ingest;

pub use ingest::{EventIn, IngestReport, MAX_BATCH, Rejected, ingest, oldest_accepted};

use crate::db::DbConnection;
use crate::db::schema::{api_keys, usage_events, users};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable};
use std::collections::HashMap;

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
