//! Deleting the account: the password asked again (and a second-factor code, when the
//! session's last one is more than ten minutes old), refused while the person is the only
//! admin of a team (the page lists those teams and what to do).

use super::{Forms, reauth, render};
use crate::db::Db;
use crate::identity::Identity;
use crate::service::users::{self, DeleteError};
use crate::web::error::AppError;
use crate::web::extract::SignedIn;
use crate::web::render::see_other;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    password: String,
    /// A current second-factor code, asked when the session's last one is not fresh.
    #[serde(default)]
    code: String,
}

#[tracing::instrument(name = "delete account", skip_all, fields(user_id = user.user.id))]
pub async fn delete(
    req: HttpRequest,
    user: SignedIn,
    form: web::Form<DeleteForm>,
    db: web::Data<Db>,
    identity: web::Data<Identity>,
) -> Result<HttpResponse, AppError> {
    let wrong = "That is not your password. Enter it to confirm.";
    let DeleteForm { password, code } = form.into_inner();
    if let Err(refusal) = reauth::check(&req, &user, password, wrong).await? {
        let forms = Forms { delete_error: Some(refusal.message.clone()), ..Forms::default() };
        return Ok(refusal.answer(render(&user, &db, forms, refusal.status).await?));
    }
    if let Err(refusal) = reauth::fresh_factor(&req, &user, &code).await? {
        let forms = Forms { delete_error: Some(refusal.message.clone()), ..Forms::default() };
        return Ok(refusal.answer(render(&user, &db, forms, refusal.status).await?));
    }
    let user_id = user.user.id;
    match identity.commit(move |conn| users::delete_account(conn, user_id)).await? {
        Ok(()) => {
            tracing::info!(user_id, "account deleted");
            // Every session of the account ended with it; this browser forgets its cookie.
            let cookie = crate::web::auth::sign_out(&req, &user.session).await?;
            let mut response = see_other("/login?deleted=1");
            let _ = response.add_cookie(&cookie);
            Ok(response)
        }
        // The page lists the teams and what to do.
        Err(DeleteError::OnlyAdmin(_)) => render(&user, &db, Forms::default(), StatusCode::CONFLICT).await,
        Err(DeleteError::Gone) => Err(AppError::SignInRequired),
        Err(DeleteError::Db(e)) => Err(AppError::internal(e)),
    }
}
