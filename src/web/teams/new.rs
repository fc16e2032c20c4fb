//! "Create team": the creator becomes its admin and lands in it at once.

use super::super::error::AppError;
use super::super::extract::SignedIn;
use super::super::layout::Layout;
use super::super::render::{page_with_status, see_other};
use crate::auth::session::{self, Flash};
use crate::db::Db;
use crate::domain::{Slug, TeamName};
use crate::service::accounts;
use crate::service::teams::{self, TeamError};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "teams/new.html")]
struct NewTeamPage {
    layout: Layout,
    name: String,
    error: Option<String>,
    /// The rendered [`AddressPreview`].
    preview: String,
}

#[derive(Deserialize)]
pub struct NewTeamForm {
    name: String,
}

/// The line under the name field that previews the team's address.
#[derive(Template)]
#[template(path = "teams/_address.html")]
struct AddressPreview {
    /// `None` while the field is empty.
    address: Option<Preview>,
}

enum Preview {
    /// The address the name gives (with a suffix when that one is taken).
    Named(String),
    /// The name gives no letters or digits: a short random address.
    Random,
}

async fn preview(db: &Db, typed: &str) -> Result<AddressPreview, AppError> {
    if typed.trim().is_empty() {
        return Ok(AddressPreview { address: None });
    }
    let Some(base) = Slug::suggest(typed) else {
        return Ok(AddressPreview { address: Some(Preview::Random) });
    };
    let slug = db.query(move |conn| accounts::free_slug(conn, &base)).await?;
    Ok(AddressPreview { address: Some(Preview::Named(slug)) })
}

#[derive(Deserialize)]
pub struct AddressQuery {
    #[serde(default)]
    name: String,
}

/// `GET /teams/new/address?name=…`: the preview line for the name typed so far (htmx).
pub async fn address(query: web::Query<AddressQuery>, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let typed: String = query.into_inner().name.chars().take(TeamName::MAX_CHARS * 2).collect();
    let body = preview(&db, &typed).await?.render().map_err(AppError::internal)?;
    Ok(super::super::render::fragment(body))
}

pub async fn show(user: SignedIn) -> Result<HttpResponse, AppError> {
    let page = NewTeamPage {
        layout: Layout::for_user(&user, "Create a team"),
        name: String::new(),
        error: None,
        preview: AddressPreview { address: None }.render().map_err(AppError::internal)?,
    };
    page_with_status(StatusCode::OK, &page)
}

#[tracing::instrument(name = "create team", skip_all, fields(user_id = user.user.id))]
pub async fn submit(user: SignedIn, form: web::Form<NewTeamForm>, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let typed = form.into_inner().name;
    let shown = preview(&db, &typed).await?.render().map_err(AppError::internal)?;
    let again = |error: String| {
        let page = NewTeamPage {
            layout: Layout::for_user(&user, "Create a team"),
            name: typed.clone(),
            error: Some(error),
            preview: shown,
        };
        page_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
    };
    let name = match TeamName::parse(&typed) {
        Ok(name) => name,
        Err(e) => return again(e.to_string()),
    };
    let (creator, creator_name) = (user.user.id, user.user.name.clone());
    let created = {
        let name = name.clone();
        db.run(move |conn| Ok::<_, AppError>(teams::create(conn, creator, &creator_name, &name))).await?
    };
    match created {
        Ok(team) => {
            session::remember_account(&user.session, &team.slug);
            session::push_flash(
                &user.session,
                Flash::success(format!("Team {} created. You are its admin and are now working in it.", team.name)),
            );
            tracing::info!(account_id = team.id, "team created");
            Ok(see_other(&format!("/a/{}", team.slug)))
        }
        Err(TeamError::DuplicateName(_)) => again(created.unwrap_err().to_string()),
        Err(e @ (TeamError::Archived | TeamError::Unverified)) => Err(AppError::Forbidden(e.to_string())),
        Err(TeamError::AccountGone) => Err(AppError::SignInRequired),
        Err(TeamError::Db(e)) => Err(AppError::internal(e)),
    }
}
