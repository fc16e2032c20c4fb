//! Sign-up: the user and their personal account, then signed in and on that account. Sign-ups
//! are limited per client address (each costs a password hash and an account).

use super::super::error::AppError;
use super::super::extract::MaybeSignedIn;
use super::super::layout::Head;
use super::super::render::{page_with_status, retry_after, safe_next, see_other};
use super::login::with_cookie;
use crate::auth::session::{self, Flash};
use crate::auth::{HashError, Limits, PasswordHasher};
use crate::db::Db;
use crate::domain::{EmailAddress, PersonName};
use crate::service::users::{self, SignUpError};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

const MIN_PASSWORD_CHARS: usize = 8;
const MAX_PASSWORD_CHARS: usize = 256;

/// What is wrong with a new password (sign-up, reset), if anything.
pub(super) fn password_error(password: &str) -> Option<String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        Some(format!("Use at least {MIN_PASSWORD_CHARS} characters."))
    } else if chars > MAX_PASSWORD_CHARS {
        Some(format!("Use at most {MAX_PASSWORD_CHARS} characters."))
    } else {
        None
    }
}

#[derive(Default)]
struct Errors {
    form: Option<String>,
    name: Option<String>,
    email: Option<String>,
    password: Option<String>,
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
    session: Session,
    form: web::Form<SignupForm>,
    db: web::Data<Db>,
    hasher: web::Data<PasswordHasher>,
    limits: web::Data<Limits>,
) -> Result<HttpResponse, AppError> {
    let db_for_invite = db.clone();
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

    let parsed_name = PersonName::parse(&name);
    let parsed_email = EmailAddress::parse(&email);
    let password_error = password_error(&password);
    let (person, address) = match (parsed_name, parsed_email, password_error) {
        (Ok(person), Ok(address), None) => (person, address),
        (n, e, p) => {
            let errors = Errors {
                form: None,
                name: n.err().map(|e| e.to_string()),
                email: e.err().map(|e| e.to_string()),
                password: p,
            };
            return again(StatusCode::UNPROCESSABLE_ENTITY, errors);
        }
    };

    if let Err(refused) = limits.sign_up(&crate::http::client_address(&req)).await? {
        let errors = Errors { form: Some(refused.message()), ..Errors::default() };
        return Ok(retry_after(again(StatusCode::TOO_MANY_REQUESTS, errors)?, refused.seconds()));
    }
    let hash = match hasher.hash(password).await {
        Ok(hash) => hash,
        Err(HashError::Busy) => {
            let errors = Errors {
                form: Some("Many people are signing up right now. Try again in a few seconds.".into()),
                ..Errors::default()
            };
            return Ok(retry_after(again(StatusCode::TOO_MANY_REQUESTS, errors)?, 2));
        }
        Err(e) => return Err(AppError::internal(e)),
    };
    let result = {
        let (person, address) = (person.clone(), address.clone());
        db.run(move |conn| Ok::<_, AppError>(users::sign_up(conn, &person, &address, &hash))).await?
    };
    match result {
        Ok(signed_up) => {
            let cookie = super::sign_in(&req, &session, signed_up.user.id).await?;
            tracing::info!(user_id = signed_up.user.id, "signed up");
            // Signed up from an invite: accept it at once and land in the team (welcomed to
            // it, not told to create a team of their own).
            if let Some((slug, message)) =
                crate::web::invites::accept_from_next(&db_for_invite, &session, &signed_up.user, &next).await?
            {
                let welcome = format!("Welcome to Teamdeck, {}.", person.as_str());
                session::push_flash(&session, Flash::success(welcome));
                session::push_flash(&session, Flash::success(message));
                return Ok(with_cookie(see_other(&format!("/a/{slug}")), &cookie));
            }
            session::push_flash(
                &session,
                Flash::success(format!(
                    "Welcome to Teamdeck, {}. This is your personal account; create a team to share keys and billing with others.",
                    person.as_str()
                )),
            );
            let home = format!("/a/{}", signed_up.personal_slug);
            Ok(with_cookie(see_other(if next.is_empty() { &home } else { &next }), &cookie))
        }
        Err(SignUpError::EmailTaken) => {
            let errors = Errors { email: Some(SignUpError::EmailTaken.to_string()), ..Errors::default() };
            again(StatusCode::UNPROCESSABLE_ENTITY, errors)
        }
        Err(SignUpError::Db(e)) => Err(AppError::internal(e)),
    }
}
