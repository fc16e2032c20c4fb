//! `/invites/{token}`: the page an emailed link opens, with a plain-language answer for
//! every state, and the invited person's accept and decline.

use super::error::AppError;
use super::extract::{MaybeSignedIn, SignedIn};
use super::layout::Head;
use super::render::{page_with_status, see_other};
use crate::auth::session::{self, Flash};
use crate::db::Db;
use crate::domain::When;
use crate::domain::{InvitationState, email, now_ms};
use crate::service::audit::Actor;
use crate::service::invitations::{self, AcceptError};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

/// What the visitor is told.
enum State {
    Unknown,
    Cancelled,
    Used,
    Declined,
    Expired,
    Archived,
    /// Pending: sign in or sign up first.
    SignIn,
    /// Pending, but someone else is signed in.
    OtherUser {
        signed_in_as: String,
    },
    /// Pending, for the signed-in user: accept or decline.
    Ready,
}

#[derive(Template)]
#[template(path = "invites/show.html")]
struct InvitePage {
    head: Head,
    csrf: String,
    token: String,
    state: State,
    team: String,
    role: String,
    inviter: String,
    email: String,
    expires: When,
    next: String,
}

pub async fn show(
    token: web::Path<String>,
    session: Session,
    signed_in: MaybeSignedIn,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let token = token.into_inner();
    let me = signed_in.0.map(|s| s.user);
    let lookup = token.clone();
    let view = db.query(move |conn| invitations::find_by_token(conn, &lookup)).await?;
    let next = format!("/invites/{token}");
    let Some(view) = view else {
        let page = InvitePage {
            head: Head::new("Invite not found"),
            csrf: session::csrf_token(&session),
            token,
            state: State::Unknown,
            team: String::new(),
            role: String::new(),
            inviter: String::new(),
            email: String::new(),
            expires: When::from_ms(0),
            next,
        };
        return page_with_status(StatusCode::NOT_FOUND, &page);
    };
    let inv = &view.invitation;
    // Archived before cancelled: archiving cancels the pending invites, and "ask for a new
    // one" would send the person to a team that can no longer invite anyone.
    let state = match inv.state {
        InvitationState::Accepted => State::Used,
        InvitationState::Declined => State::Declined,
        _ if view.account.is_archived() => State::Archived,
        InvitationState::Cancelled => State::Cancelled,
        _ if inv.is_expired(now_ms()) => State::Expired,
        InvitationState::Pending => match &me {
            None => State::SignIn,
            Some(user) if email::normalize(&user.email) == inv.email_normalized => State::Ready,
            Some(user) => State::OtherUser { signed_in_as: user.email.clone() },
        },
    };
    let status = match state {
        State::SignIn | State::OtherUser { .. } | State::Ready => StatusCode::OK,
        _ => StatusCode::GONE,
    };
    let page = InvitePage {
        head: Head::new(format!("Join {}", view.account.name)),
        csrf: session::csrf_token(&session),
        token,
        state,
        team: view.account.name.clone(),
        role: inv.role.label().to_owned(),
        inviter: view.invited_by.clone(),
        email: inv.email.clone(),
        expires: When::from_ms(inv.expires_at),
        next,
    };
    page_with_status(status, &page)
}

fn refusal(e: AcceptError) -> AppError {
    match e {
        AcceptError::Db(e) => AppError::internal(e),
        AcceptError::Unknown => AppError::NotFound,
        other => AppError::Forbidden(format!("{other} Open the link from your email again to see why.")),
    }
}

/// Accepting from the page, or right after signing up from it: the team's slug and the
/// words to say, or why not. `client`: the client's address, for the security log.
pub async fn accept_for(
    db: &Db,
    user: &crate::service::users::User,
    token: String,
    client: String,
) -> Result<Result<(String, String), AcceptError>, AppError> {
    let actor = Actor { id: user.id, name: user.name.clone() };
    let email = email::normalize(&user.email);
    let accepted =
        db.run(move |conn| Ok::<_, AppError>(invitations::accept(conn, &token, &actor, &email, &client))).await?;
    Ok(accepted.map(|(account, role)| (account.slug, format!("You joined {} as {}.", account.name, role.label()))))
}

/// Right after signing up or in, when `next` is an invite's page: accepts that invite for
/// `user` and remembers its team, giving the team's slug and the words to say. `None` when
/// `next` is no invite page, or the invite was refused (its page, `next`, says why).
pub async fn accept_from_next(
    db: &Db,
    session: &Session,
    user: &crate::service::users::User,
    next: &str,
    client: String,
) -> Result<Option<(String, String)>, AppError> {
    let Some(token) = token_in(next) else { return Ok(None) };
    let Ok((slug, message)) = accept_for(db, user, token.to_owned(), client).await? else { return Ok(None) };
    session::remember_account(session, &slug);
    Ok(Some((slug, message)))
}

/// The invitation token of `next` when it is an invite's page (`/invites/{token}`).
pub fn token_in(next: &str) -> Option<&str> {
    next.strip_prefix("/invites/").filter(|t| !t.is_empty() && !t.contains('/'))
}

pub async fn accept(
    req: HttpRequest,
    user: SignedIn,
    token: web::Path<String>,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let client = crate::http::client_address(&req);
    let (slug, message) = accept_for(&db, &user.user, token.into_inner(), client).await?.map_err(refusal)?;
    session::remember_account(&user.session, &slug);
    session::push_flash(&user.session, Flash::success(message));
    Ok(see_other(&format!("/a/{slug}")))
}

pub async fn decline(user: SignedIn, token: web::Path<String>, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let actor = Actor { id: user.user.id, name: user.user.name.clone() };
    let (email, token) = (email::normalize(&user.user.email), token.into_inner());
    let declined = db.run(move |conn| Ok::<_, AppError>(invitations::decline(conn, &token, &actor, &email))).await?;
    let account = declined.map_err(refusal)?;
    session::push_flash(&user.session, Flash::info(format!("You declined the invitation to {}.", account.name)));
    Ok(see_other("/"))
}
