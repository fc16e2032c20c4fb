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
    let role: Role = form.role.parse().map_err(|e: crate::domain::UnknownRole| AppError::BadRequest(e.to_string()))?;
    let (account_id, actor) = (auth.account.id, auth.actor());
    let result = identity.commit(move |conn| members::change_role(conn, account_id, &actor, user_id, role)).await?;
    let (message, success) = match &result {
        Ok(change) if change.old == change.new => {
            (format!("{} is already {}.", change.member.name, change.new.label()), true)
        }
        Ok(change) => (format!("Role of {} changed to {}.", change.member.name, change.new.label()), true),
        Err(MemberError::Db(_)) | Err(MemberError::LastAdminLeaving) => (String::new(), false),
        Err(MemberError::NotAMember) => return Err(AppError::NotFound),
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
    let member = db.query(move |conn| members::find(conn, account_id, user_id)).await?.ok_or(AppError::NotFound)?;
    let row = RowPart {
        m: MemberRow::new(member, auth.signed_in.user.id),
        base: auth.base_path(),
        csrf: session::csrf_token(&auth.signed_in.session),
        can: Can::of(&auth),
        roles: ROLES,
    };
    Ok(fragment(toast::with(row.render().map_err(AppError::internal)?, success, &message)))
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
