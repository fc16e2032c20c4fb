//! Who is signed in, and how they proved it: password hashing, the session's contents and
//! sign-in rate limiting.

pub mod password;
pub mod rate_limit;
pub mod session;

pub use password::{HashError, PasswordHasher};
pub use rate_limit::{LoginLimiter, RetryAfter};
