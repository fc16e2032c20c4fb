//! The invitee's side of an invitation: the page its link opens, accepting and declining it.

use super::*;

/// What the page an emailed link opens needs.
#[derive(Debug, Clone)]
pub struct InviteView {
    pub invitation: Invitation,
    pub account: Account,
    pub invited_by: String,
}

pub fn find_by_token(conn: &mut DbConnection, token: &str) -> QueryResult<Option<InviteView>> {
    let row: Option<(Invitation, Account, Option<String>)> = invitations::table
        .inner_join(accounts_t::table)
        .left_join(users::table.on(users::id.nullable().eq(invitations::invited_by)))
        .filter(invitations::token_hash.eq(hash_token(token)))
        .select((Invitation::as_select(), Account::as_select(), users::name.nullable()))
        .first(conn)
        .optional()?;
    Ok(row.map(|(invitation, account, name)| InviteView {
        invitation,
        account,
        invited_by: name.unwrap_or_else(|| "a former member".into()),
    }))
}

#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    #[error("This invite link isn't valid.")]
    Unknown,
    #[error("This invite is no longer pending.")]
    NotPending,
    #[error("This invite has expired.")]
    Expired,
    #[error("This invite is for another email address.")]
    WrongUser,
    #[error("This team is archived.")]
    Archived,
    #[error("This account no longer exists.")]
    AccountGone,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Accepts the invitation of `token` for `user`: they become a member with the invited role.
/// The invitation was emailed to their address, so it proves the address too (recorded in
/// their security log with `client_address`).
pub fn accept(
    conn: &mut DbConnection,
    token: &str,
    user: &Actor,
    user_email_normalized: &str,
    client_address: &str,
) -> Result<(Account, Role), AcceptError> {
    write_transaction(conn, |conn| {
        let view = usable(conn, token, user_email_normalized)?;
        // After the team's row (locked by `usable`): an account deleted meanwhile joins nothing.
        if !crate::service::users::lock_live(conn, user.id)? {
            return Err(AcceptError::AccountGone);
        }
        let invitation = &view.invitation;
        if !set_state(conn, invitation.id, InvitationState::Accepted)? {
            return Err(AcceptError::NotPending);
        }
        let already: bool = diesel::select(diesel::dsl::exists(
            memberships::table
                .filter(memberships::account_id.eq(invitation.account_id))
                .filter(memberships::user_id.eq(user.id)),
        ))
        .get_result(conn)?;
        if !already {
            diesel::insert_into(memberships::table)
                .values(&NewMembership {
                    account_id: invitation.account_id,
                    user_id: user.id,
                    role: invitation.role,
                    sort_name: accounts::sort_name(&user.name),
                    created_at: now_ms(),
                })
                .execute(conn)?;
        }
        if crate::service::users::prove_address(conn, user.id, &invitation.email_normalized)?
            == crate::service::users::Proof::Verified
        {
            let detail = format!("by accepting the invitation to {}", view.account.name);
            crate::service::security_log::record(
                conn,
                user.id,
                crate::service::security_log::Event::EmailVerified,
                &detail,
                client_address,
            )?;
        }

        audit::record(
            conn,
            invitation.account_id,
            user,
            Action::InviteAccepted,
            &invitation.email,
            invitation.role.label(),
        )?;
        Ok((view.account, invitation.role))
    })
}

pub fn decline(
    conn: &mut DbConnection,
    token: &str,
    user: &Actor,
    user_email_normalized: &str,
) -> Result<Account, AcceptError> {
    write_transaction(conn, |conn| {
        let view = usable(conn, token, user_email_normalized)?;
        if !set_state(conn, view.invitation.id, InvitationState::Declined)? {
            return Err(AcceptError::NotPending);
        }
        audit::record(
            conn,
            view.account.id,
            user,
            Action::InviteDeclined,
            &view.invitation.email,
            view.invitation.role.label(),
        )?;
        Ok(view.account)
    })
}

/// Whether `token` is the link of a live invitation (pending, not expired, its team not
/// archived) to the normalised address: whoever holds it received mail there.
pub fn proves_address(conn: &mut DbConnection, token: &str, email_normalized: &str) -> QueryResult<bool> {
    let Some(view) = find_by_token(conn, token)? else { return Ok(false) };
    let invitation = &view.invitation;
    Ok(invitation.state == InvitationState::Pending
        && !invitation.is_expired(now_ms())
        && !view.account.is_archived()
        && invitation.email_normalized == email_normalized)
}

fn usable(conn: &mut DbConnection, token: &str, user_email_normalized: &str) -> Result<InviteView, AcceptError> {
    let view = find_by_token(conn, token)?.ok_or(AcceptError::Unknown)?;
    if crate::service::accounts::lock_for_change(conn, view.account.id)?.0 {
        return Err(AcceptError::Archived);
    }
    if view.invitation.state != InvitationState::Pending {
        return Err(AcceptError::NotPending);
    }
    if view.invitation.is_expired(now_ms()) {
        return Err(AcceptError::Expired);
    }
    if view.invitation.email_normalized != user_email_normalized {
        return Err(AcceptError::WrongUser);
    }
    Ok(view)
}
