//! An API key row as read, decoded into an [`ApiKeyRecord`].

use otp_exchange::{ApiKeyRecord, ApiScope, StoreError, is_api_key_id};

/// The columns of an API key row, in this order.
pub(crate) const API_KEY_COLS: &str =
    "id, name, scope, secret_hash, created_at, created_by, revoked_at, last_used_at";

/// An API key row as read.
pub(crate) struct ApiKeyRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) scope: String,
    pub(crate) secret_hash: Vec<u8>,
    pub(crate) created_at: i64,
    pub(crate) created_by: String,
    pub(crate) revoked_at: Option<i64>,
    pub(crate) last_used_at: Option<i64>,
}

impl ApiKeyRow {
    pub(crate) fn decode(self) -> Result<ApiKeyRecord, StoreError> {
        if !is_api_key_id(&self.id) {
            return Err(super::corrupt(
                "an API key's id is not 16 lowercase hex digits",
            ));
        }
        Ok(ApiKeyRecord {
            id: self.id,
            name: self.name,
            scope: ApiScope::parse(&self.scope)
                .ok_or_else(|| super::corrupt("an API key's scope is not valid"))?,
            secret_hash: self
                .secret_hash
                .as_slice()
                .try_into()
                .map_err(|_| super::corrupt("an API key's hash is not 32 bytes"))?,
            created_at: super::from_db(self.created_at),
            created_by: self.created_by,
            revoked_at: self.revoked_at.map(super::from_db),
            last_used_at: self.last_used_at.map(super::from_db),
        })
    }
}
