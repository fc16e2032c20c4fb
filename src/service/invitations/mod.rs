//! Invitations: sending (one or many, in one transaction with their emails), resending,
//! cancelling, and the invited person's accept or decline.
//!
//! A token is 256 random bits, shown only in the emailed link; the database keeps its
//! SHA-256. It is single-use, expires, and is bound to the invited address. The token is
//! minted by the outbox worker at the moment the email is sent ([`mint_token`]): the queued
//! email holds a placeholder, so the token never rests in the database, not even in the
//! outbox.

use super::accounts::{self, Account, NewMembership};
use super::audit::{self, Action, Actor};
use super::emails::{self, InviteEmail};
use super::invitation_budgets::{self, Budgets, OverBudget};
use super::outbox::{self, NewEmail};
use crate::db::schema::{accounts as accounts_t, invitations, memberships, users};
use crate::db::{DbConnection, write_transaction};
use crate::domain::{EmailAddress, InvitationDelivery, InvitationState, Role, new_id, now_ms};
use base64::Engine;
use diesel::prelude::*;

mod accept;
pub use accept::*;
use sha2::{Digest, Sha256};

/// The text `'pending'` written into the SQL instead of bound as a parameter, so SQLite can
/// see that the partial index `invitations_one_pending` (`WHERE state = 'pending'`) applies:
/// with the query planner stability guarantee (`.cargo/config.toml`) a bound value is never
/// matched against an index's condition (without it, the statement was planned anew at every
/// execution). A type of its own, so the statement cache keys its queries by type as usual.
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
struct Pending;

impl Expression for Pending {
    type SqlType = diesel::sql_types::Text;
}

impl<DB: diesel::backend::Backend> diesel::query_builder::QueryFragment<DB> for Pending {
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("'pending'");
        Ok(())
    }
}

impl<QS> AppearsOnTable<QS> for Pending {}
impl<QS> SelectableExpression<QS> for Pending {}
impl<GB> diesel::expression::ValidGrouping<GB> for Pending {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = invitations)]
pub struct Invitation {
    pub id: i64,
    pub account_id: i64,
    pub email: String,
    pub email_normalized: String,
    pub role: Role,
    pub invited_by: Option<i64>,
    pub state: InvitationState,
    pub delivery: InvitationDelivery,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Invitation {
    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at <= now
    }
}

/// What the caller needs to send invitations on behalf of someone.
pub struct Inviting<'a> {
    pub account: &'a Account,
    pub inviter: &'a Actor,
    pub base_url: &'a str,
    pub ttl_ms: i64,
    pub budgets: Budgets,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new invitation went out.
    Sent {
        email: String,
        role: Role,
        expires_at: i64,
    },
    /// A pending invitation existed: its role was updated and it was sent again.
    Resent {
        email: String,
        role: Role,
        expires_at: i64,
    },
    AlreadyMember {
        email: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    #[error("{}", .0.message())]
    OverBudget(OverBudget),
    #[error("This team is archived: it cannot invite anyone.")]
    Archived,
    #[error("That invitation is no longer pending.")]
    NotPending,
    /// Inviting sends mail in the team's name: not before the inviter proved their address.
    #[error("Verify your email address before inviting anyone: open the link we sent you.")]
    Unverified,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// A new random token and the hash that is stored.
fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

/// Gives a pending invitation the token of the email about to be sent (the link of an
/// earlier email stops working; another attempt at the same email sets the same token, see
/// `outbox::LinkTokens`); false when the invitation is no longer pending, or its team is
/// archived (an invitation that raced the archive is never sent).
pub fn mint_token(conn: &mut DbConnection, invitation_id: i64, token: &str) -> QueryResult<bool> {
    let hash = hash_token(token);
    write_transaction(conn, |conn| {
        let Some(team) = team_of(conn, invitation_id)? else { return Ok(false) };
        if super::accounts::lock_for_change(conn, team)?.0 {
            return Ok(false);
        }
        let updated = diesel::update(invitations::table.find(invitation_id).filter(invitations::state.eq(Pending)))
            .set(invitations::token_hash.eq(hash))
            .execute(conn)?;
        Ok(updated == 1)
    })
}

/// The team of an invitation, to lock before the invitation is changed.
pub fn team_of(conn: &mut DbConnection, invitation_id: i64) -> QueryResult<Option<i64>> {
    invitations::table.find(invitation_id).select(invitations::account_id).first(conn).optional()
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Sends each invitation in one transaction: all of them or none.
pub fn invite_all(
    conn: &mut DbConnection,
    ctx: &Inviting<'_>,
    requests: &[(EmailAddress, Role)],
) -> Result<Vec<Outcome>, InviteError> {
    write_transaction(conn, |conn| {
        // Read again inside the transaction, under the team's lock: the team may have been
        // archived meanwhile.
        if super::accounts::lock_for_change(conn, ctx.account.id)?.0 {
            return Err(InviteError::Archived);
        }
        // The pages refuse first (`web::access`); this holds for every other way in.
        if !super::users::is_verified(conn, ctx.inviter.id)? {
            return Err(InviteError::Unverified);
        }
        let now = now_ms();
        // Who is already in, and who already has a pending invitation: one query each for
        // the whole list, not two per address (on PostgreSQL each is a round trip).
        let addresses: Vec<String> = requests.iter().map(|(email, _)| email.normalized().to_owned()).collect();
        let members: std::collections::HashSet<String> =
            super::members::member_emails(conn, ctx.account.id, &addresses)?.into_iter().collect();
        let mut pending: std::collections::HashMap<String, i64> = pending_among(conn, ctx.account.id, &addresses)?;
        // Every address that is not a member costs a place, a resend too: all of them fit, or
        // nothing is sent.
        let wanted = requests.iter().filter(|(email, _)| !members.contains(email.normalized())).count() as i64;
        let inviter = (ctx.inviter.id != Actor::NOT_A_USER).then_some(ctx.inviter.id);
        invitation_budgets::check(conn, ctx.budgets, ctx.account.id, inviter, wanted, now)?
            .map_err(InviteError::OverBudget)?;
        let mut outcomes = Vec::with_capacity(requests.len());
        for (email, role) in requests {
            if members.contains(email.normalized()) {
                outcomes.push(Outcome::AlreadyMember { email: email.shown() });
                continue;
            }
            let existing = pending.get(email.normalized()).copied();
            // No link works until the worker mints the real token at sending time.
            let (_, hash) = new_token();
            let expires_at = now + ctx.ttl_ms;
            let id = match existing {
                Some(invitation_id) => {
                    diesel::update(invitations::table.find(invitation_id))
                        .set((
                            invitations::role.eq(*role),
                            invitations::token_hash.eq(&hash),
                            invitations::expires_at.eq(expires_at),
                            invitations::delivery.eq(InvitationDelivery::Queued),
                            invitations::invited_by.eq(ctx.inviter.id),
                            invitations::updated_at.eq(now),
                        ))
                        .execute(conn)?;
                    invitation_id
                }
                None => {
                    let id = new_id();
                    diesel::insert_into(invitations::table)
                        .values((
                            invitations::id.eq(id),
                            invitations::account_id.eq(ctx.account.id),
                            invitations::email.eq(email.as_typed()),
                            invitations::email_normalized.eq(email.normalized()),
                            invitations::role.eq(*role),
                            invitations::invited_by.eq(ctx.inviter.id),
                            invitations::token_hash.eq(&hash),
                            invitations::state.eq(InvitationState::Pending),
                            invitations::delivery.eq(InvitationDelivery::Queued),
                            invitations::created_at.eq(now),
                            invitations::expires_at.eq(expires_at),
                            invitations::updated_at.eq(now),
                        ))
                        .execute(conn)?;
                    // The same address further down the list resends this one.
                    pending.insert(email.normalized().to_owned(), id);
                    id
                }
            };
            queue_email(conn, ctx, id, email.as_typed(), *role, expires_at)?;
            let action = if existing.is_some() { Action::InviteResent } else { Action::InviteSent };
            audit::record(conn, ctx.account.id, ctx.inviter, action, email.as_typed(), role.label())?;
            let email = email.shown();
            outcomes.push(match existing {
                Some(_) => Outcome::Resent { email, role: *role, expires_at },
                None => Outcome::Sent { email, role: *role, expires_at },
            });
        }
        Ok(outcomes)
    })
}

fn queue_email(
    conn: &mut DbConnection,
    ctx: &Inviting<'_>,
    invitation_id: i64,
    to: &str,
    role: Role,
    expires_at: i64,
) -> QueryResult<()> {
    let link = format!("{}/invites/{}", ctx.base_url, outbox::TOKEN_PLACEHOLDER);
    let message = emails::invitation(&InviteEmail {
        team: &ctx.account.name,
        inviter: &ctx.inviter.name,
        role: role.label(),
        link: &link,
        expires_at,
    })
    .map_err(|e| diesel::result::Error::QueryBuilderError(format!("rendering the invitation email: {e}").into()))?;
    outbox::enqueue(
        conn,
        &NewEmail {
            to: to.to_owned(),
            subject: message.subject,
            text_body: message.text,
            html_body: message.html,
            invitation_id: Some(invitation_id),
            email_link_id: None,
        },
    )?;
    Ok(())
}

/// Sends a pending invitation again with a new token (the old link stops working) and a
/// fresh expiry.
pub fn resend(conn: &mut DbConnection, ctx: &Inviting<'_>, invitation_id: i64) -> Result<Outcome, InviteError> {
    let invitation = find_pending_in(conn, ctx.account.id, invitation_id)?;
    let email = EmailAddress::parse(&invitation.email).map_err(|_| InviteError::NotPending)?;
    let mut outcomes = invite_all(conn, ctx, &[(email, invitation.role)])?;
    Ok(outcomes.remove(0))
}

pub fn cancel(
    conn: &mut DbConnection,
    account_id: i64,
    actor: &Actor,
    invitation_id: i64,
) -> Result<Invitation, InviteError> {
    write_transaction(conn, |conn| {
        // An archive cancels it too; either way, it is no longer pending.
        if super::accounts::lock_for_change(conn, account_id)?.0 {
            return Err(InviteError::NotPending);
        }
        let invitation = find_pending_in(conn, account_id, invitation_id)?;
        if !set_state(conn, invitation.id, InvitationState::Cancelled)? {
            return Err(InviteError::NotPending);
        }
        audit::record(conn, account_id, actor, Action::InviteCancelled, &invitation.email, invitation.role.label())?;
        Ok(invitation)
    })
}

fn find_pending_in(conn: &mut DbConnection, account_id: i64, invitation_id: i64) -> Result<Invitation, InviteError> {
    invitations::table
        .filter(invitations::id.eq(invitation_id))
        .filter(invitations::account_id.eq(account_id))
        .filter(invitations::state.eq(Pending))
        .select(Invitation::as_select())
        .first(conn)
        .optional()?
        .ok_or(InviteError::NotPending)
}

/// Moves a pending invitation to `state`; false when it was no longer pending (another
/// request got there first), so callers never act on a stale read.
fn set_state(conn: &mut DbConnection, id: i64, state: InvitationState) -> QueryResult<bool> {
    let changed = diesel::update(invitations::table.find(id).filter(invitations::state.eq(Pending)))
        .set((invitations::state.eq(state), invitations::updated_at.eq(now_ms())))
        .execute(conn)?;
    Ok(changed == 1)
}

/// The pending invitations of `account_id` to the normalised addresses, by address.
fn pending_among(
    conn: &mut DbConnection,
    account_id: i64,
    emails: &[String],
) -> QueryResult<std::collections::HashMap<String, i64>> {
    Ok(invitations::table
        .filter(invitations::account_id.eq(account_id))
        .filter(invitations::state.eq(Pending))
        .filter(invitations::email_normalized.eq_any(emails))
        .select((invitations::email_normalized, invitations::id))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect())
}

/// A pending invitation as the members page lists it.
#[derive(Debug, Clone)]
pub struct PendingInvite {
    pub invitation: Invitation,
    pub invited_by: String,
}

pub fn pending(conn: &mut DbConnection, account_id: i64) -> QueryResult<Vec<PendingInvite>> {
    // The members page runs this: straight on the backend's connection (see `on_backend!`).
    let rows: Vec<(Invitation, Option<String>)> = crate::on_backend!(conn, |c| invitations::table
        .left_join(users::table.on(users::id.nullable().eq(invitations::invited_by)))
        .filter(invitations::account_id.eq(account_id))
        .filter(invitations::state.eq(Pending))
        .order(invitations::created_at.desc())
        .select((Invitation::as_select(), users::name.nullable()))
        .load(c))?;
    Ok(rows
        .into_iter()
        .map(|(invitation, name)| PendingInvite {
            invitation,
            invited_by: name.unwrap_or_else(|| "a former member".into()),
        })
        .collect())
}

/// Pending invitations of `account_id` to the given normalised addresses.
pub fn pending_addresses(conn: &mut DbConnection, account_id: i64, emails: &[String]) -> QueryResult<Vec<String>> {
    Ok(pending_among(conn, account_id, emails)?.into_keys().collect())
}

/// Cancels every pending invitation of an account (when it is archived).
pub fn cancel_all_pending(conn: &mut DbConnection, account_id: i64) -> QueryResult<usize> {
    diesel::update(
        invitations::table.filter(invitations::account_id.eq(account_id)).filter(invitations::state.eq(Pending)),
    )
    .set((invitations::state.eq(InvitationState::Cancelled), invitations::updated_at.eq(now_ms())))
    .execute(conn)
}

/// The pending invitations `user_id` sent in `account_id`, newest first (the removal
/// confirmation lists them).
pub fn pending_sent_by(conn: &mut DbConnection, account_id: i64, user_id: i64) -> QueryResult<Vec<Invitation>> {
    invitations::table
        .filter(invitations::account_id.eq(account_id))
        .filter(invitations::invited_by.eq(user_id))
        .filter(invitations::state.eq(Pending))
        .order(invitations::created_at.desc())
        .select(Invitation::as_select())
        .load(conn)
}

/// Cancels the pending invitations to the admin role that `user_id` sent, when they leave or
/// are removed (in the caller's transaction, the team's row locked): a person who lost their
/// place may not still hand someone else the team's highest role. Invitations to the other
/// roles stay. Each cancellation is in the audit log, by `actor`.
pub fn cancel_admin_invites_of(
    conn: &mut DbConnection,
    account_id: i64,
    actor: &Actor,
    user_id: i64,
) -> QueryResult<Vec<Invitation>> {
    let sent = pending_sent_by(conn, account_id, user_id)?;
    let mut cancelled = Vec::new();
    for invitation in sent.into_iter().filter(|i| i.role == Role::Admin) {
        if set_state(conn, invitation.id, InvitationState::Cancelled)? {
            let detail = format!("{}, its sender left the team", invitation.role.label());
            audit::record(conn, account_id, actor, Action::InviteCancelled, &invitation.email, &detail)?;
            cancelled.push(invitation);
        }
    }
    Ok(cancelled)
}
