//! The OCRASuite string (RFC 6287 §6), parsed without allocating: the text
//! is kept in a fixed array (it is hashed into every response) beside what
//! it means.

use core::fmt;
use core::str::FromStr;

use super::error::{OcraField, SuiteError};
use crate::Algorithm;

/// The longest well-formed suite, in bytes:
/// `OCRA-1:HOTP-SHA512-10:C-QN64-PSHA512-S512-T48H`.
pub const MAX_SUITE_LEN: usize = 46;

/// The character set of an OCRA challenge question (`QA`, `QN`, `QH`).
///
/// # Examples
///
/// ```
/// use otp_core::{OcraSuite, QuestionFormat};
/// let suite: OcraSuite = "OCRA-1:HOTP-SHA256-8:QA08".parse()?;
/// assert_eq!(suite.question_format(), QuestionFormat::Alphanumeric);
/// # Ok::<(), otp_core::SuiteError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuestionFormat {
    /// `QA`: ASCII letters and digits, hashed as their bytes.
    Alphanumeric,
    /// `QN`: decimal digits, hashed as the number in hexadecimal, its
    /// nibbles left-aligned (RFC 6287 Appendix B).
    Numeric,
    /// `QH`: hexadecimal digits, hashed as nibbles left-aligned.
    Hex,
}

/// A parsed OCRA suite (RFC 6287 §6), such as `OCRA-1:HOTP-SHA1-6:QN08` or
/// `OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1`: the hash and response length, and
/// which data inputs (`C`, `Q`, `P`, `S`, `T`) enter the computation.
///
/// Accepted grammar: `OCRA-1:HOTP-{SHA1|SHA256|SHA512}-{0|4..10}:` then,
/// separated by `-` and in this order, an optional `C`, a mandatory
/// `Q{A|N|H}{04..64}` (one or two digits, as the RFC's own `QH8`), an
/// optional `P{SHA1|SHA256|SHA512}` (`P` alone: SHA1), an optional
/// `S{001..512}` (`S` alone: 064), an optional `T{1..59}S`, `T{1..59}M` or
/// `T{1..48}H` (`T` alone: 1M). Upper case only: the text is hashed as
/// written.
///
/// # Examples
///
/// ```
/// use otp_core::{Algorithm, OcraSuite};
/// let suite: OcraSuite = "OCRA-1:HOTP-SHA512-8:QN08-T1M".parse()?;
/// assert_eq!(suite.algorithm(), Algorithm::Sha512);
/// assert_eq!(suite.digits(), 8);
/// assert_eq!(suite.time_step(), Some(60));
/// assert!(!suite.counter());
/// assert_eq!(suite.to_string(), "OCRA-1:HOTP-SHA512-8:QN08-T1M");
/// # Ok::<(), otp_core::SuiteError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct OcraSuite {
    text: [u8; MAX_SUITE_LEN],
    len: u8,
    algorithm: Algorithm,
    digits: u8,
    counter: bool,
    question_format: QuestionFormat,
    question_len: u8,
    password: Option<Algorithm>,
    session: Option<u16>,
    time_step: Option<u32>,
}

impl OcraSuite {
    /// Parses a suite string.
    ///
    /// # Errors
    ///
    /// A [`SuiteError`] naming the malformed part.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_core::{OcraField, OcraSuite, SuiteError};
    /// assert!(OcraSuite::parse("OCRA-1:HOTP-SHA1-6:QN08").is_ok());
    /// assert_eq!(
    ///     OcraSuite::parse("OCRA-1:HOTP-SHA1-6:QN08-C"),
    ///     Err(SuiteError::OutOfOrder)
    /// );
    /// assert_eq!(
    ///     OcraSuite::parse("OCRA-1:HOTP-SHA1-6:C-C-QN08"),
    ///     Err(SuiteError::Duplicate(OcraField::Counter))
    /// );
    /// ```
    pub fn parse(suite: &str) -> Result<Self, SuiteError> {
        let bytes = suite.as_bytes();
        if bytes.is_empty() {
            return Err(SuiteError::Empty);
        }
        let mut text = [0u8; MAX_SUITE_LEN];
        text.get_mut(..bytes.len())
            .ok_or(SuiteError::TooLong {
                max: MAX_SUITE_LEN,
                found: bytes.len(),
            })?
            .copy_from_slice(bytes);
        let len = u8::try_from(bytes.len()).map_err(|_| SuiteError::TooLong {
            max: MAX_SUITE_LEN,
            found: bytes.len(),
        })?;

        let mut parts = bytes.split(|&b| b == b':');
        parse_version(parts.next().unwrap_or(&[]))?;
        let (algorithm, digits) =
            parse_crypto(parts.next().ok_or(SuiteError::MissingCryptoFunction)?)?;
        let data = parts.next().ok_or(SuiteError::MissingDataInput)?;
        if parts.next().is_some() {
            return Err(SuiteError::TrailingGarbage);
        }

        let mut suite = Self {
            text,
            len,
            algorithm,
            digits,
            counter: false,
            question_format: QuestionFormat::Numeric,
            question_len: 0,
            password: None,
            session: None,
            time_step: None,
        };
        let mut seen = [false; 5];
        let mut last_rank = None;
        for item in data.split(|&b| b == b'-') {
            let (&letter, rest) = item.split_first().ok_or(SuiteError::EmptyDataInput)?;
            let field = match letter {
                b'C' => {
                    if !rest.is_empty() {
                        return Err(SuiteError::BadCounter);
                    }
                    suite.counter = true;
                    OcraField::Counter
                }
                b'Q' => {
                    let (format, max) = parse_question(rest)?;
                    suite.question_format = format;
                    suite.question_len = max;
                    OcraField::Question
                }
                b'P' => {
                    suite.password = Some(parse_password(rest)?);
                    OcraField::PasswordHash
                }
                b'S' => {
                    suite.session = Some(parse_session(rest)?);
                    OcraField::Session
                }
                b'T' => {
                    suite.time_step = Some(parse_time_step(rest)?);
                    OcraField::Time
                }
                _ => return Err(SuiteError::UnknownDataInput),
            };
            let rank = rank(field);
            let slot = seen
                .get_mut(usize::from(rank))
                .ok_or(SuiteError::UnknownDataInput)?;
            if *slot {
                return Err(SuiteError::Duplicate(field));
            }
            *slot = true;
            if last_rank.is_some_and(|last| rank < last) {
                return Err(SuiteError::OutOfOrder);
            }
            last_rank = Some(rank);
        }
        if suite.question_len == 0 {
            return Err(SuiteError::MissingQuestion);
        }
        Ok(suite)
    }

    /// The suite text, as given (and as hashed into every response).
    ///
    /// # Examples
    ///
    /// ```
    /// let suite = otp_core::OcraSuite::parse("OCRA-1:HOTP-SHA1-6:QN08")?;
    /// assert_eq!(suite.as_str(), "OCRA-1:HOTP-SHA1-6:QN08");
    /// # Ok::<(), otp_core::SuiteError>(())
    /// ```
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Parsing accepted only ASCII, so the bytes are valid UTF-8.
        core::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// The suite text as bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.text.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// The HMAC hash of the crypto function (`HOTP-SHA256-8`: SHA-256).
    ///
    /// # Examples
    ///
    /// ```
    /// let suite = otp_core::OcraSuite::parse("OCRA-1:HOTP-SHA256-8:QA08")?;
    /// assert_eq!(suite.algorithm(), otp_core::Algorithm::Sha256);
    /// # Ok::<(), otp_core::SuiteError>(())
    /// ```
    #[must_use]
    pub const fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The response's decimal digits, 4 to 10; 0 when the suite asks for
    /// no truncation (the response is then the full HMAC, shown in hex).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(otp_core::OcraSuite::parse("OCRA-1:HOTP-SHA1-0:QH40")?.digits(), 0);
    /// # Ok::<(), otp_core::SuiteError>(())
    /// ```
    #[must_use]
    pub const fn digits(&self) -> u8 {
        self.digits
    }

    /// The length of a response's value: the digits, or for no truncation
    /// the HMAC's length in bytes (20, 32 or 64).
    pub(crate) const fn response_len(&self) -> u8 {
        if self.digits == 0 {
            // 20, 32 or 64: fits.
            #[allow(clippy::cast_possible_truncation, reason = "at most 64")]
            let len = self.algorithm.output_len() as u8;
            len
        } else {
            self.digits
        }
    }

    /// Whether the counter `C` enters the computation.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(otp_core::OcraSuite::parse("OCRA-1:HOTP-SHA512-8:C-QN08")?.counter());
    /// # Ok::<(), otp_core::SuiteError>(())
    /// ```
    #[must_use]
    pub const fn counter(&self) -> bool {
        self.counter
    }

    /// The challenge question's character set.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_core::{OcraSuite, QuestionFormat};
    /// assert_eq!(OcraSuite::parse("OCRA-1:HOTP-SHA1-6:QH40")?.question_format(), QuestionFormat::Hex);
    /// # Ok::<(), otp_core::SuiteError>(())
    /// ```
    #[must_use]
    pub const fn question_format(&self) -> QuestionFormat {
        self.question_format
    }

    /// The longest challenge question, in characters (4 to 64). In mutual
    /// mode each of the two questions may be this long.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(otp_core::OcraSuite::parse("OCRA-1:HOTP-SHA1-6:QN08")?.question_len(), 8);
    /// # Ok::<(), otp_core::SuiteError>(())
    /// ```
    #[must_use]
    pub const fn question_len(&self) -> u8 {
        self.question_len
    }

    /// The hash of the PIN or password `P`, if the suite names one.
    ///
    /// # Examples
    ///
    /// ```
    /// let suite = otp_core::OcraSuite::parse("OCRA-1:HOTP-SHA256-8:QN08-PSHA1")?;
    /// assert_eq!(suite.password_hash(), Some(otp_core::Algorithm::Sha1));
    /// # Ok::<(), otp_core::SuiteError>(())
    /// ```
    #[must_use]
    pub const fn password_hash(&self) -> Option<Algorithm> {
        self.password
    }

    /// The length of the session information `S` in bytes, if the suite
    /// names it.
    ///
    /// # Examples
    ///
    /// ```
    /// let suite = otp_core::OcraSuite::parse("OCRA-1:HOTP-SHA1-6:QN08-S128")?;
    /// assert_eq!(suite.session_len(), Some(128));
    /// # Ok::<(), otp_core::SuiteError>(())
    /// ```
    #[must_use]
    pub const fn session_len(&self) -> Option<usize> {
        match self.session {
            Some(len) => Some(len as usize),
            None => None,
        }
    }

    /// The time step of `T` in seconds, if the suite names it.
    ///
    /// # Examples
    ///
    /// ```
    /// let suite = otp_core::OcraSuite::parse("OCRA-1:HOTP-SHA1-6:QN08-T30S")?;
    /// assert_eq!(suite.time_step(), Some(30));
    /// # Ok::<(), otp_core::SuiteError>(())
    /// ```
    #[must_use]
    pub const fn time_step(&self) -> Option<u64> {
        match self.time_step {
            Some(seconds) => Some(seconds as u64),
            None => None,
        }
    }

    /// `T` at Unix time `now`: the number of whole time steps since the
    /// epoch (RFC 6287 §5.1), or `None` if the suite has no `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// let suite = otp_core::OcraSuite::parse("OCRA-1:HOTP-SHA512-8:QN08-T1M")?;
    /// // RFC 6287 Appendix B: "Mar 25 2008, 12:06:30 GMT" is minute 0x132d0b6.
    /// assert_eq!(suite.time_step_at(1_206_446_790), Some(0x132d0b6));
    /// # Ok::<(), otp_core::SuiteError>(())
    /// ```
    #[must_use]
    pub fn time_step_at(&self, now: u64) -> Option<u64> {
        let seconds = self.time_step()?;
        now.checked_div(seconds)
    }
}

impl FromStr for OcraSuite {
    type Err = SuiteError;

    fn from_str(s: &str) -> Result<Self, SuiteError> {
        Self::parse(s)
    }
}

impl fmt::Display for OcraSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for OcraSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OcraSuite").field(&self.as_str()).finish()
    }
}

const fn rank(field: OcraField) -> u8 {
    match field {
        OcraField::Counter => 0,
        OcraField::Question => 1,
        OcraField::PasswordHash => 2,
        OcraField::Session => 3,
        OcraField::Time => 4,
    }
}

fn parse_version(part: &[u8]) -> Result<(), SuiteError> {
    let version = part
        .strip_prefix(b"OCRA-")
        .ok_or(SuiteError::BadAlgorithm)?;
    if version == b"1" {
        Ok(())
    } else if !version.is_empty() && version.iter().all(u8::is_ascii_digit) {
        Err(SuiteError::UnsupportedVersion)
    } else {
        Err(SuiteError::BadAlgorithm)
    }
}

fn hash_name(name: &[u8]) -> Option<Algorithm> {
    match name {
        b"SHA1" => Some(Algorithm::Sha1),
        b"SHA256" => Some(Algorithm::Sha256),
        b"SHA512" => Some(Algorithm::Sha512),
        _ => None,
    }
}

fn parse_crypto(part: &[u8]) -> Result<(Algorithm, u8), SuiteError> {
    let rest = part
        .strip_prefix(b"HOTP-")
        .ok_or(SuiteError::UnknownCryptoFunction)?;
    let mut pieces = rest.split(|&b| b == b'-');
    let hash = pieces.next().unwrap_or(&[]);
    let digits = pieces.next();
    if pieces.next().is_some() {
        return Err(SuiteError::UnknownCryptoFunction);
    }
    let algorithm = hash_name(hash).ok_or(SuiteError::UnknownHash)?;
    let digits = match digits {
        Some(b"0") => 0,
        Some(&[d]) if (b'4'..=b'9').contains(&d) => d.wrapping_sub(b'0'),
        Some(b"10") => 10,
        _ => return Err(SuiteError::BadDigits),
    };
    Ok((algorithm, digits))
}

/// One or two ASCII digits (no sign, no space) as a number.
fn small_number(digits: &[u8]) -> Option<u16> {
    if digits.is_empty() || digits.len() > 3 {
        return None;
    }
    let mut value = 0u16;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value
            .wrapping_mul(10)
            .wrapping_add(u16::from(d.wrapping_sub(b'0')));
    }
    Some(value)
}

fn parse_question(rest: &[u8]) -> Result<(QuestionFormat, u8), SuiteError> {
    let (&format, length) = rest.split_first().ok_or(SuiteError::BadQuestionFormat)?;
    let format = match format {
        b'A' => QuestionFormat::Alphanumeric,
        b'N' => QuestionFormat::Numeric,
        b'H' => QuestionFormat::Hex,
        _ => return Err(SuiteError::BadQuestionFormat),
    };
    if length.len() > 2 {
        return Err(SuiteError::BadQuestionLength);
    }
    match small_number(length).and_then(|n| u8::try_from(n).ok()) {
        Some(n @ 4..=64) => Ok((format, n)),
        _ => Err(SuiteError::BadQuestionLength),
    }
}

fn parse_password(rest: &[u8]) -> Result<Algorithm, SuiteError> {
    if rest.is_empty() {
        return Ok(Algorithm::Sha1);
    }
    hash_name(rest).ok_or(SuiteError::BadPasswordHash)
}

fn parse_session(rest: &[u8]) -> Result<u16, SuiteError> {
    if rest.is_empty() {
        return Ok(64);
    }
    if rest.len() != 3 {
        return Err(SuiteError::BadSessionLength);
    }
    match small_number(rest) {
        Some(n @ 1..=512) => Ok(n),
        _ => Err(SuiteError::BadSessionLength),
    }
}

fn parse_time_step(rest: &[u8]) -> Result<u32, SuiteError> {
    let Some((&unit, count)) = rest.split_last() else {
        return Ok(60);
    };
    // One or two digits, without a leading zero.
    if count.len() > 2 || count.first() == Some(&b'0') {
        return Err(SuiteError::BadTimeStep);
    }
    let n = u32::from(small_number(count).ok_or(SuiteError::BadTimeStep)?);
    match (unit, n) {
        (b'S', 1..=59) => Ok(n),
        (b'M', 1..=59) => Ok(n.wrapping_mul(60)),
        (b'H', 1..=48) => Ok(n.wrapping_mul(3600)),
        _ => Err(SuiteError::BadTimeStep),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> SuiteError {
        OcraSuite::parse(s).expect_err(s)
    }

    #[test]
    fn the_longest_suite_is_max_suite_len() {
        let longest = "OCRA-1:HOTP-SHA512-10:C-QN64-PSHA512-S512-T48H";
        assert_eq!(longest.len(), MAX_SUITE_LEN);
        let suite = OcraSuite::parse(longest).unwrap();
        assert_eq!(suite.as_str(), longest);
        assert_eq!(
            (suite.digits(), suite.counter(), suite.question_len()),
            (10, true, 64)
        );
        assert_eq!(suite.password_hash(), Some(Algorithm::Sha512));
        assert_eq!(suite.session_len(), Some(512));
        assert_eq!(suite.time_step(), Some(48 * 3600));
        assert_eq!(
            err(&format!("{longest}X")),
            SuiteError::TooLong {
                max: MAX_SUITE_LEN,
                found: MAX_SUITE_LEN + 1
            }
        );
    }

    #[test]
    fn every_rfc_example_parses() {
        // §6.4 and Appendix C.
        for s in [
            "OCRA-1:HOTP-SHA512-8:C-QN08-PSHA1",
            "OCRA-1:HOTP-SHA256-6:QA10-T1M",
            "OCRA-1:HOTP-SHA1-4:QH8-S512",
            "OCRA-1:HOTP-SHA1-6:QN08",
            "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1",
            "OCRA-1:HOTP-SHA256-8:QN08-PSHA1",
            "OCRA-1:HOTP-SHA512-8:C-QN08",
            "OCRA-1:HOTP-SHA512-8:QN08-T1M",
            "OCRA-1:HOTP-SHA256-8:QA08",
            "OCRA-1:HOTP-SHA512-8:QA08",
            "OCRA-1:HOTP-SHA512-8:QA08-PSHA1",
            "OCRA-1:HOTP-SHA512-8:QA10-T1M",
        ] {
            let suite = OcraSuite::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(suite.to_string(), s);
        }
        let s = OcraSuite::parse("OCRA-1:HOTP-SHA1-4:QH8-S512").unwrap();
        assert_eq!(
            (s.question_format(), s.question_len(), s.session_len()),
            (QuestionFormat::Hex, 8, Some(512))
        );
    }

    #[test]
    fn defaults_of_bare_inputs_and_each_unit() {
        let s = OcraSuite::parse("OCRA-1:HOTP-SHA1-0:C-QA64-P-S-T").unwrap();
        assert_eq!(s.digits(), 0);
        assert_eq!(s.password_hash(), Some(Algorithm::Sha1));
        assert_eq!(s.session_len(), Some(64));
        assert_eq!(s.time_step(), Some(60));
        for (t, seconds) in [
            ("T1S", 1),
            ("T59S", 59),
            ("T30S", 30),
            ("T1M", 60),
            ("T59M", 3540),
            ("T1H", 3600),
            ("T48H", 172_800),
        ] {
            let s = OcraSuite::parse(&format!("OCRA-1:HOTP-SHA1-6:QN08-{t}")).unwrap();
            assert_eq!(s.time_step(), Some(seconds), "{t}");
        }
        for d in [0u8, 4, 5, 6, 7, 8, 9, 10] {
            let s = OcraSuite::parse(&format!("OCRA-1:HOTP-SHA256-{d}:QN08")).unwrap();
            assert_eq!(s.digits(), d);
        }
        assert_eq!(
            OcraSuite::parse("OCRA-1:HOTP-SHA1-6:QN08-S001")
                .unwrap()
                .session_len(),
            Some(1)
        );
    }

    #[test]
    fn each_malformed_part_has_its_own_error() {
        use SuiteError as E;
        let cases: &[(&str, SuiteError)] = &[
            ("", E::Empty),
            ("OCRA1:HOTP-SHA1-6:QN08", E::BadAlgorithm),
            ("ocra-1:HOTP-SHA1-6:QN08", E::BadAlgorithm),
            ("OCRA-:HOTP-SHA1-6:QN08", E::BadAlgorithm),
            ("OCRA-x:HOTP-SHA1-6:QN08", E::BadAlgorithm),
            ("OCRA-2:HOTP-SHA1-6:QN08", E::UnsupportedVersion),
            ("OCRA-10:HOTP-SHA1-6:QN08", E::UnsupportedVersion),
            ("OCRA-1", E::MissingCryptoFunction),
            ("OCRA-1:TOTP-SHA1-6:QN08", E::UnknownCryptoFunction),
            ("OCRA-1:HOTP-SHA1-6-7:QN08", E::UnknownCryptoFunction),
            ("OCRA-1:HOTP-MD5-6:QN08", E::UnknownHash),
            ("OCRA-1:HOTP-sha1-6:QN08", E::UnknownHash),
            ("OCRA-1:HOTP-SHA1:QN08", E::BadDigits),
            ("OCRA-1:HOTP-SHA1-3:QN08", E::BadDigits),
            ("OCRA-1:HOTP-SHA1-11:QN08", E::BadDigits),
            ("OCRA-1:HOTP-SHA1-06:QN08", E::BadDigits),
            ("OCRA-1:HOTP-SHA1-:QN08", E::BadDigits),
            ("OCRA-1:HOTP-SHA1-6", E::MissingDataInput),
            ("OCRA-1:HOTP-SHA1-6:QN08:", E::TrailingGarbage),
            ("OCRA-1:HOTP-SHA1-6:QN08:X", E::TrailingGarbage),
            ("OCRA-1:HOTP-SHA1-6:", E::EmptyDataInput),
            ("OCRA-1:HOTP-SHA1-6:QN08-", E::EmptyDataInput),
            ("OCRA-1:HOTP-SHA1-6:C--QN08", E::EmptyDataInput),
            ("OCRA-1:HOTP-SHA1-6:X-QN08", E::UnknownDataInput),
            ("OCRA-1:HOTP-SHA1-6:c-QN08", E::UnknownDataInput),
            ("OCRA-1:HOTP-SHA1-6:C1-QN08", E::BadCounter),
            ("OCRA-1:HOTP-SHA1-6:Q", E::BadQuestionFormat),
            ("OCRA-1:HOTP-SHA1-6:QX08", E::BadQuestionFormat),
            ("OCRA-1:HOTP-SHA1-6:QN", E::BadQuestionLength),
            ("OCRA-1:HOTP-SHA1-6:QN03", E::BadQuestionLength),
            ("OCRA-1:HOTP-SHA1-6:QN65", E::BadQuestionLength),
            ("OCRA-1:HOTP-SHA1-6:QN008", E::BadQuestionLength),
            ("OCRA-1:HOTP-SHA1-6:QN0x", E::BadQuestionLength),
            ("OCRA-1:HOTP-SHA1-6:QN08-PSHA2", E::BadPasswordHash),
            ("OCRA-1:HOTP-SHA1-6:QN08-PMD5", E::BadPasswordHash),
            ("OCRA-1:HOTP-SHA1-6:QN08-S64", E::BadSessionLength),
            ("OCRA-1:HOTP-SHA1-6:QN08-S000", E::BadSessionLength),
            ("OCRA-1:HOTP-SHA1-6:QN08-S513", E::BadSessionLength),
            ("OCRA-1:HOTP-SHA1-6:QN08-S0640", E::BadSessionLength),
            ("OCRA-1:HOTP-SHA1-6:QN08-T0M", E::BadTimeStep),
            ("OCRA-1:HOTP-SHA1-6:QN08-T0H", E::BadTimeStep),
            ("OCRA-1:HOTP-SHA1-6:QN08-T60S", E::BadTimeStep),
            ("OCRA-1:HOTP-SHA1-6:QN08-T60M", E::BadTimeStep),
            ("OCRA-1:HOTP-SHA1-6:QN08-T49H", E::BadTimeStep),
            ("OCRA-1:HOTP-SHA1-6:QN08-T1D", E::BadTimeStep),
            ("OCRA-1:HOTP-SHA1-6:QN08-T01M", E::BadTimeStep),
            ("OCRA-1:HOTP-SHA1-6:QN08-TM", E::BadTimeStep),
            ("OCRA-1:HOTP-SHA1-6:QN08-T100S", E::BadTimeStep),
            (
                "OCRA-1:HOTP-SHA1-6:C-C-QN08",
                E::Duplicate(OcraField::Counter),
            ),
            (
                "OCRA-1:HOTP-SHA1-6:QN08-QA08",
                E::Duplicate(OcraField::Question),
            ),
            (
                "OCRA-1:HOTP-SHA1-6:QN08-P-PSHA1",
                E::Duplicate(OcraField::PasswordHash),
            ),
            (
                "OCRA-1:HOTP-SHA1-6:QN08-S-S",
                E::Duplicate(OcraField::Session),
            ),
            (
                "OCRA-1:HOTP-SHA1-6:QN08-T1M-T1M",
                E::Duplicate(OcraField::Time),
            ),
            ("OCRA-1:HOTP-SHA1-6:QN08-C", E::OutOfOrder),
            ("OCRA-1:HOTP-SHA1-6:QN08-T1M-PSHA1", E::OutOfOrder),
            ("OCRA-1:HOTP-SHA1-6:QN08-S064-PSHA1", E::OutOfOrder),
            ("OCRA-1:HOTP-SHA1-6:C", E::MissingQuestion),
            ("OCRA-1:HOTP-SHA1-6:C-PSHA1-T1M", E::MissingQuestion),
        ];
        for (suite, want) in cases {
            assert_eq!(err(suite), *want, "{suite}");
            assert!(!want.to_string().is_empty());
        }
        // Non-ASCII never panics and never parses.
        assert_eq!(err("OCRA-1:HOTP-SHA1-6:QN０８"), E::BadQuestionLength);
    }

    #[test]
    fn time_step_at_counts_whole_steps() {
        let s = OcraSuite::parse("OCRA-1:HOTP-SHA1-6:QN08-T30S").unwrap();
        assert_eq!(s.time_step_at(0), Some(0));
        assert_eq!(s.time_step_at(59), Some(1));
        assert_eq!(s.time_step_at(u64::MAX), Some(u64::MAX / 30));
        let no_t = OcraSuite::parse("OCRA-1:HOTP-SHA1-6:QN08").unwrap();
        assert_eq!(no_t.time_step_at(100), None);
        assert_eq!(
            format!("{no_t:?}"),
            "OcraSuite(\"OCRA-1:HOTP-SHA1-6:QN08\")"
        );
    }
}
