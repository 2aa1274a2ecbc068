//! The factory: batches of tokens with unique serials and CSPRNG secrets,
//! and the batch's seed file.

use core::fmt;

use otp_core::{DEFAULT_SECRET_LEN, OcraSuite, Secret};
use otp_provision::{PreSharedKey, Profile, PskcError, PskcWriter, SeedRecord, SerialNumber};
use rand::{Rng as _, RngExt as _, SeedableRng as _, TryRng as _, rngs::ChaCha20Rng};
use zeroize::Zeroize as _;

use crate::{Battery, Crystal, Token, TokenError, TokenSpec};

mod batch;

pub use batch::{Batch, FactoryError};

/// Makes batches of tokens. Secrets (160 bits) and crystal errors come from
/// a ChaCha20 CSPRNG; serials are the prefix and a running number, so they
/// are unique for the factory's life. [`Factory::from_os_rng`] seeds from
/// the operating system: the one for real tokens.
/// [`Factory::deterministic_for_tests`] makes the same fleet on every run
/// from a seed anyone who knows it can replay: for test suites and demos
/// only, never for tokens given to customers.
///
/// Defaults: manufacturer `otp-token`, model `VT-1`, serial prefix `VT`,
/// the default [`Profile`] (TOTP 30 s, SHA-1, 6 digits), crystals within
/// ±20 ppm set within ±2 s, the default [`Battery`].
///
/// # Examples
///
/// ```
/// use otp_token::Factory;
/// let a = Factory::deterministic_for_tests([7; 32]).manufacture(2, 1_790_000_000)?;
/// let b = Factory::deterministic_for_tests([7; 32]).manufacture(2, 1_790_000_000)?;
/// assert_eq!(a.tokens()[1].serial().as_str(), "VT0000000001");
/// assert_eq!(a.tokens()[0].crystal(), b.tokens()[0].crystal());
/// # Ok::<(), Box<dyn core::error::Error>>(())
/// ```
pub struct Factory {
    rng: ChaCha20Rng,
    manufacturer: String,
    model: String,
    prefix: String,
    next: u64,
    profile: Profile,
    /// Keypad tokens' OCRA suite; `None`: button-only tokens.
    suite: Option<OcraSuite>,
    max_drift_ppm: i32,
    max_offset: i64,
    battery: Battery,
    /// Seed files started with [`Factory::seed_file_writer`].
    seed_files: u64,
}

impl fmt::Debug for Factory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Factory")
            .field("manufacturer", &self.manufacturer)
            .field("model", &self.model)
            .field("prefix", &self.prefix)
            .field("next", &self.next)
            .field("profile", &self.profile)
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

impl Factory {
    /// A deterministic factory, FOR TESTS ONLY: the same `key` (the key of
    /// its ChaCha20 stream) gives the same batches, secrets included, so the
    /// secrets of a batch made this way are only as secret as the key. Real
    /// tokens come from
    /// [`Factory::from_os_rng`].
    ///
    /// # Examples
    ///
    /// ```
    /// let f = otp_token::Factory::deterministic_for_tests([0; 32]);
    /// assert!(format!("{f:?}").contains("VT-1"));
    /// ```
    #[must_use]
    pub fn deterministic_for_tests(key: [u8; 32]) -> Self {
        Self::with_rng(ChaCha20Rng::from_seed(key))
    }

    /// The old name of [`Factory::deterministic_for_tests`], which says
    /// what it is for.
    #[deprecated(
        since = "0.1.0",
        note = "deterministic secrets are for tests only: use `Factory::from_os_rng` for real tokens, or `Factory::deterministic_for_tests` in tests"
    )]
    #[must_use]
    pub fn from_seed(key: [u8; 32]) -> Self {
        Self::deterministic_for_tests(key)
    }

    /// A factory seeded from the operating system's random source.
    ///
    /// # Errors
    ///
    /// [`FactoryError::Entropy`] when the OS gives no randomness.
    ///
    /// # Examples
    ///
    /// ```
    /// let f = otp_token::Factory::from_os_rng()?;
    /// # Ok::<(), otp_token::FactoryError>(())
    /// ```
    pub fn from_os_rng() -> Result<Self, FactoryError> {
        let mut seed = [0u8; 32];
        rand::rngs::SysRng
            .try_fill_bytes(&mut seed)
            .map_err(|_| FactoryError::Entropy)?;
        let factory = Self::with_rng(ChaCha20Rng::from_seed(seed));
        seed.zeroize();
        Ok(factory)
    }

    fn with_rng(rng: ChaCha20Rng) -> Self {
        Self {
            rng,
            manufacturer: "otp-token".into(),
            model: "VT-1".into(),
            prefix: "VT".into(),
            next: 0,
            profile: Profile::default(),
            suite: None,
            max_drift_ppm: 20,
            max_offset: 2,
            battery: Battery::default(),
            seed_files: 0,
        }
    }

    /// Sets the manufacturer and model written into the seed file.
    ///
    /// # Examples
    ///
    /// ```
    /// let f = otp_token::Factory::deterministic_for_tests([0; 32]).named("Acme", "DP-6");
    /// assert!(format!("{f:?}").contains("Acme"));
    /// ```
    #[must_use]
    pub fn named(mut self, manufacturer: &str, model: &str) -> Self {
        manufacturer.clone_into(&mut self.manufacturer);
        model.clone_into(&mut self.model);
        self
    }

    /// Sets the serial prefix (up to 4 letters or digits) and the running
    /// number of the next token.
    ///
    /// # Errors
    ///
    /// [`FactoryError::Serial`] for a prefix that is not up to 4 ASCII
    /// letters or digits.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut f = otp_token::Factory::deterministic_for_tests([0; 32]).serials("ab", 100)?;
    /// assert_eq!(f.manufacture(1, 0)?.tokens()[0].serial().as_str(), "AB0000000100");
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn serials(mut self, prefix: &str, first: u64) -> Result<Self, FactoryError> {
        SerialNumber::numbered(prefix, first).map_err(FactoryError::Serial)?;
        prefix.clone_into(&mut self.prefix);
        self.next = first;
        Ok(self)
    }

    /// Sets the token model's profile (kind, hash, digits).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut f = otp_token::Factory::deterministic_for_tests([0; 32]).profile(otp_provision::Profile::hotp());
    /// assert_eq!(f.manufacture(1, 0)?.tokens()[0].profile().mode, otp_core::Mode::Hotp);
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    #[must_use]
    pub const fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// Makes keypad (signing) tokens ([`Token::keypad`]) answering with
    /// the RFC 6287 responses of `suite`; their login codes follow the
    /// profile, with the suite's hash (the profile's is replaced, in the
    /// token and in its seed record). Each seed record carries the suite
    /// ([`SeedRecord::suite`]), so the seed file says OCRA and the suite.
    ///
    /// # Errors
    ///
    /// [`FactoryError::Token`] with [`TokenError::KeypadSuite`] for a
    /// suite with a PIN hash `P` or a session `S`, which a keypad token has
    /// no way to be given.
    ///
    /// # Examples
    ///
    /// ```
    /// let suite: otp_core::OcraSuite = "OCRA-1:HOTP-SHA256-8:QN08-T1M".parse()?;
    /// let mut f = otp_token::Factory::deterministic_for_tests([0; 32]).suite(suite)?;
    /// let batch = f.manufacture(1, 0)?;
    /// assert_eq!(batch.tokens()[0].suite(), Some(suite));
    /// assert_eq!(batch.tokens()[0].profile().algorithm, otp_core::Algorithm::Sha256);
    /// let pin: otp_core::OcraSuite = "OCRA-1:HOTP-SHA1-6:QN08-PSHA1".parse()?;
    /// assert!(otp_token::Factory::deterministic_for_tests([0; 32]).suite(pin).is_err());
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn suite(mut self, suite: OcraSuite) -> Result<Self, FactoryError> {
        if suite.password_hash().is_some() || suite.session_len().is_some() {
            return Err(FactoryError::Token(TokenError::KeypadSuite));
        }
        self.suite = Some(suite);
        Ok(self)
    }

    /// Sets the spread of crystal errors: each token gets a drift drawn
    /// uniformly within ±`max_ppm` and an initial offset within
    /// ±`max_offset` seconds.
    ///
    /// # Errors
    ///
    /// [`FactoryError::Token`] beyond ±[`MAX_DRIFT_PPM`](crate::MAX_DRIFT_PPM).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut f = otp_token::Factory::deterministic_for_tests([0; 32]).crystals(0, 0)?;
    /// assert_eq!(f.manufacture(1, 0)?.tokens()[0].crystal(), otp_token::Crystal::PERFECT);
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn crystals(mut self, max_ppm: u16, max_offset: u16) -> Result<Self, FactoryError> {
        let ppm = i32::from(max_ppm);
        Crystal::new(ppm, 0).map_err(FactoryError::Token)?;
        self.max_drift_ppm = ppm;
        self.max_offset = i64::from(max_offset);
        Ok(self)
    }

    /// Sets the battery fitted to every token.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut f = otp_token::Factory::deterministic_for_tests([0; 32]).battery(otp_token::Battery::unlimited());
    /// assert_eq!(f.manufacture(1, 0)?.tokens()[0].spec().battery.presses(), u64::MAX);
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    #[must_use]
    pub const fn battery(mut self, battery: Battery) -> Self {
        self.battery = battery;
        self
    }

    /// Manufactures `count` tokens, activated (battery connected, clock
    /// set) at `at`, all held in the returned [`Batch`] with their seeds.
    /// For large batches, [`Factory::manufacture_iter`] makes them one at
    /// a time (the same tokens, in the same order) and
    /// [`Factory::seed_file_writer`] writes their seed file as a stream.
    ///
    /// # Errors
    ///
    /// [`FactoryError::Serial`] when the running numbers run out of the 12
    /// characters. Nothing is made then.
    ///
    /// # Examples
    ///
    /// ```
    /// let batch = otp_token::Factory::deterministic_for_tests([0; 32]).manufacture(10, 1_790_000_000)?;
    /// assert_eq!(batch.len(), 10);
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn manufacture(&mut self, count: usize, at: u64) -> Result<Batch, FactoryError> {
        let mut tokens = Vec::with_capacity(count);
        let mut records = Vec::with_capacity(count);
        for made in self.manufacture_iter(count, at)? {
            let (token, record) = made?;
            tokens.push(token);
            records.push(record);
        }
        let mut iv_seed = [0u8; 32];
        self.rng.fill_bytes(&mut iv_seed);
        Ok(Batch {
            tokens,
            records,
            rng: ChaCha20Rng::from_seed(iv_seed),
        })
    }

    /// Manufactures `count` tokens one at a time, activated at `at`: each
    /// item is a token and its seed record (serial, secret, profile,
    /// manufacturer and model; the key ID is the serial), to ship and to
    /// write into the seed file ([`Factory::seed_file_writer`]) before the
    /// next is made, so that memory does not grow with `count`. The tokens
    /// and records are those of [`Factory::manufacture`] from the same
    /// factory, in the same order; the factory's running number advances
    /// as they are made.
    ///
    /// # Errors
    ///
    /// [`FactoryError::Serial`], before any token is made, when the
    /// running numbers would run out of the 12 characters. An item is an
    /// error only if a token cannot be built; the iterator ends after it.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_token::Factory;
    /// let mut factory = Factory::deterministic_for_tests([2; 32]);
    /// let mut serials = Vec::new();
    /// for made in factory.manufacture_iter(3, 1_790_000_000)? {
    ///     let (token, record) = made?;
    ///     assert_eq!(token.serial().as_str(), record.serial);
    ///     serials.push(record.serial);
    /// }
    /// assert_eq!(serials, ["VT0000000000", "VT0000000001", "VT0000000002"]);
    /// let batch = Factory::deterministic_for_tests([2; 32]).manufacture(3, 1_790_000_000)?;
    /// assert_eq!(batch.tokens()[2].serial().as_str(), serials[2]);
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn manufacture_iter(
        &mut self,
        count: usize,
        at: u64,
    ) -> Result<Manufacturing<'_>, FactoryError> {
        let last = self
            .next
            .saturating_add(u64::try_from(count).unwrap_or(u64::MAX))
            .saturating_sub(1);
        if count > 0 {
            SerialNumber::numbered(&self.prefix, last).map_err(FactoryError::Serial)?;
        }
        Ok(Manufacturing {
            factory: self,
            left: count,
            at,
        })
    }

    /// Makes the next token and its seed record.
    fn make_one(&mut self, at: u64) -> Result<(Token, SeedRecord), FactoryError> {
        let serial =
            SerialNumber::numbered(&self.prefix, self.next).map_err(FactoryError::Serial)?;
        self.next = self.next.saturating_add(1);
        let mut bytes = [0u8; DEFAULT_SECRET_LEN];
        self.rng.fill_bytes(&mut bytes);
        let secret = Secret::from_bytes(&bytes).map_err(FactoryError::Secret);
        bytes.zeroize();
        let secret = secret?;
        let drift = self
            .rng
            .random_range(-self.max_drift_ppm..=self.max_drift_ppm);
        let offset = self.rng.random_range(-self.max_offset..=self.max_offset);
        // A keypad token's login code uses its suite's hash.
        let mut profile = self.profile;
        if let Some(suite) = self.suite {
            profile.algorithm = suite.algorithm();
        }
        let spec = TokenSpec {
            profile,
            crystal: Crystal::new(drift, offset).map_err(FactoryError::Token)?,
            activated_at: at,
            battery: self.battery,
            ..TokenSpec::default()
        };
        let token = match self.suite {
            Some(suite) => Token::keypad(serial, &secret, spec, suite),
            None => Token::new(serial, &secret, spec),
        }
        .map_err(FactoryError::Token)?;
        let mut record = SeedRecord::new(serial.as_str(), secret, profile);
        record.suite = self.suite;
        record.manufacturer.clone_from(&self.manufacturer);
        record.model.clone_from(&self.model);
        record.key_id = serial.as_str().into();
        Ok((token, record))
    }

    /// Starts a seed file in `out` ([`PskcWriter::new`]), with its own
    /// random source for the IVs and the MAC key: a ChaCha20 stream of
    /// the factory's CSPRNG that the tokens' secrets never use (a stream
    /// of its own for each seed file the factory starts), so starting a
    /// file changes none of the tokens the factory makes, before or after.
    /// Write the records of [`Factory::manufacture_iter`] into it as they
    /// are made.
    ///
    /// # Errors
    ///
    /// [`PskcError::Write`] if `out` fails.
    ///
    /// # Examples
    ///
    /// See [`PskcWriter`].
    pub fn seed_file_writer<W: std::io::Write>(
        &mut self,
        out: W,
        key: Option<&PreSharedKey>,
    ) -> Result<PskcWriter<W, ChaCha20Rng>, PskcError> {
        self.seed_files = self.seed_files.saturating_add(1);
        let mut seed = self.rng.get_seed();
        let mut rng = ChaCha20Rng::from_seed(seed);
        seed.zeroize();
        // Stream 0 is the factory's own; a stream's words do not depend on
        // where the factory's own stream stands.
        rng.set_stream(self.seed_files);
        PskcWriter::new(out, key, rng)
    }
}

/// Tokens being made one at a time: the iterator of
/// [`Factory::manufacture_iter`]. Each item is a token and its seed
/// record; after an error it ends.
pub struct Manufacturing<'f> {
    factory: &'f mut Factory,
    left: usize,
    at: u64,
}

impl fmt::Debug for Manufacturing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manufacturing")
            .field("left", &self.left)
            .finish_non_exhaustive()
    }
}

impl Iterator for Manufacturing<'_> {
    type Item = Result<(Token, SeedRecord), FactoryError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.left = self.left.checked_sub(1)?;
        let made = self.factory.make_one(self.at);
        if made.is_err() {
            self.left = 0;
        }
        Some(made)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Manufacturing<'_> {}

impl core::iter::FusedIterator for Manufacturing<'_> {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

    use super::*;

    fn factory(seed: u8) -> Factory {
        Factory::deterministic_for_tests([seed; 32])
            .serials("AB", 7)
            .unwrap()
            .crystals(20, 2)
            .unwrap()
            .named("Acme", "DP-6")
    }

    /// What a token and its record say, secret included.
    fn fingerprint(token: &Token, record: &SeedRecord) -> String {
        format!(
            "{} {:?} {:?} {} {} {} {} {:?} {}",
            token.serial().as_str(),
            token.spec(),
            record.profile,
            record.serial,
            record.manufacturer,
            record.model,
            record.key_id,
            record.issuer,
            hex::encode(record.secret().expose_secret()),
        )
    }

    /// One at a time, the factory makes the batch's tokens and records,
    /// and is left where the batch leaves it.
    #[test]
    fn manufacture_iter_makes_the_tokens_of_manufacture() {
        let mut whole = factory(9);
        let mut batch = whole.manufacture(5, 1_790_000_000).unwrap();
        let mut streamed = factory(9);
        let made: Vec<_> = streamed
            .manufacture_iter(5, 1_790_000_000)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(made.len(), 5);
        let expected: Vec<String> = batch
            .tokens()
            .iter()
            .zip(&batch.records)
            .map(|(t, r)| fingerprint(t, r))
            .collect();
        let got: Vec<String> = made.iter().map(|(t, r)| fingerprint(t, r)).collect();
        assert_eq!(got, expected);
        assert_eq!(got[0].split(' ').next(), Some("AB0000000007"));
        assert!(
            got[4].contains(" Acme DP-6 AB0000000011 None "),
            "{}",
            got[4]
        );
        // The crystals are drawn, not all the same.
        assert!(made.iter().any(|(t, _)| t.crystal() != made[0].0.crystal()));
        // `manufacture` draws the seed file's IVs after the tokens: the
        // next token of the streamed factory is the whole one's after
        // that draw, and the running numbers agree.
        let _ = batch.seed_file(None).unwrap();
        streamed.rng.fill_bytes(&mut [0u8; 32]);
        let a = whole.manufacture(1, 0).unwrap();
        let b = streamed.manufacture(1, 0).unwrap();
        assert_eq!(
            fingerprint(&a.tokens()[0], &a.records[0]),
            fingerprint(&b.tokens()[0], &b.records[0])
        );
    }

    /// A count past the serial numbers is refused before any token.
    #[test]
    fn manufacture_iter_refuses_a_count_past_the_serials_up_front() {
        let mut f = Factory::deterministic_for_tests([1; 32])
            .serials("ABCD", 99_999_999)
            .unwrap();
        assert!(matches!(
            f.manufacture_iter(2, 0).map(|i| i.len()),
            Err(FactoryError::Serial(_))
        ));
        assert_eq!(f.manufacture_iter(1, 0).unwrap().len(), 1);
        assert_eq!(f.manufacture_iter(0, 0).unwrap().count(), 0);
    }

    /// Starting a seed file changes none of the tokens, and each file the
    /// factory starts has its own IVs and MAC key.
    #[test]
    fn a_seed_file_writer_changes_no_token_and_never_repeats_ivs() {
        let psk = PreSharedKey::new([6; 16]);
        let mut with_file = factory(3);
        let first = with_file.seed_file_writer(Vec::new(), Some(&psk)).unwrap();
        let second = with_file.seed_file_writer(Vec::new(), Some(&psk)).unwrap();
        let mut without = factory(3);
        let a: Vec<String> = with_file
            .manufacture_iter(3, 0)
            .unwrap()
            .map(|m| m.map(|(t, r)| fingerprint(&t, &r)).unwrap())
            .collect();
        let b: Vec<String> = without
            .manufacture_iter(3, 0)
            .unwrap()
            .map(|m| m.map(|(t, r)| fingerprint(&t, &r)).unwrap())
            .collect();
        assert_eq!(a, b);
        let first = String::from_utf8(first.finish().unwrap()).unwrap();
        let second = String::from_utf8(second.finish().unwrap()).unwrap();
        let wrapped = |xml: &str| {
            let start = xml.find("<xenc:CipherValue>").unwrap();
            xml[start..start + 80].to_owned()
        };
        assert_ne!(wrapped(&first), wrapped(&second));
        // Deterministic all the same: a factory from the same seed starts
        // the same file.
        let again = factory(3).seed_file_writer(Vec::new(), Some(&psk)).unwrap();
        assert_eq!(String::from_utf8(again.finish().unwrap()).unwrap(), first);
    }

    /// A keypad factory's tokens answer challenges as their seed records
    /// say: the response of `otp_core::ocra` under the record's signing
    /// key and suite (a counter suite and a time suite); the login code
    /// uses the suite's hash; the seed file, plain or encrypted, reads
    /// back with the suite.
    #[test]
    fn keypad_tokens_answer_as_their_records_say() {
        use otp_core::{OcraInput, ocra};
        use otp_provision::Inventory;
        let at = 1_790_000_000;
        for text in ["OCRA-1:HOTP-SHA1-6:C-QN08", "OCRA-1:HOTP-SHA256-8:QN08-T1M"] {
            let suite: OcraSuite = text.parse().unwrap();
            let mut f = factory(4)
                .crystals(0, 0)
                .unwrap()
                .profile(Profile::hotp())
                .suite(suite)
                .unwrap();
            let mut batch = f.manufacture(3, at).unwrap();
            let psk = PreSharedKey::new([6; 16]);
            for key in [None, Some(&psk)] {
                let file = batch.seed_file(key).unwrap();
                assert!(file.contains(&format!("<Suite>{text}</Suite>")));
                let inventory = Inventory::from_pskc(&file, key).unwrap();
                for r in &batch.records {
                    let back = inventory.get(&r.serial).unwrap();
                    assert_eq!(back.suite, Some(suite));
                    assert_eq!(back.profile, r.profile);
                    assert_eq!(back.secret().expose_secret(), r.secret().expose_secret());
                }
            }
            let records: Vec<SeedRecord> =
                batch.records.iter().map(SeedRecord::duplicate).collect();
            for (token, record) in batch.tokens_mut().iter_mut().zip(&records) {
                assert_eq!(record.suite, Some(suite));
                assert_eq!(record.profile.algorithm, suite.algorithm());
                assert_eq!(token.profile().algorithm, suite.algorithm());
                let key = record.signing_key().unwrap();
                for (n, challenge) in ["12345678", "00000000"].into_iter().enumerate() {
                    let when = at + 100 * n as u64;
                    let mut input = OcraInput::new(challenge);
                    if suite.counter() {
                        input = input.with_counter(record.counter + n as u64);
                    }
                    if let Some(step) = suite.time_step_at(when) {
                        input = input.with_time_step(step);
                    }
                    let expected = ocra(&key, &suite, &input).unwrap();
                    assert_eq!(
                        token.press_challenge(when, challenge).unwrap().to_string(),
                        expected.to_string()
                    );
                }
            }
        }
    }

    /// A suite with a PIN hash or a session is refused, as
    /// `Token::keypad` refuses it.
    #[test]
    fn a_suite_a_keypad_cannot_take_is_refused() {
        for text in [
            "OCRA-1:HOTP-SHA1-6:QN08-PSHA1",
            "OCRA-1:HOTP-SHA1-6:QN08-S064",
        ] {
            let suite: OcraSuite = text.parse().unwrap();
            assert_eq!(
                factory(1).suite(suite).unwrap_err(),
                FactoryError::Token(TokenError::KeypadSuite)
            );
        }
    }

    /// A keypad factory's streamed seed file (`seed_file_writer`) reads
    /// back with the suite.
    #[test]
    fn a_keypad_factorys_seed_file_carries_the_suite() {
        let suite: OcraSuite = "OCRA-1:HOTP-SHA512-8:QN08".parse().unwrap();
        let mut f = factory(5).suite(suite).unwrap();
        let psk = PreSharedKey::new([6; 16]);
        let mut writer = f.seed_file_writer(Vec::new(), Some(&psk)).unwrap();
        let mut made = Vec::new();
        for m in f.manufacture_iter(2, 0).unwrap() {
            let (token, record) = m.unwrap();
            assert_eq!(token.suite(), Some(suite));
            writer.write(&record).unwrap();
            made.push(record);
        }
        let xml = String::from_utf8(writer.finish().unwrap()).unwrap();
        let mut back = Vec::new();
        otp_provision::read_pskc_records(
            xml.as_bytes(),
            Some(&psk),
            &otp_provision::PskcLimits::default(),
            |r| {
                back.push(r);
                Ok(())
            },
        )
        .unwrap();
        let show = |r: &SeedRecord| {
            format!(
                "{} {:?} {:?} {} {}",
                r.serial,
                r.suite,
                r.profile,
                r.counter,
                hex::encode(r.secret().expose_secret())
            )
        };
        assert_eq!(
            back.iter().map(show).collect::<Vec<_>>(),
            made.iter().map(show).collect::<Vec<_>>()
        );
        assert_eq!(back[0].profile.algorithm, otp_core::Algorithm::Sha512);
    }
}
