#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod clock;
mod otpauth;
mod profile;
mod pskc;
mod record;
mod serial;

pub use clock::{Clock, SystemClock};
pub use otpauth::{MAX_URI_PERIOD, UriError};
pub use profile::Profile;
pub use pskc::{
    PreSharedKey, PskcError, PskcKeyInfo, PskcLimits, PskcWriter, read_pskc_keys,
    read_pskc_keys_with_limits, read_pskc_records,
};
pub use record::{Inventory, SeedRecord};
pub use serial::{MaskedSerial, SERIAL_LEN, SerialError, SerialNumber};
