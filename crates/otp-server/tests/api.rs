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
