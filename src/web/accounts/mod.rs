//! An account's own pages, under `/a/{slug}`.

pub mod audit;
pub mod overview;
pub mod settings;
