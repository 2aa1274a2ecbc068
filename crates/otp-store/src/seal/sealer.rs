//! The holder of the key-encryption keys: the [`SecretSealer`] trait,
//! and wrapping and unwrapping under a list of KEKs (the two shipped
//! sealers share it).

use core::fmt;

use zeroize::Zeroizing;

use super::SealError;
use super::envelope::{cipher, open_with, seal_with};

/// The holder of the key-encryption keys (KEKs) that wrap a store's data
/// keys. Implement it to keep the KEK in an HSM or a KMS; the store never
/// sees a KEK, only wrapped and unwrapped data keys.
///
/// `context` is associated data that the wrap must authenticate (it names
/// the store and the data key): an unwrap with another context must fail.
pub trait SecretSealer: Send + Sync + fmt::Debug {
    /// The id of the KEK that new data keys are wrapped under.
    ///
    /// # Errors
    ///
    /// [`SealError::Unavailable`] when the key service cannot say.
    fn current_key(&self) -> Result<String, SealError>;

    /// Wraps `data_key` under the KEK `key_id`.
    ///
    /// # Errors
    ///
    /// [`SealError::UnknownKey`] or [`SealError::Unavailable`].
    fn wrap(&self, key_id: &str, data_key: &[u8; 32], context: &[u8])
    -> Result<Vec<u8>, SealError>;

    /// Unwraps a data key wrapped under the KEK `key_id`.
    ///
    /// # Errors
    ///
    /// [`SealError::UnknownKey`], [`SealError::Refused`] (wrong key or
    /// altered data) or [`SealError::Unavailable`].
    fn unwrap(
        &self,
        key_id: &str,
        wrapped: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>, SealError>;
}

/// One key-encryption key: its id and its 32 bytes.
pub(super) type Kek = (String, Zeroizing<[u8; 32]>);

pub(super) fn wrap_under(
    keys: &[Kek],
    key_id: &str,
    data_key: &[u8; 32],
    context: &[u8],
) -> Result<Vec<u8>, SealError> {
    let (_, kek) = keys
        .iter()
        .find(|(id, _)| id == key_id)
        .ok_or_else(|| SealError::UnknownKey(key_id.to_owned()))?;
    seal_with(&cipher(kek), data_key, context).map_err(SealError::Unavailable)
}

pub(super) fn unwrap_under(
    keys: &[Kek],
    key_id: &str,
    wrapped: &[u8],
    context: &[u8],
) -> Result<Zeroizing<[u8; 32]>, SealError> {
    let (_, kek) = keys
        .iter()
        .find(|(id, _)| id == key_id)
        .ok_or_else(|| SealError::UnknownKey(key_id.to_owned()))?;
    let plain = open_with(&cipher(kek), wrapped, context).ok_or(SealError::Refused)?;
    let mut out = Zeroizing::new([0u8; 32]);
    if plain.len() != out.len() {
        return Err(SealError::Refused);
    }
    out.copy_from_slice(&plain);
    Ok(out)
}
