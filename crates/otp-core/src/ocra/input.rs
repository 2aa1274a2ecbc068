//! The data inputs of one OCRA computation, their validation against the
//! suite, and the challenge's 128-byte encoding (RFC 6287 §5.1).

use core::fmt;

use zeroize::Zeroize;

use super::error::{OcraField, OcraInputError};
use super::suite::{OcraSuite, QuestionFormat};

/// The length of the question field `Q` in the DataInput.
pub(crate) const QUESTION_FIELD: usize = 128;

#[derive(Clone, Copy)]
enum Challenge<'a> {
    One(&'a str),
    Two(&'a str, &'a str),
}

/// What one OCRA computation hashes besides the suite (RFC 6287 §5.1):
/// the challenge question(s), and as the suite requires the counter `C`,
/// the password hash `P`, the session information `S` and the time step
/// `T`. Borrowed, so nothing is copied or allocated; `Debug` shows which
/// inputs are present, never the password hash or session.
///
/// # Examples
///
/// ```
/// use otp_core::OcraInput;
/// let pin_sha1 = [0x71u8; 20]; // SHA-1 of the PIN, computed by the caller
/// let input = OcraInput::new("12345678").with_counter(7).with_password_hash(&pin_sha1);
/// assert_eq!(
///     format!("{input:?}"),
///     "OcraInput { question_len: 8, counter: Some(7), password_hash: true, session: false, time_step: None }"
/// );
/// ```
#[derive(Clone, Copy)]
pub struct OcraInput<'a> {
    challenge: Challenge<'a>,
    counter: Option<u64>,
    password_hash: Option<&'a [u8]>,
    session: Option<&'a [u8]>,
    time_step: Option<u64>,
}

impl<'a> OcraInput<'a> {
    /// One challenge question (one-way challenge-response, plain
    /// signature): digits for `QN`, hex digits for `QH`, ASCII letters and
    /// digits for `QA`, at most the suite's `Q` length.
    ///
    /// # Examples
    ///
    /// ```
    /// let input = otp_core::OcraInput::new("SIG10000");
    /// # let _ = input;
    /// ```
    #[must_use]
    pub const fn new(question: &'a str) -> Self {
        Self {
            challenge: Challenge::One(question),
            counter: None,
            password_hash: None,
            session: None,
            time_step: None,
        }
    }

    /// Two challenge questions (mutual challenge-response, signature with
    /// server authentication, RFC 6287 §7.2 and §7.3.2): the other
    /// party's first, then your own, each at most the suite's `Q` length.
    /// They are hashed as one question, their texts concatenated (so
    /// `QN` questions form one decimal number).
    ///
    /// # Examples
    ///
    /// ```
    /// // RFC 6287 Appendix C.2: the server's response hashes "CLI22220SRV11110".
    /// let server = otp_core::OcraInput::mutual("CLI22220", "SRV11110");
    /// # let _ = server;
    /// ```
    #[must_use]
    pub const fn mutual(first: &'a str, second: &'a str) -> Self {
        Self {
            challenge: Challenge::Two(first, second),
            ..Self::new("")
        }
    }

    /// With the counter `C`.
    ///
    /// # Examples
    ///
    /// ```
    /// let input = otp_core::OcraInput::new("12345678").with_counter(3);
    /// assert_eq!(input.counter(), Some(3));
    /// ```
    #[must_use]
    pub const fn with_counter(self, counter: u64) -> Self {
        Self {
            counter: Some(counter),
            ..self
        }
    }

    /// With the hash of the PIN or password `P`: the digest bytes of the
    /// suite's `P` hash (20, 32 or 64), which the caller computes.
    ///
    /// # Examples
    ///
    /// ```
    /// let hash = [0u8; 20];
    /// let input = otp_core::OcraInput::new("12345678").with_password_hash(&hash);
    /// # let _ = input;
    /// ```
    #[must_use]
    pub const fn with_password_hash(self, hash: &'a [u8]) -> Self {
        Self {
            password_hash: Some(hash),
            ..self
        }
    }

    /// With the session information `S`: exactly the suite's `S` length in
    /// bytes. (RFC 6287 Appendix A pads a shorter value with zero bytes on
    /// the left; a caller that does so pads before calling.)
    ///
    /// # Examples
    ///
    /// ```
    /// let session = [0xabu8; 64];
    /// let input = otp_core::OcraInput::new("12345678").with_session(&session);
    /// # let _ = input;
    /// ```
    #[must_use]
    pub const fn with_session(self, session: &'a [u8]) -> Self {
        Self {
            session: Some(session),
            ..self
        }
    }

    /// With the time step `T`: whole steps since the Unix epoch, as
    /// [`OcraSuite::time_step_at`] computes from a clock.
    ///
    /// # Examples
    ///
    /// ```
    /// let input = otp_core::OcraInput::new("12345678").with_time_step(0x132d0b6);
    /// assert_eq!(input.time_step(), Some(0x132d0b6));
    /// ```
    #[must_use]
    pub const fn with_time_step(self, time_step: u64) -> Self {
        Self {
            time_step: Some(time_step),
            ..self
        }
    }

    /// The counter, if given.
    #[must_use]
    pub const fn counter(&self) -> Option<u64> {
        self.counter
    }

    /// The time step, if given.
    #[must_use]
    pub const fn time_step(&self) -> Option<u64> {
        self.time_step
    }

    pub(crate) const fn password_bytes(&self) -> &'a [u8] {
        match self.password_hash {
            Some(p) => p,
            None => &[],
        }
    }

    pub(crate) const fn session_bytes(&self) -> &'a [u8] {
        match self.session {
            Some(s) => s,
            None => &[],
        }
    }

    /// The question's text in one or two pieces.
    const fn pieces(&self) -> [&'a str; 2] {
        match self.challenge {
            Challenge::One(q) => [q, ""],
            Challenge::Two(a, b) => [a, b],
        }
    }

    fn question_len(&self) -> usize {
        let [a, b] = self.pieces();
        a.len().saturating_add(b.len())
    }
}

impl fmt::Debug for OcraInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OcraInput")
            .field("question_len", &self.question_len())
            .field("counter", &self.counter)
            .field("password_hash", &self.password_hash.is_some())
            .field("session", &self.session.is_some())
            .field("time_step", &self.time_step)
            .finish()
    }
}

impl OcraSuite {
    /// Checks that `input` has exactly the data inputs this suite names,
    /// each well formed: the counter and time step present or absent as
    /// the suite says; each question non-empty, at most the suite's length
    /// and in its character set; the password hash as long as the suite's
    /// hash output; the session exactly the suite's length.
    ///
    /// # Errors
    ///
    /// The first problem found, in the order `C`, `Q`, `P`, `S`, `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_core::{OcraInput, OcraInputError, OcraSuite};
    /// let suite = OcraSuite::parse("OCRA-1:HOTP-SHA1-6:QN08")?;
    /// assert_eq!(suite.validate(&OcraInput::new("12345678")), Ok(()));
    /// assert_eq!(
    ///     suite.validate(&OcraInput::new("123456789")),
    ///     Err(OcraInputError::QuestionTooLong { max: 8, found: 9 })
    /// );
    /// assert_eq!(
    ///     suite.validate(&OcraInput::new("1234abcd")),
    ///     Err(OcraInputError::QuestionNotDecimal)
    /// );
    /// # Ok::<(), otp_core::SuiteError>(())
    /// ```
    pub fn validate(&self, input: &OcraInput<'_>) -> Result<(), OcraInputError> {
        presence(OcraField::Counter, self.counter(), input.counter.is_some())?;
        match input.challenge {
            Challenge::One(q) => self.check_question(q)?,
            Challenge::Two(first, second) => {
                self.check_question(first)?;
                self.check_question(second)?;
            }
        }
        match (self.password_hash(), input.password_hash) {
            (Some(hash), Some(given)) if given.len() != hash.output_len() => {
                return Err(OcraInputError::PasswordHashLength {
                    expected: hash.output_len(),
                    found: given.len(),
                });
            }
            (expected, given) => {
                presence(OcraField::PasswordHash, expected.is_some(), given.is_some())?;
            }
        }
        match (self.session_len(), input.session) {
            (Some(len), Some(given)) if given.len() != len => {
                return Err(OcraInputError::SessionLength {
                    expected: len,
                    found: given.len(),
                });
            }
            (expected, given) => {
                presence(OcraField::Session, expected.is_some(), given.is_some())?;
            }
        }
        presence(
            OcraField::Time,
            self.time_step().is_some(),
            input.time_step.is_some(),
        )
    }

    fn check_question(&self, question: &str) -> Result<(), OcraInputError> {
        let bytes = question.as_bytes();
        if bytes.is_empty() {
            return Err(OcraInputError::EmptyQuestion);
        }
        let (ok, error): (fn(&u8) -> bool, _) = match self.question_format() {
            QuestionFormat::Numeric => (u8::is_ascii_digit, OcraInputError::QuestionNotDecimal),
            QuestionFormat::Hex => (u8::is_ascii_hexdigit, OcraInputError::QuestionNotHex),
            QuestionFormat::Alphanumeric => (
                u8::is_ascii_alphanumeric,
                OcraInputError::QuestionNotAlphanumeric,
            ),
        };
        if !bytes.iter().all(ok) {
            return Err(error);
        }
        if bytes.len() > usize::from(self.question_len()) {
            return Err(OcraInputError::QuestionTooLong {
                max: self.question_len(),
                found: bytes.len(),
            });
        }
        Ok(())
    }
}

const fn presence(field: OcraField, expected: bool, given: bool) -> Result<(), OcraInputError> {
    match (expected, given) {
        (true, false) => Err(OcraInputError::Missing(field)),
        (false, true) => Err(OcraInputError::Unexpected(field)),
        _ => Ok(()),
    }
}

/// The 128-byte question field `Q` of a validated input, zero-padded on the
/// right (RFC 6287 §5.1, Appendix A and B):
/// - `QA`: the ASCII bytes;
/// - `QH`: the hex digits as nibbles, left-aligned (an odd count leaves the
///   last byte's low nibble zero);
/// - `QN`: the decimal number written in hexadecimal without leading zeros,
///   then as `QH` (so `11111111` = 0xA98AC7 gives `a9 8a c7 00 ..`).
pub(crate) struct QuestionBlock(pub(crate) [u8; QUESTION_FIELD]);

impl Drop for QuestionBlock {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// Limbs of the big number a `QN` question can reach: 2 x 64 decimal
/// digits < 10^128 < 2^426 < 2^448.
const LIMBS: usize = 14;

pub(crate) fn encode_question(format: QuestionFormat, input: &OcraInput<'_>) -> QuestionBlock {
    let mut out = [0u8; QUESTION_FIELD];
    let text = input.pieces();
    let bytes = text.iter().flat_map(|piece| piece.bytes());
    match format {
        QuestionFormat::Alphanumeric => {
            for (o, b) in out.iter_mut().zip(bytes) {
                *o = b;
            }
        }
        QuestionFormat::Hex => {
            for (i, b) in bytes.enumerate() {
                put_nibble(&mut out, i, hex_value(b));
            }
        }
        QuestionFormat::Numeric => {
            // Little-endian 32-bit limbs: value = value * 10 + digit, over
            // the limbs the value has reached so far (the question is
            // public: its length may decide the work).
            let mut limbs = [0u32; LIMBS];
            let mut used = 1usize;
            for b in bytes {
                let mut carry = u64::from(b.wrapping_sub(b'0'));
                for limb in limbs.iter_mut().take(used) {
                    let t = u64::from(*limb).wrapping_mul(10).wrapping_add(carry);
                    #[allow(
                        clippy::cast_possible_truncation,
                        reason = "the low 32 bits on purpose"
                    )]
                    let low = t as u32;
                    *limb = low;
                    carry = t >> 32;
                }
                if carry != 0 {
                    // Below 10: one more limb holds it (LIMBS bounds the
                    // value of 128 digits, so the limb is there).
                    if let Some(next) = limbs.get_mut(used) {
                        #[allow(clippy::cast_possible_truncation, reason = "below 10")]
                        let c = carry as u32;
                        *next = c;
                        used = used.saturating_add(1);
                    }
                }
            }
            // The nibbles from the most significant non-zero one down.
            let top = limbs
                .iter()
                .take(used)
                .rposition(|&limb| limb != 0)
                .and_then(|i| limbs.get(i).map(|&limb| (i, limb)));
            if let Some((i, limb)) = top {
                let in_top = (32usize.saturating_sub(limb.leading_zeros() as usize)).div_ceil(4);
                let count = i.saturating_mul(8).saturating_add(in_top);
                for k in 0..count {
                    let n = count.saturating_sub(1).saturating_sub(k);
                    let limb = limbs.get(n / 8).copied().unwrap_or(0);
                    #[allow(clippy::cast_possible_truncation, reason = "masked to 4 bits")]
                    let nibble = ((limb >> ((n % 8).wrapping_mul(4))) & 0xf) as u8;
                    put_nibble(&mut out, k, nibble);
                }
            }
            limbs.zeroize();
        }
    }
    QuestionBlock(out)
}

fn put_nibble(out: &mut [u8; QUESTION_FIELD], index: usize, nibble: u8) {
    if let Some(byte) = out.get_mut(index / 2) {
        if index.is_multiple_of(2) {
            *byte |= nibble << 4;
        } else {
            *byte |= nibble & 0x0f;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn suite(s: &str) -> OcraSuite {
        OcraSuite::parse(s).unwrap()
    }

    #[test]
    fn each_input_mistake_has_its_own_error() {
        use OcraInputError as E;
        let p20 = [7u8; 20];
        let p32 = [7u8; 32];
        let s64 = [1u8; 64];
        let s63 = [1u8; 63];
        let full = suite("OCRA-1:HOTP-SHA1-6:C-QN08-PSHA1-S064-T1M");
        let ok = OcraInput::new("1234")
            .with_counter(1)
            .with_password_hash(&p20)
            .with_session(&s64)
            .with_time_step(9);
        assert_eq!(full.validate(&ok), Ok(()));
        let cases: &[(OcraInput<'_>, OcraInputError)] = &[
            (
                OcraInput {
                    counter: None,
                    ..ok
                },
                E::Missing(OcraField::Counter),
            ),
            (
                OcraInput {
                    password_hash: None,
                    ..ok
                },
                E::Missing(OcraField::PasswordHash),
            ),
            (
                OcraInput {
                    session: None,
                    ..ok
                },
                E::Missing(OcraField::Session),
            ),
            (
                OcraInput {
                    time_step: None,
                    ..ok
                },
                E::Missing(OcraField::Time),
            ),
            (
                ok.with_password_hash(&p32),
                E::PasswordHashLength {
                    expected: 20,
                    found: 32,
                },
            ),
            (
                ok.with_session(&s63),
                E::SessionLength {
                    expected: 64,
                    found: 63,
                },
            ),
            (
                OcraInput {
                    challenge: Challenge::One(""),
                    ..ok
                },
                E::EmptyQuestion,
            ),
            (
                OcraInput {
                    challenge: Challenge::One("123456789"),
                    ..ok
                },
                E::QuestionTooLong { max: 8, found: 9 },
            ),
            (
                OcraInput {
                    challenge: Challenge::One("12a4"),
                    ..ok
                },
                E::QuestionNotDecimal,
            ),
            (
                OcraInput {
                    challenge: Challenge::One("１２３４"),
                    ..ok
                },
                E::QuestionNotDecimal,
            ),
            (
                OcraInput {
                    challenge: Challenge::One("-123"),
                    ..ok
                },
                E::QuestionNotDecimal,
            ),
            (
                OcraInput {
                    challenge: Challenge::Two("1234", ""),
                    ..ok
                },
                E::EmptyQuestion,
            ),
            (
                OcraInput {
                    challenge: Challenge::Two("1234", "123456789"),
                    ..ok
                },
                E::QuestionTooLong { max: 8, found: 9 },
            ),
        ];
        for (input, want) in cases {
            assert_eq!(full.validate(input), Err(*want), "{input:?}");
            assert!(!want.to_string().is_empty());
        }
        // Inputs a suite does not name.
        let bare = suite("OCRA-1:HOTP-SHA1-6:QN08");
        let q = OcraInput::new("1234");
        assert_eq!(bare.validate(&q), Ok(()));
        for (input, field) in [
            (q.with_counter(0), OcraField::Counter),
            (q.with_password_hash(&p20), OcraField::PasswordHash),
            (q.with_session(&s64), OcraField::Session),
            (q.with_time_step(0), OcraField::Time),
        ] {
            assert_eq!(bare.validate(&input), Err(E::Unexpected(field)));
        }
        // Character sets.
        let hex = suite("OCRA-1:HOTP-SHA1-6:QH08");
        assert_eq!(hex.validate(&OcraInput::new("09afAF")), Ok(()));
        assert_eq!(
            hex.validate(&OcraInput::new("09ag")),
            Err(E::QuestionNotHex)
        );
        let alnum = suite("OCRA-1:HOTP-SHA1-6:QA08");
        assert_eq!(alnum.validate(&OcraInput::new("aZ09")), Ok(()));
        assert_eq!(
            alnum.validate(&OcraInput::new("a b")),
            Err(E::QuestionNotAlphanumeric)
        );
        assert_eq!(
            alnum.validate(&OcraInput::new("é")),
            Err(E::QuestionNotAlphanumeric)
        );
        // Mutual mode: each question up to the suite's length.
        assert_eq!(
            alnum.validate(&OcraInput::mutual("CLI22220", "SRV11110")),
            Ok(())
        );
        assert_eq!(
            alnum.validate(&OcraInput::new("CLI22220SRV11110")),
            Err(E::QuestionTooLong { max: 8, found: 16 })
        );
    }

    fn encoded(format: QuestionFormat, input: &OcraInput<'_>) -> [u8; QUESTION_FIELD] {
        encode_question(format, input).0
    }

    #[test]
    fn questions_are_encoded_as_the_rfc_reference_code_does() {
        // Numeric: the number in hex, nibbles left-aligned (liboath's and
        // the Appendix B values: 22222222 = 0x153158E -> 15 31 58 e0).
        for (q, want) in [
            ("00000000", &[][..]),
            ("11111111", &[0xa9, 0x8a, 0xc7][..]),
            ("22222222", &[0x15, 0x31, 0x58, 0xe0][..]),
            ("12345678", &[0xbc, 0x61, 0x4e][..]),
            ("00000001", &[0x10][..]),
            ("16", &[0x10][..]),
            ("255", &[0xff][..]),
        ] {
            let got = encoded(QuestionFormat::Numeric, &OcraInput::new(q));
            assert_eq!(&got[..want.len()], want, "{q}");
            assert!(got[want.len()..].iter().all(|&b| b == 0), "{q}");
        }
        // 128 nines: 10^128 - 1 needs 426 bits, 107 nibbles.
        let nines = "9".repeat(64);
        let got = encoded(QuestionFormat::Numeric, &OcraInput::mutual(&nines, &nines));
        // 0x24ee91f2603a6337...ffff (107 nibbles, by Python's hex()).
        assert_eq!(&got[..4], &[0x24, 0xee, 0x91, 0xf2]);
        assert_eq!(
            got[53], 0xf0,
            "107 nibbles: the last byte's low nibble is padding"
        );
        assert!(got[54..].iter().all(|&b| b == 0));
        // Hex: nibbles left-aligned; an odd count leaves a low nibble zero.
        let got = encoded(QuestionFormat::Hex, &OcraInput::new("aBc"));
        assert_eq!(&got[..3], &[0xab, 0xc0, 0]);
        let got = encoded(QuestionFormat::Hex, &OcraInput::mutual("a", "b"));
        assert_eq!(&got[..2], &[0xab, 0]);
        // Alphanumeric: the bytes.
        let got = encoded(
            QuestionFormat::Alphanumeric,
            &OcraInput::mutual("CLI", "SRV"),
        );
        assert_eq!(&got[..7], b"CLISRV\0");
    }
}
