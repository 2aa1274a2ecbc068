//! Links otp-core into a `no_std` artifact; see `Cargo.toml`.
#![no_std]

#[cfg(feature = "canary")]
extern crate std;

use otp_core::{Algorithm, Code, Digits, Key, Params, TokenState, hotp, verify};

/// Never called: a panic handler of our own, which would clash with
/// `std`'s if anything in the dependency graph linked it.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}

/// Exercises generation and verification so that the linker keeps them.
#[unsafe(no_mangle)]
pub extern "C" fn nostd_check_verify(counter: u64, typed: u32) -> bool {
    let Ok(key) = Key::new(Algorithm::Sha1, b"12345678901234567890") else {
        return false;
    };
    let _ = hotp(&key, counter, Digits::Six);
    let Some(code) = Code::from_value(typed, Digits::Six) else {
        return false;
    };
    verify(&key, &Params::hotp(), &TokenState::starting_at(counter), &code, 0).is_accepted()
}
