//! A browser's two cookies.
//!
//! - **Who is signed in**: [`SIGNED_IN`] holds only a random session token; the session itself
//!   lives in the database (`service::sessions`), which every request reads, so signing out
//!   ends it on every instance at once. Never a role or a membership.
//! - **What the pages keep between requests** (actix-session, signed and encrypted): the CSRF
//!   token, the account used last and flash messages. It signs no one in; it is renewed at
//!   sign-in, so a token planted before is worthless after, and cleared at sign-out.
//! - Between the password and the second factor, a third cookie names the half-done sign-in
//!   (`service::two_factor::challenges`); it signs nothing in.

use actix_session::Session;
use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieAge};
use base64::Engine;
use serde::{Deserialize, Serialize};

/// The cookie of the session token (`__Host-` prefixed when the site is served over https).
const SIGNED_IN: &str = "teamdeck_session";
const CSRF: &str = "csrf";
const LAST_ACCOUNT: &str = "last";
const FLASHES: &str = "flash";
const SEEN_DAY: &str = "day";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlashKind {
    Success,
    Error,
    Info,
}

/// A message shown once, on the next page, after a redirect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    pub kind: FlashKind,
    pub message: String,
}

impl Flash {
    pub fn success(message: impl Into<String>) -> Self {
        Self { kind: FlashKind::Success, message: message.into() }
    }

    pub fn error(message: impl Into<String>) -> Self {
        Self { kind: FlashKind::Error, message: message.into() }
    }

    pub fn info(message: impl Into<String>) -> Self {
        Self { kind: FlashKind::Info, message: message.into() }
    }

    pub fn class(&self) -> &'static str {
        match self.kind {
            FlashKind::Success => "flash--success",
            FlashKind::Error => "flash--error",
            FlashKind::Info => "flash--info",
        }
    }
}

fn signed_in_name(https: bool) -> &'static str {
    if https { "__Host-teamdeck_session" } else { SIGNED_IN }
}

/// The session token the browser presented, if any (not yet checked).
pub fn presented_token(req: &HttpRequest, https: bool) -> Option<String> {
    req.cookie(signed_in_name(https)).map(|c| c.value().to_owned()).filter(|t| !t.is_empty())
}

/// The cookie that signs the browser in with `token`, kept by the browser for `max_age_ms`
/// (the server ends the session anyway when it is idle too long or at its end).
pub fn signed_in_cookie(token: String, https: bool, max_age_ms: i64) -> Cookie<'static> {
    Cookie::build(signed_in_name(https), token)
        .path("/")
        .http_only(true)
        .secure(https)
        .same_site(SameSite::Lax)
        .max_age(CookieAge::milliseconds(max_age_ms))
        .finish()
}

/// Tells the browser to drop its session cookie.
pub fn signed_out_cookie(https: bool) -> Cookie<'static> {
    let mut cookie = signed_in_cookie(String::new(), https, 0);
    cookie.make_removal();
    cookie
}

/// The cookie of a half-done sign-in (the password was right, a second factor is awaited):
/// a random token naming it, which signs nothing in.
fn second_step_name(https: bool) -> &'static str {
    if https { "__Host-teamdeck_second_step" } else { "teamdeck_second_step" }
}

/// The half-done sign-in's token the browser presented, if any (not yet checked).
pub fn presented_second_step(req: &HttpRequest, https: bool) -> Option<String> {
    req.cookie(second_step_name(https)).map(|c| c.value().to_owned()).filter(|t| !t.is_empty())
}

/// The cookie that holds a half-done sign-in's token, for as long as the sign-in waits.
pub fn second_step_cookie(token: String, https: bool, max_age_ms: i64) -> Cookie<'static> {
    Cookie::build(second_step_name(https), token)
        .path("/")
        .http_only(true)
        .secure(https)
        .same_site(SameSite::Strict)
        .max_age(CookieAge::milliseconds(max_age_ms))
        .finish()
}

/// Tells the browser to drop the half-done sign-in's cookie.
pub fn second_step_removal(https: bool) -> Cookie<'static> {
    let mut cookie = second_step_cookie(String::new(), https, 0);
    cookie.make_removal();
    cookie
}

/// Renews what the pages keep at sign-in: drops whatever the anonymous browser held (the
/// account used last aside), with a new cookie and a new CSRF token.
pub fn renew_for_sign_in(session: &Session) {
    let last = last_account(session);
    session.clear();
    session.renew();
    let _ = session.insert(CSRF, new_token());
    if let Some(last) = last {
        let _ = session.insert(LAST_ACCOUNT, last);
    }
}

/// Forgets what the pages kept (at sign-out).
pub fn forget(session: &Session) {
    session.purge();
}

/// The session's CSRF token, created on first use.
pub fn csrf_token(session: &Session) -> String {
    if let Ok(Some(token)) = session.get::<String>(CSRF) {
        return token;
    }
    let token = new_token();
    let _ = session.insert(CSRF, &token);
    token
}

/// The CSRF token if the session has one (never creates one).
pub fn existing_csrf_token(session: &Session) -> Option<String> {
    session.get::<String>(CSRF).ok().flatten()
}

pub fn last_account(session: &Session) -> Option<String> {
    session.get::<String>(LAST_ACCOUNT).ok().flatten()
}

/// Remembers the account in use, writing the cookie only when it changes.
pub fn remember_account(session: &Session, slug: &str) {
    if last_account(session).as_deref() != Some(slug) {
        let _ = session.insert(LAST_ACCOUNT, slug);
    }
}

pub fn push_flash(session: &Session, flash: Flash) {
    let mut flashes = session.get::<Vec<Flash>>(FLASHES).ok().flatten().unwrap_or_default();
    flashes.push(flash);
    let _ = session.insert(FLASHES, flashes);
}

/// Keeps an active session alive: the cookie's 14 days count from the last day it was
/// written, and a session that never changes is never written again. Writing the day of the
/// visit (days since 1970) once a day renews the cookie on a user's first visit each day and
/// leaves every other request without a new cookie.
pub fn keep_alive(session: &Session, now_ms: i64) {
    let today = now_ms.div_euclid(24 * 3600 * 1000);
    if session.get::<i64>(SEEN_DAY).ok().flatten() != Some(today) {
        let _ = session.insert(SEEN_DAY, today);
    }
}

/// The pending flash messages; they are shown once. Without any, the session stays
/// unchanged (a removal marks it changed, and a changed session is encrypted and sent back
/// as a new cookie with every page).
pub fn take_flashes(session: &Session) -> Vec<Flash> {
    if !session.contains_key(FLASHES) {
        return Vec::new();
    }
    match session.remove_as::<Vec<Flash>>(FLASHES) {
        Some(Ok(flashes)) => flashes,
        _ => Vec::new(),
    }
}

fn new_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_session::{SessionExt, SessionStatus};

    #[test]
    fn behind_https_the_session_cookie_is_secure_and_host_prefixed() {
        let cookie = signed_in_cookie("t".into(), true, 1_000).to_string();
        assert!(cookie.starts_with("__Host-teamdeck_session=t;"), "{cookie}");
        assert!(cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("Path=/"));
        assert!(!cookie.contains("Domain="), "{cookie}");
        let removal = signed_out_cookie(true).to_string();
        assert!(removal.starts_with("__Host-teamdeck_session=;") && removal.contains("Max-Age=0"), "{removal}");
    }

    #[test]
    fn keep_alive_writes_the_day_of_the_visit() {
        let req = actix_web::test::TestRequest::default().to_http_request();
        let session = req.get_session();
        let noon_day_20000 = 20_000 * 24 * 3600 * 1000 + 12 * 3600 * 1000;
        keep_alive(&session, noon_day_20000);
        assert_eq!(session.status(), SessionStatus::Changed, "a session without the day gets it");
        assert_eq!(session.get::<i64>(SEEN_DAY).unwrap(), Some(20_000));
        keep_alive(&session, noon_day_20000 + 11 * 3600 * 1000);
        assert_eq!(session.get::<i64>(SEEN_DAY).unwrap(), Some(20_000), "same day until midnight UTC");
        keep_alive(&session, noon_day_20000 + 12 * 3600 * 1000);
        assert_eq!(session.get::<i64>(SEEN_DAY).unwrap(), Some(20_001), "the next day renews it");
    }
}
