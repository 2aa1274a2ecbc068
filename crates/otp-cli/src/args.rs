//! Value parsers shared by the subcommands' options.

use core::str::FromStr;

/// A whole number, 0 or more, for an option declared with
/// `allow_negative_numbers = true`: without it clap takes `-5` for an
/// option and says "unexpected argument '-5' found"; with it, a negative
/// number is refused as negative (a usage error, exit 2).
pub(crate) fn whole<T>(text: &str) -> Result<T, String>
where
    T: FromStr,
    T::Err: core::fmt::Display,
{
    if let Some(digits) = text.strip_prefix('-')
        && !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
    {
        return Err(format!(
            "{text} is negative: give a whole number, 0 or more"
        ));
    }
    text.parse::<T>().map_err(|e| e.to_string())
}

/// An RFC 6287 OCRA suite a keypad token can take: well-formed, and with
/// no PIN hash `P` or session `S` (a keypad token has no way to be given
/// them). Refused as a usage error (exit 2).
pub(crate) fn keypad_suite(text: &str) -> Result<otp_core::OcraSuite, String> {
    let suite = otp_core::OcraSuite::parse(text)
        .map_err(|e| format!("not an OCRA suite: {e} (example: OCRA-1:HOTP-SHA1-6:QN08)"))?;
    if suite.password_hash().is_some() || suite.session_len().is_some() {
        return Err(format!(
            "{text} needs a PIN hash (P) or session data (S), which a keypad token cannot be given: use a suite with C, Q and T only"
        ));
    }
    Ok(suite)
}

/// Refuses a negative time step as such, naming the option: `-30` is
/// otherwise a "cannot parse" (or, before clap took hyphen values, an
/// "unexpected argument '-3'").
///
/// # Errors
///
/// When `text` starts with a minus sign.
pub(crate) fn positive_step(option: &str, text: &str) -> anyhow::Result<()> {
    if text.trim_start().starts_with(['-', '\u{2212}']) {
        anyhow::bail!(
            "{option} {text}: the time step must be a positive duration, such as 30, 30s or 1m"
        );
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn negative_numbers_are_refused_as_negative() {
        assert_eq!(whole::<u64>("30"), Ok(30));
        assert_eq!(whole::<u64>("0"), Ok(0));
        assert_eq!(
            whole::<u64>("-5"),
            Err("-5 is negative: give a whole number, 0 or more".to_owned())
        );
        assert_eq!(
            whole::<u8>("300"),
            Err("number too large to fit in target type".to_owned())
        );
        assert_eq!(
            whole::<u64>("-"),
            Err("invalid digit found in string".to_owned())
        );
        assert!(positive_step("--step", "30s").is_ok());
        assert_eq!(
            positive_step("-s", "-1m").unwrap_err().to_string(),
            "-s -1m: the time step must be a positive duration, such as 30, 30s or 1m"
        );
    }
}
