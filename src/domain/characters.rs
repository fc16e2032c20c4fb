//! What a person can see of a character, from the Unicode Character Database (through
//! `icu_properties`, never a hand-made list): the invisible ones, and the controls that
//! reorder the text around them.

use icu_properties::props::{BidiClass, DefaultIgnorableCodePoint, GeneralCategory, WhiteSpace};
use icu_properties::{CodePointMapData, CodePointSetData};

/// Drawn as nothing: white space, `Default_Ignorable_Code_Point` (zero-width space and
/// joiners, variation selectors, Hangul fillers, the bidi marks, soft hyphen…), and the
/// format and control characters.
pub fn is_invisible(c: char) -> bool {
    CodePointSetData::new::<WhiteSpace>().contains(c) || is_ignorable_or_format(c) || c.is_control()
}

/// Invisible and not white space: what a text can hide without a gap showing
/// (`Default_Ignorable_Code_Point` or general category Format).
pub fn is_ignorable_or_format(c: char) -> bool {
    CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
        || CodePointMapData::<GeneralCategory>::new().get(c) == GeneralCategory::Format
}

/// An explicit directional embedding, override or isolate (LRE, RLE, LRO, RLO, PDF, LRI,
/// RLI, FSI, PDI): it reorders what follows it, beyond the text it sits in when left open
/// (a name inside a sentence, an email subject). The implicit marks (LRM, RLM, ALM) are not
/// among them: they only settle the direction of neighbouring punctuation and digits, which
/// right-to-left names need.
pub fn reorders_text(c: char) -> bool {
    matches!(
        CodePointMapData::<BidiClass>::new().get(c),
        BidiClass::LeftToRightEmbedding
            | BidiClass::RightToLeftEmbedding
            | BidiClass::LeftToRightOverride
            | BidiClass::RightToLeftOverride
            | BidiClass::PopDirectionalFormat
            | BidiClass::LeftToRightIsolate
            | BidiClass::RightToLeftIsolate
            | BidiClass::FirstStrongIsolate
            | BidiClass::PopDirectionalIsolate
    )
}

/// A line or paragraph separator (U+2028, U+2029): a line break that is not a control.
pub fn breaks_lines(c: char) -> bool {
    matches!(
        CodePointMapData::<GeneralCategory>::new().get(c),
        GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_width_and_direction_characters_are_invisible_letters_are_not() {
        for c in ['\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{00AD}', '\u{202E}', '\u{200F}'] {
            assert!(is_ignorable_or_format(c), "U+{:04X}", c as u32);
            assert!(is_invisible(c), "U+{:04X}", c as u32);
        }
        for c in ['\u{3164}', '\u{FE0F}', '\u{E0061}'] {
            assert!(is_invisible(c), "U+{:04X} (Hangul filler, variation selector, tag)", c as u32);
        }
        assert!(is_invisible(' ') && is_invisible('\u{3000}') && is_invisible('\n'));
        for c in ['a', 'é', 'я', '中', '😀', '-', '.'] {
            assert!(!is_invisible(c), "{c}");
        }
    }

    #[test]
    fn only_embeddings_overrides_and_isolates_reorder_text() {
        for c in
            ['\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}']
        {
            assert!(reorders_text(c), "U+{:04X}", c as u32);
        }
        for c in ['\u{200E}', '\u{200F}', '\u{061C}', 'a', 'א', '\u{200D}'] {
            assert!(!reorders_text(c), "U+{:04X}", c as u32);
        }
        assert!(breaks_lines('\u{2028}') && breaks_lines('\u{2029}') && !breaks_lines(' '));
    }
}
