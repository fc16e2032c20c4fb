//! The signed-in person's own account (`/account`): who they are, and deleting the account
//! (their password asked again; refused while they are the only admin of a team).

use super::error::AppError;
use super::extract::SignedIn;
use super::layout::Layout;
use super::render::{page_with_status, retry_after, see_other};
use crate::auth::{HashError, Limits, PasswordHasher};
use crate::db::Db;
use crate::identity::Identity;
use crate::service::users::{self, DeleteError, HeldBy};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "account/page.html")]
struct AccountPage {
    layout: Layout,
    name: String,
    email: String,
    teams: usize,
    error: Option<String>,
    /// The teams the person is the only admin of, when that refused the deletion.
    held: Vec<HeldBy>,
}

fn page(
    user: &SignedIn,
    error: Option<String>,
    held: Vec<HeldBy>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let page = AccountPage {
        layout: Layout::for_user(user, "Your account"),
        name: user.user.name.clone(),
        email: user.user.email.clone(),
        teams: user.accounts.iter().filter(|m| !m.account.is_personal() && !m.account.is_archived()).count(),
        error,
        held,
    };
    page_with_status(status, &page)
}

pub async fn show(user: SignedIn, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let user_id = user.user.id;
    let (_, held) = db.query(move |conn| users::teams_held(conn, user_id, false)).await?;
    page(&user, None, held, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    password: String,
}

#[tracing::instrument(name = "delete account", skip_all, fields(user_id = user.user.id))]
pub async fn delete(
    req: HttpRequest,
    user: SignedIn,
    form: web::Form<DeleteForm>,
    db: web::Data<Db>,
    hasher: web::Data<PasswordHasher>,
    limits: web::Data<Limits>,
    identity: web::Data<Identity>,
) -> Result<HttpResponse, AppError> {
    // Guessing the password here counts as guessing it at sign-in (a stolen session must not
    // make it a free oracle).
    let email = user.user.email.trim().to_lowercase();
    let client = crate::http::client_address(&req);
    let guess = match limits.password_guess(&email, &client).await? {
        Ok(guess) => guess,
        Err(refused) => {
            let message = format!("Too many wrong passwords from this network. {}", refused.try_again());
            let page = page(&user, Some(message), Vec::new(), StatusCode::TOO_MANY_REQUESTS)?;
            return Ok(retry_after(page, refused.seconds()));
        }
    };
    guess.wait().await;
    let lookup = email.clone();
    let stored = db.query(move |conn| users::credentials(conn, &lookup)).await?;
    let checked = hasher.verify(form.into_inner().password, stored.map(|(_, phc)| phc)).await;
    match &checked {
        Ok(false) => limits.wrong_password(guess).await?,
        _ => limits.give_back(guess).await?,
    }
    match checked {
        Ok(true) => {}
        Ok(false) => {
            let wrong = "That is not your password. Enter it to confirm.".to_owned();
            return page(&user, Some(wrong), Vec::new(), StatusCode::UNPROCESSABLE_ENTITY);
        }
        Err(HashError::Busy) => {
            let busy = "The server is busy checking passwords. Try again in a few seconds.".to_owned();
            return page(&user, Some(busy), Vec::new(), StatusCode::TOO_MANY_REQUESTS);
        }
        Err(e) => return Err(AppError::internal(e)),
    }
    let user_id = user.user.id;
    match identity.commit(move |conn| users::delete_account(conn, user_id)).await? {
        Ok(()) => {
            tracing::info!(user_id, "account deleted");
            // Every session of the account ended with it; this browser forgets its cookie.
            let cookie = super::auth::sign_out(&req, &user.session).await?;
            let mut response = see_other("/login?deleted=1");
            let _ = response.add_cookie(&cookie);
            Ok(response)
        }
        // The list on the page says which teams and what to do.
        Err(DeleteError::OnlyAdmin(held)) => page(&user, None, held, StatusCode::CONFLICT),
        Err(DeleteError::Gone) => Err(AppError::SignInRequired),
        Err(DeleteError::Db(e)) => Err(AppError::internal(e)),
    }
}
