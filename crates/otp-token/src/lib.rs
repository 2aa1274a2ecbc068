#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod clock;
mod factory;
mod otpauth;
mod pskc;
mod record;
mod serial;
mod token;

pub use clock::{Clock, Crystal, MAX_DRIFT_PPM, SimClock, SystemClock};
pub use factory::{Batch, Factory, FactoryError, Manufacturing};
pub use otpauth::{MAX_URI_PERIOD, UriError};
pub use pskc::{
    PreSharedKey, PskcError, PskcKeyInfo, PskcLimits, PskcWriter, read_pskc_keys,
    read_pskc_keys_with_limits, read_pskc_records,
};
pub use record::{Inventory, SeedRecord};
pub use serial::{MaskedSerial, SERIAL_LEN, SerialError, SerialNumber};
pub use token::{
    Battery, Profile, SECONDS_PER_YEAR, Screen, Token, TokenError, TokenKind, TokenSpec,
};
