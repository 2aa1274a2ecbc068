//! The API key an admin operation is called with: the bearer-key
//! extractor of admin scope ([`crate::api::AdminKey`]: `401
//! unauthorized` for no valid key, `403 forbidden_scope` for a smaller
//! scope, `429 rate_limited` over its rate), before anything else about
//! the request is read.

pub(crate) use super::super::AdminKey;

/// The id of the key.
pub(crate) fn key_id(key: &AdminKey) -> &str {
    &key.0.id
}
