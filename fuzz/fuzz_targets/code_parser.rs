//! `Code::parse` on any string: never panics, accepts exactly N half-width
//! ASCII digits, and what it accepts displays back as the same text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otp_core::{Code, CodeError, Digits};

fuzz_target!(|input: (u8, &str)| {
    let (which, text) = input;
    let digits = match which % 3 {
        0 => Digits::Six,
        1 => Digits::Seven,
        _ => Digits::Eight,
    };
    let n = usize::from(digits.get());
    let exactly_n_ascii_digits = text.len() == n && text.bytes().all(|b| b.is_ascii_digit());
    match Code::parse(text, digits) {
        Ok(code) => {
            assert!(exactly_n_ascii_digits, "accepted {text:?} for {n} digits");
            assert_eq!(code.digits(), digits);
            assert!(code.value() < digits.modulus());
            assert_eq!(code.to_string(), text, "display is not the typed text");
            assert_eq!(
                Code::from_value(code.value(), digits).map(|c| c.to_string()),
                Some(text.to_owned())
            );
            assert_eq!(format!("{code:?}"), format!("Code {{ digits: {n}, .. }}"));
        }
        Err(e) => {
            assert!(
                !exactly_n_ascii_digits,
                "refused {text:?} ({e:?}) for {n} digits"
            );
            // Every error names a mistake the user can fix, and the
            // precedence of the documented order holds.
            match e {
                CodeError::Empty => assert!(text.is_empty()),
                CodeError::FullWidthDigits => {
                    assert!(text.chars().any(|c| ('\u{FF10}'..='\u{FF19}').contains(&c)));
                }
                CodeError::WrongLength { expected, found } => {
                    assert_eq!(usize::from(expected), n);
                    assert_ne!(found, n);
                    assert!(text.chars().all(|c| c.is_ascii_digit()));
                    assert_eq!(found, text.len());
                }
                CodeError::Separator | CodeError::NotDigit => {
                    assert!(!text.chars().all(|c| c.is_ascii_digit()));
                }
                _ => {}
            }
            assert!(!e.to_string().is_empty());
        }
    }
});
