//! Extractors whose rejections are problems: a body that is not the JSON
//! an operation takes, or a query it cannot read, is a
//! `malformed_request` problem, never axum's plain-text rejection.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::problem::Problem;

/// A JSON body of type `T`. A body that is not JSON is `400`, JSON of the
/// wrong shape (a missing field, a wrong type, an unknown member where the
/// type denies them) `422`, a body without `Content-Type:
/// application/json` `415`, one over the size limit `413`: each a
/// `malformed_request` problem.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_problem(&rejection)),
        }
    }
}

fn json_problem(rejection: &JsonRejection) -> Problem {
    match rejection {
        JsonRejection::JsonDataError(e) => {
            // serde's words may quote a value sent (a code, a password):
            // only a missing field's name is repeated.
            let text = e.body_text();
            let missing = text
                .split("missing field `")
                .nth(1)
                .and_then(|rest| rest.split('`').next())
                .filter(|name| name.len() <= 64);
            Problem::malformed(
                StatusCode::UNPROCESSABLE_ENTITY,
                &missing.map_or_else(
                    || {
                        "The JSON body does not have the fields and types this operation takes."
                            .to_owned()
                    },
                    |name| format!("The JSON body has no field `{name}`."),
                ),
            )
        }
        JsonRejection::JsonSyntaxError(_) => {
            Problem::malformed(StatusCode::BAD_REQUEST, "The body is not valid JSON.")
        }
        JsonRejection::MissingJsonContentType(_) => Problem::malformed(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The body must be JSON, sent with Content-Type: application/json.",
        ),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Problem::malformed(
                StatusCode::PAYLOAD_TOO_LARGE,
                "The body is larger than this operation accepts.",
            )
        }
        _ => Problem::malformed(StatusCode::BAD_REQUEST, "The body could not be read."),
    }
}

/// A query string of type `T`; one it cannot read is a `400
/// malformed_request` problem.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(|e: QueryRejection| {
                Problem::malformed(
                    StatusCode::BAD_REQUEST,
                    &format!("The query string could not be read: {e}."),
                )
            })
    }
}

/// Path parameters of type `T`; ones it cannot read are a `400
/// malformed_request` problem.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Self(value))
            .map_err(|e: PathRejection| {
                Problem::malformed(
                    StatusCode::BAD_REQUEST,
                    &format!("The path could not be read: {e}."),
                )
            })
    }
}
