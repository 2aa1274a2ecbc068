//! The JSON API under `/api/v1` (docs/api.md): for the bank's other
//! systems (web banking, middleware, a RADIUS front) rather than a
//! browser. No cookies, no CSRF: callers authenticate with bearer API keys
//! (`otp bank api-key create`). Bodies are JSON; every error is an RFC 9457
//! problem (`application/problem+json`, see [`Problem`]) with a stable
//! reason code, including unknown routes (404), wrong methods (405),
//! bodies that are not the operation's JSON (400/413/415/422) and
//! timeouts (408). The OpenAPI 3.1 document is `GET /api/v1/openapi.json`.
//!
//! [`crate::router`] nests these routes at `/api/v1` beside the screens;
//! [`router`] serves the API alone (for a bank that mounts only it).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use otp_exchange::{Bank, Store};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::{AppState, Metrics};

pub mod admin;
mod auth;
mod extract;
mod limit;
mod openapi;
mod problem;
mod sign;
mod validate;

pub use auth::{AdminKey, KEY_CACHE_TTL, TOUCH_INTERVAL, ValidateKey};
pub use extract::{ApiJson, ApiPath, ApiQuery};
pub use limit::MAX_BUCKETS;
pub use openapi::{ApiDoc, openapi};
pub use problem::{
    Messages, PROBLEM_JSON, PROBLEM_TYPE_BASE, Problem, ProblemBody, refusal_status,
};
pub use sign::{
    Amount, ChallengeRequest, ChallengeResponse, SignReason, SignRequest, SignResponse, SignResult,
};
pub use validate::{ValidateReason, ValidateRequest, ValidateResponse, ValidateResult};

/// Where [`crate::router`] mounts the API.
pub const API_PREFIX: &str = "/api/v1";

/// The largest JSON body an API operation accepts (a PSKC import may set
/// its own, larger limit on its route).
pub const API_BODY_LIMIT: usize = 16 * 1024;

/// The API's settings: the rate limits. [`ApiConfig::default`] allows each
/// API key [`ApiConfig::DEFAULT_KEY_RATE`] requests a second (bursts of
/// twice that) and each target user ID [`ApiConfig::DEFAULT_USER_RATE`]
/// attempts per [`ApiConfig::USER_WINDOW`], across all keys, per node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiConfig {
    key_rate: u32,
    user_rate: u32,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            key_rate: Self::DEFAULT_KEY_RATE,
            user_rate: Self::DEFAULT_USER_RATE,
        }
    }
}

impl ApiConfig {
    /// Requests a second per API key by default.
    pub const DEFAULT_KEY_RATE: u32 = 200;
    /// Attempts per [`ApiConfig::USER_WINDOW`] per target user ID by default.
    pub const DEFAULT_USER_RATE: u32 = 10;
    /// The window of the per-user-ID limit.
    pub const USER_WINDOW: Duration = Duration::from_secs(10);

    /// The default settings.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows each API key `per_second` requests a second, in bursts of
    /// up to twice that (at least 1).
    #[must_use]
    pub fn with_key_rate(mut self, per_second: u32) -> Self {
        self.key_rate = per_second.max(1);
        self
    }

    /// Allows each target user ID `per_window` attempts per
    /// [`ApiConfig::USER_WINDOW`], across all keys (at least 1).
    #[must_use]
    pub fn with_user_rate(mut self, per_window: u32) -> Self {
        self.user_rate = per_window.max(1);
        self
    }

    /// Requests a second allowed per API key.
    #[must_use]
    pub const fn key_rate(&self) -> u32 {
        self.key_rate
    }

    /// Attempts per [`ApiConfig::USER_WINDOW`] allowed per target user ID.
    #[must_use]
    pub const fn user_rate(&self) -> u32 {
        self.user_rate
    }
}

/// What the API's handlers share: the bank, the settings, the key cache,
/// the rate limiters and the server's metrics.
pub struct ApiState<S: Store> {
    pub(crate) bank: Arc<Bank<S>>,
    pub(crate) config: ApiConfig,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) keys: Arc<auth::KeyCache>,
    pub(crate) key_limit: Arc<limit::Limiter>,
    pub(crate) user_limit: Arc<limit::Limiter>,
}

impl<S: Store> Clone for ApiState<S> {
    fn clone(&self) -> Self {
        Self {
            bank: Arc::clone(&self.bank),
            config: self.config,
            metrics: Arc::clone(&self.metrics),
            keys: Arc::clone(&self.keys),
            key_limit: Arc::clone(&self.key_limit),
            user_limit: Arc::clone(&self.user_limit),
        }
    }
}

impl<S: Store> core::fmt::Debug for ApiState<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ApiState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S: Store + 'static> ApiState<S> {
    fn new(state: &AppState<S>) -> Self {
        let config = state.api;
        Self {
            bank: Arc::clone(&state.bank),
            config,
            metrics: state.metrics(),
            keys: Arc::new(auth::KeyCache::default()),
            key_limit: Arc::new(limit::Limiter::new(
                config.key_rate.saturating_mul(2),
                config.key_rate,
                Duration::from_secs(1),
                limit::MAX_BUCKETS,
            )),
            user_limit: Arc::new(limit::Limiter::new(
                config.user_rate,
                config.user_rate,
                ApiConfig::USER_WINDOW,
                limit::MAX_BUCKETS,
            )),
        }
    }

    /// Runs a bank call on the blocking pool (password hashing and the
    /// store are synchronous); a call that panicked is `500`.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Bank<S>) -> T + Send + 'static,
    ) -> Result<T, Problem> {
        let bank = Arc::clone(&self.bank);
        tokio::task::spawn_blocking(move || f(&bank))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "a bank call did not finish");
                Problem::internal()
            })
    }
}

/// The API's routes with their own body limit, timeout and problem
/// answers, without the shared layers (request id, trace, security
/// headers): what [`crate::router`] nests at [`API_PREFIX`].
pub(crate) fn routes<S: Store + 'static>(state: &AppState<S>) -> Router {
    let api = ApiState::new(state);
    Router::new()
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/validate", post(validate::validate::<S>))
        .route("/transactions/challenge", post(sign::challenge::<S>))
        .route("/transactions/sign", post(sign::sign::<S>))
        .merge(admin::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(api.clone())
        .layer(RequestBodyLimitLayer::new(API_BODY_LIMIT))
        .merge(admin::large_routes(api))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            crate::REQUEST_TIMEOUT,
        ))
        .layer(axum::middleware::from_fn(problems))
}

/// The API alone, mounted at [`API_PREFIX`], with the same request ids,
/// trace spans, security headers, body limit and timeout as
/// [`crate::router`]: for a bank that serves only the API.
/// Every other path is a `404 not_found` problem.
pub fn router<S: Store + 'static>(state: AppState<S>) -> Router {
    let api = routes(&state);
    crate::shared_layers(
        state.metrics(),
        Router::new()
            .nest(API_PREFIX, api.clone())
            .fallback_service(api),
    )
}

/// A route that is the API's `404 not_found` problem, for paths `nest`
/// leaves out (`/api/v1/`).
pub(crate) fn not_found_route() -> axum::routing::MethodRouter {
    axum::routing::any(not_found).layer(axum::middleware::from_fn(problems))
}

async fn not_found() -> Problem {
    Problem::not_found()
}

async fn method_not_allowed() -> Problem {
    Problem::method_not_allowed()
}

/// Writes the request's id into every problem, and turns any other error
/// answer (a layer's 408 or 413, axum's own rejections) into one.
async fn problems(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let response = next.run(request).await;
    let problem = if let Some(problem) = response.extensions().get::<Problem>() {
        problem.clone()
    } else {
        match other_error(&response) {
            Some(problem) => problem,
            None => return response,
        }
    };
    let mut answer = problem.response_with_id(id.as_deref());
    // An `Allow` header (405) stays.
    if let Some(allow) = response.headers().get(header::ALLOW) {
        answer.headers_mut().insert(header::ALLOW, allow.clone());
    }
    answer
}

/// The problem for an error answer that is not one yet; `None` for a
/// success or a problem.
fn other_error(response: &Response) -> Option<Problem> {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return None;
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
    if is_problem {
        return None;
    }
    Some(match status {
        StatusCode::NOT_FOUND => Problem::not_found(),
        StatusCode::METHOD_NOT_ALLOWED => Problem::method_not_allowed(),
        StatusCode::REQUEST_TIMEOUT => Problem::timeout(),
        StatusCode::PAYLOAD_TOO_LARGE => {
            Problem::malformed(status, "The body is larger than this operation accepts.")
        }
        s if s.is_client_error() => Problem::malformed(s, "The request could not be read."),
        _ => Problem::internal(),
    })
}
