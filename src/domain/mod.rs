//! Domain types that parse their input: once built they are valid everywhere.

pub mod app;
mod characters;
mod clock;
pub mod email;
pub mod invite_csv;
mod key_terms;
pub mod money;
mod names;
mod password;
mod role;
pub mod second_factor;
pub mod secret;
mod states;
pub mod stored;
mod when;

pub use app::{AppConfig, AppName, AppNameError, AppStatus};
pub use clock::Clock;
pub use email::EmailAddress;
pub use key_terms::{Allowlist, Expiry, Grace};
pub use names::NameError;
pub use names::{PersonName, Slug, TeamName};
pub use password::{NewPassword, PasswordError};
pub use role::{Permission, Role, UnknownRole};
pub use states::{
    DeviceCodeState, EmailLinkPurpose, InvitationDelivery, InvitationState, InvoiceKind, InvoiceStatus, LedgerKind,
};
use stored::stored_as_text;
pub use when::{When, time_ago};

/// A fresh random id: positive, 63 bits, never sequential.
pub fn new_id() -> i64 {
    (rand::random::<u64>() >> 1) as i64
}

/// Now, as UTC milliseconds since the epoch (the unit of every `*_at` column).
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// What a team API key may do: `API` calls models and runs workloads; `ADMIN` also deploys
/// apps and manages the team through the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum KeyScope {
    Api,
    Admin,
}

impl KeyScope {
    pub const ALL: [KeyScope; 2] = [KeyScope::Api, KeyScope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyScope::Api => "API",
            KeyScope::Admin => "ADMIN",
        }
    }
}

stored_as_text!(KeyScope, "key scope");

impl std::str::FromStr for KeyScope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "API" => Ok(KeyScope::Api),
            "ADMIN" => Ok(KeyScope::Admin),
            _ => Err("Choose the scope API or ADMIN.".into()),
        }
    }
}

/// Whether an account is someone's personal account or a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum AccountKind {
    Personal,
    Team,
}

impl AccountKind {
    pub const ALL: [AccountKind; 2] = [AccountKind::Personal, AccountKind::Team];

    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Personal => "personal",
            AccountKind::Team => "team",
        }
    }
}

stored_as_text!(AccountKind, "account kind");
