//! RFC 9457 problem details: every error of the API is one
//! `application/problem+json` body with a stable reason code, an English
//! title and detail, the same sentence in Japanese and English, and the
//! request's id.

use std::borrow::Cow;
use std::fmt;

use axum::body::Body;
use axum::http::{HeaderValue, Response as HttpResponse, StatusCode, header};
use axum::response::{IntoResponse, Response};
use otp_exchange::{Lang, Refusal};
use serde::Serialize;
use utoipa::ToSchema;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The base of every problem's `type` URI: `urn:otp:problem:<reason>`.
pub const PROBLEM_TYPE_BASE: &str = "urn:otp:problem:";

/// A message in both languages the bank's screens speak.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Messages {
    /// Japanese.
    pub ja: String,
    /// English.
    pub en: String,
}

impl Messages {
    /// The refusal's sentence in Japanese and English.
    #[must_use]
    pub fn of(refusal: &Refusal) -> Self {
        Self {
            ja: refusal.message(Lang::Ja),
            en: refusal.message(Lang::En),
        }
    }

    fn fixed(ja: &str, en: &str) -> Self {
        Self {
            ja: ja.to_owned(),
            en: en.to_owned(),
        }
    }
}

/// The body of an error answer (RFC 9457 problem details, with the
/// extension members `reason`, `messages` and `request_id`).
#[derive(Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ProblemBody {
    /// `urn:otp:problem:<reason>`.
    #[serde(rename = "type")]
    #[schema(example = "urn:otp:problem:unauthorized")]
    pub type_uri: String,
    /// The HTTP status's English title.
    #[schema(example = "Unauthorized")]
    pub title: String,
    /// The HTTP status code.
    #[schema(example = 401)]
    pub status: u16,
    /// What happened, in one English sentence.
    pub detail: String,
    /// The stable reason code (see docs/api.md).
    #[schema(example = "unauthorized")]
    pub reason: String,
    /// The sentence in Japanese and English, for a screen to show.
    pub messages: Messages,
    /// The request's id (`x-request-id`), for the bank's logs; `null` when
    /// the request had none.
    pub request_id: Option<String>,
    /// A flow step refused with a retry allowed (a wrong code, serial or
    /// password before the ID locks): the ticket to try again from (the
    /// one sent is used up). Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
}

/// An error answer of the API: status, reason code and messages. Its
/// response is `application/problem+json`; the API router writes the
/// request's id into it.
#[derive(Clone, PartialEq, Eq)]
pub struct Problem {
    status: StatusCode,
    reason: Cow<'static, str>,
    messages: Messages,
    retry_after: Option<u64>,
    bearer_challenge: bool,
    ticket: Option<String>,
}

/// A retry ticket in `Debug` output: whether there is one, never its text
/// (a ticket is a bearer credential for the flow's next step).
fn ticket_shown(ticket: Option<&String>) -> &'static str {
    if ticket.is_some() {
        "Some(<redacted>)"
    } else {
        "None"
    }
}

impl fmt::Debug for ProblemBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProblemBody")
            .field("type_uri", &self.type_uri)
            .field("title", &self.title)
            .field("status", &self.status)
            .field("detail", &self.detail)
            .field("reason", &self.reason)
            .field("messages", &self.messages)
            .field("request_id", &self.request_id)
            .field(
                "ticket",
                &format_args!("{}", ticket_shown(self.ticket.as_ref())),
            )
            .finish()
    }
}

impl fmt::Debug for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Problem")
            .field("status", &self.status)
            .field("reason", &self.reason)
            .field("messages", &self.messages)
            .field("retry_after", &self.retry_after)
            .field("bearer_challenge", &self.bearer_challenge)
            .field(
                "ticket",
                &format_args!("{}", ticket_shown(self.ticket.as_ref())),
            )
            .finish()
    }
}

impl Problem {
    /// A problem with this status, reason code and messages.
    #[must_use]
    pub fn new(status: StatusCode, reason: &'static str, ja: &str, en: &str) -> Self {
        Self {
            status,
            reason: Cow::Borrowed(reason),
            messages: Messages::fixed(ja, en),
            retry_after: None,
            bearer_challenge: false,
            ticket: None,
        }
    }

    /// `401 unauthorized`: the one answer for a missing, malformed,
    /// unknown or revoked API key and a wrong secret (with
    /// `WWW-Authenticate: Bearer`).
    #[must_use]
    pub fn unauthorized() -> Self {
        let mut p = Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "有効なAPIキーが必要です。",
            "A valid API key is required.",
        );
        p.bearer_challenge = true;
        p
    }

    /// `403 forbidden_scope`: the key is valid but its scope does not
    /// allow this operation.
    #[must_use]
    pub fn forbidden_scope() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden_scope",
            "このAPIキーではこの操作を行えません。",
            "This API key's scope does not allow this operation.",
        )
    }

    /// `401 admin_session_required`: an admin operation without an
    /// `OTP-Admin-Session` header.
    #[must_use]
    pub fn admin_session_required() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "admin_session_required",
            "管理者のサインインが必要です。",
            "An administrator's sign-in is required.",
        )
    }

    /// `401 admin_session_invalid`: the admin session is expired, forged,
    /// or from another key.
    #[must_use]
    pub fn admin_session_invalid() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "admin_session_invalid",
            "管理者のサインインが無効です。もう一度サインインしてください。",
            "The administrator's sign-in is not valid. Please sign in again.",
        )
    }

    /// `429 rate_limited` with `Retry-After: seconds` (at least 1).
    #[must_use]
    pub fn rate_limited(retry_after_seconds: u64) -> Self {
        let mut p = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "リクエストが多すぎます。しばらくしてから再度お試しください。",
            "Too many requests. Please try again later.",
        );
        p.retry_after = Some(retry_after_seconds.max(1));
        p
    }

    /// `malformed_request` with `status` (400, 413, 415 or 422): the body
    /// or query could not be read. `en` says what was wrong.
    #[must_use]
    pub fn malformed(status: StatusCode, en: &str) -> Self {
        Self::new(
            status,
            "malformed_request",
            "リクエストの形式が正しくありません。",
            en,
        )
    }

    /// `404 not_found`: no such route under `/api/v1`.
    #[must_use]
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "指定されたAPIはありません。",
            "There is no such API operation.",
        )
    }

    /// `405 method_not_allowed`: the route exists, not with this method.
    #[must_use]
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "このメソッドは使用できません。",
            "This method is not allowed on this route.",
        )
    }

    /// `503 store_unavailable`: the store could not answer or record; nothing
    /// was accepted (fail closed).
    #[must_use]
    pub fn store_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "システムエラーのため処理できませんでした（変更は行われていません）。しばらくしてから再度お試しください。",
            "The system could not complete the operation (nothing was changed). Please try again later.",
        )
    }

    /// `500 internal_error`: a defect (never expected).
    #[must_use]
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "システムエラーが発生しました。",
            "An internal error occurred.",
        )
    }

    /// `408 request_timeout`: the request took longer than the server allows.
    #[must_use]
    pub fn timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "処理に時間がかかりすぎました。しばらくしてから再度お試しください。",
            "The request took too long. Please try again later.",
        )
    }

    /// The policy's refusal: its [`Refusal::reason_code`], its
    /// [`Refusal::message`]s, and the status of [`refusal_status`];
    /// [`Refusal::Internal`] is `503 store_unavailable` (its detail is
    /// logged, never sent).
    #[must_use]
    pub fn from_refusal(refusal: &Refusal) -> Self {
        if let Refusal::Internal(e) = refusal {
            tracing::error!(error = %e, "the bank could not complete an API call");
            return Self::store_unavailable();
        }
        Self {
            status: refusal_status(refusal),
            reason: Cow::Borrowed(refusal.reason_code()),
            messages: Messages::of(refusal),
            retry_after: None,
            bearer_challenge: false,
            ticket: None,
        }
    }

    /// The same problem carrying the ticket a refused flow step may be
    /// tried again from (the body's `ticket` member).
    #[must_use]
    pub fn with_ticket(mut self, ticket: &str) -> Self {
        self.ticket = Some(ticket.to_owned());
        self
    }

    /// The HTTP status.
    #[must_use]
    pub const fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable reason code.
    #[must_use]
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The body as sent, naming `request_id`.
    #[must_use]
    pub fn body(&self, request_id: Option<&str>) -> ProblemBody {
        ProblemBody {
            type_uri: format!("{PROBLEM_TYPE_BASE}{}", self.reason),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.messages.en.clone(),
            reason: self.reason.to_string(),
            messages: self.messages.clone(),
            request_id: request_id.map(str::to_owned),
            ticket: self.ticket.clone(),
        }
    }

    /// The response, naming `request_id` in the body.
    pub(crate) fn response_with_id(&self, request_id: Option<&str>) -> Response {
        let body = serde_json::to_vec(&self.body(request_id)).unwrap_or_default();
        let mut response = HttpResponse::new(Body::from(body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.bearer_challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"otp\""),
            );
        }
        response.extensions_mut().insert(self.clone());
        response
    }
}

impl From<&Refusal> for Problem {
    fn from(refusal: &Refusal) -> Self {
        Self::from_refusal(refusal)
    }
}

impl From<Refusal> for Problem {
    fn from(refusal: Refusal) -> Self {
        Self::from_refusal(&refusal)
    }
}

impl IntoResponse for Problem {
    /// The problem without a request id; the API router's middleware
    /// writes the request's id in (it finds the problem in the response's
    /// extensions).
    fn into_response(self) -> Response {
        self.response_with_id(None)
    }
}

/// The HTTP status of a policy refusal in the API (docs/api.md has the
/// table): malformed input, wrong codes, passwords and serials, and
/// tickets that do not open 422; an unknown user 404; what the operator
/// may not do 403; locks 423; state conflicts 409; expired tickets 410,
/// used ones 409; [`Refusal::Internal`] 503.
#[must_use]
pub fn refusal_status(refusal: &Refusal) -> StatusCode {
    match refusal {
        Refusal::NotAdministrator
        | Refusal::OwnId
        | Refusal::UnregisterForbidden
        | Refusal::BranchUnlockRequired
        | Refusal::UnlockLimit
        | Refusal::NotUsedForbidden
        | Refusal::NotUsedForAdministrator
        | Refusal::SoftwareTokenByEnrollment => StatusCode::FORBIDDEN,
        Refusal::UnknownUser => StatusCode::NOT_FOUND,
        Refusal::OperatorLocked | Refusal::UserLocked => StatusCode::LOCKED,
        Refusal::NoTokenRegistered
        | Refusal::AlreadyRegistered
        | Refusal::BranchRequired
        | Refusal::Conflict
        | Refusal::SessionUsed => StatusCode::CONFLICT,
        Refusal::SessionExpired => StatusCode::GONE,
        Refusal::Internal(_) => StatusCode::SERVICE_UNAVAILABLE,
        // Malformed IDs, codes and serials; wrong codes, passwords and
        // serials; a failed login; a weak password; and any refusal a
        // later policy adds.
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn debug_shows_no_ticket() {
        let problem = super::Problem::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "wrong_password",
            "違います。",
            "Wrong.",
        )
        .with_ticket("t3.SECRET-TICKET-TEXT");
        let shown = format!("{problem:?}");
        assert!(!shown.contains("SECRET-TICKET-TEXT"), "{shown}");
        assert!(shown.contains("ticket: Some(<redacted>)"), "{shown}");
        let body = problem.body(None);
        let shown = format!("{body:?}");
        assert!(!shown.contains("SECRET-TICKET-TEXT"), "{shown}");
        assert!(shown.contains("ticket: Some(<redacted>)"), "{shown}");
    }

    use super::*;

    #[test]
    fn a_refusal_keeps_its_reason_code_and_both_messages() {
        let p = Problem::from_refusal(&Refusal::UserLocked);
        let body = p.body(Some("r-1"));
        assert_eq!(body.status, 423);
        assert_eq!(body.reason, "user_locked");
        assert_eq!(body.type_uri, "urn:otp:problem:user_locked");
        assert_eq!(body.title, "Locked");
        assert_eq!(body.messages.ja, Refusal::UserLocked.message(Lang::Ja));
        assert_eq!(body.messages.en, Refusal::UserLocked.message(Lang::En));
        assert_eq!(body.detail, body.messages.en);
        assert_eq!(body.request_id.as_deref(), Some("r-1"));
    }

    #[test]
    fn an_internal_refusal_is_store_unavailable() {
        let p = Problem::from_refusal(&Refusal::Internal(otp_exchange::InternalError::Random));
        assert_eq!(p.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(p.reason(), "store_unavailable");
    }
}
