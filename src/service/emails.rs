//! The messages Teamdeck sends (queued in the outbox by the change that causes them), each with a text and an HTML part (askama templates).
//! Names reach only bodies and the subject, which lettre encodes: no header can be injected.

use crate::domain::When;
use askama::Template;

pub struct Composed {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub struct InviteEmail<'a> {
    pub team: &'a str,
    pub inviter: &'a str,
    pub role: &'a str,
    pub link: &'a str,
    pub expires_at: i64,
}

#[derive(Template)]
#[template(path = "email/invite.txt")]
struct InviteText<'a> {
    m: &'a InviteEmail<'a>,
    expires: String,
}

#[derive(Template)]
#[template(path = "email/invite.html")]
struct InviteHtml<'a> {
    m: &'a InviteEmail<'a>,
    expires: String,
}

pub fn invitation(m: &InviteEmail<'_>) -> Result<Composed, askama::Error> {
    let expires = When::from_ms(m.expires_at).text;
    Ok(Composed {
        subject: format!("{} invited you to join {} on Teamdeck", one_line(m.inviter), one_line(m.team)),
        text: InviteText { m, expires: expires.clone() }.render()?,
        html: InviteHtml { m, expires }.render()?,
    })
}

/// Control characters never reach a header, whatever a name holds.
fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

pub struct SpendAlertEmail<'a> {
    pub team: &'a str,
    /// 80 or 100.
    pub percent: i32,
    pub spent: &'a str,
    pub limit: &'a str,
    pub month: &'a str,
    pub link: &'a str,
}

#[derive(Template)]
#[template(path = "email/spend_alert.txt")]
struct SpendAlertText<'a> {
    m: &'a SpendAlertEmail<'a>,
}

#[derive(Template)]
#[template(path = "email/spend_alert.html")]
struct SpendAlertHtml<'a> {
    m: &'a SpendAlertEmail<'a>,
}

pub fn spend_alert(m: &SpendAlertEmail<'_>) -> Result<Composed, askama::Error> {
    let subject = if m.percent >= 100 {
        format!("{} reached its monthly spend limit on Teamdeck", one_line(m.team))
    } else {
        format!("{} has used {} % of its monthly spend limit on Teamdeck", one_line(m.team), m.percent)
    };
    Ok(Composed { subject, text: SpendAlertText { m }.render()?, html: SpendAlertHtml { m }.render()? })
}

/// The link that makes `new_email` the address of the account named `name` (sent to
/// `new_email`; the name is the account holder's own words, so it is quoted as a name).
pub struct EmailChangeLink<'a> {
    pub name: &'a str,
    pub new_email: &'a str,
    pub link: &'a str,
    pub expires_at: i64,
}

#[derive(Template)]
#[template(path = "email/email_change.txt")]
struct EmailChangeText<'a> {
    m: &'a EmailChangeLink<'a>,
    expires: String,
}

#[derive(Template)]
#[template(path = "email/email_change.html")]
struct EmailChangeHtml<'a> {
    m: &'a EmailChangeLink<'a>,
    expires: String,
}

pub fn email_change_link(m: &EmailChangeLink<'_>) -> Result<Composed, askama::Error> {
    let expires = When::from_ms(m.expires_at).text;
    Ok(Composed {
        subject: "Confirm your new email address for Teamdeck".to_owned(),
        text: EmailChangeText { m, expires: expires.clone() }.render()?,
        html: EmailChangeHtml { m, expires }.render()?,
    })
}

/// What the old address is told about a change of address: that it was asked for, then
/// that it was made; when, from which client address, and what to do if it wasn't them.
pub struct EmailChangeNotice<'a> {
    pub new_email: &'a str,
    pub at: i64,
    pub client_address: &'a str,
    /// The site's base URL, for the links to reset the password and to see the sessions.
    pub base_url: &'a str,
}

#[derive(Template)]
#[template(path = "email/email_change_requested.txt")]
struct ChangeRequestedText<'a> {
    m: &'a EmailChangeNotice<'a>,
    at: String,
}

#[derive(Template)]
#[template(path = "email/email_change_requested.html")]
struct ChangeRequestedHtml<'a> {
    m: &'a EmailChangeNotice<'a>,
    at: String,
}

pub fn email_change_requested(m: &EmailChangeNotice<'_>) -> Result<Composed, askama::Error> {
    let at = When::from_ms(m.at).text;
    Ok(Composed {
        subject: "A change of your Teamdeck email address was asked for".to_owned(),
        text: ChangeRequestedText { m, at: at.clone() }.render()?,
        html: ChangeRequestedHtml { m, at }.render()?,
    })
}

#[derive(Template)]
#[template(path = "email/email_changed.txt")]
struct ChangedText<'a> {
    m: &'a EmailChangeNotice<'a>,
    at: String,
}

#[derive(Template)]
#[template(path = "email/email_changed.html")]
struct ChangedHtml<'a> {
    m: &'a EmailChangeNotice<'a>,
    at: String,
}

pub fn email_changed(m: &EmailChangeNotice<'_>) -> Result<Composed, askama::Error> {
    let at = When::from_ms(m.at).text;
    Ok(Composed {
        subject: "Your Teamdeck email address was changed".to_owned(),
        text: ChangedText { m, at: at.clone() }.render()?,
        html: ChangedHtml { m, at }.render()?,
    })
}
