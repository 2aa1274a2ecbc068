//! `SerialNumber::parse` on any string: never panics; accepts exactly 12
//! ASCII letters and digits (after trimming ASCII spaces and tabs), stores
//! them upper-cased, and round-trips through `as_str`, `FromStr` and the
//! masked form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otp_provision::{SERIAL_LEN, SerialError, SerialNumber};

fuzz_target!(|text: &str| {
    let trimmed = text.trim_matches(|c| c == ' ' || c == '\t');
    let valid = trimmed.len() == SERIAL_LEN && trimmed.bytes().all(|b| b.is_ascii_alphanumeric());
    let parsed = SerialNumber::parse(text);
    assert_eq!(
        parsed,
        text.parse::<SerialNumber>(),
        "FromStr disagrees with parse"
    );
    match parsed {
        Ok(serial) => {
            assert!(valid, "accepted {text:?}");
            let s = serial.as_str();
            assert_eq!(s, trimmed.to_ascii_uppercase());
            assert_eq!(SerialNumber::parse(s), Ok(serial), "does not round-trip");
            let masked = serial.masked().to_string();
            assert_eq!(masked.chars().count(), SERIAL_LEN);
            assert!(masked.starts_with("●●●●●●●●"));
            assert!(masked.ends_with(&s[8..]));
        }
        Err(e) => {
            assert!(!valid, "refused {text:?}: {e:?}");
            match e {
                SerialError::Empty => assert!(trimmed.is_empty()),
                SerialError::WrongLength { expected, found } => {
                    assert_eq!(expected, SERIAL_LEN);
                    assert_ne!(found, SERIAL_LEN);
                }
                SerialError::InvalidCharacter { position } => {
                    assert!(position >= 1 && position <= trimmed.chars().count());
                }
                _ => {}
            }
            assert!(!e.to_string().is_empty());
        }
    }
});
