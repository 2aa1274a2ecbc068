//! What a person types for a one-time password, read as they mean it
//! before [`otp_core::Code::parse`] holds it to the strict rules.

use std::borrow::Cow;

/// The longest input normalised: a code has at most 10 digits, and typed
/// with full-width digits and spaces it stays under this many bytes. A
/// longer input is returned as it is (the code's own parsing refuses it
/// as too long), so no input, however long, costs more than this to read.
const MAX_TYPED_BYTES: usize = 64;

/// The spaces forgiven between digit groups and around a code: the ASCII
/// space, and the ideographic space (U+3000) that a Japanese input method
/// types.
fn is_space(c: char) -> bool {
    c == ' ' || c == '\u{3000}'
}

/// `c` as a half-width ASCII digit: itself, or a full-width digit
/// (U+FF10..U+FF19, as a Japanese input method types `０`-`９`).
fn ascii_digit(c: char) -> Option<char> {
    if c.is_ascii_digit() {
        return Some(c);
    }
    let offset = u32::from(c).checked_sub(0xFF10).filter(|o| *o < 10)?;
    char::from_digit(offset, 10)
}

/// A one-time password as typed, normalised as the person means it: the
/// code as the token displays it (`821 135`) and as a Japanese input
/// method types it (`８２１　１３５`) become `821135`.
///
/// - full-width digits (`０`-`９`) become half-width ones;
/// - spaces (ASCII or ideographic, U+3000) around the code are dropped,
///   and so are spaces *between two digits*;
/// - nothing else changes: letters, signs, dashes and other separators, a
///   space next to one of them, and a code of the wrong length are left
///   for [`otp_core::Code::parse`] to refuse with its own
///   [`CodeError`](otp_core::CodeError).
///
/// Every screen of the bank that reads a code (sign-in, the current and
/// the new token's codes, unregistering, the branch's registration) reads
/// it through this function, so a web front end and the command line
/// behave alike. Only the typed input is examined (its length and which
/// of its characters are digits are not secret); the comparison with the
/// expected code stays constant-time in `otp_core::verify`.
///
/// # Examples
///
/// ```
/// use otp_exchange::normalize_code;
/// assert_eq!(normalize_code("821 135"), "821135");
/// assert_eq!(normalize_code("８２１　１３５"), "821135");
/// assert_eq!(normalize_code(" 821135 "), "821135");
/// // Left for the code's own refusal:
/// assert_eq!(normalize_code("821-135"), "821-135");
/// assert_eq!(normalize_code("821 13a"), "82113a");
/// ```
#[must_use]
pub fn normalize_code(typed: &str) -> Cow<'_, str> {
    if typed.len() > MAX_TYPED_BYTES {
        return Cow::Borrowed(typed);
    }
    let trimmed = typed.trim_matches(is_space);
    if trimmed.len() == typed.len()
        && trimmed
            .chars()
            .all(|c| !is_space(c) && (c.is_ascii() || ascii_digit(c).is_none()))
    {
        return Cow::Borrowed(typed);
    }
    let chars: Vec<char> = trimmed.chars().collect();
    let digit_at = |found: Option<&char>| found.is_some_and(|c| ascii_digit(*c).is_some());
    let mut out = String::with_capacity(trimmed.len());
    for (i, &c) in chars.iter().enumerate() {
        if let Some(d) = ascii_digit(c) {
            out.push(d);
        } else if is_space(c) {
            let before = chars.get(..i).unwrap_or_default();
            let after = chars.get(i.saturating_add(1)..).unwrap_or_default();
            let between_digits = digit_at(before.iter().rev().find(|c| !is_space(**c)))
                && digit_at(after.iter().find(|c| !is_space(**c)));
            if !between_digits {
                out.push(c);
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::normalize_code;

    /// Regression: every space was read by scanning back and forth to the
    /// nearest non-space, so "1", n spaces, "1" cost n² steps (a 1 MB form
    /// field, hours of CPU). A long input is now returned untouched, for
    /// the code's own parsing to refuse as too long.
    #[test]
    fn a_long_input_is_not_read_and_is_refused_by_the_code_rules() {
        let long = format!("1{}1", " ".repeat(10_000));
        assert!(matches!(normalize_code(&long), Cow::Borrowed(_)));
        assert!(otp_core::Code::parse(&normalize_code(&long), otp_core::Digits::Six).is_err());
        let longest_kept = format!("{}{}", "８".repeat(8), "　".repeat(13));
        assert_eq!(longest_kept.len(), 63);
        assert_eq!(normalize_code(&longest_kept), "88888888");
    }

    #[test]
    fn codes_as_displayed_or_typed_with_an_ime_become_ascii_digits() {
        for (typed, read) in [
            ("821135", "821135"),
            ("821 135", "821135"),
            ("821\u{3000}135", "821135"),
            ("８２１１３５", "821135"),
            ("８２１　１３５", "821135"),
            ("８２１ 135", "821135"),
            ("82 11 35", "821135"),
            ("821  135", "821135"),
            (" 821135\u{3000}", "821135"),
            ("1234 5678", "12345678"),
            ("", ""),
            ("\u{3000} ", ""),
        ] {
            assert_eq!(normalize_code(typed), read, "{typed:?}");
        }
    }

    #[test]
    fn anything_else_is_left_for_its_own_refusal() {
        for (typed, read) in [
            ("821-135", "821-135"),
            ("821 - 135", "821 - 135"),
            ("821 13a", "82113a"),
            ("８２１ａ１３５", "821ａ135"),
            ("-821135", "-821135"),
            ("+821 135", "+821135"),
            ("821 13", "82113"),
            ("821\t135", "821\t135"),
            ("abc def", "abc def"),
            ("٣٣٣ ٣٣٣", "٣٣٣ ٣٣٣"),
        ] {
            assert_eq!(normalize_code(typed), read, "{typed:?}");
        }
    }

    #[test]
    fn nothing_is_copied_when_nothing_changes() {
        assert!(matches!(
            normalize_code("821135"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert!(matches!(
            normalize_code("12-34a"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
