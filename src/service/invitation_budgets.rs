//! How many invitation emails may go out, so that Teamdeck is no relay for whoever makes an
//! account: each team has a budget (`--invites-per-day`), and so has each person across all
//! the teams they invite to (`--invites-per-person-per-day`), both over the last 24 hours.
//! A send and a resend count alike; an address that is already a member costs nothing.
//!
//! Rules: the budgets are counted from the audit log, where every invitation is recorded in
//! the transaction that queues its email, so there is no second count to drift, and every
//! instance sharing the database counts the same rows. They are checked inside that same
//! transaction, with the team's row locked (per team) and then the inviter's user row
//! (per person; PostgreSQL `FOR NO KEY UPDATE`, SQLite's write lock covers both): two sends
//! by one person to two teams, on two instances, take turns, and the second counts the first.
//! The order, team then person, is the one every change that locks a user follows. A request
//! of several invitations (a CSV) takes all its places or none.

use super::audit::{self, InvitesBy};
use crate::db::DbConnection;
use crate::db::schema::users;
use diesel::prelude::*;
use std::time::Duration;

/// The window both budgets are counted over.
pub const WINDOW_MS: i64 = 24 * 3600 * 1000;

/// The most invitations in [`WINDOW_MS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budgets {
    pub per_team: i64,
    pub per_person: i64,
}

/// Whose budget was short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    Team,
    Person,
}

/// A request refused for want of places: how many it needed, how many are left, and when
/// enough will be (or, for a request larger than the whole budget, when all are).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverBudget {
    pub budget: Budget,
    pub max: i64,
    pub left: i64,
    pub wanted: i64,
    pub retry_after: Duration,
}

impl OverBudget {
    /// What the person is told: how many more, and when.
    pub fn message(&self) -> String {
        let when = in_words(self.retry_after);
        let (max, left, wanted) = (self.max, self.left, self.wanted);
        match (self.budget, left) {
            (Budget::Person, _) if wanted > max => format!(
                "You can send at most {max} invitations a day across all the teams you administer, and this would send {wanted}. Send fewer."
            ),
            (Budget::Team, _) if wanted > max => {
                format!("This team can send at most {max} invitations a day, and this would send {wanted}. Send fewer.")
            }
            (Budget::Person, 0) => format!(
                "You have sent {max} invitations today, the most one person can send in a day across all the teams they administer. You can send more {when}."
            ),
            (Budget::Person, _) => format!(
                "You can send {} today ({max} a day across all the teams you administer), and this would send {wanted}. Send fewer, or try again {when}.",
                more(left)
            ),
            (Budget::Team, 0) => {
                format!("This team has sent {max} invitations today, its most in a day. It can send more {when}.")
            }
            (Budget::Team, _) => format!(
                "This team can send {} today ({max} a day), and this would send {wanted}. Send fewer, or try again {when}.",
                more(left)
            ),
        }
    }

    /// The `Retry-After` header's value: whole seconds, at least one.
    pub fn seconds(&self) -> u64 {
        self.retry_after.as_secs_f64().ceil().max(1.0) as u64
    }
}

fn more(left: i64) -> String {
    format!("{left} more invitation{}", if left == 1 { "" } else { "s" })
}

/// "in 3 hours", "in 12 minutes": rounded up, whole hours past the first.
fn in_words(wait: Duration) -> String {
    let minutes = wait.as_secs().div_ceil(60).max(1);
    let (n, unit) = if minutes <= 60 { (minutes, "minute") } else { (minutes.div_ceil(60), "hour") };
    format!("in {n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// Checks that `wanted` more invitations fit both budgets at `now`: the team's
/// (`account_id`) and, when a person sends them, `inviter`'s. Inside the sending transaction,
/// after the team's row is locked; locks the inviter's row.
pub fn check(
    conn: &mut DbConnection,
    budgets: Budgets,
    account_id: i64,
    inviter: Option<i64>,
    wanted: i64,
    now: i64,
) -> QueryResult<Result<(), OverBudget>> {
    if wanted == 0 {
        return Ok(Ok(()));
    }
    if let Err(over) = check_one(conn, Budget::Team, InvitesBy::Team(account_id), budgets.per_team, wanted, now)? {
        return Ok(Err(over));
    }
    let Some(user_id) = inviter else { return Ok(Ok(())) };
    lock_inviter(conn, user_id)?;
    check_one(conn, Budget::Person, InvitesBy::Person(user_id), budgets.per_person, wanted, now)
}

fn check_one(
    conn: &mut DbConnection,
    budget: Budget,
    by: InvitesBy,
    max: i64,
    wanted: i64,
    now: i64,
) -> QueryResult<Result<(), OverBudget>> {
    let since = now - WINDOW_MS;
    let made = audit::invites_since(conn, by, since)?;
    if made + wanted <= max {
        return Ok(Ok(()));
    }
    // Room for `wanted` once the oldest `made + wanted - max` have left the window (all of
    // them, for a request larger than the budget).
    let leaving = (made + wanted - max).min(made).max(1);
    let oldest = audit::nth_invite_since(conn, by, since, leaving - 1)?.unwrap_or(now);
    let wait = u64::try_from(oldest + WINDOW_MS - now).unwrap_or(0);
    Ok(Err(OverBudget { budget, max, left: (max - made).max(0), wanted, retry_after: Duration::from_millis(wait) }))
}

/// Locks the inviter's row until the transaction ends, so that their sends take turns.
fn lock_inviter(conn: &mut DbConnection, user_id: i64) -> QueryResult<()> {
    if let DbConnection::Postgres(pg) = conn {
        users::table.find(user_id).select(users::id).for_no_key_update().first::<i64>(pg).optional()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn over(budget: Budget, left: i64, wanted: i64, minutes: u64) -> OverBudget {
        OverBudget { budget, max: 200, left, wanted, retry_after: Duration::from_secs(minutes * 60) }
    }

    #[test]
    fn a_refusal_says_how_many_more_and_when() {
        assert_eq!(
            over(Budget::Person, 12, 30, 170).message(),
            "You can send 12 more invitations today (200 a day across all the teams you administer), and this would send 30. Send fewer, or try again in 3 hours."
        );
        assert_eq!(
            over(Budget::Person, 0, 1, 5).message(),
            "You have sent 200 invitations today, the most one person can send in a day across all the teams they administer. You can send more in 5 minutes."
        );
        assert_eq!(
            over(Budget::Team, 1, 2, 60).message(),
            "This team can send 1 more invitation today (200 a day), and this would send 2. Send fewer, or try again in 60 minutes."
        );
        assert_eq!(
            over(Budget::Team, 0, 1, 61).message(),
            "This team has sent 200 invitations today, its most in a day. It can send more in 2 hours."
        );
        assert_eq!(over(Budget::Team, 0, 1, 0).seconds(), 1);
        assert_eq!(
            over(Budget::Team, 200, 250, 0).message(),
            "This team can send at most 200 invitations a day, and this would send 250. Send fewer."
        );
    }
}
