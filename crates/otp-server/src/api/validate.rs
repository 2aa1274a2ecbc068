//! `POST /api/v1/validate`: a login code checked by the policy's
//! [`Bank::login`](otp_exchange::Bank::login), counted toward the ID lock
//! and the replay rule, recorded before it is accepted. An unknown ID, an
//! ID without a token, a locked ID and a wrong code get the same answer,
//! byte for byte.

use axum::Json;
use axum::extract::State;
use otp_exchange::{Refusal, Store, UserId, Which};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroize as _;

use super::ApiState;
use super::auth::ValidateKey;
use super::extract::ApiJson;
use super::problem::{Messages, Problem};

/// A login code to check.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    /// The customer ID (`W0002`).
    #[schema(example = "W0002")]
    pub user: String,
    /// The code the token shows (6 to 8 digits; as displayed, `821 135`, is
    /// accepted too).
    #[schema(example = "821135")]
    pub code: String,
}

impl Drop for ValidateRequest {
    fn drop(&mut self) {
        self.code.zeroize();
    }
}

impl core::fmt::Debug for ValidateRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ValidateRequest")
            .field("user", &self.user)
            .field("code", &"<redacted>")
            .finish()
    }
}

/// Whether the code was accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ValidateResult {
    /// The code was correct and is recorded: the login may proceed.
    Accepted,
    /// It was not.
    Rejected,
}

/// Why (the stable reason code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ValidateReason {
    /// Accepted.
    Accepted,
    /// An unknown ID, an ID without a token, a locked ID or a wrong code:
    /// one answer for all.
    LoginFailed,
    /// The token's last code again (only its holder can know it).
    ReplayedCodeCurrent,
    /// Not 6 to 8 digits (whatever the ID).
    MalformedCodeCurrent,
}

impl ValidateReason {
    /// The reason code, as the JSON says it (and as `/metrics` labels a
    /// validation's outcome).
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::LoginFailed => "login_failed",
            Self::ReplayedCodeCurrent => "replayed_code_current",
            Self::MalformedCodeCurrent => "malformed_code_current",
        }
    }
}

/// The answer of `POST /api/v1/validate`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ValidateResponse {
    /// `accepted` or `rejected`.
    pub result: ValidateResult,
    /// The reason code.
    pub reason: ValidateReason,
    /// What to show the user, in Japanese and English.
    pub messages: Messages,
}

impl ValidateResponse {
    fn rejected(reason: ValidateReason, refusal: &Refusal) -> Self {
        Self {
            result: ValidateResult::Rejected,
            reason,
            messages: Messages::of(refusal),
        }
    }

    fn login_failed() -> Self {
        Self::rejected(ValidateReason::LoginFailed, &Refusal::LoginFailed)
    }
}

/// Checks a login code.
///
/// An unknown ID, an ID without a token, a locked ID and a wrong code get
/// the identical answer (`login_failed`). The code is recorded (replay
/// rule, lock counter, audit) before `accepted` is answered; when the
/// store cannot record it the answer is `503 store_unavailable`, never
/// `accepted`.
#[utoipa::path(
    post,
    path = "/api/v1/validate",
    tag = "validate",
    operation_id = "validate",
    security(("api_key" = [])),
    request_body(content = ValidateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Checked: accepted or rejected.", body = ValidateResponse),
        (status = 400, description = "`malformed_request`: the body is not JSON.", body = super::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`: no valid API key.", body = super::ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`malformed_request`: the body is too large.", body = super::ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`malformed_request`: not `application/json`.", body = super::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`malformed_request`: JSON without `user` and `code` strings.", body = super::ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: this key or this user ID is over its rate; see `Retry-After`.", body = super::ProblemBody, content_type = "application/problem+json",
         headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = "`store_unavailable`: nothing was recorded, nothing accepted.", body = super::ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn validate<S: Store + 'static>(
    State(state): State<ApiState<S>>,
    _key: ValidateKey,
    ApiJson(request): ApiJson<ValidateRequest>,
) -> Result<Json<ValidateResponse>, Problem> {
    let started = std::time::Instant::now();
    let answer = check(&state, &request, started).await;
    let seconds = started.elapsed().as_secs_f64();
    match &answer {
        Ok(response) => state.metrics.validation(response.reason.label(), seconds),
        Err(problem) => match problem.reason() {
            // Refused before the policy saw it: counted as such, not as a
            // validation.
            "rate_limited" => state.metrics.rate_limited(),
            "store_unavailable" => {
                state.metrics.store_error();
                state.metrics.validation("store_unavailable", seconds);
            }
            _ => state.metrics.validation("internal_error", seconds),
        },
    }
    answer.map(Json)
}

/// The answer to `request`, or the problem.
async fn check<S: Store + 'static>(
    state: &ApiState<S>,
    request: &ValidateRequest,
    now: std::time::Instant,
) -> Result<ValidateResponse, Problem> {
    // Not an ID anyone can have: the same answer as an unknown one.
    let Ok(user) = UserId::parse(&request.user) else {
        return Ok(ValidateResponse::login_failed());
    };
    state
        .user_limit
        .check(user.as_str(), now)
        .map_err(Problem::rate_limited)?;
    let code = zeroize::Zeroizing::new(request.code.clone());
    let outcome = state
        .blocking(move |bank| bank.login(&user, &code).map(|_| ()))
        .await?;
    Ok(match outcome {
        Ok(()) => ValidateResponse {
            result: ValidateResult::Accepted,
            reason: ValidateReason::Accepted,
            messages: Messages {
                ja: "認証しました。".to_owned(),
                en: "Accepted.".to_owned(),
            },
        },
        Err(r @ Refusal::Replayed(Which::Current)) => {
            ValidateResponse::rejected(ValidateReason::ReplayedCodeCurrent, &r)
        }
        Err(r @ Refusal::Code(Which::Current, _)) => {
            ValidateResponse::rejected(ValidateReason::MalformedCodeCurrent, &r)
        }
        Err(Refusal::Internal(e)) => {
            tracing::error!(error = %e, "a login code could not be recorded");
            return Err(Problem::store_unavailable());
        }
        // `LoginFailed`, and anything else the policy may say: one answer.
        Err(_) => ValidateResponse::login_failed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_code() {
        let request: ValidateRequest =
            serde_json::from_str(r#"{"user": "W0002", "code": "821135"}"#).unwrap();
        let shown = format!("{request:?}");
        assert_eq!(
            shown,
            r#"ValidateRequest { user: "W0002", code: "<redacted>" }"#
        );
    }
}
