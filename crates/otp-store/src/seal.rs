//! Token secrets sealed at rest: envelope encryption with AES-256-GCM.
//!
//! Each store holds one or more *data keys* (random 256-bit AES-GCM keys).
//! A token's secret is stored only as `AES-256-GCM(data key, secret)`,
//! with the store's identity, the data key's id and the token's serial as
//! associated data, so a sealed secret moved to another row, another data
//! key or another database does not open. The data keys themselves are
//! stored only wrapped by a *key-encryption key* (KEK) that never enters
//! the database: a [`SecretSealer`] holds it. The shipped sealer,
//! [`KeyFileSealer`], reads KEKs from a private key file; a bank plugs an
//! HSM or a KMS in by implementing the trait.
//!
//! Opening a store unwraps its data keys once (a wrong or missing KEK is
//! [`OpenError::SealingKey`](crate::OpenError::SealingKey)); a
//! verification then costs one AES-GCM open of a few dozen bytes, and the
//! plaintext lives only in a zeroizing buffer for that verification.
//!
//! By concern: `envelope` (the AES-256-GCM envelope and its associated
//! data), `sealer` (the [`SecretSealer`] trait, and wrapping under a
//! list of KEKs), `data_keys` (the store's side: its data keys, sealing
//! and opening secrets), `static_sealer` ([`StaticSealer`], KEKs in
//! memory), `key_file` ([`KeyFileSealer`], KEKs in a private file) and
//! `error` ([`SealError`], [`KeyFileError`]).

mod data_keys;
mod envelope;
mod error;
mod key_file;
mod sealer;
mod static_sealer;

pub use data_keys::Rekeyed;
pub(crate) use data_keys::{DataKeyRow, DataKeys, NewDataKey};
pub use error::{KeyFileError, SealError};
pub use key_file::KeyFileSealer;
pub use sealer::SecretSealer;
pub use static_sealer::StaticSealer;
