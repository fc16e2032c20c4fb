//! Leaving a team (any member, never the last admin), after a confirmation page.

use crate::auth::session::{self, Flash};
use crate::db::Db;
use crate::domain::Role;
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
    /// The person is the team's only admin: leaving is shown disabled, with what to do.
    last_admin: bool,
    /// …and its only member.
    alone: bool,
}

pub async fn confirm(auth: Authorized<need::LeaveTeam>, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let (account_id, user_id) = (auth.account.id, auth.signed_in.user.id);
    let (last_admin, alone) = if auth.role == Role::Admin {
        db.query(move |conn| members::sole_admin(conn, account_id, user_id)).await?
    } else {
        (false, false)
    };
    let page = LeavePage {
        last_admin,
        alone,
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
