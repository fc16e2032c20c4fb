//! Names people type (a person's name, a team's name) and the URL slugs made from them.
//!
//! A name is shown inside sentences (an invitation's subject, the audit log), so it may not
//! reorder them: the explicit bidi embeddings, overrides and isolates are refused (the marks
//! LRM, RLM and ALM, which right-to-left names use, are not). A name must show something:
//! one made only of invisible characters (zero-width spaces, Hangul fillers, format
//! characters) is refused. Invisible characters with a job inside a visible name stay: the
//! zero-width joiner of an emoji sequence (👩‍💻) or of Indic scripts, the non-joiner of
//! Persian, variation selectors.

use super::characters;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("Enter a name.")]
    Empty,
    #[error("Use at most {0} characters.")]
    TooLong(usize),
    #[error("Line breaks and control characters are not allowed.")]
    ControlCharacters,
    #[error("Text-direction controls (such as a right-to-left override) are not allowed.")]
    DirectionControls,
    #[error("Enter a name with characters that can be seen.")]
    Invisible,
}

fn parse_name(input: &str, max_chars: usize) -> Result<String, NameError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(NameError::Empty);
    }
    if trimmed.chars().count() > max_chars {
        return Err(NameError::TooLong(max_chars));
    }
    if trimmed.chars().any(|c| c.is_control() || characters::breaks_lines(c)) {
        return Err(NameError::ControlCharacters);
    }
    if trimmed.chars().any(characters::reorders_text) {
        return Err(NameError::DirectionControls);
    }
    if trimmed.chars().all(characters::is_invisible) {
        return Err(NameError::Invisible);
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

/// Where deleted people's personal accounts go: `deleted-{user id}`.
const DELETED_PREFIX: &str = "deleted-";

/// Words of the site's own paths and of what a slug could be mistaken for (an admin, the
/// system, the API); a name that folds to one of them gets a numbered slug instead.
const RESERVED_WORDS: &[&str] = &[
    "a",
    "about",
    "account",
    "accounts",
    "admin",
    "administrator",
    "api",
    "app",
    "apps",
    "assets",
    "billing",
    "device",
    "docs",
    "forgot",
    "healthz",
    "help",
    "invites",
    "keys",
    "login",
    "logout",
    "members",
    "metrics",
    "new",
    "o",
    "org",
    "orgs",
    "personal",
    "readyz",
    "requests",
    "reset",
    "root",
    "secrets",
    "security",
    "settings",
    "signup",
    "sso",
    "static",
    "support",
    "system",
    "teamdeck",
    "teams",
    "usage",
    "verify",
];

/// The URL-safe identifier of an account: `[a-z0-9-]`, no leading, trailing or double dash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    pub const MAX_LEN: usize = 40;

    /// The slug a name suggests: transliterated to ASCII ("Ünïcødé" → "unicode", "東京" →
    /// "dong-jing"), lowercase letters and digits, the rest folded into single dashes. `None`
    /// when nothing usable remains (a name of punctuation or emoji only).
    pub fn suggest(name: &str) -> Option<Self> {
        let mut slug = String::new();
        for c in deunicode::deunicode(name).chars().flat_map(char::to_lowercase) {
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
        (!slug.is_empty()).then(|| Slug(slug.to_owned()))
    }

    /// [`Slug::suggest`], or `fallback` (itself folded the same way) when the name gives nothing.
    pub fn from_name(name: &str, fallback: &str) -> Self {
        Self::suggest(name).or_else(|| Self::suggest(fallback)).unwrap_or_else(|| Slug("team".to_owned()))
    }

    /// A short random slug, `prefix-` and six letters and digits, for names that give nothing.
    pub fn random(prefix: &str) -> Self {
        use rand::Rng;
        const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
        let mut rng = rand::thread_rng();
        let code: String = (0..6).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
        Self::from_name(&format!("{prefix}-{code}"), "team")
    }

    /// The slug a deleted person's personal account takes: in the reserved `deleted-`
    /// space, so no one can hold it beforehand and make the deletion fail.
    pub fn of_deleted_account(user_id: i64) -> Slug {
        Slug(format!("{DELETED_PREFIX}{user_id}"))
    }

    /// Whether the system keeps this slug for itself: the deleted accounts' `deleted-…`
    /// and the words of the site's own paths. [`free_slug`](crate::service) never hands one
    /// out for a name a person chose.
    pub fn is_reserved(&self) -> bool {
        self.in_deleted_space() || RESERVED_WORDS.contains(&self.0.as_str())
    }

    /// What a person's chosen name may build its slug from: itself, unless it is in the
    /// `deleted` space, which no numeric suffix would take it out of (`deleted-7-2`); that
    /// one gets a `the-` in front (`the-deleted-7`). A reserved word is numbered by the caller
    /// (`api-2`).
    pub fn unreserved_base(&self) -> Slug {
        if !self.in_deleted_space() {
            return self.clone();
        }
        let mut slug = format!("the-{}", self.0);
        slug.truncate(Self::MAX_LEN);
        Slug(slug.trim_end_matches('-').to_owned())
    }

    fn in_deleted_space(&self) -> bool {
        self.0 == "deleted" || self.0.starts_with(DELETED_PREFIX)
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
        assert_eq!(TeamName::parse("a\u{2028}b"), Err(NameError::ControlCharacters));
    }

    #[test]
    fn names_that_reorder_the_text_around_them_are_refused() {
        for reordering in
            ["\u{202E}moc.lapyap", "Acme\u{202D}", "\u{202B}Acme\u{202C}", "\u{2067}Acme\u{2069}", "Acme\u{2068}"]
        {
            assert_eq!(TeamName::parse(reordering), Err(NameError::DirectionControls), "{reordering:?}");
            assert_eq!(PersonName::parse(reordering), Err(NameError::DirectionControls), "{reordering:?}");
        }
        // Marks that settle a right-to-left name's punctuation are a part of writing it.
        assert!(PersonName::parse("\u{5d3}\u{5e0}\u{5d9} \u{5db}\u{5d4}\u{5df} (\u{5d9}\u{5e8}\u{5d5}\u{5e9}\u{5dc}\u{5d9}\u{5dd})\u{200F}").is_ok());
    }

    #[test]
    fn names_with_nothing_to_see_are_refused() {
        for blank in [
            "\u{200B}",
            "\u{200B}\u{200D}\u{2060}",
            "\u{3164}",
            "\u{115F}\u{1160}",
            "\u{FEFF} \u{200C}",
            "\u{FE0F}",
            "\u{AD}",
        ] {
            assert_eq!(PersonName::parse(blank), Err(NameError::Invisible), "{blank:?}");
            assert_eq!(TeamName::parse(blank), Err(NameError::Invisible), "{blank:?}");
        }
    }

    #[test]
    fn joiners_inside_emoji_and_scripts_keep_a_name_legitimate() {
        for name in [
            "Team \u{1F469}\u{200D}\u{1F4BB}",                    // woman technologist
            "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467} Family", // family
            "Red \u{2764}\u{FE0F}",                               // heart with emoji presentation
            "\u{1F3F4}\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F} Scots", // flag of Scotland
            "\u{645}\u{6CC}\u{200C}\u{62E}\u{648}\u{627}\u{647}\u{645}", // Persian, with a non-joiner
            "\u{915}\u{94D}\u{200D}\u{937}",                      // Devanagari, with a joiner
        ] {
            assert_eq!(TeamName::parse(name).map(|n| n.as_str().to_owned()), Ok(name.to_owned()), "{name:?}");
            assert!(PersonName::parse(name).is_ok(), "{name:?}");
        }
    }

    #[test]
    fn the_systems_own_slugs_are_reserved() {
        for reserved in ["deleted-7", "deleted-", "deleted", "api", "new", "settings", "metrics"] {
            assert!(Slug::from_name(reserved, "team").is_reserved(), "{reserved}");
        }
        assert!(Slug::of_deleted_account(7).is_reserved());
        assert_eq!(Slug::from_name("deleted 7", "team").unreserved_base().as_str(), "the-deleted-7");
        assert_eq!(Slug::from_name("Deleted", "team").unreserved_base().as_str(), "the-deleted");
        assert!(!Slug::from_name("api", "team").with_suffix(2).is_reserved());
        for free in ["acme", "deleted-things-inc", "apiary", "new-york"] {
            let slug = Slug::from_name(free, "team");
            assert_eq!(slug.is_reserved(), free == "deleted-things-inc", "{free}");
        }
    }

    #[test]
    fn slugs_are_url_safe() {
        assert_eq!(Slug::from_name("Acme Research, Inc.", "team").as_str(), "acme-research-inc");
        assert_eq!(Slug::from_name("--Ünïcode--Team--", "team").as_str(), "unicode-team");
        assert_eq!(Slug::from_name("Ünïcødé Team", "team").as_str(), "unicode-team");
        assert_eq!(Slug::from_name("Straße & Söhne", "team").as_str(), "strasse-sohne");
        assert_eq!(Slug::from_name("東京", "team").as_str(), "dong-jing");
        assert_eq!(Slug::from_name("Команда", "team").as_str(), "komanda");
        assert_eq!(Slug::suggest("!!! ???"), None);
        assert_eq!(Slug::from_name("!!!", "fallback here").as_str(), "fallback-here");
        let random = Slug::random("team");
        assert!(random.as_str().starts_with("team-") && random.as_str().len() == 11, "{random}");
        assert_ne!(random, Slug::random("team"), "random each time");
        assert_eq!(Slug::from_name(&"a".repeat(100), "team").as_str().len(), Slug::MAX_LEN);
        let long = Slug::from_name(&"b".repeat(100), "team");
        assert_eq!(long.with_suffix(12).as_str(), format!("{}-12", "b".repeat(37)));
    }
}
