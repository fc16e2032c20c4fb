//! `/`: back to the account used last, else the personal account.

use super::extract::SignedIn;
use super::render::see_other;
use actix_web::HttpResponse;

pub async fn show(user: SignedIn) -> HttpResponse {
    match user.working_in() {
        Some(m) => see_other(&format!("/a/{}", m.account.slug)),
        None => see_other("/teams/new"),
    }
}
