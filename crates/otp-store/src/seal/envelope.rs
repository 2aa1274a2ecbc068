//! The envelope: `version ‖ nonce ‖ AES-256-GCM(key, plaintext, aad)`,
//! the plaintext only ever in zeroizing buffers, and the associated data
//! of a wrapped data key and of a sealed token secret.

use aes_gcm::aead::AeadInOut as _;
use aes_gcm::{Aes256Gcm, KeyInit as _};
use zeroize::Zeroizing;

/// The envelope's version byte, first in every sealed value.
const ENVELOPE_V1: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

pub(super) fn random<const N: usize>() -> Result<[u8; N], String> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|e| format!("the operating system's RNG failed: {e}"))?;
    Ok(out)
}

/// `version ‖ nonce ‖ AES-256-GCM(key, plaintext, aad)`.
pub(super) fn seal_with(
    cipher: &Aes256Gcm,
    plaintext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, String> {
    let nonce: [u8; NONCE_LEN] = random()?;
    // The plaintext is copied only into this zeroizing buffer, sized for
    // the tag so that encrypting never moves it.
    let mut body = Zeroizing::new(Vec::with_capacity(plaintext.len() + TAG_LEN));
    body.extend_from_slice(plaintext);
    cipher
        .encrypt_in_place(&nonce.into(), aad, &mut *body)
        .map_err(|_| "AES-GCM refused to seal".to_owned())?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + body.len());
    out.push(ENVELOPE_V1);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&body);
    Ok(out)
}

/// Opens what [`seal_with`] made; the plaintext only ever in a zeroizing
/// buffer. `None` for anything that does not open.
pub(super) fn open_with(
    cipher: &Aes256Gcm,
    sealed: &[u8],
    aad: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    let (&version, rest) = sealed.split_first()?;
    if version != ENVELOPE_V1 || rest.len() < NONCE_LEN + TAG_LEN {
        return None;
    }
    let (nonce, body) = rest.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
    let mut buf = Zeroizing::new(body.to_vec());
    cipher
        .decrypt_in_place(&nonce.into(), aad, &mut *buf)
        .ok()?;
    Some(buf)
}

pub(super) fn cipher(key: &[u8; 32]) -> Aes256Gcm {
    // A 32-byte slice is always a valid AES-256 key.
    #[allow(clippy::expect_used)]
    Aes256Gcm::new_from_slice(key).expect("32 bytes is an AES-256 key")
}

/// Associated data of a wrapped data key.
pub(crate) fn data_key_context(store_id: &[u8], id: i64) -> Vec<u8> {
    let mut c = b"otp-store/data-key/v1\0".to_vec();
    c.extend_from_slice(store_id);
    c.extend_from_slice(&id.to_be_bytes());
    c
}

/// Associated data of a sealed token secret.
pub(super) fn secret_context(store_id: &[u8], key: i64, serial: &str) -> Vec<u8> {
    let mut c = b"otp-store/token-secret/v1\0".to_vec();
    c.extend_from_slice(store_id);
    c.extend_from_slice(&key.to_be_bytes());
    c.extend_from_slice(serial.as_bytes());
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_context() {
        let a = cipher(&[1; 32]);
        let b = cipher(&[2; 32]);
        let sealed = seal_with(&a, b"secret", b"ctx").unwrap();
        assert_eq!(sealed.len(), 1 + 12 + 6 + 16);
        assert_eq!(&open_with(&a, &sealed, b"ctx").unwrap()[..], b"secret");
        assert!(open_with(&b, &sealed, b"ctx").is_none());
        assert!(open_with(&a, &sealed, b"other").is_none());
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(open_with(&a, &flipped, b"ctx").is_none());
        assert!(open_with(&a, &sealed[..20], b"ctx").is_none());
        assert!(open_with(&a, &[], b"ctx").is_none());
        // Two seals of one value differ (random nonces).
        assert_ne!(seal_with(&a, b"secret", b"ctx").unwrap(), sealed);
    }
}
