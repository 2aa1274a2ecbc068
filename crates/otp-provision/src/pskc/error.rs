//! Why a seed file cannot be read or written.

use core::fmt;

use otp_core::{Algorithm, KeyError, SuiteError};

/// Why a seed file could not be read or written. None of them carries a
/// secret.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PskcError {
    /// The file is not well-formed XML.
    Xml {
        /// The XML parser's message.
        message: String,
    },
    /// The root element is not an RFC 6030 `KeyContainer` (for instance a
    /// pre-standard draft file).
    NotPskc,
    /// A `KeyContainer` version other than 1.0.
    UnsupportedVersion {
        /// The version found.
        version: String,
    },
    /// The file is encrypted and no key was given.
    KeyRequired,
    /// The given key's name is not the file's `KeyName` (checked before
    /// any decryption). A key that has the right name, or none, but does
    /// not decrypt the file is [`PskcError::MacMismatch`].
    WrongKey,
    /// An encryption or key-derivation method this crate does not support.
    UnsupportedEncryption {
        /// The method's algorithm URI.
        algorithm: String,
    },
    /// A MAC algorithm this crate does not support.
    UnsupportedMac {
        /// The algorithm URI.
        algorithm: String,
    },
    /// Encrypted values without the MAC that RFC 6030 §6.1.1 requires.
    MissingMac,
    /// An encrypted value does not decrypt: its MAC does not match, the
    /// file's MAC key does not decrypt (bad padding, or not 16 to 64 bytes),
    /// or the value's own padding or length is wrong. These are one error,
    /// with one message, so that an attacker who alters a file and watches
    /// the import learns nothing about the plaintext (no padding oracle).
    /// A wrong pre-shared key whose name is not checked also ends here.
    MacMismatch {
        /// The key package (1-based) of the first encrypted value that did
        /// not decrypt.
        package: usize,
    },
    /// An encrypted file (one with `EncryptionKey` or `MACMethod`) holds a
    /// `PlainValue` for `Secret`, `Counter`, `Time`, `TimeInterval` or
    /// `TimeDrift`: nothing authenticates it, so it may have been put
    /// there by whoever altered the file. (A plain value equal to what the
    /// absent element means, such as RFC 6030's `Counter` 0, is accepted:
    /// deleting the element gives an attacker the same.)
    PlainValueInEncryptedFile {
        /// The key package (1-based).
        package: usize,
        /// The element.
        field: &'static str,
    },
    /// The input could not be read (a stream's I/O error; see
    /// [`read_pskc_records`](crate::read_pskc_records)).
    Read {
        /// The operating system's message.
        message: String,
    },
    /// The input is larger than [`PskcLimits::max_bytes`](crate::PskcLimits::max_bytes).
    TooLarge {
        /// The input's size in bytes (read from a stream: the limit plus
        /// one, the rest unread).
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The file has more key packages than
    /// [`PskcLimits::max_key_packages`](crate::PskcLimits::max_key_packages).
    TooManyKeyPackages {
        /// The limit.
        max: usize,
    },
    /// A field is malformed (bad base64, not a number, bad length).
    Invalid {
        /// The key package (1-based; 0 for the container).
        package: usize,
        /// The element.
        field: &'static str,
    },
    /// A key's algorithm is not HOTP, TOTP or OCRA.
    UnsupportedAlgorithm {
        /// The key package (1-based).
        package: usize,
        /// The algorithm URN.
        algorithm: String,
    },
    /// An OCRA (keypad token) key package without an
    /// `AlgorithmParameters/Suite`: the bank would not know how the token
    /// signs.
    MissingSuite {
        /// The key package (1-based).
        package: usize,
    },
    /// An OCRA key package's `Suite` is not an RFC 6287 suite.
    InvalidSuite {
        /// The key package (1-based).
        package: usize,
        /// Why.
        error: SuiteError,
    },
    /// A record to write has an OCRA suite whose hash is not its login
    /// code's: one key package names one hash, so the file could not say
    /// both. Nothing of the record is written.
    SuiteHashMismatch {
        /// The record's serial number.
        serial: String,
        /// The login code's hash (the profile's).
        profile: Algorithm,
        /// The suite's hash.
        suite: Algorithm,
    },
    /// The digit count is not 6, 7 or 8, or the encoding is not decimal.
    UnsupportedFormat {
        /// The key package (1-based).
        package: usize,
    },
    /// A key package has no device serial number.
    MissingSerial {
        /// The key package (1-based).
        package: usize,
    },
    /// A key package has no secret (for instance one derived from a master
    /// key held elsewhere).
    MissingSecret {
        /// The key package (1-based).
        package: usize,
    },
    /// The secret is too short or too long for the core.
    Secret {
        /// The key package (1-based).
        package: usize,
        /// Why.
        error: KeyError,
    },
    /// The same serial number appears twice (in the file, or already in the
    /// inventory).
    DuplicateSerial {
        /// The serial number.
        serial: String,
    },
    /// Writing the XML failed.
    Write,
}

impl fmt::Display for PskcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Xml { message } => write!(f, "the seed file is not well-formed XML ({message}): ask the vendor for an intact copy"),
            Self::NotPskc => f.write_str("the file is not an RFC 6030 PSKC KeyContainer: ask the vendor for a PSKC 1.0 seed file"),
            Self::UnsupportedVersion { version } => write!(f, "PSKC version {version} is not supported: ask the vendor for version 1.0"),
            Self::KeyRequired => f.write_str("the seed file is encrypted: give the pre-shared key agreed with the vendor"),
            Self::WrongKey => f.write_str("the seed file names another pre-shared key: check which key the vendor used"),
            Self::UnsupportedEncryption { algorithm } => write!(f, "encryption method {algorithm} is not supported: ask the vendor for AES-128-CBC with a pre-shared key"),
            Self::UnsupportedMac { algorithm } => write!(f, "MAC method {algorithm} is not supported: ask the vendor for HMAC-SHA1 or HMAC-SHA256"),
            Self::MissingMac => f.write_str("the seed file's encrypted values have no MAC: ask the vendor for a file with a MACMethod"),
            Self::MacMismatch { package } => write!(f, "the seed file does not decrypt under this key, or key package {package} was altered or damaged: do not import it"),
            Self::PlainValueInEncryptedFile { package, field } => write!(f, "key package {package} has a plain (unencrypted, unauthenticated) {field} in an encrypted seed file: the file was altered; do not import it"),
            Self::Read { message } => write!(f, "the seed file could not be read ({message})"),
            Self::TooLarge { bytes, max } => write!(f, "the seed file is {bytes} bytes, more than the limit of {max}: split it, or raise the limit with PskcLimits::max_bytes"),
            Self::TooManyKeyPackages { max } => write!(f, "the seed file has more than {max} key packages: split it, or raise the limit with PskcLimits::max_key_packages"),
            Self::Invalid { package, field } => write!(f, "key package {package} has a malformed {field}: ask the vendor for a corrected file"),
            Self::UnsupportedAlgorithm { package, algorithm } => write!(f, "key package {package} uses algorithm {algorithm}: only HOTP, TOTP and OCRA tokens can be imported"),
            Self::MissingSuite { package } => write!(f, "key package {package} is an OCRA (keypad) key without an AlgorithmParameters/Suite: ask the vendor for a file that names the token's OCRA suite"),
            Self::InvalidSuite { package, error } => write!(f, "key package {package} has a malformed OCRA suite: {error}"),
            Self::SuiteHashMismatch { serial, profile, suite } => write!(f, "token {serial}: its login codes use {} but its OCRA suite {}; a seed file names one hash per key: make the profile's hash the suite's", profile.name(), suite.name()),
            Self::UnsupportedFormat { package } => write!(f, "key package {package} does not show 6, 7 or 8 decimal digits: such tokens cannot be imported"),
            Self::MissingSerial { package } => write!(f, "key package {package} has no device serial number: the bank could not register it"),
            Self::MissingSecret { package } => write!(f, "key package {package} carries no secret: ask the vendor for a file with the secrets"),
            Self::Secret { package, error } => write!(f, "key package {package}: {error}"),
            Self::DuplicateSerial { serial } => write!(f, "serial number {serial} appears twice: nothing was imported; remove the duplicate and retry"),
            Self::Write => f.write_str("the seed file could not be written"),
        }
    }
}

impl core::error::Error for PskcError {}
