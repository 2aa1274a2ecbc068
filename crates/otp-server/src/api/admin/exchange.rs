//! The exchange (交換, the manual's screens 3 to 6) and the new
//! registration (新規登録), step by step. Between calls the flow's state
//! is the policy's sealed ticket ([`otp_exchange::Ticket`]): bound by the
//! policy to the administrator who began it (and the caller's admin
//! session names that administrator), expiring with the policy's session
//! time, usable once. A step refused with a retry allowed (a wrong code,
//! serial or password before an ID locks) answers the problem with a new
//! `ticket` to try again from.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use otp_exchange::{Flow, Password, Pending, Refusal, Store, Ticket, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroizing;

use super::super::{ApiJson, ApiState, Messages, Problem, ProblemBody};
use super::users::secret_fields;
use super::{Admin, messages, refused, user_id};

/// Which user to begin the flow for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BeginRequest {
    /// Customer ID.
    #[schema(example = "W0002")]
    user: String,
}

/// What the flow waits for next.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Next {
    /// A code from the user's current token:
    /// `POST /api/v1/exchanges/current-code` (or `.../no-token`).
    CurrentCode,
    /// The new token's serial and code and the approval password:
    /// `POST /api/v1/exchanges/new-token`.
    NewToken,
}

/// A flow parked: the ticket to send with the next step.
#[derive(Serialize, ToSchema)]
pub(crate) struct TicketAnswer {
    /// The sealed ticket (opaque; usable once).
    ticket: String,
    /// The next step.
    next: Next,
    /// Whose token.
    #[schema(example = "W0002")]
    user: String,
    /// The token being replaced, masked (`null` for a registration).
    #[schema(example = "●●●●●●●●0002")]
    serial: Option<String>,
}

/// A ticket and a code from the user's current token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CurrentCodeRequest {
    /// The ticket of the previous step.
    ticket: String,
    /// A code from the user's current token.
    #[schema(example = "123456")]
    code: String,
}

/// A ticket alone.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoTokenRequest {
    /// The ticket of the previous step.
    ticket: String,
}

/// The new token and the approval password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewTokenRequest {
    /// The ticket of the previous step.
    ticket: String,
    /// The new token's serial (12 half-width letters and digits).
    #[schema(example = "SH0000000003")]
    serial: String,
    /// A code from the new token.
    #[schema(example = "123456")]
    code: String,
    /// The administrator's approval password.
    password: String,
}

secret_fields!(CurrentCodeRequest, code);
secret_fields!(NoTokenRequest, ticket);

// A ticket is a bearer credential for the flow's next step: `Debug` never
// shows it.
impl core::fmt::Debug for TicketAnswer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TicketAnswer")
            .field("next", &self.next)
            .field("user", &self.user)
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}
secret_fields!(NewTokenRequest, code, password);

/// The switch is done: the new token is valid from now.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Switched {
    /// `switched`.
    #[schema(example = "switched")]
    result: String,
    /// `exchange` or `registration`.
    #[schema(example = "exchange")]
    flow: String,
    /// Whose token changed.
    #[schema(example = "W0002")]
    user: String,
    /// The token valid from now, masked.
    #[schema(example = "●●●●●●●●0003")]
    serial: String,
    /// The revoked token, masked (`null` for a registration).
    old_serial: Option<String>,
    /// When the switch took effect (Unix seconds).
    at: u64,
    /// "The registered token is valid from now." in Japanese and English.
    messages: Messages,
}

/// The answer of a switch done.
pub(super) fn switched(flow: Flow, done: &otp_exchange::Exchanged) -> Switched {
    Switched {
        result: "switched".to_owned(),
        flow: match flow {
            Flow::Exchange => "exchange",
            Flow::Registration => "registration",
        }
        .to_owned(),
        user: done.user.as_str().to_owned(),
        serial: done.new_serial.masked().to_string(),
        old_serial: done.old_serial.map(|s| s.masked().to_string()),
        at: done.at,
        messages: messages(
            "利用形態とトークンを登録しました。登録したトークンは、ただいまから有効となります。",
            "The usage mode and token have been registered. The registered token is valid from now.",
        ),
    }
}

fn parked(ticket: &Ticket, next: Next, user: &UserId, serial: Option<String>) -> TicketAnswer {
    TicketAnswer {
        ticket: ticket.as_str().to_owned(),
        next,
        user: user.as_str().to_owned(),
        serial,
    }
}

/// Begins an exchange for a user with a registered token (screens 1–3).
#[utoipa::path(
    post,
    path = "/api/v1/exchanges",
    tag = "admin",
    operation_id = "begin_exchange",
    security(("api_key" = [])),
    params(("OTP-Admin-Session" = String, Header, description = "The admin session.")),
    request_body = BeginRequest,
    responses(
        (status = 200, description = "Begun: the ticket for the current token's code.", body = TicketAnswer),
        (status = 400, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`, `admin_session_required`, `admin_session_invalid`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden_scope`, `not_administrator`, `own_id`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`unknown_user`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "`no_token_registered`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`malformed_user_id`, `malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 423, description = "`operator_locked`, `user_locked`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "`store_unavailable`.", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn begin<S: Store + 'static>(
    admin: Admin,
    State(state): State<ApiState<S>>,
    ApiJson(body): ApiJson<BeginRequest>,
) -> Result<Json<TicketAnswer>, Problem> {
    let target = user_id(&body.user)?;
    let who = target.clone();
    let (ticket, old) = state
        .blocking(move |bank| {
            let state = bank.begin_exchange(&admin.operator, &who)?;
            let old = state.old_serial();
            Ok::<_, Refusal>((state.into_ticket(bank)?, old))
        })
        .await?
        .map_err(|r| Problem::from_refusal(&r))?;
    Ok(Json(parked(
        &ticket,
        Next::CurrentCode,
        &target,
        old.map(|s| s.masked().to_string()),
    )))
}

/// Begins a registration for a user without a token (screens 1–3).
#[utoipa::path(
    post,
    path = "/api/v1/registrations",
    tag = "admin",
    operation_id = "begin_registration",
    security(("api_key" = [])),
    params(("OTP-Admin-Session" = String, Header, description = "The admin session.")),
    request_body = BeginRequest,
    responses(
        (status = 200, description = "Begun: the ticket for the new token.", body = TicketAnswer),
        (status = 400, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`, `admin_session_required`, `admin_session_invalid`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden_scope`, `not_administrator`, `own_id`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`unknown_user`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "`already_registered`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`malformed_user_id`, `malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 423, description = "`operator_locked`, `user_locked`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "`store_unavailable`.", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn register<S: Store + 'static>(
    admin: Admin,
    State(state): State<ApiState<S>>,
    ApiJson(body): ApiJson<BeginRequest>,
) -> Result<Json<TicketAnswer>, Problem> {
    let target = user_id(&body.user)?;
    let who = target.clone();
    let ticket = state
        .blocking(move |bank| {
            bank.begin_registration(&admin.operator, &who)?
                .into_ticket(bank)
        })
        .await?
        .map_err(|r| Problem::from_refusal(&r))?;
    Ok(Json(parked(&ticket, Next::NewToken, &target, None)))
}

/// A code from the user's current token (screen 4).
#[utoipa::path(
    post,
    path = "/api/v1/exchanges/current-code",
    tag = "admin",
    operation_id = "exchange_current_code",
    security(("api_key" = [])),
    params(("OTP-Admin-Session" = String, Header, description = "The admin session.")),
    request_body = CurrentCodeRequest,
    responses(
        (status = 200, description = "Verified: the ticket for the new token.", body = TicketAnswer),
        (status = 400, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`, `admin_session_required`, `admin_session_invalid`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden_scope`, `not_administrator`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`unknown_user`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "`session_used`, `conflict`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 410, description = "`session_expired`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`wrong_code_current`, `replayed_code_current`, `malformed_code_current` (with a new `ticket` to try again from), `malformed_request`; `session_invalid` (a ticket tampered with, of another administrator or of another step).", body = ProblemBody, content_type = "application/problem+json"),
        (status = 423, description = "`operator_locked`, `user_locked`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "`store_unavailable`.", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn current_code<S: Store + 'static>(
    admin: Admin,
    State(state): State<ApiState<S>>,
    ApiJson(body): ApiJson<CurrentCodeRequest>,
) -> Result<Json<TicketAnswer>, Problem> {
    let ticket = Ticket::from_text(&body.ticket);
    let code = Zeroizing::new(body.code.clone());
    drop(body);
    let limiter = Arc::clone(&state.user_limit);
    state
        .blocking(move |bank| {
            let Pending::ExpectCurrentCode(step) = bank
                .resume(&admin.operator, &ticket)
                .map_err(|r| refused(&r, None))?
            else {
                return Err(refused(&Refusal::SessionInvalid, None));
            };
            let (_, target) = step.parties();
            let target = target.clone();
            // The per-target-ID rate, as for `validate`: checked once the
            // ticket names the target, before the code is evaluated; the
            // flow goes on from the ticket answered with the 429.
            if let Err(seconds) = limiter.check(target.as_str(), Instant::now()) {
                let again = step.into_ticket(bank).map_err(|r| refused(&r, None))?;
                return Err(Problem::rate_limited(seconds).with_ticket(again.as_str()));
            }
            let old = step.old_serial().map(|s| s.masked().to_string());
            match step.submit_code(bank, &code) {
                Ok(next) => {
                    let ticket = next.into_ticket(bank).map_err(|r| refused(&r, None))?;
                    Ok(Json(parked(&ticket, Next::NewToken, &target, old)))
                }
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

/// The user has no current token (lost, broken): the exchange needs the
/// branch (`branch_required`, with its instructions).
#[utoipa::path(
    post,
    path = "/api/v1/exchanges/no-token",
    tag = "admin",
    operation_id = "exchange_no_token",
    security(("api_key" = [])),
    params(("OTP-Admin-Session" = String, Header, description = "The admin session.")),
    request_body = NoTokenRequest,
    responses(
        (status = 400, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`, `admin_session_required`, `admin_session_invalid`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden_scope`, `not_administrator`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`unknown_user`: the administrator is gone.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "`branch_required` (always, when the ticket is good: its messages tell the user to apply in writing at the branch), `session_used`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 410, description = "`session_expired`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`malformed_request`; `session_invalid`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 423, description = "`operator_locked`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "`store_unavailable`.", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn no_token<S: Store + 'static>(
    admin: Admin,
    State(state): State<ApiState<S>>,
    ApiJson(body): ApiJson<NoTokenRequest>,
) -> Problem {
    let ticket = Ticket::from_text(&body.ticket);
    let answer = state
        .blocking(move |bank| match bank.resume(&admin.operator, &ticket) {
            Ok(Pending::ExpectCurrentCode(step)) => step.no_current_token(bank),
            Ok(Pending::ExpectNewToken(_)) => Refusal::SessionInvalid,
            Err(r) => r,
        })
        .await;
    match answer {
        Ok(refusal) => Problem::from_refusal(&refusal),
        Err(problem) => problem,
    }
}

/// The new token's serial and code and the approval password (screen 5
/// and "Confirm"): the switch, once.
#[utoipa::path(
    post,
    path = "/api/v1/exchanges/new-token",
    tag = "admin",
    operation_id = "exchange_new_token",
    security(("api_key" = [])),
    params(("OTP-Admin-Session" = String, Header, description = "The admin session.")),
    request_body = NewTokenRequest,
    responses(
        (status = 200, description = "Switched: the new token is valid from now, the old one no longer.", body = Switched),
        (status = 400, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`, `admin_session_required`, `admin_session_invalid`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden_scope`, `not_administrator`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`unknown_user`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "`session_used` (this ticket was used: the same request sent twice commits once), `conflict`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 410, description = "`session_expired`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`malformed_serial`, `unknown_serial`, `serial_assigned`, `serial_revoked`, `wrong_code_new`, `malformed_code_new`, `wrong_password` (each with a new `ticket` to try again from), `no_password_registered`, `malformed_request`; `session_invalid`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 423, description = "`operator_locked`, `user_locked`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "`store_unavailable`.", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn new_token<S: Store + 'static>(
    admin: Admin,
    State(state): State<ApiState<S>>,
    ApiJson(body): ApiJson<NewTokenRequest>,
) -> Result<Json<Switched>, Problem> {
    let ticket = Ticket::from_text(&body.ticket);
    let serial = body.serial.clone();
    let code = Zeroizing::new(body.code.clone());
    let password = Password::new(&body.password);
    drop(body);
    let limiter = Arc::clone(&state.user_limit);
    state
        .blocking(move |bank| {
            let Pending::ExpectNewToken(step) = bank
                .resume(&admin.operator, &ticket)
                .map_err(|r| refused(&r, None))?
            else {
                return Err(refused(&Refusal::SessionInvalid, None));
            };
            let flow = step.flow();
            let (_, target) = step.parties();
            if let Err(seconds) = limiter.check(target.as_str(), Instant::now()) {
                let again = step.into_ticket(bank).map_err(|r| refused(&r, None))?;
                return Err(Problem::rate_limited(seconds).with_ticket(again.as_str()));
            }
            match step.confirm(bank, &serial, &code, &password) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_ticket() {
        let answer = TicketAnswer {
            ticket: "t3.SECRET-TICKET".to_owned(),
            next: Next::NewToken,
            user: "W0002".to_owned(),
            serial: None,
        };
        let request: NoTokenRequest =
            serde_json::from_str(r#"{"ticket": "t3.SECRET-TICKET"}"#).unwrap();
        let current: CurrentCodeRequest =
            serde_json::from_str(r#"{"ticket": "t3.SECRET-TICKET", "code": "821135"}"#).unwrap();
        for shown in [
            format!("{answer:?}"),
            format!("{request:?}"),
            format!("{current:?}"),
        ] {
            assert!(!shown.contains("SECRET-TICKET"), "{shown}");
            assert!(!shown.contains("821135"), "{shown}");
        }
    }
}
