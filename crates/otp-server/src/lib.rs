//! The bank's token-exchange screens over HTTP: the manual's sign-in, admin
//! menu (管理機能), customer selection, token info, the current token's
//! code, the new token's serial, code and approval password, and "The
//! registered token is valid from now." Server-rendered HTML (maud, no
//! script), Japanese by default (`?lang=en` switches to English and is
//! remembered in a cookie), on axum.
//!
//! The policy is [`otp_exchange`]'s: every screen is one call on the
//! [`Bank`], and between requests the flow's state is the policy's sealed
//! [`otp_exchange::Ticket`], kept in the signed-in server-side session and
//! accepted only from it. Sessions are server-side (a random 32-byte id in
//! an `HttpOnly; SameSite=Strict` cookie, a new id at sign-in, 10 minutes
//! idle expiry), every form carries a CSRF token checked on every POST, and
//! every response carries the security headers (CSP without script,
//! `X-Frame-Options: DENY`, `nosniff`, `no-referrer`, `no-store`). Logs
//! never hold a code, a password, a ticket or a secret.
//!
//! # Example
//!
//! ```
//! use axum::body::Body;
//! use axum::http::{Request, StatusCode};
//! use otp_exchange::scenario::{Scenario, script};
//! use otp_exchange::{HashCost, MemoryStore};
//! use std::sync::Arc;
//! use tower::ServiceExt as _;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let scenario = Scenario::setup(MemoryStore::new(), script::START, HashCost::TESTING)?;
//! let app = otp_server::router(otp_server::AppState::new(Arc::new(scenario.bank)));
//! let response = app
//!     .oneshot(Request::get("/login").body(Body::empty())?)
//!     .await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.headers()["x-frame-options"], "DENY");
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

pub mod api;
mod dates;
mod handlers;
mod metrics;
mod pages;
mod qr;
mod serve;
mod session;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::routing::{get, post};
use otp_exchange::{Bank, Store};
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

pub use metrics::{METRICS_CONTENT_TYPE, Metrics, UNMATCHED_ROUTE};
pub use serve::{
    HEADER_READ_TIMEOUT, STRICT_TRANSPORT_SECURITY, TLS_HANDSHAKE_TIMEOUT, TlsConfig, TlsError,
    serve,
};
pub use session::{IDLE_TIMEOUT, MAX_SESSIONS, SESSION_COOKIE};

/// The `Content-Security-Policy` of every response: no script at all, the
/// one stylesheet from this server, forms posting only here, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'";

/// The largest request body accepted (the forms are a few hundred bytes).
pub const BODY_LIMIT: usize = 16 * 1024;

/// How long a request may take before it is answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Rows per page on the selection screen (the manual shows 5).
pub const PER_PAGE: usize = 5;

/// Records per page on the usage history screen (利用履歴照会).
pub const HISTORY_PER_PAGE: usize = 20;

/// How long `GET /readyz` waits for the store's answer before it answers
/// 503 (a database that is gone may take its whole connect timeout).
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// The demo page's virtual tokens (`otp serve --demo`): the page draws
/// each as a small device with its serial, a blank display and a "1"
/// button; pressing it shows the code that token displays now.
pub trait DemoTokens: Send + Sync {
    /// Each virtual token's serial, in the order the page shows them.
    fn serials(&self) -> Vec<String>;

    /// "1" pressed now (on the bank's clock) on the token with this
    /// serial: the digits its display shows, or `None` for a serial the
    /// demo does not hold (or a display without a code).
    fn press(&self, serial: &str) -> Option<String>;
}

/// What the handlers share: the bank, the sessions, the settings.
pub struct AppState<S: Store> {
    bank: Arc<Bank<S>>,
    sessions: Arc<session::Sessions>,
    secure_cookies: bool,
    demo: Option<Arc<dyn DemoTokens>>,
    metrics: Arc<Metrics>,
    api: api::ApiConfig,
}

impl<S: Store> Clone for AppState<S> {
    fn clone(&self) -> Self {
        Self {
            bank: Arc::clone(&self.bank),
            sessions: Arc::clone(&self.sessions),
            secure_cookies: self.secure_cookies,
            demo: self.demo.clone(),
            metrics: Arc::clone(&self.metrics),
            api: self.api,
        }
    }
}

impl<S: Store> axum::extract::FromRef<AppState<S>> for Arc<Metrics> {
    fn from_ref(state: &AppState<S>) -> Self {
        Arc::clone(&state.metrics)
    }
}

impl<S: Store> core::fmt::Debug for AppState<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AppState")
            .field("secure_cookies", &self.secure_cookies)
            .field("demo", &self.demo.is_some())
            .field("api", &self.api)
            .finish_non_exhaustive()
    }
}

impl<S: Store> AppState<S> {
    /// The state for `bank`: no session yet, cookies without `Secure`
    /// (plain HTTP on loopback), no demo page.
    #[must_use]
    pub fn new(bank: Arc<Bank<S>>) -> Self {
        Self {
            bank,
            sessions: Arc::new(session::Sessions::new(IDLE_TIMEOUT, MAX_SESSIONS)),
            secure_cookies: false,
            demo: None,
            metrics: Arc::new(Metrics::new()),
            api: api::ApiConfig::default(),
        }
    }

    /// Counts into `metrics` instead of a new [`Metrics`] of its own (a
    /// bank that serves its own `/metrics`, or a test that reads them).
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The server's metrics: what `GET /metrics` shows, and what the
    /// handlers count into.
    #[must_use]
    pub fn metrics(&self) -> Arc<Metrics> {
        Arc::clone(&self.metrics)
    }

    /// The JSON API's settings (its rate limits) instead of
    /// [`api::ApiConfig::default`].
    #[must_use]
    pub const fn with_api_config(mut self, config: api::ApiConfig) -> Self {
        self.api = config;
        self
    }

    /// Marks the session cookie `Secure`: set it when the server (or the
    /// proxy in front of it) speaks TLS.
    #[must_use]
    pub const fn with_secure_cookies(mut self, secure: bool) -> Self {
        self.secure_cookies = secure;
        self
    }

    /// Forgets a session idle for `idle` instead of [`IDLE_TIMEOUT`], and
    /// keeps at most `max` live sessions instead of [`MAX_SESSIONS`]
    /// (call before serving: it starts with no session).
    #[must_use]
    pub fn with_session_limits(mut self, idle: Duration, max: usize) -> Self {
        self.sessions = Arc::new(session::Sessions::new(idle, max));
        self
    }

    /// Serves `GET /demo/tokens` and `POST /demo/tokens` (press "1") from
    /// `tokens`. For the demo only: a real bank's server never shows a
    /// token's code.
    #[must_use]
    pub fn with_demo_tokens(mut self, tokens: Arc<dyn DemoTokens>) -> Self {
        self.demo = Some(tokens);
        self
    }
}

fn security_header(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
}

/// The router of every screen, with the middleware: request ids
/// (`x-request-id`), a trace span per request (method and path only),
/// a [`REQUEST_TIMEOUT`], a [`BODY_LIMIT`] and the security headers;
/// and the JSON API ([`api`]) nested at [`api::API_PREFIX`].
/// A bank mounts it in its own axum application (`Router::merge` or
/// `nest`).
pub fn router<S: Store + 'static>(state: AppState<S>) -> Router {
    let metrics = state.metrics();
    let api = api::routes(&state);
    let screens = Router::new()
        .route("/", get(handlers::index::<S>))
        .route(
            "/login",
            get(handlers::login_page::<S>).post(handlers::login::<S>),
        )
        .route("/logout", post(handlers::logout::<S>))
        .route("/home", get(handlers::home::<S>))
        .route("/admin", get(handlers::admin_menu::<S>))
        .route("/admin/select", get(handlers::select::<S>))
        .route("/admin/user", get(handlers::token_info::<S>))
        .route("/admin/history", get(handlers::history::<S>))
        .route(
            "/admin/locks",
            get(handlers::locks::<S>).post(handlers::lock_or_unlock::<S>),
        )
        .route("/admin/exchange", post(handlers::begin::<S>))
        .route("/admin/exchange/current", post(handlers::current::<S>))
        .route("/admin/exchange/no-token", post(handlers::no_token::<S>))
        .route("/admin/exchange/new", post(handlers::new_token::<S>))
        .route("/admin/register", post(handlers::register::<S>))
        .route(
            "/admin/usage",
            get(handlers::usage::<S>).post(handlers::set_usage::<S>),
        )
        .route(
            "/admin/usage/software",
            post(handlers::software_confirm::<S>),
        )
        .route("/admin/unregister", post(handlers::unregister_start::<S>))
        .route(
            "/admin/unregister/confirm",
            post(handlers::unregister_confirm::<S>),
        )
        .route(
            "/demo/tokens",
            get(handlers::demo_tokens::<S>).post(handlers::demo_press::<S>),
        )
        .route("/healthz", get(handlers::healthz::<S>))
        .route("/readyz", get(handlers::readyz::<S>))
        .route("/metrics", get(metrics::metrics))
        .route("/static/style.css", get(handlers::stylesheet))
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
                .layer(TimeoutLayer::with_status_code(
                    axum::http::StatusCode::REQUEST_TIMEOUT,
                    REQUEST_TIMEOUT,
                )),
        );
    // `/api/v1/` (which `nest` leaves out) is the API's too: its 404 problem.
    let api_root = format!("{}/", api::API_PREFIX);
    shared_layers(
        metrics,
        screens
            .route(&api_root, api::not_found_route())
            .nest(api::API_PREFIX, api),
    )
}

/// The layers the screens and the API share: request ids, a trace span
/// per request (method and path only), the security headers.
fn shared_layers(metrics: Arc<Metrics>, routes: Router) -> Router {
    let x_request_id = HeaderName::from_static("x-request-id");
    routes.layer(
        ServiceBuilder::new()
            .layer(axum::middleware::from_fn_with_state(
                metrics,
                metrics::count_requests,
            ))
            .layer(SetRequestIdLayer::new(x_request_id.clone(), MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                    let id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
                })
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
            )
            .layer(PropagateRequestIdLayer::new(x_request_id))
            .layer(security_header(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
            .layer(security_header(header::X_FRAME_OPTIONS, "DENY"))
            .layer(security_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .layer(security_header(header::REFERRER_POLICY, "no-referrer"))
            .layer(security_header(header::CACHE_CONTROL, "no-store")),
    )
}
