//! An account's own pages, under `/a/{slug}`.

pub mod overview;
pub mod settings;
