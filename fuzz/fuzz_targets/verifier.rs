//! `verify` and `resync` with arbitrary parameters, token states, times and
//! codes. Asserts:
//! - nothing panics or overflows (built with debug assertions);
//! - a code generated at a fresh position inside the window verifies, at
//!   that position or a lower fresh one with the same code;
//! - an accepted code never verifies again at the same or an earlier
//!   position (replay), and the state after a success is exactly
//!   "floor = position + 1, drift = offset (TOTP), failures cleared";
//! - the replay floor never goes backwards; a refusal never changes the
//!   floor or the drift, and counts at most one failure;
//! - a locked token refuses everything and stays as it was;
//! - whatever is accepted really is the code of the accepted position, in
//!   the window; `resync` accepts only two consecutive codes.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use otp_core::{
    Accepted, Algorithm, Code, Digits, Key, MAX_POSITION, Mode, Params, Rejected, TimeStep,
    TokenState, Verification, Window, hotp, resync, verify,
};

#[derive(Debug, Arbitrary)]
struct Input {
    algorithm: u8,
    secret: Vec<u8>,
    digits: u8,
    totp: Option<(u64, u64)>,
    behind: u8,
    ahead: u8,
    resync_window: u8,
    max_failures: u8,
    floor: u64,
    drift: i64,
    failures: u32,
    locked: bool,
    now: u64,
    /// Where to generate a right code: an index into the window.
    pick: u16,
    /// An arbitrary typed code, and a second one for resync.
    typed: (u32, u32),
    /// Near the ends of the counter space, where overflow would hide.
    edge: u8,
}

fn digits(d: u8) -> Digits {
    match d % 3 {
        0 => Digits::Six,
        1 => Digits::Seven,
        _ => Digits::Eight,
    }
}

/// `base + drift`, saturating: the verifier's documented centre.
fn shift(base: u64, drift: i64) -> u64 {
    if drift < 0 {
        base.saturating_sub(drift.unsigned_abs())
    } else {
        base.saturating_add(drift.unsigned_abs())
    }
}

fn signed_distance(from: u64, to: u64) -> i64 {
    if to >= from {
        i64::try_from(to - from).unwrap_or(i64::MAX)
    } else {
        i64::try_from(from - to).map_or(i64::MIN, |d| -d)
    }
}

/// (anchor, lo, hi) of a window of `radius_behind`/`radius_ahead`, or
/// `None` when the verifier must refuse before hashing.
fn window(
    p: &Params,
    s: &TokenState,
    now: u64,
    behind: u64,
    ahead: u64,
    cap: u64,
) -> Option<(u64, u64, u64)> {
    let (anchor, center) = match p.mode {
        Mode::Hotp => (s.floor, s.floor),
        Mode::Totp(step) => {
            let clock = step.step_at(now).ok()?;
            (clock, shift(clock, s.drift))
        }
    };
    let lo = center.saturating_sub(behind);
    let hi = center.saturating_add(ahead).min(cap);
    (lo <= hi).then_some((anchor, lo, hi))
}

fn check_success(p: &Params, before: &TokenState, v: &Verification, a: &Accepted, anchor: u64) {
    assert!(
        a.position() >= before.floor,
        "accepted below the replay floor"
    );
    assert!(a.position() <= MAX_POSITION);
    assert_eq!(v.state.floor, a.position() + 1);
    assert_eq!(a.offset(), signed_distance(anchor, a.position()));
    match p.mode {
        Mode::Hotp => assert_eq!(v.state.drift, 0),
        Mode::Totp(_) => assert_eq!(v.state.drift, a.offset()),
    }
    assert_eq!((v.state.failures, v.state.locked), (0, false));
}

fn check_refusal(p: &Params, before: &TokenState, v: &Verification, why: Rejected) {
    assert_eq!(v.state.floor, before.floor, "a refusal moved the floor");
    assert_eq!(v.state.drift, before.drift, "a refusal moved the drift");
    let counted = v.state.failures != before.failures || v.state.locked != before.locked;
    if counted {
        assert_eq!(v.state.failures, before.failures.saturating_add(1));
        assert_eq!(
            v.state.locked,
            p.max_failures != 0 && v.state.failures >= p.max_failures
        );
    } else {
        assert_eq!(v.state, *before, "{why:?}");
    }
    match why {
        Rejected::Invalid => assert!(counted || before.failures == u32::MAX),
        Rejected::Replayed {
            repeat_of_last: true,
        } => assert!(!counted),
        Rejected::Locked
        | Rejected::DigitsMismatch
        | Rejected::Clock(_)
        | Rejected::CounterExhausted => {
            assert_eq!(v.state, *before, "{why:?} changed the state");
        }
        _ => {}
    }
}

fuzz_target!(|input: Input| {
    let algorithm = match input.algorithm % 3 {
        0 => Algorithm::Sha1,
        1 => Algorithm::Sha256,
        _ => Algorithm::Sha512,
    };
    let mut secret = input.secret;
    secret.resize(secret.len().clamp(16, 128), 0x5a);
    let key = Key::new(algorithm, &secret).expect("16..=128 bytes");
    let mode = match input.totp {
        None => Mode::Hotp,
        Some((seconds, t0)) => match TimeStep::new(seconds, t0) {
            Ok(step) => Mode::Totp(step),
            Err(_) => Mode::Totp(TimeStep::default()),
        },
    };
    let params = Params {
        mode,
        digits: digits(input.digits),
        window: Window::new(u16::from(input.behind % 24), u16::from(input.ahead % 24)),
        resync_window: u16::from(input.resync_window),
        max_failures: u32::from(input.max_failures % 10),
    };
    let (mut floor, mut now) = (input.floor, input.now);
    match input.edge % 4 {
        1 => floor = u64::MAX - u64::from(input.edge),
        2 => now = u64::MAX - u64::from(input.edge),
        3 => (floor, now) = (u64::from(input.edge), u64::from(input.edge)),
        _ => {}
    }
    let state = TokenState {
        floor,
        drift: input.drift,
        failures: input.failures,
        locked: input.locked,
    };
    let d = params.digits;

    // 1. An arbitrary code.
    let typed = Code::from_value(input.typed.0 % d.modulus(), d).expect("reduced");
    let v = verify(&key, &params, &state, &typed, now);
    assert!(v.state.floor >= state.floor, "the floor went backwards");
    let win = window(
        &params,
        &state,
        now,
        u64::from(params.window.behind),
        u64::from(params.window.ahead),
        MAX_POSITION,
    );
    match v.outcome {
        Ok(a) => {
            assert!(!state.locked, "a locked token accepted a code");
            let (anchor, lo, hi) = win.expect("accepted without a window");
            assert!(
                (lo..=hi).contains(&a.position()),
                "accepted outside the window"
            );
            assert_eq!(
                hotp(&key, a.position(), d).value(),
                typed.value(),
                "accepted a wrong code"
            );
            check_success(&params, &state, &v, &a, anchor);
        }
        Err(why) => {
            if state.locked {
                assert_eq!(why, Rejected::Locked);
            }
            check_refusal(&params, &state, &v, why);
        }
    }
    // A code with other digits is refused without counting.
    let other = digits(input.digits % 3 + 1);
    let mismatched = Code::from_value(0, other).expect("zero fits");
    let m = verify(&key, &params, &state, &mismatched, now);
    assert!(!m.is_accepted());
    assert_eq!(m.state, state);

    // 2. A right code at a fresh position inside the window verifies, and
    //    never again at the same or an earlier position.
    let unlocked = TokenState {
        locked: false,
        ..state
    };
    if let Some((anchor, lo, hi)) = window(
        &params,
        &unlocked,
        now,
        u64::from(params.window.behind),
        u64::from(params.window.ahead),
        MAX_POSITION,
    ) {
        let lo_fresh = lo.max(unlocked.floor);
        if lo_fresh <= hi {
            let span = hi - lo_fresh;
            let p = lo_fresh + u64::from(input.pick) % (span.saturating_add(1)).max(1);
            let right = hotp(&key, p, d);
            let v = verify(&key, &params, &unlocked, &right, now);
            let a = v.outcome.unwrap_or_else(|e| {
                panic!("right code at {p} in [{lo_fresh}, {hi}] refused: {e:?}")
            });
            // The match nearest the expected position wins (the lower of
            // two as near): a collision may beat the right code's position
            // only by being nearer.
            let c = window(&params, &unlocked, now, 0, 0, MAX_POSITION).map_or(p, |w| w.1);
            let (got, genuine) = (a.position().abs_diff(c), p.abs_diff(c));
            assert!(got < genuine || (got == genuine && a.position() <= p));
            assert!(a.position() >= lo_fresh && a.position() <= hi);
            assert_eq!(hotp(&key, a.position(), d).value(), right.value());
            check_success(&params, &unlocked, &v, &a, anchor);
            // Replay, at the same time and later.
            for later in [0u64, 1, 29, 31] {
                let again = verify(&key, &params, &v.state, &right, now.saturating_add(later));
                assert!(again.state.floor >= v.state.floor);
                if let Ok(b) = again.outcome {
                    // Only a genuine collision further on may match.
                    assert!(b.position() > a.position(), "replayed code accepted again");
                    assert_eq!(hotp(&key, b.position(), d).value(), right.value());
                }
            }
            let locked = verify(&key, &params, &unlocked.with_lock(), &right, now);
            assert_eq!(locked.outcome, Err(Rejected::Locked));
            assert_eq!(locked.state, unlocked.with_lock());
        }
    }

    // 3. Resync: an arbitrary pair, and a right pair in the wide window.
    let second = Code::from_value(input.typed.1 % d.modulus(), d).expect("reduced");
    let r = resync(&key, &params, &state, &typed, &second, now);
    assert!(
        r.state.floor >= state.floor,
        "resync moved the floor backwards"
    );
    let radius = u64::from(params.resync_window);
    let rwin = window(&params, &state, now, radius, radius, MAX_POSITION - 1);
    match r.outcome {
        Ok(a) => {
            assert!(!state.locked);
            let (anchor, lo, hi) = rwin.expect("resync accepted without a window");
            let first_pos = a.position() - 1;
            assert!(first_pos >= state.floor && (lo..=hi).contains(&first_pos));
            assert_eq!(hotp(&key, first_pos, d).value(), typed.value());
            assert_eq!(hotp(&key, a.position(), d).value(), second.value());
            check_success(&params, &state, &r, &a, anchor);
        }
        Err(why) => check_refusal(&params, &state, &r, why),
    }
    if let Some((anchor, lo, hi)) =
        window(&params, &unlocked, now, radius, radius, MAX_POSITION - 1)
    {
        let lo_fresh = lo.max(unlocked.floor);
        if lo_fresh <= hi {
            let p = lo_fresh + u64::from(input.pick) % (hi - lo_fresh).saturating_add(1).max(1);
            let (c1, c2) = (hotp(&key, p, d), hotp(&key, p + 1, d));
            let r = resync(&key, &params, &unlocked, &c1, &c2, now);
            let a = r
                .outcome
                .unwrap_or_else(|e| panic!("right pair at {p} refused: {e:?}"));
            assert!(a.position() <= p + 1 && a.position() > lo_fresh);
            check_success(&params, &unlocked, &r, &a, anchor);
            let again = resync(&key, &params, &r.state, &c1, &c2, now);
            if let Ok(b) = again.outcome {
                assert!(
                    b.position() > a.position(),
                    "a resync pair was accepted twice"
                );
            }
        }
    }
});
