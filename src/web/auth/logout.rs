use super::super::render::{safe_next, see_other};
use super::login::with_cookie;
use crate::http::AppError;
use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    next: String,
}

/// Ends the session (on every instance; the cookie is cleared) and goes to the sign-in page,
/// which leads on to `next` (e.g. an invite for another address).
pub async fn submit(req: HttpRequest, session: Session, form: web::Form<LogoutForm>) -> Result<HttpResponse, AppError> {
    let cookie = super::sign_out(&req, &session).await?;
    let to = match safe_next(Some(&form.next)).as_str() {
        "" => see_other("/login?signed_out=1"),
        next => see_other(&format!(
            "/login?{}",
            serde_urlencoded::to_string([("signed_out", "1"), ("next", next)]).unwrap_or_default()
        )),
    };
    Ok(with_cookie(to, &cookie))
}
