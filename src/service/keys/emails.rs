//! The emails about a team's keys: a cap's 80 % / 100 % alert and the expiry reminder. The
//! team's and the key's names are what an admin typed, so they are always quoted as names.

use crate::service::emails::Composed;
use askama::Template;

pub struct CapAlert<'a> {
    pub team: &'a str,
    pub key: &'a str,
    /// 80 or 100.
    pub percent: i32,
    pub spent: &'a str,
    pub cap: &'a str,
    pub month: &'a str,
    pub link: &'a str,
}

#[derive(Template)]
#[template(path = "email/key_cap_alert.txt")]
struct CapAlertText<'a> {
    m: &'a CapAlert<'a>,
}

#[derive(Template)]
#[template(path = "email/key_cap_alert.html")]
struct CapAlertHtml<'a> {
    m: &'a CapAlert<'a>,
}

/// "The key “ci” of the team “Acme” reached its monthly spend cap on Teamdeck".
pub fn cap_alert(m: &CapAlert<'_>) -> Result<Composed, askama::Error> {
    let subject = if m.percent >= 100 {
        format!("The key “{}” of the team “{}” reached its monthly spend cap on Teamdeck", m.key, m.team)
    } else {
        format!("The key “{}” of the team “{}” has used {} % of its monthly spend cap", m.key, m.team, m.percent)
    };
    Ok(Composed { subject, text: CapAlertText { m }.render()?, html: CapAlertHtml { m }.render()? })
}

pub struct ExpiryReminder<'a> {
    pub team: &'a str,
    pub key: &'a str,
    pub expires: &'a str,
    pub link: &'a str,
}

#[derive(Template)]
#[template(path = "email/key_expiry.txt")]
struct ExpiryText<'a> {
    m: &'a ExpiryReminder<'a>,
}

#[derive(Template)]
#[template(path = "email/key_expiry.html")]
struct ExpiryHtml<'a> {
    m: &'a ExpiryReminder<'a>,
}

/// "The key “ci” of the team “Acme” expires on 10 Dec 2026".
pub fn expiry_reminder(m: &ExpiryReminder<'_>) -> Result<Composed, askama::Error> {
    let subject = format!("The key “{}” of the team “{}” expires on {}", m.key, m.team, m.expires);
    Ok(Composed { subject, text: ExpiryText { m }.render()?, html: ExpiryHtml { m }.render()? })
}
