//! `GET /a/{slug}/members`: members by name, 50 a page (keyset), searchable; pending
//! invitations below. An htmx request for `#members-table` gets only the table.

use super::cache::{Filled, MembersCache, PageKey, Rendered, Spliced, csrf_marker};
use super::{Can, InviteRow, MemberRow, ROLES, RowPart};
use crate::db::Db;
use crate::domain::{Role, now_ms};
use crate::service::invitations::PendingInvite;
use crate::service::{accounts, invitations, members};
use crate::web::error::AppError;
use crate::web::extract::{Authorized, need};
use crate::web::layout::Layout;
use crate::web::render::fragment;
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
struct MembersPage<'a> {
    layout: Layout,
    team: &'a str,
    base: String,
    can: Can,
    q: &'a str,
    table: Filled<'a>,
    invites: Filled<'a>,
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

/// The members page, or only its table for an htmx request for `#members-table`; rendered
/// at most once per change to what it shows for viewers of one role (see [`super::cache`]).
pub async fn show(
    auth: Authorized<need::ViewTeam>,
    query: web::Query<ListQuery>,
    htmx: Htmx,
    db: web::Data<Db>,
    cache: web::Data<MembersCache>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let key = PageKey {
        account_id: auth.account.id,
        members_version: auth.account.members_version,
        slug: auth.account.slug.clone(),
        team: auth.account.name.clone(),
        can: Can::of(&auth).as_key(),
        q: query.q.clone(),
        after: (query.after.clone(), query.after_id),
    };
    let rendered = match cache.get(&key, now_ms()) {
        Some(kept) => kept,
        None => {
            let (members_version, rendered) = render_parts(&auth, &db, &query, InviteForm::default()).await?;
            cache.put(PageKey { members_version, ..key }, rendered)
        }
    };
    let csrf = crate::auth::session::csrf_token(&auth.signed_in.session);
    let own_row = own_row(&auth, &rendered.table, &csrf)?;
    let table = rendered.table.fill(&csrf, own_row.as_deref().map(|html| (auth.signed_in.user.id, html)));
    if htmx.is_htmx && htmx.target().as_deref() == Some("members-table") {
        return Ok(fragment(table.into_string()));
    }
    page(&auth, &query, table, rendered.invites.fill(&csrf, None), StatusCode::OK)
}

/// The viewer's own row, as they see it ("(you)", no Remove), when it is on the page.
fn own_row<P>(auth: &Authorized<P>, table: &Spliced, csrf: &str) -> Result<Option<String>, AppError> {
    let Some(row) = table.row_of(auth.signed_in.user.id) else { return Ok(None) };
    let part = RowPart {
        m: MemberRow { is_you: true, ..row.clone() },
        base: auth.base_path(),
        csrf: csrf.to_owned(),
        can: Can::of(auth),
        roles: ROLES,
    };
    part.render().map(Some).map_err(AppError::internal)
}

fn page<P>(
    auth: &Authorized<P>,
    query: &ListQuery,
    table: Filled<'_>,
    invites: Filled<'_>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let size = table.len() + invites.len();
    let page = MembersPage {
        layout: Layout::for_account(auth, "Members", "/members"),
        team: &auth.account.name,
        base: auth.base_path(),
        can: Can::of(auth),
        q: &query.q,
        table,
        invites,
    };
    // Sized for the parts up front: growing a 50 KB string by doubling copies it over again.
    let mut body = String::with_capacity(size + 16 * 1024);
    page.render_into(&mut body).map_err(AppError::internal)?;
    Ok(HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body))
}

/// The whole members page with the invite form in the given state (after a refused
/// invitation; such a page is not kept).
pub async fn render_page<P>(
    auth: &Authorized<P>,
    db: &Db,
    query: ListQuery,
    invite: InviteForm,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let (_, parts) = render_parts(auth, db, &query, invite).await?;
    let csrf = crate::auth::session::csrf_token(&auth.signed_in.session);
    let own_row = own_row(auth, &parts.table, &csrf)?;
    let table = parts.table.fill(&csrf, own_row.as_deref().map(|html| (auth.signed_in.user.id, html)));
    page(auth, &query, table, parts.invites.fill(&csrf, None), status)
}

fn first_page(base: &str, q: &str) -> String {
    if q.is_empty() {
        format!("{base}/members")
    } else {
        format!("{base}/members?{}", serde_urlencoded::to_string([("q", q)]).unwrap_or_default())
    }
}

/// The table and the invitations section, freshly loaded (one trip to the database) and
/// rendered for no one in particular (see [`Spliced`]), with the `members_version` they show.
async fn render_parts<P>(
    auth: &Authorized<P>,
    db: &Db,
    query: &ListQuery,
    invite: InviteForm,
) -> Result<(i64, Rendered), AppError> {
    let cursor = match (&query.after, query.after_id) {
        (Some(sort_name), Some(user_id)) => Some(members::Cursor { sort_name: sort_name.clone(), user_id }),
        _ => None,
    };
    let (account_id, q) = (auth.account.id, query.q.clone());
    let (members_version, (page, more), pending) = db
        .query(move |conn| {
            // The version first: rows read after it are at least that new, so a rendering is
            // never kept under a version newer than what it shows.
            let members_version = accounts::members_version(conn, account_id)?;
            let page = members::page(conn, account_id, Some(&q), cursor.as_ref(), PAGE_SIZE)?;
            Ok((members_version, page, invitations::pending(conn, account_id)?))
        })
        .await?;
    let base = auth.base_path();
    let next_page = match (more, page.last()) {
        (true, Some(last)) => Some(format!(
            "{base}/members?{}",
            serde_urlencoded::to_string([
                ("q", query.q.as_str()),
                ("after", &last.sort_name),
                ("after_id", &last.user_id.to_string())
            ])
            .unwrap_or_default()
        )),
        _ => None,
    };
    let now = now_ms();
    let valid_until = pending.iter().map(|p| p.invitation.expires_at).filter(|&at| at > now).min().unwrap_or(i64::MAX);
    let members: Vec<MemberRow> = page.into_iter().map(MemberRow::of).collect();
    let table = TablePart {
        team: auth.account.name.clone(),
        first_page: first_page(&base, &query.q),
        base,
        csrf: csrf_marker().to_owned(),
        can: Can::of(auth),
        is_later_page: query.after.is_some(),
        q: query.q.clone(),
        members: members.clone(),
        next_page,
        roles: ROLES,
    };
    let table = Spliced::new(&table.render().map_err(AppError::internal)?, members);
    let invites = Spliced::new(&render_invites(auth, invite, pending, now, csrf_marker())?, Vec::new());
    Ok((members_version, Rendered { table, invites, valid_until }))
}

/// The invitations section alone (for htmx), with the invite form in the given state.
pub async fn invites_part<P>(auth: &Authorized<P>, db: &Db, invite: InviteForm) -> Result<String, AppError> {
    let account_id = auth.account.id;
    let pending = db.query(move |conn| invitations::pending(conn, account_id)).await?;
    render_invites(auth, invite, pending, now_ms(), &crate::auth::session::csrf_token(&auth.signed_in.session))
}

/// The invitations section: the invite form in the given state and the pending invitations
/// as they stand at `now`, with `csrf` in its forms.
fn render_invites<P>(
    auth: &Authorized<P>,
    invite: InviteForm,
    pending: Vec<PendingInvite>,
    now: i64,
    csrf: &str,
) -> Result<String, AppError> {
    let part = InvitesPart {
        base: auth.base_path(),
        csrf: csrf.to_owned(),
        can: Can::of(auth),
        roles: ROLES,
        invite_role: invite.role_or_default(),
        invite_email: invite.email,
        invite_error: invite.error,
        pending: pending.into_iter().map(|p| InviteRow::new(p, now)).collect(),
    };
    part.render().map_err(AppError::internal)
}
