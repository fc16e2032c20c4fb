//! Teamdeck: the team workspace of an API platform. See `README.md` for the architecture.
//!
//! Errors, layer by layer: query functions return diesel's `QueryResult`; services return
//! their own error enums (a validation outcome the caller shows, or a database failure);
//! the web layer has one `AppError`; the command line and start-up use `anyhow`.

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod http;
pub mod identity;
pub mod mail;
pub mod service;
pub mod startup;
pub mod telemetry;
pub mod web;
