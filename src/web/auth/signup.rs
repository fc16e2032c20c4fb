//! Sign-up. Valid input is answered with the same "Check your email" page whether or not the
//! address has an account (`service::registration` emails a verification link, or a note to
//! the address's owner), and nobody is signed in: the address is proven first. A sign-up
//! from an invitation to the same address is proven by it: signed in, and in the team.
//! Sign-ups are limited per client address (each costs a password hash and an account), and
//! the emails per address.

use super::super::error::AppError;
use super::super::extract::MaybeSignedIn;
use super::super::layout::Head;
use super::super::render::{page_with_status, retry_after, safe_next, see_other};
use super::login::with_cookie;
use crate::auth::session::{self, Flash};
use crate::auth::{HashError, Limits, PasswordHasher};
use crate::db::Db;
use crate::domain::{EmailAddress, NewPassword, PersonName};
use crate::http::Site;
use crate::service::outbox::OutboxSignal;
use crate::service::registration::{self, Registered, Registration};
use crate::web::invites;
use actix_session::{Session, SessionExt};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

/// What is wrong with a new password (sign-up, reset), if anything: the rules of
/// [`NewPassword`], which a password change parses too.
pub(super) fn password_error(password: &str) -> Option<String> {
    NewPassword::parse(password.to_owned()).err().map(|e| e.to_string())
}

#[derive(Default)]
struct Errors {
    form: Option<String>,
    name: Option<String>,
    email: Option<String>,
    password: Option<String>,
}

impl Errors {
    fn form(message: &str) -> Self {
        Self { form: Some(message.to_owned()), ..Self::default() }
    }
}

#[derive(Template)]
#[template(path = "auth/signup.html")]
struct SignupPage {
    head: Head,
    csrf: String,
    name: String,
    email: String,
    next: String,
    errors: Errors,
}

/// The answer to every valid sign-up (see the module doc): the same bytes for an address
/// with an account as for a new one.
#[derive(Template)]
#[template(path = "auth/check_email.html")]
struct CheckEmailPage {
    head: Head,
    email: String,
}

#[derive(Deserialize)]
pub struct SignupQuery {
    next: Option<String>,
    email: Option<String>,
}

#[derive(Deserialize)]
pub struct SignupForm {
    name: String,
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

pub async fn show(
    session: Session,
    signed_in: MaybeSignedIn,
    query: web::Query<SignupQuery>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(query.next.as_deref());
    if signed_in.0.is_some() {
        return Ok(see_other(if next.is_empty() { "/" } else { &next }));
    }
    let page = SignupPage {
        head: Head::new("Create your account"),
        csrf: session::csrf_token(&session),
        name: String::new(),
        email: query.email.clone().unwrap_or_default(),
        next,
        errors: Errors::default(),
    };
    page_with_status(StatusCode::OK, &page)
}

#[tracing::instrument(name = "sign up", skip_all)]
pub async fn submit(
    req: HttpRequest,
    form: web::Form<SignupForm>,
    db: web::Data<Db>,
    hasher: web::Data<PasswordHasher>,
    limits: web::Data<Limits>,
    site: web::Data<Site>,
    outbox: web::Data<OutboxSignal>,
) -> Result<HttpResponse, AppError> {
    let session = req.get_session();
    let SignupForm { name, email, password, next } = form.into_inner();
    let next = safe_next(Some(&next));
    let again = |status: StatusCode, errors: Errors| {
        let page = SignupPage {
            head: Head::new("Create your account"),
            csrf: session::csrf_token(&session),
            name: name.clone(),
            email: email.clone(),
            next: next.clone(),
            errors,
        };
        page_with_status(status, &page)
    };
    let (person, address) = match parse(&name, &email, &password) {
        Ok(parsed) => parsed,
        Err(errors) => return again(StatusCode::UNPROCESSABLE_ENTITY, errors),
    };

    let client = crate::http::client_address(&req);
    if let Err(refused) = limits.sign_up(&client).await? {
        let errors = Errors::form(&refused.message());
        return Ok(retry_after(again(StatusCode::TOO_MANY_REQUESTS, errors)?, refused.seconds()));
    }
    // Hashed and counted for an address with an account as for a new one: the same work.
    let hash = match hasher.hash(password).await {
        Ok(hash) => hash,
        Err(HashError::Busy) => {
            let busy = "Many people are signing up right now. Try again in a few seconds.";
            return Ok(retry_after(again(StatusCode::TOO_MANY_REQUESTS, Errors::form(busy))?, 2));
        }
        Err(e) => return Err(AppError::internal(e)),
    };
    let send_email = limits.verification_email(address.normalized()).await?.is_ok();
    let registered = {
        let (person, address, client) = (person.clone(), address.clone(), client.clone());
        let (base_url, invitation) = (site.base_url.clone(), invites::token_in(&next).map(str::to_owned));
        db.query(move |conn| {
            registration::register(
                conn,
                &Registration {
                    name: &person,
                    email: &address,
                    password_hash: &hash,
                    client_address: &client,
                    base_url: &base_url,
                    send_email,
                    invitation: invitation.as_deref(),
                },
            )
        })
        .await?
    };
    match registered {
        Registered::New(_) | Registered::Known => {
            outbox.wake();
            let page = CheckEmailPage { head: Head::new("Check your email"), email: address.as_typed().to_owned() };
            page_with_status(StatusCode::OK, &page)
        }
        Registered::Invited(signed_up) => {
            let cookie = super::sign_in(&req, &session, signed_up.user.id).await?;
            tracing::info!(user_id = signed_up.user.id, "signed up from an invitation");
            session::push_flash(&session, Flash::success(format!("Welcome to Teamdeck, {}.", person.as_str())));
            // Accepted at once, to land in the team; should the invitation have gone
            // meanwhile, its page says why.
            let to = match invites::accept_from_next(&db, &session, &signed_up.user, &next, client).await? {
                Some((slug, joined)) => {
                    session::push_flash(&session, Flash::success(joined));
                    format!("/a/{slug}")
                }
                None => next.clone(),
            };
            Ok(with_cookie(see_other(&to), &cookie))
        }
        Registered::InvitedKnown => {
            let taken = "An account with this email already exists. Sign in to accept the invitation.";
            again(StatusCode::UNPROCESSABLE_ENTITY, Errors { email: Some(taken.into()), ..Errors::default() })
        }
    }
}

/// The name and address, or what is wrong with each field.
fn parse(name: &str, email: &str, password: &str) -> Result<(PersonName, EmailAddress), Errors> {
    let password_error = password_error(password);
    match (PersonName::parse(name), EmailAddress::parse(email), password_error) {
        (Ok(person), Ok(address), None) => Ok((person, address)),
        (n, e, p) => Err(Errors {
            form: None,
            name: n.err().map(|e| e.to_string()),
            email: e.err().map(|e| e.to_string()),
            password: p,
        }),
    }
}
