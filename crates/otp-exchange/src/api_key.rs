//! API keys: how the bank's other systems call its JSON API. A key is
//! `otpk_<id>_<secret>`: `<id>` 16 lowercase hex digits (8 random bytes,
//! public, the record's name), `<secret>` 43 base64url characters (32
//! random bytes from the operating system). The store keeps the id, a
//! label, the scope, SHA-256 of the secret (a 256-bit random secret needs
//! no slow hash: nobody can guess it, and the hash does not give it back),
//! who made it and when, when it was revoked and when it was last used.
//! The plaintext is shown once, at creation.

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::StoreError;

/// The prefix of every API key.
pub const API_KEY_PREFIX: &str = "otpk_";

/// Hex digits of an API key's id.
pub const API_KEY_ID_LEN: usize = 16;

/// Characters of an API key's secret (32 bytes, base64url without padding).
pub const API_KEY_SECRET_LEN: usize = 43;

/// What an API key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiScope {
    /// Validate login codes, nothing else.
    Validate,
    /// Validate, and (with an administrator's own sign-in and approval
    /// password) the admin operations.
    Admin,
}

impl ApiScope {
    /// `validate` or `admin`, as stored and typed.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Validate => "validate",
            Self::Admin => "admin",
        }
    }

    /// The scope named `text` (`validate`, `admin`).
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_exchange::ApiScope;
    /// assert_eq!(ApiScope::parse("admin"), Some(ApiScope::Admin));
    /// assert_eq!(ApiScope::parse("root"), None);
    /// ```
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "validate" => Some(Self::Validate),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    /// Whether a key of this scope may do what `needed` allows (an admin
    /// key may validate; a validate key may not administer).
    #[must_use]
    pub const fn allows(self, needed: Self) -> bool {
        matches!(
            (self, needed),
            (Self::Admin, _) | (Self::Validate, Self::Validate)
        )
    }
}

impl fmt::Display for ApiScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An API key as stored: never its secret, only SHA-256 of it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// The key's id: 16 lowercase hex digits (public: it names the key in
    /// lists and logs).
    pub id: String,
    /// The label given at creation (which system holds it).
    pub name: String,
    /// What it may do.
    pub scope: ApiScope,
    /// SHA-256 of the secret.
    pub secret_hash: [u8; 32],
    /// Unix time of creation.
    pub created_at: u64,
    /// Who created it (the operator the command line names).
    pub created_by: String,
    /// Unix time it was revoked; `None` while it is valid.
    pub revoked_at: Option<u64>,
    /// Unix time of its last use (written at most about once a minute).
    pub last_used_at: Option<u64>,
}

impl fmt::Debug for ApiKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("scope", &self.scope)
            .field("secret_hash", &"<redacted>")
            .field("created_at", &self.created_at)
            .field("created_by", &self.created_by)
            .field("revoked_at", &self.revoked_at)
            .field("last_used_at", &self.last_used_at)
            .finish()
    }
}

/// Whether `id` is an API key id: 16 lowercase hex digits.
#[must_use]
pub fn is_api_key_id(id: &str) -> bool {
    id.len() == API_KEY_ID_LEN && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A key just created: the plaintext, shown once, wiped when dropped.
pub struct NewApiKey {
    pub(crate) record: ApiKeyRecord,
    pub(crate) plaintext: Zeroizing<String>,
}

impl NewApiKey {
    /// The stored record.
    #[must_use]
    pub const fn record(&self) -> &ApiKeyRecord {
        &self.record
    }

    /// `otpk_<id>_<secret>`: give it to the system that calls the API,
    /// once; it cannot be shown again.
    #[must_use]
    pub fn plaintext(&self) -> &str {
        &self.plaintext
    }
}

impl fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewApiKey")
            .field("record", &self.record)
            .field("plaintext", &"<redacted>")
            .finish()
    }
}

/// Why a presented key was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiKeyRefused {
    /// Malformed, unknown, revoked, or the wrong secret: one answer for all.
    Unauthorized,
    /// The store could not be read.
    Store(StoreError),
}

impl fmt::Display for ApiKeyRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unauthorized => f.write_str("the API key is not valid"),
            Self::Store(e) => write!(f, "the API key could not be checked: {e}"),
        }
    }
}

impl core::error::Error for ApiKeyRefused {}

/// What revoking a key did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeyRevocation {
    /// Revoked now.
    Revoked,
    /// It was revoked already (nothing changed).
    AlreadyRevoked,
    /// No key has this id.
    Unknown,
}

/// A presented key split into its id and secret; `None` when it is not
/// `otpk_<16 lowercase hex>_<43 base64url>`.
pub(crate) fn split_presented(presented: &str) -> Option<(&str, &str)> {
    let rest = presented.strip_prefix(API_KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let base64url = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    (is_api_key_id(id) && secret.len() == API_KEY_SECRET_LEN && secret.bytes().all(base64url))
        .then_some((id, secret))
}

/// SHA-256 of a key's secret (its text as presented).
pub(crate) fn secret_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Whether `secret` hashes to `stored`, in constant time.
pub(crate) fn secret_matches(secret: &str, stored: &[u8; 32]) -> bool {
    bool::from(secret_hash(secret).ct_eq(stored))
}

/// A new id and secret from the operating system's generator.
pub(crate) fn generate() -> Result<(String, Zeroizing<String>), StoreError> {
    let mut id = [0u8; 8];
    crate::bank::random_bytes(&mut id)?;
    let mut secret = Zeroizing::new([0u8; 32]);
    crate::bank::random_bytes(&mut secret[..])?;
    let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    Ok((id, Zeroizing::new(URL_SAFE_NO_PAD.encode(&secret[..]))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_has_the_documented_shape() {
        let (id, secret) = generate().unwrap();
        let text = format!("{API_KEY_PREFIX}{id}_{}", secret.as_str());
        assert_eq!(text.len(), 5 + 16 + 1 + 43);
        assert_eq!(split_presented(&text), Some((id.as_str(), secret.as_str())));
    }

    #[test]
    fn malformed_keys_do_not_split() {
        let secret = "a".repeat(43);
        for bad in [
            String::new(),
            format!("otpk_0123456789abcdef{secret}"),
            format!("otpk_0123456789ABCDEF_{secret}"),
            format!("otpk_0123456789abcde_{secret}"),
            format!("otpk_0123456789abcdef_{}", "a".repeat(42)),
            format!("otpk_0123456789abcdef_{}", "a".repeat(44)),
            format!("otpk_0123456789abcdef_{}=", "a".repeat(42)),
            format!("OTPK_0123456789abcdef_{secret}"),
            format!("otpk_0123456789abcdéf_{secret}"),
        ] {
            assert_eq!(split_presented(&bad), None, "{bad}");
        }
        assert!(split_presented(&format!("otpk_0123456789abcdef_{secret}")).is_some());
        // A secret may contain `_` (base64url).
        let with_underscore = format!("otpk_0123456789abcdef_{}_", "a".repeat(42));
        assert_eq!(
            split_presented(&with_underscore).map(|(_, s)| s.len()),
            Some(43)
        );
    }

    #[test]
    fn the_records_debug_hides_the_hash_and_the_new_keys_plaintext() {
        let record = ApiKeyRecord {
            id: "0123456789abcdef".into(),
            name: "web".into(),
            scope: ApiScope::Validate,
            secret_hash: [0xab; 32],
            created_at: 1,
            created_by: "ops".into(),
            revoked_at: None,
            last_used_at: None,
        };
        let new = NewApiKey {
            record: record.clone(),
            plaintext: Zeroizing::new("otpk_0123456789abcdef_SECRETSECRET".into()),
        };
        let shown = format!("{new:?}");
        assert!(!shown.contains("SECRETSECRET"), "{shown}");
        assert!(!shown.contains("171, 171"), "{shown}");
        assert!(!shown.contains("abab"), "{shown}");
    }

    #[test]
    fn scopes_allow_what_they_say() {
        assert!(ApiScope::Admin.allows(ApiScope::Validate));
        assert!(ApiScope::Admin.allows(ApiScope::Admin));
        assert!(ApiScope::Validate.allows(ApiScope::Validate));
        assert!(!ApiScope::Validate.allows(ApiScope::Admin));
    }
}
