//! Email addresses: stored and shown as typed, compared in one normalised form.
//!
//! The normalised form (what is unique, what sign-in and invitations look up) is the typed
//! address trimmed, NFKC-normalised (a full-width `ａ` is `a`, `ﬁ` is `fi`, a decomposed `é`
//! is the composed one) and then lowercased, with the domain as its IDNA A-label
//! (`müller.de` is `xn--mller-kva.de`). [`normalize`] computes it for any text; an address
//! that [`EmailAddress::parse`] accepts has exactly that form.
//!
//! Refused, each with its own words for the form:
//! - invisible characters anywhere: zero-width spaces and joiners, the bidi controls and
//!   marks, soft hyphens, byte-order marks, any other default-ignorable or format character.
//!   Nobody types them on purpose, and they make two addresses that look the same differ;
//! - a local part or a domain label that mixes scripts (UTS #39 single-script, so Japanese
//!   kana with kanji, or digits and dots with any script, are one script): `pаypal` with a
//!   Cyrillic `а` is how a look-alike is made;
//! - a domain label that is not ASCII yet whose UTS #39 skeleton is all ASCII: written
//!   entirely in letters that pass for Latin ones (`аррӏе` in Cyrillic). Checked on the
//!   domain only: that is what anyone can register to imitate another's, while a local part
//!   is given out by the domain's owner.
//!
//! Internationalised domains are kept rather than refused: people have addresses at
//! `müller.de` or `例え.jp`, and turning them away would lock them out for what the two rules
//! above already cover, which is the look-alike. Their A-label is what the normalised form
//! holds (so `xn--mller-kva.de` typed in ASCII is the same address), what mail is sent to
//! ([`EmailAddress::deliverable`]), and what is shown beside the typed domain
//! ([`EmailAddress::shown`]).
//!
//! Rows stored under the earlier rule (trimmed and lowercased only) differ from this one only
//! when their address is not ASCII; `service::users::renormalize_emails` brings those up to
//! date when the server starts. An address now refused keeps working for the person who
//! has it: sign-in normalises what is typed with [`normalize`], which refuses nothing.

use super::characters;
use std::fmt;
use unicode_normalization::UnicodeNormalization;
use unicode_script::{Script, UnicodeScript};
use unicode_security::{MixedScript, skeleton};

/// RFC 5321's longest path, less the angle brackets.
const MAX_LEN: usize = 254;
const MAX_LOCAL_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress {
    as_typed: String,
    normalized: String,
    deliverable: String,
    /// The A-label form of a domain typed in other than ASCII.
    ascii_domain: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("Enter an email address.")]
    Empty,
    #[error("Enter an email address like name@example.com.")]
    Invalid,
    #[error("An email address can be at most 254 characters long.")]
    TooLong,
    #[error(
        "This address contains an invisible character (a zero-width space, a text-direction mark or the like). Type it again without it."
    )]
    Invisible,
    #[error("“{part}” in this address mixes {scripts} letters, as look-alike addresses do. Type it in one alphabet.")]
    MixedScripts { part: String, scripts: String },
    #[error(
        "The domain “{label}” is written in letters that look like Latin ones, as look-alike addresses are. Check the address."
    )]
    LooksLikeAscii { label: String },
}

impl EmailError {
    /// A few words for a table cell (a row of a bulk invite's preview).
    pub fn summary(&self) -> &'static str {
        match self {
            EmailError::Empty | EmailError::Invalid | EmailError::TooLong => "Invalid email",
            EmailError::Invisible => "Invalid email: invisible character",
            EmailError::MixedScripts { .. } => "Invalid email: mixed alphabets",
            EmailError::LooksLikeAscii { .. } => "Invalid email: look-alike domain",
        }
    }
}

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.chars().count() > MAX_LEN {
            return Err(EmailError::TooLong);
        }
        if trimmed.chars().any(characters::is_ignorable_or_format) {
            return Err(EmailError::Invisible);
        }
        let compatible: String = trimmed.nfkc().collect();
        let (local, domain) = compatible.rsplit_once('@').ok_or(EmailError::Invalid)?;
        let forbidden = |c: char| c.is_whitespace() || c.is_control() || "<>()[],;:\\\"@".contains(c);
        if local.is_empty() || local.len() > MAX_LOCAL_LEN || local.chars().any(forbidden) {
            return Err(EmailError::Invalid);
        }
        let ascii_domain = ascii_domain(domain, idna::AsciiDenyList::STD3).ok_or(EmailError::Invalid)?;
        if !ascii_domain.contains('.') || ascii_domain.split('.').any(str::is_empty) {
            return Err(EmailError::Invalid);
        }
        let local_lower = local.to_lowercase();
        one_script(&local_lower)?;
        let (unicode_domain, _) = idna::domain_to_unicode(&ascii_domain);
        for label in unicode_domain.split('.').filter(|label| !label.is_ascii()) {
            one_script(label)?;
            if skeleton(label).all(|c| c.is_ascii()) {
                return Err(EmailError::LooksLikeAscii { label: label.to_owned() });
            }
        }
        let normalized = format!("{local_lower}@{ascii_domain}");
        if normalized.len() > MAX_LEN {
            return Err(EmailError::TooLong);
        }
        let international = !domain.is_ascii();
        Ok(Self {
            deliverable: deliverable(trimmed),
            as_typed: trimmed.to_owned(),
            normalized,
            ascii_domain: international.then_some(ascii_domain),
        })
    }

    /// The form used for uniqueness and comparison (see the module's doc).
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// As the person typed it (trimmed): the form stored and shown back.
    pub fn as_typed(&self) -> &str {
        &self.as_typed
    }

    /// Where mail goes (see [`deliverable`]).
    pub fn deliverable(&self) -> &str {
        &self.deliverable
    }

    /// As typed, and for an internationalised domain its A-label beside it, so that what a
    /// domain is made of can be seen: `jürgen@müller.de (xn--mller-kva.de)`.
    pub fn shown(&self) -> String {
        match &self.ascii_domain {
            Some(ascii) => format!("{} ({ascii})", self.as_typed),
            None => self.as_typed.clone(),
        }
    }
}

/// The normalised form of any text, refusing nothing: how sign-in finds the account of what
/// is typed, and how rows stored under an earlier rule are brought up to date. For an address
/// [`EmailAddress::parse`] accepts, it is that address's [`EmailAddress::normalized`].
pub fn normalize(input: &str) -> String {
    let compatible: String = input.trim().nfkc().collect();
    match compatible.rsplit_once('@') {
        Some((local, domain)) => {
            let domain = ascii_domain(domain, idna::AsciiDenyList::EMPTY).unwrap_or_else(|| domain.to_lowercase());
            format!("{}@{domain}", local.to_lowercase())
        }
        None => compatible.to_lowercase(),
    }
}

/// Where mail to a stored address goes: as it is when ASCII, else NFKC-normalised with the
/// domain as its A-label, the local part keeping its case (its owner's server may care). A
/// full-width `ａ` typed at sign-up reaches the mailbox `a`, and `müller.de` is reached
/// without asking the relay for SMTPUTF8.
pub fn deliverable(address: &str) -> String {
    let address = address.trim();
    if address.is_ascii() {
        return address.to_owned();
    }
    let compatible: String = address.nfkc().collect();
    match compatible.rsplit_once('@') {
        Some((local, domain)) => match ascii_domain(domain, idna::AsciiDenyList::EMPTY) {
            Some(domain) => format!("{local}@{domain}"),
            None => compatible,
        },
        None => compatible,
    }
}

/// The domain as IDNA (UTS #46) A-labels, lowercased; `None` when it is not a valid domain.
/// An ASCII domain comes back lowercased and otherwise as it was.
fn ascii_domain(domain: &str, deny: idna::AsciiDenyList) -> Option<String> {
    if domain.is_empty() {
        return None;
    }
    idna::domain_to_ascii_cow(domain.as_bytes(), deny).ok().map(|ascii| ascii.into_owned())
}

/// Refuses a part of an address whose letters come from more than one script.
fn one_script(part: &str) -> Result<(), EmailError> {
    if part.is_single_script() {
        return Ok(());
    }
    let mut scripts: Vec<&'static str> = Vec::new();
    for c in part.chars() {
        let script = c.script();
        if ![Script::Common, Script::Inherited, Script::Unknown].contains(&script)
            && !scripts.contains(&script.full_name())
        {
            scripts.push(script.full_name());
        }
    }
    let scripts = match scripts.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => scripts.join(""),
    };
    Err(EmailError::MixedScripts { part: part.to_owned(), scripts })
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_typed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(input: &str) -> String {
        EmailAddress::parse(input).unwrap_or_else(|e| panic!("{input:?} refused: {e}")).normalized().to_owned()
    }

    #[test]
    fn addresses_are_trimmed_and_compared_lowercased() {
        let e = EmailAddress::parse("  Alice.Smith@Example.COM ").unwrap();
        assert_eq!(e.as_typed(), "Alice.Smith@Example.COM");
        assert_eq!(e.normalized(), "alice.smith@example.com");
        assert_eq!(e.deliverable(), "Alice.Smith@Example.COM");
        assert_eq!(e.shown(), "Alice.Smith@Example.COM");
    }

    #[test]
    fn compatibility_forms_are_the_plain_letters_they_stand_for() {
        let wide = EmailAddress::parse("ａｌｉｃｅ＠ＥＸＡＭＰＬＥ．com").unwrap();
        assert_eq!(wide.normalized(), "alice@example.com");
        assert_eq!(wide.as_typed(), "ａｌｉｃｅ＠ＥＸＡＭＰＬＥ．com", "shown as typed");
        assert_eq!(wide.deliverable(), "alice@example.com");
        assert_eq!(normalized("ﬁona@example.com"), "fiona@example.com");
        assert_eq!(normalized("jose\u{301}@example.com"), normalized("jos\u{e9}@example.com"), "NFD is NFC");
    }

    #[test]
    fn an_internationalised_domain_is_compared_and_sent_as_its_a_label_and_shown_beside_it() {
        let e = EmailAddress::parse("Jürgen@Müller.de").unwrap();
        assert_eq!(e.normalized(), "jürgen@xn--mller-kva.de");
        assert_eq!(e.deliverable(), "Jürgen@xn--mller-kva.de");
        assert_eq!(e.shown(), "Jürgen@Müller.de (xn--mller-kva.de)");
        assert_eq!(normalized("jürgen@xn--mller-kva.de"), e.normalized(), "typed as its A-label, the same address");
        assert_eq!(normalized("info@例え.jp"), "info@xn--r8jz45g.jp");
        assert_eq!(normalized("山田たろう@example.jp"), "山田たろう@example.jp", "kanji and kana are one script");
        assert_eq!(normalized("ivan@пример.рф"), "ivan@xn--e1afmkfd.xn--p1ai", "a Cyrillic domain that reads as one");
    }

    #[test]
    fn mail_goes_to_the_compatible_form_with_the_a_label_and_ascii_as_it_is() {
        assert_eq!(deliverable(" Alice@Example.COM "), "Alice@Example.COM");
        assert_eq!(deliverable("ａｌｉｃｅ@example.com"), "alice@example.com");
        assert_eq!(deliverable("Jürgen@Müller.de"), "Jürgen@xn--mller-kva.de");
        assert_eq!(deliverable("no address"), "no address");
    }

    #[test]
    fn invisible_characters_are_refused() {
        for hidden in [
            "ali\u{200B}ce@example.com",
            "alice@exam\u{200D}ple.com",
            "alice@example\u{200C}.com",
            "\u{202E}alice@example.com",
            "alice\u{2066}@example.com\u{2069}",
            "alice@example.com\u{200E}",
            "\u{FEFF}alice@example.com",
            "al\u{AD}ice@example.com",
            "alice\u{2060}@example.com",
            "\u{3164}@example.com",
        ] {
            assert_eq!(EmailAddress::parse(hidden), Err(EmailError::Invisible), "{hidden:?}");
        }
    }

    #[test]
    fn a_local_part_or_a_domain_label_in_two_scripts_is_refused() {
        let local = EmailAddress::parse("\u{430}lice@example.com").unwrap_err();
        assert_eq!(
            local,
            EmailError::MixedScripts { part: "\u{430}lice".into(), scripts: "Cyrillic and Latin".into() }
        );
        let label = EmailAddress::parse("alice@p\u{430}ypal.com").unwrap_err();
        assert_eq!(
            label,
            EmailError::MixedScripts { part: "p\u{430}ypal".into(), scripts: "Latin and Cyrillic".into() }
        );
        assert_eq!(
            label.to_string(),
            "“p\u{430}ypal” in this address mixes Latin and Cyrillic letters, as look-alike addresses do. Type it in one alphabet."
        );
        let a_label = idna::domain_to_ascii("p\u{430}ypal.com").unwrap();
        assert!(
            matches!(EmailAddress::parse(&format!("alice@{a_label}")), Err(EmailError::MixedScripts { .. })),
            "typed as its A-label too"
        );
        assert!(
            matches!(EmailAddress::parse("alice@g\u{3bf}\u{3bf}gle.com"), Err(EmailError::MixedScripts { .. })),
            "Greek omicrons"
        );
    }

    #[test]
    fn a_domain_written_in_letters_that_pass_for_latin_ones_is_refused() {
        let refused = EmailAddress::parse("alice@\u{430}\u{440}\u{440}\u{4cf}\u{435}.com").unwrap_err();
        assert_eq!(refused, EmailError::LooksLikeAscii { label: "\u{430}\u{440}\u{440}\u{4cf}\u{435}".into() });
        assert!(matches!(EmailAddress::parse("alice@\u{3bf}\u{3bf}.com"), Err(EmailError::LooksLikeAscii { .. })));
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
            "alice@example.",
            "a b@example.com",
            "alice@exa mple.com",
            "alice@.example.com",
            "alice@example..com",
            "alice@exa_mple.com",
            "<a>@example.com",
            "a\r\nBcc: x@y.z@example.com",
            "a\u{2028}b@example.com",
            "ａ＜b＞@example.com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(EmailAddress::parse(&format!("{}@example.com", "a".repeat(250))), Err(EmailError::TooLong));
    }

    #[test]
    fn normalising_refuses_nothing_and_agrees_with_parsing() {
        for typed in ["Alice@Example.COM", "ａlice@example.com", "Jürgen@Müller.de", "info@例え.jp", " Bob@x.io "]
        {
            assert_eq!(normalize(typed), normalized(typed), "{typed:?}");
        }
        // What the earlier rule stored for an ASCII address is what it is now, refused or not.
        for legacy in ["Alice@Example.COM", "a_b@Exa_mple.com", "x@xn--not-punycode-.com", "not an address"] {
            assert_eq!(normalize(legacy), legacy.trim().to_lowercase(), "{legacy:?}");
        }
        assert_eq!(normalize("ali\u{200B}ce@Example.com"), "ali\u{200B}ce@example.com", "kept for its owner");
    }
}
