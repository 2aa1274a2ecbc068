//! Secrets and keys. A [`Key`] holds the HMAC inner and outer hash states
//! with the secret already absorbed, so each code costs two compressions.

use core::fmt;

use sha1::Digest as _;
use subtle::{ConditionallySelectable as _, ConstantTimeEq as _};
use zeroize::Zeroize;

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

enum Pads {
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

/// The part of a MAC that dynamic truncation reads: its first 20 bytes as
/// five big-endian words (the offset is at most 15, so bytes 0..=18 are
/// all it can reach), and its last byte, whose low nibble is the offset.
struct TruncationInput {
    words: [u32; 5],
    last: u8,
}

/// RFC 4226 §5.3 dynamic truncation without a secret-dependent memory
/// index or branch: the 8-byte pair of words that holds bytes
/// `offset..offset + 4` is picked with constant-time selects, then shifted
/// by a variable amount (a constant-time instruction).
#[inline]
fn truncate(mac: &TruncationInput) -> u32 {
    let offset = mac.last & 0x0f;
    let w = &mac.words;
    let pairs = [
        (u64::from(w[0]) << 32) | u64::from(w[1]),
        (u64::from(w[1]) << 32) | u64::from(w[2]),
        (u64::from(w[2]) << 32) | u64::from(w[3]),
        (u64::from(w[3]) << 32) | u64::from(w[4]),
    ];
    let word_index = offset >> 2;
    let mut pair = 0u64;
    for (i, p) in (0u8..).zip(pairs) {
        pair.conditional_assign(&p, i.ct_eq(&word_index));
    }
    let shifted = pair << (u32::from(offset & 3) * 8);
    // The top 32 bits of the shifted pair; the cast keeps exactly those.
    #[allow(
        clippy::cast_possible_truncation,
        reason = "takes the high word on purpose"
    )]
    let value = (shifted >> 32) as u32;
    value & 0x7fff_ffff
}

/// The block function of one hash, as used by HMAC over an 8-byte message.
trait BlockHash {
    /// The chaining state.
    type State: Copy + Zeroize;
    /// One input block.
    type Block: Copy + AsRef<[u8]> + AsMut<[u8]>;
    /// The digest bytes.
    type Out: Copy + AsRef<[u8]> + AsMut<[u8]>;
    const IV: Self::State;
    const ZERO_BLOCK: Self::Block;
    const ZERO_OUT: Self::Out;
    fn compress(state: &mut Self::State, block: &Self::Block);
    fn digest_bytes(state: &Self::State) -> Self::Out;
    /// What dynamic truncation reads of the digest in `state`.
    fn truncation_input(state: &Self::State) -> TruncationInput;
    /// HMAC's treatment of a key longer than a block: hash it.
    fn hash(data: &[u8]) -> Self::Out;
}

macro_rules! words_to_be {
    ($state:expr, $out:ty, $word:ty) => {{
        let mut out = <$out>::default();
        for (chunk, w) in out.chunks_exact_mut(size_of::<$word>()).zip($state.iter()) {
            chunk.copy_from_slice(&w.to_be_bytes());
        }
        out
    }};
}

struct Sha1;
impl BlockHash for Sha1 {
    type State = [u32; 5];
    type Block = [u8; 64];
    type Out = [u8; 20];
    const IV: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    const ZERO_BLOCK: [u8; 64] = [0; 64];
    const ZERO_OUT: [u8; 20] = [0; 20];
    fn compress(state: &mut [u32; 5], block: &[u8; 64]) {
        sha1::block_api::compress(state, core::slice::from_ref(block));
    }
    fn digest_bytes(state: &[u32; 5]) -> [u8; 20] {
        words_to_be!(state, [u8; 20], u32)
    }
    #[allow(clippy::cast_possible_truncation, reason = "the low byte on purpose")]
    fn truncation_input(s: &[u32; 5]) -> TruncationInput {
        TruncationInput {
            words: *s,
            last: s[4] as u8,
        }
    }
    fn hash(data: &[u8]) -> [u8; 20] {
        sha1::Sha1::digest(data).into()
    }
}

struct Sha256;
impl BlockHash for Sha256 {
    type State = [u32; 8];
    type Block = [u8; 64];
    type Out = [u8; 32];
    const IV: [u32; 8] = [
        0x6a09_e667,
        0xbb67_ae85,
        0x3c6e_f372,
        0xa54f_f53a,
        0x510e_527f,
        0x9b05_688c,
        0x1f83_d9ab,
        0x5be0_cd19,
    ];
    const ZERO_BLOCK: [u8; 64] = [0; 64];
    const ZERO_OUT: [u8; 32] = [0; 32];
    fn compress(state: &mut [u32; 8], block: &[u8; 64]) {
        sha2::block_api::compress256(state, core::slice::from_ref(block));
    }
    fn digest_bytes(state: &[u32; 8]) -> [u8; 32] {
        words_to_be!(state, [u8; 32], u32)
    }
    #[allow(clippy::cast_possible_truncation, reason = "the low byte on purpose")]
    fn truncation_input(s: &[u32; 8]) -> TruncationInput {
        TruncationInput {
            words: [s[0], s[1], s[2], s[3], s[4]],
            last: s[7] as u8,
        }
    }
    fn hash(data: &[u8]) -> [u8; 32] {
        sha2::Sha256::digest(data).into()
    }
}

struct Sha512;
impl BlockHash for Sha512 {
    type State = [u64; 8];
    type Block = [u8; 128];
    type Out = [u8; 64];
    const IV: [u64; 8] = [
        0x6a09_e667_f3bc_c908,
        0xbb67_ae85_84ca_a73b,
        0x3c6e_f372_fe94_f82b,
        0xa54f_f53a_5f1d_36f1,
        0x510e_527f_ade6_82d1,
        0x9b05_688c_2b3e_6c1f,
        0x1f83_d9ab_fb41_bd6b,
        0x5be0_cd19_137e_2179,
    ];
    const ZERO_BLOCK: [u8; 128] = [0; 128];
    const ZERO_OUT: [u8; 64] = [0; 64];
    fn compress(state: &mut [u64; 8], block: &[u8; 128]) {
        sha2::block_api::compress512(state, core::slice::from_ref(block));
    }
    fn digest_bytes(state: &[u64; 8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        for (chunk, w) in out.chunks_exact_mut(8).zip(state.iter()) {
            chunk.copy_from_slice(&w.to_be_bytes());
        }
        out
    }
    #[allow(
        clippy::cast_possible_truncation,
        reason = "splits u64 words on purpose"
    )]
    fn truncation_input(s: &[u64; 8]) -> TruncationInput {
        TruncationInput {
            words: [
                (s[0] >> 32) as u32,
                s[0] as u32,
                (s[1] >> 32) as u32,
                s[1] as u32,
                (s[2] >> 32) as u32,
            ],
            last: s[7] as u8,
        }
    }
    fn hash(data: &[u8]) -> [u8; 64] {
        sha2::Sha512::digest(data).into()
    }
}

/// HMAC (RFC 2104) with the pads absorbed: `inner = H(IV, K ^ ipad)`,
/// `outer = H(IV, K ^ opad)`.
struct HmacPads<H: BlockHash> {
    inner: H::State,
    outer: H::State,
}

impl<H: BlockHash> HmacPads<H> {
    fn new(secret: &[u8]) -> Self {
        let mut block = H::ZERO_BLOCK;
        let mut hashed = H::ZERO_OUT;
        let key: &[u8] = if secret.len() > block.as_ref().len() {
            hashed = H::hash(secret);
            hashed.as_ref()
        } else {
            secret
        };
        for (b, k) in block.as_mut().iter_mut().zip(key) {
            *b = *k;
        }
        let pad = |byte: u8| {
            let mut padded = block;
            for b in padded.as_mut() {
                *b ^= byte;
            }
            let mut state = H::IV;
            H::compress(&mut state, &padded);
            padded.as_mut().zeroize();
            state
        };
        let pads = Self {
            inner: pad(0x36),
            outer: pad(0x5c),
        };
        block.as_mut().zeroize();
        hashed.as_mut().zeroize();
        pads
    }

    /// HMAC of the 8-byte big-endian counter, as the outer hash's final
    /// state: two compressions.
    #[inline]
    fn mac_state(&self, counter: u64) -> H::State {
        let mut state = self.inner;
        H::compress(&mut state, &message_block::<H>(&counter.to_be_bytes()));
        let inner = H::digest_bytes(&state);
        let mut state = self.outer;
        H::compress(&mut state, &message_block::<H>(inner.as_ref()));
        state
    }

    /// HMAC of the 8-byte big-endian counter, as bytes.
    fn mac(&self, counter: u64) -> H::Out {
        H::digest_bytes(&self.mac_state(counter))
    }

    /// The dynamic-truncation value of the counter's HMAC.
    #[inline]
    fn truncated(&self, counter: u64) -> u32 {
        truncate(&H::truncation_input(&self.mac_state(counter)))
    }

    fn wipe(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

/// The one padded block that follows the key pad: `message || 0x80 || 0…
/// || bit length`, where the length counts the pad block too.
#[inline]
fn message_block<H: BlockHash>(message: &[u8]) -> H::Block {
    let mut block = H::ZERO_BLOCK;
    let bytes = block.as_mut();
    let block_len = bytes.len();
    for (b, m) in bytes.iter_mut().zip(message) {
        *b = *m;
    }
    if let Some(b) = bytes.get_mut(message.len()) {
        *b = 0x80;
    }
    let bits = (block_len.wrapping_add(message.len()) as u64).wrapping_mul(8);
    if let Some(tail) = bytes.get_mut(block_len.saturating_sub(8)..) {
        tail.copy_from_slice(&bits.to_be_bytes());
    }
    block
}

#[cfg(test)]
#[allow(
    clippy::cast_possible_truncation,
    clippy::arithmetic_side_effects,
    reason = "test data built from small loop indices"
)]
mod tests {
    use super::*;
    use crate::Digits;

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
    fn lockstep_lanes_match_the_portable_path() {
        if !lockstep::available() {
            eprintln!("SHA-NI not available: the lockstep path is not in use on this CPU");
            return;
        }
        fn check<const N: usize>(pads: &HmacPads<Sha1>, first: u64) {
            let counters: [u64; N] = core::array::from_fn(|i| first.wrapping_add(i as u64));
            let lanes = lockstep::hmac_sha1(&pads.inner, &pads.outer, &counters).unwrap();
            for (c, words) in counters.iter().zip(lanes) {
                assert_eq!(
                    Sha1::digest_bytes(&words),
                    pads.mac(*c),
                    "N={N} counter {c}"
                );
            }
        }
        for seed in 0u8..50 {
            let secret: [u8; 20] =
                core::array::from_fn(|i| seed.wrapping_mul(97).wrapping_add(i as u8));
            let pads = HmacPads::<Sha1>::new(&secret);
            for first in [0, 1, u64::from(seed) << 40, u64::MAX - 3] {
                check::<1>(&pads, first);
                check::<2>(&pads, first);
                check::<3>(&pads, first);
                check::<4>(&pads, first);
            }
        }
    }

    #[test]
    fn truncation_reads_the_offset_from_the_last_nibble() {
        // RFC 4226 §5.4 example.
        let mac = hex::decode("1f8698690e02ca16618550ef7f19da8e945b555a").unwrap();
        let words: [u32; 5] =
            core::array::from_fn(|i| u32::from_be_bytes(mac[4 * i..4 * i + 4].try_into().unwrap()));
        let input = TruncationInput {
            words,
            last: mac[19],
        };
        assert_eq!(truncate(&input), 0x50ef_7f19);
        assert_eq!(Digits::Six.reduce(truncate(&input)), 872_921);
        // Every offset, against the RFC's byte-indexed definition.
        for offset in 0u8..16 {
            let mut words = words;
            words[4] = (words[4] & !0x0f) | u32::from(offset);
            let mut bytes = [0u8; 20];
            for (c, w) in bytes.chunks_exact_mut(4).zip(words) {
                c.copy_from_slice(&w.to_be_bytes());
            }
            let o = usize::from(offset);
            let want = u32::from_be_bytes(bytes[o..o + 4].try_into().unwrap()) & 0x7fff_ffff;
            assert_eq!(
                truncate(&TruncationInput {
                    words,
                    last: bytes[19]
                }),
                want,
                "offset {offset}"
            );
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
