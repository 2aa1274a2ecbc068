//! The virtual token and the core verifier agree.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions"
)]

use otp_core::{
    Algorithm, Code, Digits, Key, Mode, Params, Rejected, Secret, TimeStep, TokenState, resync,
    verify,
};
use otp_provision::{Clock, Profile, SerialNumber};
use otp_token::{Battery, Crystal, SECONDS_PER_YEAR, SimClock, Token, TokenSpec};

const START: u64 = 1_790_000_000;

/// The bank's default policy for a device: otp-core's defaults for its
/// mode (an event token's look-ahead of 10), with its digits.
fn params(profile: &Profile) -> Params {
    let base = match profile.mode {
        Mode::Hotp => Params::hotp(),
        Mode::Totp(step) => Params::totp(step),
    };
    Params {
        digits: profile.digits,
        ..base
    }
}

fn secret(i: u64) -> [u8; 20] {
    let mut s = [0u8; 20];
    for (j, b) in (0u64..).zip(s.iter_mut()) {
        *b = u8::try_from((i * 31 + j * 7 + 1) % 251).unwrap();
    }
    s
}

fn typed(token_screen: &str, digits: Digits) -> Code {
    Code::parse(token_screen, digits).unwrap()
}

#[test]
fn displayed_codes_verify_for_many_tokens_and_instants() {
    let clock = SimClock::new(START);
    let algorithms = [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512];
    let digits = [Digits::Six, Digits::Seven, Digits::Eight];
    let mut checked = 0;
    for i in 0..60u64 {
        let bytes = secret(i);
        let s = Secret::from_bytes(&bytes).unwrap();
        let kind = match i % 3 {
            0 => Mode::Hotp,
            1 => Mode::Totp(TimeStep::default()),
            _ => Mode::Totp(TimeStep::new(60, 0).unwrap()),
        };
        let profile = Profile {
            mode: kind,
            algorithm: algorithms[usize::try_from(i % 3).unwrap()],
            digits: digits[usize::try_from(i / 3 % 3).unwrap()],
        };
        let ppm = i32::try_from(i % 41).unwrap() - 20;
        let offset = i64::try_from(i % 11).unwrap() - 5;
        let spec = TokenSpec {
            profile,
            crystal: Crystal::new(ppm, offset).unwrap(),
            ..TokenSpec::activated_at(clock.now())
        };
        let serial = SerialNumber::numbered("AG", i).unwrap();
        let mut token = Token::new(serial, &s, spec).unwrap();
        let key = Key::from_secret(profile.algorithm, &s);
        let params = params(&profile);
        let mut state = TokenState::new();
        for k in 0..25u64 {
            // Irregular gaps, at least one step so each login has a new code.
            clock.advance(61 + (i * 13 + k * 17) % 400);
            let shown = token.press_now(&clock).unwrap().to_string();
            clock.advance(k % 9);
            let v = verify(
                &key,
                &params,
                &state,
                &typed(&shown, profile.digits),
                clock.now(),
            );
            assert!(v.is_accepted(), "token {i} login {k}: {:?}", v.outcome);
            state = v.state;
            checked += 1;
        }
    }
    assert_eq!(checked, 60 * 25);
}

#[test]
fn a_second_press_in_the_same_step_is_refused_as_a_repeat() {
    let clock = SimClock::new(START / 30 * 30 + 3); // 3 s into a step
    let s = Secret::from_bytes(&secret(1)).unwrap();
    let mut token = Token::new(
        SerialNumber::parse("VT0000000001").unwrap(),
        &s,
        TokenSpec::activated_at(clock.now()),
    )
    .unwrap();
    let key = Key::from_secret(Algorithm::Sha1, &s);
    let params = params(&token.profile());
    let first = token.press_now(&clock).unwrap().to_string();
    let v = verify(
        &key,
        &params,
        &TokenState::new(),
        &typed(&first, Digits::Six),
        clock.now(),
    );
    assert!(v.is_accepted());
    clock.advance(10);
    let again = token.press_now(&clock).unwrap().to_string();
    assert_eq!(again, first);
    let r = verify(
        &key,
        &params,
        &v.state,
        &typed(&again, Digits::Six),
        clock.now(),
    );
    assert_eq!(
        r.outcome,
        Err(Rejected::Replayed {
            repeat_of_last: true
        })
    );
    // The token says when the next code appears; it verifies then.
    let next = token.next_code_at(clock.now()).unwrap();
    assert!((15..=30).contains(&(next - (clock.now() - 10))));
    clock.set(next);
    let fresh = token.press_now(&clock).unwrap().to_string();
    assert_ne!(fresh, first);
    assert!(
        verify(
            &key,
            &params,
            &r.state,
            &typed(&fresh, Digits::Six),
            clock.now()
        )
        .is_accepted()
    );
}

#[test]
fn a_token_aged_years_at_20_ppm_needs_resync_then_verifies_at_the_learned_drift() {
    let clock = SimClock::new(START);
    let s = Secret::from_bytes(&secret(7)).unwrap();
    let spec = TokenSpec {
        crystal: Crystal::new(20, 0).unwrap(),
        battery: Battery::unlimited(),
        ..TokenSpec::activated_at(clock.now())
    };
    let mut token = Token::new(SerialNumber::parse("VT0000000007").unwrap(), &s, spec).unwrap();
    let key = Key::from_secret(Algorithm::Sha1, &s);
    let params = params(&token.profile());

    // Day one: it verifies at drift 0.
    let v = verify(
        &key,
        &params,
        &TokenState::new(),
        &typed(&token.press_now(&clock).unwrap().to_string(), Digits::Six),
        clock.now(),
    );
    assert_eq!(v.outcome.map(|a| a.offset()), Ok(0));
    let mut state = v.state;

    // Three years in a drawer: 20 ppm is about 31 minutes, 63 steps fast.
    clock.advance(3 * SECONDS_PER_YEAR);
    let ahead =
        i64::try_from(token.local_time(clock.now())).unwrap() - i64::try_from(clock.now()).unwrap();
    assert!((1_880..=1_900).contains(&ahead), "{ahead}");
    let c1 = typed(&token.press_now(&clock).unwrap().to_string(), Digits::Six);
    let r = verify(&key, &params, &state, &c1, clock.now());
    assert_eq!(r.outcome, Err(Rejected::Invalid));
    state = r.state;

    // The bank asks for two consecutive codes.
    clock.set(token.next_code_at(clock.now()).unwrap());
    let c2 = typed(&token.press_now(&clock).unwrap().to_string(), Digits::Six);
    let r = resync(&key, &params, &state, &c1, &c2, clock.now());
    let drift = r.outcome.unwrap().offset();
    assert!((62..=64).contains(&drift), "{drift}");
    assert_eq!(r.state.drift, drift);
    state = r.state;

    // From then on the ±1 window is centred on the learned drift.
    for _ in 0..20 {
        clock.advance(3_600);
        let c = typed(&token.press_now(&clock).unwrap().to_string(), Digits::Six);
        let v = verify(&key, &params, &state, &c, clock.now());
        assert!(v.is_accepted(), "{:?}", v.outcome);
        state = v.state;
    }
}

#[test]
fn an_event_token_pressed_ahead_of_the_bank_still_verifies_within_the_look_ahead() {
    let s = Secret::from_bytes(&secret(3)).unwrap();
    let spec = TokenSpec {
        profile: Profile::hotp(),
        ..TokenSpec::default()
    };
    let mut token = Token::new(SerialNumber::parse("EV0000000003").unwrap(), &s, spec).unwrap();
    let key = Key::from_secret(Algorithm::Sha1, &s);
    let params = params(&token.profile());
    for t in 0..5 {
        token.press(t).unwrap(); // pressed in a pocket
    }
    let c = typed(&token.press(9).unwrap().to_string(), Digits::Six);
    let v = verify(&key, &params, &TokenState::new(), &c, 0);
    assert_eq!(v.outcome.map(|a| a.offset()), Ok(5));
    assert_eq!(v.state.floor, token.counter());
}
