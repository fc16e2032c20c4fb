//! Names people type (a person's name, a team's name) and the URL slugs made from them.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("Enter a name.")]
    Empty,
    #[error("Use at most {0} characters.")]
    TooLong(usize),
    #[error("Line breaks and control characters are not allowed.")]
    ControlCharacters,
}

fn parse_name(input: &str, max_chars: usize) -> Result<String, NameError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(NameError::Empty);
    }
    if trimmed.chars().count() > max_chars {
        return Err(NameError::TooLong(max_chars));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(NameError::ControlCharacters);
    }
    Ok(trimmed.to_owned())
}

/// A person's display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(input: &str) -> Result<Self, NameError> {
        parse_name(input, Self::MAX_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A team's display name, visible to all members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamName(String);

impl TeamName {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(input: &str) -> Result<Self, NameError> {
        parse_name(input, Self::MAX_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TeamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The URL-safe identifier of an account: `[a-z0-9-]`, no leading, trailing or double dash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    pub const MAX_LEN: usize = 40;

    /// The slug a name suggests: lowercase ASCII letters and digits, the rest folded into
    /// single dashes. Falls back to `fallback` when nothing usable remains (a name in another
    /// script, say).
    pub fn from_name(name: &str, fallback: &str) -> Self {
        let mut slug = String::new();
        for c in name.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_alphanumeric() {
                slug.push(c);
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
            if slug.len() >= Self::MAX_LEN {
                break;
            }
        }
        let slug = slug.trim_end_matches('-');
        Slug(if slug.is_empty() { fallback.to_owned() } else { slug.to_owned() })
    }

    /// This slug with a numeric suffix, still within the length limit.
    pub fn with_suffix(&self, n: u32) -> Slug {
        let suffix = format!("-{n}");
        let keep = Self::MAX_LEN.saturating_sub(suffix.len()).min(self.0.len());
        Slug(format!("{}{suffix}", self.0[..keep].trim_end_matches('-')))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_limited() {
        assert_eq!(TeamName::parse("  Acme  ").unwrap().as_str(), "Acme");
        assert_eq!(TeamName::parse("   "), Err(NameError::Empty));
        assert_eq!(TeamName::parse(&"x".repeat(65)), Err(NameError::TooLong(64)));
        assert!(TeamName::parse(&"é".repeat(64)).is_ok(), "the limit counts characters, not bytes");
        assert_eq!(TeamName::parse("a\nb"), Err(NameError::ControlCharacters));
    }

    #[test]
    fn slugs_are_url_safe() {
        assert_eq!(Slug::from_name("Acme Research, Inc.", "team").as_str(), "acme-research-inc");
        assert_eq!(Slug::from_name("--Ünïcode--Team--", "team").as_str(), "n-code-team");
        assert_eq!(Slug::from_name("東京", "team").as_str(), "team");
        assert_eq!(Slug::from_name(&"a".repeat(100), "team").as_str().len(), Slug::MAX_LEN);
        let long = Slug::from_name(&"b".repeat(100), "team");
        assert_eq!(long.with_suffix(12).as_str(), format!("{}-12", "b".repeat(37)));
    }
}
