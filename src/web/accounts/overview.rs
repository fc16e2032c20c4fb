//! The account's overview: what it is, the member's role and what that role allows.

use super::super::error::AppError;
use super::super::extract::{Authorized, check, need};
use super::super::layout::{Layout, role_class};
use super::super::render::page_with_status;
use crate::domain::Permission;
use crate::domain::When;
use crate::service::accounts::AccountMembership;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;

#[derive(Template)]
#[template(path = "accounts/overview.html")]
struct OverviewPage {
    layout: Layout,
    name: String,
    slug: String,
    personal: bool,
    archived: bool,
    role_label: &'static str,
    role_class: &'static str,
    created: When,
    abilities: Vec<(&'static str, bool)>,
}

/// The permissions worth spelling out on the overview, in the order of the design table.
const SPELLED_OUT: [Permission; 8] = [
    Permission::ManageSecrets,
    Permission::ViewKeys,
    Permission::ManageKeys,
    Permission::ViewBilling,
    Permission::ManageBilling,
    Permission::ManageInvites,
    Permission::ManageMembers,
    Permission::ManageTeam,
];

pub async fn show(auth: Authorized<need::ViewTeam>) -> Result<HttpResponse, AppError> {
    let account = &auth.account;
    let page = OverviewPage {
        layout: Layout::for_account(&auth, account.name.clone(), ""),
        name: account.name.clone(),
        slug: account.slug.clone(),
        personal: account.is_personal(),
        archived: account.is_archived(),
        role_label: auth.role.label(),
        role_class: role_class(auth.role),
        created: When::from_ms(account.created_at),
        // What the routes would allow: the role, and an archived team being read-only.
        abilities: {
            let membership = AccountMembership { account: account.clone(), role: auth.role };
            SPELLED_OUT.iter().map(|p| (p.describe(), check(&membership, *p).is_ok())).collect()
        },
    };
    page_with_status(StatusCode::OK, &page)
}
