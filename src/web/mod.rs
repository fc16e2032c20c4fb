//! The browser-facing web layer: routes with their declared access, extractors, pages.
//!
//! A handler is short: extractors say who and with which permission, one call into a
//! service inside `Db::run`, then a template or a redirect.

pub mod access;
pub mod assets;
pub mod csrf;
pub mod csv_export;
pub mod error;
pub mod extract;
pub mod headers;
pub mod layout;
pub mod render;

mod account;
mod accounts;
mod apps;
mod auth;
mod billing;
mod device;
mod health;
mod home;
mod invites;
mod keys;
mod members;
mod metrics;
mod requests;
mod secrets;
mod sessions;
mod teams;
mod usage;
mod verify;

pub use members::cache::MembersCache;

use crate::domain::Permission;
use crate::http::{Access, RouteTable};

/// The health probes, which come first in the route table (a route that comes late pays for
/// matching every one before it).
pub fn probes(r: &mut RouteTable) {
    r.get("/healthz", Access::Public, health::healthz).get("/readyz", Access::Public, health::readyz).get(
        "/metrics",
        Access::Public,
        metrics::metrics,
    );
}

/// Every page of the site, each with the access it requires, in the order the router tries
/// them: the team pages, then the rest.
pub fn routes(r: &mut RouteTable) {
    use Access::{Public, SignedIn, Team, Verified};
    r.get("/a/{slug}", Team(Permission::ViewTeam), accounts::overview::show)
        .get("/a/{slug}/settings", Team(Permission::ViewAdmin), accounts::settings::show)
        .post("/a/{slug}/settings/name", Team(Permission::ManageTeam), accounts::settings::rename)
        .post("/a/{slug}/settings/archive", Team(Permission::ManageTeam), accounts::settings::archive)
        .get("/a/{slug}/audit", Team(Permission::ViewAdmin), accounts::audit::show)
        .get("/a/{slug}/members", Team(Permission::ViewTeam), members::list::show)
        .post("/a/{slug}/members/{user_id}/role", Team(Permission::ManageMembers), members::manage::change_role)
        .get("/a/{slug}/members/{user_id}/remove", Team(Permission::ManageMembers), members::manage::confirm_remove)
        .post("/a/{slug}/members/{user_id}/remove", Team(Permission::ManageMembers), members::manage::remove)
        .get("/a/{slug}/members/bulk", Team(Permission::ManageInvites), members::bulk::show)
        .post("/a/{slug}/members/bulk", Team(Permission::ManageInvites), members::bulk::preview)
        .get("/a/{slug}/members/bulk/template.csv", Team(Permission::ManageInvites), members::bulk::template)
        .post("/a/{slug}/members/bulk/confirm", Team(Permission::ManageInvites), members::bulk::confirm)
        .post("/a/{slug}/invites", Team(Permission::ManageInvites), members::invites::send)
        .post("/a/{slug}/invites/{id}/resend", Team(Permission::ManageInvites), members::invites::resend)
        .post("/a/{slug}/invites/{id}/cancel", Team(Permission::ManageInvites), members::invites::cancel)
        .get("/a/{slug}/leave", Team(Permission::LeaveTeam), members::leave::confirm)
        .post("/a/{slug}/leave", Team(Permission::LeaveTeam), members::leave::leave)
        .get("/a/{slug}/requests", Team(Permission::ViewTeam), requests::show)
        .get("/a/{slug}/keys", Team(Permission::ViewKeys), keys::show)
        .post("/a/{slug}/keys", Team(Permission::ManageKeys), keys::create)
        // Before the delete routes: the route walk deletes the key it tries them on.
        .get("/a/{slug}/keys/{key_id}/rotate", Team(Permission::ManageKeys), keys::confirm_rotate)
        .post("/a/{slug}/keys/{key_id}/rotate", Team(Permission::ManageKeys), keys::rotate)
        .post("/a/{slug}/keys/{key_id}/retire-old-secret", Team(Permission::ManageKeys), keys::retire)
        .get("/a/{slug}/keys/{key_id}/delete", Team(Permission::ManageKeys), keys::confirm_delete)
        .post("/a/{slug}/keys/{key_id}/delete", Team(Permission::ManageKeys), keys::delete)
        .get("/a/{slug}/apps", Team(Permission::ViewTeam), apps::list)
        .get("/a/{slug}/apps/{app}", Team(Permission::ViewTeam), apps::show)
        .post("/a/{slug}/apps/{app}/rollback", Team(Permission::ManageApps), apps::rollback)
        .get("/a/{slug}/apps/{app}/delete", Team(Permission::ManageApps), apps::confirm_delete)
        .post("/a/{slug}/apps/{app}/delete", Team(Permission::ManageApps), apps::delete)
        .get("/a/{slug}/secrets", Team(Permission::ViewSecrets), secrets::show)
        .post("/a/{slug}/secrets", Team(Permission::ManageSecrets), secrets::set)
        .get("/a/{slug}/secrets/{secret}/delete", Team(Permission::ManageSecrets), secrets::confirm_delete)
        .post("/a/{slug}/secrets/{secret}/delete", Team(Permission::ManageSecrets), secrets::delete)
        .get("/a/{slug}/usage", Team(Permission::ViewBilling), usage::show)
        .get("/a/{slug}/usage.csv", Team(Permission::ViewBilling), usage::export)
        .get("/a/{slug}/billing", Team(Permission::ViewBilling), billing::show)
        .post("/a/{slug}/billing/credits", Team(Permission::ManageBilling), billing::buy_credits)
        .post("/a/{slug}/billing/limit", Team(Permission::ManageBilling), billing::set_limit)
        .post("/a/{slug}/billing/details", Team(Permission::ManageBilling), billing::save_details)
        .get("/a/{slug}/billing/invoices/{invoice_id}", Team(Permission::ViewBilling), billing::invoice)
        .get("/a/{slug}/billing/invoices/{invoice_id}/lines.csv", Team(Permission::ViewBilling), billing::invoice_csv)
        .post(
            "/a/{slug}/billing/invoices/{invoice_id}/cancel",
            Team(Permission::ManageBilling),
            billing::cancel_invoice,
        )
        .get("/static/{name}", Public, assets::serve)
        .get("/login", Public, auth::login::show)
        .post("/login", Public, auth::login::submit)
        .get("/login/two-factor", Public, auth::second_step::show)
        .post("/login/two-factor", Public, auth::second_step::submit)
        .get("/signup", Public, auth::signup::show)
        .post("/signup", Public, auth::signup::submit)
        .get("/forgot", Public, auth::forgot::show)
        .post("/forgot", Public, auth::forgot::submit)
        .get("/reset/{token}", Public, auth::reset::show)
        .post("/reset/{token}", Public, auth::reset::submit)
        .post("/logout", Public, auth::logout::submit)
        .get("/", SignedIn, home::show)
        .get("/device", SignedIn, device::show)
        .post("/device", SignedIn, device::decide)
        .get("/account", SignedIn, account::show)
        .post("/account/name", SignedIn, account::change_name)
        .post("/account/email", SignedIn, account::change_email)
        // Before `{token}`, which would take its name as a token.
        .get("/account/email/confirmed", Public, account::email_confirmed)
        .get("/account/email/{token}", Public, account::confirm_email_page)
        .post("/account/email/{token}", Public, account::confirm_email)
        .post("/account/password", SignedIn, account::change_password)
        .post("/account/delete", SignedIn, account::delete)
        .post("/account/two-factor/app", SignedIn, account::two_factor::begin)
        .get("/account/two-factor/app", SignedIn, account::two_factor::setup)
        .post("/account/two-factor/app/confirm", SignedIn, account::two_factor::confirm)
        .post("/account/two-factor/app/remove", SignedIn, account::two_factor::remove)
        .post("/account/two-factor/recovery", SignedIn, account::two_factor::regenerate)
        .get("/account/sessions", SignedIn, sessions::show)
        .post("/account/sessions/revoke-others", SignedIn, sessions::revoke_others)
        .post("/account/sessions/{session_id}/revoke", SignedIn, sessions::revoke)
        .get("/account/tokens", SignedIn, sessions::show)
        .post("/account/tokens/{token_id}/revoke", SignedIn, device::revoke)
        .post("/account/verify/resend", SignedIn, verify::resend)
        .get("/teams/new", Verified, teams::new::show)
        .post("/teams/new", Verified, teams::new::submit)
        .get("/teams/new/address", Verified, teams::new::address)
        .get("/verify/{token}", Public, verify::open)
        .get("/invites/{token}", Public, invites::show)
        .post("/invites/{token}/accept", SignedIn, invites::accept)
        .post("/invites/{token}/decline", SignedIn, invites::decline);
}
