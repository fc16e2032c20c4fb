//! `/`: back to the account used last, else the personal account.

use super::extract::SignedIn;
use super::render::see_other;
use crate::auth::session;
use actix_web::HttpResponse;

pub async fn show(user: SignedIn) -> HttpResponse {
    let last = session::last_account(&user.session);
    let target = user
        .accounts
        .iter()
        .find(|m| Some(&m.account.slug) == last.as_ref() && !m.account.is_archived())
        .or_else(|| user.personal());
    match target {
        Some(m) => see_other(&format!("/a/{}", m.account.slug)),
        None => see_other("/teams/new"),
    }
}
