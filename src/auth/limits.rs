//! The limits on guessing and on costly requests, one function each, counted in the database
//! (`service::limits`) so that every instance enforces one budget.
//!
//! Sign-in has three:
//! - attempts per client address (`--login-attempts-per-client` in 15 minutes);
//! - wrong passwords per email **and** client address, which lock that address out for that
//!   email (`--login-failures-per-email` in 15 minutes). Each guess takes its place before
//!   the password is checked and gives it back when the password was right, so two guesses
//!   racing on two instances cannot both take the last place;
//! - wrong passwords per email from everywhere, which only slow it down: past
//!   `--login-failures-before-delay` in 15 minutes, each further attempt for the email waits
//!   1 s, 2 s, 4 s, 8 s, then 10 s at most, before its password is checked. A flood from
//!   other addresses can never keep the owner out: from their own address they wait at most
//!   10 s and get in.
//!
//! The rest: sign-ups, started CLI logins and password reset requests per client address,
//! wrong user codes per browser session on `/device`, reset and verification emails per
//! email address, and wrong second-factor codes per person (besides the five each half-done
//! sign-in takes).

use crate::db::{Db, DbError};
use crate::domain::Clock;
use crate::http::AppError;
use crate::service::limits::{self, Window};
use std::time::Duration;

/// How many hits one key may make in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub max: u32,
    pub window: Duration,
}

impl Rule {
    pub const fn new(max: u32, window: Duration) -> Self {
        Self { max, window }
    }

    fn window_ms(&self) -> i64 {
        i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX / 2)
    }
}

pub const SIGN_IN_WINDOW: Duration = Duration::from_secs(15 * 60);
const HOUR: Duration = Duration::from_secs(3600);
/// The longest a sign-in waits for an email under a flood of wrong passwords.
pub const MAX_DELAY: Duration = Duration::from_secs(10);

/// Every limit's numbers.
#[derive(Debug, Clone)]
pub struct Rules {
    pub sign_ins_per_client: Rule,
    pub failures_per_email_and_client: Rule,
    /// Wrong passwords for one email from everywhere (in the sign-in window) after which its
    /// attempts wait.
    pub failures_before_delay: u32,
    pub sign_ups_per_client: Rule,
    pub device_codes_per_client: Rule,
    pub code_guesses_per_session: Rule,
    pub reset_emails_per_address: Rule,
    /// `/forgot` requests from one client address, whatever addresses they name (the limit
    /// per address alone lets one client mail every address it knows).
    pub reset_requests_per_client: Rule,
    pub verification_emails_per_address: Rule,
    /// Wrong second-factor codes for one person, whatever the browser or the form (the
    /// second step of sign-in, and the forms that ask for a code again).
    pub second_factor_codes_per_user: Rule,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            sign_ins_per_client: Rule::new(100, SIGN_IN_WINDOW),
            failures_per_email_and_client: Rule::new(10, SIGN_IN_WINDOW),
            failures_before_delay: 10,
            sign_ups_per_client: Rule::new(20, HOUR),
            device_codes_per_client: Rule::new(30, HOUR),
            code_guesses_per_session: Rule::new(10, SIGN_IN_WINDOW),
            reset_emails_per_address: Rule::new(5, HOUR),
            reset_requests_per_client: Rule::new(20, HOUR),
            verification_emails_per_address: Rule::new(5, HOUR),
            second_factor_codes_per_user: Rule::new(10, SIGN_IN_WINDOW),
        }
    }
}

/// Which limit refused, for its words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    SignIns,
    WrongPasswords,
    SignUps,
    DeviceCodes,
    CodeGuesses,
    ResetEmails,
    ResetRequests,
    VerificationEmails,
    SecondFactorCodes,
}

impl Limit {
    /// The `what` of its rows.
    fn what(self) -> &'static str {
        match self {
            Limit::SignIns => "sign_in_client",
            Limit::WrongPasswords => "wrong_password_email_client",
            Limit::SignUps => "sign_up_client",
            Limit::DeviceCodes => "device_code_client",
            Limit::CodeGuesses => "device_code_guess_session",
            Limit::ResetEmails => "reset_email_address",
            Limit::ResetRequests => "reset_request_client",
            Limit::VerificationEmails => "verification_email_address",
            Limit::SecondFactorCodes => "second_factor_user",
        }
    }
}

/// The rows of wrong passwords for one email from everywhere (the slow-down).
const WRONG_PASSWORDS_FOR_EMAIL: &str = "wrong_password_email";

/// A request refused by a full window: which limit, and how long until it has room again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub limit: Limit,
    pub retry_after: Duration,
}

impl Refused {
    /// "Try again in 3 minutes." (whole minutes, at least one).
    pub fn try_again(&self) -> String {
        let minutes = self.retry_after.as_secs().div_ceil(60).max(1);
        format!("Try again in {minutes} minute{}.", if minutes == 1 { "" } else { "s" })
    }

    /// The `Retry-After` header's value: whole seconds, at least one.
    pub fn seconds(&self) -> u64 {
        self.retry_after.as_secs_f64().ceil().max(1.0) as u64
    }

    /// What the person is told.
    pub fn message(&self) -> String {
        let what = match self.limit {
            Limit::SignIns => "Too many sign-in attempts from this network.",
            Limit::WrongPasswords => "Too many wrong passwords for this email from this network.",
            Limit::SignUps => "Too many accounts were created from this network.",
            Limit::DeviceCodes => "Too many CLI logins were started from this network.",
            Limit::CodeGuesses => "Too many codes that don't match a login. Check the code in your terminal.",
            Limit::ResetEmails => "Too many password reset emails were sent to this address.",
            Limit::ResetRequests => "Too many password resets were asked for from this network.",
            Limit::VerificationEmails => "Too many verification emails were sent to this address.",
            Limit::SecondFactorCodes => "Too many wrong codes for this account.",
        };
        format!("{what} {}", self.try_again())
    }
}

impl From<Refused> for AppError {
    fn from(refused: Refused) -> Self {
        AppError::TooManyRequests { message: refused.message(), retry_after: refused.retry_after }
    }
}

/// A password guess that took its place: check the password after [`Guess::delay`], then
/// tell [`Limits::wrong_password`] or [`Limits::give_back`].
#[must_use = "a guess is either wrong or right"]
#[derive(Debug)]
pub struct Guess {
    email_key: String,
    pair_key: String,
    /// How long to wait before checking the password (the email's slow-down).
    pub delay: Duration,
}

impl Guess {
    /// Waits out the email's slow-down, if it has one.
    pub async fn wait(&self) {
        if !self.delay.is_zero() {
            tracing::info!(delay_ms = self.delay.as_millis() as u64, "password check slowed down for its email");
            tokio::time::sleep(self.delay).await;
        }
    }
}

/// A place taken by an attempt that gives it back when it was no failure.
#[must_use]
#[derive(Debug)]
pub struct Place {
    limit: Limit,
    key: String,
}

/// Answers from the database: `Ok(Err(refused))` when a limit refused.
pub type Counted<T> = Result<Result<T, Refused>, DbError>;

/// The handle the pages and the API count with. Cheap to clone.
#[derive(Clone)]
pub struct Limits {
    db: Db,
    clock: Clock,
    rules: Rules,
}

impl Limits {
    pub fn new(db: Db, clock: Clock, rules: Rules) -> Self {
        Self { db, clock, rules }
    }

    /// A sign-in attempt of `email` from `client`: counted for the client, then a password
    /// guess for the email from that client.
    pub async fn sign_in(&self, email: &str, client: &str) -> Counted<Guess> {
        let (rules, now) = (self.rules.clone(), self.clock.now_ms());
        let (email, client) = (email.to_owned(), client.to_owned());
        self.db
            .query(move |conn| {
                let counted = limits::hit(
                    conn,
                    Limit::SignIns.what(),
                    &limits::key(&[&client]),
                    rules.sign_ins_per_client.window_ms(),
                    now,
                )?;
                if let Err(refused) = check(Limit::SignIns, &rules.sign_ins_per_client, counted, now) {
                    return Ok(Err(refused));
                }
                guess(conn, &rules, &email, &client, now)
            })
            .await
    }

    /// A password guess for `email` from `client` outside the sign-in form (the password
    /// asked again before a deletion): the same budget as sign-in's wrong passwords.
    pub async fn password_guess(&self, email: &str, client: &str) -> Counted<Guess> {
        let (rules, now) = (self.rules.clone(), self.clock.now_ms());
        let (email, client) = (email.to_owned(), client.to_owned());
        self.db.query(move |conn| guess(conn, &rules, &email, &client, now)).await
    }

    /// The guess was wrong: its place stays taken, and the email's slow-down counts it.
    pub async fn wrong_password(&self, guess: Guess) -> Result<(), DbError> {
        let (window, now) = (self.rules.failures_per_email_and_client.window_ms(), self.clock.now_ms());
        self.db
            .query(move |conn| limits::hit(conn, WRONG_PASSWORDS_FOR_EMAIL, &guess.email_key, window, now).map(|_| ()))
            .await
    }

    /// The guess was right, or never checked (the password checks were busy): its place is
    /// given back.
    pub async fn give_back(&self, guess: Guess) -> Result<(), DbError> {
        let now = self.clock.now_ms();
        self.db.query(move |conn| limits::give_back(conn, Limit::WrongPasswords.what(), &guess.pair_key, now)).await
    }

    /// A sign-up from `client`.
    pub async fn sign_up(&self, client: &str) -> Counted<()> {
        self.count(Limit::SignUps, self.rules.sign_ups_per_client, &[client]).await
    }

    /// A CLI login started from `client`.
    pub async fn device_code(&self, client: &str) -> Counted<()> {
        self.count(Limit::DeviceCodes, self.rules.device_codes_per_client, &[client]).await
    }

    /// A user code tried by the browser session `session_id`: give the place back with
    /// [`Limits::right_code`] when the code was a pending one.
    pub async fn code_guess(&self, session_id: i64) -> Counted<Place> {
        let key = session_id.to_string();
        let counted = self.count(Limit::CodeGuesses, self.rules.code_guesses_per_session, &[&key]).await?;
        Ok(counted.map(|()| Place { limit: Limit::CodeGuesses, key: limits::key(&[&key]) }))
    }

    /// A second-factor code typed for `user_id`: give the place back with
    /// [`Limits::right_code`] when it was right.
    pub async fn second_factor_guess(&self, user_id: i64) -> Counted<Place> {
        let key = user_id.to_string();
        let counted = self.count(Limit::SecondFactorCodes, self.rules.second_factor_codes_per_user, &[&key]).await?;
        Ok(counted.map(|()| Place { limit: Limit::SecondFactorCodes, key: limits::key(&[&key]) }))
    }

    /// The code tried was a pending one (or a right second-factor code): it does not count as
    /// a wrong guess.
    pub async fn right_code(&self, place: Place) -> Result<(), DbError> {
        let now = self.clock.now_ms();
        self.db.query(move |conn| limits::give_back(conn, place.limit.what(), &place.key, now)).await
    }

    /// A password reset email to `address` (normalised).
    pub async fn reset_email(&self, address: &str) -> Counted<()> {
        self.count(Limit::ResetEmails, self.rules.reset_emails_per_address, &[address]).await
    }

    /// A password reset asked for from `client` (counted before the address is looked at).
    pub async fn reset_request(&self, client: &str) -> Counted<()> {
        self.count(Limit::ResetRequests, self.rules.reset_requests_per_client, &[client]).await
    }

    /// A verification email to `address` (normalised).
    pub async fn verification_email(&self, address: &str) -> Counted<()> {
        self.count(Limit::VerificationEmails, self.rules.verification_emails_per_address, &[address]).await
    }

    async fn count(&self, limit: Limit, rule: Rule, parts: &[&str]) -> Counted<()> {
        let (key, now) = (limits::key(parts), self.clock.now_ms());
        self.db
            .query(move |conn| {
                let counted = limits::hit(conn, limit.what(), &key, rule.window_ms(), now)?;
                Ok(check(limit, &rule, counted, now))
            })
            .await
    }
}

/// Refused when the hit just counted went past the rule's maximum.
fn check(limit: Limit, rule: &Rule, counted: Window, now: i64) -> Result<(), Refused> {
    if counted.hits <= i64::from(rule.max) {
        return Ok(());
    }
    let wait = u64::try_from(counted.expires_at - now).unwrap_or(0);
    Err(Refused { limit, retry_after: Duration::from_millis(wait) })
}

fn guess(
    conn: &mut crate::db::DbConnection,
    rules: &Rules,
    email: &str,
    client: &str,
    now: i64,
) -> diesel::QueryResult<Result<Guess, Refused>> {
    let rule = rules.failures_per_email_and_client;
    let pair_key = limits::key(&[email, client]);
    let counted = limits::hit(conn, Limit::WrongPasswords.what(), &pair_key, rule.window_ms(), now)?;
    if let Err(refused) = check(Limit::WrongPasswords, &rule, counted, now) {
        return Ok(Err(refused));
    }
    let email_key = limits::key(&[email]);
    let failures = limits::current(conn, WRONG_PASSWORDS_FOR_EMAIL, &email_key, now)?.map_or(0, |w| w.hits);
    Ok(Ok(Guess { email_key, pair_key, delay: delay_after(failures, rules.failures_before_delay) }))
}

/// The wait before checking a password for an email with `failures` wrong passwords in the
/// window: none up to `threshold`, then 1 s, doubling with each further failure, at most
/// [`MAX_DELAY`].
pub fn delay_after(failures: i64, threshold: u32) -> Duration {
    let beyond = failures - i64::from(threshold);
    if beyond < 0 {
        return Duration::ZERO;
    }
    let seconds = 1_u64 << beyond.min(10);
    Duration::from_secs(seconds).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_starts_at_the_threshold_doubles_and_stops_at_ten_seconds() {
        let delays: Vec<u64> = (8..16).map(|f| delay_after(f, 10).as_secs()).collect();
        assert_eq!(delays, [0, 0, 1, 2, 4, 8, 10, 10]);
        assert_eq!(delay_after(i64::MAX, 10), MAX_DELAY);
        assert_eq!(delay_after(0, 0), Duration::from_secs(1));
    }

    #[test]
    fn a_refusal_says_in_words_when_to_try_again() {
        let refused = Refused { limit: Limit::SignIns, retry_after: Duration::from_secs(11 * 60 + 5) };
        assert_eq!(refused.message(), "Too many sign-in attempts from this network. Try again in 12 minutes.");
        assert_eq!(refused.seconds(), 665);
        let soon = Refused { limit: Limit::SignUps, retry_after: Duration::from_millis(300) };
        assert_eq!(soon.try_again(), "Try again in 1 minute.");
        assert_eq!(soon.seconds(), 1);
    }
}
