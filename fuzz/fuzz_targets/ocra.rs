//! OCRA (RFC 6287): the suite parser on arbitrary strings, and generation
//! and verification on arbitrary suites, inputs, states and responses.
//! Asserts:
//! - nothing panics or overflows (built with debug assertions);
//! - a suite that parses displays back as the same text, at most
//!   `MAX_SUITE_LEN` bytes, and parses again to the same suite;
//! - an input the suite refuses is refused by `ocra` and `verify_ocra` with
//!   the same error; an input it accepts always gives a response of the
//!   suite's shape, which parses back from its display;
//! - `verify_ocra` accepts what `ocra` produced, at a fresh position in the
//!   windows (the generated one, or an earlier one with the same response),
//!   and never again after the state it returns;
//! - an arbitrary typed response never panics, and is accepted only when
//!   it equals the response of the accepted position.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use otp_core::{
    Algorithm, ConstantTimeEq, Key, MAX_SUITE_LEN, OcraInput, OcraParams, OcraResponse, OcraSuite,
    QuestionFormat, TokenState, Window, ocra, verify_ocra,
};

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    /// Raw suite text for the parser.
    raw_suite: &'a str,
    /// Choices for a well-formed suite.
    hash: u8,
    digits: u8,
    counter: bool,
    q_format: u8,
    q_len: u8,
    password: Option<u8>,
    session: Option<u16>,
    time: Option<(u8, u8)>,
    /// The inputs, arbitrary (often not fitting the suite).
    question: &'a str,
    second: Option<&'a str>,
    password_hash: &'a [u8],
    session_info: &'a [u8],
    secret: &'a [u8],
    counter_value: u64,
    now: u64,
    /// Where the generated response sits in the windows.
    ahead: u8,
    time_offset: i8,
    failures: u8,
    typed: &'a str,
    /// Make the inputs fit the suite (question mapped into its alphabet and
    /// cut to its length, password hash and session resized), so that most
    /// runs reach generation and verification.
    conform: bool,
}

/// `text` mapped into the alphabet of `format` and cut to `max` characters
/// (at least one).
fn conformed(text: &str, format: QuestionFormat, max: usize) -> String {
    let alphabet: &[u8] = match format {
        QuestionFormat::Numeric => b"0123456789",
        QuestionFormat::Hex => b"0123456789abcdefABCDEF",
        _ => b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    };
    let mut out: String = text
        .bytes()
        .take(max)
        .map(|b| char::from(alphabet[usize::from(b) % alphabet.len()]))
        .collect();
    if out.is_empty() {
        out.push('7');
    }
    out
}

fn algorithm(n: u8) -> Algorithm {
    match n % 3 {
        0 => Algorithm::Sha1,
        1 => Algorithm::Sha256,
        _ => Algorithm::Sha512,
    }
}

fn suite_text(input: &Input<'_>) -> String {
    let digits = match input.digits % 8 {
        0 => 0,
        d => d + 3,
    };
    let mut parts = Vec::new();
    if input.counter {
        parts.push("C".to_owned());
    }
    let format = ["A", "N", "H"][usize::from(input.q_format % 3)];
    parts.push(format!("Q{format}{:02}", 4 + input.q_len % 61));
    if let Some(p) = input.password {
        parts.push(format!("P{}", algorithm(p).name()));
    }
    if let Some(s) = input.session {
        parts.push(format!("S{:03}", 1 + s % 512));
    }
    if let Some((n, unit)) = input.time {
        parts.push(match unit % 3 {
            0 => format!("T{}S", 1 + n % 59),
            1 => format!("T{}M", 1 + n % 59),
            _ => format!("T{}H", 1 + n % 48),
        });
    }
    format!(
        "OCRA-1:HOTP-{}-{digits}:{}",
        algorithm(input.hash).name(),
        parts.join("-")
    )
}

fuzz_target!(|input: Input<'_>| {
    // 1. The parser on anything.
    if let Ok(suite) = OcraSuite::parse(input.raw_suite) {
        assert_eq!(suite.as_str(), input.raw_suite);
        assert_eq!(suite.to_string(), input.raw_suite);
        assert!(input.raw_suite.len() <= MAX_SUITE_LEN);
        assert!(input.raw_suite.is_ascii());
        assert_eq!(OcraSuite::parse(&suite.to_string()), Ok(suite));
    }

    // 2. A well-formed suite with arbitrary inputs.
    let text = suite_text(&input);
    let suite = OcraSuite::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let mut secret = input.secret.to_vec();
    secret.resize(secret.len().clamp(16, 128), 0x5a);
    let key = Key::new(suite.algorithm(), &secret).expect("16..=128 bytes");

    let max = usize::from(suite.question_len());
    let (question, second, password_hash, session_info) = if input.conform {
        let mut p = input.password_hash.to_vec();
        p.resize(suite.password_hash().map_or(0, Algorithm::output_len), 0x11);
        let mut s = input.session_info.to_vec();
        s.resize(suite.session_len().unwrap_or(0), 0x22);
        (
            conformed(input.question, suite.question_format(), max),
            input
                .second
                .map(|q| conformed(q, suite.question_format(), max)),
            p,
            s,
        )
    } else {
        (
            input.question.to_owned(),
            input.second.map(str::to_owned),
            input.password_hash.to_vec(),
            input.session_info.to_vec(),
        )
    };
    let mut challenge = match &second {
        Some(second) => OcraInput::mutual(&question, second),
        None => OcraInput::new(&question),
    };
    if suite.password_hash().is_some() {
        challenge = challenge.with_password_hash(&password_hash);
    }
    if suite.session_len().is_some() {
        challenge = challenge.with_session(&session_info);
    }
    // The highest position a verification accepts is u64::MAX - 1.
    let max_position = u64::MAX - 1;
    let counter = input.counter_value.min(max_position);
    let clock = suite.time_step_at(input.now);
    let time = clock.map(|c| {
        c.saturating_add_signed(i64::from(input.time_offset % 3))
            .min(max_position)
    });
    let mut full = challenge;
    if suite.counter() {
        full = full.with_counter(counter);
    }
    if let Some(t) = time {
        full = full.with_time_step(t);
    }
    let params = OcraParams {
        counter_window: Window::new(1, u16::from(input.ahead % 8)),
        time_window: Window::new(2, 2),
        max_failures: 6,
    };
    // The replay floor guards the counter if there is one (the generated
    // counter is then up to `ahead` past it), else the time step.
    let state = TokenState {
        floor: if suite.counter() {
            counter.saturating_sub(u64::from(input.ahead % 8))
        } else {
            0
        },
        drift: 0,
        failures: u32::from(input.failures % 4),
        locked: false,
    };

    // An arbitrary typed response: never panics.
    if let Ok(typed) = OcraResponse::parse(input.typed, &suite) {
        if let Ok(v) = verify_ocra(&key, &suite, &params, &state, &challenge, &typed, input.now) {
            if let Ok(a) = &v.outcome {
                let mut at = challenge;
                if let Some(c) = a.counter() {
                    at = at.with_counter(c);
                }
                if let Some(t) = a.time_step() {
                    at = at.with_time_step(t);
                }
                let expected = ocra(&key, &suite, &at).expect("the input verified");
                assert!(
                    bool::from(expected.ct_eq(&typed)),
                    "accepted a wrong response"
                );
            }
        }
    }

    let response = match (suite.validate(&full), ocra(&key, &suite, &full)) {
        (Err(e), Err(f)) => {
            assert_eq!(e, f);
            // The verifier refuses the same input the same way: `full`
            // differs from `challenge` only by the C and T the suite wants.
            let zeros = if suite.digits() == 0 {
                2 * suite.algorithm().output_len()
            } else {
                usize::from(suite.digits())
            };
            let dummy = OcraResponse::parse(&"0".repeat(zeros), &suite).expect("zeros parse");
            let v = verify_ocra(&key, &suite, &params, &state, &challenge, &dummy, input.now);
            assert_eq!(v.err(), Some(e));
            return;
        }
        (Ok(()), Ok(r)) => r,
        (a, b) => panic!("validate {a:?} but ocra {b:?}"),
    };
    let shown = response.to_string();
    let typed = OcraResponse::parse(&shown, &suite).expect("a response parses back");
    assert!(bool::from(typed.ct_eq(&response)));
    assert_eq!(typed.digits(), suite.digits());

    // 3. Verification accepts it at a fresh position in the windows.
    let v = verify_ocra(&key, &suite, &params, &state, &challenge, &typed, input.now)
        .expect("the input validated");
    let a = v
        .outcome
        .as_ref()
        .unwrap_or_else(|e| panic!("{text}: the generated response was refused: {e:?}"));
    if suite.counter() {
        let c = a.counter().expect("a counter suite reports the counter");
        assert!(
            c >= state.floor && c <= counter,
            "counter {c} outside [{}, {counter}]",
            state.floor
        );
        assert_eq!(v.state.floor, c + 1);
    }
    if let Some(t) = a.time_step() {
        let clock = clock.expect("a time suite");
        assert!(
            t.abs_diff(clock) <= 2,
            "time step {t} outside the window around {clock}"
        );
        if !suite.counter() {
            assert_eq!(v.state.floor, t + 1);
        }
    }
    assert_eq!((v.state.failures, v.state.locked), (0, false));
    // Never again after the returned state, when a floor guards it.
    if suite.counter() || suite.time_step().is_some() {
        let again = verify_ocra(
            &key, &suite, &params, &v.state, &challenge, &typed, input.now,
        )
        .expect("the input validated");
        if let Ok(b) = &again.outcome {
            if suite.counter() {
                assert!(b.counter() > a.counter(), "a response was accepted twice");
            } else {
                assert!(
                    b.time_step() > a.time_step(),
                    "a response was accepted twice"
                );
            }
        }
    }
});
