//! Row encoding shared by the SQLite and PostgreSQL stores: how each field
//! of the policy's records becomes a column, and back. Every decoding
//! failure is a [`StoreError::Corrupt`] naming the column, never a panic.
//!
//! Here: single values (numbers, times, authorities, IDs, serials,
//! password hashes). By record: `user` (a user row), `token` (a token
//! row, its state and status, its sealed secret), `lock` (an ID's lock as
//! one canonical text) and `audit` (an audit record's columns and the
//! chain's head).

use otp_exchange::{Authority, PasswordHash, StoreError, UserId};
use otp_provision::SerialNumber;

mod api_key;
mod audit;
mod lock;
mod token;
mod user;

pub(crate) use api_key::{API_KEY_COLS, ApiKeyRow};
pub(crate) use audit::{AuditCols, AuditRow, audit_head, next_after};
pub(crate) use lock::encode_lock;
pub(crate) use token::{StateCols, TokenRead, TokenRow, status};
pub(crate) use user::UserRow;

/// The column (in `users` / `otp_users`) that holds a password of `kind`.
pub(crate) const fn password_column(kind: otp_exchange::PasswordKind) -> &'static str {
    match kind {
        otp_exchange::PasswordKind::Approval => "approval_password",
        otp_exchange::PasswordKind::PerTransfer => "transfer_password",
        otp_exchange::PasswordKind::Login => "login_password",
    }
}

/// A u64 as the i64 with the same bits (exact for equality).
pub(crate) const fn to_db(v: u64) -> i64 {
    v.cast_signed()
}

/// The u64 stored by [`to_db`].
pub(crate) const fn from_db(v: i64) -> u64 {
    v.cast_unsigned()
}

/// A time for range filters: clamped to `i64::MAX`, so that the order is
/// kept (the exact time is in the record itself and filtered again).
pub(crate) fn time_key(at: u64) -> i64 {
    i64::try_from(at).unwrap_or(i64::MAX)
}

pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} (the store was changed outside otp-store?)"))
}

pub(crate) const fn authority_text(a: Authority) -> &'static str {
    match a {
        Authority::Administrator => "administrator",
        Authority::General => "general",
    }
}

pub(crate) fn authority(text: &str) -> Result<Authority, StoreError> {
    match text {
        "administrator" => Ok(Authority::Administrator),
        "general" => Ok(Authority::General),
        _ => Err(corrupt(
            "a user's authority is not administrator or general",
        )),
    }
}

pub(crate) fn user_id(text: &str) -> Result<UserId, StoreError> {
    UserId::parse(text).map_err(|_| corrupt("a stored customer ID is not valid"))
}

pub(crate) fn serial(text: &str) -> Result<SerialNumber, StoreError> {
    SerialNumber::parse(text).map_err(|_| corrupt("a stored token serial is not 12 characters"))
}

/// A stored serial as shown in messages: masked, or a placeholder.
pub(crate) fn masked(text: &str) -> String {
    SerialNumber::parse(text)
        .map_or_else(|_| "(not a serial)".to_owned(), |s| s.masked().to_string())
}

pub(crate) fn password(text: Option<String>) -> Result<Option<PasswordHash>, StoreError> {
    text.map(|t| PasswordHash::from_phc(&t)).transpose()
}
