//! The API key an admin operation is called with: admin scope, or `403
//! forbidden_scope` before anything else about the request is read.
//! (Placeholder until the bearer-key extractor of `api::auth` lands:
//! every request is `401 unauthorized`.)

use axum::http::request::Parts;
use otp_exchange::Store;

use super::super::{ApiState, Problem};

/// An admin-scope API key, by its id.
#[derive(Clone, Debug)]
pub(crate) struct AdminKey {
    /// The key's id (16 lowercase hex digits).
    pub(crate) id: String,
}

/// The request's API key, which must be of admin scope.
pub(crate) async fn admin_key<S: Store + 'static>(
    _parts: &mut Parts,
    _state: &ApiState<S>,
) -> Result<AdminKey, Problem> {
    Err(Problem::unauthorized())
}

impl<S: Store + 'static> axum::extract::FromRequestParts<ApiState<S>> for AdminKey {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState<S>,
    ) -> Result<Self, Self::Rejection> {
        admin_key(parts, state).await
    }
}
