//! Login, approval and per-transfer confirmation passwords: typed secrets, salted
//! Argon2id hashes, and the trait a bank implements to plug in its own
//! credential check.

use core::fmt;

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::{StoreError, UserRecord};

/// A password as typed. Zeroized on drop; `Debug` is redacted; no `Display`.
///
/// # Examples
///
/// ```
/// let p = otp_exchange::Password::new("correct horse");
/// assert_eq!(format!("{p:?}"), "Password(..)");
/// ```
pub struct Password(Zeroizing<String>);

impl Password {
    /// Wraps a typed password.
    #[must_use]
    pub fn new(typed: &str) -> Self {
        Self(Zeroizing::new(typed.to_owned()))
    }

    /// The password's bytes, for a credential check.
    #[must_use]
    pub fn expose_secret(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

/// A salted password hash in PHC string format (`$argon2id$v=19$...`).
/// It is not the password, but it is still a credential: `Debug` shows only
/// its algorithm.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Hashes `password` with Argon2id and a fresh random salt, with the
    /// given cost.
    ///
    /// # Errors
    ///
    /// [`StoreError::Crypto`] if the hash cannot be computed (an invalid
    /// cost, or no system randomness).
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_exchange::{HashCost, Password, PasswordHash};
    /// let h = PasswordHash::create(&Password::new("s3cret"), HashCost::TESTING)?;
    /// assert!(h.as_phc().starts_with("$argon2id$"));
    /// assert!(h.matches(&Password::new("s3cret")));
    /// assert!(!h.matches(&Password::new("S3cret")));
    /// # Ok::<(), otp_exchange::StoreError>(())
    /// ```
    pub fn create(password: &Password, cost: HashCost) -> Result<Self, StoreError> {
        let hash = cost
            .argon2()?
            .hash_password(password.expose_secret())
            .map_err(|e| StoreError::Crypto(format!("password hashing failed: {e}")))?;
        Ok(Self(hash.to_string()))
    }

    /// Takes a PHC string from storage.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] when it is not a PHC string.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(otp_exchange::PasswordHash::from_phc("plaintext").is_err());
    /// ```
    pub fn from_phc(phc: &str) -> Result<Self, StoreError> {
        argon2::password_hash::phc::PasswordHash::new(phc).map_err(|_| {
            StoreError::Corrupt("a stored password hash is not a PHC string".into())
        })?;
        Ok(Self(phc.to_owned()))
    }

    /// The PHC string, for storage.
    #[must_use]
    pub fn as_phc(&self) -> &str {
        &self.0
    }

    /// Whether `password` matches (in constant time, by Argon2's verifier).
    #[must_use]
    pub fn matches(&self, password: &Password) -> bool {
        argon2::Argon2::default()
            .verify_password(password.expose_secret(), self.0.as_str())
            .is_ok()
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let algorithm = self.0.split('$').nth(1).unwrap_or("?");
        write!(f, "PasswordHash({algorithm}, ..)")
    }
}

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl HashCost {
    /// OWASP's Argon2id recommendation: 19 MiB, 2 iterations, 1 lane.
    pub const RECOMMENDED: Self = Self {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// Cheap parameters for test suites only; never for real passwords.
    pub const TESTING: Self = Self {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    fn argon2(self) -> Result<argon2::Argon2<'static>, StoreError> {
        let params = argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| StoreError::Crypto(format!("invalid Argon2 cost: {e}")))?;
        Ok(argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            params,
        ))
    }
}

/// The fewest characters (Unicode scalar values) a password set by
/// [`crate::Bank::change_password`] may have.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Whether `new` may replace `current`: long enough and not the same
/// (compared in constant time: both are secrets).
pub(crate) fn acceptable_change(current: &Password, new: &Password) -> bool {
    use subtle::ConstantTimeEq as _;
    let chars = core::str::from_utf8(new.expose_secret()).map_or(0, |s| s.chars().count());
    chars >= MIN_PASSWORD_CHARS && !bool::from(current.expose_secret().ct_eq(new.expose_secret()))
}

/// The passwords a user may have: the login password (any user, for the
/// web sign-in), and the approval or per-transfer confirmation password
/// (administrators, for approvals).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PasswordKind {
    /// 承認用パスワード: the approval password.
    Approval,
    /// 都度振込送信確認用パスワード: the per-transfer confirmation password,
    /// accepted instead when no approval password is registered.
    PerTransfer,
    /// ログインパスワード: the login password of the web sign-in
    /// ([`crate::Bank::sign_in`]), typed with a code from the user's token.
    /// Never accepted for an approval.
    Login,
}

impl PasswordKind {
    /// The stored hash of this kind on `user`, if one is registered.
    #[must_use]
    pub const fn stored(self, user: &UserRecord) -> Option<&PasswordHash> {
        match self {
            Self::Approval => user.approval_password.as_ref(),
            Self::PerTransfer => user.transfer_password.as_ref(),
            Self::Login => user.login_password.as_ref(),
        }
    }

    /// The name used in audit reasons: `approval`, `transfer`, `login`.
    pub(crate) const fn audit_name(self) -> &'static str {
        match self {
            Self::Approval => "approval",
            Self::PerTransfer => "transfer",
            Self::Login => "login",
        }
    }
}

/// How the bank checks an administrator's passwords. The default,
/// [`StoredHashes`], checks the Argon2id hashes on the user's record; a
/// bank with its own credential service implements this trait instead.
pub trait Credentials: Send + Sync + fmt::Debug {
    /// Which password this user must type: the approval password if one is
    /// registered, else the per-transfer confirmation password, else none.
    fn required(&self, user: &UserRecord) -> Option<PasswordKind>;

    /// Whether `password` is this user's password of `kind`.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the credential service cannot answer.
    fn check(
        &self,
        user: &UserRecord,
        kind: PasswordKind,
        password: &Password,
    ) -> Result<bool, StoreError>;
}

/// Checks the Argon2id hashes stored on each [`UserRecord`].
#[derive(Clone, Copy, Debug, Default)]
pub struct StoredHashes;

impl Credentials for StoredHashes {
    fn required(&self, user: &UserRecord) -> Option<PasswordKind> {
        if user.approval_password.is_some() {
            Some(PasswordKind::Approval)
        } else if user.transfer_password.is_some() {
            Some(PasswordKind::PerTransfer)
        } else {
            None
        }
    }

    fn check(
        &self,
        user: &UserRecord,
        kind: PasswordKind,
        password: &Password,
    ) -> Result<bool, StoreError> {
        Ok(kind.stored(user).is_some_and(|h| h.matches(password)))
    }
}
