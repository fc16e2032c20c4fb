//! The password asked again before a change that needs it (a new email address, a new
//! password, deleting the account). A guess here counts as a guess at sign-in, from this
//! client, against the person's email: a stolen session must not make these forms a free
//! oracle for the password. The same goes for a second-factor code asked again (before a
//! change to the factors, approving a CLI login or deleting the account): wrong ones count
//! against the person's limit of wrong codes.

use crate::auth::{HashError, Limits, PasswordHasher};
use crate::db::{Db, write_transaction};
use crate::domain::Clock;
use crate::service::secrets::Sealer;
use crate::service::{profile, two_factor};
use crate::web::error::AppError;
use crate::web::extract::SignedIn;
use crate::web::render::retry_after;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

/// Why the password was not taken: the words for the field, and how to answer.
#[derive(Debug)]
pub struct Refusal {
    pub message: String,
    pub status: StatusCode,
    /// Seconds for `Retry-After`, when a limit or a busy queue refused.
    retry_after: Option<u64>,
}

impl Refusal {
    /// `page` (the form shown again with [`Refusal::message`]) with its `Retry-After`.
    pub fn answer(&self, page: HttpResponse) -> HttpResponse {
        match self.retry_after {
            Some(seconds) => retry_after(page, seconds),
            None => page,
        }
    }
}

/// Checks that `typed` is the signed-in person's password; `wrong` is what they are told when
/// it is not.
pub async fn check(
    req: &HttpRequest,
    user: &SignedIn,
    typed: String,
    wrong: &str,
) -> Result<Result<(), Refusal>, AppError> {
    let (db, hasher, limits) = (app::<Db>(req)?, app::<PasswordHasher>(req)?, app::<Limits>(req)?);
    // The key sign-in counts this email's guesses under.
    let email = crate::domain::email::normalize(&user.user.email);
    let client = crate::http::client_address(req);
    let guess = match limits.password_guess(&email, &client).await? {
        Ok(guess) => guess,
        Err(refused) => {
            return Ok(Err(Refusal {
                message: format!("Too many wrong passwords from this network. {}", refused.try_again()),
                status: StatusCode::TOO_MANY_REQUESTS,
                retry_after: Some(refused.seconds()),
            }));
        }
    };
    guess.wait().await;
    let user_id = user.user.id;
    let stored = db.query(move |conn| profile::password_hash(conn, user_id)).await?;
    let checked = hasher.verify(typed, stored).await;
    match &checked {
        Ok(false) => limits.wrong_password(guess).await?,
        _ => limits.give_back(guess).await?,
    }
    match checked {
        Ok(true) => Ok(Ok(())),
        Ok(false) => {
            Ok(Err(Refusal { message: wrong.to_owned(), status: StatusCode::UNPROCESSABLE_ENTITY, retry_after: None }))
        }
        Err(HashError::Busy) => Ok(Err(busy())),
        Err(e) => Err(AppError::internal(e)),
    }
}

/// What the app was built with (`startup` gives every handler the same).
pub(crate) fn app<T: 'static>(req: &HttpRequest) -> Result<&web::Data<T>, AppError> {
    req.app_data::<web::Data<T>>()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("no {} in the app", std::any::type_name::<T>())))
}

/// The password checks are all taken.
pub fn busy() -> Refusal {
    Refusal {
        message: "The server is busy checking passwords. Try again in a few seconds.".to_owned(),
        status: StatusCode::TOO_MANY_REQUESTS,
        retry_after: Some(2),
    }
}

/// Checks a current second-factor code (the app's, or a recovery code) typed by the signed-in
/// person. Wrong codes count against the person's limit, whatever the form; a right one makes
/// the session's second factor fresh again.
pub async fn check_code(req: &HttpRequest, user: &SignedIn, typed: &str) -> Result<Result<(), Refusal>, AppError> {
    if typed.trim().is_empty() {
        return Ok(Err(Refusal {
            message: "Enter the current code from your authenticator app (or a recovery code).".to_owned(),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            retry_after: None,
        }));
    }
    let (db, limits, sealer) = (app::<Db>(req)?, app::<Limits>(req)?, app::<Sealer>(req)?.clone().into_inner());
    let place = match limits.second_factor_guess(user.user.id).await? {
        Ok(place) => place,
        Err(refused) => {
            return Ok(Err(Refusal {
                message: refused.message(),
                status: StatusCode::TOO_MANY_REQUESTS,
                retry_after: Some(refused.seconds()),
            }));
        }
    };
    let (user_id, session_id, now, typed) =
        (user.user.id, user.signed_in.id, app::<Clock>(req)?.now_ms(), typed.to_owned());
    let passed = db
        .query(move |conn| {
            write_transaction(conn, |conn| {
                let passed = two_factor::check_code(conn, &sealer, user_id, &typed, now)?;
                if passed.is_some() {
                    two_factor::passed_on_session(conn, session_id, now)?;
                }
                Ok(passed)
            })
        })
        .await?;
    if passed.is_none() {
        return Ok(Err(Refusal {
            message: "That code doesn't match. Type the current code from your authenticator app, or a recovery code."
                .to_owned(),
            status: StatusCode::UNPROCESSABLE_ENTITY,
            retry_after: None,
        }));
    }
    limits.right_code(place).await?;
    Ok(Ok(()))
}

/// Whether the person must type a code before a sensitive action (approving a CLI login,
/// deleting the account): they have a second factor and this session last passed one more
/// than ten minutes ago, or never.
pub async fn needs_fresh_factor(req: &HttpRequest, user: &SignedIn) -> Result<bool, AppError> {
    if user.factor_fresh {
        return Ok(false);
    }
    let user_id = user.user.id;
    Ok(app::<Db>(req)?.query(move |conn| two_factor::required(conn, user_id)).await?)
}

/// A fresh second factor when one is needed: `typed` must then be a current code.
pub async fn fresh_factor(req: &HttpRequest, user: &SignedIn, typed: &str) -> Result<Result<(), Refusal>, AppError> {
    if !needs_fresh_factor(req, user).await? {
        return Ok(Ok(()));
    }
    check_code(req, user, typed).await
}
