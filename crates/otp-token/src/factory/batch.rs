//! A batch fresh from the factory, and why the factory can fail.

use core::fmt;

use otp_provision::{PreSharedKey, PskcError, PskcWriter, SeedRecord};
use rand::rngs::ChaCha20Rng;

use crate::Token;

/// A batch fresh from the factory: the tokens, and their seeds. The seeds
/// leave only as a seed file ([`Batch::seed_file`]); once the tokens are
/// taken ([`Batch::into_tokens`]) the seeds are gone.
///
/// # Examples
///
/// ```
/// use otp_provision::{Inventory, PreSharedKey};
/// use otp_token::Factory;
/// let mut batch = Factory::deterministic_for_tests([3; 32]).manufacture(5, 1_790_000_000)?;
/// let psk = PreSharedKey::new(*b"0123456789abcdef");
/// let file = batch.seed_file(Some(&psk))?;
/// let inventory = Inventory::from_pskc(&file, Some(&psk))?;
/// let tokens = batch.into_tokens();
/// assert!(inventory.get(tokens[4].serial().as_str()).is_some());
/// # Ok::<(), Box<dyn core::error::Error>>(())
/// ```
pub struct Batch {
    pub(super) tokens: Vec<Token>,
    pub(super) records: Vec<SeedRecord>,
    pub(super) rng: ChaCha20Rng,
}

impl fmt::Debug for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field("tokens", &self.tokens.len())
            .finish_non_exhaustive()
    }
}

impl Batch {
    /// The batch's PSKC (RFC 6030) seed file: plain base64 secrets, or with
    /// `key` the secrets encrypted with AES-128-CBC and authenticated with
    /// HMAC-SHA1 (RFC 6030 §6.1). Fresh IVs and MAC key come from the
    /// factory's CSPRNG.
    ///
    /// # Errors
    ///
    /// [`PskcError::Write`] if the XML writer fails.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut batch = otp_token::Factory::deterministic_for_tests([0; 32]).manufacture(1, 0)?;
    /// assert!(batch.seed_file(None)?.contains("<SerialNo>VT0000000000</SerialNo>"));
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn seed_file(&mut self, key: Option<&PreSharedKey>) -> Result<String, PskcError> {
        let mut writer = PskcWriter::new(Vec::new(), key, &mut self.rng)?;
        for record in &self.records {
            writer.write(record)?;
        }
        String::from_utf8(writer.finish()?).map_err(|_| PskcError::Write)
    }

    /// The tokens, to look at or press.
    #[must_use]
    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// The tokens, to press.
    pub fn tokens_mut(&mut self) -> &mut [Token] {
        &mut self.tokens
    }

    /// Ships the tokens; the seeds are dropped (and zeroized).
    #[must_use]
    pub fn into_tokens(self) -> Vec<Token> {
        self.tokens
    }

    /// How many tokens the batch has.
    #[must_use]
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// `true` for an empty batch.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

/// Why the factory could not make a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FactoryError {
    /// The operating system gave no randomness.
    Entropy,
    /// A serial number could not be made (prefix too long or not
    /// alphanumeric, or the running numbers ran out).
    Serial(otp_provision::SerialError),
    /// A token could not be built.
    Token(crate::TokenError),
    /// A secret was refused by the core.
    Secret(otp_core::KeyError),
}

impl fmt::Display for FactoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Entropy => f.write_str(
                "the operating system's random source failed: retry, or seed the factory explicitly",
            ),
            Self::Serial(e) => write!(
                f,
                "cannot number the tokens ({e}): use a prefix of up to 4 letters or digits and a smaller batch"
            ),
            Self::Token(e) => fmt::Display::fmt(e, f),
            Self::Secret(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl core::error::Error for FactoryError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Entropy => None,
            Self::Serial(e) => Some(e),
            Self::Token(e) => Some(e),
            Self::Secret(e) => Some(e),
        }
    }
}
