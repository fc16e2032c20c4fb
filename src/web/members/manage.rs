//! Changing a member's role (the row's dropdown) and removing a member (with a confirmation:
//! a `<dialog>` on the members page, this module's confirmation page without JavaScript).

use super::{Can, MemberRow, ROLES, RowPart};
use crate::auth::session::{self, Flash};
use crate::db::Db;
use crate::domain::Role;
use crate::identity::Identity;
use crate::service::members::{self, MemberError};
use crate::web::error::AppError;
use crate::web::extract::{Authorized, need};
use crate::web::layout::Layout;
use crate::web::render::{fragment, page_with_status, see_other, toast};
use actix_htmx::Htmx;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct RoleFields {
    role: String,
    /// The member's name as the row showed it, for "Dave is no longer a member" when another
    /// admin removed them meanwhile (only shown back to the person who sent it).
    #[serde(default)]
    name: String,
    /// `admin` once the person confirmed granting Admin (the dialog, or the page below).
    confirmed: Option<String>,
}

/// Granting Admin without JavaScript: the question the dialog asks, as a page.
#[derive(Template)]
#[template(path = "members/grant_admin.html")]
struct GrantAdminPage {
    layout: Layout,
    base: String,
    csrf: String,
    name: String,
    user_id: i64,
}

pub async fn change_role(
    auth: Authorized<need::ManageMembers>,
    path: web::Path<(String, i64)>,
    form: web::Form<RoleFields>,
    htmx: Htmx,
    db: web::Data<Db>,
    identity: web::Data<Identity>,
) -> Result<HttpResponse, AppError> {
    let user_id = path.into_inner().1;
    let RoleFields { role, name, confirmed } = form.into_inner();
    let role: Role = role.parse().map_err(|e: crate::domain::UnknownRole| AppError::BadRequest(e.to_string()))?;
    let (account_id, actor) = (auth.account.id, auth.actor());
    if role == Role::Admin && confirmed.as_deref() != Some("admin") {
        let member = db.query(move |conn| members::find(conn, account_id, user_id)).await?;
        let Some(member) = member else { return no_longer_a_member(&auth, &htmx, &name) };
        if member.role != Role::Admin {
            return ask_before_granting_admin(&auth, &htmx, member, user_id);
        }
    }
    let result = identity.commit(move |conn| members::change_role(conn, account_id, &actor, user_id, role)).await?;
    let (message, success) = match &result {
        Ok(change) if change.old == change.new => {
            (format!("{} is already {}.", change.member.name, change.new.label()), true)
        }
        Ok(change) => (format!("Role of {} changed to {}.", change.member.name, change.new.label()), true),
        Err(MemberError::Db(_)) | Err(MemberError::LastAdminLeaving) => (String::new(), false),
        Err(MemberError::NotAMember) => return no_longer_a_member(&auth, &htmx, &name),
        Err(e) => (e.to_string(), false),
    };
    if let Err(MemberError::Db(e)) = result {
        return Err(AppError::internal(e));
    }
    if !htmx.is_htmx {
        let flash = if success { Flash::success(message) } else { Flash::error(message) };
        session::push_flash(&auth.signed_in.session, flash);
        return Ok(see_other(&format!("{}/members", auth.base_path())));
    }
    // The row as it now is (unchanged after a refusal, so the dropdown shows the truth).
    let member = db.query(move |conn| members::find(conn, account_id, user_id)).await?;
    let Some(member) = member else { return no_longer_a_member(&auth, &htmx, &name) };
    row_with_toast(&auth, member, success, &message)
}

fn row_with_toast(
    auth: &Authorized<need::ManageMembers>,
    member: members::Member,
    success: bool,
    message: &str,
) -> Result<HttpResponse, AppError> {
    let row = RowPart {
        m: MemberRow::new(member, auth.signed_in.user.id),
        base: auth.base_path(),
        csrf: session::csrf_token(&auth.signed_in.session),
        can: Can::of(auth),
        roles: ROLES,
    };
    Ok(fragment(toast::with(row.render().map_err(AppError::internal)?, success, message)))
}

/// Another admin removed the member meanwhile: say so, and (htmx) take the row away.
fn no_longer_a_member(
    auth: &Authorized<need::ManageMembers>,
    htmx: &Htmx,
    typed_name: &str,
) -> Result<HttpResponse, AppError> {
    let name: String = typed_name.trim().chars().take(crate::domain::PersonName::MAX_CHARS).collect();
    let name = if name.is_empty() { "This person".to_owned() } else { name };
    let message = format!("{name} is no longer a member of {}.", auth.account.name);
    if htmx.is_htmx {
        // An empty row: the outerHTML swap removes it; the toast says why.
        return Ok(fragment(toast::with(String::new(), false, &message)));
    }
    session::push_flash(&auth.signed_in.session, Flash::error(message));
    Ok(see_other(&format!("{}/members", auth.base_path())))
}

/// Granting Admin needs a confirmation: the page that asks (without JavaScript), or (htmx,
/// whose dialog was skipped) the row unchanged with a toast that says so.
fn ask_before_granting_admin(
    auth: &Authorized<need::ManageMembers>,
    htmx: &Htmx,
    member: members::Member,
    user_id: i64,
) -> Result<HttpResponse, AppError> {
    if htmx.is_htmx {
        let message = format!("{} was not made an admin: confirm it when asked.", member.name);
        return row_with_toast(auth, member, false, &message);
    }
    let page = GrantAdminPage {
        layout: Layout::for_account(auth, format!("Make {} an admin?", member.name), "/members"),
        base: auth.base_path(),
        csrf: session::csrf_token(&auth.signed_in.session),
        name: member.name,
        user_id,
    };
    page_with_status(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "members/remove.html")]
struct RemovePage {
    layout: Layout,
    base: String,
    team: String,
    csrf: String,
    name: String,
    email: String,
    user_id: i64,
    /// Team keys this member created: they keep working after the removal.
    keys: Vec<String>,
    /// Pending invitations this member sent: to the admin role cancelled by the removal,
    /// the others kept.
    invites: Vec<SentInvite>,
}

struct SentInvite {
    email: String,
    role: &'static str,
    cancelled: bool,
}

/// The confirmation page (when the dialog is not available).
pub async fn confirm_remove(
    auth: Authorized<need::ManageMembers>,
    path: web::Path<(String, i64)>,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let (account_id, user_id) = (auth.account.id, path.into_inner().1);
    let (member, keys, invites) = db
        .query(move |conn| {
            Ok((
                members::find(conn, account_id, user_id)?,
                crate::service::keys::created_by(conn, account_id, user_id)?,
                crate::service::invitations::pending_sent_by(conn, account_id, user_id)?,
            ))
        })
        .await?;
    let member = member.ok_or(AppError::NotFound)?;
    let page = RemovePage {
        keys: keys.into_iter().map(|k| format!("{} ({}, {})", k.name, k.scope.as_str(), k.masked())).collect(),
        invites: invites
            .into_iter()
            .map(|i| SentInvite { email: i.email, role: i.role.label(), cancelled: i.role == Role::Admin })
            .collect(),
        layout: Layout::for_account(&auth, format!("Remove {}", member.name), "/members"),
        base: auth.base_path(),
        team: auth.account.name.clone(),
        csrf: session::csrf_token(&auth.signed_in.session),
        name: member.name,
        email: member.email,
        user_id,
    };
    page_with_status(StatusCode::OK, &page)
}

pub async fn remove(
    auth: Authorized<need::ManageMembers>,
    path: web::Path<(String, i64)>,
    identity: web::Data<Identity>,
) -> Result<HttpResponse, AppError> {
    let user_id = path.into_inner().1;
    let (account_id, actor) = (auth.account.id, auth.actor());
    let result = identity.commit(move |conn| members::remove(conn, account_id, &actor, user_id)).await?;
    let flash = match result {
        Ok(member) => Flash::success(format!("{} was removed from {}.", member.name, auth.account.name)),
        Err(MemberError::NotAMember) => return Err(AppError::NotFound),
        Err(MemberError::Db(e)) => return Err(AppError::internal(e)),
        Err(e) => Flash::error(e.to_string()),
    };
    session::push_flash(&auth.signed_in.session, flash);
    Ok(see_other(&format!("{}/members", auth.base_path())))
}
