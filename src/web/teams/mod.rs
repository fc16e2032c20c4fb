//! Teams that are not yet an account page: creating one.

pub mod new;
