//! The keypad token: its response to a typed challenge is otp-core's
//! `ocra` for the same key, suite and challenge, and RFC 6287 Appendix C's
//! vectors (read from otp-core's data file) come out of tokens made from
//! the RFC keys: the counter from the token's own counter, the time step
//! from its own clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::collections::BTreeMap;

use otp_core::{Key, OcraInput, OcraSuite, Secret, ocra};
use otp_provision::SerialNumber;
use otp_token::{Battery, Screen, Token, TokenError, TokenSpec};

#[path = "../../otp-core/tests/data/rfc6287.rs"]
mod rfc6287;

use rfc6287::load as vectors;

fn secret(hex_key: &str) -> Secret {
    Secret::from_bytes(&hex::decode(hex_key).unwrap()).unwrap()
}

fn serial() -> SerialNumber {
    SerialNumber::numbered("KP", 1).unwrap()
}

/// Every vector a keypad can type (one question, no PIN hash, no session):
/// C.1 with and without C and T, C.3 signatures, through a token made from
/// the RFC key, started at the RFC's counter, pressed at the RFC's time.
#[test]
fn rfc6287_vectors_through_a_keypad_token() {
    let all = vectors();
    let mut ran = BTreeMap::<String, usize>::new();
    for v in &all.vector {
        if v.p || v.q_first.is_some() {
            continue;
        }
        let suite = OcraSuite::parse(&v.suite).unwrap();
        let mut token = Token::keypad(
            serial(),
            &secret(&all.keys[&v.key]),
            TokenSpec::default(),
            suite,
        )
        .unwrap()
        .with_sign_counter(v.c.unwrap_or(0));
        if let Some(t) = &v.t_hex {
            // The RFC's T is the minute of its date.
            assert_eq!(
                suite.time_step_at(all.time_unix),
                Some(u64::from_str_radix(t, 16).unwrap())
            );
        }
        let screen = token.press_challenge(all.time_unix, &v.q).unwrap();
        assert_eq!(screen.to_string(), v.ocra, "{v:?}");
        assert_eq!(token.screen(all.time_unix + 29).to_string(), v.ocra);
        assert!(matches!(token.screen(all.time_unix + 30), Screen::Off));
        if let Some(c) = v.c {
            assert_eq!(token.sign_counter(), c + 1);
        }
        // The button's counter is the button's own.
        assert_eq!(token.counter(), 0);
        *ran.entry(format!("{} {}", v.section, v.suite)).or_default() += 1;
    }
    // C.1: QN08, C-QN08 (no P: none), QN08-T1M; C.3: QA08, QA10-T1M.
    for kind in [
        "C.1 OCRA-1:HOTP-SHA1-6:QN08",
        "C.1 OCRA-1:HOTP-SHA512-8:C-QN08",
        "C.1 OCRA-1:HOTP-SHA512-8:QN08-T1M",
        "C.3 OCRA-1:HOTP-SHA256-8:QA08",
        "C.3 OCRA-1:HOTP-SHA512-8:QA10-T1M",
    ] {
        assert!(ran.get(kind).copied().unwrap_or(0) >= 5, "{kind}: {ran:?}");
    }
}

/// The token's response is the core's, for the counter and the time step
/// the token itself is at (its crystal runs 20 s ahead).
#[test]
fn the_response_is_the_cores_ocra() {
    let secret = secret("3132333435363738393031323334353637383930313233343536373839303132");
    let key = Key::from_secret(otp_core::Algorithm::Sha256, &secret);
    let suite = OcraSuite::parse("OCRA-1:HOTP-SHA256-8:C-QA10-T30S").unwrap();
    let spec = TokenSpec {
        crystal: otp_token::Crystal::new(0, 20).unwrap(),
        profile: otp_provision::Profile::hotp(),
        counter: 7,
        ..TokenSpec::default()
    };
    let mut token = Token::keypad(serial(), &secret, spec, suite)
        .unwrap()
        .with_sign_counter(41);
    for (i, (at, challenge)) in [
        (1_000_u64, "TRANSFER01"),
        (1_045, "9"),
        (1_100, "ACCT012345"),
    ]
    .into_iter()
    .enumerate()
    {
        let shown = token.press_challenge(at, challenge).unwrap();
        let input = OcraInput::new(challenge)
            .with_counter(41 + i as u64)
            .with_time_step((at + 20) / 30);
        let expected = ocra(&key, &suite, &input).unwrap();
        assert_eq!(shown.to_string(), expected.to_string());
        assert_eq!(shown.response().unwrap().to_string(), expected.to_string());
        assert!(shown.code().is_none());
    }
    assert_eq!(token.sign_counter(), 44);
    // The button's counter is untouched by signatures, and a button press
    // leaves the signing counter alone.
    assert_eq!(token.counter(), 7);
    token.press(1_200).unwrap();
    assert_eq!((token.counter(), token.sign_counter()), (8, 44));
    assert_eq!(token.presses(), 4);
}

#[test]
fn refusals_are_typed_and_change_nothing() {
    let secret = secret("3132333435363738393031323334353637383930");
    let suite = OcraSuite::parse("OCRA-1:HOTP-SHA1-6:C-QN08").unwrap();
    let mut token = Token::keypad(serial(), &secret, TokenSpec::default(), suite).unwrap();
    assert!(matches!(
        token.press_challenge(0, "12ab").unwrap_err(),
        TokenError::Challenge(_)
    ));
    assert!(matches!(
        token.press_challenge(0, "123456789").unwrap_err(),
        TokenError::Challenge(_)
    ));
    assert_eq!((token.sign_counter(), token.presses()), (0, 0));

    let pin = OcraSuite::parse("OCRA-1:HOTP-SHA1-6:QN08-PSHA1").unwrap();
    assert_eq!(
        Token::keypad(serial(), &secret, TokenSpec::default(), pin).unwrap_err(),
        TokenError::KeypadSuite
    );
    let mut button = Token::new(serial(), &secret, TokenSpec::default()).unwrap();
    assert_eq!(
        button.press_challenge(0, "1").unwrap_err(),
        TokenError::NoKeypad
    );

    // A dying battery: bAtt, then nothing.
    let mut low = Token::keypad(
        serial(),
        &secret,
        TokenSpec {
            battery: Battery::new(2, 5).with_warning(1, 0),
            ..TokenSpec::default()
        },
        suite,
    )
    .unwrap();
    assert!(!low.press_challenge(1, "1").unwrap().battery_low());
    assert!(
        low.press_challenge(2, "1")
            .unwrap()
            .to_string()
            .starts_with("bAtt ")
    );
    assert!(matches!(low.press_challenge(3, "1").unwrap(), Screen::Dead));
}
