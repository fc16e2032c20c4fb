//! `GET /a/{slug}/members`: members by name, 50 a page (keyset), searchable; pending
//! invitations below. An htmx request for `#members-table` gets only the table.

use super::{Can, InviteRow, MemberRow, ROLES};
use crate::db::Db;
use crate::domain::{Role, now_ms};
use crate::service::{invitations, members};
use crate::web::error::AppError;
use crate::web::extract::{Authorized, need};
use crate::web::layout::Layout;
use crate::web::render::{fragment, page_with_status};
use actix_htmx::Htmx;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

pub const PAGE_SIZE: i64 = 50;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    after: Option<String>,
    after_id: Option<i64>,
}

/// The invite form's state: what was typed and what is wrong with it.
#[derive(Default)]
pub struct InviteForm {
    pub email: String,
    pub role: String,
    pub error: Option<String>,
}

impl InviteForm {
    /// The role to preselect: what was chosen, else Developer.
    fn role_or_default(&self) -> String {
        if self.role.is_empty() { Role::Developer.as_str().into() } else { self.role.clone() }
    }
}

#[derive(Template)]
#[template(path = "members/page.html")]
struct MembersPage {
    layout: Layout,
    team: String,
    base: String,
    csrf: String,
    can: Can,
    q: String,
    members: Vec<MemberRow>,
    next_page: Option<String>,
    first_page: String,
    is_later_page: bool,
    roles: [Role; 3],
    invite_email: String,
    invite_role: String,
    invite_error: Option<String>,
    pending: Vec<InviteRow>,
}

#[derive(Template)]
#[template(path = "members/_table.html")]
struct TablePart {
    team: String,
    base: String,
    csrf: String,
    can: Can,
    q: String,
    members: Vec<MemberRow>,
    next_page: Option<String>,
    first_page: String,
    is_later_page: bool,
    roles: [Role; 3],
}

#[derive(Template)]
#[template(path = "members/_invites.html")]
pub struct InvitesPart {
    base: String,
    csrf: String,
    can: Can,
    roles: [Role; 3],
    invite_email: String,
    invite_role: String,
    invite_error: Option<String>,
    pending: Vec<InviteRow>,
}

pub async fn show(
    auth: Authorized<need::ViewTeam>,
    query: web::Query<ListQuery>,
    htmx: Htmx,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let only_table = htmx.is_htmx && htmx.target().as_deref() == Some("members-table");
    let query = query.into_inner();
    if only_table {
        let (members, next_page, _) = load_members(&auth, &db, &query, false).await?;
        let base = auth.base_path();
        let part = TablePart {
            team: auth.account.name.clone(),
            first_page: first_page(&base, &query.q),
            base,
            csrf: crate::auth::session::csrf_token(&auth.signed_in.session),
            can: Can::of(&auth),
            is_later_page: query.after.is_some(),
            q: query.q,
            members,
            next_page,
            roles: ROLES,
        };
        return Ok(fragment(part.render().map_err(AppError::internal)?));
    }
    render_page(&auth, &db, query, InviteForm::default(), StatusCode::OK).await
}

fn first_page(base: &str, q: &str) -> String {
    if q.is_empty() {
        format!("{base}/members")
    } else {
        format!("{base}/members?{}", serde_urlencoded::to_string([("q", q)]).unwrap_or_default())
    }
}

/// A page of members, the link to the next one, and (with `with_pending`) the pending
/// invitations: one trip to the database.
async fn load_members<P>(
    auth: &Authorized<P>,
    db: &Db,
    query: &ListQuery,
    with_pending: bool,
) -> Result<(Vec<MemberRow>, Option<String>, Vec<InviteRow>), AppError> {
    let cursor = match (&query.after, query.after_id) {
        (Some(sort_name), Some(user_id)) => Some(members::Cursor { sort_name: sort_name.clone(), user_id }),
        _ => None,
    };
    let (account_id, q) = (auth.account.id, query.q.clone());
    let ((page, more), pending) = db
        .query(move |conn| {
            let page = members::page(conn, account_id, Some(&q), cursor.as_ref(), PAGE_SIZE)?;
            let pending = if with_pending { invitations::pending(conn, account_id)? } else { Vec::new() };
            Ok((page, pending))
        })
        .await?;
    let next_page = match (more, page.last()) {
        (true, Some(last)) => Some(format!(
            "{}/members?{}",
            auth.base_path(),
            serde_urlencoded::to_string([
                ("q", query.q.as_str()),
                ("after", &last.sort_name),
                ("after_id", &last.user_id.to_string())
            ])
            .unwrap_or_default()
        )),
        _ => None,
    };
    let (you, now) = (auth.signed_in.user.id, now_ms());
    Ok((
        page.into_iter().map(|m| MemberRow::new(m, you)).collect(),
        next_page,
        pending.into_iter().map(|p| InviteRow::new(p, now)).collect(),
    ))
}

/// The whole members page, with the invite form in the given state.
pub async fn render_page<P>(
    auth: &Authorized<P>,
    db: &Db,
    query: ListQuery,
    invite: InviteForm,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let (members, next_page, pending) = load_members(auth, db, &query, true).await?;
    let base = auth.base_path();
    let page = MembersPage {
        layout: Layout::for_account(auth, "Members", "/members"),
        team: auth.account.name.clone(),
        first_page: first_page(&base, &query.q),
        base,
        csrf: crate::auth::session::csrf_token(&auth.signed_in.session),
        can: Can::of(auth),
        is_later_page: query.after.is_some(),
        q: query.q,
        members,
        next_page,
        roles: ROLES,
        invite_role: invite.role_or_default(),
        invite_email: invite.email,
        invite_error: invite.error,
        pending,
    };
    page_with_status(status, &page)
}

async fn pending_rows<P>(auth: &Authorized<P>, db: &Db) -> Result<Vec<InviteRow>, AppError> {
    let account_id = auth.account.id;
    let pending = db.query(move |conn| invitations::pending(conn, account_id)).await?;
    let now = now_ms();
    Ok(pending.into_iter().map(|p| InviteRow::new(p, now)).collect())
}

/// The invitations section alone (for htmx), with the invite form in the given state.
pub async fn invites_part<P>(auth: &Authorized<P>, db: &Db, invite: InviteForm) -> Result<String, AppError> {
    let part = InvitesPart {
        base: auth.base_path(),
        csrf: crate::auth::session::csrf_token(&auth.signed_in.session),
        can: Can::of(auth),
        roles: ROLES,
        invite_role: invite.role_or_default(),
        invite_email: invite.email,
        invite_error: invite.error,
        pending: pending_rows(auth, db).await?,
    };
    part.render().map_err(AppError::internal)
}
