//! A transaction to be signed on a keypad token: its amount and
//! destination account, checked when made, and the challenge the customer
//! types on the token ("press 2, type the digits shown on the screen").

use core::fmt;

use hmac::Mac as _;
use otp_core::{OcraSuite, QuestionFormat};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::{InternalError, UserId};

/// The longest destination account accepted: 34 characters (an IBAN's
/// longest).
pub const MAX_DESTINATION_LEN: usize = 34;

/// Domain separation of the challenge's digest: a digest made for anything
/// else never equals a transaction's.
const CHALLENGE_DOMAIN: &[u8] = b"otp-exchange transaction challenge v1\0";

/// Domain separation of the transaction's audit reference.
const REFERENCE_DOMAIN: &[u8] = b"otp-exchange transaction reference v2\0";

/// The label of the transaction key, derived from the bank's session key.
const KEY_LABEL: &[u8] = b"otp-exchange/transaction/hmac-sha256/v1";

/// How many digits a transaction's challenge has on a token of `suite`:
/// as many as its question takes, an even number for a hexadecimal one.
pub(crate) fn challenge_len(suite: &OcraSuite) -> usize {
    let len = usize::from(suite.question_len());
    if suite.question_format() == QuestionFormat::Hex {
        len & !1
    } else {
        len
    }
}

/// The bank's key for transactions' challenges and references: an
/// HMAC-SHA-256 key derived from its session key (every server of one
/// bank shares it, and so computes the same challenge). Keyed, a
/// challenge cannot be computed, nor a colliding transfer searched for,
/// by anyone without it.
pub(crate) struct TransactionKey(Zeroizing<[u8; 32]>);

impl TransactionKey {
    /// The key derived from `session_key`.
    pub(crate) fn derive(session_key: &[u8; 32]) -> Result<Self, InternalError> {
        crate::derive::derived_key(session_key, KEY_LABEL).map(Self)
    }
}

/// A transfer to be signed: an amount (in the account's smallest unit,
/// yen) and a destination account.
///
/// The challenge the customer types on the keypad is derived from both
/// (and the user's ID): the response then signs this amount to this
/// account, and a response for any other transfer is wrong.
///
/// # Examples
///
/// ```
/// use otp_exchange::{Transaction, TransactionError};
/// let t = Transaction::new(150_000, "1234567")?;
/// assert_eq!((t.amount(), t.destination()), (150_000, "1234567"));
/// assert_eq!(Transaction::new(0, "1234567"), Err(TransactionError::ZeroAmount));
/// assert_eq!(Transaction::new(1, "12 34"), Err(TransactionError::DestinationCharacter));
/// # Ok::<(), TransactionError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Transaction {
    amount: u64,
    destination: String,
}

/// Why a transaction cannot be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransactionError {
    /// The amount is zero.
    ZeroAmount,
    /// The destination account is empty.
    EmptyDestination,
    /// The destination account is longer than [`MAX_DESTINATION_LEN`].
    DestinationTooLong,
    /// The destination account has a character other than an ASCII letter,
    /// digit or `-`.
    DestinationCharacter,
}

impl fmt::Display for TransactionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroAmount => f.write_str("the amount is zero"),
            Self::EmptyDestination => f.write_str("the destination account is empty"),
            Self::DestinationTooLong => write!(
                f,
                "the destination account is longer than {MAX_DESTINATION_LEN} characters"
            ),
            Self::DestinationCharacter => f.write_str(
                "the destination account has a character other than a letter, a digit or `-`",
            ),
        }
    }
}

impl core::error::Error for TransactionError {}

impl Transaction {
    /// A transfer of `amount` to `destination`.
    ///
    /// # Errors
    ///
    /// A [`TransactionError`] for a zero amount or a destination that is
    /// empty, too long, or has other characters than ASCII letters, digits
    /// and `-`.
    pub fn new(amount: u64, destination: &str) -> Result<Self, TransactionError> {
        if amount == 0 {
            return Err(TransactionError::ZeroAmount);
        }
        if destination.is_empty() {
            return Err(TransactionError::EmptyDestination);
        }
        if destination.len() > MAX_DESTINATION_LEN {
            return Err(TransactionError::DestinationTooLong);
        }
        if !destination
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(TransactionError::DestinationCharacter);
        }
        Ok(Self {
            amount,
            destination: destination.to_owned(),
        })
    }

    /// The amount.
    #[must_use]
    pub const fn amount(&self) -> u64 {
        self.amount
    }

    /// The destination account.
    #[must_use]
    pub fn destination(&self) -> &str {
        &self.destination
    }

    /// HMAC under `key` of `domain`, the user's ID and the transaction's
    /// fields, each length-prefixed: no two transactions encode alike.
    fn mac(
        &self,
        key: &TransactionKey,
        domain: &[u8],
        user: &UserId,
    ) -> Result<[u8; 32], InternalError> {
        let mut h = crate::derive::keyed(key.0.as_slice())?;
        h.update(domain);
        for field in [
            user.as_str().as_bytes(),
            self.amount.to_string().as_bytes(),
            self.destination.as_bytes(),
        ] {
            h.update(&u64::try_from(field.len()).unwrap_or(u64::MAX).to_be_bytes());
            h.update(field);
        }
        Ok(h.finalize().into_bytes().into())
    }

    /// The challenge `user` types on a keypad token of `suite` to sign
    /// this transaction: decimal digits (valid in every question format),
    /// as many as the suite's question takes (an even number for a
    /// hexadecimal question), drawn without bias from an HMAC under the
    /// bank's `key` of the user's ID, the amount and the destination.
    /// Public through [`Bank::transaction_challenge`](crate::Bank::transaction_challenge).
    pub(crate) fn challenge(
        &self,
        key: &TransactionKey,
        user: &UserId,
        suite: &OcraSuite,
    ) -> Result<String, InternalError> {
        let len = challenge_len(suite);
        let seed = Zeroizing::new(self.mac(key, CHALLENGE_DOMAIN, user)?);
        let mut out = String::with_capacity(len);
        let mut block: u64 = 0;
        while out.len() < len {
            let bytes = Sha256::new()
                .chain_update(seed.as_slice())
                .chain_update(block.to_be_bytes())
                .finalize();
            block = block.wrapping_add(1);
            // 250 is the largest multiple of 10 in a byte: bytes from it
            // up are dropped, so every digit is equally likely.
            for b in bytes.iter().filter(|&&b| b < 250) {
                if out.len() == len {
                    break;
                }
                out.push(char::from(b'0' + b % 10));
            }
        }
        Ok(out)
    }

    /// A reference to this transaction for the audit trail: 16 hex digits
    /// of an HMAC under the bank's `key` of the user's ID, the amount and
    /// the destination. The account number itself is not written there,
    /// and without the key whoever reads the trail cannot test a guessed
    /// one. Public through [`Bank::transaction_reference`](crate::Bank::transaction_reference).
    pub(crate) fn reference(
        &self,
        key: &TransactionKey,
        user: &UserId,
    ) -> Result<String, InternalError> {
        Ok(self
            .mac(key, REFERENCE_DOMAIN, user)?
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn user() -> UserId {
        UserId::parse("W0001").unwrap()
    }

    fn key() -> TransactionKey {
        TransactionKey::derive(&[0x33; 32]).unwrap()
    }

    /// Every question format gets digits of its length (even for hex),
    /// each field changes the challenge, and digits are spread evenly.
    #[test]
    fn challenges_fit_the_suite_and_bind_every_field() {
        for (suite, len) in [
            ("OCRA-1:HOTP-SHA1-6:C-QN08", 8),
            ("OCRA-1:HOTP-SHA256-8:QA10-T1M", 10),
            ("OCRA-1:HOTP-SHA512-8:C-QH41", 40),
            ("OCRA-1:HOTP-SHA512-8:C-QN64", 64),
        ] {
            let suite = OcraSuite::parse(suite).unwrap();
            let t = Transaction::new(1, "ACCT-1").unwrap();
            let q = t.challenge(&key(), &user(), &suite).unwrap();
            assert_eq!(q.len(), len);
            assert!(q.bytes().all(|b| b.is_ascii_digit()));
            let mut input = otp_core::OcraInput::new(&q);
            if suite.counter() {
                input = input.with_counter(0);
            }
            if suite.time_step().is_some() {
                input = input.with_time_step(0);
            }
            suite.validate(&input).unwrap();
        }
        let suite = OcraSuite::parse("OCRA-1:HOTP-SHA1-6:C-QN08").unwrap();
        let base = Transaction::new(100, "123").unwrap();
        let q = base.challenge(&key(), &user(), &suite).unwrap();
        assert_eq!(q, base.challenge(&key(), &user(), &suite).unwrap());
        assert_ne!(
            Transaction::new(101, "123")
                .unwrap()
                .challenge(&key(), &user(), &suite)
                .unwrap(),
            q
        );
        assert_ne!(
            Transaction::new(100, "124")
                .unwrap()
                .challenge(&key(), &user(), &suite)
                .unwrap(),
            q
        );
        assert_ne!(
            base.challenge(&key(), &UserId::parse("W0002").unwrap(), &suite)
                .unwrap(),
            q
        );
        // Length prefixes: amount 1 to "23" is not amount 12 to "3".
        assert_ne!(
            Transaction::new(1, "23")
                .unwrap()
                .reference(&key(), &user())
                .unwrap(),
            Transaction::new(12, "3")
                .unwrap()
                .reference(&key(), &user())
                .unwrap()
        );
        let mut counts = [0u32; 10];
        for amount in 1..=2_000 {
            let q = Transaction::new(amount, "9")
                .unwrap()
                .challenge(&key(), &user(), &suite)
                .unwrap();
            for b in q.bytes() {
                counts[usize::from(b - b'0')] += 1;
            }
        }
        // 16,000 digits: each about 1,600; far outside 1,400..1,800 means bias.
        assert!(
            counts.iter().all(|&c| (1_400..1_800).contains(&c)),
            "{counts:?}"
        );
    }

    /// The challenge and the reference depend on the bank's key: another
    /// bank's differ, every server of one bank computes the same.
    #[test]
    fn challenges_and_references_are_keyed() {
        let suite = OcraSuite::parse("OCRA-1:HOTP-SHA1-6:C-QN08").unwrap();
        let t = Transaction::new(150_000, "1234567").unwrap();
        let other = TransactionKey::derive(&[0x34; 32]).unwrap();
        assert_eq!(
            t.challenge(&key(), &user(), &suite).unwrap(),
            t.challenge(
                &TransactionKey::derive(&[0x33; 32]).unwrap(),
                &user(),
                &suite
            )
            .unwrap()
        );
        assert_ne!(
            t.challenge(&key(), &user(), &suite).unwrap(),
            t.challenge(&other, &user(), &suite).unwrap()
        );
        assert_ne!(
            t.reference(&key(), &user()).unwrap(),
            t.reference(&other, &user()).unwrap()
        );
        assert_eq!(t.reference(&key(), &user()).unwrap().len(), 16);
        // The key is not the session key itself.
        assert_ne!(key().0.as_slice(), [0x33; 32].as_slice());
    }

    #[test]
    fn every_malformed_field_has_its_error() {
        assert_eq!(Transaction::new(0, "1"), Err(TransactionError::ZeroAmount));
        assert_eq!(
            Transaction::new(1, ""),
            Err(TransactionError::EmptyDestination)
        );
        assert_eq!(
            Transaction::new(1, &"1".repeat(35)),
            Err(TransactionError::DestinationTooLong)
        );
        assert!(Transaction::new(1, &"1".repeat(34)).is_ok());
        for bad in ["12 3", "１２３", "12\n", "a/b", "x;y"] {
            assert_eq!(
                Transaction::new(1, bad),
                Err(TransactionError::DestinationCharacter),
                "{bad}"
            );
        }
    }
}
