//! Changing one's password: the current one typed again (a wrong one counts as a sign-in
//! guess), the new one as sign-up takes it. Every other browser signed in as the person is
//! signed out at its next request, this one stays; the CLI's login tokens go too when asked.

use super::{Forms, reauth, render};
use crate::auth::session::{self, Flash};
use crate::auth::{HashError, PasswordHasher};
use crate::db::Db;
use crate::domain::NewPassword;
use crate::identity::Identity;
use crate::service::profile::{self, ProfileError, counted};
use crate::web::error::AppError;
use crate::web::extract::SignedIn;
use crate::web::render::see_other;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    /// The checkbox: present when ticked.
    revoke_tokens: Option<String>,
}

#[tracing::instrument(name = "change password", skip_all, fields(user_id = user.user.id))]
pub async fn change(
    req: HttpRequest,
    user: SignedIn,
    form: web::Form<PasswordForm>,
    db: web::Data<Db>,
    hasher: web::Data<PasswordHasher>,
    identity: web::Data<Identity>,
) -> Result<HttpResponse, AppError> {
    let PasswordForm { current_password, new_password, revoke_tokens } = form.into_inner();
    let revoke_tokens = revoke_tokens.is_some();
    let refused = |current: Option<String>, new: Option<String>| Forms {
        current_password_error: current,
        new_password_error: new,
        revoke_tokens,
        ..Forms::default()
    };
    let new_password = match NewPassword::parse(new_password) {
        Ok(password) => password,
        Err(e) => {
            return render(&user, &db, refused(None, Some(e.to_string())), StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let wrong = "That is not your current password.";
    if let Err(refusal) = reauth::check(&req, &user, current_password, wrong).await? {
        let page = render(&user, &db, refused(Some(refusal.message.clone()), None), refusal.status).await?;
        return Ok(refusal.answer(page));
    }
    let hash = match hasher.hash(new_password.into_inner()).await {
        Ok(hash) => hash,
        Err(HashError::Busy) => {
            let busy = reauth::busy();
            let page = render(&user, &db, refused(None, Some(busy.message.clone())), busy.status).await?;
            return Ok(busy.answer(page));
        }
        Err(e) => return Err(AppError::internal(e)),
    };
    let (user_id, keep, client, (_, now)) =
        (user.user.id, user.signed_in.id, crate::http::client_address(&req), identity.session_lifetimes());
    let changed = identity
        .commit(move |conn| profile::change_password(conn, user_id, keep, &hash, revoke_tokens, &client, now))
        .await?;
    match changed {
        Ok(changed) => {
            tracing::info!(user_id, sessions_ended = changed.sessions_ended, "password changed");
            let mut message = "Password changed. You were signed out everywhere else.".to_owned();
            if revoke_tokens {
                message.push_str(&format!(
                    " {} revoked.",
                    capitalized(&counted(changed.tokens_revoked, "CLI token was", "CLI tokens were"))
                ));
            }
            session::push_flash(&user.session, Flash::success(message));
            Ok(see_other("/account"))
        }
        Err(ProfileError::Gone) => Err(AppError::SignInRequired),
        Err(e) => Err(AppError::internal(e)),
    }
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}
