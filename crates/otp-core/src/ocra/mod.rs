//! OCRA, the OATH challenge-response algorithm (RFC 6287): suites, inputs,
//! responses and constant-time verification, without allocating.
//!
//! `OCRA = HOTP-H-t(K, DataInput)`, where DataInput is the suite text, a
//! zero byte, then `C | Q | P | S | T` as the suite names them (§5.1). The
//! DataInput (up to 46 + 1 + 8 + 128 + 64 + 512 + 8 = 767 bytes) is never
//! assembled: its pieces are fed to the keyed hash one after the other.

mod error;
mod input;
mod suite;
mod verify;

use core::fmt;

use subtle::{Choice, ConstantTimeEq};

pub use error::{OcraField, OcraInputError, SuiteError};
pub use input::OcraInput;
pub use suite::{MAX_SUITE_LEN, OcraSuite, QuestionFormat};
pub use verify::{OcraAccepted, OcraParams, OcraVerification, verify_ocra};

use crate::CodeError;
use crate::hmac_pads::{BlockHash, HmacPads, HmacStream, truncate};
use crate::key::{Key, Pads};
use input::{QuestionBlock, encode_question};

/// The longest response value: a full SHA-512 HMAC.
const MAX_RESPONSE: usize = 64;

/// An OCRA response: 4 to 10 decimal digits, or for a suite with no
/// truncation (`HOTP-SHA1-0`) the full HMAC (RFC 6287 §5.2: "t=0 means
/// that no truncation is performed and the full HMAC value is used"),
/// shown as lower-case hex.
///
/// Like [`Code`](crate::Code) it has no `PartialEq`: compare with
/// [`ConstantTimeEq`], or let [`verify_ocra`] do it. `Debug` hides the
/// value; `Display` shows it.
///
/// # Examples
///
/// ```
/// use otp_core::{OcraResponse, OcraSuite};
/// let suite = OcraSuite::parse("OCRA-1:HOTP-SHA1-6:QN08")?;
/// let typed = OcraResponse::parse("237653", &suite)?;
/// assert_eq!(typed.to_string(), "237653");
/// assert_eq!(format!("{typed:?}"), "OcraResponse { digits: 6, .. }");
/// # Ok::<(), Box<dyn core::error::Error>>(())
/// ```
#[derive(Clone, Copy)]
pub struct OcraResponse {
    /// ASCII digits, or the raw HMAC; zero past `len`.
    bytes: [u8; MAX_RESPONSE],
    len: u8,
    /// The digit count; 0 for a full HMAC.
    digits: u8,
}

impl OcraResponse {
    /// Parses what a person typed (or a client sent) for `suite`: exactly
    /// the suite's number of half-width digits; for a suite without
    /// truncation, the HMAC as hex (either case), two characters a byte.
    ///
    /// # Errors
    ///
    /// [`CodeError::Empty`], [`CodeError::FullWidthDigits`],
    /// [`CodeError::Separator`], [`CodeError::NotDigit`] (or
    /// [`CodeError::NotHex`]), [`CodeError::WrongLength`], in that order.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_core::{CodeError, OcraResponse, OcraSuite};
    /// let suite = OcraSuite::parse("OCRA-1:HOTP-SHA256-8:QA08")?;
    /// assert!(OcraResponse::parse("28247970", &suite).is_ok());
    /// assert_eq!(
    ///     OcraResponse::parse("2824797", &suite).unwrap_err(),
    ///     CodeError::WrongLength { expected: 8, found: 7 }
    /// );
    /// # Ok::<(), otp_core::SuiteError>(())
    /// ```
    pub fn parse(text: &str, suite: &OcraSuite) -> Result<Self, CodeError> {
        if text.is_empty() {
            return Err(CodeError::Empty);
        }
        let hex = suite.digits() == 0;
        let (mut full_width, mut separator, mut other) = (false, false, false);
        let mut count = 0usize;
        for c in text.chars() {
            let accepted = if hex {
                c.is_ascii_hexdigit()
            } else {
                c.is_ascii_digit()
            };
            if accepted {
                count = count.saturating_add(1);
            } else if ('\u{FF10}'..='\u{FF19}').contains(&c) {
                full_width = true;
            } else if crate::code::SEPARATORS.contains(&c) {
                separator = true;
            } else {
                other = true;
            }
        }
        let expected = if hex {
            suite.response_len().saturating_mul(2)
        } else {
            suite.digits()
        };
        if full_width {
            return Err(CodeError::FullWidthDigits);
        } else if separator {
            return Err(CodeError::Separator);
        } else if other {
            return Err(if hex {
                CodeError::NotHex
            } else {
                CodeError::NotDigit
            });
        } else if count != usize::from(expected) {
            return Err(CodeError::WrongLength {
                expected,
                found: count,
            });
        }
        let mut bytes = [0u8; MAX_RESPONSE];
        if hex {
            for (i, pair) in text.as_bytes().chunks_exact(2).enumerate() {
                if let (Some(out), [hi, lo]) = (bytes.get_mut(i), pair) {
                    *out = (hex_value(*hi) << 4) | hex_value(*lo);
                }
            }
        } else if let Some(out) = bytes.get_mut(..text.len()) {
            out.copy_from_slice(text.as_bytes());
        }
        Ok(Self {
            bytes,
            len: suite.response_len(),
            digits: suite.digits(),
        })
    }

    /// The number of decimal digits; 0 for a full HMAC.
    ///
    /// # Examples
    ///
    /// ```
    /// let suite = otp_core::OcraSuite::parse("OCRA-1:HOTP-SHA1-6:QN08")?;
    /// assert_eq!(otp_core::OcraResponse::parse("237653", &suite)?.digits(), 6);
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    #[must_use]
    pub const fn digits(&self) -> u8 {
        self.digits
    }

    /// The value: ASCII digits, or the HMAC bytes for a suite without
    /// truncation.
    ///
    /// # Examples
    ///
    /// ```
    /// let suite = otp_core::OcraSuite::parse("OCRA-1:HOTP-SHA1-6:QN08")?;
    /// assert_eq!(otp_core::OcraResponse::parse("237653", &suite)?.as_bytes(), b"237653");
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Whether this response has the shape `suite` produces.
    pub(crate) fn fits(&self, suite: &OcraSuite) -> bool {
        self.digits == suite.digits() && self.len == suite.response_len()
    }
}

impl ConstantTimeEq for OcraResponse {
    fn ct_eq(&self, other: &Self) -> Choice {
        // Eight bytes at a time, the differences OR-ed together and judged
        // once: no branch, and one black-boxed comparison instead of one per
        // byte (which cost more than a compression per candidate).
        let (mine, _) = self.bytes.as_chunks::<8>();
        let (theirs, _) = other.bytes.as_chunks::<8>();
        let mut diff =
            u64::from(self.len ^ other.len) | (u64::from(self.digits ^ other.digits) << 8);
        for (a, b) in mine.iter().zip(theirs) {
            diff |= u64::from_ne_bytes(*a) ^ u64::from_ne_bytes(*b);
        }
        diff.ct_eq(&0)
    }
}

impl fmt::Display for OcraResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.digits == 0 {
            for b in self.as_bytes() {
                write!(f, "{b:02x}")?;
            }
            Ok(())
        } else {
            f.write_str(core::str::from_utf8(self.as_bytes()).unwrap_or(""))
        }
    }
}

impl fmt::Debug for OcraResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OcraResponse")
            .field("digits", &self.digits)
            .finish_non_exhaustive()
    }
}

const fn hex_value(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b.wrapping_sub(b'0'),
        b'a'..=b'f' => b.wrapping_sub(b'a').wrapping_add(10),
        b'A'..=b'F' => b.wrapping_sub(b'A').wrapping_add(10),
        _ => 0,
    }
}

/// The OCRA response (RFC 6287 §5) of `key` for `suite` and `input`.
///
/// The DataInput is fed to HMAC in pieces from the caller's buffers; the
/// only copies (the 128-byte question field and the hash's block buffer)
/// are zeroized when done.
///
/// # Errors
///
/// [`OcraInputError::KeyAlgorithm`] when `key` was made for another hash
/// than the suite's, or what [`OcraSuite::validate`] finds.
///
/// # Examples
///
/// ```
/// use otp_core::{Algorithm, Key, OcraInput, OcraSuite, ocra};
/// // RFC 6287 Appendix C.1, OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1, C = 1.
/// let suite = OcraSuite::parse("OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1")?;
/// let key = Key::new(Algorithm::Sha256, b"12345678901234567890123456789012")?;
/// let pin_sha1 = [
///     0x71, 0x10, 0xed, 0xa4, 0xd0, 0x9e, 0x06, 0x2a, 0xa5, 0xe4,
///     0xa3, 0x90, 0xb0, 0xa5, 0x72, 0xac, 0x0d, 0x2c, 0x02, 0x20,
/// ]; // SHA-1("1234")
/// let input = OcraInput::new("12345678").with_counter(1).with_password_hash(&pin_sha1);
/// assert_eq!(ocra(&key, &suite, &input)?.to_string(), "86775851");
/// # Ok::<(), Box<dyn core::error::Error>>(())
/// ```
pub fn ocra(
    key: &Key,
    suite: &OcraSuite,
    input: &OcraInput<'_>,
) -> Result<OcraResponse, OcraInputError> {
    check_key(key, suite)?;
    suite.validate(input)?;
    let question = encode_question(suite.question_format(), input);
    Ok(match key.pads() {
        Pads::Sha1(p) => respond(
            p,
            suite,
            input,
            &question,
            input.counter(),
            input.time_step(),
        ),
        Pads::Sha256(p) => respond(
            p,
            suite,
            input,
            &question,
            input.counter(),
            input.time_step(),
        ),
        Pads::Sha512(p) => respond(
            p,
            suite,
            input,
            &question,
            input.counter(),
            input.time_step(),
        ),
    })
}

fn check_key(key: &Key, suite: &OcraSuite) -> Result<(), OcraInputError> {
    if key.algorithm() == suite.algorithm() {
        Ok(())
    } else {
        Err(OcraInputError::KeyAlgorithm {
            suite: suite.algorithm(),
            key: key.algorithm(),
        })
    }
}

fn respond<H: BlockHash>(
    pads: &HmacPads<H>,
    suite: &OcraSuite,
    input: &OcraInput<'_>,
    question: &QuestionBlock,
    counter: Option<u64>,
    time_step: Option<u64>,
) -> OcraResponse {
    let head = head(pads, suite);
    let middle = middle(&head, input, question, counter);
    finish(pads, suite, &middle, time_step)
}

/// The keyed hash after `suite || 0x00`.
fn head<H: BlockHash>(pads: &HmacPads<H>, suite: &OcraSuite) -> HmacStream<H> {
    let mut stream = pads.stream();
    stream.update(suite.as_bytes());
    stream.update(&[0]);
    stream
}

/// `head` continued with `C | Q | P | S`: everything before `T`.
fn middle<H: BlockHash>(
    head: &HmacStream<H>,
    input: &OcraInput<'_>,
    question: &QuestionBlock,
    counter: Option<u64>,
) -> HmacStream<H> {
    let mut stream = head.clone();
    if let Some(c) = counter {
        stream.update(&c.to_be_bytes());
    }
    stream.update(&question.0);
    stream.update(input.password_bytes());
    stream.update(input.session_bytes());
    stream
}

/// `middle` continued with `T`, and the response from the HMAC.
fn finish<H: BlockHash>(
    pads: &HmacPads<H>,
    suite: &OcraSuite,
    middle: &HmacStream<H>,
    time_step: Option<u64>,
) -> OcraResponse {
    let mut stream = middle.clone();
    if let Some(t) = time_step {
        stream.update(&t.to_be_bytes());
    }
    let state = pads.finish(stream);
    response_from::<H>(suite, &state)
}

/// The response an HMAC (the outer hash's final `state`) gives in `suite`.
fn response_from<H: BlockHash>(suite: &OcraSuite, state: &H::State) -> OcraResponse {
    let mut bytes = [0u8; MAX_RESPONSE];
    let digits = suite.digits();
    if digits == 0 {
        for (o, b) in bytes.iter_mut().zip(H::digest_bytes(state).as_ref()) {
            *o = *b;
        }
    } else {
        let mut value = reduce(truncate(&H::truncation_input(state)), digits);
        // Right to left; each `% 10` and `/ 10` divides by a constant.
        for o in bytes.iter_mut().take(usize::from(digits)).rev() {
            #[allow(clippy::cast_possible_truncation, reason = "a digit, below 10")]
            let digit = (value % 10) as u8;
            *o = b'0'.wrapping_add(digit);
            value /= 10;
        }
    }
    OcraResponse {
        bytes,
        len: suite.response_len(),
        digits,
    }
}

/// The 31-bit truncation modulo 10^digits. Each arm divides by a constant
/// (a multiplication, not a `div` whose time could depend on the secret
/// dividend); 10 digits keep all 31 bits (2^31 < 10^10).
const fn reduce(truncated: u32, digits: u8) -> u32 {
    match digits {
        4 => truncated % 10_000,
        5 => truncated % 100_000,
        6 => truncated % 1_000_000,
        7 => truncated % 10_000_000,
        8 => truncated % 100_000_000,
        9 => truncated % 1_000_000_000,
        _ => truncated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_parse_strictly() {
        let six = OcraSuite::parse("OCRA-1:HOTP-SHA1-6:QN08").unwrap();
        assert_eq!(OcraResponse::parse("", &six).unwrap_err(), CodeError::Empty);
        assert_eq!(
            OcraResponse::parse("１２３４５６", &six).unwrap_err(),
            CodeError::FullWidthDigits
        );
        assert_eq!(
            OcraResponse::parse("123 456", &six).unwrap_err(),
            CodeError::Separator
        );
        assert_eq!(
            OcraResponse::parse("12345a", &six).unwrap_err(),
            CodeError::NotDigit
        );
        assert_eq!(
            OcraResponse::parse("1234567", &six).unwrap_err(),
            CodeError::WrongLength {
                expected: 6,
                found: 7
            }
        );
        let ten = OcraSuite::parse("OCRA-1:HOTP-SHA1-10:QN08").unwrap();
        assert_eq!(
            OcraResponse::parse("0123456789", &ten).unwrap().to_string(),
            "0123456789"
        );
        let full = OcraSuite::parse("OCRA-1:HOTP-SHA1-0:QN08").unwrap();
        let mac = "0123456789ABCDEFabcdef0123456789abcdef01";
        let r = OcraResponse::parse(mac, &full).unwrap();
        assert_eq!(r.to_string(), mac.to_ascii_lowercase());
        assert_eq!(r.as_bytes().len(), 20);
        assert_eq!(r.digits(), 0);
        assert_eq!(
            OcraResponse::parse(&mac.replace('0', "g"), &full).unwrap_err(),
            CodeError::NotHex
        );
        assert_eq!(
            OcraResponse::parse(&mac[..38], &full).unwrap_err(),
            CodeError::WrongLength {
                expected: 40,
                found: 38
            }
        );
        // The same text for different suites is not the same response.
        let eight = OcraSuite::parse("OCRA-1:HOTP-SHA1-8:QN08").unwrap();
        let a = OcraResponse::parse("12345678", &eight).unwrap();
        let b = OcraResponse::parse("12345678", &eight).unwrap();
        assert!(bool::from(a.ct_eq(&b)));
        assert!(a.fits(&eight) && !a.fits(&six) && !a.fits(&full));
    }

    #[test]
    fn every_byte_the_length_and_the_digits_decide_equality() {
        let full = OcraResponse {
            bytes: core::array::from_fn(|i| u8::try_from(i).unwrap()),
            len: 64,
            digits: 0,
        };
        assert!(bool::from(full.ct_eq(&full)));
        for i in 0..MAX_RESPONSE {
            for bit in 0..8 {
                let mut other = OcraResponse { ..full };
                other.bytes[i] ^= 1 << bit;
                assert!(!bool::from(full.ct_eq(&other)), "byte {i} bit {bit}");
                assert!(!bool::from(other.ct_eq(&full)), "byte {i} bit {bit}");
            }
        }
        for len in [0u8, 1, 63, 65, 128, 255] {
            let other = OcraResponse { len, ..full };
            assert!(!bool::from(full.ct_eq(&other)), "len {len}");
        }
        for digits in [1u8, 6, 10, 128, 255] {
            let other = OcraResponse { digits, ..full };
            assert!(!bool::from(full.ct_eq(&other)), "digits {digits}");
        }
    }
    #[test]
    fn reduction_keeps_the_low_digits() {
        for digits in 4u8..=10 {
            let v = 2_147_483_647u32;
            let want = if digits == 10 {
                v
            } else {
                v % 10u32.pow(u32::from(digits))
            };
            assert_eq!(reduce(v, digits), want);
        }
    }

    #[test]
    fn a_key_for_another_hash_is_refused() {
        let suite = OcraSuite::parse("OCRA-1:HOTP-SHA256-8:QN08").unwrap();
        let key = Key::new(crate::Algorithm::Sha1, &[1; 20]).unwrap();
        assert_eq!(
            ocra(&key, &suite, &OcraInput::new("1234")).unwrap_err(),
            OcraInputError::KeyAlgorithm {
                suite: crate::Algorithm::Sha256,
                key: crate::Algorithm::Sha1
            }
        );
    }
}
