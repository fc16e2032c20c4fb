use super::super::render::see_other;
use crate::auth::session;
use actix_session::Session;
use actix_web::HttpResponse;

/// Ends the session (the cookie is cleared) and goes to the sign-in page.
pub async fn submit(session: Session) -> HttpResponse {
    session::sign_out(&session);
    see_other("/login?signed_out=1")
}
