//! `GET /metrics`: the server's counters in the OpenMetrics text format
//! that Prometheus scrapes (`prometheus-client`).
//!
//! Every label value is one of a fixed set (an outcome the code names, a
//! route template, an HTTP method, a status code): never a user ID, a
//! serial, a raw path or anything else a caller chooses, so that no
//! series tells who signed in and no caller can grow the set of series.

use core::fmt;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The `Content-Type` of `GET /metrics`.
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The latency buckets of validations and HTTP requests, in seconds: 1 ms
/// to about 4 s (a validation hashes nothing, but waits for the store).
const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 4.0, 8.0,
];

/// The route label of a request no route matched.
pub const UNMATCHED_ROUTE: &str = "unmatched";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: &'static str,
    route: String,
    status: u16,
}

/// The server's metrics: one handle per server (shared by its handlers
/// through [`AppState`](crate::AppState)), rendered by `GET /metrics`.
///
/// | series | what |
/// |---|---|
/// | `otp_validations_total{outcome}` | code validations (the JSON API's `validate`) by outcome: its reason code (`accepted`, `login_failed`, `replayed_code_current`, `malformed_code_current`) or `store_unavailable` |
/// | `otp_validation_duration_seconds` | their latency (histogram) |
/// | `otp_sign_ins_total{outcome}` | web sign-ins: `accepted`, `refused`, `store_error` |
/// | `otp_locks_total` | IDs locked (by wrong entries or an administrator) |
/// | `otp_store_errors_total` | calls the store could not answer (readiness included) |
/// | `otp_rate_limited_total` | requests refused 429 by a rate limit |
/// | `otp_http_requests_total{method,route,status}` | requests by route template |
/// | `otp_http_request_duration_seconds{method,route,status}` | their latency |
pub struct Metrics {
    registry: Registry,
    validations: Family<Outcome, Counter>,
    validation_seconds: Histogram,
    sign_ins: Family<Outcome, Counter>,
    locks: Counter,
    store_errors: Counter,
    rate_limited: Counter,
    http_requests: Family<HttpLabels, Counter>,
    http_seconds: Family<HttpLabels, Histogram>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every series registered, all at zero.
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("otp");
        let validations = Family::<Outcome, Counter>::default();
        registry.register(
            "validations",
            "Code validations by outcome",
            validations.clone(),
        );
        let validation_seconds = Histogram::new(LATENCY_BUCKETS);
        registry.register(
            "validation_duration_seconds",
            "How long a code validation took, in seconds",
            validation_seconds.clone(),
        );
        let sign_ins = Family::<Outcome, Counter>::default();
        registry.register("sign_ins", "Web sign-ins by outcome", sign_ins.clone());
        let locks = Counter::default();
        registry.register("locks", "IDs locked", locks.clone());
        let store_errors = Counter::default();
        registry.register(
            "store_errors",
            "Calls the store could not answer",
            store_errors.clone(),
        );
        let rate_limited = Counter::default();
        registry.register(
            "rate_limited",
            "Requests refused by a rate limit",
            rate_limited.clone(),
        );
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route template and status",
            http_requests.clone(),
        );
        let http_seconds = Family::<HttpLabels, Histogram>::new_with_constructor(
            new_latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "How long an HTTP request took, in seconds",
            http_seconds.clone(),
        );
        Self {
            registry,
            validations,
            validation_seconds,
            sign_ins,
            locks,
            store_errors,
            rate_limited,
            http_requests,
            http_seconds,
        }
    }

    /// A code validation ended with `outcome` (a fixed reason code such as
    /// `accepted`, `login_failed`, `store_unavailable`) after `seconds`.
    pub fn validation(&self, outcome: &'static str, seconds: f64) {
        self.validations.get_or_create(&Outcome { outcome }).inc();
        self.validation_seconds.observe(seconds);
    }

    /// A web sign-in ended with `outcome` (`accepted`, `refused`,
    /// `store_error`).
    pub fn sign_in(&self, outcome: &'static str) {
        self.sign_ins.get_or_create(&Outcome { outcome }).inc();
    }

    /// An ID was locked.
    pub fn lock(&self) {
        self.locks.inc();
    }

    /// The store could not answer a call.
    pub fn store_error(&self) {
        self.store_errors.inc();
    }

    /// A request was refused by a rate limit.
    pub fn rate_limited(&self) {
        self.rate_limited.inc();
    }

    /// An HTTP request to `route` (a route template, or
    /// [`UNMATCHED_ROUTE`]) was answered `status` after `seconds`.
    pub fn http_request(&self, method: &Method, route: &str, status: StatusCode, seconds: f64) {
        let labels = HttpLabels {
            method: method_label(method),
            route: route.to_owned(),
            status: status.as_u16(),
        };
        self.http_seconds.get_or_create(&labels).observe(seconds);
        self.http_requests.get_or_create(&labels).inc();
    }

    /// The OpenMetrics text of every series.
    ///
    /// # Errors
    ///
    /// [`fmt::Error`] if the text cannot be written (it cannot, into a
    /// `String`, but the encoder says it may).
    pub fn render(&self) -> Result<String, fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

fn new_latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The method as a label: one of the standard methods, else `other` (a
/// caller may send any token as a method).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The middleware that counts every request by its matched route
/// template (never the raw path).
pub(crate) async fn count_requests(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED_ROUTE.to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    metrics.http_request(
        &method,
        &route,
        response.status(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// `GET /metrics`.
pub(crate) async fn metrics(State(metrics): State<Arc<Metrics>>) -> Response {
    match metrics.render() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(METRICS_CONTENT_TYPE),
            )],
            text,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
