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

/// The link that proves a person owns the address they signed up with. It names no one: the
/// person who typed the address chose the name, and it is not theirs to put in a stranger's inbox.
pub struct VerifyEmail<'a> {
    pub link: &'a str,
    pub expires_at: i64,
}

#[derive(Template)]
#[template(path = "email/verify.txt")]
struct VerifyText<'a> {
    m: &'a VerifyEmail<'a>,
    expires: String,
}

#[derive(Template)]
#[template(path = "email/verify.html")]
struct VerifyHtml<'a> {
    m: &'a VerifyEmail<'a>,
    expires: String,
}

pub fn verification(m: &VerifyEmail<'_>) -> Result<Composed, askama::Error> {
    let expires = When::from_ms(m.expires_at).text;
    Ok(Composed {
        subject: "Confirm your email address for Teamdeck".to_owned(),
        text: VerifyText { m, expires: expires.clone() }.render()?,
        html: VerifyHtml { m, expires }.render()?,
    })
}

/// To the owner of an address someone tried to sign up with: the sign-up page answers as it
/// does for a new address, and only the owner learns that the address has an account.
pub struct SignUpAttemptEmail<'a> {
    pub login: &'a str,
    pub forgot: &'a str,
}

#[derive(Template)]
#[template(path = "email/signup_attempt.txt")]
struct SignUpAttemptText<'a> {
    m: &'a SignUpAttemptEmail<'a>,
}

#[derive(Template)]
#[template(path = "email/signup_attempt.html")]
struct SignUpAttemptHtml<'a> {
    m: &'a SignUpAttemptEmail<'a>,
}

pub fn sign_up_attempt(m: &SignUpAttemptEmail<'_>) -> Result<Composed, askama::Error> {
    Ok(Composed {
        subject: "Someone tried to sign up for Teamdeck with your address".to_owned(),
        text: SignUpAttemptText { m }.render()?,
        html: SignUpAttemptHtml { m }.render()?,
    })
}
