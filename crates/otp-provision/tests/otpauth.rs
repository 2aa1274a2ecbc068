//! `otpauth://` URIs that two readers could understand differently, or
//! that carry values a token never has, are refused with their own
//! `UriError`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

use otp_core::{Mode, TimeStep};
use otp_provision::{MAX_URI_PERIOD, SeedRecord, UriError};

const A: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const B: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

fn read(uri: &str) -> Result<SeedRecord, UriError> {
    SeedRecord::from_otpauth_uri(uri)
}

#[test]
fn a_parameter_given_twice_is_refused() {
    // On the original code the second secret silently won.
    for uri in [
        format!("otpauth://totp/Bank:alice?secret={A}&secret={B}"),
        format!("otpauth://totp/Bank:alice?secret={A}&secret={A}"),
        format!("otpauth://totp/Bank:alice?secret={A}&SECRET={B}"),
        format!("otpauth://totp/Bank:alice?secret={A}&s%65cret={B}"),
        format!("otpauth://totp/alice?secret={A}&issuer=Bank&issuer=Evil"),
        format!("otpauth://totp/alice?secret={A}&period=30&period=60"),
        format!("otpauth://totp/alice?secret={A}&digits=6&digits=8"),
        format!("otpauth://totp/alice?secret={A}&algorithm=SHA1&algorithm=SHA256"),
        format!("otpauth://hotp/alice?secret={A}&counter=1&counter=2"),
        format!("otpauth://totp/alice?secret={A}&image=x&image=y"),
    ] {
        assert_eq!(
            read(&uri).err(),
            Some(UriError::DuplicateParameter),
            "{uri}"
        );
    }
    let r = read(&format!("otpauth://totp/alice?secret={A}&image=x")).unwrap();
    assert_eq!(r.serial, "alice");
}

#[test]
fn an_issuer_parameter_that_contradicts_the_label_is_refused() {
    // On the original code `issuer=Evil` silently replaced `Bank`.
    assert_eq!(
        read(&format!("otpauth://totp/Bank:alice?secret={A}&issuer=Evil")).err(),
        Some(UriError::IssuerMismatch)
    );
    assert_eq!(
        read(&format!("otpauth://totp/Bank:alice?secret={A}&issuer=bank")).err(),
        Some(UriError::IssuerMismatch)
    );
    // Agreeing, either alone, or an issuer with a colon of its own that
    // travels only in the parameter (as `to_otpauth_uri` writes it).
    for (uri, issuer) in [
        (
            format!("otpauth://totp/Bank:alice?secret={A}&issuer=Bank"),
            Some("Bank"),
        ),
        (
            format!("otpauth://totp/Bank%20X:%20alice?secret={A}&issuer=Bank%20X"),
            Some("Bank X"),
        ),
        (
            format!("otpauth://totp/Bank%20:alice?secret={A}&issuer=Bank%20"),
            Some("Bank "),
        ),
        (
            format!("otpauth://totp/Bank:alice?secret={A}"),
            Some("Bank"),
        ),
        (
            format!("otpauth://totp/alice?secret={A}&issuer=Bank"),
            Some("Bank"),
        ),
        (
            format!("otpauth://totp/:a%3Ab?secret={A}&issuer=X%3AY"),
            Some("X:Y"),
        ),
        (format!("otpauth://totp/alice?secret={A}"), None),
    ] {
        let r = read(&uri).unwrap();
        assert_eq!(r.issuer.as_deref(), issuer, "{uri}");
    }
}

#[test]
fn period_is_from_one_second_to_an_hour() {
    // On the original code 2^64-1 seconds was a valid step.
    for period in ["18446744073709551615", "3601", "0", "86400"] {
        assert_eq!(
            read(&format!("otpauth://totp/a?secret={A}&period={period}")).err(),
            Some(UriError::PeriodOutOfRange),
            "{period}"
        );
    }
    for period in ["+30", "-30", "30s", "", "18446744073709551616", "3e1"] {
        assert_eq!(
            read(&format!("otpauth://totp/a?secret={A}&period={period}")).err(),
            Some(UriError::BadPeriod),
            "{period}"
        );
    }
    assert_eq!(MAX_URI_PERIOD, 3600);
    for (period, seconds) in [("1", 1), ("30", 30), ("3600", 3600)] {
        let r = read(&format!("otpauth://totp/a?secret={A}&period={period}")).unwrap();
        assert_eq!(
            r.profile.mode,
            Mode::Totp(TimeStep::new(seconds, 0).unwrap())
        );
    }
}

#[test]
fn digits_are_six_to_eight_written_in_decimal() {
    for digits in ["5", "9", "10", "0", "256", "+6", "-6", "6.0", ""] {
        assert_eq!(
            read(&format!("otpauth://totp/a?secret={A}&digits={digits}")).err(),
            Some(UriError::BadDigits),
            "{digits}"
        );
    }
    for digits in ["6", "7", "8"] {
        let r = read(&format!("otpauth://totp/a?secret={A}&digits={digits}")).unwrap();
        assert_eq!(r.profile.digits.get().to_string(), digits);
    }
    assert_eq!(
        read(&format!("otpauth://hotp/a?secret={A}&counter=+1")).err(),
        Some(UriError::BadCounter)
    );
}

#[test]
fn control_characters_in_the_label_or_issuer_are_refused() {
    // On the original code a newline or an escape sequence in the account
    // name reached the screen and the logs.
    for label in [
        "alice%0A",
        "ali%00ce",
        "%1B%5B31malice",
        "alice%7F",
        "alice%C2%85",
        "alice%C2%9F",
        "Ba%0Dnk:alice",
        "Bank%09:alice",
    ] {
        assert_eq!(
            read(&format!("otpauth://totp/{label}?secret={A}")).err(),
            Some(UriError::ControlCharacter),
            "{label}"
        );
    }
    for issuer in ["Ba%0Ank", "%1B", "Bank%C2%80"] {
        assert_eq!(
            read(&format!("otpauth://totp/alice?secret={A}&issuer={issuer}")).err(),
            Some(UriError::ControlCharacter),
            "{issuer}"
        );
    }
    // Printable non-ASCII is fine.
    let r = read(&format!(
        "otpauth://totp/%E4%BF%A1%E9%87%91:%E5%A4%AA%E9%83%8E?secret={A}"
    ))
    .unwrap();
    assert_eq!(
        (r.serial.as_str(), r.issuer.as_deref()),
        ("太郎", Some("信金"))
    );
}

#[test]
fn each_refusal_says_what_to_fix() {
    assert_eq!(
        UriError::PeriodOutOfRange.to_string(),
        "the URI's period must be from 1 to 3600 seconds"
    );
    assert_eq!(
        UriError::IssuerMismatch.to_string(),
        "the URI's label names one issuer and its issuer parameter another: ask its issuer"
    );
    assert_eq!(
        UriError::DuplicateParameter.to_string(),
        "the URI has a parameter twice: scan the token's QR code again or ask its issuer"
    );
    assert_eq!(
        UriError::ControlCharacter.to_string(),
        "the URI's account name or issuer has a control character"
    );
}
