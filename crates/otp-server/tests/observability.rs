//! `GET /readyz` and `GET /metrics`: ready while the store answers, 503
//! (and a web sign-in that fails closed) while it does not; the metrics'
//! exposition text, labelled by route template and outcome, never by a
//! path, a user ID or a serial.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::StatusCode;
use common::outage::Outage;
use common::{World, general_in};
use otp_exchange::HashCost;
use otp_exchange::scenario::{Scenario, script};

/// The exposition text's lines that start with `prefix`.
fn lines_of(text: &str, prefix: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn readyz_answers_while_the_store_does_and_sign_in_fails_closed_when_it_does_not() {
    let down = Arc::new(AtomicBool::new(false));
    let store = Outage::everything(&down);
    let Scenario {
        bank,
        clock,
        mut tokens,
        general,
        ..
    } = Scenario::setup(store, script::START, HashCost::TESTING).unwrap();
    let bank = Arc::new(bank);
    let state = otp_server::AppState::new(Arc::clone(&bank));
    let metrics = state.metrics();
    let app = otp_server::router(state);
    let mut browser = common::Browser {
        app,
        cookies: std::collections::HashMap::new(),
    };
    let ready = browser.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.headers["content-type"], "application/json");
    assert_eq!(ready.body, r#"{"ready":true}"#);

    down.store(true, Ordering::SeqCst);
    let ready = browser.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.body, r#"{"ready":false}"#);
    // A right code while the store is down: 503, no session, never a
    // sign-in.
    assert!(bank.records().user(&general).is_err(), "the store is down");
    down.store(false, Ordering::SeqCst);
    let serial = bank
        .records()
        .user(&general)
        .unwrap()
        .unwrap()
        .token
        .unwrap();
    clock.advance(30);
    let now = otp_provision::Clock::now(&clock);
    let code = tokens
        .get_mut(&serial)
        .unwrap()
        .press(now)
        .unwrap()
        .code()
        .unwrap()
        .to_string();
    let login = browser.get("/login").await;
    let csrf = login.field("csrf");
    down.store(true, Ordering::SeqCst);
    let answer = browser
        .post(
            "/login?lang=en",
            &[
                ("csrf", &csrf),
                ("id", "W0002"),
                ("password", otp_exchange::scenario::LOGIN_PASSWORD),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(answer.headers.get("location").is_none());
    assert!(
        answer.has("The system could not complete the operation (nothing was changed)."),
        "{}",
        answer.body
    );
    // Back up: ready again, and the same code signs in (nothing was
    // recorded while the store was down).
    down.store(false, Ordering::SeqCst);
    assert_eq!(browser.get("/readyz").await.status, StatusCode::OK);
    let answer = browser
        .post(
            "/login?lang=en",
            &[
                ("csrf", &csrf),
                ("id", "W0002"),
                ("password", otp_exchange::scenario::LOGIN_PASSWORD),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.headers["location"], "/home");

    let text = metrics.render().unwrap();
    let mut sign_ins = lines_of(&text, "otp_sign_ins_total");
    sign_ins.sort();
    assert_eq!(
        sign_ins,
        [
            r#"otp_sign_ins_total{outcome="accepted"} 1"#,
            r#"otp_sign_ins_total{outcome="store_error"} 1"#,
        ]
    );
    // The readiness check and the sign-in.
    assert_eq!(
        lines_of(&text, "otp_store_errors_total"),
        ["otp_store_errors_total 2"]
    );
    let mut ready_lines = lines_of(
        &text,
        r#"otp_http_requests_total{method="GET",route="/readyz""#,
    );
    ready_lines.sort();
    assert_eq!(
        ready_lines,
        [
            r#"otp_http_requests_total{method="GET",route="/readyz",status="200"} 2"#,
            r#"otp_http_requests_total{method="GET",route="/readyz",status="503"} 1"#,
        ]
    );
}

#[tokio::test]
async fn metrics_are_labelled_by_route_template_and_outcome_never_by_path_or_user() {
    let mut w = World::new();
    let home = general_in(&mut w).await;
    assert_eq!(home.status, StatusCode::OK);
    let mut b = w.browser();
    assert_eq!(
        b.get("/admin/user?id=W0002").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(b.get("/no/such/W0002").await.status, StatusCode::NOT_FOUND);
    let page = b.get("/metrics").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.headers["content-type"],
        otp_server::METRICS_CONTENT_TYPE
    );
    let text = page.body;
    assert!(!text.contains("W0002"), "{text}");
    assert!(!text.contains("VT"), "{text}");
    let mut http = lines_of(&text, "otp_http_requests_total{");
    http.sort();
    assert_eq!(
        http,
        [
            r#"otp_http_requests_total{method="GET",route="/admin/user",status="303"} 1"#,
            r#"otp_http_requests_total{method="GET",route="/home",status="200"} 1"#,
            r#"otp_http_requests_total{method="GET",route="/login",status="200"} 1"#,
            r#"otp_http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
            r#"otp_http_requests_total{method="POST",route="/login",status="303"} 1"#,
        ]
    );
    assert_eq!(
        lines_of(&text, "otp_sign_ins_total"),
        [r#"otp_sign_ins_total{outcome="accepted"} 1"#]
    );
    assert_eq!(lines_of(&text, "otp_locks_total"), ["otp_locks_total 0"]);
    assert_eq!(
        lines_of(&text, "otp_rate_limited_total"),
        ["otp_rate_limited_total 0"]
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
}

#[test]
fn the_handles_count_validations_with_their_latency_locks_and_refusals() {
    let metrics = otp_server::Metrics::new();
    metrics.validation("accepted", 0.003);
    metrics.validation("login_failed", 0.0004);
    metrics.validation("accepted", 0.5);
    metrics.lock();
    metrics.store_error();
    metrics.rate_limited();
    metrics.rate_limited();
    let text = metrics.render().unwrap();
    let mut validations = lines_of(&text, "otp_validations_total");
    validations.sort();
    assert_eq!(
        validations,
        [
            r#"otp_validations_total{outcome="accepted"} 2"#,
            r#"otp_validations_total{outcome="login_failed"} 1"#,
        ]
    );
    assert_eq!(
        lines_of(&text, "otp_validation_duration_seconds"),
        [
            "otp_validation_duration_seconds_sum 0.5034",
            "otp_validation_duration_seconds_count 3",
            r#"otp_validation_duration_seconds_bucket{le="0.001"} 1"#,
            r#"otp_validation_duration_seconds_bucket{le="0.002"} 1"#,
            r#"otp_validation_duration_seconds_bucket{le="0.005"} 2"#,
            r#"otp_validation_duration_seconds_bucket{le="0.01"} 2"#,
            r#"otp_validation_duration_seconds_bucket{le="0.02"} 2"#,
            r#"otp_validation_duration_seconds_bucket{le="0.05"} 2"#,
            r#"otp_validation_duration_seconds_bucket{le="0.1"} 2"#,
            r#"otp_validation_duration_seconds_bucket{le="0.2"} 2"#,
            r#"otp_validation_duration_seconds_bucket{le="0.5"} 3"#,
            r#"otp_validation_duration_seconds_bucket{le="1.0"} 3"#,
            r#"otp_validation_duration_seconds_bucket{le="2.0"} 3"#,
            r#"otp_validation_duration_seconds_bucket{le="4.0"} 3"#,
            r#"otp_validation_duration_seconds_bucket{le="8.0"} 3"#,
            r#"otp_validation_duration_seconds_bucket{le="+Inf"} 3"#,
        ]
    );
    assert_eq!(lines_of(&text, "otp_locks_total"), ["otp_locks_total 1"]);
    assert_eq!(
        lines_of(&text, "otp_store_errors_total"),
        ["otp_store_errors_total 1"]
    );
    assert_eq!(
        lines_of(&text, "otp_rate_limited_total"),
        ["otp_rate_limited_total 2"]
    );
    assert_eq!(
        lines_of(&text, "# TYPE otp_validations"),
        ["# TYPE otp_validations counter"]
    );
}

/// `POST /api/v1/validate` with this key and body; the status.
async fn validate(app: &axum::Router, key: &str, user: &str, code: &str) -> StatusCode {
    use tower::ServiceExt as _;
    let request = axum::http::Request::post("/api/v1/validate")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {key}"))
        .body(axum::body::Body::from(format!(
            r#"{{"user": "{user}", "code": "{code}"}}"#
        )))
        .unwrap();
    app.clone().oneshot(request).await.unwrap().status()
}

#[tokio::test]
async fn validations_are_counted_by_outcome_with_rate_limits_and_store_errors() {
    let down = Arc::new(AtomicBool::new(false));
    let store = Outage::everything(&down);
    let Scenario {
        bank,
        clock,
        mut tokens,
        general,
        ..
    } = Scenario::setup(store, script::START, HashCost::TESTING).unwrap();
    let key = bank
        .create_api_key("test-ops", "web", otp_exchange::ApiScope::Validate)
        .unwrap()
        .plaintext()
        .to_owned();
    let serial = bank
        .records()
        .user(&general)
        .unwrap()
        .unwrap()
        .token
        .unwrap();
    clock.advance(30);
    let now = otp_provision::Clock::now(&clock);
    let code = tokens
        .get_mut(&serial)
        .unwrap()
        .press(now)
        .unwrap()
        .code()
        .unwrap()
        .to_string();
    // The right code with its last digit changed: a wrong one.
    let wrong: String = code
        .char_indices()
        .map(|(i, c)| match (i + 1 == code.len(), c) {
            (true, '0') => '1',
            (true, _) => '0',
            (false, c) => c,
        })
        .collect();
    let bank = Arc::new(bank);
    let state = otp_server::AppState::new(Arc::clone(&bank)).with_api_config(
        otp_server::api::ApiConfig::new()
            .with_user_rate(2)
            .with_key_rate(1_000),
    );
    let metrics = state.metrics();
    let app = otp_server::router(state);
    // The same metrics behind a server whose keys may send 1 a second
    // (bursts of 2).
    let slow = otp_server::router(
        otp_server::AppState::new(Arc::clone(&bank))
            .with_metrics(Arc::clone(&metrics))
            .with_api_config(otp_server::api::ApiConfig::new().with_key_rate(1)),
    );

    assert_eq!(validate(&app, &key, "W0002", &code).await, StatusCode::OK);
    assert_eq!(validate(&app, &key, "W0002", &code).await, StatusCode::OK);
    // W0002's third attempt in 10 s: over the per-user rate.
    assert_eq!(
        validate(&app, &key, "W0002", &wrong).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(validate(&app, &key, "W0001", &wrong).await, StatusCode::OK);
    // Not an ID: rejected without the store.
    assert_eq!(validate(&app, &key, "nobody", &wrong).await, StatusCode::OK);
    // The key's record is cached (5 s): with the store down, the code
    // cannot be recorded.
    down.store(true, Ordering::SeqCst);
    assert_eq!(
        validate(&app, &key, "W0005", &wrong).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    down.store(false, Ordering::SeqCst);
    for expected in [
        StatusCode::OK,
        StatusCode::OK,
        StatusCode::TOO_MANY_REQUESTS,
    ] {
        assert_eq!(validate(&slow, &key, "nobody", &wrong).await, expected);
    }

    let mut browser = common::Browser {
        app,
        cookies: std::collections::HashMap::new(),
    };
    let page = browser.get("/metrics").await;
    assert_eq!(page.status, StatusCode::OK);
    let text = page.body;
    assert!(!text.contains("W000"), "{text}");
    let mut validations = lines_of(&text, "otp_validations_total");
    validations.sort();
    assert_eq!(
        validations,
        [
            r#"otp_validations_total{outcome="accepted"} 1"#,
            r#"otp_validations_total{outcome="login_failed"} 4"#,
            r#"otp_validations_total{outcome="replayed_code_current"} 1"#,
            r#"otp_validations_total{outcome="store_unavailable"} 1"#,
        ]
    );
    assert_eq!(
        lines_of(&text, "otp_validation_duration_seconds_count"),
        ["otp_validation_duration_seconds_count 7"]
    );
    assert_eq!(
        lines_of(&text, "otp_rate_limited_total"),
        ["otp_rate_limited_total 2"]
    );
    assert_eq!(
        lines_of(&text, "otp_store_errors_total"),
        ["otp_store_errors_total 1"]
    );
    let mut http = lines_of(
        &text,
        r#"otp_http_requests_total{method="POST",route="/api/v1/validate""#,
    );
    http.sort();
    assert_eq!(
        http,
        [
            r#"otp_http_requests_total{method="POST",route="/api/v1/validate",status="200"} 6"#,
            r#"otp_http_requests_total{method="POST",route="/api/v1/validate",status="429"} 2"#,
            r#"otp_http_requests_total{method="POST",route="/api/v1/validate",status="503"} 1"#,
        ]
    );
}
