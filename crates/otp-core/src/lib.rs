#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), no_std)]
#![cfg_attr(feature = "portable", forbid(unsafe_code))]
#![cfg_attr(not(feature = "portable"), deny(unsafe_code))]
#![warn(
    clippy::arithmetic_side_effects,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::alloc_instead_of_core
)]

mod algorithm;
mod code;
mod error;
mod hmac_pads;
mod key;
mod lockstep;
mod ocra;
mod params;
mod verify;

pub use algorithm::{Algorithm, Digits};
pub use code::Code;
pub use error::{ClockError, CodeError, KeyError, ParamError, Rejected};
pub use key::{DEFAULT_SECRET_LEN, Key, MAX_SECRET_LEN, MIN_SECRET_LEN, Secret};
pub use ocra::{
    MAX_SUITE_LEN, OcraAccepted, OcraField, OcraInput, OcraInputError, OcraParams, OcraResponse,
    OcraSuite, OcraVerification, QuestionFormat, SuiteError, ocra, verify_ocra,
};
pub use params::{Mode, Params, TimeStep, Window};
pub use subtle::ConstantTimeEq;
pub use verify::{Accepted, MAX_POSITION, TokenState, Verification, hotp, resync, totp, verify};

/// Whether verification hashes candidates in lockstep with the CPU's SHA
/// extensions (SHA-1 and SHA-256: `true`), or one at a time through the
/// portable path (always for SHA-512).
///
/// # Examples
///
/// ```
/// let _fast = otp_core::lockstep_available();
/// ```
#[must_use]
pub fn lockstep_available() -> bool {
    lockstep::available()
}

/// The former name of [`lockstep_available`], from when only SHA-1 was
/// hashed in lockstep.
#[deprecated(since = "0.1.0", note = "covers SHA-256 too: use `lockstep_available`")]
#[must_use]
pub fn lockstep_sha1_available() -> bool {
    lockstep::available()
}
