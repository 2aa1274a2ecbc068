//! OCRA against an independent implementation, and the properties of its
//! verification.
//!
//! `reference` below is written from RFC 6287 (§5.1, §5.2, Appendix A),
//! straightforwardly and allocating: it builds the whole DataInput in a
//! `Vec`, converts a numeric question with decimal long division on a
//! string (the crate multiplies 32-bit limbs), and MACs with the `hmac`
//! crate (the crate streams through its own pads). It shares no code with
//! the crate. The suites are generated from random choices and the
//! reference reads those choices, not the crate's parse.
//!
//! `cargo test -p otp-core --test ocra_properties` runs 10,000 random
//! suites and inputs (about 5 s in debug); `OCRA_CASES=100000` runs more.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "test helpers: a failure should stop the test"
)]

use hmac::{KeyInit, Mac};
use otp_core::{
    Algorithm, Key, OcraField, OcraInput, OcraInputError, OcraParams, OcraResponse, OcraSuite,
    Rejected, TokenState, Window, ocra, verify_ocra,
};
use proptest::prelude::*;

/// A suite as random choices, before any parsing.
#[derive(Clone, Debug)]
struct Spec {
    hash: Algorithm,
    digits: u8,
    counter: bool,
    q_format: char,
    q_len: usize,
    password: Option<Algorithm>,
    session: Option<usize>,
    /// (text after `T`, seconds)
    time: Option<(String, u64)>,
}

impl Spec {
    fn text(&self) -> String {
        let mut inputs = Vec::new();
        if self.counter {
            inputs.push("C".to_owned());
        }
        inputs.push(format!("Q{}{:02}", self.q_format, self.q_len));
        if let Some(p) = self.password {
            inputs.push(format!("P{}", p.name()));
        }
        if let Some(s) = self.session {
            inputs.push(format!("S{s:03}"));
        }
        if let Some((t, _)) = &self.time {
            inputs.push(format!("T{t}"));
        }
        format!(
            "OCRA-1:HOTP-{}-{}:{}",
            self.hash.name(),
            self.digits,
            inputs.join("-")
        )
    }
}

fn hmac_bytes(hash: Algorithm, key: &[u8], message: &[u8]) -> Vec<u8> {
    match hash {
        Algorithm::Sha1 => {
            let mut m = hmac::Hmac::<sha1::Sha1>::new_from_slice(key).unwrap();
            m.update(message);
            m.finalize().into_bytes().to_vec()
        }
        Algorithm::Sha256 => {
            let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
            m.update(message);
            m.finalize().into_bytes().to_vec()
        }
        _ => {
            let mut m = hmac::Hmac::<sha2::Sha512>::new_from_slice(key).unwrap();
            m.update(message);
            m.finalize().into_bytes().to_vec()
        }
    }
}

/// A decimal string in hexadecimal, by long division of the decimal
/// digits by 16 (Appendix B: `new BigInteger(q, 10).toString(16)`).
fn decimal_to_hex(decimal: &str) -> String {
    let mut digits: Vec<u32> = decimal.bytes().map(|b| u32::from(b - b'0')).collect();
    let mut hex = Vec::new();
    while digits.iter().any(|&d| d != 0) {
        let mut remainder = 0;
        for d in &mut digits {
            let current = remainder * 10 + *d;
            *d = current / 16;
            remainder = current % 16;
        }
        hex.push(char::from_digit(remainder, 16).unwrap());
    }
    if hex.is_empty() {
        hex.push('0');
    }
    hex.iter().rev().collect()
}

/// The hex string right-padded with '0' to 256 nibbles, as bytes
/// (Appendix A: `while (question.length() < 256) question += "0"`).
fn padded_hex(hex: &str) -> Vec<u8> {
    let mut s = hex.to_owned();
    while s.len() < 256 {
        s.push('0');
    }
    hex::decode(s).unwrap()
}

/// OCRA(K, DataInput) from RFC 6287, independently of the crate.
fn reference(
    spec: &Spec,
    key: &[u8],
    question: &str,
    counter: u64,
    password: &[u8],
    session: &[u8],
    time: u64,
) -> String {
    let mut message = spec.text().into_bytes();
    message.push(0);
    if spec.counter {
        message.extend_from_slice(&counter.to_be_bytes());
    }
    let q = match spec.q_format {
        'N' => padded_hex(&decimal_to_hex(question)),
        'H' => padded_hex(question),
        _ => {
            let mut q = question.as_bytes().to_vec();
            q.resize(128, 0);
            q
        }
    };
    assert_eq!(q.len(), 128);
    message.extend_from_slice(&q);
    if spec.password.is_some() {
        message.extend_from_slice(password);
    }
    if spec.session.is_some() {
        message.extend_from_slice(session);
    }
    if spec.time.is_some() {
        message.extend_from_slice(&time.to_be_bytes());
    }
    let mac = hmac_bytes(spec.hash, key, &message);
    if spec.digits == 0 {
        return hex::encode(mac);
    }
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let binary = (u64::from(mac[offset] & 0x7f) << 24)
        | (u64::from(mac[offset + 1]) << 16)
        | (u64::from(mac[offset + 2]) << 8)
        | u64::from(mac[offset + 3]);
    let otp = binary % 10u64.pow(u32::from(spec.digits));
    format!("{otp:0width$}", width = usize::from(spec.digits))
}

fn hash() -> impl Strategy<Value = Algorithm> {
    prop_oneof![
        Just(Algorithm::Sha1),
        Just(Algorithm::Sha256),
        Just(Algorithm::Sha512)
    ]
}

fn time_step() -> impl Strategy<Value = (String, u64)> {
    prop_oneof![
        (1u64..=59).prop_map(|n| (format!("{n}S"), n)),
        (1u64..=59).prop_map(|n| (format!("{n}M"), n * 60)),
        (1u64..=48).prop_map(|n| (format!("{n}H"), n * 3600)),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        hash(),
        prop_oneof![Just(0u8), 4u8..=10],
        any::<bool>(),
        prop_oneof![Just('A'), Just('N'), Just('H')],
        4usize..=64,
        proptest::option::of(hash()),
        proptest::option::of(prop_oneof![
            Just(64usize),
            Just(128),
            Just(256),
            Just(512),
            1usize..=512
        ]),
        proptest::option::of(time_step()),
    )
        .prop_map(
            |(hash, digits, counter, q_format, q_len, password, session, time)| Spec {
                hash,
                digits,
                counter,
                q_format,
                q_len,
                password,
                session,
                time,
            },
        )
}

/// A question of 1..=max characters of the format's alphabet.
fn question(format: char, max: usize) -> impl Strategy<Value = String> {
    let alphabet: &'static [u8] = match format {
        'N' => b"0123456789",
        'H' => b"0123456789abcdefABCDEF",
        _ => b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    };
    proptest::collection::vec(proptest::sample::select(alphabet), 1..=max)
        .prop_map(|v| String::from_utf8(v).unwrap())
}

/// A spec with everything its inputs need: key, one or two questions,
/// counter, password hash, session, time step.
#[derive(Debug)]
struct Case {
    spec: Spec,
    key: Vec<u8>,
    questions: (String, Option<String>),
    counter: u64,
    password: Vec<u8>,
    session: Vec<u8>,
    time: u64,
}

fn case() -> impl Strategy<Value = Case> {
    spec().prop_flat_map(|spec| {
        let p_len = spec.password.map_or(0, Algorithm::output_len);
        let s_len = spec.session.unwrap_or(0);
        (
            Just(spec.clone()),
            proptest::collection::vec(any::<u8>(), 16..=100),
            question(spec.q_format, spec.q_len),
            proptest::option::of(question(spec.q_format, spec.q_len)),
            any::<u64>(),
            proptest::collection::vec(any::<u8>(), p_len),
            proptest::collection::vec(any::<u8>(), s_len),
            any::<u64>(),
        )
            .prop_map(
                |(spec, key, q1, q2, counter, password, session, time)| Case {
                    spec,
                    key,
                    questions: (q1, q2),
                    counter,
                    password,
                    session,
                    time,
                },
            )
    })
}

impl Case {
    fn input(&self) -> OcraInput<'_> {
        let mut input = match &self.questions {
            (a, Some(b)) => OcraInput::mutual(a, b),
            (a, None) => OcraInput::new(a),
        };
        if self.spec.counter {
            input = input.with_counter(self.counter);
        }
        if self.spec.password.is_some() {
            input = input.with_password_hash(&self.password);
        }
        if self.spec.session.is_some() {
            input = input.with_session(&self.session);
        }
        if self.spec.time.is_some() {
            input = input.with_time_step(self.time);
        }
        input
    }

    fn reference(&self) -> String {
        let question = match &self.questions {
            (a, Some(b)) => format!("{a}{b}"),
            (a, None) => a.clone(),
        };
        reference(
            &self.spec,
            &self.key,
            &question,
            self.counter,
            &self.password,
            &self.session,
            self.time,
        )
    }
}

fn cases() -> u32 {
    std::env::var("OCRA_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// 10,000 random suites and inputs: the crate's response equals the
    /// independent implementation's, to the digit (or hex byte).
    #[test]
    fn ocra_matches_an_independent_implementation(case in case()) {
        let suite = OcraSuite::parse(&case.spec.text()).unwrap();
        let key = Key::new(case.spec.hash, &case.key).unwrap();
        let ours = ocra(&key, &suite, &case.input()).unwrap();
        prop_assert_eq!(ours.to_string(), case.reference(), "{}", case.spec.text());
        // What it displays parses back to the same response.
        let parsed = OcraResponse::parse(&ours.to_string(), &suite).unwrap();
        prop_assert!(bool::from(subtle::ConstantTimeEq::ct_eq(&parsed, &ours)));
    }
}

/// `subtle` is not a dev-dependency: the crate re-exports the trait.
mod subtle {
    pub(crate) use otp_core::ConstantTimeEq;
}

fn key(hash: Algorithm) -> Key {
    Key::new(hash, &[0x42; 32]).unwrap()
}

fn respond(
    key: &Key,
    suite: &OcraSuite,
    q: &str,
    counter: Option<u64>,
    time: Option<u64>,
) -> OcraResponse {
    let mut input = OcraInput::new(q);
    if let Some(c) = counter {
        input = input.with_counter(c);
    }
    if let Some(t) = time {
        input = input.with_time_step(t);
    }
    ocra(key, suite, &input).unwrap()
}

#[test]
fn counter_window_accepts_ahead_refuses_beyond_and_replays() {
    let suite = OcraSuite::parse("OCRA-1:HOTP-SHA1-6:C-QN08").unwrap();
    let key = key(Algorithm::Sha1);
    let params = OcraParams {
        counter_window: Window::new(1, 5),
        ..OcraParams::default()
    };
    let q = OcraInput::new("31415926");
    let state = TokenState::starting_at(100);
    for ahead in 0..=5u64 {
        let r = respond(&key, &suite, "31415926", Some(100 + ahead), None);
        let v = verify_ocra(&key, &suite, &params, &state, &q, &r, 0).unwrap();
        let a = v.outcome.as_ref().unwrap();
        assert_eq!(
            (a.counter(), a.counter_offset(), a.time_step()),
            (Some(100 + ahead), i64::try_from(ahead).unwrap(), None)
        );
        assert_eq!(v.state, TokenState::starting_at(101 + ahead));
        // The same response again, after the returned state: a replay.
        let again = verify_ocra(&key, &suite, &params, &v.state, &q, &r, 0).unwrap();
        assert_eq!(
            again.outcome,
            Err(Rejected::Replayed {
                repeat_of_last: true
            })
        );
        assert_eq!(
            again.state, v.state,
            "typing the last response again is not a failure"
        );
    }
    // Beyond the look-ahead: not found.
    let far = respond(&key, &suite, "31415926", Some(106), None);
    let v = verify_ocra(&key, &suite, &params, &state, &q, &far, 0).unwrap();
    assert_eq!(v.outcome, Err(Rejected::Invalid));
    assert_eq!(v.state.failures, 1);
    assert_eq!(v.state.floor, 100);
    // An older counter (two below the floor after a success): stale, counted.
    let r102 = respond(&key, &suite, "31415926", Some(102), None);
    let after = verify_ocra(&key, &suite, &params, &state, &q, &r102, 0)
        .unwrap()
        .state;
    let r101 = respond(&key, &suite, "31415926", Some(101), None);
    let window = OcraParams {
        counter_window: Window::new(3, 5),
        ..params
    };
    let old = verify_ocra(&key, &suite, &window, &after, &q, &r101, 0).unwrap();
    assert_eq!(
        old.outcome,
        Err(Rejected::Replayed {
            repeat_of_last: false
        })
    );
    assert_eq!(old.state.failures, 1);
    // Another question, same counter: refused.
    let other = verify_ocra(
        &key,
        &suite,
        &params,
        &state,
        &OcraInput::new("27182818"),
        &r102,
        0,
    )
    .unwrap();
    assert_eq!(other.outcome, Err(Rejected::Invalid));
}

#[test]
fn time_window_accepts_plus_minus_one_step_and_refuses_the_same_step_again() {
    let suite = OcraSuite::parse("OCRA-1:HOTP-SHA1-6:QN08-T1M").unwrap();
    let key = key(Algorithm::Sha1);
    let params = OcraParams::default(); // ±1 step
    let q = OcraInput::new("12345678");
    let now = 1_800_000_030;
    let clock = suite.time_step_at(now).unwrap();
    for offset in [-1i64, 0, 1] {
        let t = clock.checked_add_signed(offset).unwrap();
        let r = respond(&key, &suite, "12345678", None, Some(t));
        let v = verify_ocra(&key, &suite, &params, &TokenState::new(), &q, &r, now).unwrap();
        let a = v.outcome.as_ref().unwrap();
        assert_eq!(
            (a.time_step(), a.time_offset(), a.counter()),
            (Some(t), offset, None)
        );
        assert_eq!((v.state.floor, v.state.drift), (t + 1, offset));
        let again = verify_ocra(&key, &suite, &params, &v.state, &q, &r, now).unwrap();
        assert_eq!(
            again.outcome,
            Err(Rejected::Replayed {
                repeat_of_last: true
            })
        );
    }
    for offset in [-3i64, -2, 2, 3] {
        let t = clock.checked_add_signed(offset).unwrap();
        let r = respond(&key, &suite, "12345678", None, Some(t));
        let v = verify_ocra(&key, &suite, &params, &TokenState::new(), &q, &r, now).unwrap();
        assert_eq!(v.outcome, Err(Rejected::Invalid), "offset {offset}");
    }
    // The learned drift centres the next window.
    let drifted = TokenState {
        drift: 2,
        ..TokenState::new()
    };
    let r = respond(&key, &suite, "12345678", None, Some(clock + 3));
    let v = verify_ocra(&key, &suite, &params, &drifted, &q, &r, now).unwrap();
    assert_eq!(v.outcome.as_ref().map(|a| a.time_offset()), Ok(3));
}

/// A response that matches two time steps of a wide window (a 4-digit
/// suite collides often): the step nearest the clock plus the drift wins,
/// not the lowest. The lowest would teach the bank a drift the token does
/// not have and push its next responses out of the window (TOTP's
/// `a_collision_lower_in_the_window_sets_no_false_drift`). Fails with the
/// first-match rule.
#[test]
fn a_time_collision_takes_the_step_nearest_the_clock() {
    let suite = OcraSuite::parse("OCRA-1:HOTP-SHA1-4:QN08-T1M").unwrap();
    let key = key(Algorithm::Sha1);
    let params = OcraParams {
        time_window: Window::new(10, 10),
        ..OcraParams::default()
    };
    let now = 1_800_000_030;
    let clock = suite.time_step_at(now).unwrap();
    let mut found = None;
    'search: for n in 0..20_000u32 {
        let q = format!("{n:08}");
        let at_clock = respond(&key, &suite, &q, None, Some(clock)).to_string();
        for t in clock - 10..clock {
            if respond(&key, &suite, &q, None, Some(t)).to_string() == at_clock {
                found = Some((q, t));
                break 'search;
            }
        }
    }
    let (q, lower) = found.expect("a 4-digit collision within 20,000 challenges");
    let r = respond(&key, &suite, &q, None, Some(clock));
    let input = OcraInput::new(&q);
    let v = verify_ocra(&key, &suite, &params, &TokenState::new(), &input, &r, now).unwrap();
    let a = v.outcome.as_ref().unwrap();
    assert_eq!(
        (a.time_step(), a.time_offset()),
        (Some(clock), 0),
        "the match at {lower} is lower, not nearer"
    );
    assert_eq!((v.state.floor, v.state.drift), (clock + 1, 0));
    // Centred on the lower step (a drift of lower - clock), the lower one
    // is the nearer and wins.
    let drift = i64::try_from(lower).unwrap() - i64::try_from(clock).unwrap();
    let drifted = TokenState {
        drift,
        ..TokenState::new()
    };
    let v = verify_ocra(&key, &suite, &params, &drifted, &input, &r, now).unwrap();
    assert_eq!(v.outcome.as_ref().unwrap().time_step(), Some(lower));
}

#[test]
fn counter_and_time_report_both_positions() {
    let suite = OcraSuite::parse("OCRA-1:HOTP-SHA256-8:C-QA10-PSHA256-S064-T30S").unwrap();
    let key = key(Algorithm::Sha256);
    let p = [9u8; 32];
    let s = [3u8; 64];
    let q = OcraInput::new("TRANSFER42")
        .with_password_hash(&p)
        .with_session(&s);
    let now = 1_700_000_000;
    let clock = suite.time_step_at(now).unwrap();
    let r = ocra(&key, &suite, &q.with_counter(7).with_time_step(clock - 1)).unwrap();
    let v = verify_ocra(
        &key,
        &suite,
        &OcraParams::default(),
        &TokenState::starting_at(5),
        &q,
        &r,
        now,
    )
    .unwrap();
    let a = v.outcome.as_ref().unwrap();
    assert_eq!(
        (
            a.counter(),
            a.counter_offset(),
            a.time_step(),
            a.time_offset()
        ),
        (Some(7), 2, Some(clock - 1), -1)
    );
    assert_eq!((v.state.floor, v.state.drift), (8, -1));
    let again = verify_ocra(&key, &suite, &OcraParams::default(), &v.state, &q, &r, now).unwrap();
    assert_eq!(
        again.outcome,
        Err(Rejected::Replayed {
            repeat_of_last: true
        })
    );
}

#[test]
fn a_question_only_suite_has_one_candidate_and_no_floor() {
    let suite = OcraSuite::parse("OCRA-1:HOTP-SHA512-0:QH40").unwrap();
    let key = key(Algorithm::Sha512);
    let q = OcraInput::new("00112233445566778899aabbccddeeff00112233");
    let r = respond(
        &key,
        &suite,
        "00112233445566778899aabbccddeeff00112233",
        None,
        None,
    );
    assert_eq!(
        r.to_string().len(),
        128,
        "no truncation: the whole SHA-512 HMAC in hex"
    );
    let failed_once = TokenState {
        failures: 1,
        ..TokenState::new()
    };
    let v = verify_ocra(
        &key,
        &suite,
        &OcraParams::default(),
        &failed_once,
        &q,
        &r,
        0,
    )
    .unwrap();
    let a = v.outcome.as_ref().unwrap();
    assert_eq!((a.counter(), a.time_step()), (None, None));
    assert_eq!(v.state, TokenState::new());
    let wrong = OcraResponse::parse(&"0".repeat(128), &suite).unwrap();
    let w = verify_ocra(
        &key,
        &suite,
        &OcraParams::default(),
        &TokenState::new(),
        &q,
        &wrong,
        0,
    )
    .unwrap();
    assert_eq!(w.outcome, Err(Rejected::Invalid));
}

#[test]
fn wrong_responses_lock_the_token() {
    let suite = OcraSuite::parse("OCRA-1:HOTP-SHA1-6:QN08").unwrap();
    let key = key(Algorithm::Sha1);
    let q = OcraInput::new("1234");
    let right = respond(&key, &suite, "1234", None, None);
    let wrong = OcraResponse::parse(
        if right.to_string() == "000000" {
            "000001"
        } else {
            "000000"
        },
        &suite,
    )
    .unwrap();
    let params = OcraParams {
        max_failures: 3,
        ..OcraParams::default()
    };
    let mut state = TokenState::new();
    for n in 1..=3 {
        let v = verify_ocra(&key, &suite, &params, &state, &q, &wrong, 0).unwrap();
        assert_eq!(v.outcome, Err(Rejected::Invalid));
        assert_eq!((v.state.failures, v.state.locked), (n, n == 3));
        state = v.state;
    }
    let locked = verify_ocra(&key, &suite, &params, &state, &q, &right, 0).unwrap();
    assert_eq!(locked.outcome, Err(Rejected::Locked));
    assert_eq!(locked.state, state);
    let unlocked = verify_ocra(&key, &suite, &params, &state.unlocked(), &q, &right, 0).unwrap();
    assert!(unlocked.is_accepted());
}

#[test]
fn misuse_is_an_error_not_a_failure() {
    let suite = OcraSuite::parse("OCRA-1:HOTP-SHA1-6:C-QN08-T1M").unwrap();
    let key = key(Algorithm::Sha1);
    let r = respond(&key, &suite, "1234", Some(0), Some(0));
    let v = |input: &OcraInput<'_>| {
        verify_ocra(
            &key,
            &suite,
            &OcraParams::default(),
            &TokenState::new(),
            input,
            &r,
            0,
        )
    };
    assert_eq!(
        v(&OcraInput::new("1234").with_counter(0)).unwrap_err(),
        OcraInputError::SetByVerifier(OcraField::Counter)
    );
    assert_eq!(
        v(&OcraInput::new("1234").with_time_step(0)).unwrap_err(),
        OcraInputError::SetByVerifier(OcraField::Time)
    );
    assert_eq!(
        v(&OcraInput::new("12a4")).unwrap_err(),
        OcraInputError::QuestionNotDecimal
    );
    let sha256 = Key::new(Algorithm::Sha256, &[1; 32]).unwrap();
    assert!(matches!(
        verify_ocra(
            &sha256,
            &suite,
            &OcraParams::default(),
            &TokenState::new(),
            &OcraInput::new("1234"),
            &r,
            0
        ),
        Err(OcraInputError::KeyAlgorithm { .. })
    ));
    // A response shaped for another suite: refused, not counted.
    let eight = OcraSuite::parse("OCRA-1:HOTP-SHA1-8:QN08").unwrap();
    let other = OcraResponse::parse("12345678", &eight).unwrap();
    let m = verify_ocra(
        &key,
        &suite,
        &OcraParams::default(),
        &TokenState::new(),
        &OcraInput::new("1234"),
        &other,
        0,
    )
    .unwrap();
    assert_eq!(m.outcome, Err(Rejected::DigitsMismatch));
    assert_eq!(m.state, TokenState::new());
    // The counter space's end.
    let end = verify_ocra(
        &key,
        &suite,
        &OcraParams {
            counter_window: Window::new(0, 3),
            ..OcraParams::default()
        },
        &TokenState::starting_at(u64::MAX),
        &OcraInput::new("1234"),
        &r,
        0,
    )
    .unwrap();
    assert_eq!(end.outcome, Err(Rejected::CounterExhausted));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Generate-then-verify over random counter floors and time offsets:
    /// inside the windows it verifies at that position (or an earlier one
    /// with the same response), outside it never at that position; and
    /// never twice.
    #[test]
    fn generated_responses_verify_inside_the_windows(
        floor in 0u64..1_000_000,
        ahead in 0u16..6,
        pick in 0u64..8,
        offset in -3i64..=3,
        behind in 0u16..3,
        ahead_t in 0u16..3,
        now in 1_000_000u64..4_000_000_000,
    ) {
        let suite = OcraSuite::parse("OCRA-1:HOTP-SHA1-6:C-QN08-T30S").unwrap();
        let key = key(Algorithm::Sha1);
        let params = OcraParams {
            counter_window: Window::new(1, ahead),
            time_window: Window::new(behind, ahead_t),
            max_failures: 6,
        };
        let clock = suite.time_step_at(now).unwrap();
        let c = floor + pick;
        let t = clock.checked_add_signed(offset).unwrap();
        let r = respond(&key, &suite, "4711", Some(c), Some(t));
        let q = OcraInput::new("4711");
        let state = TokenState::starting_at(floor);
        let v = verify_ocra(&key, &suite, &params, &state, &q, &r, now).unwrap();
        let inside = pick <= u64::from(ahead)
            && offset >= -i64::from(behind)
            && offset <= i64::from(ahead_t);
        match &v.outcome {
            Ok(a) => {
                let (ac, at) = (a.counter().unwrap(), a.time_step().unwrap());
                prop_assert!(ac >= floor && ac <= floor + u64::from(ahead));
                prop_assert_eq!(respond(&key, &suite, "4711", Some(ac), Some(at)).to_string(), r.to_string());
                prop_assert!(inside || (ac, at) != (c, t));
                prop_assert_eq!(v.state.floor, ac + 1);
                let again = verify_ocra(&key, &suite, &params, &v.state, &q, &r, now).unwrap();
                if let Ok(b) = &again.outcome {
                    prop_assert!(b.counter().unwrap() > ac);
                }
            }
            Err(_) => prop_assert!(!inside, "refused inside the windows"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Time-only suites of each hash, with questions, password hashes and
    /// sessions that put the time step at different places of the last
    /// block (where the lockstep path hashes four steps at once, and where
    /// it cannot): a response generated at any step of windows up to ±9
    /// (across the groups of four and the last, partial one) verifies at
    /// the nearest step that gives it, and that step is refused again.
    #[test]
    fn time_suites_verify_at_every_step_of_wide_windows(
        hash in hash(),
        shape in 0usize..5,
        digits in prop::sample::select(vec![0u8, 6, 8]),
        behind in 0u16..10,
        ahead in 0u16..10,
        offset in -10i64..=10,
        now in 1_000_000u64..4_000_000_000,
    ) {
        let (data, question) = [
            ("QN08-T1M", "31415926"),
            ("QA64-T30S", "PAY1000000TOACCOUNT123456789REF20261203000042XYZPAY1000000TOACCO"),
            ("QH40-PSHA1-T1M", "00112233445566778899aabbccddeeff00112233"),
            ("QN08-S064-T2M", "12345678"),
            ("QA10-PSHA256-S128-T1H", "SIGNIT2026"),
        ][shape];
        let suite = OcraSuite::parse(&format!("OCRA-1:HOTP-{}-{digits}:{data}", hash.name())).unwrap();
        let key = key(hash);
        let password = [0x5au8; 32];
        let session = [0xa5u8; 128];
        let mut q = OcraInput::new(question);
        if let Some(p) = suite.password_hash() {
            q = q.with_password_hash(&password[..p.output_len()]);
        }
        if let Some(s) = suite.session_len() {
            q = q.with_session(&session[..s]);
        }
        let params = OcraParams {
            time_window: Window::new(behind, ahead),
            ..OcraParams::default()
        };
        let clock = suite.time_step_at(now).unwrap();
        let t = clock.checked_add_signed(offset).unwrap();
        let r = ocra(&key, &suite, &q.with_time_step(t)).unwrap();
        let v = verify_ocra(&key, &suite, &params, &TokenState::new(), &q, &r, now).unwrap();
        let inside = offset >= -i64::from(behind) && offset <= i64::from(ahead);
        match &v.outcome {
            Ok(a) => {
                let at = a.time_step().unwrap();
                let theirs = ocra(&key, &suite, &q.with_time_step(at)).unwrap();
                prop_assert!(bool::from(subtle::ConstantTimeEq::ct_eq(&theirs, &r)));
                prop_assert!(at.abs_diff(clock) <= u64::from(behind.max(ahead)));
                if inside {
                    prop_assert!(at.abs_diff(clock) <= t.abs_diff(clock), "a farther step than {t}");
                }
                prop_assert_eq!(v.state.floor, at + 1);
                let again = verify_ocra(&key, &suite, &params, &v.state, &q, &r, now).unwrap();
                if let Ok(b) = &again.outcome {
                    prop_assert!(b.time_step().unwrap() > at);
                }
            }
            Err(why) => {
                prop_assert!(!inside, "refused inside the window: {why:?}");
                prop_assert_eq!(why, &Rejected::Invalid);
            }
        }
    }
}
