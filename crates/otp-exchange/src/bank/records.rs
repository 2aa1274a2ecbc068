//! What screens and reports read: the read-only [`Records`] view, the
//! selection screen's rows, and why an audit trail did not verify.

use core::fmt;

use otp_core::TokenState;
use otp_provision::{MaskedSerial, SerialNumber};

use crate::{
    AuditError, AuditHead, AuditRecord, Authority, Store, StoreError, TokenStatus, UserId,
    UserPage, UserRecord,
};

/// One row of the selection screen (選択).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRow {
    /// Customer ID.
    pub id: UserId,
    /// User name.
    pub name: String,
    /// Administrator or general user.
    pub authority: Authority,
    /// The token serial, masked; `None` shows as `-`.
    pub serial: Option<MaskedSerial>,
    /// Registration status: `true` for 登録完了 (registered).
    pub registered: bool,
    /// Whether the ID is locked.
    pub locked: bool,
    /// The OTP usage mode (利用形態).
    pub usage_mode: crate::UsageMode,
}

/// A page of the selection screen: "`first` to `last` of `total`".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserList {
    /// The rows on this page.
    pub rows: Vec<UserRow>,
    /// 1-based position of the first row (0 when empty).
    pub first: usize,
    /// 1-based position of the last row (0 when empty).
    pub last: usize,
    /// All users.
    pub total: usize,
}

/// A read-only view of the bank's store: what screens and reports show,
/// never a token secret or a password hash.
#[derive(Debug)]
pub struct Records<'a, S: Store> {
    pub(super) store: &'a S,
}

impl<S: Store> Records<'_, S> {
    /// The user with this ID, without password hashes.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    pub fn user(&self, id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        Ok(self.store.user(id)?.map(|mut u| {
            u.approval_password = None;
            u.transfer_password = None;
            u.login_password = None;
            u
        }))
    }

    /// Users in ID order, without password hashes.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    pub fn users(&self, offset: usize, limit: usize) -> Result<UserPage, StoreError> {
        let mut page = self.store.users(offset, limit)?;
        for u in &mut page.users {
            u.approval_password = None;
            u.transfer_password = None;
            u.login_password = None;
        }
        Ok(page)
    }

    /// A token's status (unassigned, assigned, revoked), if the bank has it.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    pub fn token_status(&self, serial: &SerialNumber) -> Result<Option<TokenStatus>, StoreError> {
        Ok(self.store.token(serial)?.map(|t| t.status))
    }

    /// A token's verification state (replay floor, drift).
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    pub fn token_state(&self, serial: &SerialNumber) -> Result<Option<TokenState>, StoreError> {
        Ok(self.store.token(serial)?.map(|t| t.state))
    }

    /// The whole audit chain.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    pub fn audit_chain(&self) -> Result<Vec<AuditRecord>, StoreError> {
        self.store.audit_chain()
    }

    /// The stored head of the audit chain.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    pub fn audit_head(&self) -> Result<Option<AuditHead>, StoreError> {
        self.store.audit_head()
    }

    /// The API key with this id (its record: SHA-256 of the secret, never
    /// the secret).
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    pub fn api_key(&self, id: &str) -> Result<Option<crate::ApiKeyRecord>, StoreError> {
        self.store.api_key(id)
    }
}

/// Why the audit trail could not be shown as verified.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditCheckError {
    /// The store failed or holds records that cannot be read.
    Store(StoreError),
    /// The chain does not verify.
    Chain(AuditError),
}

impl fmt::Display for AuditCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Store(e) => write!(f, "{e}"),
            Self::Chain(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for AuditCheckError {}
