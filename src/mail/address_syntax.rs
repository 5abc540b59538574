//! What lets a display name look like (or hide) an address once a client shows or decodes it:
//! `"Bank <ceo@bank.example>" <no-reply@...>`, also spelled with look-alikes (`＠`, `＜`, `‹`).

use unicode_normalization::UnicodeNormalization;

/// The address syntax itself.
const ADDRESS_SYNTAX: [char; 8] = ['<', '>', '@', ',', ';', ':', '"', '\\'];

/// Angle brackets and quotes that compatibility normalisation leaves as they are but a mail
/// client shows much like `<`, `>` or `"`.
const LOOK_ALIKES: [char; 16] =
    ['‹', '›', '«', '»', '⟨', '⟩', '〈', '〉', '〈', '〉', '《', '》', '❮', '❯', '˂', '˃'];

/// Whether `c` is address syntax or reads as it: itself, after NFKC (full-width and small
/// forms such as `＠` U+FF20 and `﹤` U+FE64), or one of [`LOOK_ALIKES`].
pub fn is_address_syntax(c: char) -> bool {
    ADDRESS_SYNTAX.contains(&c) || LOOK_ALIKES.contains(&c) || c.nfkc().any(|n| ADDRESS_SYNTAX.contains(&n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_syntax_and_its_look_alikes_are_caught() {
        for c in "<>@,;:\"\\＠＜＞﹫﹤﹥＂，；：‹›⟨⟩〈〉".chars() {
            assert!(is_address_syntax(c), "{c:?} U+{:04X}", c as u32);
        }
        for c in "Acme Inc.-_'()äß漢ä".chars() {
            assert!(!is_address_syntax(c), "{c:?}");
        }
    }
}
