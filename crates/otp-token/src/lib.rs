#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod clock;
mod serial;
mod token;

pub use clock::{Clock, Crystal, MAX_DRIFT_PPM, SimClock, SystemClock};
pub use serial::{MaskedSerial, SERIAL_LEN, SerialError, SerialNumber};
pub use token::{
    Battery, Profile, SECONDS_PER_YEAR, Screen, Token, TokenError, TokenKind, TokenSpec,
};
