//! Email addresses: stored as typed, compared trimmed and lowercased.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress {
    as_typed: String,
    normalized: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("Enter an email address.")]
    Empty,
    #[error("Enter an email address like name@example.com.")]
    Invalid,
    #[error("An email address can be at most 254 characters long.")]
    TooLong,
}

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.len() > 254 {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = trimmed.rsplit_once('@').ok_or(EmailError::Invalid)?;
        let forbidden = |c: char| c.is_whitespace() || c.is_control() || "<>()[],;:\\\"@".contains(c);
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        if local.is_empty() || local.len() > 64 || local.chars().any(forbidden) || !domain_ok {
            return Err(EmailError::Invalid);
        }
        Ok(Self { as_typed: trimmed.to_owned(), normalized: trimmed.to_lowercase() })
    }

    /// Lowercased: the form used for uniqueness and comparison.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// As the person typed it (trimmed): the form shown back.
    pub fn as_typed(&self) -> &str {
        &self.as_typed
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_typed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_compared_lowercased() {
        let e = EmailAddress::parse("  Alice.Smith@Example.COM ").unwrap();
        assert_eq!(e.as_typed(), "Alice.Smith@Example.COM");
        assert_eq!(e.normalized(), "alice.smith@example.com");
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in [
            "",
            "   ",
            "alice",
            "@example.com",
            "alice@",
            "alice@example",
            "a b@example.com",
            "alice@exa mple.com",
            "alice@.example.com",
            "<a>@example.com",
            "a\r\nBcc: x@y.z@example.com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(EmailAddress::parse(&format!("{}@example.com", "a".repeat(250))), Err(EmailError::TooLong));
    }
}
