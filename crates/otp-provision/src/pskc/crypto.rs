//! The seed file's cryptography (RFC 6030 §6.1): the pre-shared key,
//! AES-128-CBC both ways, the MAC key's unwrapping and the MAC check, in
//! constant time.

use core::fmt;

use aes::Aes128;
use cbc::cipher::{
    BlockModeDecrypt as _, BlockModeEncrypt as _, KeyIvInit as _,
    block_padding::{NoPadding, Pkcs7},
};
use hmac::{Hmac, Mac as _};
use rand::Rng;
use subtle::{
    Choice, ConditionallySelectable as _, ConstantTimeEq as _, ConstantTimeGreater as _,
    ConstantTimeLess as _,
};
use zeroize::{Zeroize as _, Zeroizing};

use super::{
    AES128_CBC, Bytes, HMAC_SHA1, HMAC_SHA224, HMAC_SHA256, HMAC_SHA384, HMAC_SHA512,
    error::PskcError, reader::b64, stream::Header, xml::Element,
};

/// A pre-shared AES-128 key that protects a seed file (RFC 6030 §6.1).
/// Zeroized on drop; `Debug` shows only its name.
///
/// # Examples
///
/// ```
/// use otp_provision::PreSharedKey;
/// let psk = PreSharedKey::new([0x12; 16]).named("Pre-shared-key");
/// assert_eq!(format!("{psk:?}"), "PreSharedKey { name: Some(\"Pre-shared-key\"), .. }");
/// ```
pub struct PreSharedKey {
    pub(super) key: [u8; 16],
    name: Option<String>,
}

impl PreSharedKey {
    /// A key from its 16 bytes, without a name.
    #[must_use]
    pub const fn new(key: [u8; 16]) -> Self {
        Self { key, name: None }
    }

    /// The same key with a name: it is written as the file's `KeyName`, and
    /// when reading, a file that names a different key is refused as
    /// [`PskcError::WrongKey`] before any decryption.
    ///
    /// # Examples
    ///
    /// ```
    /// let psk = otp_provision::PreSharedKey::new([1; 16]).named("bank-2026");
    /// assert_eq!(psk.name(), Some("bank-2026"));
    /// ```
    #[must_use]
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// The key's name, if any.
    #[must_use]
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

impl Drop for PreSharedKey {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

impl fmt::Debug for PreSharedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreSharedKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

pub(super) enum MacAlg {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

/// The container's MAC key, decrypted without branching on its bytes: when
/// its padding is wrong or its length is not 16..=64, `key` is all zeros
/// and `valid` false, and every MAC check still runs (and fails) the same
/// way. A key of up to 64 bytes is kept zero-padded to 64, which gives the
/// same HMAC for every supported hash (their blocks are 64 or 128 bytes),
/// so the MAC's work does not depend on the key's length either.
pub(super) struct MacKey {
    pub(super) alg: MacAlg,
    pub(super) key: Zeroizing<[u8; 64]>,
    pub(super) valid: Choice,
}

/// What it takes to read the values of an encrypted file.
pub(super) struct Decryption<'a> {
    pub(super) psk: &'a PreSharedKey,
    pub(super) mac: Option<MacKey>,
}

/// AES-128-CBC decryption of `IV || ciphertext`, padding left in place;
/// `None` when the length is not a whole, non-zero number of blocks after
/// the IV (the length is public: no secret is involved in that test).
pub(super) fn cbc_decrypt_raw(key: &[u8; 16], data: &[u8]) -> Option<Bytes> {
    let (iv, ct) = data.split_at_checked(16)?;
    if ct.is_empty() || ct.len() % 16 != 0 {
        return None;
    }
    let dec = cbc::Decryptor::<Aes128>::new_from_slices(key, iv).ok()?;
    let mut buf = Zeroizing::new(ct.to_vec());
    dec.decrypt_padded::<NoPadding>(&mut buf).ok()?;
    Some(buf)
}

/// PKCS#7 padding of a decrypted buffer, checked in constant time over its
/// last block: whether it is valid, and the padding byte.
pub(super) fn pkcs7(buf: &[u8]) -> (Choice, u8) {
    let Some(last) = buf.last_chunk::<16>() else {
        return (Choice::from(0), 0);
    };
    let [.., pad] = *last;
    let mut ok = !pad.ct_eq(&0) & pad.ct_lt(&17);
    for (i, b) in (0u8..).zip(last.iter().rev()) {
        ok &= !i.ct_lt(&pad) | b.ct_eq(&pad);
    }
    (ok, pad)
}

/// Decrypts an authenticated value (its MAC already checked): `None` on
/// a bad length or padding.
pub(super) fn aes_cbc_decrypt(key: &[u8; 16], data: &[u8]) -> Option<Bytes> {
    let mut buf = cbc_decrypt_raw(key, data)?;
    let (ok, pad) = pkcs7(&buf);
    if !bool::from(ok) {
        return None;
    }
    let len = buf.len().checked_sub(usize::from(pad))?;
    buf.truncate(len);
    Some(buf)
}

/// Decrypts the MAC key (see [`MacKey`]): never fails, never branches on
/// the plaintext.
pub(super) fn unwrap_mac_key(psk: &[u8; 16], alg: MacAlg, data: &[u8]) -> MacKey {
    let mut key = Zeroizing::new([0u8; 64]);
    let mut valid = Choice::from(0);
    // 16..=64 key bytes and 1..=16 padding bytes: 2 to 5 blocks (public).
    if let Some(buf) = cbc_decrypt_raw(psk, data).filter(|b| (32..=80).contains(&b.len())) {
        let (pad_ok, pad) = pkcs7(&buf);
        let total = u8::try_from(buf.len()).unwrap_or(u8::MAX);
        let len = total.wrapping_sub(pad);
        valid = pad_ok & len.ct_gt(&15) & len.ct_lt(&65);
        for (i, k) in (0u8..).zip(key.iter_mut()) {
            let b = buf.get(usize::from(i)).copied().unwrap_or(0);
            *k = u8::conditional_select(&0, &b, valid & i.ct_lt(&len));
        }
    }
    MacKey { alg, key, valid }
}

pub(super) fn check_encryption_method(e: &Element) -> Result<(), PskcError> {
    let alg = e
        .child("EncryptionMethod")
        .and_then(|m| m.attr("Algorithm"))
        .unwrap_or_default();
    if alg == AES128_CBC {
        Ok(())
    } else {
        Err(PskcError::UnsupportedEncryption {
            algorithm: alg.to_owned(),
        })
    }
}

/// Whether `tag` is the MAC of `data` under a valid MAC key, in constant
/// time (the same work for an invalid key).
pub(super) fn mac_ok(mac: &MacKey, data: &[u8], tag: &[u8]) -> bool {
    fn compute<M: hmac::Mac + hmac::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
        match <M as hmac::KeyInit>::new_from_slice(key) {
            Ok(mut m) => {
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        }
    }
    let key = mac.key.as_slice();
    let computed = match mac.alg {
        MacAlg::Sha1 => compute::<Hmac<sha1::Sha1>>(key, data),
        MacAlg::Sha224 => compute::<Hmac<sha2::Sha224>>(key, data),
        MacAlg::Sha256 => compute::<Hmac<sha2::Sha256>>(key, data),
        MacAlg::Sha384 => compute::<Hmac<sha2::Sha384>>(key, data),
        MacAlg::Sha512 => compute::<Hmac<sha2::Sha512>>(key, data),
    };
    let equal = if computed.is_empty() {
        Choice::from(0)
    } else {
        computed.as_slice().ct_eq(tag)
    };
    bool::from(equal & mac.valid)
}

pub(super) fn decryption<'a>(
    header: &Header,
    key: Option<&'a PreSharedKey>,
) -> Result<Option<Decryption<'a>>, PskcError> {
    let Some(enc_key) = &header.encryption_key else {
        return Ok(key.map(|psk| Decryption { psk, mac: None }));
    };
    if let Some(derived) = enc_key.child("DerivedKey") {
        let alg = derived
            .child("KeyDerivationMethod")
            .and_then(|m| m.attr("Algorithm"))
            .unwrap_or("key derivation");
        return Err(PskcError::UnsupportedEncryption {
            algorithm: alg.to_owned(),
        });
    }
    if enc_key.child("X509Data").is_some() {
        return Err(PskcError::UnsupportedEncryption {
            algorithm: "X.509 asymmetric key transport".to_owned(),
        });
    }
    let psk = key.ok_or(PskcError::KeyRequired)?;
    if let (Some(file_name), Some(our_name)) = (enc_key.child("KeyName"), psk.name())
        && file_name.trimmed() != our_name
    {
        return Err(PskcError::WrongKey);
    }
    let mac = match &header.mac_method {
        None => None,
        Some(m) => {
            let uri = m.attr("Algorithm").unwrap_or_default();
            let alg = match uri {
                HMAC_SHA1 => MacAlg::Sha1,
                HMAC_SHA224 => MacAlg::Sha224,
                HMAC_SHA256 => MacAlg::Sha256,
                HMAC_SHA384 => MacAlg::Sha384,
                HMAC_SHA512 => MacAlg::Sha512,
                _ => {
                    return Err(PskcError::UnsupportedMac {
                        algorithm: uri.to_owned(),
                    });
                }
            };
            let mac_key = m.child("MACKey").ok_or(PskcError::MissingMac)?;
            check_encryption_method(mac_key)?;
            let cipher =
                mac_key
                    .path(&["CipherData", "CipherValue"])
                    .ok_or(PskcError::Invalid {
                        package: 0,
                        field: "MACKey",
                    })?;
            let data = b64(cipher.trimmed(), 0, "MACKey")?;
            // Whether it decrypts is learnt only at the first MAC check,
            // as the same error as a wrong MAC (no padding oracle).
            Some(unwrap_mac_key(&psk.key, alg, &data))
        }
    };
    Ok(Some(Decryption { psk, mac }))
}

pub(super) fn aes_cbc_encrypt(key: &[u8; 16], rng: &mut impl Rng, plain: &[u8]) -> Vec<u8> {
    let mut iv = [0u8; 16];
    rng.fill_bytes(&mut iv);
    let enc = cbc::Encryptor::<Aes128>::new(&(*key).into(), &iv.into());
    let ct = enc.encrypt_padded_vec::<Pkcs7>(plain);
    let mut out = Vec::with_capacity(16usize.saturating_add(ct.len()));
    out.extend_from_slice(&iv);
    out.extend_from_slice(&ct);
    out
}

pub(super) fn hmac_sha1(key: &[u8], data: &[u8]) -> Vec<u8> {
    let Ok(mut m) = <Hmac<sha1::Sha1> as hmac::KeyInit>::new_from_slice(key) else {
        return Vec::new();
    };
    m.update(data);
    m.finalize().into_bytes().to_vec()
}
