//! A user row as read, decoded into a [`UserRecord`].

use otp_exchange::{StoreError, UserRecord};

use super::lock::decode_lock;
use super::{authority, password, serial, user_id};

/// A user row as read.
pub(crate) struct UserRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) authority: String,
    pub(crate) token: Option<String>,
    pub(crate) id_lock: String,
    pub(crate) approval_password: Option<String>,
    pub(crate) transfer_password: Option<String>,
    pub(crate) login_password: Option<String>,
    pub(crate) last_login: Option<i64>,
    pub(crate) usage_mode: String,
}

impl UserRow {
    pub(crate) fn decode(self) -> Result<UserRecord, StoreError> {
        Ok(UserRecord {
            id: user_id(&self.id)?,
            name: self.name,
            authority: authority(&self.authority)?,
            token: self.token.as_deref().map(serial).transpose()?,
            lock: decode_lock(&self.id_lock)?,
            approval_password: password(self.approval_password)?,
            transfer_password: password(self.transfer_password)?,
            login_password: password(self.login_password)?,
            last_login: self.last_login.map(super::from_db),
            usage_mode: otp_exchange::UsageMode::parse(&self.usage_mode)
                .ok_or_else(|| super::corrupt("a user's usage mode is not valid"))?,
        })
    }
}
