//! Roles and permissions: the table of DESIGN.md §2, in this one place.
//!
//! Every route declares the permission it needs (see `web::routes`); nothing else in the code
//! compares roles.

use super::stored::stored_as_text;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum Role {
    Admin,
    Developer,
    Billing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Overview, members list, apps, request history.
    ViewTeam,
    /// Call models and deploy with the team's keys.
    UseTeamResources,
    /// The names of the team's secrets (never their values).
    ViewSecrets,
    ManageSecrets,
    /// Deploy, roll back and delete the team's apps.
    ManageApps,
    /// API key metadata, never the secret.
    ViewKeys,
    ManageKeys,
    ViewBilling,
    ManageBilling,
    /// Invite (single, bulk), resend and cancel invites.
    ManageInvites,
    /// Change roles, remove members.
    ManageMembers,
    /// See the team's settings and audit log (also once it is archived).
    ViewAdmin,
    /// Rename, archive.
    ManageTeam,
    LeaveTeam,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Developer, Role::Billing];

    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        match permission {
            ViewTeam | UseTeamResources | LeaveTeam => true,
            ViewSecrets | ManageSecrets | ManageApps => matches!(self, Role::Admin | Role::Developer),
            ViewKeys | ViewBilling | ManageBilling => matches!(self, Role::Admin | Role::Billing),
            ManageKeys | ManageInvites | ManageMembers | ManageTeam | ViewAdmin => self == Role::Admin,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Developer => "developer",
            Role::Billing => "billing",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Admin",
            Role::Developer => "Developer",
            Role::Billing => "Billing",
        }
    }
}

stored_as_text!(Role, "role");

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Unknown role “{0}”: use admin, developer or billing.")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    /// Accepts the role names in any case, with surrounding spaces.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" => Ok(Role::Admin),
            "developer" => Ok(Role::Developer),
            "billing" => Ok(Role::Billing),
            _ => Err(UnknownRole(s.trim().to_owned())),
        }
    }
}

impl Permission {
    /// Whether the permission changes the team (refused once a team is archived).
    pub fn changes_team(self) -> bool {
        !matches!(
            self,
            Permission::ViewTeam
                | Permission::ViewKeys
                | Permission::ViewBilling
                | Permission::UseTeamResources
                | Permission::ViewAdmin
                | Permission::ViewSecrets
        )
    }

    /// Whether the permission means anything for a personal account, which has exactly one
    /// member and can neither take members nor be left.
    pub fn applies_to_personal(self) -> bool {
        !matches!(self, Permission::ManageInvites | Permission::ManageMembers | Permission::LeaveTeam)
    }

    /// Whether using the permission needs a verified email address: inviting sends email in
    /// the team's name (with a team name of the sender's choosing) to any address, which an
    /// account made with someone else's address must not be able to do.
    pub fn needs_verified_address(self) -> bool {
        matches!(self, Permission::ManageInvites)
    }

    /// What the permission lets one do, for the words of a refusal.
    pub fn describe(self) -> &'static str {
        match self {
            Permission::ViewTeam => "view this team",
            Permission::UseTeamResources => "use this team's resources",
            Permission::ViewSecrets => "see the team's secrets",
            Permission::ManageSecrets => "manage secrets",
            Permission::ManageApps => "deploy or change apps",
            Permission::ViewKeys => "view API keys",
            Permission::ManageKeys => "create or delete API keys",
            Permission::ViewBilling => "view billing",
            Permission::ManageBilling => "manage billing",
            Permission::ManageInvites => "invite members",
            Permission::ManageMembers => "change roles or remove members",
            Permission::ManageTeam => "change the team's settings",
            Permission::ViewAdmin => "see the team's settings and audit log",
            Permission::LeaveTeam => "leave this team",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission::*;

    /// DESIGN.md §2, row by row: (permission, admin, developer, billing).
    const TABLE: [(Permission, bool, bool, bool); 14] = [
        (ViewTeam, true, true, true),
        (UseTeamResources, true, true, true),
        (ViewSecrets, true, true, false),
        (ManageSecrets, true, true, false),
        (ManageApps, true, true, false),
        (ViewKeys, true, false, true),
        (ManageKeys, true, false, false),
        (ViewBilling, true, false, true),
        (ManageBilling, true, false, true),
        (ManageInvites, true, false, false),
        (ManageMembers, true, false, false),
        (ManageTeam, true, false, false),
        (ViewAdmin, true, false, false),
        (LeaveTeam, true, true, true),
    ];

    #[test]
    fn roles_allow_exactly_what_the_design_table_says() {
        for (permission, admin, developer, billing) in TABLE {
            assert_eq!(Role::Admin.allows(permission), admin, "admin / {permission:?}");
            assert_eq!(Role::Developer.allows(permission), developer, "developer / {permission:?}");
            assert_eq!(Role::Billing.allows(permission), billing, "billing / {permission:?}");
        }
    }

    #[test]
    fn role_names_parse_in_any_case() {
        assert_eq!(" ADMIN ".parse::<Role>(), Ok(Role::Admin));
        assert_eq!("Developer".parse::<Role>(), Ok(Role::Developer));
        assert_eq!("billing".parse::<Role>(), Ok(Role::Billing));
        assert!("owner".parse::<Role>().is_err());
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
    }
}
