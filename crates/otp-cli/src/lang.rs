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
