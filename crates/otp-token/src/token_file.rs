//! The token file: one virtual hardware token, secret included, as TOML
//! (format `otp-token/1`, documented in `docs/cli.md`): the type, its
//! rendering and parsing, and its conversion to and from a [`Token`].
//!
//! This module does no I/O. Whoever writes the text holds a secret and must
//! create the file privately: the `otp` command line writes it with mode
//! 0600, never through a symbolic link, never over another user's file.

use core::fmt;

use otp_core::{Algorithm, Digits, Secret, TimeStep};
use otp_provision::{Profile, SeedRecord, SerialNumber};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::{Battery, Crystal, Token, TokenSpec};

mod error;

pub use error::TokenFileError;

/// How a token file names its mode (`kind = "totp"` or `"hotp"`): the
/// file's spelling of the core's [`otp_core::Mode`], whose time base the
/// file keeps in `step` and `t0`. Not a second mode type: it exists only
/// for the file's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// RFC 6238 time-based (the manual's token).
    Totp,
    /// RFC 4226 event-based.
    Hotp,
}

/// One token file (format [`TokenFile::FORMAT`]): what a virtual token is
/// made of, its secret included, as TOML.
///
/// The public fields are the file's, unchecked: [`TokenFile::parse`] checks
/// the TOML's shape and the format tag; [`TokenFile::token`],
/// [`TokenFile::profile`] and [`TokenFile::secret`] check the values. The
/// secret is private: `Debug` shows the serial and kind only, and the
/// secret's text is zeroized on drop.
///
/// # Examples
///
/// ```
/// use otp_core::Secret;
/// use otp_provision::SerialNumber;
/// use otp_token::{Token, TokenFile, FileKind, TokenSpec};
///
/// let secret = Secret::from_bytes(b"12345678901234567890")?;
/// let token = Token::new(SerialNumber::parse("VT0000000042")?, &secret, TokenSpec::activated_at(0))?;
/// let text = TokenFile::new(&token, &secret, "").render()?;
/// assert!(text.starts_with("# A virtual OTP token (otp-token/1)."));
///
/// let file = TokenFile::parse(&text)?;
/// assert_eq!(file.serial, "VT0000000042");
/// assert_eq!(file.kind, FileKind::Totp);
/// assert_eq!(file.secret_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
/// let mut again = file.token()?;
/// assert_eq!(again.press(59)?.to_string(), "287082");
/// # Ok::<(), Box<dyn core::error::Error>>(())
/// ```
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenFile {
    /// Always [`TokenFile::FORMAT`] once parsed.
    format: String,
    /// The 12-character serial printed on the back.
    pub serial: String,
    /// `totp` or `hotp`.
    pub kind: FileKind,
    /// `SHA1`, `SHA256` or `SHA512`.
    pub algorithm: String,
    /// 6, 7 or 8.
    pub digits: u8,
    /// TOTP step in seconds.
    pub step: u64,
    /// TOTP epoch T0 (Unix seconds).
    pub t0: u64,
    /// The crystal's drift in parts per million (positive runs fast).
    pub drift_ppm: i32,
    /// The clock's offset at activation, seconds ahead of true time.
    pub offset: i64,
    /// When the battery was connected and the clock set (Unix seconds).
    pub activated_at: u64,
    /// HOTP: the counter of the next press (updated by `otp token press`).
    pub counter: u64,
    /// The manufacturer, if the token came from `otp factory` (empty: none,
    /// and not written).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manufacturer: String,
    /// A keypad token's RFC 6287 OCRA suite (empty: a button-only token,
    /// and not written, so files from before keypad tokens read as they
    /// always did).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub suite: String,
    /// A keypad token's signing counter (suites with `C`: the counter of
    /// the next challenge; 0 is not written).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sign_counter: u64,
    /// The shared secret, base32 without padding.
    secret: String,
}

/// Whether a counter is 0 (not written).
#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
const fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl fmt::Debug for TokenFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenFile")
            .field("serial", &self.serial)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Drop for TokenFile {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret);
    }
}

impl TokenFile {
    /// The format tag every token file carries (`format = "otp-token/1"`).
    pub const FORMAT: &'static str = "otp-token/1";

    /// A file for `token`, whose secret is `secret` (a token never gives
    /// its secret back), made by `manufacturer` (empty: none).
    ///
    /// An event token's `step` and `t0` are written as 30 and 0.
    #[must_use]
    pub fn new(token: &Token, secret: &Secret, manufacturer: &str) -> Self {
        let spec = token.spec();
        let (kind, step, t0) = match spec.profile.mode {
            otp_core::Mode::Totp(s) => (FileKind::Totp, s.seconds(), s.t0()),
            otp_core::Mode::Hotp => (FileKind::Hotp, 30, 0),
        };
        Self {
            format: Self::FORMAT.to_owned(),
            serial: token.serial().as_str().to_owned(),
            kind,
            algorithm: spec.profile.algorithm.name().to_owned(),
            digits: spec.profile.digits.get(),
            step,
            t0,
            drift_ppm: spec.crystal.drift_ppm(),
            offset: spec.crystal.offset(),
            activated_at: spec.activated_at,
            counter: token.counter(),
            manufacturer: manufacturer.to_owned(),
            suite: token
                .suite()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            sign_counter: token.sign_counter(),
            secret: data_encoding::BASE32_NOPAD.encode(secret.expose_secret()),
        }
    }

    /// Reads a token file's text.
    ///
    /// # Errors
    ///
    /// [`TokenFileError::Syntax`] if it is not TOML of this shape (a
    /// missing or unknown field, a wrong type), [`TokenFileError::Format`]
    /// if it declares another format. The values are checked when used.
    pub fn parse(text: &str) -> Result<Self, TokenFileError> {
        let file: Self = toml::from_str(text).map_err(|e| TokenFileError::Syntax {
            message: e.message().trim_end_matches('\n').to_owned(),
        })?;
        if file.format != Self::FORMAT {
            return Err(TokenFileError::Format {
                found: file.format.clone(),
            });
        }
        Ok(file)
    }

    /// The file's text: a comment line saying it holds a secret, then the
    /// TOML (zeroized when dropped).
    ///
    /// # Errors
    ///
    /// [`TokenFileError::Encode`] if the TOML writer refuses it.
    pub fn render(&self) -> Result<Zeroizing<String>, TokenFileError> {
        let body = Zeroizing::new(toml::to_string(self).map_err(|e| TokenFileError::Encode {
            message: e.to_string(),
        })?);
        Ok(Zeroizing::new(format!(
            "# A virtual OTP token ({}). It holds the token's secret: keep it private.\n{}",
            Self::FORMAT,
            body.as_str()
        )))
    }

    /// The secret as written: base32 without padding. For showing it on
    /// request only.
    #[must_use]
    pub fn secret_base32(&self) -> &str {
        &self.secret
    }

    /// The secret.
    ///
    /// # Errors
    ///
    /// [`TokenFileError::SecretEncoding`] if it is not base32,
    /// [`TokenFileError::Secret`] if its length is refused.
    pub fn secret(&self) -> Result<Secret, TokenFileError> {
        let bytes = Zeroizing::new(
            data_encoding::BASE32_NOPAD
                .decode(self.secret.trim_end_matches('=').as_bytes())
                .map_err(|_| TokenFileError::SecretEncoding)?,
        );
        Secret::from_bytes(&bytes).map_err(TokenFileError::Secret)
    }

    /// Kind, hash and digits.
    ///
    /// # Errors
    ///
    /// [`TokenFileError::Param`] for a zero step, an unknown algorithm or
    /// digits other than 6, 7 or 8.
    pub fn profile(&self) -> Result<Profile, TokenFileError> {
        let mode = match self.kind {
            FileKind::Totp => otp_core::Mode::Totp(TimeStep::new(self.step, self.t0)?),
            FileKind::Hotp => otp_core::Mode::Hotp,
        };
        Ok(Profile {
            mode,
            algorithm: Algorithm::from_name(&self.algorithm)?,
            digits: Digits::new(self.digits)?,
        })
    }

    /// The virtual token (battery unlimited: a file does not count presses;
    /// display time 30 seconds).
    ///
    /// # Errors
    ///
    /// [`TokenFileError::Serial`] for an invalid serial, then as
    /// [`TokenFile::profile`], [`TokenFileError::Token`] for a drift out of
    /// range, then as [`TokenFile::secret`]; for a keypad token
    /// [`TokenFileError::Suite`] for a malformed suite and
    /// [`TokenFileError::Token`] for one the keypad cannot use.
    pub fn token(&self) -> Result<Token, TokenFileError> {
        let serial = SerialNumber::parse(&self.serial).map_err(TokenFileError::Serial)?;
        let spec = TokenSpec {
            profile: self.profile()?,
            crystal: Crystal::new(self.drift_ppm, self.offset)?,
            activated_at: self.activated_at,
            battery: Battery::unlimited(),
            display_seconds: 30,
            counter: self.counter,
        };
        if self.suite.is_empty() {
            Ok(Token::new(serial, &self.secret()?, spec)?)
        } else {
            let suite = otp_core::OcraSuite::parse(&self.suite).map_err(TokenFileError::Suite)?;
            Ok(Token::keypad(serial, &self.secret()?, spec, suite)?
                .with_sign_counter(self.sign_counter))
        }
    }

    /// The `otpauth://` URI of this token. It holds the secret.
    ///
    /// # Errors
    ///
    /// As [`TokenFile::secret`] and [`TokenFile::profile`];
    /// [`TokenFileError::Suite`] for a malformed suite and
    /// [`TokenFileError::Uri`] for a keypad token (the URI cannot carry its
    /// OCRA suite).
    pub fn otpauth_uri(&self) -> Result<Zeroizing<String>, TokenFileError> {
        let mut record = SeedRecord::new(self.serial.clone(), self.secret()?, self.profile()?);
        record.counter = self.counter;
        if !self.suite.is_empty() {
            record.suite =
                Some(otp_core::OcraSuite::parse(&self.suite).map_err(TokenFileError::Suite)?);
        }
        record
            .try_to_otpauth_uri()
            .map(Zeroizing::new)
            .map_err(TokenFileError::Uri)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
mod tests {
    use super::*;

    fn rfc_text() -> &'static str {
        "format = \"otp-token/1\"\nserial = \"VT0000000042\"\nkind = \"hotp\"\n\
         algorithm = \"SHA1\"\ndigits = 6\nstep = 30\nt0 = 0\ndrift_ppm = 0\n\
         offset = 0\nactivated_at = 0\ncounter = 7\n\
         secret = \"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\"\n"
    }

    /// Rendering writes the comment line and every field but an empty
    /// manufacturer, in order; parsing it back gives the same text.
    #[test]
    fn render_is_exact_and_parses_back() {
        let file = TokenFile::parse(rfc_text()).unwrap();
        let text = file.render().unwrap();
        assert_eq!(
            text.as_str(),
            format!(
                "# A virtual OTP token (otp-token/1). It holds the token's secret: keep it private.\n{}",
                rfc_text()
            )
        );
        assert_eq!(
            TokenFile::parse(&text).unwrap().render().unwrap().as_str(),
            text.as_str()
        );
    }

    /// RFC 4226's secret at counter 7 shows RFC 4226's code for 7.
    #[test]
    fn an_event_file_makes_the_rfc_token() {
        let file = TokenFile::parse(rfc_text()).unwrap();
        let mut token = file.token().unwrap();
        assert_eq!(token.press(0).unwrap().to_string(), "162583");
        assert_eq!(token.counter(), 8);
    }

    /// A counter suite's signing counter is kept apart from the button's
    /// counter and through render and parse: RFC 6287 Appendix C.1
    /// (`OCRA-1:HOTP-SHA512-8:C-QN08`, C = 1, Q = 11111111: 63947962).
    #[test]
    fn a_keypad_file_keeps_its_signing_counter() {
        // RFC 6287's 64-byte key: "1234567890" six times and "1234".
        let secret = otp_core::Secret::from_bytes(&b"1234567890".repeat(7)[..64]).unwrap();
        let suite = otp_core::OcraSuite::parse("OCRA-1:HOTP-SHA512-8:C-QN08").unwrap();
        let spec = crate::TokenSpec {
            counter: 7,
            ..crate::TokenSpec::default()
        };
        let token = Token::keypad(
            SerialNumber::numbered("KP", 1).unwrap(),
            &secret,
            spec,
            suite,
        )
        .unwrap()
        .with_sign_counter(1);
        let text = TokenFile::new(&token, &secret, "").render().unwrap();
        assert!(text.contains("sign_counter = 1\n"));
        let mut again = TokenFile::parse(&text).unwrap().token().unwrap();
        assert_eq!((again.counter(), again.sign_counter()), (7, 1));
        assert_eq!(
            again.press_challenge(0, "11111111").unwrap().to_string(),
            "63947962"
        );
        assert_eq!((again.counter(), again.sign_counter()), (7, 2));
        // A counter of 0 is not written: older files read as before.
        let fresh = TokenFile::new(&token.with_sign_counter(0), &secret, "")
            .render()
            .unwrap();
        assert!(!fresh.contains("sign_counter"));
    }

    /// A keypad file keeps its suite through render and parse, and its
    /// token answers RFC 6287 Appendix C.1 (`OCRA-1:HOTP-SHA1-6:QN08`,
    /// Q = 11111111: 243178); a file without `suite` stays button-only.
    #[test]
    fn a_keypad_file_keeps_its_suite() {
        let text = rfc_text().replace("secret =", "suite = \"OCRA-1:HOTP-SHA1-6:QN08\"\nsecret =");
        let file = TokenFile::parse(&text).unwrap();
        assert_eq!(
            file.render()
                .unwrap()
                .lines()
                .skip(1)
                .collect::<Vec<_>>()
                .join("\n")
                + "\n",
            text
        );
        let mut token = file.token().unwrap();
        assert_eq!(
            token.press_challenge(0, "11111111").unwrap().to_string(),
            "243178"
        );
        let again = TokenFile::new(&token, &file.secret().unwrap(), "");
        assert_eq!(again.suite, "OCRA-1:HOTP-SHA1-6:QN08");
        let old = TokenFile::parse(rfc_text()).unwrap().token().unwrap();
        assert!(old.suite().is_none());
        let bad = rfc_text().replace("secret =", "suite = \"OCRA-1:HOTP-MD5-6:QN08\"\nsecret =");
        assert!(matches!(
            TokenFile::parse(&bad).unwrap().token().unwrap_err(),
            TokenFileError::Suite(_)
        ));
    }

    /// A keypad token has no `otpauth://` URI (it could not carry the
    /// suite): a typed error, not a URI without the suite.
    #[test]
    fn a_keypad_file_has_no_otpauth_uri() {
        let text = rfc_text().replace("secret =", "suite = \"OCRA-1:HOTP-SHA1-6:QN08\"\nsecret =");
        assert_eq!(
            TokenFile::parse(&text).unwrap().otpauth_uri().unwrap_err(),
            TokenFileError::Uri(otp_provision::UriError::KeypadSuite)
        );
        assert!(
            TokenFile::parse(rfc_text())
                .unwrap()
                .otpauth_uri()
                .unwrap()
                .starts_with("otpauth://hotp/")
        );
    }

    /// `Debug` names the serial and kind, never the secret.
    #[test]
    fn debug_hides_the_secret() {
        let file = TokenFile::parse(rfc_text()).unwrap();
        assert_eq!(
            format!("{file:?}"),
            "TokenFile { serial: \"VT0000000042\", kind: Hotp, .. }"
        );
    }

    /// Another format, an unknown field and a bad secret are refused with
    /// their own errors.
    #[test]
    fn refusals_are_typed() {
        let other = rfc_text().replace("otp-token/1", "otp-token/2");
        assert_eq!(
            TokenFile::parse(&other).unwrap_err(),
            TokenFileError::Format {
                found: "otp-token/2".to_owned()
            }
        );
        let unknown = format!("{}color = \"red\"\n", rfc_text());
        assert!(matches!(
            TokenFile::parse(&unknown).unwrap_err(),
            TokenFileError::Syntax { .. }
        ));
        let bad = rfc_text().replace("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "not base32!");
        let file = TokenFile::parse(&bad).unwrap();
        assert_eq!(file.secret().unwrap_err(), TokenFileError::SecretEncoding);
        assert_eq!(
            file.token().unwrap_err().to_string(),
            "the token file's secret is not valid base32"
        );
    }
}
