//! [`StaticSealer`]: key-encryption keys held in memory.

use core::fmt;

use zeroize::Zeroizing;

use super::sealer::{Kek, unwrap_under, wrap_under};
use super::{SealError, SecretSealer};

/// A sealer over key-encryption keys held in memory: for tests, and for a
/// bank that fetches its KEK at start from somewhere this crate does not
/// know. The first key wraps new data keys.
pub struct StaticSealer {
    keys: Vec<Kek>,
}

impl fmt::Debug for StaticSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("StaticSealer")
            .field("key_ids", &ids)
            .finish_non_exhaustive()
    }
}

impl StaticSealer {
    /// A sealer with one KEK.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_store::{SecretSealer, StaticSealer};
    /// let sealer = StaticSealer::new("k1", [7; 32]);
    /// assert_eq!(sealer.current_key()?, "k1");
    /// # Ok::<(), otp_store::SealError>(())
    /// ```
    #[must_use]
    pub fn new(id: &str, key: [u8; 32]) -> Self {
        Self {
            keys: vec![(id.to_owned(), Zeroizing::new(key))],
        }
    }

    /// The same sealer that can also unwrap data keys wrapped under `key`
    /// (an older KEK during a rotation).
    #[must_use]
    pub fn with_old_key(mut self, id: &str, key: [u8; 32]) -> Self {
        self.keys.push((id.to_owned(), Zeroizing::new(key)));
        self
    }
}

impl SecretSealer for StaticSealer {
    fn current_key(&self) -> Result<String, SealError> {
        self.keys
            .first()
            .map(|(id, _)| id.clone())
            .ok_or_else(|| SealError::Unavailable("no key".into()))
    }

    fn wrap(
        &self,
        key_id: &str,
        data_key: &[u8; 32],
        context: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        wrap_under(&self.keys, key_id, data_key, context)
    }

    fn unwrap(
        &self,
        key_id: &str,
        wrapped: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>, SealError> {
        unwrap_under(&self.keys, key_id, wrapped, context)
    }
}
