#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod codec;
mod error;
mod group;
#[cfg(feature = "postgres")]
mod postgres;
mod seal;
mod sqlite;

pub use error::OpenError;
#[cfg(feature = "postgres")]
pub use postgres::{PG_SCHEMA_VERSION, PgOptions, PgStore, TlsMode};
pub use seal::{KeyFileError, KeyFileSealer, Rekeyed, SealError, SecretSealer, StaticSealer};
pub use sqlite::{
    Durability, SQLITE_APPLICATION_ID, SQLITE_SCHEMA_VERSION, SqliteOptions, SqliteStore,
};
