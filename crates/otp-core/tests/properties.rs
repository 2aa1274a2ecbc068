//! Properties of generation and verification, checked with proptest.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a failure should stop the test"
)]

use otp_core::{
    Algorithm, Code, Digits, Key, MAX_POSITION, Mode, Params, Rejected, TimeStep, TokenState,
    Window, hotp, resync, verify,
};
use proptest::prelude::*;

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop_oneof![
        Just(Algorithm::Sha1),
        Just(Algorithm::Sha256),
        Just(Algorithm::Sha512)
    ]
}

fn digits() -> impl Strategy<Value = Digits> {
    prop_oneof![Just(Digits::Six), Just(Digits::Seven), Just(Digits::Eight)]
}

fn key() -> impl Strategy<Value = Key> {
    (algorithm(), prop::collection::vec(any::<u8>(), 16..=80))
        .prop_map(|(a, secret)| Key::new(a, &secret).unwrap())
}

/// A TOTP setting: key, parameters with a small window, and a clock value
/// whose step is far from 0 and from `u64::MAX`.
fn totp_setting() -> impl Strategy<Value = (Key, Params, u64)> {
    (
        key(),
        digits(),
        0u16..6,
        0u16..6,
        1u64..=120,
        0u64..1_000_000,
        10_000u64..1_000_000_000,
    )
        .prop_map(|(key, digits, behind, ahead, seconds, t0, steps)| {
            let step = TimeStep::new(seconds, t0).unwrap();
            let params = Params {
                digits,
                window: Window::new(behind, ahead),
                ..Params::totp(step)
            };
            let now = t0 + steps * seconds + seconds / 2;
            (key, params, now)
        })
}

fn time_step(params: &Params) -> TimeStep {
    match params.mode {
        Mode::Totp(step) => step,
        Mode::Hotp => unreachable!("TOTP settings only"),
    }
}

/// A code that no position in `lo..=hi` produces.
fn wrong_code(key: &Key, digits: Digits, lo: u64, hi: u64, seed: u32) -> Code {
    let mut value = seed % digits.modulus();
    loop {
        if (lo..=hi).all(|p| hotp(key, p, digits).value() != value) {
            return Code::from_value(value, digits).unwrap();
        }
        value = (value + 1) % digits.modulus();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// A code from the token verifies at every offset inside the window,
    /// names that offset, and is refused outside it.
    #[test]
    fn window_edges((key, params, now) in totp_setting(), offset in -8i64..=8) {
        let step = time_step(&params);
        let clock = step.step_at(now).unwrap();
        let position = clock.checked_add_signed(offset).unwrap();
        let code = hotp(&key, position, params.digits);
        let v = verify(&key, &params, &TokenState::new(), &code, now);
        let inside = -i64::from(params.window.behind) <= offset && offset <= i64::from(params.window.ahead);
        if inside {
            let accepted = v.outcome.unwrap();
            // A collision with another position in the window is possible
            // (the match nearest the expected step wins, the lower of two
            // as near); the code must match where it says.
            prop_assert_eq!(hotp(&key, accepted.position(), params.digits).value(), code.value());
            let (got, genuine) = (accepted.position().abs_diff(clock), position.abs_diff(clock));
            prop_assert!(got < genuine || (got == genuine && accepted.position() <= position));
            if accepted.position() == position {
                prop_assert_eq!(accepted.offset(), offset);
                prop_assert_eq!(v.state.drift, offset);
            }
            prop_assert_eq!(v.state.floor, accepted.position() + 1);
        } else {
            match v.outcome {
                Ok(a) => prop_assert_eq!(hotp(&key, a.position(), params.digits).value(), code.value()),
                Err(e) => {
                    prop_assert_eq!(e, Rejected::Invalid);
                    prop_assert_eq!(v.state.failures, 1);
                }
            }
        }
    }

    /// An accepted code is never accepted again, at any later time; typing
    /// the last code again is not counted as a failure.
    #[test]
    fn replay_is_refused((key, params, now) in totp_setting(), later in 0u64..90) {
        let step = time_step(&params);
        let code = hotp(&key, step.step_at(now).unwrap(), params.digits);
        let first = verify(&key, &params, &TokenState::new(), &code, now);
        prop_assert!(first.is_accepted());
        let again = verify(&key, &params, &first.state, &code, now + later);
        match again.outcome {
            Err(Rejected::Replayed { repeat_of_last: true }) => {
                prop_assert_eq!(again.state, first.state);
            }
            // Once the clock has moved past the window, the old code is
            // simply wrong (or, rarely, collides with a fresh position).
            Err(Rejected::Invalid) => prop_assert!(step.step_at(now + later).unwrap() > step.step_at(now).unwrap()),
            Ok(a) => prop_assert!(a.position() >= first.state.floor),
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
    }

    /// The drift learned at one success centres the next window: a token
    /// whose clock keeps drifting the same way stays verifiable.
    #[test]
    fn drift_is_learned_and_applied(key in key(), drift in -40i64..=40, steps in 1_000u64..1_000_000) {
        let params = Params::default(); // ±1 window
        let step = TimeStep::default();
        let now = steps * 30;
        let clock = step.step_at(now).unwrap();
        // Reached by resync (beyond ±1), then followed by normal logins.
        let c1 = hotp(&key, clock.checked_add_signed(drift).unwrap(), Digits::Six);
        let c2 = hotp(&key, clock.checked_add_signed(drift + 1).unwrap(), Digits::Six);
        let r = resync(&key, &params, &TokenState::new(), &c1, &c2, now);
        prop_assert_eq!(r.state.drift, drift + 1);
        // Ten minutes later the token has drifted one step further.
        let later = now + 600;
        let clock_later = step.step_at(later).unwrap();
        let token_position = clock_later.checked_add_signed(drift + 2).unwrap();
        let code = hotp(&key, token_position, Digits::Six);
        let v = verify(&key, &params, &r.state, &code, later);
        let accepted = v.outcome.unwrap();
        prop_assert_eq!(hotp(&key, accepted.position(), Digits::Six).value(), code.value());
        if accepted.position() == token_position {
            prop_assert_eq!(v.state.drift, drift + 2);
        }
    }

    /// Resync finds two consecutive codes anywhere in ±resync_window and
    /// refuses a pair that is not consecutive.
    #[test]
    fn resync_needs_two_consecutive_codes(key in key(), at in -100i64..=99, gap in 2u64..5, steps in 1_000u64..1_000_000) {
        let params = Params::default();
        let now = steps * 30;
        let clock = steps;
        let p = clock.checked_add_signed(at).unwrap();
        let c1 = hotp(&key, p, Digits::Six);
        let c2 = hotp(&key, p + 1, Digits::Six);
        let ok = resync(&key, &params, &TokenState::new(), &c1, &c2, now);
        let accepted = ok.outcome.unwrap();
        prop_assert_eq!(hotp(&key, accepted.position(), Digits::Six).value(), c2.value());
        prop_assert_eq!(ok.state.floor, accepted.position() + 1);
        let c_far = hotp(&key, p + gap, Digits::Six);
        let bad = resync(&key, &params, &TokenState::new(), &c1, &c_far, now);
        if let Ok(a) = bad.outcome {
            // Only a chance collision may pass; it must really be a pair.
            prop_assert_eq!(hotp(&key, a.position(), Digits::Six).value(), c_far.value());
            prop_assert_eq!(hotp(&key, a.position() - 1, Digits::Six).value(), c1.value());
        } else {
            prop_assert_eq!(bad.state.failures, 1);
        }
    }

    /// The token locks at exactly `max_failures` consecutive failures,
    /// refuses even the right code while locked, and works after unlock.
    #[test]
    fn lockout_at_exactly_the_limit((key, params, now) in totp_setting(), limit in 1u32..10, seed in any::<u32>()) {
        let params = Params { max_failures: limit, ..params };
        let clock = time_step(&params).step_at(now).unwrap();
        let lo = clock - u64::from(params.window.behind);
        let hi = clock + u64::from(params.window.ahead);
        let wrong = wrong_code(&key, params.digits, lo, hi, seed);
        let mut state = TokenState::new();
        for attempt in 1..=limit {
            prop_assert!(!state.locked);
            let v = verify(&key, &params, &state, &wrong, now);
            prop_assert_eq!(v.outcome, Err(Rejected::Invalid));
            state = v.state;
            prop_assert_eq!(state.failures, attempt);
            prop_assert_eq!(state.locked, attempt == limit);
        }
        let right = hotp(&key, clock, params.digits);
        let v = verify(&key, &params, &state, &right, now);
        prop_assert_eq!(v.outcome, Err(Rejected::Locked));
        prop_assert_eq!(v.state, state);
        let v = verify(&key, &params, &state.unlocked(), &right, now);
        prop_assert!(v.is_accepted());
        prop_assert_eq!(v.state.failures, 0);
    }

    /// A success resets the failure count.
    #[test]
    fn success_resets_failures((key, params, now) in totp_setting(), failures in 0u32..5) {
        let state = TokenState { failures, ..TokenState::new() };
        let clock = time_step(&params).step_at(now).unwrap();
        let v = verify(&key, &params, &state, &hotp(&key, clock, params.digits), now);
        prop_assert!(v.is_accepted());
        prop_assert_eq!(v.state.failures, 0);
    }

    /// HOTP: a token that ran ahead by up to `ahead` presses is accepted
    /// and the floor moves past it; codes behind the floor are replays.
    #[test]
    fn hotp_look_ahead(key in key(), start in 0u64..1_000_000, ahead in 0u64..=12) {
        let params = Params::hotp(); // behind 1, ahead 10
        let state = TokenState::starting_at(start);
        let code = hotp(&key, start + ahead, Digits::Six);
        let v = verify(&key, &params, &state, &code, 0);
        if ahead <= 10 {
            let a = v.outcome.unwrap();
            prop_assert_eq!(hotp(&key, a.position(), Digits::Six).value(), code.value());
            if a.position() == start + ahead {
                prop_assert_eq!(a.offset(), i64::try_from(ahead).unwrap());
                prop_assert_eq!(v.state.floor, start + ahead + 1);
                let replay = verify(&key, &params, &v.state, &code, 0);
                prop_assert_eq!(replay.outcome, Err(Rejected::Replayed { repeat_of_last: true }));
            }
        } else if let Ok(a) = v.outcome {
            prop_assert_eq!(hotp(&key, a.position(), Digits::Six).value(), code.value());
        }
    }

    /// No panic, no overflow, for any string typed.
    #[test]
    fn parse_never_panics(input in any::<String>(), digits in digits()) {
        if let Ok(code) = Code::parse(&input, digits) {
            prop_assert_eq!(code.to_string(), input);
        }
    }

    /// No panic, no overflow, for any parameters, state, time and code;
    /// the floor never moves backwards and accepted positions are fresh.
    #[test]
    fn verify_never_panics(
        key in key(),
        digits in digits(),
        hotp_mode in any::<bool>(),
        seconds in 1u64..=u64::MAX,
        t0 in any::<u64>(),
        behind in 0u16..200,
        ahead in 0u16..200,
        resync_window in 0u16..200,
        max_failures in any::<u32>(),
        floor in prop_oneof![any::<u64>(), Just(0u64), Just(MAX_POSITION), Just(u64::MAX)],
        drift in prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX), -5i64..5],
        failures in any::<u32>(),
        locked in any::<bool>(),
        now in prop_oneof![any::<u64>(), Just(0u64), Just(u64::MAX)],
        value in any::<u32>(),
        code_digits in digits(),
    ) {
        let mode = if hotp_mode { Mode::Hotp } else { Mode::Totp(TimeStep::new(seconds, t0).unwrap()) };
        let params = Params { mode, digits, window: Window::new(behind, ahead), resync_window, max_failures };
        let state = TokenState { floor, drift, failures, locked };
        let code = Code::from_value(value % code_digits.modulus(), code_digits).unwrap();
        for v in [
            verify(&key, &params, &state, &code, now),
            resync(&key, &params, &state, &code, &code, now),
        ] {
            prop_assert!(v.state.floor >= state.floor);
            if let Ok(a) = v.outcome {
                prop_assert!(a.position() >= state.floor);
                prop_assert!(!state.locked);
            }
        }
    }
}

#[test]
fn windows_near_zero_and_max_do_not_underflow() {
    let key = Key::new(Algorithm::Sha1, b"12345678901234567890").unwrap();
    let params = Params {
        window: Window::new(100, 100),
        ..Params::hotp()
    };
    // Near counter 0: the window simply starts at 0.
    let v = verify(
        &key,
        &params,
        &TokenState::new(),
        &hotp(&key, 0, Digits::Six),
        0,
    );
    assert_eq!(v.outcome.map(|a| a.position()), Ok(0));
    // Near the top: the last usable counter is MAX_POSITION.
    let state = TokenState::starting_at(MAX_POSITION - 3);
    let v = verify(
        &key,
        &params,
        &state,
        &hotp(&key, MAX_POSITION, Digits::Six),
        0,
    );
    assert_eq!(v.outcome.map(|a| a.position()), Ok(MAX_POSITION));
    assert_eq!(v.state.floor, u64::MAX);
    // After that, nothing is left to accept.
    let v = verify(
        &key,
        &params,
        &v.state,
        &hotp(&key, MAX_POSITION, Digits::Six),
        0,
    );
    assert!(!v.is_accepted());
    // TOTP at T0 with a drift far into the past.
    let totp = Params::totp(TimeStep::new(30, 1_000).unwrap());
    let state = TokenState {
        drift: i64::MIN,
        ..TokenState::new()
    };
    let v = verify(&key, &totp, &state, &hotp(&key, 0, Digits::Six), 1_000);
    assert_eq!(v.outcome.map(|a| a.position()), Ok(0));
    // Before T0: a clock error, not a failure.
    let v = verify(
        &key,
        &totp,
        &TokenState::new(),
        &hotp(&key, 0, Digits::Six),
        999,
    );
    assert_eq!(
        v.outcome,
        Err(Rejected::Clock(otp_core::ClockError::BeforeT0))
    );
    assert_eq!(v.state.failures, 0);
}

#[test]
fn an_older_code_counts_as_a_failure_but_the_last_one_does_not() {
    let key = Key::new(Algorithm::Sha1, b"12345678901234567890").unwrap();
    let params = Params::hotp();
    let v1 = verify(
        &key,
        &params,
        &TokenState::new(),
        &hotp(&key, 0, Digits::Six),
        0,
    );
    let v2 = verify(&key, &params, &v1.state, &hotp(&key, 1, Digits::Six), 0);
    assert!(v1.is_accepted() && v2.is_accepted());
    let params_back = Params {
        window: Window::new(2, 10),
        ..params
    };
    let older = verify(
        &key,
        &params_back,
        &v2.state,
        &hotp(&key, 0, Digits::Six),
        0,
    );
    assert_eq!(
        older.outcome,
        Err(Rejected::Replayed {
            repeat_of_last: false
        })
    );
    assert_eq!(older.state.failures, 1);
    let last = verify(
        &key,
        &params_back,
        &v2.state,
        &hotp(&key, 1, Digits::Six),
        0,
    );
    assert_eq!(
        last.outcome,
        Err(Rejected::Replayed {
            repeat_of_last: true
        })
    );
    assert_eq!(last.state.failures, 0);
}

#[test]
fn a_code_with_the_wrong_digit_count_is_not_a_guess() {
    let key = Key::new(Algorithm::Sha1, b"12345678901234567890").unwrap();
    let eight = Code::parse("94287082", Digits::Eight).unwrap();
    let v = verify(&key, &Params::default(), &TokenState::new(), &eight, 59);
    assert_eq!(v.outcome, Err(Rejected::DigitsMismatch));
    assert_eq!(v.state, TokenState::new());
}
