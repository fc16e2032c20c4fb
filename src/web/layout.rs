//! What every page's frame shows: the head, the team switcher, the account's navigation
//! (only the entries the member's role may use), the user menu and flash messages.

use super::assets;
use super::extract::{Authorized, SignedIn};
use crate::auth::session::{self, Flash};
use crate::domain::{Permission, Role};
use crate::service::accounts::AccountMembership;

/// The `<head>` of every page.
pub struct Head {
    pub title: String,
    pub css: &'static str,
    pub js: &'static str,
    pub htmx: &'static str,
    pub favicon: &'static str,
}

impl Head {
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            css: assets::url("app.css"),
            js: assets::url("app.js"),
            htmx: assets::url("htmx.min.js"),
            favicon: assets::url("favicon.svg"),
        }
    }
}

pub struct Layout {
    pub head: Head,
    pub user_name: String,
    pub user_email: String,
    pub csrf: String,
    pub flashes: Vec<Flash>,
    pub switcher: Switcher,
    pub nav: Vec<NavItem>,
    pub current: Option<CurrentAccount>,
    /// The person's address while it is not verified: a banner asks them to, with a button
    /// that sends a new link.
    pub unverified: Option<String>,
}

pub struct Switcher {
    pub personal: Option<SwitcherEntry>,
    pub teams: Vec<SwitcherEntry>,
    pub archived: Vec<SwitcherEntry>,
}

pub struct SwitcherEntry {
    /// Where picking it leads: the same section as the page this is, when the role there
    /// allows it (Members → Members), else the account's overview.
    pub href: String,
    pub slug: String,
    pub name: String,
    pub role_label: &'static str,
    pub role_class: &'static str,
    pub current: bool,
}

pub struct CurrentAccount {
    pub slug: String,
    pub name: String,
    pub personal: bool,
    pub archived: bool,
    pub role_label: &'static str,
    pub role_class: &'static str,
}

pub struct NavItem {
    pub label: &'static str,
    pub href: String,
    pub current: bool,
}

/// The account navigation: label, path under `/a/{slug}`, the permission it needs, and
/// whether it is for teams only (a personal account has no members). An entry is listed
/// only for members whose role allows it (the route refuses anyway).
const NAV: &[(&str, &str, Permission, bool)] = &[
    ("Overview", "", Permission::ViewTeam, false),
    ("Members", "/members", Permission::ViewTeam, true),
    ("API keys", "/keys", Permission::ViewKeys, false),
    ("Requests", "/requests", Permission::ViewTeam, false),
    ("Usage", "/usage", Permission::ViewBilling, false),
    ("Billing", "/billing", Permission::ViewBilling, false),
    ("Apps", "/apps", Permission::ViewTeam, false),
    ("Secrets", "/secrets", Permission::ViewSecrets, false),
    ("Audit log", "/audit", Permission::ViewAdmin, true),
    ("Settings", "/settings", Permission::ViewAdmin, false),
];

/// Whether the navigation lists an entry for this membership.
fn shows(m: &AccountMembership, permission: Permission, team_only: bool) -> bool {
    m.role.allows(permission) && !(m.account.is_personal() && team_only)
}

pub fn role_class(role: Role) -> &'static str {
    match role {
        Role::Admin => "badge--admin",
        Role::Developer => "badge--developer",
        Role::Billing => "badge--billing",
    }
}

impl Layout {
    /// The frame of a page that belongs to no account (e.g. "Create team"): the switcher
    /// shows the account last worked in (else the personal one), with no navigation.
    pub fn for_user(signed_in: &SignedIn, title: impl Into<String>) -> Self {
        let mut layout = Self::build(signed_in, title.into(), signed_in.working_in(), "");
        layout.nav.clear();
        layout
    }

    /// The frame of an account's page; `page` is its path under `/a/{slug}` ("" for the
    /// overview), marking the current navigation entry.
    pub fn for_account<P>(auth: &Authorized<P>, title: impl Into<String>, page: &str) -> Self {
        let current = AccountMembership { account: auth.account.clone(), role: auth.role };
        Self::build(&auth.signed_in, title.into(), Some(&current), page)
    }

    fn build(signed_in: &SignedIn, title: String, current: Option<&AccountMembership>, page: &str) -> Self {
        let current_id = current.map(|m| m.account.id);
        let section = NAV.iter().find(|(_, path, ..)| !path.is_empty() && *path == page);
        let entry = |m: &AccountMembership| SwitcherEntry {
            href: match section {
                Some((_, path, permission, team_only)) if shows(m, *permission, *team_only) => {
                    ["/a/", &m.account.slug, path].concat()
                }
                _ => ["/a/", &m.account.slug].concat(),
            },
            slug: m.account.slug.clone(),
            name: m.account.name.clone(),
            role_label: m.role.label(),
            role_class: role_class(m.role),
            current: Some(m.account.id) == current_id,
        };
        let switcher = Switcher {
            personal: signed_in.personal().map(entry),
            teams: signed_in
                .accounts
                .iter()
                .filter(|m| !m.account.is_personal() && !m.account.is_archived())
                .map(entry)
                .collect(),
            archived: signed_in.accounts.iter().filter(|m| m.account.is_archived()).map(entry).collect(),
        };
        let nav = current
            .map(|m| {
                NAV.iter()
                    .filter(|(_, _, permission, team_only)| shows(m, *permission, *team_only))
                    .map(|(label, path, _, _)| NavItem {
                        label,
                        href: ["/a/", &m.account.slug, path].concat(),
                        current: *path == page,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            head: Head::new(title),
            user_name: signed_in.user.name.clone(),
            user_email: signed_in.user.email.clone(),
            csrf: session::csrf_token(&signed_in.session),
            flashes: session::take_flashes(&signed_in.session),
            unverified: (!signed_in.user.is_verified()).then(|| signed_in.user.email.clone()),
            switcher,
            nav,
            current: current.map(|m| CurrentAccount {
                slug: m.account.slug.clone(),
                name: m.account.name.clone(),
                personal: m.account.is_personal(),
                archived: m.account.is_archived(),
                role_label: m.role.label(),
                role_class: role_class(m.role),
            }),
        }
    }
}
