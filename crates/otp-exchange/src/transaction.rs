//! A transaction to be signed on a keypad token: its amount and
//! destination account, checked when made, and the challenge the customer
//! types on the token ("press 2, type the digits shown on the screen").

use core::fmt;

use otp_core::{OcraSuite, QuestionFormat};
use sha2::{Digest as _, Sha256};

use crate::UserId;

/// The longest destination account accepted: 34 characters (an IBAN's
/// longest).
pub const MAX_DESTINATION_LEN: usize = 34;

/// Domain separation of the challenge's digest: a digest made for anything
/// else never equals a transaction's.
const CHALLENGE_DOMAIN: &[u8] = b"otp-exchange transaction challenge v1\0";

/// Domain separation of the transaction's audit reference.
const REFERENCE_DOMAIN: &[u8] = b"otp-exchange transaction reference v1\0";

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

    /// The transaction's fields, each length-prefixed, after `domain` and
    /// the user's ID: no two transactions encode alike.
    fn digest(&self, domain: &[u8], user: &UserId) -> Sha256 {
        let mut h = Sha256::new();
        h.update(domain);
        for field in [
            user.as_str().as_bytes(),
            self.amount.to_string().as_bytes(),
            self.destination.as_bytes(),
        ] {
            h.update(u64::try_from(field.len()).unwrap_or(u64::MAX).to_be_bytes());
            h.update(field);
        }
        h
    }

    /// The challenge `user` types on a keypad token of `suite` to sign
    /// this transaction: decimal digits (valid in every question format),
    /// as many as the suite's question takes (an even number for a
    /// hexadecimal question), drawn without bias from a SHA-256 digest of
    /// the user's ID, the amount and the destination.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_exchange::{Transaction, UserId};
    /// let suite: otp_core::OcraSuite = "OCRA-1:HOTP-SHA1-6:C-QN08".parse()?;
    /// let t = Transaction::new(150_000, "1234567")?;
    /// let q = t.challenge(&UserId::parse("W0001")?, &suite);
    /// assert_eq!(q.len(), 8);
    /// assert!(q.bytes().all(|b| b.is_ascii_digit()));
    /// // Another amount, another challenge.
    /// let other = Transaction::new(150_001, "1234567")?;
    /// assert_ne!(other.challenge(&UserId::parse("W0001")?, &suite), q);
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    #[must_use]
    pub fn challenge(&self, user: &UserId, suite: &OcraSuite) -> String {
        let mut len = usize::from(suite.question_len());
        if suite.question_format() == QuestionFormat::Hex {
            len &= !1;
        }
        let seed = self.digest(CHALLENGE_DOMAIN, user).finalize();
        let mut out = String::with_capacity(len);
        let mut block: u64 = 0;
        while out.len() < len {
            let bytes = Sha256::new()
                .chain_update(seed)
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
        out
    }

    /// A reference to this transaction for the audit trail: 16 hex digits
    /// of a digest of the user's ID, the amount and the destination (the
    /// account number itself is not written there; the digest is unkeyed,
    /// so whoever reads the trail and knows the user and the amount can
    /// test a guessed account number). The bank's own transfer records can
    /// be matched to it by computing it again.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_exchange::{Transaction, UserId};
    /// let r = Transaction::new(150_000, "1234567")?.reference(&UserId::parse("W0001")?);
    /// assert_eq!(r.len(), 16);
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    #[must_use]
    pub fn reference(&self, user: &UserId) -> String {
        let d = self.digest(REFERENCE_DOMAIN, user).finalize();
        d.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn user() -> UserId {
        UserId::parse("W0001").unwrap()
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
            let q = t.challenge(&user(), &suite);
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
        let q = base.challenge(&user(), &suite);
        assert_eq!(q, base.challenge(&user(), &suite));
        assert_ne!(
            Transaction::new(101, "123")
                .unwrap()
                .challenge(&user(), &suite),
            q
        );
        assert_ne!(
            Transaction::new(100, "124")
                .unwrap()
                .challenge(&user(), &suite),
            q
        );
        assert_ne!(base.challenge(&UserId::parse("W0002").unwrap(), &suite), q);
        // Length prefixes: amount 1 to "23" is not amount 12 to "3".
        assert_ne!(
            Transaction::new(1, "23").unwrap().reference(&user()),
            Transaction::new(12, "3").unwrap().reference(&user())
        );
        let mut counts = [0u32; 10];
        for amount in 1..=2_000 {
            let q = Transaction::new(amount, "9")
                .unwrap()
                .challenge(&user(), &suite);
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
