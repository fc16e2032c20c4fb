//! Teams: creation (the creator becomes admin) and renaming.

use super::accounts::{self, Account, NewAccount};
use super::audit::{self, Action, Actor};
use super::invitations;
use super::{Change, Committed};
use crate::db::schema::{accounts as accounts_t, memberships};
use crate::db::{DbConnection, write_transaction};
use crate::domain::{AccountKind, Slug, TeamName, new_id, now_ms};
use diesel::prelude::*;

#[derive(Debug, thiserror::Error)]
pub enum TeamError {
    #[error("You already belong to a team named “{0}”. Choose another name.")]
    DuplicateName(String),
    #[error("This team is archived: its settings can no longer change.")]
    Archived,
    #[error("This account no longer exists.")]
    AccountGone,
    /// A team is what invitations go out from: not before its creator proved their address.
    #[error("Verify your email address before creating a team: open the link we sent you.")]
    Unverified,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Whether `user_id` already belongs to a team called `name` (compared case-insensitively),
/// other than `except`.
fn has_team_named(conn: &mut DbConnection, user_id: i64, name: &TeamName, except: Option<i64>) -> QueryResult<bool> {
    let names: Vec<(i64, String)> = accounts_t::table
        .inner_join(memberships::table)
        .filter(memberships::user_id.eq(user_id))
        .filter(accounts_t::kind.eq(AccountKind::Team))
        .select((accounts_t::id, accounts_t::name))
        .load(conn)?;
    let wanted = name.as_str().to_lowercase();
    Ok(names.iter().any(|(id, n)| Some(*id) != except && n.to_lowercase() == wanted))
}

/// Creates a team with a unique slug; `creator` (named `creator_name`) becomes its admin.
pub fn create(
    conn: &mut DbConnection,
    creator: i64,
    creator_name: &str,
    name: &TeamName,
) -> Result<Account, TeamError> {
    // A concurrent creation on PostgreSQL can take the same free slug; try again then.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let result = write_transaction(conn, |conn| {
            // An account deleted meanwhile creates nothing (see `users::delete_account`).
            if !super::users::lock_live(conn, creator)? {
                return Err(TeamError::AccountGone);
            }
            // The pages refuse first (`web::access`); this holds for every other way in.
            if !super::users::is_verified(conn, creator)? {
                return Err(TeamError::Unverified);
            }
            if has_team_named(conn, creator, name, None)? {
                return Err(TeamError::DuplicateName(name.to_string()));
            }
            // A name that gives no address (emoji only, say) gets a short random one, never a
            // bare `team` that every such name would share.
            let base = Slug::suggest(name.as_str()).unwrap_or_else(|| Slug::random("team"));
            let slug = accounts::free_slug(conn, &base)?;
            let now = now_ms();
            let new = NewAccount {
                id: new_id(),
                kind: AccountKind::Team,
                slug: &slug,
                name: name.as_str(),
                personal_owner_id: None,
                created_at: now,
            };
            accounts::insert_with_admin(conn, &new, creator, creator_name)?;
            let members_version = accounts::members_version(conn, new.id)?;
            Ok(Account {
                id: new.id,
                kind: new.kind,
                slug,
                name: name.to_string(),
                personal_owner_id: None,
                created_at: now,
                archived_at: None,
                members_version,
                spend_blocked_until: None,
            })
        });
        match result {
            Err(TeamError::Db(e)) if attempts < 10 && crate::db::is_unique_violation(&e) => continue,
            other => return other,
        }
    }
}

/// Renames an account; the slug (and so every URL) stays. Answers about its keys name the
/// team, so the change is returned.
pub fn rename(
    conn: &mut DbConnection,
    account: &Account,
    actor: &Actor,
    name: &TeamName,
) -> Result<Committed<()>, TeamError> {
    write_transaction(conn, |conn| {
        if super::accounts::lock_for_change(conn, account.id)?.0 {
            return Err(TeamError::Archived);
        }
        if has_team_named(conn, actor.id, name, Some(account.id))? {
            return Err(TeamError::DuplicateName(name.to_string()));
        }
        diesel::update(accounts_t::table.find(account.id)).set(accounts_t::name.eq(name.as_str())).execute(conn)?;
        audit::record(conn, account.id, actor, Action::TeamRenamed, &account.name, name.as_str())?;
        Ok(())
    })?;
    Ok(Committed::new((), [Change::Account { account_id: account.id }]))
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("Type the team's name exactly as shown to confirm.")]
    NameMismatch,
    #[error("A personal account cannot be archived.")]
    Personal,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Archives a team for good: read-only from now on, its pending invitations cancelled.
pub fn archive(
    conn: &mut DbConnection,
    account: &Account,
    actor: &Actor,
    typed_name: &str,
) -> Result<Committed<()>, ArchiveError> {
    if account.is_personal() {
        return Err(ArchiveError::Personal);
    }
    if typed_name.trim() != account.name {
        return Err(ArchiveError::NameMismatch);
    }
    write_transaction(conn, |conn| {
        // The team's row first, as every change to a team takes it (see
        // `accounts::lock_for_change`): a change that got there first has committed by now,
        // and its invitations are among those cancelled; any later one waits, then finds the
        // team archived.
        if super::accounts::lock_for_change(conn, account.id)?.0 {
            return Ok::<_, ArchiveError>(());
        }
        let cancelled = invitations::cancel_all_pending(conn, account.id)?;
        // The runtime hears that the team's apps must stop.
        super::apps::stop_all(conn, account.id)?;
        diesel::update(accounts_t::table.find(account.id).filter(accounts_t::archived_at.is_null()))
            .set(accounts_t::archived_at.eq(now_ms()))
            .execute(conn)?;
        audit::record(
            conn,
            account.id,
            actor,
            Action::TeamArchived,
            &account.name,
            &format!("{cancelled} pending invites cancelled"),
        )?;
        Ok(())
    })?;
    Ok(Committed::new((), [Change::Account { account_id: account.id }]))
}
