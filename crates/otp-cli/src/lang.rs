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
    // Terminal columns as Unicode's East Asian Width says (UAX #11):
    // 2 for kanji, kana and full-width forms, 0 for combining marks.
    let used = unicode_width::UnicodeWidthStr::width(text);
    format!("{text}{}", " ".repeat(width.saturating_sub(used)))
}

#[cfg(test)]
mod pad_tests {
    use super::pad;

    #[test]
    fn pads_to_terminal_columns_by_east_asian_width() {
        assert_eq!(pad("しんきん", 10), "しんきん  ");
        assert_eq!(pad("ＡＢ", 5), "ＡＢ ");
        assert_eq!(pad("ｱｲ", 4), "ｱｲ  ");
        assert_eq!(pad("●●●●5678", 10), "●●●●5678  ");
        assert_eq!(pad("e\u{301}", 3), "e\u{301}  ");
        assert_eq!(pad("W0001", 3), "W0001");
    }
}
