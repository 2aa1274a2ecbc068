//! The JSON API under `/api/v1`: problem details for every error, API
//! keys, validation, rate limits.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::post;
use common::World;
use http_body_util::BodyExt as _;
use otp_server::api::{ApiJson, PROBLEM_JSON};
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// One answer: status, headers, body bytes.
pub(crate) struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn content_type(&self) -> &str {
        self.headers[header::CONTENT_TYPE].to_str().unwrap()
    }

    /// Checks the problem's shape and returns its body.
    fn problem(&self, status: u16, reason: &str) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.content_type(), PROBLEM_JSON);
        let body = self.json();
        assert_eq!(body["type"], format!("urn:otp:problem:{reason}"));
        assert_eq!(body["status"], status);
        assert_eq!(body["reason"], reason);
        assert_eq!(
            body["title"],
            StatusCode::from_u16(status)
                .unwrap()
                .canonical_reason()
                .unwrap()
        );
        assert_eq!(body["detail"], body["messages"]["en"]);
        assert!(
            body["messages"]["ja"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        );
        let request_id = self.headers["x-request-id"].to_str().unwrap();
        assert_eq!(body["request_id"], request_id);
        body
    }
}

async fn send(app: &Router, req: Request<Body>) -> Answer {
    let response = app.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn an_unknown_api_route_is_a_404_problem() {
    let w = World::new();
    for path in ["/api/v1/nothing", "/api/v1/users/W0001/nothing", "/api/v1/"] {
        let a = send(&w.app, get(path)).await;
        a.problem(404, "not_found");
    }
}

#[tokio::test]
async fn a_wrong_method_is_a_405_problem() {
    let w = World::new();
    let a = send(
        &w.app,
        Request::delete("/api/v1/openapi.json")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    a.problem(405, "method_not_allowed");
    assert_eq!(a.headers[header::ALLOW], "GET,HEAD");
}

#[tokio::test]
async fn the_screens_keep_their_html_404() {
    let w = World::new();
    let a = send(&w.app, get("/no-such-screen")).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(
        a.headers
            .get(header::CONTENT_TYPE)
            .is_none_or(|v| v.as_bytes() != PROBLEM_JSON.as_bytes())
    );
}

#[tokio::test]
async fn the_openapi_document_is_served_without_a_key() {
    let w = World::new();
    let a = send(&w.app, get("/api/v1/openapi.json")).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.content_type(), "application/json");
    let doc = a.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(a.headers["x-content-type-options"], "nosniff");
    assert_eq!(a.headers["cache-control"], "no-store");
    assert_eq!(
        String::from_utf8(a.body).unwrap(),
        otp_server::api::openapi().to_pretty_json().unwrap() + "\n"
    );
}

#[tokio::test]
async fn the_api_alone_serves_the_same_routes() {
    let w = World::new();
    let app = otp_server::api::router(otp_server::AppState::new(w.bank.clone()));
    let a = send(&app, get("/api/v1/openapi.json")).await;
    assert_eq!(a.status, StatusCode::OK);
    let a = send(&app, get("/login")).await;
    a.problem(404, "not_found");
}

#[derive(serde::Deserialize)]
struct Pair {
    #[allow(dead_code, reason = "only parsed")]
    user: String,
    #[allow(dead_code, reason = "only parsed")]
    count: u32,
}

/// A router with one JSON route taking [`Pair`], mounted like the API.
fn echo() -> Router {
    Router::new().route(
        "/echo",
        post(|ApiJson(_): ApiJson<Pair>| async { StatusCode::NO_CONTENT }),
    )
}

fn post_json(path: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

#[tokio::test]
async fn a_body_that_is_not_the_operations_json_is_malformed_request() {
    let app = echo();
    let a = send(&app, post_json("/echo", "{\"user\": ")).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.content_type(), PROBLEM_JSON);
    assert_eq!(a.json()["reason"], "malformed_request");
    assert_eq!(a.json()["detail"], "The body is not valid JSON.");

    let a = send(&app, post_json("/echo", "{\"user\": \"W0002\"}")).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.json()["reason"], "malformed_request");
    assert_eq!(a.json()["detail"], "The JSON body has no field `count`.");

    // serde's words would quote the value: they are not repeated.
    let a = send(
        &app,
        post_json("/echo", "{\"user\": \"W0002\", \"count\": \"secret-123\"}"),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!String::from_utf8_lossy(&a.body).contains("secret-123"));

    let a = send(
        &app,
        Request::post("/echo")
            .body(Body::from("{\"user\":\"W0002\",\"count\":1}"))
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(a.json()["reason"], "malformed_request");

    let a = send(&app, post_json("/echo", "{\"user\":\"W0002\",\"count\":1}")).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let _ = json!({});
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413_problem() {
    let w = World::new();
    let big = "x".repeat(otp_server::api::API_BODY_LIMIT + 1);
    let a = send(&w.app, post_json("/api/v1/nothing", &big)).await;
    // No route: 404 comes first, whatever the body.
    a.problem(404, "not_found");
    let a = send(&w.app, post_json("/api/v1/openapi.json", &big)).await;
    a.problem(405, "method_not_allowed");
}

// ----- API keys and validation -----

use otp_exchange::ApiScope;
use otp_server::api::ApiConfig;

/// A fixed request id, so that two answers can be compared byte for byte.
const REQUEST_ID: &str = "req-fixed-1";

fn key_of(w: &World, scope: ApiScope) -> String {
    w.bank
        .create_api_key("test-ops", "test client", scope)
        .unwrap()
        .plaintext()
        .to_owned()
}

fn validate_request(key: Option<&str>, body: &str) -> Request<Body> {
    let mut req = Request::post("/api/v1/validate")
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-request-id", REQUEST_ID);
    if let Some(key) = key {
        req = req.header(header::AUTHORIZATION, format!("Bearer {key}"));
    }
    req.body(Body::from(body.to_owned())).unwrap()
}

fn validate_body(user: &str, code: &str) -> String {
    json!({ "user": user, "code": code }).to_string()
}

/// A world whose per-user limit does not get in the way.
fn world() -> World {
    World::with(|s| s.with_api_config(ApiConfig::new().with_user_rate(1_000)))
}

#[tokio::test]
async fn a_correct_code_is_accepted_once_then_replayed() {
    let mut w = world();
    let key = key_of(&w, ApiScope::Validate);
    let serial = w.token_of(&w.general.clone()).unwrap();
    let code = w.press(&serial);
    let a = send(
        &w.app,
        validate_request(Some(&key), &validate_body("W0002", &code)),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.content_type(), "application/json");
    assert_eq!(
        a.json(),
        json!({
            "result": "accepted",
            "reason": "accepted",
            "messages": {"ja": "認証しました。", "en": "Accepted."}
        })
    );
    let a = send(
        &w.app,
        validate_request(Some(&key), &validate_body("W0002", &code)),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    let body = a.json();
    assert_eq!(body["result"], "rejected");
    assert_eq!(body["reason"], "replayed_code_current");
    let replayed = otp_exchange::Refusal::Replayed(otp_exchange::Which::Current);
    assert_eq!(
        body["messages"]["ja"],
        replayed.message(otp_exchange::Lang::Ja)
    );
    assert_eq!(
        body["messages"]["en"],
        replayed.message(otp_exchange::Lang::En)
    );
}

#[tokio::test]
async fn an_admin_key_may_validate_and_a_spaced_code_is_read() {
    let mut w = world();
    let key = key_of(&w, ApiScope::Admin);
    let serial = w.token_of(&w.general.clone()).unwrap();
    let code = w.press(&serial);
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    let a = send(
        &w.app,
        validate_request(Some(&key), &validate_body("W0002", &spaced)),
    )
    .await;
    assert_eq!(a.json()["result"], "accepted");
}

#[tokio::test]
async fn unknown_id_no_token_locked_and_wrong_code_answer_byte_for_byte_the_same() {
    let mut w = world();
    let key = key_of(&w, ApiScope::Validate);
    let serial = w.token_of(&w.general.clone()).unwrap();
    let good = w.press(&serial);
    let wrong = if good == "000000" { "111111" } else { "000000" };
    let wrong_code = send(
        &w.app,
        validate_request(Some(&key), &validate_body("W0002", wrong)),
    )
    .await;
    let unknown = send(
        &w.app,
        validate_request(Some(&key), &validate_body("W9999", &good)),
    )
    .await;
    let no_token = send(
        &w.app,
        validate_request(Some(&key), &validate_body("W0005", &good)),
    )
    .await;
    let not_an_id = send(
        &w.app,
        validate_request(Some(&key), &validate_body("no such id!", &good)),
    )
    .await;
    // Lock W0002 with wrong codes, then its right code is refused alike.
    for _ in 0..6 {
        send(
            &w.app,
            validate_request(Some(&key), &validate_body("W0002", wrong)),
        )
        .await;
    }
    let fresh = w.press(&serial);
    let locked = send(
        &w.app,
        validate_request(Some(&key), &validate_body("W0002", &fresh)),
    )
    .await;
    assert!(
        w.bank
            .records()
            .user(&w.general)
            .unwrap()
            .unwrap()
            .lock
            .locked
    );
    assert_eq!(wrong_code.status, StatusCode::OK);
    assert_eq!(wrong_code.json()["reason"], "login_failed");
    assert_eq!(wrong_code.json()["result"], "rejected");
    for other in [&unknown, &no_token, &not_an_id, &locked] {
        assert_eq!(other.status, wrong_code.status);
        assert_eq!(
            other.body,
            wrong_code.body,
            "{}",
            String::from_utf8_lossy(&other.body)
        );
        assert_eq!(
            other.headers.get(header::CONTENT_TYPE),
            wrong_code.headers.get(header::CONTENT_TYPE)
        );
        assert_eq!(
            other.headers.get(header::CONTENT_LENGTH),
            wrong_code.headers.get(header::CONTENT_LENGTH)
        );
    }
}

#[tokio::test]
async fn a_malformed_code_is_said_whatever_the_id() {
    let w = world();
    let key = key_of(&w, ApiScope::Validate);
    let a = send(
        &w.app,
        validate_request(Some(&key), &validate_body("W0002", "12ab56")),
    )
    .await;
    let b = send(
        &w.app,
        validate_request(Some(&key), &validate_body("W9999", "12ab56")),
    )
    .await;
    assert_eq!(a.json()["reason"], "malformed_code_current");
    assert_eq!(a.body, b.body);
}

#[tokio::test]
async fn every_key_failure_is_the_same_401() {
    let w = world();
    let key = key_of(&w, ApiScope::Validate);
    let revoked = key_of(&w, ApiScope::Admin);
    let revoked_id = revoked[5..21].to_owned();
    w.bank.revoke_api_key("test-ops", &revoked_id).unwrap();
    let (id, secret) = (&key[5..21], &key[22..]);
    let mut wrong_secret = secret.to_owned();
    wrong_secret.replace_range(0..1, if secret.starts_with('A') { "B" } else { "A" });
    let body = validate_body("W0002", "123456");
    let reference = send(&w.app, validate_request(None, &body)).await;
    let p = reference.problem(401, "unauthorized");
    assert_eq!(p["messages"]["en"], "A valid API key is required.");
    assert_eq!(
        reference.headers[header::WWW_AUTHENTICATE],
        "Bearer realm=\"otp\""
    );
    let mut answers = Vec::new();
    for presented in [
        format!("otpk_{id}_{wrong_secret}"),
        format!("otpk_ffffffffffffffff_{secret}"),
        format!("otpk_{id}"),
        "not-a-key".to_owned(),
        revoked.clone(),
        format!("{key}x"),
    ] {
        answers.push(send(&w.app, validate_request(Some(&presented), &body)).await);
    }
    let basic = Request::post("/api/v1/validate")
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-request-id", REQUEST_ID)
        .header(header::AUTHORIZATION, format!("Basic {key}"))
        .body(Body::from(body.clone()))
        .unwrap();
    answers.push(send(&w.app, basic).await);
    for a in &answers {
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert_eq!(a.body, reference.body);
        assert_eq!(a.headers[header::WWW_AUTHENTICATE], "Bearer realm=\"otp\"");
    }
    // The key itself works.
    let ok = send(&w.app, validate_request(Some(&key), &body)).await;
    assert_eq!(ok.status, StatusCode::OK);
}

#[tokio::test]
async fn a_key_revoked_is_refused_by_a_server_that_reads_it_after() {
    let w = world();
    let key = key_of(&w, ApiScope::Validate);
    let body = validate_body("W0002", "123456");
    assert_eq!(
        send(&w.app, validate_request(Some(&key), &body))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        w.bank.revoke_api_key("test-ops", &key[5..21]).unwrap(),
        otp_exchange::ApiKeyRevocation::Revoked
    );
    // Another node (its own cache) refuses it at once.
    let other = otp_server::router(otp_server::AppState::new(w.bank.clone()));
    send(&other, validate_request(Some(&key), &body))
        .await
        .problem(401, "unauthorized");
}

#[tokio::test]
async fn a_bad_body_on_validate_is_a_problem_after_the_key() {
    let w = world();
    let key = key_of(&w, ApiScope::Validate);
    let a = send(&w.app, validate_request(Some(&key), "{\"user\": ")).await;
    a.problem(400, "malformed_request");
    let a = send(
        &w.app,
        validate_request(Some(&key), "{\"user\": \"W0002\"}"),
    )
    .await;
    let p = a.problem(422, "malformed_request");
    assert_eq!(p["detail"], "The JSON body has no field `code`.");
    let a = send(
        &w.app,
        validate_request(
            Some(&key),
            "{\"user\": \"W0002\", \"code\": \"1\", \"extra\": 1}",
        ),
    )
    .await;
    a.problem(422, "malformed_request");
    let big = format!(
        "{{\"user\": \"W0002\", \"code\": \"{}\"}}",
        "1".repeat(otp_server::api::API_BODY_LIMIT)
    );
    let a = send(&w.app, validate_request(Some(&key), &big)).await;
    a.problem(413, "malformed_request");
    // Without a key, the body is not even read: 401.
    send(&w.app, validate_request(None, "{"))
        .await
        .problem(401, "unauthorized");
    let get = send(&w.app, get("/api/v1/validate")).await;
    get.problem(405, "method_not_allowed");
}

#[tokio::test]
async fn a_key_over_its_rate_is_429_with_retry_after() {
    let w =
        World::with(|s| s.with_api_config(ApiConfig::new().with_key_rate(1).with_user_rate(1_000)));
    let key = key_of(&w, ApiScope::Validate);
    let other = key_of(&w, ApiScope::Validate);
    let body = validate_body("W0009", "123456");
    // 1 a second, bursts of 2.
    for _ in 0..2 {
        assert_eq!(
            send(&w.app, validate_request(Some(&key), &body))
                .await
                .status,
            StatusCode::OK
        );
    }
    let a = send(&w.app, validate_request(Some(&key), &body)).await;
    let p = a.problem(429, "rate_limited");
    assert_eq!(a.headers[header::RETRY_AFTER], "1");
    assert_eq!(
        p["messages"]["en"],
        "Too many requests. Please try again later."
    );
    // Another key is not limited by this one's use.
    assert_eq!(
        send(&w.app, validate_request(Some(&other), &body))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_user_id_over_its_rate_is_429_before_the_store_is_touched() {
    let mut w = World::with(|s| s.with_api_config(ApiConfig::new().with_user_rate(2)));
    let key = key_of(&w, ApiScope::Validate);
    let other_key = key_of(&w, ApiScope::Validate);
    let body = validate_body("W0002", "000000");
    for _ in 0..2 {
        assert_eq!(
            send(&w.app, validate_request(Some(&key), &body))
                .await
                .status,
            StatusCode::OK
        );
    }
    let audit_before = w.bank.records().audit_chain().unwrap().len();
    // Across keys: the limit is the target ID's.
    let a = send(&w.app, validate_request(Some(&other_key), &body)).await;
    a.problem(429, "rate_limited");
    // 2 per 10 s: the next in 5 s.
    assert_eq!(a.headers[header::RETRY_AFTER], "5");
    assert_eq!(w.bank.records().audit_chain().unwrap().len(), audit_before);
    // Even the right code waits: nothing was counted or recorded.
    let serial = w.token_of(&w.general.clone()).unwrap();
    let code = w.press(&serial);
    send(
        &w.app,
        validate_request(Some(&key), &validate_body("W0002", &code)),
    )
    .await
    .problem(429, "rate_limited");
    assert_eq!(w.bank.records().audit_chain().unwrap().len(), audit_before);
    // Another ID is not limited by this one.
    let a = send(
        &w.app,
        validate_request(Some(&key), &validate_body("W0005", "000000")),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn a_keys_last_use_is_written_once_a_minute_at_most() {
    let mut w = world();
    let key = key_of(&w, ApiScope::Validate);
    let id = key[5..21].to_owned();
    let first_at = otp_provision::Clock::now(&w.clock);
    let body = validate_body("W0002", "000000");
    send(&w.app, validate_request(Some(&key), &body)).await;
    // Written off the request's path: wait for it (bounded).
    let mut written = None;
    for _ in 0..500 {
        written = w.bank.records().api_key(&id).unwrap().unwrap().last_used_at;
        if written.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(written, Some(first_at));
    // Half a minute later on the bank's clock, within the node's minute:
    // not written again.
    let serial = w.token_of(&w.general.clone()).unwrap();
    let _ = w.press(&serial);
    for _ in 0..3 {
        send(&w.app, validate_request(Some(&key), &body)).await;
    }
    tokio::task::yield_now().await;
    assert_eq!(
        w.bank.records().api_key(&id).unwrap().unwrap().last_used_at,
        Some(first_at)
    );
}

#[tokio::test]
async fn the_document_describes_validate_with_every_answer() {
    let doc: Value = serde_json::from_str(&otp_server::api::openapi().to_json().unwrap()).unwrap();
    let op = &doc["paths"]["/api/v1/validate"]["post"];
    let mut statuses: Vec<&str> = op["responses"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        ["200", "400", "401", "413", "415", "422", "429", "503"]
    );
    assert_eq!(op["security"], json!([{"api_key": []}]));
}

// ----- fail closed, and one code accepted once under concurrency -----

use otp_exchange::HashCost;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[tokio::test]
async fn a_code_the_store_cannot_record_is_never_accepted() {
    let down = Arc::new(AtomicBool::new(false));
    let store = Arc::new(common::outage::Outage::writes(&down));
    let mut s = otp_exchange::scenario::Scenario::setup(
        Arc::clone(&store),
        otp_exchange::scenario::script::START,
        HashCost::TESTING,
    )
    .unwrap();
    let key = s
        .bank
        .create_api_key("test-ops", "web", ApiScope::Validate)
        .unwrap()
        .plaintext()
        .to_owned();
    let serial = s
        .bank
        .records()
        .user(&s.general)
        .unwrap()
        .unwrap()
        .token
        .unwrap();
    s.clock.advance(30);
    let now = otp_provision::Clock::now(&s.clock);
    let code = s
        .tokens
        .get_mut(&serial)
        .unwrap()
        .press(now)
        .unwrap()
        .code()
        .unwrap()
        .to_string();
    let bank = Arc::new(s.bank);
    let app = otp_server::router(otp_server::AppState::new(Arc::clone(&bank)));
    down.store(true, Ordering::SeqCst);
    let a = send(
        &app,
        validate_request(Some(&key), &validate_body("W0002", &code)),
    )
    .await;
    let p = a.problem(503, "store_unavailable");
    assert_eq!(
        p["messages"]["en"],
        "The system could not complete the operation (nothing was changed). Please try again later."
    );
    // Back up: the same code is accepted now, once (it was never used).
    down.store(false, Ordering::SeqCst);
    let a = send(
        &app,
        validate_request(Some(&key), &validate_body("W0002", &code)),
    )
    .await;
    assert_eq!(a.json()["result"], "accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_code_posted_many_times_at_once_is_accepted_exactly_once() {
    let mut w = world();
    let key = key_of(&w, ApiScope::Validate);
    let serial = w.token_of(&w.general.clone()).unwrap();
    for _ in 0..20 {
        let code = w.press(&serial);
        let body = validate_body("W0002", &code);
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let app = w.app.clone();
                let req = validate_request(Some(&key), &body);
                tokio::spawn(async move { send(&app, req).await })
            })
            .collect();
        let mut accepted = 0;
        for t in tasks {
            let a = t.await.unwrap();
            assert_eq!(a.status, StatusCode::OK);
            let body = a.json();
            if body["result"] == "accepted" {
                accepted += 1;
            } else {
                // A loser sees the winner's code as replayed (or, had it
                // lost a compare-and-set race, the one failed login).
                assert!(
                    body["reason"] == "replayed_code_current" || body["reason"] == "login_failed",
                    "{body}"
                );
            }
        }
        assert_eq!(accepted, 1);
    }
}

// ----- transaction signing -----

/// The world with a keypad token (`OCRA-1:HOTP-SHA256-8:C-QN08`)
/// registered to W0005 by the branch.
fn signing_world() -> (World, otp_provision::SerialNumber) {
    let mut serial = None;
    let w = World::with_scenario(
        otp_exchange::Policy::default(),
        |s| {
            let kp = s
                .add_keypad_token("OCRA-1:HOTP-SHA256-8:C-QN08".parse().unwrap())
                .unwrap();
            let code = s.press(&kp).unwrap();
            let user = s.without_token.clone();
            s.bank
                .branch_register(&otp_exchange::scenario::branch(), &user, kp.as_str(), &code)
                .unwrap();
            serial = Some(kp);
        },
        |s| s.with_api_config(ApiConfig::new().with_user_rate(1_000)),
    );
    (w, serial.unwrap())
}

fn api_post(path: &str, key: &str, body: &Value) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header("x-request-id", REQUEST_ID)
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// A transfer's challenge, typed on the keypad token, signs that transfer
/// once: the response is accepted with the transfer's reference, again
/// it is a replay, for another transfer it is wrong.
#[tokio::test]
async fn a_transfer_is_signed_once_through_the_api() {
    let (mut w, serial) = signing_world();
    let key = key_of(&w, ApiScope::Validate);
    let transfer = json!({"user": "W0005", "amount": 150_000, "destination": "1234567"});
    let a = send(
        &w.app,
        api_post("/api/v1/transactions/challenge", &key, &transfer),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    let body = a.json();
    assert_eq!(body["result"], "accepted");
    let challenge = body["challenge"].as_str().unwrap().to_owned();
    assert_eq!(challenge.len(), 8);
    let response = w.press_challenge(&serial, &challenge);
    let mut signed = transfer.clone();
    signed["response"] = json!(response);
    let a = send(&w.app, api_post("/api/v1/transactions/sign", &key, &signed)).await;
    assert_eq!(a.status, StatusCode::OK);
    let tx = otp_exchange::Transaction::new(150_000, "1234567").unwrap();
    let user = otp_exchange::UserId::parse("W0005").unwrap();
    assert_eq!(
        a.json(),
        json!({
            "result": "accepted",
            "reason": "accepted",
            "reference": w.bank.transaction_reference(&user, &tx).unwrap(),
            "messages": {"ja": "取引を承認しました。", "en": "The transfer is signed."}
        })
    );
    let a = send(&w.app, api_post("/api/v1/transactions/sign", &key, &signed)).await;
    assert_eq!(a.json()["reason"], "replayed_signature");
    // The same digits for another destination are wrong (and counted).
    let mut other = signed.clone();
    other["destination"] = json!("7654321");
    let a = send(&w.app, api_post("/api/v1/transactions/sign", &key, &other)).await;
    let body = a.json();
    assert_eq!(
        (&body["result"], &body["reason"]),
        (&json!("rejected"), &json!("wrong_signature"))
    );
    assert_eq!(body["reference"], Value::Null);
    let lock = w.bank.records().user(&user).unwrap().unwrap().lock;
    assert_eq!(lock.codes.failures, 1);
}

/// Every refusal has its reason; an unknown ID, an ID without a token and
/// a button-only token are one answer, byte for byte.
#[tokio::test]
async fn signing_refusals_are_typed_and_do_not_tell_ids_apart() {
    let (w, _serial) = signing_world();
    let key = key_of(&w, ApiScope::Validate);
    let mut answers = Vec::new();
    for user in ["W0099", "W0002", "not an id"] {
        let body = json!({"user": user, "amount": 1, "destination": "1", "response": "12345678"});
        let a = send(&w.app, api_post("/api/v1/transactions/sign", &key, &body)).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.json()["reason"], "no_signing_token");
        answers.push(a.body);
        let a = send(
            &w.app,
            api_post(
                "/api/v1/transactions/challenge",
                &key,
                &body_without_response(&body),
            ),
        )
        .await;
        assert_eq!(a.json()["reason"], "no_signing_token");
        assert_eq!(a.json()["challenge"], Value::Null);
    }
    assert!(answers.windows(2).all(|p| p[0] == p[1]));
    for (body, reason) in [
        (
            json!({"user": "W0005", "amount": 1, "destination": "12 3", "response": "12345678"}),
            "malformed_transaction",
        ),
        (
            json!({"user": "W0005", "amount": 1, "destination": "1", "response": "1234"}),
            "malformed_signature",
        ),
        (
            json!({"user": "W0005", "amount": 1, "destination": "1", "response": "12345678"}),
            "wrong_signature",
        ),
    ] {
        let a = send(&w.app, api_post("/api/v1/transactions/sign", &key, &body)).await;
        assert_eq!(a.json()["reason"], reason, "{body}");
    }
    // Not the operation's JSON: a 422 problem (an amount of 0 or below, a
    // missing response, an unknown field).
    for body in [
        json!({"user": "W0005", "amount": 0, "destination": "1", "response": "1"}),
        json!({"user": "W0005", "amount": -1, "destination": "1", "response": "1"}),
        json!({"user": "W0005", "amount": 9_223_372_036_854_775_808_u64, "destination": "1", "response": "1"}),
        json!({"user": "W0005", "amount": 1, "destination": "1"}),
        json!({"user": "W0005", "amount": 1, "destination": "1", "response": "1", "pin": "1"}),
    ] {
        let a = send(&w.app, api_post("/api/v1/transactions/sign", &key, &body)).await;
        a.problem(422, "malformed_request");
    }
    // No key: 401.
    let a = send(
        &w.app,
        Request::post("/api/v1/transactions/sign")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .unwrap(),
    )
    .await;
    a.problem(401, "unauthorized");
}

fn body_without_response(body: &Value) -> Value {
    let mut b = body.clone();
    b.as_object_mut().unwrap().remove("response");
    b
}
