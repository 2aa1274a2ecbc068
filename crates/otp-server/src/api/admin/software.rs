//! The software token's enrolment (ソフトウェアトークン登録): the
//! administrator, with their approval password, mints a token for a user
//! (`Bank::begin_software_token`): the answer carries its `otpauth://`
//! URI **once** (the one answer of the API with a secret in it, for the
//! administrator to show the user as a QR code: it is not kept and cannot
//! be asked for again) and a ticket; the app's first code then confirms
//! it (`ExpectFirstCode::confirm`), which binds it to the user and
//! revokes their old token in one switch.

use axum::Json;
use axum::extract::State;
use otp_exchange::{Password, Store, Ticket};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroizing;

use super::super::{ApiJson, ApiPath, ApiState, Problem, ProblemBody};
use super::exchange::{Switched, switched};
use super::users::{PasswordOnly, secret_fields};
use super::{Admin, refused, user_id};

/// A software token minted and reserved for the user.
#[derive(Serialize, ToSchema)]
pub(crate) struct Minted {
    /// The sealed ticket for `POST /api/v1/users/{id}/software-token/confirm`.
    ticket: String,
    /// `first_code`.
    #[schema(example = "first_code")]
    next: String,
    /// Whose token.
    #[schema(example = "W0002")]
    user: String,
    /// The minted token's serial, masked.
    #[schema(example = "●●●●●●●●2345")]
    serial: String,
    /// The `otpauth://totp/...` URI for the authenticator app, with the
    /// token's secret in it: shown this once, to the user only.
    otpauth_uri: String,
}

impl core::fmt::Debug for Minted {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Minted")
            .field("user", &self.user)
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

impl Drop for Minted {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.otpauth_uri);
    }
}

/// The ticket and the app's first code.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FirstCode {
    /// The ticket of `POST /api/v1/users/{id}/software-token`.
    ticket: String,
    /// The app's first code.
    #[schema(example = "123456")]
    code: String,
}

secret_fields!(FirstCode, code);

/// Mints a software token for a user (step 1 of its enrolment).
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/software-token",
    tag = "admin",
    operation_id = "begin_software_token",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "Customer ID."), ("OTP-Admin-Session" = String, Header, description = "The admin session.")),
    request_body = PasswordOnly,
    responses(
        (status = 200, description = "Minted and reserved: the otpauth URI (once) and the ticket for the first code.", body = Minted),
        (status = 400, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`, `admin_session_required`, `admin_session_invalid`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden_scope`, `not_administrator`, `own_id`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`unknown_user`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`wrong_password`, `no_password_registered`, `malformed_user_id`, `malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 423, description = "`operator_locked`, `user_locked`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "`store_unavailable`.", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn begin<S: Store + 'static>(
    admin: Admin,
    State(state): State<ApiState<S>>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<PasswordOnly>,
) -> Result<Json<Minted>, Problem> {
    let target = user_id(&id)?;
    let password = Password::new(body.password());
    drop(body);
    state
        .blocking(move |bank| {
            let mut step = bank
                .begin_software_token(&admin.operator, &target, &password)
                .map_err(|r| refused(&r, None))?;
            let uri = step.take_otpauth_uri().ok_or_else(Problem::internal)?;
            let serial = step.serial().masked().to_string();
            let ticket = step.into_ticket(bank).map_err(|r| refused(&r, None))?;
            Ok(Json(Minted {
                ticket: ticket.as_str().to_owned(),
                next: "first_code".to_owned(),
                user: target.as_str().to_owned(),
                serial,
                otpauth_uri: uri.as_str().to_owned(),
            }))
        })
        .await?
}

/// The app's first code: the software token is the user's from now
/// (step 2 of its enrolment).
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/software-token/confirm",
    tag = "admin",
    operation_id = "confirm_software_token",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "Customer ID."), ("OTP-Admin-Session" = String, Header, description = "The admin session.")),
    request_body = FirstCode,
    responses(
        (status = 200, description = "Switched: the software token is valid from now, the old token no longer.", body = Switched),
        (status = 400, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`, `admin_session_required`, `admin_session_invalid`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden_scope`, `not_administrator`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`unknown_user`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "`session_used`, `conflict`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 410, description = "`session_expired`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`wrong_code_new`, `replayed_code_new`, `malformed_code_new` (with a new `ticket` to try again from), `malformed_user_id`, `malformed_request`; `session_invalid`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 423, description = "`operator_locked`, `user_locked`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "`store_unavailable`.", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn confirm<S: Store + 'static>(
    admin: Admin,
    State(state): State<ApiState<S>>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<FirstCode>,
) -> Result<Json<Switched>, Problem> {
    let target = user_id(&id)?;
    let ticket = Ticket::from_text(&body.ticket);
    let code = Zeroizing::new(body.code.clone());
    drop(body);
    state
        .blocking(move |bank| {
            let step = bank
                .resume_software_token(&admin.operator, &ticket)
                .map_err(|r| refused(&r, None))?;
            if step.parties().1 != &target {
                return Err(refused(&otp_exchange::Refusal::SessionInvalid, None));
            }
            let flow = if step.old_serial().is_some() {
                otp_exchange::Flow::Exchange
            } else {
                otp_exchange::Flow::Registration
            };
            match step.confirm(bank, &code) {
                Ok(done) => Ok(Json(switched(flow, &done))),
                Err(retry) => {
                    let again = match retry.resume {
                        Some(step) => Some(step.into_ticket(bank).map_err(|r| refused(&r, None))?),
                        None => None,
                    };
                    Err(refused(&retry.refusal, again))
                }
            }
        })
        .await?
}
