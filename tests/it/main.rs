//! One integration test binary. Every test spawns Teamdeck on port 0 against a database of
//! its own (SQLite in a temporary directory, or a fresh PostgreSQL database when
//! `TEST_DATABASE_URL` is set) and drives it over real HTTP like a browser would.

mod helpers;
mod smtp;

mod account;
mod addresses;
mod apps;
mod auth;
mod billing_pages;
mod cli;
mod email_change;
mod invitation_budgets;
mod invites;
mod key_cache;
mod key_guards;
mod key_spend;
mod keys;
mod limits;
mod lookups;
mod member_invites;
mod members;
mod members_cache;
mod operations;
mod outbox;
mod password_reset;
mod platform;
mod profile;
mod proxies;
mod recorder;
mod routes;
mod secrets;
mod security;
mod sessions;
mod stored_values;
mod teams;
mod two_factor;
mod two_factor_guards;
mod usage_ids;
mod usage_page;
mod verification;
