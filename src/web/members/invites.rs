//! Sending, resending and cancelling invitations from the members page. With htmx the
//! invitations section is swapped in place with a toast; without, the page comes back with
//! a flash message (or the form with its error).

use super::list::{InviteForm, ListQuery, invites_part, render_page};
use crate::auth::session::{self, Flash};
use crate::db::Db;
use crate::domain::When;
use crate::domain::{EmailAddress, Role};
use crate::http::Site;
use crate::service::invitation_budgets::OverBudget;
use crate::service::invitations::{self, InviteError, Outcome};
use crate::service::outbox::OutboxSignal;
use crate::web::error::AppError;
use crate::web::extract::{Authorized, need};
use crate::web::render::{fragment, retry_after, see_other, toast};
use actix_htmx::Htmx;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct InviteFields {
    email: String,
    role: String,
}

/// The words for what happened.
pub fn describe(outcome: &Outcome, team: &str) -> String {
    match outcome {
        Outcome::Sent { email, role, expires_at } => format!(
            "Invite sent to {email} as {}. The link expires on {}.",
            role.label(),
            When::from_ms(*expires_at).text
        ),
        Outcome::Resent { email, role, expires_at } => format!(
            "Invite to {email} sent again as {}, with a new link that expires on {}. The old link no longer works.",
            role.label(),
            When::from_ms(*expires_at).text
        ),
        Outcome::AlreadyMember { email } => format!("{email} is already a member of {team}."),
    }
}

#[tracing::instrument(name = "invite", skip_all, fields(account_id = auth.account.id))]
pub async fn send(
    auth: Authorized<need::ManageInvites>,
    form: web::Form<InviteFields>,
    htmx: Htmx,
    db: web::Data<Db>,
    site: web::Data<Site>,
    outbox: web::Data<OutboxSignal>,
) -> Result<HttpResponse, AppError> {
    let InviteFields { email, role } = form.into_inner();
    let parsed = EmailAddress::parse(&email)
        .map_err(|e| e.to_string())
        .and_then(|address| role.parse::<Role>().map(|role| (address, role)).map_err(|e| e.to_string()));
    let request = match parsed {
        Ok(request) => request,
        Err(message) => return form_again(&auth, &db, &htmx, email, role, message).await,
    };
    let (account, inviter, site) = (auth.account.clone(), auth.actor(), site.get_ref().clone());
    let result = db
        .run(move |conn| {
            let ctx = site.inviting(&account, &inviter);
            Ok::<_, AppError>(invitations::invite_all(conn, &ctx, &[request]))
        })
        .await?;
    let outcome = match result {
        Ok(mut outcomes) => outcomes.remove(0),
        Err(InviteError::Db(e)) => return Err(AppError::internal(e)),
        Err(InviteError::OverBudget(over)) => return over_budget(&auth, &db, &htmx, email, role, &over).await,
        Err(refused) => return form_again(&auth, &db, &htmx, email, role, refused.to_string()).await,
    };
    if let Outcome::AlreadyMember { .. } = outcome {
        return form_again(&auth, &db, &htmx, email, role, describe(&outcome, &auth.account.name)).await;
    }
    outbox.wake();
    done(&auth, &db, &htmx, describe(&outcome, &auth.account.name)).await
}

async fn form_again(
    auth: &Authorized<need::ManageInvites>,
    db: &Db,
    htmx: &Htmx,
    email: String,
    role: String,
    error: String,
) -> Result<HttpResponse, AppError> {
    let form = InviteForm { email, role, error: Some(error) };
    form_with_status(auth, db, htmx, form, StatusCode::UNPROCESSABLE_ENTITY).await
}

/// No invitations left for now: the form again as typed, saying how many more and when
/// (429 with `Retry-After`, as every limit answers).
async fn over_budget(
    auth: &Authorized<need::ManageInvites>,
    db: &Db,
    htmx: &Htmx,
    email: String,
    role: String,
    over: &OverBudget,
) -> Result<HttpResponse, AppError> {
    let form = InviteForm { email, role, error: Some(over.message()) };
    let response = form_with_status(auth, db, htmx, form, StatusCode::TOO_MANY_REQUESTS).await?;
    Ok(retry_after(response, over.seconds()))
}

/// The invitations section (htmx) or the whole page with the form in the given state.
async fn form_with_status(
    auth: &Authorized<need::ManageInvites>,
    db: &Db,
    htmx: &Htmx,
    form: InviteForm,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    if htmx.is_htmx {
        let body = invites_part(auth, db, form).await?;
        let mut response = HttpResponse::build(status);
        if status != StatusCode::UNPROCESSABLE_ENTITY {
            // htmx swaps another error status only when the answer names its target
            // (`static/app.js`).
            response.insert_header(("HX-Retarget", "#invites")).insert_header(("HX-Reswap", "outerHTML"));
        }
        return Ok(response.content_type("text/html; charset=utf-8").body(body));
    }
    render_page(auth, db, ListQuery::default(), form, status).await
}

/// After a change to the invitations: the section and a toast (htmx), or a flash and back.
async fn done(
    auth: &Authorized<need::ManageInvites>,
    db: &Db,
    htmx: &Htmx,
    message: String,
) -> Result<HttpResponse, AppError> {
    if htmx.is_htmx {
        let body = invites_part(auth, db, InviteForm::default()).await?;
        return Ok(fragment(toast::with(body, true, &message)));
    }
    session::push_flash(&auth.signed_in.session, Flash::success(message));
    Ok(see_other(&format!("{}/members#invites", auth.base_path())))
}

pub async fn resend(
    auth: Authorized<need::ManageInvites>,
    path: web::Path<(String, i64)>,
    htmx: Htmx,
    db: web::Data<Db>,
    site: web::Data<Site>,
    outbox: web::Data<OutboxSignal>,
) -> Result<HttpResponse, AppError> {
    let invitation_id = path.into_inner().1;
    let (account, inviter, site) = (auth.account.clone(), auth.actor(), site.get_ref().clone());
    let outcome = db
        .run(move |conn| {
            let ctx = site.inviting(&account, &inviter);
            Ok::<_, AppError>(invitations::resend(conn, &ctx, invitation_id))
        })
        .await?;
    match outcome {
        Ok(outcome) => {
            outbox.wake();
            done(&auth, &db, &htmx, describe(&outcome, &auth.account.name)).await
        }
        Err(InviteError::Db(e)) => Err(AppError::internal(e)),
        Err(InviteError::NotPending) => Err(AppError::NotFound),
        Err(InviteError::OverBudget(over)) => over_budget(&auth, &db, &htmx, String::new(), String::new(), &over).await,
        Err(other) => Err(AppError::Forbidden(other.to_string())),
    }
}

pub async fn cancel(
    auth: Authorized<need::ManageInvites>,
    path: web::Path<(String, i64)>,
    htmx: Htmx,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let invitation_id = path.into_inner().1;
    let (account_id, actor) = (auth.account.id, auth.actor());
    let cancelled =
        db.run(move |conn| Ok::<_, AppError>(invitations::cancel(conn, account_id, &actor, invitation_id))).await?;
    match cancelled {
        Ok(invitation) => {
            done(&auth, &db, &htmx, format!("Invite to {} cancelled. Its link no longer works.", invitation.email))
                .await
        }
        Err(InviteError::Db(e)) => Err(AppError::internal(e)),
        Err(_) => Err(AppError::NotFound),
    }
}
