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

/// The link that sets a new password, sent to the account's address.
pub struct PasswordResetEmail<'a> {
    /// The person's name, quoted as a name (they chose it; it is never the sender's words).
    pub name: &'a str,
    pub email: &'a str,
    pub link: &'a str,
    pub expires_at: i64,
}

#[derive(Template)]
#[template(path = "email/password_reset.txt")]
struct PasswordResetText<'a> {
    m: &'a PasswordResetEmail<'a>,
    expires: String,
}

#[derive(Template)]
#[template(path = "email/password_reset.html")]
struct PasswordResetHtml<'a> {
    m: &'a PasswordResetEmail<'a>,
    expires: String,
}

pub fn password_reset(m: &PasswordResetEmail<'_>) -> Result<Composed, askama::Error> {
    let expires = When::from_ms(m.expires_at).text;
    Ok(Composed {
        subject: "Reset your Teamdeck password".into(),
        text: PasswordResetText { m, expires: expires.clone() }.render()?,
        html: PasswordResetHtml { m, expires }.render()?,
    })
}

/// Tells the account's address that its password was reset, and what to do if that was
/// someone else.
pub struct PasswordResetNoticeEmail<'a> {
    pub name: &'a str,
    /// The address the link was sent to.
    pub email: &'a str,
    pub reset_at: i64,
    pub client_address: &'a str,
    pub tokens_revoked: usize,
    /// `/forgot`, to reset it again.
    pub forgot_link: &'a str,
}

#[derive(Template)]
#[template(path = "email/password_reset_notice.txt")]
struct PasswordResetNoticeText<'a> {
    m: &'a PasswordResetNoticeEmail<'a>,
    at: String,
}

#[derive(Template)]
#[template(path = "email/password_reset_notice.html")]
struct PasswordResetNoticeHtml<'a> {
    m: &'a PasswordResetNoticeEmail<'a>,
    at: String,
}

pub fn password_reset_notice(m: &PasswordResetNoticeEmail<'_>) -> Result<Composed, askama::Error> {
    let at = When::from_ms(m.reset_at).text;
    Ok(Composed {
        subject: "Your Teamdeck password was reset".into(),
        text: PasswordResetNoticeText { m, at: at.clone() }.render()?,
        html: PasswordResetNoticeHtml { m, at }.render()?,
    })
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
