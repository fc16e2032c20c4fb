//! What a write returns: its value, and what it changed that a process may be holding in
//! memory (who may call with which credential). The layer that called the service hands the
//! changes to `identity` after the commit; no service announces them itself.

/// A committed change to who may call with what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A team key stopped working.
    KeyRevoked { account_id: i64 },
    /// A team key's secret or guardrails changed (rotation, its cap or allowlist).
    KeyChanged { account_id: i64 },
    /// Usage reached a key's spend cap or a team's hard monthly limit.
    SpendCapped,
    /// A team was renamed or archived (its keys name it, or stop working).
    Account { account_id: i64 },
    /// A member's role changed, or they left the team.
    Membership { account_id: i64, user_id: i64 },
    /// A login token was revoked.
    TokenRevoked { user_id: i64 },
    /// A user's account was deleted.
    UserDeleted { user_id: i64 },
    /// A user's name or email changed (answers about their login tokens show both).
    UserChanged { user_id: i64 },
}

/// A write's value and the changes it committed.
#[must_use = "hand the changes to identity (Identity::commit does)"]
#[derive(Debug)]
pub struct Committed<T> {
    pub value: T,
    pub changed: Vec<Change>,
}

impl<T> Committed<T> {
    pub fn new(value: T, changed: impl IntoIterator<Item = Change>) -> Self {
        Self { value, changed: changed.into_iter().collect() }
    }
}
