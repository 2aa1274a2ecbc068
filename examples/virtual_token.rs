//! A test suite driving a virtual token: press the button on a simulated
//! clock, read the display, log in; watch "a new code takes 15–30 s";
//! age the token three years with a 20 ppm crystal and recover through
//! resync.
//!
//!     cargo run -p otp-examples --example virtual_token
#![forbid(unsafe_code)]

use otp_core::{Code, Key, Params, TokenState, resync, verify};
use otp_provision::{Clock as _, SerialNumber};
use otp_token::{Crystal, SimClock, Token, TokenSpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let clock = SimClock::new(1_796_083_200); // 2026-12-01 09:00 JST
    let secret = otp_core::Secret::from_bytes(b"an example 160-bit!!")?;
    let spec = TokenSpec {
        crystal: Crystal::new(20, 0)?, // runs 20 ppm fast
        ..TokenSpec::activated_at(clock.now())
    };
    let mut token = Token::new(SerialNumber::parse("VT0000000042")?, &secret, spec)?;
    let key = Key::from_secret(token.profile().algorithm, &secret);
    // The token's mode and digits; the window and the lock are the bank's
    // policy (here otp-core's defaults).
    let params = Params {
        mode: token.profile().mode,
        digits: token.profile().digits,
        ..Params::default()
    };
    let mut state = TokenState::new();

    // Press "1", read, log in.
    let shown = token.press_now(&clock)?;
    println!("display: {shown}");
    let v = verify(
        &key,
        &params,
        &state,
        &Code::parse(&shown.to_string(), params.digits)?,
        clock.now(),
    );
    println!("login: {:?}", v.outcome);
    state = v.state;

    // Pressing again within the step shows the same code, refused as a replay.
    clock.advance(10);
    let again = token.press_now(&clock)?;
    let v = verify(
        &key,
        &params,
        &state,
        &Code::parse(&again.to_string(), params.digits)?,
        clock.now(),
    );
    println!("same step, display {again}: {:?}", v.outcome);
    if let Some(at) = token.next_code_at(clock.now()) {
        println!("a new code appears in {} s", at - clock.now());
        clock.set(at);
    }
    let fresh = token.press_now(&clock)?;
    let v = verify(
        &key,
        &params,
        &v.state,
        &Code::parse(&fresh.to_string(), params.digits)?,
        clock.now(),
    );
    println!("next step, display {fresh}: {:?}", v.outcome);
    state = v.state;

    // Three years later the crystal is ~31 minutes fast.
    clock.advance(3 * 365 * 86_400);
    let c1 = token.press_now(&clock)?.to_string();
    let v = verify(
        &key,
        &params,
        &state,
        &Code::parse(&c1, params.digits)?,
        clock.now(),
    );
    println!("three years on: {:?}", v.outcome);
    let next = token.next_code_at(clock.now()).unwrap_or(clock.now() + 30);
    clock.set(next);
    let c2 = token.press_now(&clock)?.to_string();
    let r = resync(
        &key,
        &params,
        &v.state,
        &Code::parse(&c1, params.digits)?,
        &Code::parse(&c2, params.digits)?,
        clock.now(),
    );
    println!(
        "resync with two consecutive codes: {:?}, drift {} steps",
        r.outcome, r.state.drift
    );
    clock.advance(60);
    let c3 = token.press_now(&clock)?.to_string();
    let v = verify(
        &key,
        &params,
        &r.state,
        &Code::parse(&c3, params.digits)?,
        clock.now(),
    );
    println!("a minute later: {:?}", v.outcome);
    if !v.is_accepted() {
        return Err("the resynchronised token should verify".into());
    }
    Ok(())
}
