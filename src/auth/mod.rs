//! Who is signed in, and how they proved it: password hashing, the session's contents and
//! the limits on guessing (counted in the database, shared by every instance).

pub mod limits;
pub mod password;
pub mod session;

pub use limits::{Limits, Refused};
pub use password::{HashError, PasswordHasher};
