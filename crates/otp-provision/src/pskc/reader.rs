//! Reading: a key package's values (plain or decrypted and MAC-checked)
//! become a [`SeedRecord`]; whole files, or record by record.

use std::io::BufRead;

use base64::{Engine as _, engine::general_purpose::STANDARD as B64};
use otp_core::{Algorithm, Digits, Mode, OcraSuite, Secret, TimeStep};
use zeroize::Zeroizing;

use super::{
    Bytes, DEFAULT_TIME_INTERVAL, HOTP_URN, OCRA_URN, OCRA_URN_ALT, PSKC_NS, TOTP_URN,
    crypto::{
        Decryption, PreSharedKey, aes_cbc_decrypt, check_encryption_method, decryption, mac_ok,
    },
    error::PskcError,
    limits::PskcLimits,
    stream::{Header, read_stream},
    xml::Element,
};
use crate::{Profile, SeedRecord};

// ----------------------------------------------------------------------
// Reading.

/// One key package as read, before it becomes a [`SeedRecord`].
#[derive(Default)]
pub(crate) struct Package {
    pub(super) serial: Option<String>,
    pub(super) manufacturer: Option<String>,
    pub(super) model: Option<String>,
    pub(super) key_id: Option<String>,
    pub(super) issuer: Option<String>,
    pub(super) algorithm: Option<String>,
    pub(super) digits: Option<String>,
    pub(super) encoding: Option<String>,
    pub(super) suite: Option<String>,
    pub(super) secret: Option<Bytes>,
    pub(super) counter: Option<u64>,
    pub(super) t0: Option<u64>,
    pub(super) interval: Option<u64>,
    pub(super) drift: Option<i64>,
}

impl Package {
    pub(crate) fn into_record(self, package: usize) -> Result<SeedRecord, PskcError> {
        let algorithm = self.algorithm.unwrap_or_default();
        let totp = || {
            TimeStep::new(
                self.interval.unwrap_or(DEFAULT_TIME_INTERVAL),
                self.t0.unwrap_or(0),
            )
            .map(Mode::Totp)
            .map_err(|_| PskcError::Invalid {
                package,
                field: "TimeInterval",
            })
        };
        // A keypad token (OCRA): its login code is HOTP, or TOTP when the
        // package gives a `TimeInterval` (see the module's docs).
        let ocra = matches!(algorithm.as_str(), OCRA_URN | OCRA_URN_ALT);
        let kind = match algorithm.as_str() {
            HOTP_URN => Mode::Hotp,
            TOTP_URN => totp()?,
            _ if ocra && self.interval.is_some() => totp()?,
            _ if ocra => Mode::Hotp,
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
        // it in `AlgorithmParameters/Suite` (`HMAC-SHA256`, `SHA256`). An
        // OCRA key's `Suite` is its RFC 6287 suite, whose hash the login
        // code uses too.
        let (algorithm, suite) = match self.suite.as_deref().map(str::trim) {
            Some(text) if ocra && !text.is_empty() => {
                let suite = OcraSuite::parse(text)
                    .map_err(|error| PskcError::InvalidSuite { package, error })?;
                (suite.algorithm(), Some(suite))
            }
            _ if ocra => return Err(PskcError::MissingSuite { package }),
            None => (Algorithm::Sha1, None),
            Some(suite) => {
                let name = suite.trim_start_matches("HMAC-");
                let hash =
                    Algorithm::from_name(name).map_err(|_| PskcError::UnsupportedAlgorithm {
                        package,
                        algorithm: format!("{algorithm} ({suite})"),
                    })?;
                (hash, None)
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
        record.suite = suite;
        Ok(record)
    }
}

/// How the container's values are to be read.
pub(super) struct Context<'a> {
    /// The container has `EncryptionKey` or `MACMethod`: its values must
    /// be encrypted.
    pub(super) encrypted: bool,
    pub(super) dec: Option<Decryption<'a>>,
}

impl<'a> Context<'a> {
    pub(super) fn new(header: &Header, key: Option<&'a PreSharedKey>) -> Result<Self, PskcError> {
        Ok(Self {
            encrypted: header.encryption_key.is_some() || header.mac_method.is_some(),
            dec: decryption(header, key)?,
        })
    }
}

pub(super) fn b64(text: &str, package: usize, field: &'static str) -> Result<Bytes, PskcError> {
    let compact = Zeroizing::new(
        text.chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect::<String>(),
    );
    B64.decode(compact.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| PskcError::Invalid { package, field })
}

/// A value element's content: its plain text or its decrypted bytes.
pub(super) enum Raw<'e> {
    Plain(&'e str),
    Decrypted(Bytes),
}

/// The content of a value element (`Secret`, `Counter`, ...): its
/// `PlainValue`, or its `EncryptedValue` checked against `ValueMAC` and
/// decrypted. In an encrypted container a `PlainValue` is refused unless it
/// is an integer equal to `default` (the value the element's absence
/// means). Every failure to decrypt is [`PskcError::MacMismatch`].
pub(super) fn value<'e>(
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

pub(super) fn secret_value(
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

pub(super) fn int_value(
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

pub(super) fn u64_field(
    v: Option<i128>,
    package: usize,
    field: &'static str,
) -> Result<Option<u64>, PskcError> {
    v.map(|n| u64::try_from(n).map_err(|_| PskcError::Invalid { package, field }))
        .transpose()
}

/// Checks that the root is a PSKC 1.0 KeyContainer.
pub(super) fn check_root(root: &Element) -> Result<(), PskcError> {
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

/// The value elements of a key's `Data`, each at most once.
pub(super) const VALUE_FIELDS: [&str; 5] =
    ["Secret", "Counter", "Time", "TimeInterval", "TimeDrift"];

/// Reads one key package.
pub(super) fn read_package(
    kp: &Element,
    package: usize,
    ctx: &Context<'_>,
) -> Result<Package, PskcError> {
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
