//! Token secrets sealed at rest: envelope encryption with AES-256-GCM.

mod key_file;

pub(crate) use key_file::{DataKeyRow, DataKeys, NewDataKey};
pub use key_file::{KeyFileError, KeyFileSealer, Rekeyed, SealError, SecretSealer, StaticSealer};
