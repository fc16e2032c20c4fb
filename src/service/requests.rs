//! The record of authenticated API requests, as the requests page and API read it.

use crate::db::DbConnection;
use crate::db::schema::{api_keys, api_requests, users};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable)]
pub struct RequestRow {
    pub id: i64,
    pub method: String,
    pub path: String,
    pub status: i32,
    pub duration_ms: i32,
    pub created_at: i64,
    pub user_id: Option<i64>,
    pub user_name: Option<String>,
    pub key_id: Option<i64>,
    pub key_name: Option<String>,
    /// Made with a rotated key's old secret.
    pub old_secret: bool,
}

impl RequestRow {
    /// Who made it, in words: the member, or the team key (and whether with the secret a
    /// rotation replaced, so the team can find who has not switched).
    pub fn by(&self) -> String {
        match (&self.user_name, &self.key_name) {
            (Some(name), _) => name.clone(),
            (None, Some(key)) if self.old_secret => format!("team key {key} (old secret)"),
            (None, Some(key)) => format!("team key {key}"),
            (None, None) => "a deleted member or key".into(),
        }
    }
}

/// Who a filter or a count is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Member(i64),
    Key(i64),
}

/// Newest first, `limit` at most, before the (time, id) cursor, optionally by one member/key.
pub fn recent(
    conn: &mut DbConnection,
    account_id: i64,
    by: Option<By>,
    before: Option<(i64, i64)>,
    limit: i64,
) -> QueryResult<Vec<RequestRow>> {
    let mut query = api_requests::table
        .left_join(users::table.on(users::id.nullable().eq(api_requests::user_id)))
        .left_join(api_keys::table.on(api_keys::id.nullable().eq(api_requests::key_id)))
        .filter(api_requests::account_id.eq(account_id))
        .select((
            api_requests::id,
            api_requests::method,
            api_requests::path,
            api_requests::status,
            api_requests::duration_ms,
            api_requests::created_at,
            api_requests::user_id,
            users::name.nullable(),
            api_requests::key_id,
            api_keys::name.nullable(),
            api_requests::old_secret,
        ))
        .order((api_requests::created_at.desc(), api_requests::id.desc()))
        .limit(limit)
        .into_boxed();
    match by {
        Some(By::Member(id)) => query = query.filter(api_requests::user_id.eq(id)),
        Some(By::Key(id)) => query = query.filter(api_requests::key_id.eq(id)),
        None => {}
    }
    if let Some((at, id)) = before {
        query = query
            .filter(api_requests::created_at.lt(at).or(api_requests::created_at.eq(at).and(api_requests::id.lt(id))));
    }
    query.load(conn)
}

/// Requests since `since`, counted per member and per key: (who, name, count), most first.
pub fn counts_since(conn: &mut DbConnection, account_id: i64, since: i64) -> QueryResult<Vec<(By, String, i64)>> {
    let window = || {
        api_requests::table.filter(api_requests::account_id.eq(account_id)).filter(api_requests::created_at.ge(since))
    };
    let by_member: Vec<(Option<i64>, i64)> = window()
        .filter(api_requests::user_id.is_not_null())
        .group_by(api_requests::user_id)
        .select((api_requests::user_id, diesel::dsl::count_star()))
        .load(conn)?;
    let by_key: Vec<(Option<i64>, i64)> = window()
        .filter(api_requests::key_id.is_not_null())
        .group_by(api_requests::key_id)
        .select((api_requests::key_id, diesel::dsl::count_star()))
        .load(conn)?;
    let member_ids: Vec<i64> = by_member.iter().filter_map(|(id, _)| *id).collect();
    let key_ids: Vec<i64> = by_key.iter().filter_map(|(id, _)| *id).collect();
    let member_names: Vec<(i64, String)> =
        users::table.filter(users::id.eq_any(&member_ids)).select((users::id, users::name)).load(conn)?;
    let key_names: Vec<(i64, String)> =
        api_keys::table.filter(api_keys::id.eq_any(&key_ids)).select((api_keys::id, api_keys::name)).load(conn)?;
    let name_of = |names: &[(i64, String)], id: i64| names.iter().find(|(i, _)| *i == id).map(|(_, n)| n.clone());
    let mut out: Vec<(By, String, i64)> = by_member
        .into_iter()
        .filter_map(|(id, n)| Some((By::Member(id?), name_of(&member_names, id?).unwrap_or_default(), n)))
        .chain(by_key.into_iter().filter_map(|(id, n)| {
            Some((By::Key(id?), format!("team key {}", name_of(&key_names, id?).unwrap_or_default()), n))
        }))
        .collect();
    out.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.1.cmp(&b.1)));
    Ok(out)
}

/// Deletes, of the oldest `batch` records (by id, which follows the order they were
/// written), those made before `cutoff_ms`; returns how many went and whether the whole batch
/// was that old (then more may be). Reading the oldest ids walks the primary key from its
/// start, so a pass costs its batch whatever the table's size.
pub fn delete_older_than(conn: &mut DbConnection, cutoff_ms: i64, batch: i64) -> QueryResult<(usize, bool)> {
    let oldest: Vec<(i64, i64)> = api_requests::table
        .select((api_requests::id, api_requests::created_at))
        .order(api_requests::id)
        .limit(batch)
        .load(conn)?;
    let expired: Vec<i64> = oldest.iter().filter(|(_, at)| *at < cutoff_ms).map(|(id, _)| *id).collect();
    if expired.is_empty() {
        return Ok((0, false));
    }
    let deleted = diesel::delete(api_requests::table.filter(api_requests::id.eq_any(&expired))).execute(conn)?;
    Ok((deleted, expired.len() as i64 == batch))
}
