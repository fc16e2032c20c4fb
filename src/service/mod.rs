//! The operations of the product, one module per resource. Each owns its transactions
//! (taking the write lock first where it reads then writes) and returns plain values; the
//! web and API layers only call them inside `Db::run`.

pub mod accounts;
pub mod audit;
pub mod billing;
pub mod credentials;
pub mod emails;
pub mod invitations;
pub mod jobs;
pub mod keys;
pub mod lookups;
pub mod members;
pub mod outbox;
pub mod requests;
pub mod secrets;
pub mod teams;
pub mod tokens;
pub mod usage;
pub mod users;
