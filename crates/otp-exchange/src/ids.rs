//! Customer IDs and authority.

use core::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The longest customer ID accepted.
pub const MAX_USER_ID_LEN: usize = 20;

/// A customer (user) ID as the bank's screens show it, such as `W0001`:
/// 1 to 20 half-width ASCII letters and digits, case-sensitive.
///
/// # Examples
///
/// ```
/// use otp_exchange::{UserId, UserIdError};
/// let id: UserId = "W0001".parse()?;
/// assert_eq!(id.as_str(), "W0001");
/// assert_eq!("Ｗ0001".parse::<UserId>(), Err(UserIdError::FullWidth));
/// # Ok::<(), UserIdError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    /// Parses a user ID.
    ///
    /// # Errors
    ///
    /// [`UserIdError`] naming what is wrong.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(otp_exchange::UserId::parse("W 0001").is_err());
    /// ```
    pub fn parse(input: &str) -> Result<Self, UserIdError> {
        if input.is_empty() {
            return Err(UserIdError::Empty);
        }
        if input
            .chars()
            .any(|c| ('\u{FF01}'..='\u{FF5E}').contains(&c) || c == '\u{3000}')
        {
            return Err(UserIdError::FullWidth);
        }
        if !input.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(UserIdError::InvalidCharacter);
        }
        if input.len() > MAX_USER_ID_LEN {
            return Err(UserIdError::TooLong {
                max: MAX_USER_ID_LEN,
            });
        }
        Ok(Self(input.to_owned()))
    }

    /// The ID as text.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(otp_exchange::UserId::parse("W0005")?.as_str(), "W0005");
    /// # Ok::<(), otp_exchange::UserIdError>(())
    /// ```
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for UserId {
    type Err = UserIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for UserId {
    type Error = UserIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<UserId> for String {
    fn from(id: UserId) -> Self {
        id.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId({})", self.0)
    }
}

/// What is wrong with a typed user ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UserIdError {
    /// Nothing was typed.
    Empty,
    /// Full-width characters: type half-width letters and digits.
    FullWidth,
    /// Characters other than ASCII letters and digits.
    InvalidCharacter,
    /// Longer than the bank's IDs.
    TooLong {
        /// The maximum length.
        max: usize,
    },
}

impl fmt::Display for UserIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("no customer ID was entered"),
            Self::FullWidth => f.write_str(
                "the customer ID has full-width characters: type half-width letters and digits",
            ),
            Self::InvalidCharacter => {
                f.write_str("the customer ID may contain only letters and digits")
            }
            Self::TooLong { max } => write!(f, "the customer ID is longer than {max} characters"),
        }
    }
}

impl core::error::Error for UserIdError {}

/// A user's authority on the bank's screens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Authority {
    /// 管理者: may register, exchange and unregister tokens, lock and unlock IDs.
    Administrator,
    /// 一般者: may log in and transact, but not manage tokens.
    General,
}

impl Authority {
    /// The label on the selection screen, in `lang`.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_exchange::{Authority, Lang};
    /// assert_eq!(Authority::Administrator.label(Lang::Ja), "管理者");
    /// ```
    #[must_use]
    pub const fn label(self, lang: crate::Lang) -> &'static str {
        match (self, lang) {
            (Self::Administrator, crate::Lang::En) => "administrator",
            (Self::Administrator, crate::Lang::Ja) => "管理者",
            (Self::General, crate::Lang::En) => "general user",
            (Self::General, crate::Lang::Ja) => "一般者",
        }
    }
}
