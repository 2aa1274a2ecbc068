//! `otpauth://` Key URIs, the de-facto format of soft tokens (QR codes).

use core::fmt;

use data_encoding::BASE32_NOPAD;
use otp_core::{Algorithm, Digits, Mode, Secret, TimeStep};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use zeroize::Zeroizing;

use crate::{Profile, SeedRecord};

/// Characters escaped in labels and parameter values: everything but
/// unreserved characters (RFC 3986).
const ESCAPE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The longest TOTP `period` an `otpauth://` URI may give, in seconds (one
/// hour). Real tokens use 30 or 60 s; a longer step is a mistake or an
/// attack on the reader (a code valid for days).
pub const MAX_URI_PERIOD: u64 = 3600;

/// Why an `otpauth://` URI could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UriError {
    /// It does not start with `otpauth://`.
    NotOtpauth,
    /// The type is not `totp` or `hotp`.
    UnknownType,
    /// The label (serial or account name) is empty.
    EmptyLabel,
    /// Percent-encoding that does not decode to UTF-8.
    BadEncoding,
    /// No `secret` parameter.
    MissingSecret,
    /// The secret is not base32.
    BadSecret,
    /// The secret is too short or too long.
    Secret(otp_core::KeyError),
    /// The algorithm is not SHA1, SHA256 or SHA512.
    UnknownAlgorithm,
    /// `digits` is not 6, 7 or 8.
    BadDigits,
    /// `period` is not a decimal number of seconds.
    BadPeriod,
    /// An HOTP URI without a valid `counter`.
    BadCounter,
    /// A parameter appears twice (compared without regard to case), such
    /// as a second `secret`: which one wins differs between readers.
    DuplicateParameter,
    /// The label's issuer prefix and the `issuer` parameter differ.
    IssuerMismatch,
    /// `period` is a number, but not from 1 to [`MAX_URI_PERIOD`] seconds.
    PeriodOutOfRange,
    /// A control character (U+0000..U+001F, U+007F..U+009F) in the label
    /// or the `issuer` parameter.
    ControlCharacter,
    /// The record is a keypad (signing) token's, with an OCRA suite: an
    /// `otpauth://` URI cannot carry the suite, and one without it would
    /// make a token that cannot sign.
    KeypadSuite,
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotOtpauth => {
                f.write_str("not an otpauth:// URI: scan the token's QR code again")
            }
            Self::UnknownType => {
                f.write_str("the URI is neither otpauth://totp nor otpauth://hotp")
            }
            Self::EmptyLabel => f.write_str("the URI has no account name or serial in its label"),
            Self::BadEncoding => f.write_str("the URI has malformed percent-encoding"),
            Self::MissingSecret => f.write_str("the URI has no secret parameter"),
            Self::BadSecret => f.write_str("the URI's secret is not valid base32"),
            Self::Secret(e) => fmt::Display::fmt(e, f),
            Self::UnknownAlgorithm => {
                f.write_str("the URI's algorithm is not SHA1, SHA256 or SHA512")
            }
            Self::BadDigits => f.write_str("the URI's digits must be 6, 7 or 8"),
            Self::BadPeriod => f.write_str("the URI's period must be a number of seconds"),
            Self::BadCounter => f.write_str("an hotp URI needs a counter parameter with a number"),
            Self::DuplicateParameter => f.write_str(
                "the URI has a parameter twice: scan the token's QR code again or ask its issuer",
            ),
            Self::IssuerMismatch => f.write_str(
                "the URI's label names one issuer and its issuer parameter another: ask its issuer",
            ),
            Self::PeriodOutOfRange => write!(
                f,
                "the URI's period must be from 1 to {MAX_URI_PERIOD} seconds"
            ),
            Self::ControlCharacter => {
                f.write_str("the URI's account name or issuer has a control character")
            }
            Self::KeypadSuite => f.write_str(
                "a keypad token's OCRA suite cannot travel in an otpauth:// URI: give it its seed file (PSKC) or token file instead",
            ),
        }
    }
}

impl core::error::Error for UriError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Secret(e) => Some(e),
            _ => None,
        }
    }
}

fn decode(s: &str) -> Result<String, UriError> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| UriError::BadEncoding)
}

/// `true` if `s` has a C0 or C1 control character or DEL (Unicode
/// general category Cc).
fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// A number written only with ASCII digits (no sign, no spaces), that fits
/// in a `u64`.
fn decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl SeedRecord {
    /// The record as an `otpauth://` Key URI: the serial is the account
    /// name, the issuer (if any) prefixes the label and is the `issuer`
    /// parameter. The URI holds the secret: treat it like the seed file.
    ///
    /// A record that [`SeedRecord::from_otpauth_uri`] would refuse (a step
    /// over [`MAX_URI_PERIOD`], control characters in the serial or
    /// issuer) is still written, but does not read back.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_provision::{Profile, SeedRecord};
    /// let mut r = SeedRecord::new("VT0000000001", otp_core::Secret::from_bytes(b"12345678901234567890")?, Profile::default());
    /// r.issuer = Some("Shinkin Bank".into());
    /// assert_eq!(
    ///     r.to_otpauth_uri(),
    ///     "otpauth://totp/Shinkin%20Bank:VT0000000001?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Shinkin%20Bank&algorithm=SHA1&digits=6&period=30"
    /// );
    /// # Ok::<(), otp_core::KeyError>(())
    /// ```
    ///
    /// A keypad token's record (one with a [`suite`](SeedRecord::suite))
    /// gets its login code's URI only, the suite left out: use
    /// [`SeedRecord::try_to_otpauth_uri`], which refuses it.
    #[must_use]
    pub fn to_otpauth_uri(&self) -> String {
        let secret = Zeroizing::new(BASE32_NOPAD.encode(self.secret().expose_secret()));
        let account = utf8_percent_encode(&self.serial, ESCAPE).to_string();
        // The label's first colon (literal or `%3A`) separates the issuer
        // from the account. An issuer with a colon of its own travels only
        // in the `issuer` parameter, and an account with one gets an empty
        // issuer prefix, so that the URI reads back to the same record.
        let issuer_param = self
            .issuer
            .as_ref()
            .map(|issuer| utf8_percent_encode(issuer, ESCAPE).to_string());
        let label = match (&self.issuer, &issuer_param) {
            (Some(issuer), Some(encoded)) if !issuer.contains(':') => {
                format!("{encoded}:{account}")
            }
            _ if self.serial.contains(':') => format!(":{account}"),
            _ => account,
        };
        let ty = match self.profile.mode {
            Mode::Totp(_) => "totp",
            Mode::Hotp => "hotp",
        };
        let mut uri = format!("otpauth://{ty}/{label}?secret={}", secret.as_str());
        if let Some(issuer) = issuer_param {
            uri.push_str("&issuer=");
            uri.push_str(&issuer);
        }
        uri.push_str("&algorithm=");
        uri.push_str(self.profile.algorithm.name());
        uri.push_str("&digits=");
        uri.push_str(&self.profile.digits.get().to_string());
        match self.profile.mode {
            Mode::Totp(step) => {
                uri.push_str("&period=");
                uri.push_str(&step.seconds().to_string());
            }
            Mode::Hotp => {
                uri.push_str("&counter=");
                uri.push_str(&self.counter.to_string());
            }
        }
        uri
    }

    /// The record as an `otpauth://` Key URI, as
    /// [`SeedRecord::to_otpauth_uri`] writes it, for a button token only.
    ///
    /// # Errors
    ///
    /// [`UriError::KeypadSuite`] for a keypad token's record (one with an
    /// OCRA [`suite`](SeedRecord::suite)): the URI cannot carry the suite.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_provision::{Profile, SeedRecord, UriError};
    /// let mut r = SeedRecord::new("KP0000000001", otp_core::Secret::from_bytes(b"12345678901234567890")?, Profile::hotp());
    /// assert!(r.try_to_otpauth_uri()?.starts_with("otpauth://hotp/KP0000000001?"));
    /// r.suite = Some("OCRA-1:HOTP-SHA1-6:QN08".parse()?);
    /// assert_eq!(r.try_to_otpauth_uri(), Err(UriError::KeypadSuite));
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn try_to_otpauth_uri(&self) -> Result<String, UriError> {
        if self.suite.is_some() {
            return Err(UriError::KeypadSuite);
        }
        Ok(self.to_otpauth_uri())
    }

    /// Reads an `otpauth://totp/...` or `otpauth://hotp/...` Key URI. The
    /// account name (after `issuer:` in the label) becomes the serial.
    /// Defaults as in the format: SHA1, 6 digits, 30 s.
    ///
    /// Strict where readers could disagree or a token could not be: any
    /// parameter given twice (names compared after percent-decoding,
    /// without regard to case), an `issuer` parameter that differs from
    /// the label's issuer prefix, a `period` outside 1..=[`MAX_URI_PERIOD`]
    /// seconds, `digits` other than 6, 7 or 8, numbers with signs or
    /// spaces, and control characters (C0, DEL, C1) in the label or the
    /// issuer are all refused. Unknown parameters (such as `image`) are
    /// ignored.
    ///
    /// # Errors
    ///
    /// A [`UriError`] naming the first problem found:
    /// [`UriError::DuplicateParameter`], [`UriError::IssuerMismatch`],
    /// [`UriError::PeriodOutOfRange`], [`UriError::ControlCharacter`], or
    /// one of the format errors.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = otp_provision::SeedRecord::from_otpauth_uri(
    ///     "otpauth://hotp/Bank:EV0000000001?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&counter=3",
    /// )?;
    /// assert_eq!((r.serial.as_str(), r.issuer.as_deref(), r.counter), ("EV0000000001", Some("Bank"), 3));
    /// # Ok::<(), otp_provision::UriError>(())
    /// ```
    pub fn from_otpauth_uri(uri: &str) -> Result<Self, UriError> {
        let rest = uri
            .get(..10)
            .filter(|s| s.eq_ignore_ascii_case("otpauth://"))
            .and_then(|_| uri.get(10..))
            .ok_or(UriError::NotOtpauth)?;
        let (ty, rest) = rest.split_once('/').ok_or(UriError::UnknownType)?;
        let hotp = if ty.eq_ignore_ascii_case("totp") {
            false
        } else if ty.eq_ignore_ascii_case("hotp") {
            true
        } else {
            return Err(UriError::UnknownType);
        };
        let (label, query) = rest.split_once('?').unwrap_or((rest, ""));
        let label = decode(label)?;
        if has_control(&label) {
            return Err(UriError::ControlCharacter);
        }
        let (label_issuer, account) = match label.split_once(':') {
            Some((i, a)) => (Some(i.trim().to_owned()), a.trim().to_owned()),
            None => (None, label.trim().to_owned()),
        };
        if account.is_empty() {
            return Err(UriError::EmptyLabel);
        }
        let mut seen: Vec<String> = Vec::new();
        let mut secret: Option<Zeroizing<Vec<u8>>> = None;
        let mut issuer_param: Option<String> = None;
        let mut algorithm = Algorithm::Sha1;
        let mut digits = Digits::Six;
        let mut period = 30u64;
        let mut counter: Option<u64> = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            // Readers differ on case and escapes in names: `SECRET` or
            // `s%65cret` is a second `secret` to some of them.
            let k = decode(k)?;
            let folded = k.to_ascii_lowercase();
            if seen.contains(&folded) {
                return Err(UriError::DuplicateParameter);
            }
            seen.push(folded);
            let v = Zeroizing::new(decode(v)?);
            match k.as_str() {
                "secret" => {
                    let cleaned = Zeroizing::new(
                        v.chars()
                            .filter(|c| *c != '=' && *c != ' ')
                            .map(|c| c.to_ascii_uppercase())
                            .collect::<String>(),
                    );
                    secret = Some(Zeroizing::new(
                        BASE32_NOPAD
                            .decode(cleaned.as_bytes())
                            .map_err(|_| UriError::BadSecret)?,
                    ));
                }
                "issuer" => {
                    if has_control(&v) {
                        return Err(UriError::ControlCharacter);
                    }
                    issuer_param = Some(v.to_string());
                }
                "algorithm" => {
                    algorithm = Algorithm::from_name(&v).map_err(|_| UriError::UnknownAlgorithm)?;
                }
                "digits" => {
                    digits = decimal(&v)
                        .and_then(|d| u8::try_from(d).ok())
                        .and_then(|d| Digits::new(d).ok())
                        .ok_or(UriError::BadDigits)?;
                }
                "period" => {
                    period = decimal(&v).ok_or(UriError::BadPeriod)?;
                    if !(1..=MAX_URI_PERIOD).contains(&period) {
                        return Err(UriError::PeriodOutOfRange);
                    }
                }
                "counter" => counter = Some(decimal(&v).ok_or(UriError::BadCounter)?),
                _ => {}
            }
        }
        // An empty label issuer (`:account`) names none: `to_otpauth_uri`
        // writes it for an issuer with a colon of its own.
        let label_issuer = label_issuer.filter(|i| !i.is_empty());
        let issuer = match (label_issuer, issuer_param) {
            (Some(l), Some(p)) if l != p.trim() => return Err(UriError::IssuerMismatch),
            (l, p) => p.or(l),
        };
        let bytes = secret.ok_or(UriError::MissingSecret)?;
        let secret = Secret::from_bytes(&bytes).map_err(UriError::Secret)?;
        let kind = if hotp {
            if counter.is_none() {
                return Err(UriError::BadCounter);
            }
            Mode::Hotp
        } else {
            Mode::Totp(TimeStep::new(period, 0).map_err(|_| UriError::BadPeriod)?)
        };
        let mut record = Self::new(
            account,
            secret,
            Profile {
                mode: kind,
                algorithm,
                digits,
            },
        );
        record.issuer = issuer.filter(|i| !i.is_empty());
        // A time token has no counter (the field is 0 for TOTP), whatever
        // the URI says.
        record.counter = counter.filter(|_| hotp).unwrap_or(0);
        Ok(record)
    }
}
