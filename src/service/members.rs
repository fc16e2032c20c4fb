//! A team's members: the paged list, role changes, removal and leaving.
//!
//! The invariant: a team always has an admin. Every change that could take the last one
//! runs in a write transaction that first locks the team's admin rows (PostgreSQL
//! `FOR UPDATE`; SQLite's `BEGIN IMMEDIATE` holds the only write lock), so two admins
//! demoting each other at once leave one admin.

use super::audit::{self, Action, Actor};
use super::{Change, Committed};
use crate::db::schema::memberships;
use crate::db::schema::users;
use crate::db::{DbConnection, write_transaction};
use crate::domain::Role;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable)]
pub struct Member {
    pub user_id: i64,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub sort_name: String,
    pub joined_at: i64,
}

/// The columns a [`Member`] is read from.
const MEMBER_COLUMNS: (
    users::id,
    users::name,
    users::email,
    memberships::role,
    memberships::sort_name,
    memberships::created_at,
) = (users::id, users::name, users::email, memberships::role, memberships::sort_name, memberships::created_at);

/// Where the next page starts: after this (sort name, user id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub sort_name: String,
    pub user_id: i64,
}

/// One page of members by name, read in index order (no offset: page 100 costs what page 1
/// does). `search` matches part of a name or an email. Returns `limit` members and whether
/// more follow.
pub fn page(
    conn: &mut DbConnection,
    account_id: i64,
    search: Option<&str>,
    after: Option<&Cursor>,
    limit: i64,
) -> QueryResult<(Vec<Member>, bool)> {
    let query = memberships::table
        .inner_join(users::table)
        .filter(memberships::account_id.eq(account_id))
        .select(MEMBER_COLUMNS)
        .order((memberships::sort_name, memberships::user_id))
        .limit(limit + 1);
    let search = search.map(str::trim).filter(|q| !q.is_empty());
    if after.is_none() && search.is_none() {
        // The first page, the one nearly every visit asks for, as a query of fixed shape:
        // the statement cache finds it by its type, without building its SQL again.
        return Ok(one_more(crate::on_backend!(conn, |c| query.load(c))?, limit));
    }
    let mut query = query.into_boxed();
    if let Some(cursor) = after {
        query = query.filter(
            memberships::sort_name
                .gt(cursor.sort_name.clone())
                .or(memberships::sort_name.eq(cursor.sort_name.clone()).and(memberships::user_id.gt(cursor.user_id))),
        );
    }
    if let Some(q) = search {
        let pattern = format!("%{}%", escape_like(&q.to_lowercase()));
        query = query.filter(
            memberships::sort_name
                .like(pattern.clone())
                .escape('\\')
                .or(users::email_normalized.like(pattern).escape('\\')),
        );
    }
    Ok(one_more(query.load(conn)?, limit))
}

/// Up to `limit` members, and whether the query found more (it asked for one more).
fn one_more(mut members: Vec<Member>, limit: i64) -> (Vec<Member>, bool) {
    let more = members.len() as i64 > limit;
    members.truncate(limit as usize);
    (members, more)
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

pub fn find(conn: &mut DbConnection, account_id: i64, user_id: i64) -> QueryResult<Option<Member>> {
    memberships::table
        .inner_join(users::table)
        .filter(memberships::account_id.eq(account_id))
        .filter(memberships::user_id.eq(user_id))
        .select(MEMBER_COLUMNS)
        .first(conn)
        .optional()
}

/// Whether `user_id` is the team's only admin, and whether they are its only member too
/// (what the Leave page shows; `remove` decides under its lock).
pub fn sole_admin(conn: &mut DbConnection, account_id: i64, user_id: i64) -> QueryResult<(bool, bool)> {
    let admins: Vec<i64> = memberships::table
        .filter(memberships::account_id.eq(account_id))
        .filter(memberships::role.eq(Role::Admin))
        .select(memberships::user_id)
        .limit(2)
        .load(conn)?;
    if admins != [user_id] {
        return Ok((false, false));
    }
    let members: i64 = memberships::table.filter(memberships::account_id.eq(account_id)).count().get_result(conn)?;
    Ok((true, members == 1))
}

#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    #[error("{0} is the team's last admin. Make someone else an admin first.")]
    LastAdmin(String),
    #[error("You are the team's last admin. Make someone else an admin before you leave.")]
    LastAdminLeaving,
    #[error("That person is not a member of this team.")]
    NotAMember,
    #[error("This team is archived: its members can no longer change.")]
    Archived,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// The team's admins, locked against concurrent changes until the transaction ends.
pub(crate) fn lock_admins(conn: &mut DbConnection, account_id: i64) -> QueryResult<Vec<i64>> {
    let admins = memberships::table
        .filter(memberships::account_id.eq(account_id))
        .filter(memberships::role.eq(Role::Admin))
        .select(memberships::user_id);
    match conn {
        DbConnection::Postgres(pg) => admins.for_update().load(pg),
        DbConnection::Sqlite(_) => admins.load(conn),
    }
}

/// The change a role update made.
#[derive(Debug, Clone)]
pub struct RoleChange {
    pub member: Member,
    pub old: Role,
    pub new: Role,
}

pub fn change_role(
    conn: &mut DbConnection,
    account_id: i64,
    actor: &Actor,
    user_id: i64,
    new: Role,
) -> Result<Committed<RoleChange>, MemberError> {
    let changed = write_transaction(conn, |conn| {
        if super::accounts::lock_for_change(conn, account_id)?.0 {
            return Err(MemberError::Archived);
        }
        let admins = lock_admins(conn, account_id)?;
        let mut member = find(conn, account_id, user_id)?.ok_or(MemberError::NotAMember)?;
        let old = member.role;
        if old == Role::Admin && new != Role::Admin && admins == [user_id] {
            return Err(MemberError::LastAdmin(member.name));
        }
        if old != new {
            diesel::update(memberships::table.find((account_id, user_id)))
                .set(memberships::role.eq(new))
                .execute(conn)?;
            audit::record(
                conn,
                account_id,
                actor,
                Action::RoleChanged,
                &member.name,
                &format!("{} → {}", old.label(), new.label()),
            )?;
        }
        member.role = new;
        Ok(RoleChange { member, old, new })
    })?;
    Ok(Committed::new(changed, [Change::Membership { account_id, user_id }]))
}

pub fn remove(
    conn: &mut DbConnection,
    account_id: i64,
    actor: &Actor,
    user_id: i64,
) -> Result<Committed<Member>, MemberError> {
    let removed = write_transaction(conn, |conn| {
        if super::accounts::lock_for_change(conn, account_id)?.0 {
            return Err(MemberError::Archived);
        }
        let admins = lock_admins(conn, account_id)?;
        let member = find(conn, account_id, user_id)?.ok_or(MemberError::NotAMember)?;
        if admins == [user_id] {
            return Err(if actor.id == user_id {
                MemberError::LastAdminLeaving
            } else {
                MemberError::LastAdmin(member.name)
            });
        }
        diesel::delete(memberships::table.find((account_id, user_id))).execute(conn)?;
        let action = if actor.id == user_id { Action::MemberLeft } else { Action::MemberRemoved };
        audit::record(conn, account_id, actor, action, &member.name, member.role.label())?;
        super::invitations::cancel_admin_invites_of(conn, account_id, actor, user_id)?;
        Ok(member)
    })?;
    Ok(Committed::new(removed, [Change::Membership { account_id, user_id }]))
}

/// Which of `emails` (normalised) already belong to members of `account_id`.
pub fn member_emails(conn: &mut DbConnection, account_id: i64, emails: &[String]) -> QueryResult<Vec<String>> {
    memberships::table
        .inner_join(users::table)
        .filter(memberships::account_id.eq(account_id))
        .filter(users::email_normalized.eq_any(emails))
        .select(users::email_normalized)
        .load(conn)
}
