//! Leaving a team (any member, never the last admin), after a confirmation page.

use crate::auth::session::{self, Flash};
use crate::identity::Identity;
use crate::service::members::{self, MemberError};
use crate::web::error::AppError;
use crate::web::extract::{Authorized, need};
use crate::web::layout::Layout;
use crate::web::render::{page_with_status, see_other};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

#[derive(Template)]
#[template(path = "members/leave.html")]
struct LeavePage {
    layout: Layout,
    base: String,
    team: String,
    csrf: String,
}

pub async fn confirm(auth: Authorized<need::LeaveTeam>) -> Result<HttpResponse, AppError> {
    let page = LeavePage {
        layout: Layout::for_account(&auth, format!("Leave {}", auth.account.name), "/members"),
        base: auth.base_path(),
        team: auth.account.name.clone(),
        csrf: session::csrf_token(&auth.signed_in.session),
    };
    page_with_status(StatusCode::OK, &page)
}

pub async fn leave(auth: Authorized<need::LeaveTeam>, identity: web::Data<Identity>) -> Result<HttpResponse, AppError> {
    let (account_id, actor) = (auth.account.id, auth.actor());
    let user_id = actor.id;
    let result = identity.commit(move |conn| members::remove(conn, account_id, &actor, user_id)).await?;
    match result {
        Ok(_) => {
            session::push_flash(&auth.signed_in.session, Flash::success(format!("You left {}.", auth.account.name)));
            Ok(see_other("/"))
        }
        Err(MemberError::Db(e)) => Err(AppError::internal(e)),
        Err(e) => {
            session::push_flash(&auth.signed_in.session, Flash::error(e.to_string()));
            Ok(see_other(&format!("{}/members", auth.base_path())))
        }
    }
}
