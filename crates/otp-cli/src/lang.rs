//! The language of the bank's screens: `--lang`, else the locale.

use otp_exchange::Lang;

/// `--lang ja|en` as clap parses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LangArg {
    /// English.
    En,
    /// Japanese (日本語).
    Ja,
}

/// The language asked for, or the locale's (`LC_ALL`, `LC_MESSAGES`,
/// `LANG` starting with `ja`), or English.
pub(crate) fn resolve(arg: Option<LangArg>) -> Lang {
    match arg {
        Some(LangArg::En) => Lang::En,
        Some(LangArg::Ja) => Lang::Ja,
        None => {
            let locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
                .iter()
                .filter_map(|v| std::env::var(v).ok())
                .find(|v| !v.is_empty())
                .unwrap_or_default();
            if locale.starts_with("ja") {
                Lang::Ja
            } else {
                Lang::En
            }
        }
    }
}

/// Picks the English or the Japanese text.
pub(crate) fn tr<'a>(lang: Lang, en: &'a str, ja: &'a str) -> &'a str {
    match lang {
        Lang::Ja => ja,
        _ => en,
    }
}

/// `text` padded with spaces to `width` terminal columns (East Asian wide
/// characters take two).
pub(crate) fn pad(text: &str, width: usize) -> String {
    let used: usize = text.chars().map(columns).sum();
    format!("{text}{}", " ".repeat(width.saturating_sub(used)))
}

fn columns(c: char) -> usize {
    let wide = matches!(u32::from(c),
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6);
    if wide { 2 } else { 1 }
}
