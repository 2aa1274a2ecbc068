//! The bank's API keys: created (the plaintext once), listed, revoked
//! (each audited), and checked when presented.

use zeroize::Zeroizing;

use super::Bank;
use crate::api_key::{generate, secret_hash, secret_matches, split_presented};
use crate::{
    API_KEY_PREFIX, Action, ApiKeyRecord, ApiKeyRefused, ApiKeyRevocation, ApiScope, AuditEntry,
    Credentials, NewApiKey, Store, StoreError,
};

/// The longest label of an API key, in characters.
pub const MAX_API_KEY_NAME_CHARS: usize = 64;

/// Why an API key was not created.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiKeyCreateError {
    /// The label is empty, longer than [`MAX_API_KEY_NAME_CHARS`], or
    /// holds a control character.
    Name,
    /// The store (or the random number generator) failed.
    Store(StoreError),
}

impl core::fmt::Display for ApiKeyCreateError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Name => write!(
                f,
                "an API key's name is 1 to {MAX_API_KEY_NAME_CHARS} characters without control characters"
            ),
            Self::Store(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for ApiKeyCreateError {}

impl From<StoreError> for ApiKeyCreateError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// The hash an unknown id's secret is compared with, so an unknown id
/// costs the same work as a known one.
const UNKNOWN_KEY_HASH: [u8; 32] = [0x5a; 32];

impl<S: Store, C: Credentials> Bank<S, C> {
    /// Creates an API key named `name` with `scope`, made by `operator`
    /// (audited as [`Action::ApiKeyCreate`], the reason `<scope>:<id>`).
    /// The plaintext is in the answer only: the store keeps SHA-256 of the
    /// secret.
    ///
    /// # Errors
    ///
    /// [`ApiKeyCreateError::Name`] for a bad label;
    /// [`ApiKeyCreateError::Store`] if the store or the random number
    /// generator fails.
    pub fn create_api_key(
        &self,
        operator: &str,
        name: &str,
        scope: ApiScope,
    ) -> Result<NewApiKey, ApiKeyCreateError> {
        let chars = name.chars().count();
        if chars == 0 || chars > MAX_API_KEY_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(ApiKeyCreateError::Name);
        }
        let (id, secret) = generate()?;
        let now = self.now();
        let record = ApiKeyRecord {
            id: id.clone(),
            name: name.to_owned(),
            scope,
            secret_hash: secret_hash(&secret),
            created_at: now,
            created_by: operator.to_owned(),
            revoked_at: None,
            last_used_at: None,
        };
        let mut audit = AuditEntry::new(now, operator, None, Action::ApiKeyCreate);
        audit.reason = Some(format!("{}:{id}", scope.as_str()));
        self.store.put_api_key(&record, &audit, &self.audit_key)?;
        let plaintext = Zeroizing::new(format!("{API_KEY_PREFIX}{id}_{}", secret.as_str()));
        Ok(NewApiKey { record, plaintext })
    }

    /// Every API key (revoked ones too), by id: never a secret.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    pub fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.store.api_keys()
    }

    /// Revokes the API key `id` (audited as [`Action::ApiKeyRevoke`], the
    /// reason the id). A server that caches keys refuses it within its
    /// cache's lifetime.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    pub fn revoke_api_key(&self, operator: &str, id: &str) -> Result<ApiKeyRevocation, StoreError> {
        let Some(record) = self.store.api_key(id)? else {
            return Ok(ApiKeyRevocation::Unknown);
        };
        if record.revoked_at.is_some() {
            return Ok(ApiKeyRevocation::AlreadyRevoked);
        }
        let now = self.now();
        let mut audit = AuditEntry::new(now, operator, None, Action::ApiKeyRevoke);
        audit.reason = Some(record.id.clone());
        Ok(
            if self
                .store
                .revoke_api_key(&record.id, now, &audit, &self.audit_key)?
            {
                ApiKeyRevocation::Revoked
            } else {
                ApiKeyRevocation::AlreadyRevoked
            },
        )
    }

    /// The record of the key `presented` (`otpk_<id>_<secret>`) if it is
    /// valid: well formed, known, not revoked, and its secret's SHA-256
    /// equal (in constant time) to the stored one.
    ///
    /// # Errors
    ///
    /// [`ApiKeyRefused::Unauthorized`] for every way it is not (one
    /// answer); [`ApiKeyRefused::Store`] if the store fails.
    pub fn check_api_key(&self, presented: &str) -> Result<ApiKeyRecord, ApiKeyRefused> {
        let (id, secret) = split_presented(presented).ok_or(ApiKeyRefused::Unauthorized)?;
        let record = self.store.api_key(id).map_err(ApiKeyRefused::Store)?;
        self.verify_api_key(record, secret)
    }

    /// [`Bank::check_api_key`] with the record already read (a server's
    /// cache of at most a few seconds): `record` is the store's record for
    /// the presented key's id, or `None`.
    ///
    /// # Errors
    ///
    /// [`ApiKeyRefused::Unauthorized`] as [`Bank::check_api_key`].
    pub fn verify_api_key(
        &self,
        record: Option<ApiKeyRecord>,
        secret: &str,
    ) -> Result<ApiKeyRecord, ApiKeyRefused> {
        let stored = record.as_ref().map_or(UNKNOWN_KEY_HASH, |r| r.secret_hash);
        let matches = secret_matches(secret, &stored);
        match record {
            Some(r) if matches && r.revoked_at.is_none() => Ok(r),
            _ => Err(ApiKeyRefused::Unauthorized),
        }
    }

    /// Records a use of the API key `id` now (its `last_used_at`). A
    /// server calls it at most about once a minute per key.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the backend fails.
    pub fn record_api_key_use(&self, id: &str) -> Result<(), StoreError> {
        self.store.touch_api_key(id, self.now())
    }
}

/// The id and secret of a presented key, `None` when it is not
/// `otpk_<16 lowercase hex>_<43 base64url>` (a server's cache looks the
/// id up, then passes the secret to [`Bank::verify_api_key`]).
#[must_use]
pub fn split_api_key(presented: &str) -> Option<(&str, &str)> {
    split_presented(presented)
}
