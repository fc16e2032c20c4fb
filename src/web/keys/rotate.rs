//! Rotating a key from the keys page: the grace is chosen in a dialog (or, without
//! JavaScript, on a confirmation page); the new secret is shown once as on creation; "Retire
//! the old secret now" ends the grace early.

use super::{KeyRow, find_row, show_once};
use crate::auth::session::{self, Flash};
use crate::db::Db;
use crate::domain::{Grace, When};
use crate::identity::Identity;
use crate::service::keys::{KeyError, rotation};
use crate::web::error::AppError;
use crate::web::extract::{Authorized, need};
use crate::web::layout::Layout;
use crate::web::render::{page_with_status, see_other};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "keys/rotate.html")]
struct RotatePage {
    layout: Layout,
    base: String,
    csrf: String,
    key: KeyRow,
}

pub async fn confirm_rotate(
    auth: Authorized<need::ManageKeys>,
    path: web::Path<(String, i64)>,
    db: web::Data<Db>,
) -> Result<HttpResponse, AppError> {
    let key = find_row(&db, auth.account.id, path.into_inner().1).await?;
    let page = RotatePage {
        layout: Layout::for_account(&auth, format!("Rotate {}", key.name), "/keys"),
        base: auth.base_path(),
        csrf: session::csrf_token(&auth.signed_in.session),
        key,
    };
    page_with_status(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct RotateForm {
    grace: String,
}

#[tracing::instrument(name = "rotate key", skip_all, fields(account_id = auth.account.id))]
pub async fn rotate(
    auth: Authorized<need::ManageKeys>,
    path: web::Path<(String, i64)>,
    form: web::Form<RotateForm>,
    identity: web::Data<Identity>,
) -> Result<HttpResponse, AppError> {
    let grace = Grace::parse(&form.grace).map_err(AppError::BadRequest)?;
    let (account_id, actor, key_id) = (auth.account.id, auth.actor(), path.into_inner().1);
    match identity.commit(move |conn| rotation::rotate(conn, account_id, &actor, key_id, grace)).await? {
        Ok((key, secret)) => show_once(&auth, key.account_id, key.name, secret, true),
        Err(e) => Err(failed(e)),
    }
}

pub async fn retire(
    auth: Authorized<need::ManageKeys>,
    path: web::Path<(String, i64)>,
    identity: web::Data<Identity>,
) -> Result<HttpResponse, AppError> {
    let (account_id, actor, key_id) = (auth.account.id, auth.actor(), path.into_inner().1);
    let key = identity
        .commit(move |conn| rotation::retire_old_secret(conn, account_id, &actor, key_id))
        .await?
        .map_err(failed)?;
    session::push_flash(
        &auth.signed_in.session,
        Flash::success(format!(
            "The old secret of {} was retired at {}. Only {} works now.",
            key.name,
            When::from_ms(key.previous_until.unwrap_or_default()).text,
            key.masked()
        )),
    );
    Ok(see_other(&format!("{}/keys", auth.base_path())))
}

fn failed(e: KeyError) -> AppError {
    match e {
        KeyError::Db(e) => AppError::internal(e),
        KeyError::NotFound => AppError::NotFound,
        KeyError::Invalid(m) => AppError::BadRequest(m),
        KeyError::Archived => AppError::Forbidden(e.to_string()),
    }
}
