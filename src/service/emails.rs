//! The messages Teamdeck sends (queued in the outbox by the change that causes them), each with a text and an HTML part (askama templates).
//! Names reach only bodies and the subject, which lettre encodes: no header can be injected.
//! A team's name is whatever its admin typed, so it is always quoted as a name ("the team
//! “…”"), in the subject and in both bodies, never left to read as Teamdeck's own words.

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
    /// Goes between curly quotes (see [`as_name`]).
    team: &'a str,
    expires: String,
}

#[derive(Template)]
#[template(path = "email/invite.html")]
struct InviteHtml<'a> {
    m: &'a InviteEmail<'a>,
    team: &'a str,
    expires: String,
}

/// "Alice invited you to join the team “Acme” on Teamdeck".
pub fn invitation(m: &InviteEmail<'_>) -> Result<Composed, askama::Error> {
    let expires = When::from_ms(m.expires_at).text;
    let team = as_name(m.team);
    Ok(Composed {
        subject: format!("{} invited you to join the team “{team}” on Teamdeck", one_line(m.inviter)),
        text: InviteText { m, team: &team, expires: expires.clone() }.render()?,
        html: InviteHtml { m, team: &team, expires }.render()?,
    })
}

/// Control characters never reach a header, whatever a name holds.
fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// A name to put between curly quotes: on one line, with its own curly quotes made straight,
/// so that it cannot close the quotes and go on as the sender's words.
fn as_name(s: &str) -> String {
    one_line(s).chars().map(|c| if matches!(c, '“' | '”' | '„' | '‟') { '"' } else { c }).collect()
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
    /// A person's own account: "your personal account", not "the team “…”".
    pub personal: bool,
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
    /// Goes between curly quotes (see [`as_name`]).
    team: &'a str,
}

#[derive(Template)]
#[template(path = "email/spend_alert.html")]
struct SpendAlertHtml<'a> {
    m: &'a SpendAlertEmail<'a>,
    team: &'a str,
}

/// "The team “Acme” has used 80 % of its monthly spend limit on Teamdeck".
pub fn spend_alert(m: &SpendAlertEmail<'_>) -> Result<Composed, askama::Error> {
    let team = as_name(m.team);
    let whose = if m.personal { "Your personal account".to_owned() } else { format!("The team “{team}”") };
    let subject = if m.percent >= 100 {
        format!("{whose} reached its monthly spend limit on Teamdeck")
    } else {
        format!("{whose} has used {} % of its monthly spend limit on Teamdeck", m.percent)
    };
    Ok(Composed {
        subject,
        text: SpendAlertText { m, team: &team }.render()?,
        html: SpendAlertHtml { m, team: &team }.render()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite(team: &str) -> Composed {
        invitation(&InviteEmail {
            team,
            inviter: "Alice",
            role: "Developer",
            link: "https://teamdeck.example/invites/TOKEN",
            expires_at: 0,
        })
        .unwrap()
    }

    #[test]
    fn an_invitation_quotes_the_team_name_as_a_name_everywhere() {
        let m = invite("Acme");
        assert_eq!(m.subject, "Alice invited you to join the team “Acme” on Teamdeck");
        assert!(
            m.text.starts_with("Alice invited you to join the team “Acme” on Teamdeck as Developer."),
            "{}",
            m.text
        );
        assert!(
            m.html.contains(
                "Alice invited you to join the team “<strong>Acme</strong>” on Teamdeck as <strong>Developer</strong>."
            ),
            "{}",
            m.html
        );
    }

    #[test]
    fn a_team_name_cannot_close_its_quotes_or_escape_its_markup() {
        let m = invite("Acme” now. Your account is locked: reset it at evil.example “");
        assert_eq!(
            m.subject,
            "Alice invited you to join the team “Acme\" now. Your account is locked: reset it at evil.example \"” on Teamdeck"
        );
        let m = invite("<a href=\"https://evil.example\">Acme</a>");
        assert!(
            m.html.contains("“<strong>&#60;a href=&#34;https://evil.example&#34;&#62;Acme&#60;/a&#62;</strong>”"),
            "{}",
            m.html
        );
        assert!(!m.html.contains("<a href=\"https://evil"));
    }

    #[test]
    fn a_spend_alert_quotes_the_team_and_names_a_personal_account_as_such() {
        let alert = |team, personal, percent| {
            spend_alert(&SpendAlertEmail {
                team,
                personal,
                percent,
                spent: "$80.00",
                limit: "$100.00",
                month: "November 2026",
                link: "https://teamdeck.example/a/acme/usage",
            })
            .unwrap()
        };
        let team = alert("Acme", false, 80);
        assert_eq!(team.subject, "The team “Acme” has used 80 % of its monthly spend limit on Teamdeck");
        assert!(team.text.starts_with("The team “Acme” has spent $80.00"), "{}", team.text);
        assert!(team.html.contains("The team “<strong>Acme</strong>” has spent"), "{}", team.html);
        let own = alert("Ada Lovelace", true, 100);
        assert_eq!(own.subject, "Your personal account reached its monthly spend limit on Teamdeck");
        assert!(own.text.starts_with("Your personal account has spent $80.00"), "{}", own.text);
    }
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

/// Tells a person that a second factor of theirs was added, removed or replaced, and what to
/// do if it was not them.
pub struct SecondFactorNotice<'a> {
    pub name: &'a str,
    /// "An authenticator app was added to your account": the subject and the first words.
    pub what: &'a str,
    pub at: i64,
    pub client_address: &'a str,
    /// The browser it was done from ("Firefox on Linux").
    pub device: &'a str,
}

#[derive(Template)]
#[template(path = "email/second_factor.txt")]
struct SecondFactorText<'a> {
    m: &'a SecondFactorNotice<'a>,
    at: String,
}

#[derive(Template)]
#[template(path = "email/second_factor.html")]
struct SecondFactorHtml<'a> {
    m: &'a SecondFactorNotice<'a>,
    at: String,
}

pub fn second_factor_notice(m: &SecondFactorNotice<'_>) -> Result<Composed, askama::Error> {
    let at = When::from_ms(m.at).text;
    Ok(Composed {
        subject: m.what.to_owned(),
        text: SecondFactorText { m, at: at.clone() }.render()?,
        html: SecondFactorHtml { m, at }.render()?,
    })
}
