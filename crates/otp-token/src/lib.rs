#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod clock;
mod factory;
mod token;
mod token_file;

pub use clock::{Crystal, MAX_DRIFT_PPM, SimClock};
pub use factory::{Batch, Factory, FactoryError, Manufacturing};
pub use token::{Battery, SECONDS_PER_YEAR, Screen, Token, TokenError, TokenSpec};
pub use token_file::{FileKind, TokenFile, TokenFileError};
