//! The operations of the product, one module per resource. Each owns its transactions
//! (taking the write lock first where it reads then writes) and returns plain values; the
//! web and API layers only call them inside `Db::run`. A write that changes who may call with
//! what returns [`Committed`], whose changes the caller hands to `identity` after the commit.

pub mod accounts;
pub mod addresses;
pub mod apps;
pub mod audit;
pub mod billing;
pub mod committed;
pub mod email_change;
pub mod email_links;
pub mod emails;
pub mod invitation_budgets;
pub mod invitations;
pub mod jobs;
pub mod keys;
pub mod limits;
pub mod members;
pub mod outbox;
pub mod password_reset;
pub mod profile;
pub mod registration;
pub mod requests;
pub mod secrets;
pub mod security_log;
pub mod sessions;
pub mod teams;
pub mod tokens;
pub mod two_factor;
pub mod usage;
pub mod users;
pub mod verification;

pub use committed::{Change, Committed};
