//! `/device`: where a signed-in person confirms the code their terminal shows
//! (`teamdeck auth login`), and revoking a login token (listed on `/account/sessions`).

use super::error::AppError;
use super::extract::SignedIn;
use super::layout::Layout;
use super::render::{page_with_status, see_other};
use crate::auth::session::{self, Flash};
use crate::db::Db;
use crate::identity::Identity;
use crate::service::tokens::{self, DeviceError};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "device/page.html")]
struct DevicePage {
    layout: Layout,
    code: String,
    device: Option<String>,
    error: Option<String>,
    done: Option<String>,
}

#[derive(Deserialize)]
pub struct CodeQuery {
    #[serde(default)]
    code: String,
}

pub async fn show(user: SignedIn, query: web::Query<CodeQuery>, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let code = query.into_inner().code;
    let lookup = code.clone();
    let device =
        if code.is_empty() { None } else { db.query(move |conn| tokens::pending_device(conn, &lookup)).await? };
    let error = (!code.is_empty() && device.is_none()).then(|| DeviceError::Unusable.to_string());
    let page = DevicePage { layout: Layout::for_user(&user, "Confirm a device"), code, device, error, done: None };
    page_with_status(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct Decision {
    user_code: String,
    decision: String,
}

pub async fn decide(user: SignedIn, form: web::Form<Decision>, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let Decision { user_code, decision } = form.into_inner();
    let approve = decision == "approve";
    let (code, user_id) = (user_code.clone(), user.user.id);
    let decided = db.run(move |conn| Ok::<_, AppError>(tokens::decide(conn, &code, user_id, approve))).await?;
    let (status, page) = match decided {
        Ok(device) => {
            let done = if approve {
                format!("{device} is signed in as {}. Go back to your terminal.", user.user.email)
            } else {
                format!("The login of {device} was denied. Nothing was signed in.")
            };
            (
                StatusCode::OK,
                DevicePage {
                    layout: Layout::for_user(&user, "Confirm a device"),
                    code: user_code,
                    device: None,
                    error: None,
                    done: Some(done),
                },
            )
        }
        Err(DeviceError::Db(e)) => return Err(AppError::internal(e)),
        Err(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            DevicePage {
                layout: Layout::for_user(&user, "Confirm a device"),
                code: user_code,
                device: None,
                error: Some(e.to_string()),
                done: None,
            },
        ),
    };
    page_with_status(status, &page)
}

pub async fn revoke(
    user: SignedIn,
    path: web::Path<i64>,
    identity: web::Data<Identity>,
) -> Result<HttpResponse, AppError> {
    let (user_id, token_id) = (user.user.id, path.into_inner());
    if !identity.commit(move |conn| tokens::revoke(conn, user_id, token_id)).await?? {
        return Err(AppError::NotFound);
    }
    session::push_flash(&user.session, Flash::success("Token revoked. The device using it is signed out."));
    Ok(see_other("/account/sessions#tokens"))
}
