//! Characters that show nothing or change how the text around them is shown, from the Unicode
//! Character Database (ICU4X's compiled data), so that every new Unicode version's additions
//! are covered without a list kept by hand.

use icu_properties::props::{BidiControl, DefaultIgnorableCodePoint, GeneralCategory};
use icu_properties::{CodePointMapData, CodePointSetData};

/// BRAILLE PATTERN BLANK is a graphic character (So), so no property above names it, yet it
/// renders as an empty cell and passes for a space in names and texts.
const BRAILLE_BLANK: char = '\u{2800}';

/// Default_Ignorable_Code_Point (zero-width characters, Hangul fillers, variation selectors,
/// the combining grapheme joiner, tags, ...), general category Cf (format: soft hyphen, bidi
/// embeddings and isolates, invisible operators), Bidi_Control, line and paragraph separators
/// (Zl, Zp) and the blank Braille pattern. Controls (Cc) are not included: callers decide
/// whether a line break is allowed.
pub fn is_invisible(c: char) -> bool {
    if c.is_ascii() {
        return false;
    }
    let category = CodePointMapData::<GeneralCategory>::new().get(c);
    c == BRAILLE_BLANK
        || matches!(
            category,
            GeneralCategory::Format | GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator
        )
        || CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
        || CodePointSetData::new::<BidiControl>().contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fillers_joiners_selectors_and_bidi_controls_are_invisible() {
        for c in [
            '\u{00AD}',
            '\u{034F}',
            '\u{061C}',
            '\u{115F}',
            '\u{1160}',
            '\u{17B4}',
            '\u{180E}',
            '\u{200B}',
            '\u{200D}',
            '\u{200E}',
            '\u{2028}',
            '\u{2029}',
            '\u{202E}',
            '\u{2060}',
            '\u{2066}',
            '\u{2800}',
            '\u{3164}',
            '\u{FE0F}',
            '\u{FEFF}',
            '\u{FFA0}',
            '\u{1D173}',
            '\u{E0001}',
            '\u{E0041}',
            '\u{E01EF}',
        ] {
            assert!(is_invisible(c), "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn letters_spaces_and_symbols_are_not() {
        for c in "Aa1 -.,'—éß日本語한글🙂\u{00A0}\u{3000}\n\t".chars() {
            assert!(!is_invisible(c), "U+{:04X}", c as u32);
        }
    }
}
