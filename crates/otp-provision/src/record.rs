//! The bank side: what a seed file says about one token, and the
//! inventory of all of them by serial number.

use std::collections::BTreeMap;

use otp_core::{Key, Mode, OcraSuite, Secret, TokenState};

use crate::{
    Profile, SerialNumber,
    pskc::{PskcError, PskcLimits},
};

/// Everything a seed file (or an `otpauth://` URI) says about one token:
/// its serial, secret and public parameters.
///
/// The serial is kept as written in the file: tokens of other vendors
/// have serials of other lengths (`1000133508267`, `306EUO4-00960`), so it
/// is not a [`SerialNumber`]; [`SeedRecord::serial_number`] checks it
/// against the 12-character form.
///
/// `Debug` shows the secret's length only.
///
/// # Examples
///
/// ```
/// use otp_provision::{Profile, SeedRecord};
/// let secret = otp_core::Secret::from_bytes(b"12345678901234567890")?;
/// let record = SeedRecord::new("VT0000000001", secret, Profile::default());
/// assert_eq!(record.profile.mode, otp_core::Mode::Totp(otp_core::TimeStep::default()));
/// assert!(format!("{record:?}").contains("len: 20"));
/// # Ok::<(), otp_core::KeyError>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct SeedRecord {
    /// The device serial number, as in the seed file.
    pub serial: String,
    /// The manufacturer named in the seed file (empty if none).
    pub manufacturer: String,
    /// The device model (empty if none).
    pub model: String,
    /// The key's issuer (the bank), if named.
    pub issuer: Option<String>,
    /// The key's identifier in the seed file (empty if none).
    pub key_id: String,
    /// Kind (with time step and T0), hash and digits.
    pub profile: Profile,
    /// The event counter's next value (HOTP; 0 for TOTP).
    pub counter: u64,
    /// Known drift of the token's clock, in time steps (TOTP; PSKC
    /// `TimeDrift`).
    pub time_drift: i64,
    /// A keypad (signing) token's RFC 6287 OCRA suite: the responses it
    /// gives to a challenge or a transaction typed on its keypad, with the
    /// same secret under the suite's hash. `None` for a button-only token.
    pub suite: Option<OcraSuite>,
    secret: Secret,
}

impl SeedRecord {
    /// A record with `serial`, `secret` and `profile`; other fields empty
    /// or zero.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = otp_provision::SeedRecord::new("X", otp_core::Secret::from_bytes(&[1; 16])?, otp_provision::Profile::hotp());
    /// assert_eq!(r.counter, 0);
    /// # Ok::<(), otp_core::KeyError>(())
    /// ```
    #[must_use]
    pub fn new(serial: impl Into<String>, secret: Secret, profile: Profile) -> Self {
        Self {
            serial: serial.into(),
            manufacturer: String::new(),
            model: String::new(),
            issuer: None,
            key_id: String::new(),
            profile,
            counter: 0,
            time_drift: 0,
            suite: None,
            secret,
        }
    }

    /// The token's secret. Every call site is a place to audit.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = otp_provision::SeedRecord::new("X", otp_core::Secret::from_bytes(&[1; 16])?, otp_provision::Profile::hotp());
    /// assert_eq!(r.secret().len(), 16);
    /// # Ok::<(), otp_core::KeyError>(())
    /// ```
    #[must_use]
    pub const fn secret(&self) -> &Secret {
        &self.secret
    }

    /// The key the bank verifies with.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = otp_provision::SeedRecord::new("X", otp_core::Secret::from_bytes(&[1; 16])?, otp_provision::Profile::default());
    /// assert_eq!(r.key().algorithm(), otp_core::Algorithm::Sha1);
    /// # Ok::<(), otp_core::KeyError>(())
    /// ```
    #[must_use]
    pub fn key(&self) -> Key {
        Key::from_secret(self.profile.algorithm, &self.secret)
    }

    /// The key a keypad token signs with: the same secret under its
    /// suite's hash; `None` for a button-only token.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut r = otp_provision::SeedRecord::new("X", otp_core::Secret::from_bytes(&[1; 32])?, otp_provision::Profile::hotp());
    /// assert!(r.signing_key().is_none());
    /// r.suite = Some("OCRA-1:HOTP-SHA256-8:C-QN08".parse()?);
    /// assert_eq!(r.signing_key().map(|k| k.algorithm()), Some(otp_core::Algorithm::Sha256));
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    #[must_use]
    pub fn signing_key(&self) -> Option<Key> {
        self.suite
            .map(|suite| Key::from_secret(suite.algorithm(), &self.secret))
    }

    /// The state to store when the token is registered: the replay floor
    /// at the seed file's counter (HOTP) and the drift from its
    /// `TimeDrift` (TOTP).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut r = otp_provision::SeedRecord::new("X", otp_core::Secret::from_bytes(&[1; 16])?, otp_provision::Profile::hotp());
    /// r.counter = 5;
    /// assert_eq!(r.initial_state().floor, 5);
    /// # Ok::<(), otp_core::KeyError>(())
    /// ```
    #[must_use]
    pub fn initial_state(&self) -> TokenState {
        match self.profile.mode {
            Mode::Hotp => TokenState::starting_at(self.counter),
            Mode::Totp(_) => TokenState {
                drift: self.time_drift,
                ..TokenState::new()
            },
        }
    }

    /// The serial as a 12-character [`SerialNumber`], if it is one.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = otp_provision::SeedRecord::new("987654321", otp_core::Secret::from_bytes(&[1; 16])?, otp_provision::Profile::hotp());
    /// assert!(r.serial_number().is_none());
    /// # Ok::<(), otp_core::KeyError>(())
    /// ```
    #[must_use]
    pub fn serial_number(&self) -> Option<SerialNumber> {
        SerialNumber::parse(&self.serial).ok()
    }

    /// A copy (the secret is copied too; `SeedRecord` is not `Clone` so
    /// that copies of secrets are explicit).
    ///
    /// # Examples
    ///
    /// ```
    /// let r = otp_provision::SeedRecord::new("X", otp_core::Secret::from_bytes(&[1; 16])?, otp_provision::Profile::hotp());
    /// assert_eq!(r.duplicate().serial, "X");
    /// # Ok::<(), otp_core::KeyError>(())
    /// ```
    #[must_use]
    pub fn duplicate(&self) -> Self {
        Self {
            serial: self.serial.clone(),
            manufacturer: self.manufacturer.clone(),
            model: self.model.clone(),
            issuer: self.issuer.clone(),
            key_id: self.key_id.clone(),
            profile: self.profile,
            counter: self.counter,
            time_drift: self.time_drift,
            suite: self.suite,
            secret: self.secret.clone(),
        }
    }
}

/// The bank's inventory: every token it can register, by serial number,
/// from the vendors' seed files.
///
/// # Examples
///
/// ```
/// use otp_provision::{Inventory, Profile, SeedRecord};
/// let mut inv = Inventory::new();
/// let secret = otp_core::Secret::from_bytes(&[1; 20])?;
/// inv.insert(SeedRecord::new("VT0000000001", secret, Profile::default()))?;
/// assert!(inv.get("VT0000000001").is_some());
/// assert_eq!(inv.len(), 1);
/// # Ok::<(), Box<dyn core::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct Inventory {
    records: BTreeMap<String, SeedRecord>,
}

impl Inventory {
    /// An empty inventory.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a PSKC seed file into a new inventory: all of it or nothing.
    /// `key` is the pre-shared AES-128 key of an encrypted file.
    ///
    /// # Errors
    ///
    /// Any [`PskcError`]: the XML, the encryption, the MAC, or one key
    /// package that cannot become a [`SeedRecord`] (unsupported algorithm,
    /// no serial, short secret, an OCRA key without a well-formed suite),
    /// or a serial that appears twice. OCRA keys become keypad tokens'
    /// records (with [`SeedRecord::suite`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_provision::{Inventory};
    /// # fn seed_file(n: usize) -> Result<String, Box<dyn core::error::Error>> {
    /// #     use rand::{SeedableRng as _, rngs::ChaCha20Rng};
    /// #     let mut file = otp_provision::PskcWriter::new(Vec::new(), None, ChaCha20Rng::from_seed([1; 32]))?;
    /// #     for i in 0..n {
    /// #         let secret = otp_core::Secret::from_bytes(&[7; 20])?;
    /// #         file.write(&otp_provision::SeedRecord::new(format!("VT{i:010}"), secret, otp_provision::Profile::default()))?;
    /// #     }
    /// #     Ok(String::from_utf8(file.finish()?)?)
    /// # }
    /// // A vendor's seed file with 3 tokens.
    /// let file = seed_file(3)?;
    /// let inv = Inventory::from_pskc(&file, None)?;
    /// assert_eq!(inv.len(), 3);
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn from_pskc(xml: &str, key: Option<&crate::PreSharedKey>) -> Result<Self, PskcError> {
        Self::from_pskc_with_limits(xml, key, &PskcLimits::default())
    }

    /// As [`Inventory::from_pskc`], with other [`PskcLimits`] than the
    /// defaults (64 MiB, 1,000,000 key packages).
    ///
    /// # Errors
    ///
    /// As [`Inventory::from_pskc`], and [`PskcError::TooLarge`] or
    /// [`PskcError::TooManyKeyPackages`] past a limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_provision::{Inventory, PskcError, PskcLimits};
    /// # fn seed_file(n: usize) -> Result<String, Box<dyn core::error::Error>> {
    /// #     use rand::{SeedableRng as _, rngs::ChaCha20Rng};
    /// #     let mut file = otp_provision::PskcWriter::new(Vec::new(), None, ChaCha20Rng::from_seed([1; 32]))?;
    /// #     for i in 0..n {
    /// #         let secret = otp_core::Secret::from_bytes(&[7; 20])?;
    /// #         file.write(&otp_provision::SeedRecord::new(format!("VT{i:010}"), secret, otp_provision::Profile::default()))?;
    /// #     }
    /// #     Ok(String::from_utf8(file.finish()?)?)
    /// # }
    /// // A vendor's seed file with 3 tokens.
    /// let file = seed_file(3)?;
    /// let two = PskcLimits::default().with_max_key_packages(2);
    /// assert_eq!(
    ///     Inventory::from_pskc_with_limits(&file, None, &two).unwrap_err(),
    ///     PskcError::TooManyKeyPackages { max: 2 }
    /// );
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn from_pskc_with_limits(
        xml: &str,
        key: Option<&crate::PreSharedKey>,
        limits: &PskcLimits,
    ) -> Result<Self, PskcError> {
        let mut inv = Self::new();
        inv.import_pskc_with_limits(xml, key, limits)?;
        Ok(inv)
    }

    /// Adds the tokens of a PSKC seed file: all of them, or (on any error)
    /// none.
    ///
    /// # Errors
    ///
    /// As [`Inventory::from_pskc`]; a serial already in the inventory is
    /// [`PskcError::DuplicateSerial`].
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_provision::{Inventory, PskcError};
    /// # fn seed_file(n: usize) -> Result<String, Box<dyn core::error::Error>> {
    /// #     use rand::{SeedableRng as _, rngs::ChaCha20Rng};
    /// #     let mut file = otp_provision::PskcWriter::new(Vec::new(), None, ChaCha20Rng::from_seed([1; 32]))?;
    /// #     for i in 0..n {
    /// #         let secret = otp_core::Secret::from_bytes(&[7; 20])?;
    /// #         file.write(&otp_provision::SeedRecord::new(format!("VT{i:010}"), secret, otp_provision::Profile::default()))?;
    /// #     }
    /// #     Ok(String::from_utf8(file.finish()?)?)
    /// # }
    /// // A vendor's seed file with 2 tokens.
    /// let file = seed_file(2)?;
    /// let mut inv = Inventory::from_pskc(&file, None)?;
    /// assert!(matches!(inv.import_pskc(&file, None), Err(PskcError::DuplicateSerial { .. })));
    /// assert_eq!(inv.len(), 2);
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn import_pskc(
        &mut self,
        xml: &str,
        key: Option<&crate::PreSharedKey>,
    ) -> Result<usize, PskcError> {
        self.import_pskc_with_limits(xml, key, &PskcLimits::default())
    }

    /// As [`Inventory::import_pskc`], with other [`PskcLimits`] than the
    /// defaults.
    ///
    /// # Errors
    ///
    /// As [`Inventory::from_pskc_with_limits`]; on any error the inventory
    /// is unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_provision::{Inventory, PskcError, PskcLimits};
    /// # fn seed_file(n: usize) -> Result<String, Box<dyn core::error::Error>> {
    /// #     use rand::{SeedableRng as _, rngs::ChaCha20Rng};
    /// #     let mut file = otp_provision::PskcWriter::new(Vec::new(), None, ChaCha20Rng::from_seed([1; 32]))?;
    /// #     for i in 0..n {
    /// #         let secret = otp_core::Secret::from_bytes(&[7; 20])?;
    /// #         file.write(&otp_provision::SeedRecord::new(format!("VT{i:010}"), secret, otp_provision::Profile::default()))?;
    /// #     }
    /// #     Ok(String::from_utf8(file.finish()?)?)
    /// # }
    /// // A vendor's seed file with 2 tokens.
    /// let file = seed_file(2)?;
    /// let mut inv = Inventory::new();
    /// let tiny = PskcLimits::default().with_max_bytes(100);
    /// assert!(matches!(
    ///     inv.import_pskc_with_limits(&file, None, &tiny),
    ///     Err(PskcError::TooLarge { max: 100, .. })
    /// ));
    /// assert!(inv.is_empty());
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn import_pskc_with_limits(
        &mut self,
        xml: &str,
        key: Option<&crate::PreSharedKey>,
        limits: &PskcLimits,
    ) -> Result<usize, PskcError> {
        let mut fresh: BTreeMap<String, SeedRecord> = BTreeMap::new();
        // Each package becomes a record as it is read (the file is never
        // held whole); nothing is added unless all of them do.
        crate::pskc::read_pskc(xml, key, limits, |index, package| {
            let record = package.into_record(index)?;
            if self.records.contains_key(&record.serial) || fresh.contains_key(&record.serial) {
                return Err(PskcError::DuplicateSerial {
                    serial: record.serial,
                });
            }
            fresh.insert(record.serial.clone(), record);
            Ok(())
        })?;
        let added = fresh.len();
        self.records.append(&mut fresh);
        Ok(added)
    }

    /// Adds one record.
    ///
    /// # Errors
    ///
    /// [`PskcError::DuplicateSerial`] when the serial is already present
    /// (the inventory is unchanged).
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_provision::{Inventory, Profile, SeedRecord};
    /// let mut inv = Inventory::new();
    /// let s = || otp_core::Secret::from_bytes(&[1; 20]);
    /// inv.insert(SeedRecord::new("A", s()?, Profile::default()))?;
    /// assert!(inv.insert(SeedRecord::new("A", s()?, Profile::default())).is_err());
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn insert(&mut self, record: SeedRecord) -> Result<(), PskcError> {
        if self.records.contains_key(&record.serial) {
            return Err(PskcError::DuplicateSerial {
                serial: record.serial,
            });
        }
        self.records.insert(record.serial.clone(), record);
        Ok(())
    }

    /// The record of the token with this serial (as in the seed file; a
    /// [`SerialNumber`]'s `as_str()` for 12-character serials).
    #[must_use]
    pub fn get(&self, serial: &str) -> Option<&SeedRecord> {
        self.records.get(serial)
    }

    /// Removes and returns a record (for instance once registered).
    pub fn remove(&mut self, serial: &str) -> Option<SeedRecord> {
        self.records.remove(serial)
    }

    /// How many tokens the inventory holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// `true` when it holds none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The records in serial order.
    pub fn iter(&self) -> impl Iterator<Item = &SeedRecord> {
        self.records.values()
    }
}
