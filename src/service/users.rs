//! Users: sign-up (the user and their personal account, in one transaction) and the lookups
//! sign-in and every signed-in request need.

use super::accounts::{self, NewAccount};
use super::{Change, Committed};
use crate::db::schema::users;
use crate::db::{DbConnection, write_transaction};
use crate::domain::{AccountKind, EmailAddress, PersonName, Role, Slug, new_id, now_ms};
use diesel::prelude::*;

/// A user as pages show them (never the password hash).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    /// When the person proved they own `email` (by its emailed link, or an invitation to it).
    pub email_verified_at: Option<i64>,
}

impl User {
    pub fn is_verified(&self) -> bool {
        self.email_verified_at.is_some()
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUser<'a> {
    id: i64,
    email: &'a str,
    email_normalized: &'a str,
    name: &'a str,
    password_hash: &'a str,
    created_at: i64,
    email_verified_at: Option<i64>,
}

/// A new user and the slug of their personal account.
#[derive(Debug, Clone)]
pub struct SignedUp {
    pub user: User,
    pub personal_slug: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SignUpError {
    #[error("An account with this email already exists. Sign in instead.")]
    EmailTaken,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Creates the user and their personal account (named after them, they its admin), not
/// verified; refused when the address has an account.
pub fn sign_up(
    conn: &mut DbConnection,
    name: &PersonName,
    email: &EmailAddress,
    password_hash: &str,
) -> Result<SignedUp, SignUpError> {
    let result = write_transaction(conn, |conn| {
        if email_of(conn, email.normalized())?.is_some() {
            return Err(SignUpError::EmailTaken);
        }
        Ok(insert_new(conn, name, email, password_hash, None)?)
    });
    match result {
        // Two sign-ups with one email at the same moment on PostgreSQL: the second loses here.
        Err(SignUpError::Db(e)) if crate::db::is_unique_violation(&e) => Err(SignUpError::EmailTaken),
        other => other,
    }
}

/// Inserts the user and their personal account in the caller's transaction, which has
/// checked that the address is free (the unique index refuses it otherwise). `verified_at`:
/// when the address was proven (an invitation to it), if it was.
pub fn insert_new(
    conn: &mut DbConnection,
    name: &PersonName,
    email: &EmailAddress,
    password_hash: &str,
    verified_at: Option<i64>,
) -> QueryResult<SignedUp> {
    let now = now_ms();
    let user = User {
        id: new_id(),
        email: email.as_typed().to_owned(),
        name: name.as_str().to_owned(),
        email_verified_at: verified_at,
    };
    diesel::insert_into(users::table)
        .values(&NewUser {
            id: user.id,
            email: &user.email,
            email_normalized: email.normalized(),
            name: &user.name,
            password_hash,
            created_at: now,
            email_verified_at: verified_at,
        })
        .execute(conn)?;
    let local_part = email.normalized().split('@').next().unwrap_or("me");
    let slug =
        accounts::free_slug(conn, &Slug::from_name(name.as_str(), &Slug::from_name(local_part, "me").to_string()))?;
    accounts::insert_with_admin(
        conn,
        &NewAccount {
            id: new_id(),
            kind: AccountKind::Personal,
            slug: &slug,
            name: name.as_str(),
            personal_owner_id: Some(user.id),
            created_at: now,
        },
        user.id,
        &user.name,
    )?;
    Ok(SignedUp { user, personal_slug: slug })
}

/// The address, as its owner typed it, of the account with this normalised address.
pub fn email_of(conn: &mut DbConnection, email_normalized: &str) -> QueryResult<Option<String>> {
    users::table.filter(users::email_normalized.eq(email_normalized)).select(users::email).first(conn).optional()
}

/// What proving an address did to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// The account's address is verified from now on.
    Verified,
    /// It was verified already.
    AlreadyVerified,
    /// The address is not (or no longer) the account's, or the account is gone: nothing changed.
    NotTheirs,
}

/// Marks the user's address verified, provided it still is `email_normalized` (an address
/// changed since the proof was sent proves nothing about the new one).
pub fn prove_address(conn: &mut DbConnection, user_id: i64, email_normalized: &str) -> QueryResult<Proof> {
    let theirs = users::table
        .find(user_id)
        .filter(users::email_normalized.eq(email_normalized))
        .filter(users::deleted_at.is_null());
    let updated = diesel::update(theirs.filter(users::email_verified_at.is_null()))
        .set(users::email_verified_at.eq(now_ms()))
        .execute(conn)?;
    if updated == 1 {
        return Ok(Proof::Verified);
    }
    let verified: bool = diesel::select(diesel::dsl::exists(theirs)).get_result(conn)?;
    Ok(if verified { Proof::AlreadyVerified } else { Proof::NotTheirs })
}

/// Whether the user's address is verified (read in the caller's transaction, which acts on it).
pub fn is_verified(conn: &mut DbConnection, user_id: i64) -> QueryResult<bool> {
    let verified_at: Option<Option<i64>> =
        users::table.find(user_id).select(users::email_verified_at).first(conn).optional()?;
    Ok(matches!(verified_at, Some(Some(_))))
}

/// The id and password hash stored for a normalised email, if such a user exists.
pub fn credentials(conn: &mut DbConnection, email_normalized: &str) -> QueryResult<Option<(i64, String)>> {
    users::table
        .filter(users::email_normalized.eq(email_normalized))
        .filter(users::deleted_at.is_null())
        .select((users::id, users::password_hash))
        .first(conn)
        .optional()
}

pub fn find(conn: &mut DbConnection, user_id: i64) -> QueryResult<Option<User>> {
    // Every signed-in page runs this: straight on the backend's connection (see `on_backend!`).
    crate::on_backend!(conn, |c| users::table
        .find(user_id)
        .filter(users::deleted_at.is_null())
        .select(User::as_select())
        .first(c)
        .optional())
}

/// Whether the user exists and is not deleted, their row locked against deletion until the
/// transaction ends (PostgreSQL `FOR SHARE`; SQLite's write lock covers it). Adding the user
/// to a team (creating one, accepting an invite) takes it after the team's row, as
/// [`delete_account`] does, so a deleted user is never added.
pub fn lock_live(conn: &mut DbConnection, user_id: i64) -> QueryResult<bool> {
    let deleted_at = users::table.find(user_id).select(users::deleted_at);
    let found: Option<Option<i64>> = match conn {
        DbConnection::Postgres(pg) => deleted_at.for_share().first(pg).optional()?,
        DbConnection::Sqlite(_) => deleted_at.first(conn).optional()?,
    };
    Ok(matches!(found, Some(None)))
}

/// A team that keeps an account from being deleted: the user is its only admin.
#[derive(Debug, Clone)]
pub struct HeldBy {
    pub name: String,
    pub slug: String,
    /// The user is its only member too (archive it, or invite someone and make them admin).
    pub alone: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    #[error("You are the only admin of a team: make someone else its admin, or archive it, first.")]
    OnlyAdmin(Vec<HeldBy>),
    #[error("This account no longer exists.")]
    Gone,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Teams and the user's role in each.
pub type TeamRoles = Vec<accounts::AccountMembership>;

/// The user's teams that are not archived, with their role, and those of them that would
/// keep the user's account from being deleted (see [`delete_account`]). With `lock`, each
/// team is locked first, in id order, as every change to a team does, and its admins with
/// it; without, it only reads (the account page).
pub fn teams_held(conn: &mut DbConnection, user_id: i64, lock: bool) -> QueryResult<(TeamRoles, Vec<HeldBy>)> {
    use crate::db::schema::{accounts as accounts_table, memberships};
    let teams: TeamRoles = accounts_table::table
        .inner_join(memberships::table)
        .filter(memberships::user_id.eq(user_id))
        .filter(accounts_table::kind.eq(AccountKind::Team))
        .order(accounts_table::id)
        .select((accounts::Account::as_select(), memberships::role))
        .load(conn)?;
    let (mut live, mut held) = (Vec::new(), Vec::new());
    for membership in teams {
        let team = &membership.account;
        let archived = if lock { accounts::lock_for_change(conn, team.id)?.0 } else { team.is_archived() };
        if archived {
            continue;
        }
        // The admins as they are now (not the role read above: a promotion may have landed).
        let admins: Vec<i64> = if lock {
            super::members::lock_admins(conn, team.id)?
        } else {
            memberships::table
                .filter(memberships::account_id.eq(team.id))
                .filter(memberships::role.eq(Role::Admin))
                .select(memberships::user_id)
                .load(conn)?
        };
        if admins == [user_id] {
            let members: i64 =
                memberships::table.filter(memberships::account_id.eq(team.id)).count().get_result(conn)?;
            held.push(HeldBy { name: team.name.clone(), slug: team.slug.clone(), alone: members == 1 });
        }
        live.push(membership);
    }
    Ok((live, held))
}

/// Deletes the user's account, in one transaction: they leave every team that is not
/// archived (refused while they are the only admin of one: a team always keeps an admin;
/// archived teams are read-only and keep them as a member), their personal account is
/// archived without their name (its keys, billing details and secrets go), their login
/// tokens are revoked, and their email, name and password are wiped, so the email can sign
/// up again. The row stays, marked deleted, for what points at it (keys they created, the
/// audit log); their sessions end on their next request. Teams are never deleted.
pub fn delete_account(conn: &mut DbConnection, user_id: i64) -> Result<Committed<()>, DeleteError> {
    use super::audit::{self, Action, Actor};
    use crate::db::schema::{
        accounts as accounts_table, api_keys, billing_profiles, login_tokens, memberships, secrets,
    };
    write_transaction(conn, |conn| {
        let user = find(conn, user_id)?.ok_or(DeleteError::Gone)?;
        // The teams first, in id order, then the user's row: the order of creating a team or
        // accepting an invite, which take the user's row after the team's. Read again under
        // the user's lock, the teams are all there are (a team joined meanwhile is locked now).
        teams_held(conn, user_id, true)?;
        let locked = users::table.find(user_id).select(users::deleted_at);
        let deleted_at: Option<i64> = match conn {
            DbConnection::Postgres(pg) => locked.for_update().first(pg)?,
            DbConnection::Sqlite(_) => locked.first(conn)?,
        };
        if deleted_at.is_some() {
            return Err(DeleteError::Gone);
        }
        let (teams, held) = teams_held(conn, user_id, true)?;
        if !held.is_empty() {
            return Err(DeleteError::OnlyAdmin(held));
        }
        let actor = Actor { id: user_id, name: user.name.clone() };
        let now = now_ms();
        for accounts::AccountMembership { account: team, role } in &teams {
            let role = role.label();
            audit::record(conn, team.id, &actor, Action::MemberLeft, &user.name, &format!("{role}, account deleted"))?;
            diesel::delete(memberships::table.find((team.id, user_id))).execute(conn)?;
            super::invitations::cancel_admin_invites_of(conn, team.id, &actor, user_id)?;
        }
        // The personal account stays (its invoices and usage are records), archived, so that
        // nothing can be created in it, without the person's name, members, working keys,
        // billing details or secrets.
        let personal: Option<i64> = accounts_table::table
            .filter(accounts_table::personal_owner_id.eq(user_id))
            .select(accounts_table::id)
            .first(conn)
            .optional()?;
        if let Some(personal) = personal {
            diesel::update(accounts_table::table.find(personal))
                .set((
                    accounts_table::name.eq("Deleted user"),
                    accounts_table::slug.eq(accounts::deleted_account_slug(conn, user_id)?),
                    accounts_table::archived_at.eq(now),
                ))
                .execute(conn)?;
            diesel::delete(memberships::table.find((personal, user_id))).execute(conn)?;
            diesel::update(
                api_keys::table.filter(api_keys::account_id.eq(personal)).filter(api_keys::revoked_at.is_null()),
            )
            .set(api_keys::revoked_at.eq(now))
            .execute(conn)?;
            diesel::delete(billing_profiles::table.find(personal)).execute(conn)?;
            diesel::delete(secrets::table.filter(secrets::account_id.eq(personal))).execute(conn)?;
            super::apps::stop_all(conn, personal)?;
        }
        diesel::update(
            login_tokens::table.filter(login_tokens::user_id.eq(user_id)).filter(login_tokens::revoked_at.is_null()),
        )
        .set(login_tokens::revoked_at.eq(now))
        .execute(conn)?;
        super::sessions::revoke_all(conn, user_id, None, now)?;
        super::two_factor::forget_all(conn, user_id)?;
        let placeholder = format!("deleted-{user_id}@deleted.invalid");
        diesel::update(users::table.find(user_id))
            .set((
                users::email.eq(&placeholder),
                users::email_normalized.eq(&placeholder),
                users::name.eq("Deleted user"),
                users::password_hash.eq(""),
                users::deleted_at.eq(now),
            ))
            .execute(conn)?;
        Ok(())
    })?;
    Ok(Committed::new((), [Change::UserDeleted { user_id }]))
}
