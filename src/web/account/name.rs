//! Changing one's name. It shows at once on every members page of every team the person is
//! in, on every instance: the change moves each team's `members_version`, which every
//! request reads with the viewer's live role (`web/members/cache.rs`).

use super::{Forms, render};
use crate::auth::session::{self, Flash};
use crate::db::Db;
use crate::domain::PersonName;
use crate::identity::Identity;
use crate::service::profile::{self, ProfileError};
use crate::web::error::AppError;
use crate::web::extract::SignedIn;
use crate::web::render::see_other;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct NameForm {
    #[serde(default)]
    name: String,
}

#[tracing::instrument(name = "change name", skip_all, fields(user_id = user.user.id))]
pub async fn change(
    req: HttpRequest,
    user: SignedIn,
    form: web::Form<NameForm>,
    db: web::Data<Db>,
    identity: web::Data<Identity>,
) -> Result<HttpResponse, AppError> {
    let typed = form.into_inner().name;
    let name = match PersonName::parse(&typed) {
        Ok(name) => name,
        Err(e) => {
            let forms = Forms { name: Some(typed), name_error: Some(e.to_string()), ..Forms::default() };
            return render(&user, &db, forms, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let (user_id, client, shown) = (user.user.id, crate::http::client_address(&req), name.as_str().to_owned());
    let message = match identity.commit(move |conn| profile::change_name(conn, user_id, &name, &client)).await? {
        Ok(true) => Flash::success(format!("Your name is now “{shown}”. Your teams see it at once.")),
        Ok(false) => Flash::info(format!("Your name is already “{shown}”.")),
        Err(ProfileError::Gone) => return Err(AppError::SignInRequired),
        Err(e) => return Err(AppError::internal(e)),
    };
    session::push_flash(&user.session, message);
    Ok(see_other("/account"))
}
