//! The members page (`/a/{slug}/members`): the member list for everyone, role changes,
//! removal and invitations for admins, leaving for members.

pub mod bulk;
pub mod cache;
pub mod invites;
pub mod leave;
pub mod list;
pub mod manage;

use super::extract::Authorized;
use crate::domain::When;
use crate::domain::{InvitationDelivery, Permission, Role};
use crate::service::invitations::PendingInvite;
use crate::service::members::Member;

/// A member as a table row shows them.
#[derive(Debug, Clone)]
pub struct MemberRow {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub joined: When,
    pub is_you: bool,
}

impl MemberRow {
    pub fn new(member: Member, you: i64) -> Self {
        let is_you = member.user_id == you;
        Self { is_you, ..Self::of(member) }
    }

    /// The row as anyone but the member sees it.
    pub fn of(member: Member) -> Self {
        Self {
            id: member.user_id,
            role: member.role,
            joined: When::from_ms(member.joined_at),
            is_you: false,
            name: member.name,
            email: member.email,
        }
    }

    pub fn role_class(&self) -> &'static str {
        super::layout::role_class(self.role)
    }
}

/// One member's row of the table (swapped in after a role change; the viewer's own row).
#[derive(askama::Template)]
#[template(path = "members/_row.html")]
pub struct RowPart {
    pub m: MemberRow,
    pub base: String,
    pub csrf: String,
    pub can: Can,
    pub roles: [Role; 3],
}

/// A pending invitation as the list shows it.
pub struct InviteRow {
    pub id: i64,
    pub email: String,
    /// The A-label domain of an internationalised address, shown beside it.
    pub ascii_domain: Option<String>,
    pub role: Role,
    pub invited_by: String,
    pub expires: When,
    pub expired: bool,
    pub delivery_failed: bool,
}

impl InviteRow {
    pub fn new(p: PendingInvite, now: i64) -> Self {
        Self {
            id: p.invitation.id,
            role: p.invitation.role,
            expired: p.invitation.is_expired(now),
            delivery_failed: p.invitation.delivery == InvitationDelivery::Failed,
            expires: When::from_ms(p.invitation.expires_at),
            ascii_domain: (!p.invitation.email.is_ascii())
                .then(|| p.invitation.email_normalized.rsplit_once('@').map(|(_, domain)| domain.to_owned()))
                .flatten()
                .filter(|domain| domain.split('.').any(|label| label.starts_with("xn--"))),
            email: p.invitation.email,
            invited_by: p.invited_by,
        }
    }

    pub fn role_class(&self) -> &'static str {
        super::layout::role_class(self.role)
    }
}

/// What the viewer may do on the members page (decides which controls are rendered; the
/// routes refuse anyway).
pub struct Can {
    pub manage_members: bool,
    pub invite: bool,
    pub leave: bool,
    /// Could invite, once their email address is verified (the controls show, disabled, why).
    pub invite_once_verified: bool,
}

impl Can {
    pub fn of<P>(auth: &Authorized<P>) -> Self {
        let may = |p: Permission| auth.role.allows(p) && !auth.account.is_archived() && !auth.account.is_personal();
        let verified = auth.signed_in.user.is_verified();
        Self {
            manage_members: may(Permission::ManageMembers),
            invite: may(Permission::ManageInvites) && verified,
            leave: may(Permission::LeaveTeam),
            invite_once_verified: may(Permission::ManageInvites) && !verified,
        }
    }

    /// What a kept rendering of the page depends on.
    pub fn as_key(&self) -> [bool; 4] {
        [self.manage_members, self.invite, self.leave, self.invite_once_verified]
    }
}

pub const ROLES: [Role; 3] = Role::ALL;
