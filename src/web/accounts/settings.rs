//! Account settings: the name (admins only).

use super::super::error::AppError;
use super::super::extract::{Authorized, need};
use super::super::layout::Layout;
use super::super::render::{page_with_status, see_other};
use crate::auth::session::{self, Flash};
use crate::domain::TeamName;
use crate::identity::Identity;
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
    archived: bool,
    team: String,
    name: String,
    error: Option<String>,
    archive_error: Option<String>,
}

#[derive(Deserialize)]
pub struct RenameForm {
    name: String,
}

fn page<P>(auth: &Authorized<P>, name: String, error: Option<String>) -> SettingsPage {
    SettingsPage {
        layout: Layout::for_account(auth, "Settings", "/settings"),
        slug: auth.account.slug.clone(),
        personal: auth.account.is_personal(),
        archived: auth.account.is_archived(),
        team: auth.account.name.clone(),
        name,
        error,
        archive_error: None,
    }
}

pub async fn show(auth: Authorized<need::ViewAdmin>) -> Result<HttpResponse, AppError> {
    let name = auth.account.name.clone();
    page_with_status(StatusCode::OK, &page(&auth, name, None))
}

#[tracing::instrument(name = "rename account", skip_all, fields(account_id = auth.account.id))]
pub async fn rename(
    auth: Authorized<need::ManageTeam>,
    form: web::Form<RenameForm>,
    identity: web::Data<Identity>,
) -> Result<HttpResponse, AppError> {
    let typed = form.into_inner().name;
    let name = match TeamName::parse(&typed) {
        Ok(name) => name,
        Err(e) => return page_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page(&auth, typed, Some(e.to_string()))),
    };
    let (account, actor) = (auth.account.clone(), auth.actor());
    let renamed = {
        let name = name.clone();
        identity.commit(move |conn| teams::rename(conn, &account, &actor, &name)).await?
    };
    match renamed {
        Ok(()) => {
            session::push_flash(&auth.signed_in.session, Flash::success(format!("Renamed to {name}.")));
            Ok(see_other(&format!("/a/{}/settings", auth.account.slug)))
        }
        Err(e @ TeamError::DuplicateName(_)) => {
            page_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page(&auth, typed, Some(e.to_string())))
        }
        Err(e @ (TeamError::Archived | TeamError::Unverified)) => Err(AppError::Forbidden(e.to_string())),
        Err(TeamError::AccountGone) => Err(AppError::SignInRequired),
        Err(TeamError::Db(e)) => Err(AppError::internal(e)),
    }
}

#[derive(Deserialize)]
pub struct ArchiveForm {
    #[serde(default)]
    confirm_name: String,
}

/// Archives the team after its name was typed: read-only for good.
#[tracing::instrument(name = "archive team", skip_all, fields(account_id = auth.account.id))]
pub async fn archive(
    auth: Authorized<need::ManageTeam>,
    form: web::Form<ArchiveForm>,
    identity: web::Data<Identity>,
) -> Result<HttpResponse, AppError> {
    let (account, actor, typed) = (auth.account.clone(), auth.actor(), form.into_inner().confirm_name);
    let archived = identity.commit(move |conn| teams::archive(conn, &account, &actor, &typed)).await?;
    match archived {
        Ok(()) => {
            session::push_flash(
                &auth.signed_in.session,
                Flash::success(format!(
                    "{} is archived. It is read-only and its pending invites were cancelled.",
                    auth.account.name
                )),
            );
            Ok(see_other(&auth.base_path()))
        }
        Err(teams::ArchiveError::Db(e)) => Err(AppError::internal(e)),
        Err(e) => {
            let mut page = page(&auth, auth.account.name.clone(), None);
            page.archive_error = Some(e.to_string());
            page_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}
