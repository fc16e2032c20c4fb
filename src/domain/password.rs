//! A new password as a person chooses it (signing up, changing it): 8 to 256 characters.
//! Never shown, never logged: its `Debug` says only how long it is.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("Use at least {0} characters.")]
    TooShort(usize),
    #[error("Use at most {0} characters.")]
    TooLong(usize),
}

#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl NewPassword {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 256;

    /// Taken as typed: spaces count, nothing is trimmed (a passphrase may start with one).
    pub fn parse(input: String) -> Result<Self, PasswordError> {
        let chars = input.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(PasswordError::TooShort(Self::MIN_CHARS));
        }
        if chars > Self::MAX_CHARS {
            return Err(PasswordError::TooLong(Self::MAX_CHARS));
        }
        Ok(Self(input))
    }

    /// The password itself, for hashing.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NewPassword({} characters)", self.0.chars().count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_password_has_8_to_256_characters_counted_as_characters_not_bytes() {
        assert_eq!(NewPassword::parse("1234567".into()), Err(PasswordError::TooShort(8)));
        assert!(NewPassword::parse("12345678".into()).is_ok());
        assert!(NewPassword::parse("é".repeat(256)).is_ok(), "512 bytes, 256 characters");
        assert_eq!(NewPassword::parse("x".repeat(257)), Err(PasswordError::TooLong(256)));
        assert_eq!(NewPassword::parse(" spaces count ".into()).map(NewPassword::into_inner).unwrap(), " spaces count ");
    }

    #[test]
    fn its_debug_form_never_shows_it() {
        let shown = format!("{:?}", NewPassword::parse("hunter2hunter2".into()).unwrap());
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
