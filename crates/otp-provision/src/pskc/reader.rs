//! RFC 6030 Portable Symmetric Key Container (PSKC) seed files: writing a
//! batch, reading any vendor's file.

use core::fmt;
use std::io::{BufRead, Write};

use aes::Aes128;
use base64::{Engine as _, engine::general_purpose::STANDARD as B64};
use cbc::cipher::{
    BlockModeDecrypt as _, BlockModeEncrypt as _, KeyIvInit as _,
    block_padding::{NoPadding, Pkcs7},
};
use hmac::{Hmac, Mac as _};
use otp_core::{Algorithm, Digits, KeyError, Mode, Secret, TimeStep};
use quick_xml::{
    Reader, Writer,
    events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event},
};
use rand::Rng;
use subtle::{
    Choice, ConditionallySelectable as _, ConstantTimeEq as _, ConstantTimeGreater as _,
    ConstantTimeLess as _,
};
use zeroize::{Zeroize as _, Zeroizing};

use crate::{Profile, SeedRecord};

const PSKC_NS: &str = "urn:ietf:params:xml:ns:keyprov:pskc";
const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const XENC_NS: &str = "http://www.w3.org/2001/04/xmlenc#";
const HOTP_URN: &str = "urn:ietf:params:xml:ns:keyprov:pskc:hotp";
const TOTP_URN: &str = "urn:ietf:params:xml:ns:keyprov:pskc:totp";
const AES128_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
const HMAC_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#hmac-sha1";
const HMAC_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256";
const HMAC_SHA224: &str = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha224";
const HMAC_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha384";
const HMAC_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha512";
/// A TOTP key's time step when its file gives no `TimeInterval`.
const DEFAULT_TIME_INTERVAL: u64 = 30;
/// Deepest element nesting accepted (RFC 6030 files nest about 8 deep).
const MAX_DEPTH: usize = 32;

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
    key: [u8; 16],
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
    /// [`read_pskc_records`]).
    Read {
        /// The operating system's message.
        message: String,
    },
    /// The input is larger than [`PskcLimits::max_bytes`].
    TooLarge {
        /// The input's size in bytes (read from a stream: the limit plus
        /// one, the rest unread).
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The file has more key packages than
    /// [`PskcLimits::max_key_packages`].
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
    /// A key's algorithm is not HOTP or TOTP.
    UnsupportedAlgorithm {
        /// The key package (1-based).
        package: usize,
        /// The algorithm URN.
        algorithm: String,
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
            Self::UnsupportedAlgorithm { package, algorithm } => write!(f, "key package {package} uses algorithm {algorithm}: only HOTP and TOTP tokens can be imported"),
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

/// Caps on what a seed-file import reads, so that a hostile file cannot
/// exhaust memory: the input's size, checked before parsing, and the
/// number of key packages, checked while parsing. Key packages are read
/// one at a time (the reader never holds a tree of the whole file), and
/// each may have at most 4,096 elements.
///
/// # Examples
///
/// ```
/// use otp_provision::PskcLimits;
/// let limits = PskcLimits::default();
/// assert_eq!(limits.max_bytes, 64 * 1024 * 1024);
/// assert_eq!(limits.max_key_packages, 1_000_000);
/// let big = limits.with_max_bytes(256 * 1024 * 1024).with_max_key_packages(2_000_000);
/// assert_eq!(big.max_bytes, 256 * 1024 * 1024);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PskcLimits {
    /// The largest input accepted, in bytes (default 64 MiB): larger is
    /// [`PskcError::TooLarge`].
    pub max_bytes: usize,
    /// The most key packages accepted (default 1,000,000): more is
    /// [`PskcError::TooManyKeyPackages`].
    pub max_key_packages: usize,
}

impl PskcLimits {
    /// The default [`PskcLimits::max_bytes`]: 64 MiB.
    pub const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;
    /// The default [`PskcLimits::max_key_packages`]: 1,000,000.
    pub const DEFAULT_MAX_KEY_PACKAGES: usize = 1_000_000;

    /// The defaults.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            max_bytes: Self::DEFAULT_MAX_BYTES,
            max_key_packages: Self::DEFAULT_MAX_KEY_PACKAGES,
        }
    }

    /// The same limits with another input size cap.
    #[must_use]
    pub const fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// The same limits with another key-package cap.
    #[must_use]
    pub const fn with_max_key_packages(mut self, max_key_packages: usize) -> Self {
        self.max_key_packages = max_key_packages;
        self
    }
}

impl Default for PskcLimits {
    fn default() -> Self {
        Self::new()
    }
}

// ----------------------------------------------------------------------
// A small element tree over quick-xml events, one top-level element of
// the container at a time.

/// Most elements kept for one top-level element of the container (a
/// `KeyPackage` of RFC 6030 has about 25).
const MAX_KEPT_ELEMENTS: usize = 4096;
/// Most attributes on one element (RFC 6030 uses at most 3).
const MAX_ATTRIBUTES: usize = 64;

#[derive(Debug, Default)]
struct Element {
    /// Local name (prefix stripped).
    name: String,
    /// Namespace prefix, if any.
    prefix: String,
    /// Attributes: (qualified name, value).
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Element>,
}

impl Element {
    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    fn path(&self, names: &[&str]) -> Option<&Element> {
        names.iter().try_fold(self, |e, n| e.child(n))
    }

    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k.rsplit(':').next() == Some(name) && !k.starts_with("xmlns"))
            .map(|(_, v)| v.as_str())
    }

    fn trimmed(&self) -> &str {
        self.text.trim()
    }
}

fn xml_error(e: impl fmt::Display) -> PskcError {
    PskcError::Xml {
        message: e.to_string(),
    }
}

/// A reader's error: the input failed ([`PskcError::Read`]), or is not
/// well-formed XML.
fn read_error(e: quick_xml::Error) -> PskcError {
    match e {
        quick_xml::Error::Io(io) => PskcError::Read {
            message: io.to_string(),
        },
        other => xml_error(other),
    }
}

fn split_name(qname: &str) -> (String, String) {
    match qname.split_once(':') {
        Some((p, l)) => (p.to_owned(), l.to_owned()),
        None => (String::new(), qname.to_owned()),
    }
}

/// An element's attributes, checked (well-formed, at most
/// [`MAX_ATTRIBUTES`]) and, if `keep`, returned.
fn attributes(
    start: &quick_xml::events::BytesStart<'_>,
    keep: bool,
) -> Result<Vec<(String, String)>, PskcError> {
    let mut attrs = Vec::new();
    for (n, a) in start.attributes().enumerate() {
        if n >= MAX_ATTRIBUTES {
            return Err(xml_error(format!(
                "an element has more than {MAX_ATTRIBUTES} attributes"
            )));
        }
        let a = a.map_err(xml_error)?;
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(xml_error)?;
        if keep {
            attrs.push((a.key.as_ref().to_owned(), value.into_owned()));
        }
    }
    Ok(attrs)
}

/// The container's header, read before its first key package.
#[derive(Default)]
struct Header {
    encryption_key: Option<Element>,
    mac_method: Option<Element>,
}

/// Reads a PSKC file as a stream: the root's attributes are checked at
/// once, `EncryptionKey` and `MACMethod` are kept, each `KeyPackage` is
/// built as a small tree, turned into a [`Package`], handed to `sink` and
/// dropped, and anything else is checked for well-formedness and skipped.
/// Memory is bounded by one key package, not by the file: the input is
/// read through a buffer of its own (zeroized when done), and more than
/// [`PskcLimits::max_bytes`] of it is [`PskcError::TooLarge`].
fn read_stream<R: BufRead>(
    input: R,
    key: Option<&PreSharedKey>,
    limits: &PskcLimits,
    sink: &mut dyn FnMut(usize, Package) -> Result<(), PskcError>,
) -> Result<(), PskcError> {
    // One byte past the limit is read, to tell "exactly the limit" from
    // "more".
    let max = u64::try_from(limits.max_bytes).unwrap_or(u64::MAX);
    let mut reader = Reader::from_reader(input.take(max.saturating_add(1)));
    reader.config_mut().expand_empty_elements = true;
    reader.config_mut().check_end_names = true;
    let too_large = PskcError::TooLarge {
        bytes: limits.max_bytes.saturating_add(1),
        max: limits.max_bytes,
    };
    let mut event_buf: Zeroizing<Vec<u8>> = Zeroizing::new(Vec::new());
    let mut depth = 0usize;
    let mut seen_root = false;
    let mut header = Header::default();
    let mut context: Option<Context<'_>> = None;
    // The top-level element being kept (a KeyPackage or part of the
    // header), innermost last; empty while skipping.
    let mut stack: Vec<Element> = Vec::new();
    let mut keeping = false;
    let mut kept = 0usize;
    let mut packages = 0usize;
    loop {
        let buf: &mut Vec<u8> = &mut event_buf;
        buf.clear();
        let event = reader.read_event_into(buf);
        if reader.get_ref().limit() == 0 {
            return Err(too_large);
        }
        match event.map_err(read_error)? {
            Event::Start(start) => {
                if depth == 0 && seen_root {
                    return Err(xml_error("content after the root element"));
                }
                if depth >= MAX_DEPTH {
                    return Err(xml_error("elements nested too deeply"));
                }
                depth = depth.saturating_add(1);
                let (prefix, name) = split_name(start.name().as_ref());
                if depth == 1 {
                    seen_root = true;
                    let root = Element {
                        name,
                        prefix,
                        attrs: attributes(&start, true)?,
                        ..Element::default()
                    };
                    check_root(&root)?;
                    continue;
                }
                if depth == 2 {
                    kept = 0;
                    keeping = match name.as_str() {
                        "KeyPackage" => {
                            packages = packages.saturating_add(1);
                            if packages > limits.max_key_packages {
                                return Err(PskcError::TooManyKeyPackages {
                                    max: limits.max_key_packages,
                                });
                            }
                            if context.is_none() {
                                context = Some(Context::new(&header, key)?);
                            }
                            true
                        }
                        "EncryptionKey" | "MACMethod" => {
                            let field = if name == "MACMethod" {
                                "MACMethod"
                            } else {
                                "EncryptionKey"
                            };
                            let twice = match field {
                                "MACMethod" => header.mac_method.is_some(),
                                _ => header.encryption_key.is_some(),
                            };
                            // RFC 6030's schema: at most one of each,
                            // before the key packages.
                            if twice || context.is_some() {
                                return Err(PskcError::Invalid { package: 0, field });
                            }
                            true
                        }
                        _ => false,
                    };
                }
                if keeping {
                    kept = kept.saturating_add(1);
                    if kept > MAX_KEPT_ELEMENTS {
                        return Err(xml_error(format!(
                            "a key package has more than {MAX_KEPT_ELEMENTS} elements"
                        )));
                    }
                    stack.push(Element {
                        name,
                        prefix,
                        attrs: attributes(&start, true)?,
                        ..Element::default()
                    });
                } else {
                    attributes(&start, false)?;
                }
            }
            Event::End(_) => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| xml_error("unexpected end tag"))?;
                if depth == 0 || !keeping {
                    continue;
                }
                let done = stack.pop().ok_or_else(|| xml_error("unexpected end tag"))?;
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(done);
                    continue;
                }
                keeping = false;
                match done.name.as_str() {
                    "KeyPackage" => {
                        let ctx = match context.take() {
                            Some(c) => c,
                            None => Context::new(&header, key)?,
                        };
                        let package = read_package(&done, packages, &ctx);
                        context = Some(ctx);
                        sink(packages, package?)?;
                    }
                    "MACMethod" => header.mac_method = Some(done),
                    _ => header.encryption_key = Some(done),
                }
            }
            Event::Text(t) => {
                let content = t.xml10_content();
                if let (true, Some(e)) = (keeping, stack.last_mut()) {
                    e.text.push_str(&content);
                } else if depth == 0 && !content.trim().is_empty() {
                    return Err(xml_error("text outside the root element"));
                }
            }
            Event::CData(c) => {
                if depth == 0 {
                    return Err(xml_error("text outside the root element"));
                }
                if let (true, Some(e)) = (keeping, stack.last_mut()) {
                    e.text.push_str(&c.into_inner());
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(xml_error)? {
                    Some(c) => c,
                    None => match r.into_inner().as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        _ => return Err(xml_error("unknown entity reference")),
                    },
                };
                if depth == 0 {
                    return Err(xml_error("text outside the root element"));
                }
                if let (true, Some(e)) = (keeping, stack.last_mut()) {
                    e.text.push(resolved);
                }
            }
            Event::DocType(_) => {
                return Err(xml_error("DOCTYPE declarations are not accepted"));
            }
            Event::Eof => break,
            Event::Empty(_) | Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if depth != 0 {
        return Err(xml_error("the file ends inside an element"));
    }
    if !seen_root {
        return Err(xml_error("no root element"));
    }
    if context.is_none() {
        // No key package: the header is still checked (a key is required,
        // the methods supported).
        Context::new(&header, key)?;
    }
    Ok(())
}

// ----------------------------------------------------------------------
// Reading.

/// Secret bytes read from a file: zeroized on drop.
type Bytes = Zeroizing<Vec<u8>>;

/// One key package as read, before it becomes a [`SeedRecord`].
#[derive(Default)]
pub(crate) struct Package {
    serial: Option<String>,
    manufacturer: Option<String>,
    model: Option<String>,
    key_id: Option<String>,
    issuer: Option<String>,
    algorithm: Option<String>,
    digits: Option<String>,
    encoding: Option<String>,
    suite: Option<String>,
    secret: Option<Bytes>,
    counter: Option<u64>,
    t0: Option<u64>,
    interval: Option<u64>,
    drift: Option<i64>,
}

impl Package {
    pub(crate) fn into_record(self, package: usize) -> Result<SeedRecord, PskcError> {
        let algorithm = self.algorithm.unwrap_or_default();
        let kind = match algorithm.as_str() {
            HOTP_URN => Mode::Hotp,
            TOTP_URN => Mode::Totp(
                TimeStep::new(
                    self.interval.unwrap_or(DEFAULT_TIME_INTERVAL),
                    self.t0.unwrap_or(0),
                )
                .map_err(|_| PskcError::Invalid {
                    package,
                    field: "TimeInterval",
                })?,
            ),
            _ => {
                return Err(PskcError::UnsupportedAlgorithm { package, algorithm });
            }
        };
        let digits = match self.digits.as_deref() {
            None => Digits::Six,
            Some(d) => d
                .parse::<u8>()
                .ok()
                .and_then(|n| Digits::new(n).ok())
                .ok_or(PskcError::UnsupportedFormat { package })?,
        };
        if self
            .encoding
            .as_deref()
            .is_some_and(|e| !e.eq_ignore_ascii_case("DECIMAL"))
        {
            return Err(PskcError::UnsupportedFormat { package });
        }
        let serial = self
            .serial
            .filter(|s| !s.is_empty())
            .ok_or(PskcError::MissingSerial { package })?;
        let bytes = self.secret.ok_or(PskcError::MissingSecret { package })?;
        let secret =
            Secret::from_bytes(&bytes).map_err(|error| PskcError::Secret { package, error })?;
        // RFC 6030 names no hash for HOTP/TOTP (HOTP is SHA-1); vendors put
        // it in `AlgorithmParameters/Suite` (`HMAC-SHA256`, `SHA256`).
        let algorithm = match self.suite.as_deref() {
            None => Algorithm::Sha1,
            Some(suite) => {
                let name = suite.trim().trim_start_matches("HMAC-");
                Algorithm::from_name(name).map_err(|_| PskcError::UnsupportedAlgorithm {
                    package,
                    algorithm: format!("{algorithm} ({suite})"),
                })?
            }
        };
        let profile = Profile {
            mode: kind,
            algorithm,
            digits,
        };
        let mut record = SeedRecord::new(serial, secret, profile);
        record.manufacturer = self.manufacturer.unwrap_or_default();
        record.model = self.model.unwrap_or_default();
        record.issuer = self.issuer;
        record.key_id = self.key_id.unwrap_or_default();
        record.counter = self.counter.unwrap_or(0);
        record.time_drift = self.drift.unwrap_or(0);
        Ok(record)
    }
}

enum MacAlg {
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
struct MacKey {
    alg: MacAlg,
    key: Zeroizing<[u8; 64]>,
    valid: Choice,
}

/// What it takes to read the values of an encrypted file.
struct Decryption<'a> {
    psk: &'a PreSharedKey,
    mac: Option<MacKey>,
}

/// How the container's values are to be read.
struct Context<'a> {
    /// The container has `EncryptionKey` or `MACMethod`: its values must
    /// be encrypted.
    encrypted: bool,
    dec: Option<Decryption<'a>>,
}

impl<'a> Context<'a> {
    fn new(header: &Header, key: Option<&'a PreSharedKey>) -> Result<Self, PskcError> {
        Ok(Self {
            encrypted: header.encryption_key.is_some() || header.mac_method.is_some(),
            dec: decryption(header, key)?,
        })
    }
}

fn b64(text: &str, package: usize, field: &'static str) -> Result<Bytes, PskcError> {
    let compact = Zeroizing::new(
        text.chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect::<String>(),
    );
    B64.decode(compact.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| PskcError::Invalid { package, field })
}

/// AES-128-CBC decryption of `IV || ciphertext`, padding left in place;
/// `None` when the length is not a whole, non-zero number of blocks after
/// the IV (the length is public: no secret is involved in that test).
fn cbc_decrypt_raw(key: &[u8; 16], data: &[u8]) -> Option<Bytes> {
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
fn pkcs7(buf: &[u8]) -> (Choice, u8) {
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
fn aes_cbc_decrypt(key: &[u8; 16], data: &[u8]) -> Option<Bytes> {
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
fn unwrap_mac_key(psk: &[u8; 16], alg: MacAlg, data: &[u8]) -> MacKey {
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

fn check_encryption_method(e: &Element) -> Result<(), PskcError> {
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
fn mac_ok(mac: &MacKey, data: &[u8], tag: &[u8]) -> bool {
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

/// A value element's content: its plain text or its decrypted bytes.
enum Raw<'e> {
    Plain(&'e str),
    Decrypted(Bytes),
}

/// The content of a value element (`Secret`, `Counter`, ...): its
/// `PlainValue`, or its `EncryptedValue` checked against `ValueMAC` and
/// decrypted. In an encrypted container a `PlainValue` is refused unless it
/// is an integer equal to `default` (the value the element's absence
/// means). Every failure to decrypt is [`PskcError::MacMismatch`].
fn value<'e>(
    e: &'e Element,
    package: usize,
    field: &'static str,
    ctx: &Context<'_>,
    default: Option<i128>,
) -> Result<Option<Raw<'e>>, PskcError> {
    let plain = e.child("PlainValue");
    if ctx.encrypted
        && let Some(p) = plain
    {
        let harmless = default.is_some_and(|d| p.trimmed().parse::<i128>().ok() == Some(d));
        if !harmless {
            return Err(PskcError::PlainValueInEncryptedFile { package, field });
        }
    }
    let encrypted = e.child("EncryptedValue");
    if e.children("PlainValue")
        .count()
        .saturating_add(e.children("EncryptedValue").count())
        > 1
    {
        return Err(PskcError::Invalid { package, field });
    }
    if let Some(p) = plain {
        return Ok(Some(Raw::Plain(p.trimmed())));
    }
    let Some(enc) = encrypted else {
        return Ok(None);
    };
    let dec = ctx.dec.as_ref().ok_or(PskcError::KeyRequired)?;
    check_encryption_method(enc)?;
    let cipher = enc
        .path(&["CipherData", "CipherValue"])
        .ok_or(PskcError::Invalid { package, field })?;
    let data = b64(cipher.trimmed(), package, field)?;
    let mac = dec.mac.as_ref().ok_or(PskcError::MissingMac)?;
    let tag = e
        .child("ValueMAC")
        .ok_or(PskcError::MissingMac)
        .and_then(|m| b64(m.trimmed(), package, "ValueMAC"))?;
    if !mac_ok(mac, &data, &tag) {
        return Err(PskcError::MacMismatch { package });
    }
    aes_cbc_decrypt(&dec.psk.key, &data)
        .map(|v| Some(Raw::Decrypted(v)))
        .ok_or(PskcError::MacMismatch { package })
}

fn secret_value(
    e: &Element,
    package: usize,
    ctx: &Context<'_>,
) -> Result<Option<Bytes>, PskcError> {
    match value(e, package, "Secret", ctx, None)? {
        None => Ok(None),
        Some(Raw::Decrypted(v)) => Ok(Some(v)),
        Some(Raw::Plain(text)) => b64(text, package, "Secret").map(Some),
    }
}

fn int_value(
    e: &Element,
    package: usize,
    field: &'static str,
    ctx: &Context<'_>,
    default: i128,
) -> Result<Option<i128>, PskcError> {
    let bad = PskcError::Invalid { package, field };
    match value(e, package, field, ctx, Some(default))? {
        None => Ok(None),
        Some(Raw::Plain(text)) => text.parse::<i128>().map(Some).map_err(|_| bad),
        // An encrypted integer is its big-endian bytes; a signed one
        // (`TimeDrift`) written in 8 bytes is two's complement.
        Some(Raw::Decrypted(bytes)) => match <[u8; 8]>::try_from(bytes.as_slice()) {
            Ok(b) if field == "TimeDrift" => Ok(Some(i128::from(i64::from_be_bytes(b)))),
            _ if bytes.len() > 8 => Err(bad),
            _ => Ok(Some(
                bytes
                    .iter()
                    .fold(0i128, |acc, b| (acc << 8) | i128::from(*b)),
            )),
        },
    }
}

fn u64_field(
    v: Option<i128>,
    package: usize,
    field: &'static str,
) -> Result<Option<u64>, PskcError> {
    v.map(|n| u64::try_from(n).map_err(|_| PskcError::Invalid { package, field }))
        .transpose()
}

/// Checks that the root is a PSKC 1.0 KeyContainer.
fn check_root(root: &Element) -> Result<(), PskcError> {
    let ns_attr = if root.prefix.is_empty() {
        "xmlns".to_owned()
    } else {
        format!("xmlns:{}", root.prefix)
    };
    let ns = root
        .attrs
        .iter()
        .find(|(k, _)| *k == ns_attr)
        .map(|(_, v)| v.as_str());
    if root.name != "KeyContainer" || ns != Some(PSKC_NS) {
        return Err(PskcError::NotPskc);
    }
    match root.attr("Version") {
        Some("1.0") => Ok(()),
        other => Err(PskcError::UnsupportedVersion {
            version: other.unwrap_or("(none)").to_owned(),
        }),
    }
}

fn decryption<'a>(
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

/// The value elements of a key's `Data`, each at most once.
const VALUE_FIELDS: [&str; 5] = ["Secret", "Counter", "Time", "TimeInterval", "TimeDrift"];

/// Reads one key package.
fn read_package(kp: &Element, package: usize, ctx: &Context<'_>) -> Result<Package, PskcError> {
    let dev = kp.child("DeviceInfo");
    let text = |name: &str| {
        dev.and_then(|d| d.child(name))
            .map(|e| e.trimmed().to_owned())
    };
    let mut p = Package {
        serial: text("SerialNo"),
        manufacturer: text("Manufacturer"),
        model: text("Model"),
        ..Package::default()
    };
    let Some(k) = kp.child("Key") else {
        return Ok(p);
    };
    p.key_id = k.attr("Id").map(str::to_owned);
    p.algorithm = k.attr("Algorithm").map(str::to_owned);
    p.issuer = k.child("Issuer").map(|e| e.trimmed().to_owned());
    p.suite = k
        .path(&["AlgorithmParameters", "Suite"])
        .map(|e| e.trimmed().to_owned());
    if let Some(rf) = k.path(&["AlgorithmParameters", "ResponseFormat"]) {
        p.digits = rf.attr("Length").map(str::to_owned);
        p.encoding = rf.attr("Encoding").map(str::to_owned);
    }
    let Some(data) = k.child("Data") else {
        return Ok(p);
    };
    for field in VALUE_FIELDS {
        if data.children(field).nth(1).is_some() {
            return Err(PskcError::Invalid { package, field });
        }
    }
    if let Some(s) = data.child("Secret") {
        p.secret = secret_value(s, package, ctx)?;
    }
    // The defaults are what an absent element means (see `into_record`).
    let int = |name: &'static str, default: i128| -> Result<Option<i128>, PskcError> {
        data.child(name)
            .map(|e| int_value(e, package, name, ctx, default))
            .transpose()
            .map(Option::flatten)
    };
    p.counter = u64_field(int("Counter", 0)?, package, "Counter")?;
    p.t0 = u64_field(int("Time", 0)?, package, "Time")?;
    p.interval = u64_field(
        int("TimeInterval", i128::from(DEFAULT_TIME_INTERVAL))?,
        package,
        "TimeInterval",
    )?;
    p.drift = int("TimeDrift", 0)?
        .map(|n| {
            i64::try_from(n).map_err(|_| PskcError::Invalid {
                package,
                field: "TimeDrift",
            })
        })
        .transpose()?;
    Ok(p)
}

/// Reads every key package of a PSKC file, handing each to `sink` in
/// order; stops at the first error. A file larger than
/// [`PskcLimits::max_bytes`] is refused before parsing.
pub(crate) fn read_pskc(
    xml: &str,
    key: Option<&PreSharedKey>,
    limits: &PskcLimits,
    mut sink: impl FnMut(usize, Package) -> Result<(), PskcError>,
) -> Result<(), PskcError> {
    if xml.len() > limits.max_bytes {
        return Err(PskcError::TooLarge {
            bytes: xml.len(),
            max: limits.max_bytes,
        });
    }
    read_stream(xml.as_bytes(), key, limits, &mut sink)
}

/// Reads a PSKC seed file from a stream, one key package at a time:
/// each becomes a [`SeedRecord`] (as an [`Inventory`](crate::Inventory)
/// import would make it) and is handed to `sink`, in the file's order,
/// then dropped. Memory does not grow with the file: a file of a million
/// keys is read in the space of one. The checks are an import's (XML,
/// version, key name, MACs, every field, the [`PskcLimits`]), except that
/// a serial that appears twice is the caller's to notice (an inventory
/// refuses it). Give a buffered reader (`std::io::BufReader`).
///
/// Returns how many records were read. A record is handed over as soon
/// as its key package is read: an error later in the file (a damaged
/// package, a MAC mismatch, a truncated file) comes after the records
/// before it, so act on them only once the whole file has read without
/// error.
///
/// # Errors
///
/// Any [`PskcError`] of [`Inventory::from_pskc`](crate::Inventory::from_pskc);
/// [`PskcError::Read`] if `input` fails; [`PskcError::TooLarge`] once the
/// input passes [`PskcLimits::max_bytes`] (its `bytes` is then the limit
/// plus one: the rest is not read); any error `sink` returns.
///
/// # Examples
///
/// ```
/// use otp_provision::{PreSharedKey, Profile, PskcLimits, PskcWriter, SeedRecord, read_pskc_records};
/// use rand::{SeedableRng as _, rngs::{ChaCha20Rng, SysRng}};
/// let psk = PreSharedKey::new(*b"0123456789abcdef");
/// let mut file = PskcWriter::new(Vec::new(), Some(&psk), ChaCha20Rng::try_from_rng(&mut SysRng)?)?;
/// for i in 0..4 {
///     let secret = otp_core::Secret::from_bytes(&[7; 20])?;
///     file.write(&SeedRecord::new(format!("VT{i:010}"), secret, Profile::default()))?;
/// }
/// let bytes = file.finish()?;
/// let mut serials = Vec::new();
/// let read = read_pskc_records(&bytes[..], Some(&psk), &PskcLimits::default(), |record| {
///     assert_eq!(record.secret().len(), 20);
///     serials.push(record.serial);
///     Ok(())
/// })?;
/// assert_eq!(read, 4);
/// assert_eq!(serials[3], "VT0000000003");
/// # Ok::<(), Box<dyn core::error::Error>>(())
/// ```
pub fn read_pskc_records<R: BufRead>(
    input: R,
    key: Option<&PreSharedKey>,
    limits: &PskcLimits,
    mut sink: impl FnMut(SeedRecord) -> Result<(), PskcError>,
) -> Result<usize, PskcError> {
    let mut read = 0usize;
    read_stream(input, key, limits, &mut |index, package| {
        sink(package.into_record(index)?)?;
        read = index;
        Ok(())
    })?;
    Ok(read)
}

/// What a PSKC file holds about one key, as read by [`read_pskc_keys`]:
/// public fields only (the secret stays inside; use an
/// [`Inventory`](crate::Inventory) to import).
///
/// # Examples
///
/// ```
/// let xml = r#"<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc">
///   <KeyPackage><Key Id="1" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:hotp"/></KeyPackage>
/// </KeyContainer>"#;
/// let keys = otp_provision::read_pskc_keys(xml, None)?;
/// assert_eq!(keys[0].key_id.as_deref(), Some("1"));
/// assert!(!keys[0].has_secret);
/// # Ok::<(), otp_provision::PskcError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PskcKeyInfo {
    /// `DeviceInfo/SerialNo`.
    pub serial: Option<String>,
    /// `DeviceInfo/Manufacturer`.
    pub manufacturer: Option<String>,
    /// `Key/@Id`.
    pub key_id: Option<String>,
    /// `Key/@Algorithm`.
    pub algorithm: Option<String>,
    /// `ResponseFormat/@Length`.
    pub digits: Option<String>,
    /// `true` when a secret was present (and, if encrypted, decrypted
    /// with a matching MAC).
    pub has_secret: bool,
    /// The secret's length in bytes, if present.
    pub secret_len: Option<usize>,
    /// `Data/Counter`.
    pub counter: Option<u64>,
    /// `Data/TimeInterval`.
    pub time_interval: Option<u64>,
}

/// Reads a PSKC file leniently, without turning packages into records:
/// every key package's public fields, for files whose packages a bank would
/// not import (PIN keys, OCRA, short test secrets). Container-level checks
/// (XML, version, key, MACs) are as strict as for
/// [`Inventory::from_pskc`](crate::Inventory::from_pskc).
///
/// # Errors
///
/// Any container-level [`PskcError`], a malformed field, or a MAC
/// mismatch.
///
/// # Examples
///
/// See [`PskcKeyInfo`].
pub fn read_pskc_keys(
    xml: &str,
    key: Option<&PreSharedKey>,
) -> Result<Vec<PskcKeyInfo>, PskcError> {
    read_pskc_keys_with_limits(xml, key, &PskcLimits::default())
}

/// As [`read_pskc_keys`], with other [`PskcLimits`] than the defaults.
///
/// # Errors
///
/// As [`read_pskc_keys`].
///
/// # Examples
///
/// ```
/// use otp_provision::{PskcError, PskcLimits, read_pskc_keys_with_limits};
/// let xml = r#"<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc">
///   <KeyPackage/><KeyPackage/></KeyContainer>"#;
/// let one = PskcLimits::default().with_max_key_packages(1);
/// assert_eq!(
///     read_pskc_keys_with_limits(xml, None, &one),
///     Err(PskcError::TooManyKeyPackages { max: 1 })
/// );
/// ```
pub fn read_pskc_keys_with_limits(
    xml: &str,
    key: Option<&PreSharedKey>,
    limits: &PskcLimits,
) -> Result<Vec<PskcKeyInfo>, PskcError> {
    let mut keys = Vec::new();
    read_pskc(xml, key, limits, |_, p| {
        keys.push(PskcKeyInfo {
            serial: p.serial,
            manufacturer: p.manufacturer,
            key_id: p.key_id,
            algorithm: p.algorithm,
            digits: p.digits,
            has_secret: p.secret.is_some(),
            secret_len: p.secret.as_ref().map(|s| s.len()),
            counter: p.counter,
            time_interval: p.interval,
        });
        Ok(())
    })?;
    Ok(keys)
}

// ----------------------------------------------------------------------
// Writing.

fn w(r: std::io::Result<()>) -> Result<(), PskcError> {
    r.map_err(|_| PskcError::Write)
}

fn aes_cbc_encrypt(key: &[u8; 16], rng: &mut impl Rng, plain: &[u8]) -> Vec<u8> {
    let mut iv = [0u8; 16];
    rng.fill_bytes(&mut iv);
    let enc = cbc::Encryptor::<Aes128>::new(&(*key).into(), &iv.into());
    let ct = enc.encrypt_padded_vec::<Pkcs7>(plain);
    let mut out = Vec::with_capacity(16usize.saturating_add(ct.len()));
    out.extend_from_slice(&iv);
    out.extend_from_slice(&ct);
    out
}

fn hmac_sha1(key: &[u8], data: &[u8]) -> Vec<u8> {
    let Ok(mut m) = <Hmac<sha1::Sha1> as hmac::KeyInit>::new_from_slice(key) else {
        return Vec::new();
    };
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn text_el<W: Write>(wr: &mut Writer<W>, name: &str, text: &str) -> Result<(), PskcError> {
    w(wr.create_element(name)
        .write_text_content(BytesText::new(text))
        .map(|_| ()))
}

fn cipher_data<W: Write>(wr: &mut Writer<W>, value: &[u8]) -> Result<(), PskcError> {
    w(wr.create_element("xenc:EncryptionMethod")
        .with_attribute(("Algorithm", AES128_CBC))
        .write_empty()
        .map(|_| ()))?;
    let encoded = B64.encode(value);
    w(wr.create_element("xenc:CipherData")
        .write_inner_content(|wr| {
            wr.create_element("xenc:CipherValue")
                .write_text_content(BytesText::new(&encoded))
                .map(|_| ())
        })
        .map(|_| ()))
}

/// A PSKC 1.0 (RFC 6030) seed file written as a stream, one key package
/// at a time, into any [`Write`]: memory does not grow with the number of
/// keys. [`PskcWriter::new`] writes the XML declaration, opens the
/// `KeyContainer` and, with a pre-shared key, writes its `EncryptionKey`
/// and `MACMethod` (a fresh HMAC-SHA1 key, wrapped under the pre-shared
/// key); [`PskcWriter::write`] writes one `KeyPackage`;
/// [`PskcWriter::finish`] closes the container and hands back the output.
/// A file left unfinished (an error, or the writer dropped) is not a
/// well-formed document: readers refuse it.
///
/// Plain files carry the secrets in base64; encrypted ones carry every
/// value (secret, counter, time parameters) encrypted with AES-128-CBC
/// under a fresh IV and authenticated with HMAC-SHA1 (RFC 6030 §6.1). The
/// IVs and the MAC key come from `rng`, which must be a CSPRNG (for
/// instance one from otp-token's `Factory::seed_file_writer`).
///
/// The same records and the same random source give the same bytes as
/// otp-token's `Batch::seed_file`. Write into a buffered
/// writer (`std::io::BufWriter`): the XML is written in many small pieces.
///
/// # Examples
///
/// ```
/// use otp_provision::{Inventory, PreSharedKey, Profile, PskcWriter, SeedRecord};
/// use rand::{SeedableRng as _, rngs::{ChaCha20Rng, SysRng}};
/// let psk = PreSharedKey::new(*b"0123456789abcdef");
/// // A CSPRNG for the IVs and the MAC key, seeded by the operating system.
/// let rng = ChaCha20Rng::try_from_rng(&mut SysRng)?;
/// let mut file = PskcWriter::new(Vec::new(), Some(&psk), rng)?;
/// for i in 0..3 {
///     let secret = otp_core::Secret::from_bytes(&[7; 20])?;
///     file.write(&SeedRecord::new(format!("VT{i:010}"), secret, Profile::default()))?;
/// }
/// let bytes = file.finish()?;
/// let inventory = Inventory::from_pskc(std::str::from_utf8(&bytes)?, Some(&psk))?;
/// assert_eq!(inventory.len(), 3);
/// # Ok::<(), Box<dyn core::error::Error>>(())
/// ```
pub struct PskcWriter<W: Write, R: Rng> {
    xml: Writer<W>,
    /// The pre-shared key of an encrypted file (a copy, zeroized on drop).
    key: Option<Zeroizing<[u8; 16]>>,
    /// The file's HMAC key (drawn for plain files too, unused there: the
    /// random source is used as it always was).
    mac_key: Zeroizing<[u8; 20]>,
    rng: R,
    written: usize,
}

impl<W: Write, R: Rng> fmt::Debug for PskcWriter<W, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PskcWriter")
            .field("encrypted", &self.key.is_some())
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

impl<W: Write, R: Rng> PskcWriter<W, R> {
    /// Starts a seed file in `out`: the declaration, the `KeyContainer`
    /// start tag and, with `key`, the `EncryptionKey` (named after the
    /// key, or `Pre-shared-key`) and the `MACMethod` with its wrapped MAC
    /// key. Without `key` the secrets are written in plain base64.
    ///
    /// # Errors
    ///
    /// [`PskcError::Write`] if `out` fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use rand::SeedableRng as _;
    /// let rng = rand::rngs::ChaCha20Rng::from_seed([0; 32]);
    /// let file = otp_provision::PskcWriter::new(Vec::new(), None, rng)?.finish()?;
    /// assert!(String::from_utf8(file)?.ends_with("</KeyContainer>"));
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn new(out: W, key: Option<&PreSharedKey>, mut rng: R) -> Result<Self, PskcError> {
        let mut xml = Writer::new_with_indent(out, b' ', 2);
        w(xml.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None))))?;
        let mut mac_key = Zeroizing::new([0u8; 20]);
        rng.fill_bytes(mac_key.as_mut());
        let mut start = BytesStart::new("KeyContainer");
        start.push_attribute(("Version", "1.0"));
        start.push_attribute(("xmlns", PSKC_NS));
        if key.is_some() {
            start.push_attribute(("xmlns:ds", DS_NS));
            start.push_attribute(("xmlns:xenc", XENC_NS));
        }
        w(xml.write_event(Event::Start(start)))?;
        let mut writer = Self {
            xml,
            key: key.map(|psk| Zeroizing::new(psk.key)),
            mac_key,
            rng,
            written: 0,
        };
        if let Some(psk) = key {
            writer.write_header(psk.name().unwrap_or("Pre-shared-key"))?;
        }
        Ok(writer)
    }

    /// `EncryptionKey` and `MACMethod`.
    fn write_header(&mut self, name: &str) -> Result<(), PskcError> {
        let Some(psk) = self.key.as_deref() else {
            return Ok(());
        };
        w(self
            .xml
            .create_element("EncryptionKey")
            .write_inner_content(|wr| {
                wr.create_element("ds:KeyName")
                    .write_text_content(BytesText::new(name))
                    .map(|_| ())
            })
            .map(|_| ()))?;
        let wrapped = aes_cbc_encrypt(psk, &mut self.rng, self.mac_key.as_ref());
        let mut inner = Ok(());
        w(self
            .xml
            .create_element("MACMethod")
            .with_attribute(("Algorithm", HMAC_SHA1))
            .write_inner_content(|wr| {
                wr.create_element("MACKey").write_inner_content(|wr| {
                    inner = cipher_data(wr, &wrapped);
                    Ok(())
                })?;
                Ok(())
            })
            .map(|_| ()))?;
        inner
    }

    /// Writes one record as a `KeyPackage`: `DeviceInfo` (manufacturer,
    /// serial, model), then the `Key` (its `Id` is the record's key ID, or
    /// its serial) with the issuer, the algorithm's parameters and the
    /// data: the secret and the counter (HOTP) or the time parameters
    /// (TOTP).
    ///
    /// # Errors
    ///
    /// [`PskcError::Write`] if the output fails; the file is then
    /// unfinished.
    ///
    /// # Examples
    ///
    /// See [`PskcWriter`].
    pub fn write(&mut self, record: &SeedRecord) -> Result<(), PskcError> {
        let Self {
            xml,
            key,
            mac_key,
            rng,
            written,
        } = self;
        let key = key.as_deref();
        let mut inner = Ok(());
        w(xml
            .create_element("KeyPackage")
            .write_inner_content(|wr| {
                inner = write_package(wr, record, key, rng, mac_key);
                Ok(())
            })
            .map(|_| ()))?;
        inner?;
        *written = written.saturating_add(1);
        Ok(())
    }

    /// How many key packages have been written.
    ///
    /// # Examples
    ///
    /// ```
    /// use rand::SeedableRng as _;
    /// let rng = rand::rngs::ChaCha20Rng::from_seed([0; 32]);
    /// let file = otp_provision::PskcWriter::new(std::io::sink(), None, rng)?;
    /// assert_eq!(file.written(), 0);
    /// # Ok::<(), otp_provision::PskcError>(())
    /// ```
    #[must_use]
    pub const fn written(&self) -> usize {
        self.written
    }

    /// The output, to look at (for instance how much was written, or why
    /// it failed after a [`PskcError::Write`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use rand::SeedableRng as _;
    /// let rng = rand::rngs::ChaCha20Rng::from_seed([0; 32]);
    /// let file = otp_provision::PskcWriter::new(Vec::new(), None, rng)?;
    /// assert!(file.get_ref().starts_with(b"<?xml version=\"1.0\""));
    /// # Ok::<(), otp_provision::PskcError>(())
    /// ```
    #[must_use]
    pub const fn get_ref(&self) -> &W {
        self.xml.get_ref()
    }

    /// Closes the `KeyContainer` and returns the output (not flushed: a
    /// `BufWriter` is the caller's to flush).
    ///
    /// # Errors
    ///
    /// [`PskcError::Write`] if the output fails.
    ///
    /// # Examples
    ///
    /// See [`PskcWriter`].
    pub fn finish(mut self) -> Result<W, PskcError> {
        w(self
            .xml
            .write_event(Event::End(BytesEnd::new("KeyContainer"))))?;
        Ok(self.xml.into_inner())
    }
}

fn write_package<W: Write>(
    wr: &mut Writer<W>,
    record: &SeedRecord,
    key: Option<&[u8; 16]>,
    rng: &mut impl Rng,
    mac_key: &[u8; 20],
) -> Result<(), PskcError> {
    let mut inner = Ok(());
    w(wr.create_element("DeviceInfo")
        .write_inner_content(|wr| {
            inner = (|| {
                if !record.manufacturer.is_empty() {
                    text_el(wr, "Manufacturer", &record.manufacturer)?;
                }
                text_el(wr, "SerialNo", &record.serial)?;
                if !record.model.is_empty() {
                    text_el(wr, "Model", &record.model)?;
                }
                Ok(())
            })();
            Ok(())
        })
        .map(|_| ()))?;
    inner?;
    let urn = match record.profile.mode {
        Mode::Hotp => HOTP_URN,
        Mode::Totp(_) => TOTP_URN,
    };
    let id = if record.key_id.is_empty() {
        record.serial.as_str()
    } else {
        record.key_id.as_str()
    };
    let mut inner = Ok(());
    w(wr.create_element("Key")
        .with_attribute(("Id", id))
        .with_attribute(("Algorithm", urn))
        .write_inner_content(|wr| {
            inner = write_key(wr, record, key, rng, mac_key);
            Ok(())
        })
        .map(|_| ()))?;
    inner
}

fn write_key<W: Write>(
    wr: &mut Writer<W>,
    record: &SeedRecord,
    key: Option<&[u8; 16]>,
    rng: &mut impl Rng,
    mac_key: &[u8; 20],
) -> Result<(), PskcError> {
    if let Some(issuer) = &record.issuer {
        text_el(wr, "Issuer", issuer)?;
    }
    let digits = record.profile.digits.get().to_string();
    let suite = match record.profile.algorithm {
        Algorithm::Sha1 => None,
        other => Some(format!("HMAC-{}", other.name())),
    };
    w(wr.create_element("AlgorithmParameters")
        .write_inner_content(|wr| {
            if let Some(suite) = &suite {
                wr.create_element("Suite")
                    .write_text_content(BytesText::new(suite))?;
            }
            wr.create_element("ResponseFormat")
                .with_attribute(("Length", digits.as_str()))
                .with_attribute(("Encoding", "DECIMAL"))
                .write_empty()
                .map(|_| ())
        })
        .map(|_| ()))?;
    let mut inner = Ok(());
    w(wr.create_element("Data")
        .write_inner_content(|wr| {
            inner = (|| {
                let mut secret_result = Ok(());
                wr.create_element("Secret")
                    .write_inner_content(|wr| {
                        secret_result = match key {
                            None => {
                                let encoded =
                                    Zeroizing::new(B64.encode(record.secret().expose_secret()));
                                text_el(wr, "PlainValue", &encoded)
                            }
                            Some(psk) => {
                                let data =
                                    aes_cbc_encrypt(psk, rng, record.secret().expose_secret());
                                let mac = hmac_sha1(mac_key, &data);
                                let mut enc = Ok(());
                                wr.create_element("EncryptedValue")
                                    .write_inner_content(|wr| {
                                        enc = cipher_data(wr, &data);
                                        Ok(())
                                    })?;
                                enc.and_then(|()| text_el(wr, "ValueMAC", &B64.encode(&mac)))
                            }
                        };
                        Ok(())
                    })
                    .map_err(|_| PskcError::Write)?;
                secret_result?;
                // In an encrypted file every value is encrypted and MACed
                // (readers refuse plain ones there); integers as their
                // 8 big-endian bytes, `TimeDrift` in two's complement.
                let mut int = |wr: &mut Writer<W>, name: &str, text: String, bytes: [u8; 8]| {
                    w(wr.create_element(name)
                        .write_inner_content(|wr| match key {
                            None => wr
                                .create_element("PlainValue")
                                .write_text_content(BytesText::new(&text))
                                .map(|_| ()),
                            Some(psk) => {
                                let data = aes_cbc_encrypt(psk, rng, &bytes);
                                let mac = hmac_sha1(mac_key, &data);
                                wr.create_element("EncryptedValue")
                                    .write_inner_content(|wr| {
                                        cipher_data(wr, &data)
                                            .map_err(|_| std::io::Error::other("cipher"))
                                    })?;
                                wr.create_element("ValueMAC")
                                    .write_text_content(BytesText::new(&B64.encode(&mac)))
                                    .map(|_| ())
                            }
                        })
                        .map(|_| ()))
                };
                match record.profile.mode {
                    Mode::Hotp => int(
                        wr,
                        "Counter",
                        record.counter.to_string(),
                        record.counter.to_be_bytes(),
                    )?,
                    Mode::Totp(step) => {
                        int(wr, "Time", step.t0().to_string(), step.t0().to_be_bytes())?;
                        int(
                            wr,
                            "TimeInterval",
                            step.seconds().to_string(),
                            step.seconds().to_be_bytes(),
                        )?;
                        if record.time_drift != 0 {
                            int(
                                wr,
                                "TimeDrift",
                                record.time_drift.to_string(),
                                record.time_drift.to_be_bytes(),
                            )?;
                        }
                    }
                }
                Ok(())
            })();
            Ok(())
        })
        .map(|_| ()))?;
    inner
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

    use rand::{SeedableRng as _, rngs::ChaCha20Rng};

    use super::*;

    /// Writes records as a PSKC 1.0 file, plain or encrypted with `key`
    /// (what otp-token's `Batch::seed_file` does).
    fn write_pskc(
        records: &[SeedRecord],
        key: Option<&PreSharedKey>,
        rng: &mut impl Rng,
    ) -> Result<String, PskcError> {
        let mut writer = PskcWriter::new(Vec::new(), key, rng)?;
        for record in records {
            writer.write(record)?;
        }
        String::from_utf8(writer.finish()?).map_err(|_| PskcError::Write)
    }

    fn read_back(records: &[SeedRecord], key: Option<&PreSharedKey>) -> Vec<SeedRecord> {
        let xml = write_pskc(records, key, &mut ChaCha20Rng::from_seed([3; 32])).unwrap();
        let mut out = Vec::new();
        read_pskc(&xml, key, &PskcLimits::default(), |n, p| {
            out.push(p.into_record(n)?);
            Ok(())
        })
        .unwrap();
        out
    }

    /// Records of every shape the writer knows: TOTP with and without a
    /// drift, HOTP with a counter, an issuer, a key ID, another hash and
    /// digit count, no manufacturer or model.
    fn assorted_records() -> Vec<SeedRecord> {
        let secret = |b: u8| Secret::from_bytes(&[b; 20]).unwrap();
        let mut a = SeedRecord::new("VT0000000001", secret(1), Profile::default());
        a.manufacturer = "otp-token".into();
        a.model = "VT-1".into();
        a.key_id = "VT0000000001".into();
        let mut b = SeedRecord::new(
            "VT0000000002",
            Secret::from_bytes(&[2; 32]).unwrap(),
            Profile {
                mode: Mode::Hotp,
                algorithm: Algorithm::Sha256,
                digits: Digits::Eight,
            },
        );
        b.counter = 42;
        b.issuer = Some("Bank & Co <1>".into());
        let mut c = SeedRecord::new(
            "VT0000000003",
            secret(3),
            Profile {
                mode: Mode::Totp(TimeStep::new(60, 1_000).unwrap()),
                ..Profile::default()
            },
        );
        c.time_drift = -2;
        c.manufacturer = "Acme".into();
        vec![a, b, c]
    }

    fn sha256_hex(bytes: &[u8]) -> String {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(bytes))
    }

    /// The seed file's bytes for given records and random source, pinned
    /// as `write_pskc` wrote them before the streaming writer: the same
    /// document, plain and encrypted.
    #[test]
    fn the_written_document_is_pinned() {
        let records = assorted_records();
        let psk = PreSharedKey::new([9; 16]).named("bank-2026");
        let plain = write_pskc(&records, None, &mut ChaCha20Rng::from_seed([5; 32])).unwrap();
        let encrypted =
            write_pskc(&records, Some(&psk), &mut ChaCha20Rng::from_seed([5; 32])).unwrap();
        let empty = write_pskc(&[], Some(&psk), &mut ChaCha20Rng::from_seed([5; 32])).unwrap();
        assert_eq!(
            [
                sha256_hex(plain.as_bytes()),
                sha256_hex(encrypted.as_bytes()),
                sha256_hex(empty.as_bytes())
            ],
            [
                "f1b0865da8d7c54a65ee47cecec6520356b77404d8a29da8e2a8993d08a9fdce",
                "ca2d286bd960ebc0020a17d1afa28d98e4ace413b9ba1cd8b4022bf84bf63b77",
                "50fb51b4c0f82fcd24ede3fa8d0e800759703b4b3af8ccf0c9e5b1c89f34cb2e",
            ]
        );
    }

    /// The streaming writer, one record at a time, writes the document
    /// `write_pskc` writes for the same records and random source.
    #[test]
    fn the_streaming_writer_writes_the_same_document() {
        let records = assorted_records();
        let psk = PreSharedKey::new([9; 16]).named("bank-2026");
        for key in [None, Some(&psk)] {
            let whole = write_pskc(&records, key, &mut ChaCha20Rng::from_seed([5; 32])).unwrap();
            let mut writer =
                PskcWriter::new(Vec::new(), key, ChaCha20Rng::from_seed([5; 32])).unwrap();
            for (n, record) in records.iter().enumerate() {
                assert_eq!(writer.written(), n);
                writer.write(record).unwrap();
            }
            let streamed = writer.finish().unwrap();
            assert_eq!(String::from_utf8(streamed).unwrap(), whole);
        }
    }

    /// A failing output is [`PskcError::Write`].
    #[test]
    fn a_failing_output_is_a_write_error() {
        struct Full(usize);
        impl Write for Full {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                if self.0 < buf.len() {
                    return Err(std::io::Error::other("disk full"));
                }
                self.0 -= buf.len();
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let rng = || ChaCha20Rng::from_seed([5; 32]);
        assert_eq!(
            PskcWriter::new(Full(10), None, rng()).unwrap_err(),
            PskcError::Write
        );
        let mut writer = PskcWriter::new(Full(200), None, rng()).unwrap();
        assert_eq!(
            writer.write(&assorted_records()[0]).unwrap_err(),
            PskcError::Write
        );
    }

    /// Read from a stream, the records are the ones written, in order,
    /// plain and encrypted.
    #[test]
    fn records_read_from_a_stream_are_the_ones_written() {
        let records = assorted_records();
        let psk = PreSharedKey::new([9; 16]).named("bank-2026");
        for key in [None, Some(&psk)] {
            let xml = write_pskc(&records, key, &mut ChaCha20Rng::from_seed([5; 32])).unwrap();
            let mut back = Vec::new();
            // A one-byte buffer: events split across every read.
            let input = std::io::BufReader::with_capacity(1, xml.as_bytes());
            let n = read_pskc_records(input, key, &PskcLimits::default(), |r| {
                back.push(r);
                Ok(())
            })
            .unwrap();
            assert_eq!(n, 3);
            let show = |r: &SeedRecord| {
                format!(
                    "{} {} {} {:?} {} {:?} {} {} {}",
                    r.serial,
                    r.manufacturer,
                    r.model,
                    r.issuer,
                    // The key ID is written as the serial when empty.
                    if r.key_id.is_empty() {
                        &r.serial
                    } else {
                        &r.key_id
                    },
                    r.profile,
                    r.counter,
                    r.time_drift,
                    hex::encode(r.secret().expose_secret())
                )
            };
            assert_eq!(
                back.iter().map(show).collect::<Vec<_>>(),
                records.iter().map(show).collect::<Vec<_>>()
            );
        }
    }

    /// A stream is cut at the size limit: one byte more than the limit is
    /// too large, the limit itself is not; the sink's error stops it.
    #[test]
    fn a_stream_past_the_size_limit_is_too_large() {
        let xml = write_pskc(
            &assorted_records(),
            None,
            &mut ChaCha20Rng::from_seed([5; 32]),
        )
        .unwrap();
        let read = |max: usize| {
            read_pskc_records(
                xml.as_bytes(),
                None,
                &PskcLimits::default().with_max_bytes(max),
                |_| Ok(()),
            )
        };
        assert_eq!(read(xml.len()), Ok(3));
        assert_eq!(
            read(xml.len() - 1),
            Err(PskcError::TooLarge {
                bytes: xml.len(),
                max: xml.len() - 1
            })
        );
        assert_eq!(
            read(100),
            Err(PskcError::TooLarge {
                bytes: 101,
                max: 100
            })
        );
        let mut seen = 0;
        let stopped = read_pskc_records(xml.as_bytes(), None, &PskcLimits::default(), |_| {
            seen += 1;
            Err(PskcError::Write)
        });
        assert_eq!((stopped, seen), (Err(PskcError::Write), 1));
    }

    /// An input that fails is [`PskcError::Read`], with its message.
    #[test]
    fn a_failing_input_is_a_read_error() {
        let xml = write_pskc(
            &assorted_records(),
            None,
            &mut ChaCha20Rng::from_seed([5; 32]),
        )
        .unwrap();
        let input = std::io::Read::chain(&xml.as_bytes()[..300], FailingRead);
        let e = read_pskc_records(
            std::io::BufReader::new(input),
            None,
            &PskcLimits::default(),
            |_| Ok(()),
        )
        .unwrap_err();
        assert_eq!(
            e,
            PskcError::Read {
                message: "the disk is on fire".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "the seed file could not be read (the disk is on fire)"
        );
    }

    struct FailingRead;
    impl std::io::Read for FailingRead {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("the disk is on fire"))
        }
    }

    /// Counters and time parameters, encrypted as 8 big-endian bytes (the
    /// drift in two's complement), read back exactly.
    #[test]
    fn encrypted_counters_and_drifts_round_trip() {
        let secret = || Secret::from_bytes(&[7; 20]).unwrap();
        let mut hotp = SeedRecord::new("VT0000000001", secret(), Profile::hotp());
        hotp.counter = u64::MAX - 1;
        let step = TimeStep::new(60, 1_000).unwrap();
        let totp = |drift: i64| {
            let mut r = SeedRecord::new(
                format!("VT00000001{:02}", drift.unsigned_abs() % 100),
                secret(),
                Profile {
                    mode: Mode::Totp(step),
                    ..Profile::default()
                },
            );
            r.time_drift = drift;
            r
        };
        let records = [hotp, totp(-3), totp(5), totp(i64::MIN), totp(i64::MAX)];
        for key in [None, Some(&PreSharedKey::new([9; 16]))] {
            let back = read_back(&records, key);
            assert_eq!(back[0].counter, u64::MAX - 1);
            assert_eq!(
                back.iter().map(|r| r.time_drift).collect::<Vec<_>>(),
                [0, -3, 5, i64::MIN, i64::MAX]
            );
            assert!(back[1..].iter().all(|r| r.profile.mode == Mode::Totp(step)));
        }
    }

    /// A MAC key stand-in and a real key do the same work: both are 64
    /// zero-padded bytes, and a valid 20-byte key gives the HMAC of the
    /// 20 bytes (zero padding up to the hash's block is HMAC's own).
    #[test]
    fn a_zero_padded_mac_key_gives_the_same_hmac() {
        let psk = [4u8; 16];
        let wrapped = aes_cbc_encrypt(&psk, &mut ChaCha20Rng::from_seed([1; 32]), &[0xab; 20]);
        let key = unwrap_mac_key(&psk, MacAlg::Sha1, &wrapped);
        assert!(bool::from(key.valid));
        assert_eq!(key.key[..20], [0xab; 20]);
        assert_eq!(key.key[20..], [0; 44]);
        let tag = hmac_sha1(&[0xab; 20], b"data");
        assert!(mac_ok(&key, b"data", &tag));
        let bad = unwrap_mac_key(&[5u8; 16], MacAlg::Sha1, &wrapped);
        assert_eq!(*bad.key, [0; 64]);
        assert!(!mac_ok(&bad, b"data", &tag));
    }

    /// The constant-time PKCS#7 check agrees with the definition.
    #[test]
    fn pkcs7_check_matches_the_definition() {
        for pad in 0u8..=20 {
            for fill in [pad, pad ^ 1] {
                let mut block = [0x33u8; 32];
                for b in block.iter_mut().rev().take(usize::from(pad.min(16))) {
                    *b = fill;
                }
                block[31] = pad;
                let expected = (1..=16).contains(&pad)
                    && block[32 - usize::from(pad)..].iter().all(|b| *b == pad);
                let (ok, got) = pkcs7(&block);
                assert_eq!(bool::from(ok), expected, "pad {pad} fill {fill}");
                assert_eq!(got, pad);
            }
        }
        assert!(!bool::from(pkcs7(&[1; 15]).0));
    }
}
