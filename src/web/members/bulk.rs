//! Bulk invites from a CSV: upload → a preview of every row with its status (nothing
//! written yet) → confirm, which sends the valid rows in one transaction (all or none) and
//! redirects to the members page with a summary (so reloading it sends nothing again). The preview carries the rows in hidden fields, so nothing is kept between
//! the steps and everything is checked again at confirmation.

use crate::auth::session::{self, Flash};
use crate::db::Db;
use crate::domain::invite_csv::{self, CsvRow, RowCheck};
use crate::domain::{EmailAddress, Role};
use crate::http::Site;
use crate::service::invitations::{self, InviteError, Outcome};
use crate::service::members;
use crate::service::outbox::OutboxSignal;
use crate::web::error::AppError;
use crate::web::extract::{Authorized, need};
use crate::web::layout::Layout;
use crate::web::render::{page_with_status, retry_after, see_other};
use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use futures_util::StreamExt;

#[derive(Template)]
#[template(path = "members/bulk.html")]
struct UploadPage {
    layout: Layout,
    base: String,
    csrf: String,
    error: Option<String>,
}

/// A row of the preview.
pub struct PreviewRow {
    pub line: usize,
    pub email: String,
    pub role: String,
    pub status: &'static str,
    pub pill: &'static str,
    /// `role email` for the confirmation form, when the row will be sent.
    pub send: Option<String>,
    kind: Kind,
}

/// What confirming does with a row: the preview's summary counts these.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Invite,
    Resend,
    Member,
    Duplicate,
    Error,
}

/// "When you confirm, 2 invitations are sent (1 of them again); 3 rows are skipped: 1 already
/// a member, 1 duplicate, 1 with an error." Counts exactly what confirming does.
fn summary(rows: &[PreviewRow]) -> String {
    let count = |kind: Kind| rows.iter().filter(|r| r.kind == kind).count();
    let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let (invite, resend) = (count(Kind::Invite), count(Kind::Resend));
    let sent = invite + resend;
    let mut text = if sent == 0 {
        "Nothing will be sent: no row can be invited".to_owned()
    } else {
        let again = if resend > 0 { format!(" ({resend} of them again)") } else { String::new() };
        format!(
            "When you confirm, {} {} sent{again}",
            plural(sent, "invitation", "invitations"),
            if sent == 1 { "is" } else { "are" }
        )
    };
    let skipped: Vec<String> = [
        (count(Kind::Member), "already a member", "already members"),
        (count(Kind::Duplicate), "duplicate", "duplicates"),
        (count(Kind::Error), "with an error", "with errors"),
    ]
    .into_iter()
    .filter(|(n, ..)| *n > 0)
    .map(|(n, one, many)| format!("{n} {}", if n == 1 { one } else { many }))
    .collect();
    let total: usize = rows.len() - sent;
    if total > 0 {
        text.push_str(&format!("; {} skipped: {}", plural(total, "row is", "rows are"), skipped.join(", ")));
    }
    text.push('.');
    text
}

#[derive(Template)]
#[template(path = "members/bulk_preview.html")]
struct PreviewPage {
    layout: Layout,
    base: String,
    csrf: String,
    rows: Vec<PreviewRow>,
    sendable: usize,
    summary: String,
}

fn upload_page(auth: &Authorized<need::ManageInvites>, error: Option<String>) -> UploadPage {
    UploadPage {
        layout: Layout::for_account(auth, "Bulk invite", "/members"),
        base: auth.base_path(),
        csrf: session::csrf_token(&auth.signed_in.session),
        error,
    }
}

pub async fn show(auth: Authorized<need::ManageInvites>) -> Result<HttpResponse, AppError> {
    page_with_status(StatusCode::OK, &upload_page(&auth, None))
}

pub async fn template() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", "attachment; filename=\"teamdeck-invites.csv\""))
        .body(invite_csv::TEMPLATE)
}

/// Reads the `file` part of the upload, refusing more than the CSV limit (and a bit).
async fn read_file(mut multipart: Multipart) -> Result<Option<Vec<u8>>, AppError> {
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(|e| AppError::BadRequest(format!("The upload could not be read: {e}")))?;
        if field.name() != Some("file") {
            continue;
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| AppError::BadRequest(format!("The upload could not be read: {e}")))?;
            if bytes.len() + chunk.len() > invite_csv::MAX_BYTES + 1 {
                bytes.resize(invite_csv::MAX_BYTES + 1, 0);
                return Ok(Some(bytes));
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok(Some(bytes));
    }
    Ok(None)
}

pub async fn preview(
    auth: Authorized<need::ManageInvites>,
    multipart: Multipart,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let Some(bytes) = read_file(multipart).await? else {
        return page_with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &upload_page(&auth, Some("Choose a CSV file to upload.".into())),
        );
    };
    let rows = match invite_csv::parse(&bytes) {
        Ok(rows) => rows,
        Err(e) => return page_with_status(StatusCode::UNPROCESSABLE_ENTITY, &upload_page(&auth, Some(e.to_string()))),
    };
    let emails: Vec<String> = rows
        .iter()
        .filter_map(|r| match &r.check {
            RowCheck::Valid(e, _) => Some(e.normalized().to_owned()),
            _ => None,
        })
        .collect();
    let account_id = auth.account.id;
    let (members, invited) = db
        .query(move |conn| {
            Ok((
                members::member_emails(conn, account_id, &emails)?,
                invitations::pending_addresses(conn, account_id, &emails)?,
            ))
        })
        .await?;
    let rows: Vec<PreviewRow> = rows.into_iter().map(|row| preview_row(row, &members, &invited)).collect();
    let page = PreviewPage {
        layout: Layout::for_account(&auth, "Bulk invite: preview", "/members"),
        base: auth.base_path(),
        csrf: session::csrf_token(&auth.signed_in.session),
        sendable: rows.iter().filter(|r| r.send.is_some()).count(),
        summary: summary(&rows),
        rows,
    };
    page_with_status(StatusCode::OK, &page)
}

fn preview_row(row: CsvRow, members: &[String], invited: &[String]) -> PreviewRow {
    let send = |email: &EmailAddress, role: &Role| Some(format!("{} {}", role.as_str(), email.as_typed()));
    let (status, pill, send, kind) = match &row.check {
        RowCheck::InvalidEmail(e) => (e.summary(), "pill--failed", None, Kind::Error),
        RowCheck::UnknownRole => ("Unknown role (use admin, developer or billing)", "pill--failed", None, Kind::Error),
        RowCheck::DuplicateInFile => ("Duplicate in file", "pill--expired", None, Kind::Duplicate),
        RowCheck::Valid(email, _) if members.iter().any(|m| m == email.normalized()) => {
            ("Already a member", "pill--expired", None, Kind::Member)
        }
        RowCheck::Valid(email, role) if invited.iter().any(|m| m == email.normalized()) => {
            ("Already invited: will resend", "pill--pending", send(email, role), Kind::Resend)
        }
        RowCheck::Valid(email, role) => ("Will invite", "pill--open", send(email, role), Kind::Invite),
    };
    // An internationalised domain with its A-label beside it.
    let email = match &row.check {
        RowCheck::Valid(email, _) => email.shown(),
        _ => row.email,
    };
    PreviewRow { line: row.line, email, role: row.role, status, pill, send, kind }
}

pub async fn confirm(
    auth: Authorized<need::ManageInvites>,
    form: web::Form<Vec<(String, String)>>,
    db: web::Data<Db>,
    site: web::Data<Site>,
    outbox: web::Data<OutboxSignal>,
) -> Result<HttpResponse, AppError> {
    let mut requests = Vec::new();
    for (key, value) in form.into_inner() {
        if key != "row" {
            continue;
        }
        let parsed = value
            .split_once(' ')
            .and_then(|(role, email)| Some((EmailAddress::parse(email).ok()?, role.parse::<Role>().ok()?)));
        requests.push(
            parsed.ok_or_else(|| {
                AppError::BadRequest("The confirmation form was altered. Upload the file again.".into())
            })?,
        );
    }
    if requests.is_empty() || requests.len() > invite_csv::MAX_ROWS {
        return Err(AppError::BadRequest("Nothing to send. Upload the file again.".into()));
    }
    let (account, inviter, site) = (auth.account.clone(), auth.actor(), site.get_ref().clone());
    let result = db
        .run(move |conn| {
            let ctx = site.inviting(&account, &inviter);
            Ok::<_, AppError>(invitations::invite_all(conn, &ctx, &requests))
        })
        .await?;
    let outcomes = match result {
        Ok(outcomes) => outcomes,
        Err(InviteError::Db(e)) => return Err(AppError::internal(e)),
        Err(InviteError::OverBudget(over)) => {
            let message = format!("Nothing was sent. {}", over.message());
            let page = page_with_status(StatusCode::TOO_MANY_REQUESTS, &upload_page(&auth, Some(message)))?;
            return Ok(retry_after(page, over.seconds()));
        }
        Err(e) => {
            return page_with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &upload_page(&auth, Some(format!("Nothing was sent. {e}"))),
            );
        }
    };
    outbox.wake();
    let count = |f: fn(&Outcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    let summary = format!(
        "Bulk invite done: {} sent, {} sent again, {} skipped (already members).",
        count(|o| matches!(o, Outcome::Sent { .. })),
        count(|o| matches!(o, Outcome::Resent { .. })),
        count(|o| matches!(o, Outcome::AlreadyMember { .. })),
    );
    session::push_flash(&auth.signed_in.session, Flash::success(summary));
    // The top of the page, where the summary is (not `#invites`, which a long members list
    // would scroll it out of view for).
    Ok(see_other(&format!("{}/members", auth.base_path())))
}
