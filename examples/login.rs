//! The verifier embedded in a bank's login handler.
//!
//! A login handler loads the token's state, calls the pure function
//! `otp_core::verify`, and stores the returned state with compare-and-set
//! on the old value, so two servers racing on the same code cannot both
//! accept it. This example runs a scripted morning at the bank on a
//! simulated clock and checks every outcome; it exits non-zero if any step
//! does not behave as a bank expects.
//!
//!     cargo run -p otp-examples --example login
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Mutex;

use otp_core::{
    Algorithm, Code, Digits, Key, Mode, Params, Rejected, TimeStep, TokenState, hotp, resync, totp,
    verify,
};

/// A stand-in for the bank's database: token states by user ID, updated
/// only by compare-and-set.
#[derive(Debug, Default)]
struct StateStore {
    states: Mutex<HashMap<&'static str, TokenState>>,
}

impl StateStore {
    fn load(&self, user: &'static str) -> TokenState {
        let states = self
            .states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        states.get(user).copied().unwrap_or_default()
    }

    /// Stores `new` only if the state is still `old`; `false` means another
    /// server got there first and the caller must retry from a fresh load.
    fn compare_and_set(&self, user: &'static str, old: TokenState, new: TokenState) -> bool {
        let mut states = self
            .states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let current = states.entry(user).or_default();
        if *current == old {
            *current = new;
            true
        } else {
            false
        }
    }
}

/// The login handler: parse what the user typed, verify, persist.
fn login(
    store: &StateStore,
    key: &Key,
    params: &Params,
    user: &'static str,
    typed: &str,
    now: u64,
) -> Result<(), String> {
    let code = Code::parse(typed, params.digits).map_err(|e| e.to_string())?;
    loop {
        let old = store.load(user);
        let v = verify(key, params, &old, &code, now);
        if store.compare_and_set(user, old, v.state) {
            return v.outcome.map(|_| ()).map_err(|e| e.to_string());
        }
    }
}

fn step_of(params: &Params) -> TimeStep {
    match params.mode {
        Mode::Totp(step) => step,
        Mode::Hotp => TimeStep::default(),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => {
            println!("\nevery step behaved as expected");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("\nFAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

fn check(what: &str, got: Result<(), String>, want_ok: bool) -> Result<(), String> {
    let shown = match &got {
        Ok(()) => "accepted".to_owned(),
        Err(e) => format!("refused: {e}"),
    };
    println!("{what:<58} {shown}");
    if got.is_ok() == want_ok {
        Ok(())
    } else {
        Err(format!(
            "{what}: expected {}",
            if want_ok { "acceptance" } else { "refusal" }
        ))
    }
}

fn run() -> Result<(), String> {
    // Embedded defaults: the RFC 6238 SHA-1 test secret, TOTP 30 s, 6
    // digits, ±1 step, lock after 6 failures.
    let key = Key::new(Algorithm::Sha1, b"12345678901234567890").map_err(|e| e.to_string())?;
    let params = Params::default();
    let step = step_of(&params);
    let store = StateStore::default();
    let user = "W0001";
    let mut now = 1_796_083_200; // 2026-12-01 09:00:00 JST (00:00 UTC)
    let shown = |at: u64| {
        totp(&key, &step, at, Digits::Six)
            .map(|c| c.to_string())
            .map_err(|e| e.to_string())
    };

    println!(
        "user {user}, TOTP {}s steps, {} digits, window ±{}\n",
        step.seconds(),
        params.digits,
        params.window.behind
    );

    let code = shown(now)?;
    check(
        "09:00 login with the code on the display",
        login(&store, &key, &params, user, &code, now + 2),
        true,
    )?;
    check(
        "09:00 the same code again (replay)",
        login(&store, &key, &params, user, &code, now + 5),
        false,
    )?;
    check(
        "09:00 the code typed with full-width digits",
        login(&store, &key, &params, user, "１２３４５６", now + 6),
        false,
    )?;
    now += 30;
    let code = shown(now)?;
    check(
        "09:00:30 the next code, after the step changed",
        login(&store, &key, &params, user, &code, now + 1),
        true,
    )?;

    // A thief guesses.
    now += 60;
    for i in 1..=params.max_failures {
        let guess = format!("{:06}", (u64::from(i) * 111_111) % 1_000_000);
        if guess == shown(now)? {
            continue;
        }
        let got = login(&store, &key, &params, user, &guess, now);
        check(&format!("09:01:30 wrong guess {i}"), got, false)?;
    }
    let state = store.load(user);
    println!(
        "{:<58} failures {}, locked {}",
        "   token state", state.failures, state.locked
    );
    if !state.locked {
        return Err("the token should be locked after 6 wrong codes".into());
    }
    let code = shown(now)?;
    check(
        "09:01:30 the right code while locked",
        login(&store, &key, &params, user, &code, now),
        false,
    )?;
    let locked = store.load(user);
    store.compare_and_set(user, locked, locked.unlocked());
    println!("{:<58} done", "09:02 an administrator unlocks the token");
    now += 30;
    let code = shown(now)?;
    check(
        "09:02 the right code after unlock",
        login(&store, &key, &params, user, &code, now),
        true,
    )?;

    // Three years later the token's crystal runs 20 ppm fast: ~31 minutes.
    now += 3 * 365 * 86_400;
    let drift_steps = (3 * 365 * 86_400 * 20 / 1_000_000) / 30;
    let token_step = step.step_at(now).map_err(|e| e.to_string())? + drift_steps;
    let code = hotp(&key, token_step, Digits::Six).to_string();
    let got = login(&store, &key, &params, user, &code, now);
    check(
        &format!("3 years on: token {drift_steps} steps fast"),
        got,
        false,
    )?;
    let c1 = hotp(&key, token_step + 1, Digits::Six);
    let c2 = hotp(&key, token_step + 2, Digits::Six);
    let old = store.load(user);
    let r = resync(&key, &params, &old, &c1, &c2, now + 40);
    if !store.compare_and_set(user, old, r.state) {
        return Err("nobody else writes in this example".into());
    }
    check(
        "   resync with two consecutive codes",
        r.outcome.map(|_| ()).map_err(|e: Rejected| e.to_string()),
        true,
    )?;
    println!(
        "{:<58} {} steps",
        "   learned drift",
        store.load(user).drift
    );
    now += 120;
    let token_step = step.step_at(now).map_err(|e| e.to_string())? + drift_steps;
    let code = hotp(&key, token_step, Digits::Six).to_string();
    check(
        "   two minutes later, a normal login",
        login(&store, &key, &params, user, &code, now),
        true,
    )?;
    Ok(())
}
