//! Changing one's email address. Asking for it (`POST /account/email`, the password typed
//! again) sends a link to the new address and tells the current one at once; the answer is
//! the same whether or not another account has the new address. The link
//! (`/account/email/{token}`) opens a page that says what it would do, without using it (mail
//! scanners open links too); its button confirms. Holding the link proves the new address,
//! so confirming needs no sign-in, only the page's CSRF token: the person may open it on
//! another device. Every state of the link has its own plain page, never an error.

use super::{Forms, reauth, render};
use crate::auth::Limits;
use crate::auth::session::{self, Flash};
use crate::db::Db;
use crate::domain::EmailAddress;
use crate::http::Site;
use crate::identity::Identity;
use crate::service::email_change::{self, Asking, ChangeLink, ConfirmError};
use crate::service::outbox::OutboxSignal;
use crate::service::profile::ProfileError;
use crate::web::error::AppError;
use crate::web::extract::{MaybeSignedIn, SignedIn};
use crate::web::layout::Head;
use crate::web::render::{page_with_status, retry_after, see_other};
use actix_session::{Session, SessionExt};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

#[tracing::instrument(name = "ask to change email", skip_all, fields(user_id = user.user.id))]
pub async fn request(
    req: HttpRequest,
    user: SignedIn,
    form: web::Form<EmailForm>,
    db: web::Data<Db>,
    limits: web::Data<Limits>,
    site: web::Data<Site>,
    outbox: web::Data<OutboxSignal>,
) -> Result<HttpResponse, AppError> {
    let EmailForm { email: typed, password } = form.into_inner();
    let refused = |email_error: Option<String>, email_password_error: Option<String>| Forms {
        email: typed.clone(),
        email_error,
        email_password_error,
        ..Forms::default()
    };
    let address = match EmailAddress::parse(&typed) {
        Ok(address) => address,
        Err(e) => {
            return render(&user, &db, refused(Some(e.to_string()), None), StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let wrong = "That is not your password.";
    if let Err(refusal) = reauth::check(&req, &user, password, wrong).await? {
        let page = render(&user, &db, refused(None, Some(refusal.message.clone())), refusal.status).await?;
        return Ok(refusal.answer(page));
    }
    if let Err(limited) = limits.verification_email(address.normalized()).await? {
        let page = render(&user, &db, refused(Some(limited.message()), None), StatusCode::TOO_MANY_REQUESTS).await?;
        return Ok(retry_after(page, limited.seconds()));
    }
    let (user_id, client, base_url) = (user.user.id, crate::http::client_address(&req), site.base_url.clone());
    let asked = address.clone();
    let requested = db
        .run(move |conn| {
            let asking = Asking { base_url: &base_url, client_address: &client };
            Ok::<_, AppError>(email_change::request(conn, user_id, &asked, asking))
        })
        .await?;
    match requested {
        Ok(()) => {
            outbox.wake();
            let message = format!(
                "We sent a link to {address}. Open it within 24 hours to make it your address; until then you sign in with {}.",
                user.user.email
            );
            session::push_flash(&user.session, Flash::success(message));
            Ok(see_other("/account"))
        }
        Err(ProfileError::SameAddress) => {
            let forms = refused(Some(ProfileError::SameAddress.to_string()), None);
            render(&user, &db, forms, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(ProfileError::Gone) => Err(AppError::SignInRequired),
        Err(ProfileError::Db(e)) => Err(AppError::internal(e)),
    }
}

/// What the link's page says.
enum State {
    /// Live: the button makes `email` the account's address. `signed_in_as` another account.
    Confirm {
        email: String,
        signed_in_as: Option<String>,
    },
    Taken {
        email: String,
    },
    Refused {
        email: String,
        reason: String,
    },
    Used,
    Replaced,
    Expired,
    Unknown,
    /// Confirmed, for a browser not signed in to the account (messages from the session).
    Done {
        messages: Vec<String>,
    },
}

#[derive(Template)]
#[template(path = "account/email_link.html")]
struct LinkPage {
    head: Head,
    csrf: String,
    token: String,
    state: State,
}

fn link_page(session: &Session, token: String, state: State) -> Result<HttpResponse, AppError> {
    let (title, status) = match &state {
        State::Confirm { .. } => ("Confirm your new email address", StatusCode::OK),
        State::Done { .. } => ("Email address changed", StatusCode::OK),
        State::Taken { .. } => ("This address already has an account", StatusCode::CONFLICT),
        State::Refused { .. } => ("This address cannot be used", StatusCode::UNPROCESSABLE_ENTITY),
        State::Used | State::Replaced | State::Expired => ("This link no longer works", StatusCode::GONE),
        State::Unknown => ("This link isn't valid", StatusCode::NOT_FOUND),
    };
    let page = LinkPage { head: Head::new(title), csrf: session::csrf_token(session), token, state };
    page_with_status(status, &page)
}

/// The state of a link that is not (or no longer) live, or a live one's confirmation.
fn state_of(link: ChangeLink, me: Option<&SignedIn>) -> State {
    match link {
        ChangeLink::Live { email, taken: true, .. } => State::Taken { email },
        ChangeLink::Live { email, user_id, .. } => State::Confirm {
            email,
            signed_in_as: me.filter(|me| me.user.id != user_id).map(|me| me.user.email.clone()),
        },
        ChangeLink::Refused { email, reason } => State::Refused { email, reason },
        ChangeLink::Used => State::Used,
        ChangeLink::Replaced => State::Replaced,
        ChangeLink::Expired => State::Expired,
        ChangeLink::Unknown => State::Unknown,
    }
}

/// The page the emailed link opens: what confirming would do, or why it cannot.
pub async fn confirm_page(
    token: web::Path<String>,
    session: Session,
    signed_in: MaybeSignedIn,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let token = token.into_inner();
    let lookup = token.clone();
    let link = db.query(move |conn| email_change::link(conn, &lookup)).await?;
    link_page(&session, token, state_of(link, signed_in.0.as_ref()))
}

#[tracing::instrument(name = "confirm email change", skip_all)]
pub async fn confirm(
    req: HttpRequest,
    token: web::Path<String>,
    signed_in: MaybeSignedIn,
    db: web::Data<Db>,
    identity: web::Data<Identity>,
    site: web::Data<Site>,
    outbox: web::Data<OutboxSignal>,
) -> Result<HttpResponse, AppError> {
    let (token, session) = (token.into_inner(), req.get_session());
    let (used, client, base_url) = (token.clone(), crate::http::client_address(&req), site.base_url.clone());
    let confirmed = identity
        .commit(move |conn| {
            let asking = Asking { base_url: &base_url, client_address: &client };
            email_change::confirm(conn, &used, asking)
        })
        .await?;
    match confirmed {
        Ok(confirmed) => {
            outbox.wake();
            tracing::info!(user_id = confirmed.user_id, "email address changed");
            let done = format!("Your email address is now {}. Sign in with it from now on.", confirmed.email);
            match signed_in.0 {
                Some(me) if me.user.id == confirmed.user_id => {
                    session::push_flash(&me.session, Flash::success(done));
                    Ok(see_other("/account"))
                }
                _ => {
                    session::push_flash(&session, Flash::success(done));
                    Ok(see_other("/account/email/confirmed"))
                }
            }
        }
        Err(ConfirmError::Dead) => {
            // Say why: used, replaced, expired or unknown.
            let lookup = token.clone();
            let link = db.query(move |conn| email_change::link(conn, &lookup)).await?;
            let state = match state_of(link, None) {
                // Not live for this request, whatever it is now.
                State::Confirm { .. } | State::Taken { .. } | State::Refused { .. } => State::Unknown,
                other => other,
            };
            link_page(&session, token, state)
        }
        Err(ConfirmError::Taken(email)) => link_page(&session, token, State::Taken { email }),
        Err(ConfirmError::Refused(email, reason)) => link_page(&session, token, State::Refused { email, reason }),
        Err(ConfirmError::Db(e)) => Err(AppError::internal(e)),
    }
}

/// Where a browser not signed in to the account lands after confirming.
pub async fn confirmed(session: Session) -> Result<HttpResponse, AppError> {
    let messages = session::take_flashes(&session).into_iter().map(|f| f.message).collect();
    link_page(&session, String::new(), State::Done { messages })
}
