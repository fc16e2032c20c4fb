//! Accounts (personal and team) as a member sees them, for the switcher and for resolving
//! `/a/{slug}` with the member's live role.

use crate::db::DbConnection;
use crate::db::schema::{accounts, memberships};
use crate::domain::{AccountKind, Role};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = accounts)]
pub struct Account {
    pub id: i64,
    pub kind: AccountKind,
    pub slug: String,
    pub name: String,
    pub personal_owner_id: Option<i64>,
    pub created_at: i64,
    pub archived_at: Option<i64>,
    /// Counts every change to what the account's members page shows (kept by triggers).
    pub members_version: i64,
    /// The end of the month whose spend reached the team's hard monthly limit.
    pub spend_blocked_until: Option<i64>,
}

impl Account {
    pub fn is_personal(&self) -> bool {
        self.kind == AccountKind::Personal
    }

    pub fn is_archived(&self) -> bool {
        self.archived_at.is_some()
    }
}

#[derive(Insertable)]
#[diesel(table_name = accounts)]
pub struct NewAccount<'a> {
    pub id: i64,
    pub kind: AccountKind,
    pub slug: &'a str,
    pub name: &'a str,
    pub personal_owner_id: Option<i64>,
    pub created_at: i64,
}

#[derive(Insertable)]
#[diesel(table_name = memberships)]
pub struct NewMembership {
    pub account_id: i64,
    pub user_id: i64,
    pub role: Role,
    pub sort_name: String,
    pub created_at: i64,
}

/// The key the members list is ordered by.
pub fn sort_name(name: &str) -> String {
    name.to_lowercase()
}

/// The first statement of every write transaction that changes a team (its members,
/// invitations, keys, billing, name, archive): whether the team is archived, read under the
/// team's row lock, which is held until the transaction ends. The check made when the request
/// arrived may be stale by then.
///
/// On PostgreSQL this is the lock order: the team's row first, then its other rows. The
/// `members_version` triggers take the same row at commit, so a transaction that locked an
/// invitation first and the team at commit could deadlock with an archive that holds the team
/// and waits for that invitation. `FOR NO KEY UPDATE` leaves foreign-key checks (`FOR KEY
/// SHARE`) and plain reads alone. On SQLite the transaction already holds the only write lock.
pub fn lock_for_change(conn: &mut DbConnection, account_id: i64) -> QueryResult<Archived> {
    let archived_at = accounts::table.find(account_id).select(accounts::archived_at);
    let archived_at: Option<i64> = match conn {
        DbConnection::Postgres(pg) => archived_at.for_no_key_update().first(pg)?,
        DbConnection::Sqlite(_) => archived_at.first(conn)?,
    };
    Ok(Archived(archived_at.is_some()))
}

/// Whether a team was archived, as [`lock_for_change`] read it.
#[must_use]
pub struct Archived(pub bool);

/// How many changes the account's members page has seen (see the `members_version` migration).
pub fn members_version(conn: &mut DbConnection, account_id: i64) -> QueryResult<i64> {
    accounts::table.find(account_id).select(accounts::members_version).first(conn)
}

/// One account a user belongs to, with their role in it: a row of
/// `(Account::as_select(), memberships::role)`.
#[derive(Debug, Clone, Queryable)]
pub struct AccountMembership {
    pub account: Account,
    pub role: Role,
}

/// Every account of `user_id`: the personal one first, then teams by name.
pub fn accounts_of(conn: &mut DbConnection, user_id: i64) -> QueryResult<Vec<AccountMembership>> {
    // Every signed-in page runs this: straight on the backend's connection (see `on_backend!`).
    let rows: Vec<AccountMembership> = crate::on_backend!(conn, |c| accounts::table
        .inner_join(memberships::table)
        .filter(memberships::user_id.eq(user_id))
        .select((Account::as_select(), memberships::role))
        .load(c))?;
    Ok(in_switcher_order(rows))
}

/// The personal account first, then teams by name.
pub fn in_switcher_order(mut list: Vec<AccountMembership>) -> Vec<AccountMembership> {
    list.sort_by(|a, b| {
        (!a.account.is_personal(), a.account.name.to_lowercase(), &a.account.slug).cmp(&(
            !b.account.is_personal(),
            b.account.name.to_lowercase(),
            &b.account.slug,
        ))
    });
    list
}

/// Whether `slug` is taken by any account.
pub fn slug_taken(conn: &mut DbConnection, slug: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(accounts::table.filter(accounts::slug.eq(slug)))).get_result(conn)
}

/// Inserts an account and its first member as admin (call inside a transaction).
pub fn insert_with_admin(
    conn: &mut DbConnection,
    account: &NewAccount<'_>,
    user_id: i64,
    user_name: &str,
) -> QueryResult<()> {
    diesel::insert_into(accounts::table).values(account).execute(conn)?;
    diesel::insert_into(memberships::table)
        .values(&NewMembership {
            account_id: account.id,
            user_id,
            role: Role::Admin,
            sort_name: sort_name(user_name),
            created_at: account.created_at,
        })
        .execute(conn)?;
    Ok(())
}

/// A slug for a new account: the name's own slug, or the first free `slug-N`; never one
/// the system reserves (see [`Slug::is_reserved`](crate::domain::Slug::is_reserved)).
pub fn free_slug(conn: &mut DbConnection, base: &crate::domain::Slug) -> QueryResult<String> {
    let base = &base.unreserved_base();
    if !base.is_reserved() && !slug_taken(conn, base.as_str())? {
        return Ok(base.as_str().to_owned());
    }
    for n in 2..1000 {
        let candidate = base.with_suffix(n);
        if !slug_taken(conn, candidate.as_str())? {
            return Ok(candidate.as_str().to_owned());
        }
    }
    // A thousand teams of one name: fall back to a random suffix.
    Ok(base.with_suffix(rand::random::<u32>() % 1_000_000 + 1000).as_str().to_owned())
}

/// The slug of a deleted person's personal account: `deleted-{id}`, in the space no chosen
/// name gets (see [`free_slug`]). A database from before that rule may hold it already (a
/// team named so); then a numbered one, so that no one else's slug can stop a deletion.
pub fn deleted_account_slug(conn: &mut DbConnection, user_id: i64) -> QueryResult<String> {
    let base = crate::domain::Slug::of_deleted_account(user_id);
    if !slug_taken(conn, base.as_str())? {
        return Ok(base.as_str().to_owned());
    }
    for n in 2.. {
        let candidate = base.with_suffix(n);
        if !slug_taken(conn, candidate.as_str())? {
            return Ok(candidate.as_str().to_owned());
        }
    }
    unreachable!("an unbounded range ends only with a free slug")
}
