//! Keys derived from the bank's session key: HMAC-SHA-256 of it and a
//! label, one label per use (exchange tickets, sealed values,
//! transactions' challenges and references), so that no two uses share a
//! key and the session key itself never encrypts or signs anything.

use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::InternalError;

/// HMAC-SHA-256 keyed with `key`, nothing absorbed yet.
pub(crate) fn keyed(key: &[u8]) -> Result<Hmac<Sha256>, InternalError> {
    <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key).map_err(|_| InternalError::Encoding)
}

/// The key for `label`: HMAC-SHA-256(`session_key`, `label`).
pub(crate) fn derived_key(
    session_key: &[u8; 32],
    label: &[u8],
) -> Result<Zeroizing<[u8; 32]>, InternalError> {
    let mut mac = keyed(session_key)?;
    mac.update(label);
    Ok(Zeroizing::new(mac.finalize().into_bytes().into()))
}
