//! The OpenAPI 3.1 document, generated from the handlers' annotations
//! (utoipa), served at `GET /api/v1/openapi.json` and checked in as
//! docs/openapi.json.

use std::sync::OnceLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::admin;
use super::problem::{Messages, ProblemBody};

/// The API's OpenAPI description: every route, every response.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "otp bank API",
        version = "1",
        description = "Validate login codes, verify transaction signatures and administer the bank's OTP tokens. \
                       Errors are RFC 9457 problem details (application/problem+json) \
                       with a stable `reason` code; see docs/api.md."
    ),
    paths(
        openapi_json,
        super::validate::validate,
        super::sign::challenge,
        super::sign::sign,
        admin::session::sign_in,
        admin::users::list,
        admin::users::info,
        admin::users::unregister,
        admin::users::lock,
        admin::users::unlock,
        admin::users::usage_mode,
        admin::software::begin,
        admin::software::confirm,
        admin::exchange::begin,
        admin::exchange::register,
        admin::exchange::current_code,
        admin::exchange::no_token,
        admin::exchange::new_token,
        admin::history::history,
        admin::inventory::import,
    ),
    components(schemas(ProblemBody, Messages)),
    modifiers(&BearerKey),
    tags(
        (name = "validate", description = "Login codes checked by the policy (any key scope)."),
        (name = "transactions", description = "Transfers signed on a keypad token (RFC 6287 OCRA), checked by the policy with the login's lock, replay rule and audit (any key scope)."),
        (name = "meta", description = "The API's own description."),
        (name = "admin", description = "Administrator operations: an admin-scope API key and an admin session (`OTP-Admin-Session`) from `POST /api/v1/admin/sign-in`."),
    )
)]
pub struct ApiDoc;

/// Adds the `api_key` security scheme: `Authorization: Bearer otpk_<id>_<secret>`.
struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("otpk_<id>_<secret>")
                    .description(Some(
                        "An API key from `otp bank api-key create`: otpk_<16 hex>_<43 base64url>.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document of the API.
#[must_use]
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as served: pretty JSON with a final newline (as checked in).
pub(crate) fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut text = openapi().to_pretty_json().unwrap_or_default();
        text.push('\n');
        text
    })
}

/// The API's OpenAPI 3.1 document (no authentication).
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    operation_id = "openapi",
    responses(
        (status = 200, description = "This document.", content_type = "application/json",
         body = Object),
    )
)]
pub(crate) async fn openapi_json() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        document(),
    )
        .into_response()
}
