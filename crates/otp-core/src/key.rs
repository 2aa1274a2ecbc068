//! Secrets and keys. A [`Key`] holds the HMAC inner and outer hash states
//! with the secret already absorbed, so each code costs two compressions.

use core::fmt;

use zeroize::Zeroize;

use crate::hmac_pads::{BlockHash as _, HmacPads, Sha1, Sha256, Sha512, truncate};
use crate::{Algorithm, KeyError, lockstep};

/// The shortest secret accepted: 128 bits (RFC 4226, requirement R6).
pub const MIN_SECRET_LEN: usize = 16;
/// The length of generated secrets: 160 bits, as RFC 4226 recommends.
pub const DEFAULT_SECRET_LEN: usize = 20;
/// The longest secret a [`Secret`] holds: 128 bytes, two SHA-512 blocks.
pub const MAX_SECRET_LEN: usize = 128;

/// A token's shared secret, held without allocating. Zeroized on drop
/// (every clone too); `Debug` prints only its length; there is no
/// `Display`.
///
/// # Examples
///
/// ```
/// use otp_core::Secret;
/// let secret = Secret::from_bytes(b"12345678901234567890")?;
/// assert_eq!(secret.len(), 20);
/// assert_eq!(format!("{secret:?}"), "Secret { len: 20, .. }");
/// # Ok::<(), otp_core::KeyError>(())
/// ```
pub struct Secret {
    bytes: [u8; MAX_SECRET_LEN],
    len: usize,
}

impl Secret {
    /// Copies a secret of 16 to 128 bytes.
    ///
    /// # Errors
    ///
    /// [`KeyError::TooShort`] under 16 bytes, [`KeyError::TooLong`] over 128.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(otp_core::Secret::from_bytes(&[7; 10]).is_err());
    /// ```
    pub fn from_bytes(secret: &[u8]) -> Result<Self, KeyError> {
        check_len(secret.len())?;
        let mut bytes = [0u8; MAX_SECRET_LEN];
        bytes
            .get_mut(..secret.len())
            .ok_or(KeyError::TooLong {
                max: MAX_SECRET_LEN,
                found: secret.len(),
            })?
            .copy_from_slice(secret);
        Ok(Self {
            bytes,
            len: secret.len(),
        })
    }

    /// The secret's length in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(otp_core::Secret::from_bytes(&[1; 32])?.len(), 32);
    /// # Ok::<(), otp_core::KeyError>(())
    /// ```
    #[must_use]
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Always `false`: a secret has at least 16 bytes. Present for symmetry
    /// with [`len`](Self::len).
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The secret bytes, for writing a seed file or an encrypted store.
    /// The name is long on purpose: every call site is a place to audit.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = otp_core::Secret::from_bytes(&[9; 16])?;
    /// assert_eq!(s.expose_secret(), &[9; 16]);
    /// # Ok::<(), otp_core::KeyError>(())
    /// ```
    #[must_use]
    pub fn expose_secret(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
}

impl Clone for Secret {
    fn clone(&self) -> Self {
        Self {
            bytes: self.bytes,
            len: self.len,
        }
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

const fn check_len(found: usize) -> Result<(), KeyError> {
    if found < MIN_SECRET_LEN {
        Err(KeyError::TooShort {
            min: MIN_SECRET_LEN,
            found,
        })
    } else if found > MAX_SECRET_LEN {
        Err(KeyError::TooLong {
            max: MAX_SECRET_LEN,
            found,
        })
    } else {
        Ok(())
    }
}

/// A keyed HMAC for one token: the secret absorbed into the inner and outer
/// hash states once. Zeroized on drop; `Debug` prints only the algorithm.
///
/// # Examples
///
/// ```
/// use otp_core::{Algorithm, Digits, Key};
/// let key = Key::new(Algorithm::Sha1, b"12345678901234567890")?;
/// // RFC 4226 Appendix D, counter 0.
/// assert_eq!(otp_core::hotp(&key, 0, Digits::Six).to_string(), "755224");
/// # Ok::<(), otp_core::KeyError>(())
/// ```
pub struct Key {
    pads: Pads,
}

/// The keyed hash states of one algorithm.
pub(crate) enum Pads {
    Sha1(HmacPads<Sha1>),
    Sha256(HmacPads<Sha256>),
    Sha512(HmacPads<Sha512>),
}

impl Key {
    /// Keys HMAC with `secret` for `algorithm`.
    ///
    /// # Errors
    ///
    /// [`KeyError::TooShort`] for a secret under 128 bits (RFC 4226 R6),
    /// [`KeyError::TooLong`] over [`MAX_SECRET_LEN`].
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_core::{Algorithm, Key, KeyError};
    /// assert!(matches!(Key::new(Algorithm::Sha1, b"short"), Err(KeyError::TooShort { .. })));
    /// ```
    pub fn new(algorithm: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        check_len(secret.len())?;
        let pads = match algorithm {
            Algorithm::Sha1 => Pads::Sha1(HmacPads::new(secret)),
            Algorithm::Sha256 => Pads::Sha256(HmacPads::new(secret)),
            Algorithm::Sha512 => Pads::Sha512(HmacPads::new(secret)),
        };
        Ok(Self { pads })
    }

    /// Keys HMAC with a [`Secret`].
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_core::{Algorithm, Key, Secret};
    /// let key = Key::from_secret(Algorithm::Sha256, &Secret::from_bytes(&[3; 32])?);
    /// assert_eq!(key.algorithm(), Algorithm::Sha256);
    /// # Ok::<(), otp_core::KeyError>(())
    /// ```
    #[must_use]
    pub fn from_secret(algorithm: Algorithm, secret: &Secret) -> Self {
        let bytes = secret.expose_secret();
        let pads = match algorithm {
            Algorithm::Sha1 => Pads::Sha1(HmacPads::new(bytes)),
            Algorithm::Sha256 => Pads::Sha256(HmacPads::new(bytes)),
            Algorithm::Sha512 => Pads::Sha512(HmacPads::new(bytes)),
        };
        Self { pads }
    }

    /// The hash function this key was made for.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = otp_core::Key::new(otp_core::Algorithm::Sha1, &[0; 20])?;
    /// assert_eq!(key.algorithm(), otp_core::Algorithm::Sha1);
    /// # Ok::<(), otp_core::KeyError>(())
    /// ```
    #[must_use]
    pub const fn algorithm(&self) -> Algorithm {
        match self.pads {
            Pads::Sha1(_) => Algorithm::Sha1,
            Pads::Sha256(_) => Algorithm::Sha256,
            Pads::Sha512(_) => Algorithm::Sha512,
        }
    }

    /// The keyed hash states, for HMAC over longer messages (OCRA).
    pub(crate) const fn pads(&self) -> &Pads {
        &self.pads
    }

    /// The full HMAC of the 8-byte big-endian `counter`, written into `out`
    /// (which must hold [`Algorithm::output_len`] bytes; shorter buffers
    /// receive a prefix). For test vectors and diagnostics; codes come from
    /// [`hotp`](crate::hotp).
    ///
    /// # Examples
    ///
    /// ```
    /// let key = otp_core::Key::new(otp_core::Algorithm::Sha1, b"12345678901234567890")?;
    /// let mut mac = [0u8; 20];
    /// key.hmac_counter(0, &mut mac);
    /// assert_eq!(mac[0], 0xcc); // RFC 4226 Appendix D
    /// # Ok::<(), otp_core::KeyError>(())
    /// ```
    pub fn hmac_counter(&self, counter: u64, out: &mut [u8]) {
        let mut copy = |d: &[u8]| {
            for (o, b) in out.iter_mut().zip(d) {
                *o = *b;
            }
        };
        match &self.pads {
            Pads::Sha1(p) => copy(p.mac(counter).as_ref()),
            Pads::Sha256(p) => copy(p.mac(counter).as_ref()),
            Pads::Sha512(p) => copy(p.mac(counter).as_ref()),
        }
    }

    /// The 31-bit dynamic-truncation value `Snum` of RFC 4226 §5.3 for
    /// `counter`: the code before reduction modulo 10^digits. For test
    /// vectors and diagnostics.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = otp_core::Key::new(otp_core::Algorithm::Sha1, b"12345678901234567890")?;
    /// assert_eq!(key.truncated(0), 1_284_755_224); // RFC 4226 Appendix D
    /// # Ok::<(), otp_core::KeyError>(())
    /// ```
    #[must_use]
    pub fn truncated(&self, counter: u64) -> u32 {
        let [t] = self.truncated_lanes::<1>(counter);
        t
    }

    /// The 31-bit dynamic-truncation values (RFC 4226 §5.3) of the counters
    /// `first ..= first + N - 1`, SHA-1 hashed in lockstep where the CPU
    /// allows. The caller guarantees the counters do not overflow.
    #[inline]
    pub(crate) fn truncated_lanes<const N: usize>(&self, first: u64) -> [u32; N] {
        let counters: [u64; N] = core::array::from_fn(|i| first.wrapping_add(i as u64));
        match &self.pads {
            Pads::Sha1(p) => match lockstep::hmac_sha1(&p.inner, &p.outer, &counters) {
                Some(states) => states.map(|s| truncate(&Sha1::truncation_input(&s))),
                None => counters.map(|c| p.truncated(c)),
            },
            Pads::Sha256(p) => match lockstep::hmac_sha256(&p.inner, &p.outer, &counters) {
                Some(states) => states.map(|s| truncate(&Sha256::truncation_input(&s))),
                None => counters.map(|c| p.truncated(c)),
            },
            Pads::Sha512(p) => counters.map(|c| p.truncated(c)),
        }
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        match &mut self.pads {
            Pads::Sha1(p) => p.wipe(),
            Pads::Sha256(p) => p.wipe(),
            Pads::Sha512(p) => p.wipe(),
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(
    clippy::cast_possible_truncation,
    clippy::arithmetic_side_effects,
    reason = "test data built from small loop indices"
)]
mod tests {
    use super::*;

    fn reference<M: hmac::Mac + hmac::KeyInit>(secret: &[u8], counter: u64) -> [u8; 64] {
        let mut mac = <M as hmac::KeyInit>::new_from_slice(secret).expect("any key length");
        mac.update(&counter.to_be_bytes());
        let out = mac.finalize().into_bytes();
        let mut buf = [0u8; 64];
        buf[..out.len()].copy_from_slice(&out);
        buf
    }

    #[test]
    fn matches_the_hmac_crate_for_every_algorithm_and_key_length() {
        for len in [16usize, 20, 32, 63, 64, 65, 100, 128] {
            let secret: [u8; 128] =
                core::array::from_fn(|i| (i as u8).wrapping_mul(31).wrapping_add(len as u8));
            let secret = &secret[..len];
            for counter in [0u64, 1, 59, u64::from(u32::MAX) + 7, u64::MAX] {
                for (alg, want) in [
                    (
                        Algorithm::Sha1,
                        reference::<hmac::Hmac<sha1::Sha1>>(secret, counter),
                    ),
                    (
                        Algorithm::Sha256,
                        reference::<hmac::Hmac<sha2::Sha256>>(secret, counter),
                    ),
                    (
                        Algorithm::Sha512,
                        reference::<hmac::Hmac<sha2::Sha512>>(secret, counter),
                    ),
                ] {
                    let key = Key::new(alg, secret).unwrap();
                    let mut got = [0u8; 64];
                    key.hmac_counter(counter, &mut got);
                    assert_eq!(got, want, "{alg} key length {len} counter {counter}");
                }
            }
        }
    }

    #[test]
    fn secret_length_limits() {
        assert_eq!(
            Key::new(Algorithm::Sha1, &[0; 15]).unwrap_err(),
            KeyError::TooShort { min: 16, found: 15 }
        );
        assert!(Key::new(Algorithm::Sha1, &[0; 16]).is_ok());
        assert!(Key::new(Algorithm::Sha1, &[0; 128]).is_ok());
        assert_eq!(
            Secret::from_bytes(&[0; 129]).unwrap_err(),
            KeyError::TooLong {
                max: 128,
                found: 129
            }
        );
    }

    #[test]
    fn debug_never_shows_secret_material() {
        let key = Key::new(Algorithm::Sha1, b"SECRETSECRETSECRET").unwrap();
        assert_eq!(format!("{key:?}"), "Key { algorithm: Sha1, .. }");
        let secret = Secret::from_bytes(b"SECRETSECRETSECRET").unwrap();
        assert!(!format!("{secret:?}").contains("83"));
    }
}
