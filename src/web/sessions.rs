//! `/account/sessions` ("Sessions & tokens"): every browser signed in as the person, with its
//! device, address, when it signed in and was last active, and which one is this; revoke one,
//! or sign out everywhere else. Below, the login tokens of the CLI and SDKs.

use super::error::AppError;
use super::extract::SignedIn;
use super::layout::Layout;
use super::render::{page_with_status, see_other};
use crate::auth::session::{self, Flash};
use crate::db::Db;
use crate::domain::When;
use crate::identity::Identity;
use crate::service::{sessions, tokens};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

pub struct SessionRow {
    pub id: i64,
    pub device: String,
    pub address: String,
    pub signed_in: When,
    pub last_active: When,
    pub this_device: bool,
}

pub struct TokenRow {
    pub id: i64,
    pub device: String,
    pub created: When,
    pub last_used: Option<When>,
}

#[derive(Template)]
#[template(path = "account/sessions.html")]
struct SessionsPage {
    layout: Layout,
    csrf: String,
    sessions: Vec<SessionRow>,
    tokens: Vec<TokenRow>,
}

pub async fn show(user: SignedIn, db: web::Data<Db>, identity: web::Data<Identity>) -> Result<HttpResponse, AppError> {
    let (user_id, this) = (user.user.id, user.signed_in.id);
    let (lifetimes, now) = identity.session_lifetimes();
    let (browsers, devices) = db
        .query(move |conn| Ok((sessions::live(conn, user_id, now, &lifetimes)?, tokens::list(conn, user_id)?)))
        .await?;
    let mut sessions: Vec<SessionRow> = browsers
        .into_iter()
        .map(|s| SessionRow {
            id: s.id,
            device: device_of(&s.user_agent),
            address: s.client_address,
            signed_in: When::from_ms(s.created_at),
            last_active: When::from_ms(s.last_seen_at),
            this_device: s.id == this,
        })
        .collect();
    // This browser first, then the others as they were last used.
    sessions.sort_by_key(|s| !s.this_device);
    let page = SessionsPage {
        layout: Layout::for_user(&user, "Sessions & tokens"),
        csrf: session::csrf_token(&user.session),
        sessions,
        tokens: devices
            .into_iter()
            .map(|t| TokenRow {
                id: t.id,
                device: t.device_name,
                created: When::from_ms(t.created_at),
                last_used: t.last_used_at.map(When::from_ms),
            })
            .collect(),
    };
    page_with_status(StatusCode::OK, &page)
}

/// Signs one of the person's browsers out (at its next request, on every instance).
pub async fn revoke(
    user: SignedIn,
    path: web::Path<i64>,
    db: web::Data<Db>,
    identity: web::Data<Identity>,
) -> Result<HttpResponse, AppError> {
    let (user_id, session_id, (_, now)) = (user.user.id, path.into_inner(), identity.session_lifetimes());
    if !db.query(move |conn| sessions::revoke(conn, user_id, session_id, now)).await? {
        return Err(AppError::NotFound);
    }
    let message = if session_id == user.signed_in.id {
        "This browser is signed out."
    } else {
        "That browser is signed out. It has to sign in again to use Teamdeck."
    };
    session::push_flash(&user.session, Flash::success(message));
    Ok(see_other("/account/sessions"))
}

/// Signs out every browser of the person but this one.
pub async fn revoke_others(
    user: SignedIn,
    db: web::Data<Db>,
    identity: web::Data<Identity>,
) -> Result<HttpResponse, AppError> {
    let (user_id, keep, (_, now)) = (user.user.id, user.signed_in.id, identity.session_lifetimes());
    let ended = db.query(move |conn| sessions::revoke_all(conn, user_id, Some(keep), now)).await?;
    let message = match ended {
        0 => "No other browser was signed in.".to_owned(),
        1 => "1 other browser is signed out.".to_owned(),
        n => format!("{n} other browsers are signed out."),
    };
    session::push_flash(&user.session, Flash::success(message));
    Ok(see_other("/account/sessions"))
}

/// A browser as a person recognises it ("Firefox on Linux"), from its user agent.
pub(crate) fn device_of(user_agent: &str) -> String {
    let ua = user_agent;
    let browser = if ua.contains("Edg/") {
        "Edge"
    } else if ua.contains("OPR/") {
        "Opera"
    } else if ua.contains("Firefox/") {
        "Firefox"
    } else if ua.contains("Chrome/") || ua.contains("Chromium/") || ua.contains("CriOS/") {
        "Chrome"
    } else if ua.contains("Safari/") {
        "Safari"
    } else if ua.starts_with("curl/") {
        "curl"
    } else {
        return if ua.is_empty() { "Unknown browser".into() } else { ua.chars().take(60).collect() };
    };
    let system = if ua.contains("iPhone") {
        "iPhone"
    } else if ua.contains("iPad") {
        "iPad"
    } else if ua.contains("Android") {
        "Android"
    } else if ua.contains("Windows") {
        "Windows"
    } else if ua.contains("Mac OS X") || ua.contains("Macintosh") {
        "macOS"
    } else if ua.contains("CrOS") {
        "ChromeOS"
    } else if ua.contains("Linux") {
        "Linux"
    } else {
        return browser.into();
    };
    format!("{browser} on {system}")
}

#[cfg(test)]
mod tests {
    use super::device_of;

    #[test]
    fn browsers_are_named_as_people_know_them() {
        let cases = [
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "Chrome on macOS",
            ),
            ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox on Linux"),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                "Safari on iPhone",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            ("curl/8.5.0", "curl"),
            ("", "Unknown browser"),
        ];
        for (ua, expected) in cases {
            assert_eq!(device_of(ua), expected, "{ua}");
        }
    }
}
