//! Writing a seed file as a stream, plain or encrypted.

use core::fmt;
use std::io::Write;

use base64::{Engine as _, engine::general_purpose::STANDARD as B64};
use otp_core::{Algorithm, Mode};
use quick_xml::{
    Writer,
    events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event},
};
use rand::Rng;
use zeroize::Zeroizing;

use super::{
    AES128_CBC, DS_NS, HMAC_SHA1, HOTP_URN, OCRA_URN, PSKC_NS, TOTP_URN, XENC_NS,
    crypto::{PreSharedKey, aes_cbc_encrypt, hmac_sha1},
    error::PskcError,
};
use crate::SeedRecord;

// ----------------------------------------------------------------------
// Writing.

pub(super) fn w(r: std::io::Result<()>) -> Result<(), PskcError> {
    r.map_err(|_| PskcError::Write)
}

pub(super) fn text_el<W: Write>(
    wr: &mut Writer<W>,
    name: &str,
    text: &str,
) -> Result<(), PskcError> {
    w(wr.create_element(name)
        .write_text_content(BytesText::new(text))
        .map(|_| ()))
}

pub(super) fn cipher_data<W: Write>(wr: &mut Writer<W>, value: &[u8]) -> Result<(), PskcError> {
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
    /// (TOTP). A keypad token's record (one with a
    /// [`suite`](SeedRecord::suite)) is an OCRA key with its suite in
    /// `AlgorithmParameters/Suite`, its login code described as for a
    /// button token.
    ///
    /// # Errors
    ///
    /// [`PskcError::Write`] if the output fails; the file is then
    /// unfinished. [`PskcError::SuiteHashMismatch`] for a record whose
    /// profile's hash is not its suite's; nothing is written then, and the
    /// file can go on.
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
        // Checked before anything of the record is written.
        if let Some(suite) = record.suite
            && suite.algorithm() != record.profile.algorithm
        {
            return Err(PskcError::SuiteHashMismatch {
                serial: record.serial.clone(),
                profile: record.profile.algorithm,
                suite: suite.algorithm(),
            });
        }
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

pub(super) fn write_package<W: Write>(
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
    let urn = match (record.suite, record.profile.mode) {
        (Some(_), _) => OCRA_URN,
        (None, Mode::Hotp) => HOTP_URN,
        (None, Mode::Totp(_)) => TOTP_URN,
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

pub(super) fn write_key<W: Write>(
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
    // A keypad token's `Suite` is its OCRA suite (whose hash is the
    // profile's: checked by `PskcWriter::write`); a button token's is its
    // hash, unless SHA-1.
    let suite = match (record.suite, record.profile.algorithm) {
        (Some(suite), _) => Some(suite.as_str().to_owned()),
        (None, Algorithm::Sha1) => None,
        (None, other) => Some(format!("HMAC-{}", other.name())),
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
