//! Sign-up, sign-in and sign-out.

pub mod login;
pub mod logout;
pub mod signup;
