//! The API's administrator operations (docs/api.md, "Administration"):
//! the admin sign-in, the user list and token info, the exchange and
//! registration flows, unregistration, ID lock and unlock, the usage
//! mode, the usage history and the seed file import.
//!
//! An admin-scope API key alone can do nothing here: every operation but
//! the sign-in needs an admin session ([`ADMIN_SESSION_HEADER`]) that an
//! administrator opened with their own login password and token code,
//! through the same key; every operation that changes something also
//! takes the administrator's approval password, checked by the policy.
//! A key of a smaller scope is refused `403 forbidden_scope` before
//! anything else about the request is looked at.

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::routing::{get, post, put};
use otp_exchange::{Refusal, Store, UserId};
use serde::Serialize;
use tower_http::limit::RequestBodyLimitLayer;
use utoipa::ToSchema;

use super::{ApiState, Messages, Problem};

pub(crate) mod exchange;
pub(crate) mod history;
pub(crate) mod inventory;
mod key;
pub(crate) mod session;
pub(crate) mod software;
pub(crate) mod users;

pub use session::{ADMIN_SESSION_HEADER, ADMIN_SESSION_TTL};

/// The largest body of a seed file import (`POST /api/v1/inventory/pskc`):
/// the JSON with the PSKC document in it.
pub const PSKC_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// The admin routes under the API's ordinary body limit.
pub(crate) fn routes<S: Store + 'static>() -> Router<ApiState<S>> {
    Router::new()
        .route("/admin/sign-in", post(session::sign_in::<S>))
        .route("/users", get(users::list::<S>))
        .route("/users/{id}", get(users::info::<S>))
        .route("/users/{id}/unregister", post(users::unregister::<S>))
        .route("/users/{id}/lock", post(users::lock::<S>))
        .route("/users/{id}/unlock", post(users::unlock::<S>))
        .route("/users/{id}/usage-mode", put(users::usage_mode::<S>))
        .route("/users/{id}/software-token", post(software::begin::<S>))
        .route(
            "/users/{id}/software-token/confirm",
            post(software::confirm::<S>),
        )
        .route("/exchanges", post(exchange::begin::<S>))
        .route("/exchanges/current-code", post(exchange::current_code::<S>))
        .route("/exchanges/no-token", post(exchange::no_token::<S>))
        .route("/exchanges/new-token", post(exchange::new_token::<S>))
        .route("/registrations", post(exchange::register::<S>))
        .route("/history", get(history::history::<S>))
}

/// The seed file import, with its own body limit ([`PSKC_BODY_LIMIT`]):
/// merged beside the routes the API's ordinary limit covers.
pub(crate) fn large_routes<S: Store + 'static>(state: ApiState<S>) -> Router {
    Router::new()
        .route("/inventory/pskc", post(inventory::import::<S>))
        .with_state(state)
        .layer(DefaultBodyLimit::max(PSKC_BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(PSKC_BODY_LIMIT))
}

/// The administrator an operation acts for: an admin-scope API key and a
/// valid admin session opened through that key.
#[derive(Clone, Debug)]
pub(crate) struct Admin {
    /// The administrator who signed in.
    pub(crate) operator: UserId,
}

impl<S: Store + 'static> FromRequestParts<ApiState<S>> for Admin {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &ApiState<S>,
    ) -> Result<Self, Self::Rejection> {
        let key = key::AdminKey::from_request_parts(parts, state).await?;
        let operator = session::check(parts, state, &key).await?;
        Ok(Self { operator })
    }
}

/// The problem of a refusal, carrying the ticket to try again from (a
/// wrong code, serial or password before the ID locks).
fn refused(refusal: &Refusal, retry: Option<otp_exchange::Ticket>) -> Problem {
    let problem = Problem::from_refusal(refusal);
    match retry {
        Some(ticket) => problem.with_ticket(ticket.as_str()),
        None => problem,
    }
}

/// The per-target-ID rate limit (shared with `POST /api/v1/validate`),
/// for an operation that evaluates a code against `user`'s token before
/// the policy is reached: `429 rate_limited` over it.
fn limit_user<S: Store + 'static>(state: &ApiState<S>, user: &UserId) -> Result<(), Problem> {
    state
        .user_limit
        .check(user.as_str(), std::time::Instant::now())
        .map_err(Problem::rate_limited)
}

/// A done operation's sentence in both languages.
fn messages(ja: &str, en: &str) -> Messages {
    Messages {
        ja: ja.to_owned(),
        en: en.to_owned(),
    }
}

/// A user ID from a path or a body: one that cannot be an ID is the
/// policy's refusal (`422`).
fn user_id(text: &str) -> Result<UserId, Problem> {
    UserId::parse(text.trim()).map_err(|e| Problem::from_refusal(&Refusal::UserId(e)))
}

/// The answer's `status` member for an operation done.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Outcome {
    /// Done.
    Done,
}
