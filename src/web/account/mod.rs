//! The signed-in person's own account (`/account`), one card per form: their name, their
//! email address (changed through a link sent to the new one, [`email`]), their password, the
//! two-factor sign-in ([`two_factor`]), the latest events of their security log, then a way
//! to their sessions and deleting the account.
//! A form that is refused shows the page again with what was typed (never a password) and
//! the reason next to its field.

mod delete;
mod email;
mod name;
mod password;
pub(crate) mod reauth;
pub mod two_factor;

pub use delete::delete;
pub use email::request as change_email;
pub use email::{confirm as confirm_email, confirm_page as confirm_email_page, confirmed as email_confirmed};
pub use name::change as change_name;
pub use password::change as change_password;

use super::error::AppError;
use super::extract::SignedIn;
use super::layout::Layout;
use super::render::page_with_status;
use crate::db::Db;
use crate::domain::When;
use crate::service::profile::{self, Overview};
use crate::service::security_log::SecurityEvent;
use crate::service::users::HeldBy;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

/// What the forms were sent with, and why they were refused, for the page shown again.
#[derive(Debug, Default)]
pub struct Forms {
    /// The name as typed (the current name when `None`).
    pub name: Option<String>,
    pub name_error: Option<String>,
    /// The new address as typed.
    pub email: String,
    pub email_error: Option<String>,
    pub email_password_error: Option<String>,
    pub current_password_error: Option<String>,
    pub new_password_error: Option<String>,
    pub revoke_tokens: bool,
    pub delete_error: Option<String>,
    /// Why removing the authenticator app or making new recovery codes was refused.
    pub factor_error: Option<String>,
}

/// A new address waiting for its link to be opened, and until when the link works.
pub struct PendingEmail {
    pub email: String,
    pub until: When,
}

/// One line of the security log.
pub struct EventRow {
    pub when: When,
    pub what: String,
    pub detail: String,
    pub address: String,
}

impl From<SecurityEvent> for EventRow {
    fn from(event: SecurityEvent) -> Self {
        Self {
            when: When::from_ms(event.created_at),
            what: event.label().to_owned(),
            detail: event.detail,
            address: event.client_address,
        }
    }
}

#[derive(Template)]
#[template(path = "account/page.html")]
struct AccountPage {
    layout: Layout,
    name: String,
    email: String,
    verified: bool,
    pending_email: Option<PendingEmail>,
    /// The teams (not archived) the person is in.
    teams: usize,
    /// The teams the person is the only admin of.
    held: Vec<HeldBy>,
    forms: Forms,
    events: Vec<EventRow>,
    /// Working login tokens of the CLI (the password form offers to revoke them).
    cli_tokens: usize,
    two_factor: crate::service::two_factor::Status,
    /// Deleting the account asks for a code too (the session's last one is not fresh).
    delete_needs_code: bool,
}

impl AccountPage {
    /// The value of the name field: as typed, else the current name.
    fn name_value(&self) -> &str {
        self.forms.name.as_deref().unwrap_or(&self.name)
    }
}

/// The page with `forms` as sent, answered with `status`.
async fn render(user: &SignedIn, db: &Db, forms: Forms, status: StatusCode) -> Result<HttpResponse, AppError> {
    let user_id = user.user.id;
    let (Overview { held, events, cli_tokens, pending_email }, factors) = db
        .query(move |conn| Ok((profile::overview(conn, user_id)?, crate::service::two_factor::status(conn, user_id)?)))
        .await?;
    let page = AccountPage {
        layout: Layout::for_user(user, "Your account"),
        name: user.user.name.clone(),
        email: user.user.email.clone(),
        verified: user.user.is_verified(),
        pending_email: pending_email.map(|(email, until)| PendingEmail { email, until: When::from_ms(until) }),
        teams: user.accounts.iter().filter(|m| !m.account.is_personal() && !m.account.is_archived()).count(),
        held,
        forms,
        events: events.into_iter().map(EventRow::from).collect(),
        cli_tokens,
        delete_needs_code: factors.any() && !user.factor_fresh,
        two_factor: factors,
    };
    page_with_status(status, &page)
}

pub async fn show(user: SignedIn, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    render(&user, &db, Forms::default(), StatusCode::OK).await
}
