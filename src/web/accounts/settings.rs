//! Account settings: the name (admins only).

use super::super::error::AppError;
use super::super::extract::{Authorized, need};
use super::super::layout::Layout;
use super::super::render::{page_with_status, see_other};
use crate::auth::session::{self, Flash};
use crate::db::Db;
use crate::domain::TeamName;
use crate::service::teams::{self, TeamError};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "accounts/settings.html")]
struct SettingsPage {
    layout: Layout,
    slug: String,
    personal: bool,
    name: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct RenameForm {
    name: String,
}

fn page(auth: &Authorized<need::ManageTeam>, name: String, error: Option<String>) -> SettingsPage {
    SettingsPage {
        layout: Layout::for_account(auth, "Settings", "/settings"),
        slug: auth.account.slug.clone(),
        personal: auth.account.is_personal(),
        name,
        error,
    }
}

pub async fn show(auth: Authorized<need::ManageTeam>) -> Result<HttpResponse, AppError> {
    let name = auth.account.name.clone();
    page_with_status(StatusCode::OK, &page(&auth, name, None))
}

#[tracing::instrument(name = "rename account", skip_all, fields(account_id = auth.account.id))]
pub async fn rename(
    auth: Authorized<need::ManageTeam>,
    form: web::Form<RenameForm>,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let typed = form.into_inner().name;
    let name = match TeamName::parse(&typed) {
        Ok(name) => name,
        Err(e) => return page_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page(&auth, typed, Some(e.to_string()))),
    };
    let (account_id, user_id) = (auth.account.id, auth.signed_in.user.id);
    let renamed = {
        let name = name.clone();
        db.run(move |conn| Ok::<_, AppError>(teams::rename(conn, account_id, user_id, &name))).await?
    };
    match renamed {
        Ok(()) => {
            session::push_flash(&auth.signed_in.session, Flash::success(format!("Renamed to {name}.")));
            Ok(see_other(&format!("/a/{}/settings", auth.account.slug)))
        }
        Err(e @ TeamError::DuplicateName(_)) => {
            page_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page(&auth, typed, Some(e.to_string())))
        }
        Err(TeamError::Db(e)) => Err(AppError::internal(e)),
    }
}
