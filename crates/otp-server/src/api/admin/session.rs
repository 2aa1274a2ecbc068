//! The admin session: `POST /api/v1/admin/sign-in` with an administrator's
//! customer ID, login password and a code from their token
//! ([`otp_exchange::Bank::sign_in`], counted toward their lock and under
//! the replay rule like any sign-in) gives a sealed token, sent back in
//! the [`ADMIN_SESSION_HEADER`] header. It binds the administrator, the
//! API key it was opened through and its issue and expiry times
//! ([`ADMIN_SESSION_TTL`] after issue, absolute), sealed with AES-256-GCM
//! under a key the bank derives from its session key
//! ([`otp_exchange::Bank::seal`]), so every node that shares the key file
//! accepts it and no caller can read or change it.

use axum::extract::State;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use otp_exchange::{Authority, Password, Refusal, Store, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::{Zeroize as _, Zeroizing};

use super::super::{ApiJson, ApiState, Problem, ProblemBody};
use super::key::{AdminKey, key_id};

/// The header that carries the admin session.
pub const ADMIN_SESSION_HEADER: &str = "otp-admin-session";

/// How long an admin session is valid after the sign-in (seconds,
/// absolute: using it does not extend it).
pub const ADMIN_SESSION_TTL: u64 = 600;

/// The label of the bank's derived sealing key for admin sessions.
const LABEL: &str = "otp-server/api/admin-session/v1";

/// The longest header value read (a sealed session is about 200 bytes).
const MAX_SESSION_LEN: usize = 1024;

/// What the sealed session holds.
#[derive(Serialize, Deserialize)]
struct Body {
    v: u8,
    op: UserId,
    key: String,
    iat: u64,
    exp: u64,
}

/// The admin sign-in's body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignInRequest {
    /// The administrator's customer ID.
    #[schema(example = "W0001")]
    operator: String,
    /// Their login password (ログインパスワード).
    #[schema(example = "login-2020")]
    password: String,
    /// A code from their own token (6 to 8 digits).
    #[schema(example = "123456")]
    code: String,
}

impl core::fmt::Debug for SignInRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SignInRequest")
            .field("operator", &self.operator)
            .finish_non_exhaustive()
    }
}

impl Drop for SignInRequest {
    fn drop(&mut self) {
        self.password.zeroize();
        self.code.zeroize();
    }
}

/// An admin session opened.
#[derive(Serialize, ToSchema)]
pub(crate) struct SignedIn {
    /// The opaque sealed session: send it as `OTP-Admin-Session` with the
    /// same API key.
    admin_session: String,
    /// The administrator it acts for.
    #[schema(example = "W0001")]
    operator: String,
    /// When it stops being accepted (Unix seconds).
    expires_at: u64,
}

// The sealed session is a bearer credential: `Debug` never shows it.
impl core::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SignedIn")
            .field("operator", &self.operator)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Opens an admin session for an administrator.
#[utoipa::path(
    post,
    path = "/api/v1/admin/sign-in",
    tag = "admin",
    operation_id = "admin_sign_in",
    security(("api_key" = [])),
    request_body = SignInRequest,
    responses(
        (status = 200, description = "Signed in: the admin session.", body = SignedIn),
        (status = 400, description = "`malformed_request`: not JSON.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`: no valid API key.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden_scope`: the key is not of admin scope; `not_administrator`: the user signed in is not an administrator.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`malformed_request`: the body is too large.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`malformed_request`: not sent as JSON.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`login_failed` (one answer for an unknown ID, a wrong password or code, a replayed code, a locked ID), `malformed_code_current`, `malformed_user_id`, `malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "`store_unavailable`.", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn sign_in<S: Store + 'static>(
    key: AdminKey,
    State(state): State<ApiState<S>>,
    ApiJson(body): ApiJson<SignInRequest>,
) -> Response {
    let operator = match UserId::parse(body.operator.trim()) {
        Ok(id) => id,
        // The same answer as a wrong password: nothing told about IDs.
        Err(_) => return Problem::from_refusal(&Refusal::LoginFailed).into_response(),
    };
    if let Err(problem) = super::limit_user(&state, &operator) {
        return problem.into_response();
    }
    let password = Password::new(&body.password);
    let code = Zeroizing::new(body.code.clone());
    drop(body);
    let who = operator.clone();
    let signed = state
        .blocking(move |bank| {
            bank.sign_in(&who, &password, &code)?;
            // Signed in: only an administrator gets an admin session.
            match bank.records().user(&who)? {
                Some(user) if user.authority == Authority::Administrator => Ok(()),
                _ => Err(Refusal::NotAdministrator),
            }
        })
        .await;
    match signed {
        Err(problem) => return problem.into_response(),
        Ok(Err(refusal)) => return Problem::from_refusal(&refusal).into_response(),
        Ok(Ok(())) => {}
    }
    let now = state.bank.now();
    let session = Body {
        v: 1,
        op: operator.clone(),
        key: key_id(&key).to_owned(),
        iat: now,
        exp: now.saturating_add(ADMIN_SESSION_TTL),
    };
    let sealed = serde_json::to_vec(&session)
        .map_err(|_| Problem::internal())
        .and_then(|json| {
            state
                .bank
                .seal(LABEL, &Zeroizing::new(json))
                .map_err(|r| Problem::from_refusal(&r))
        });
    match sealed {
        Ok(admin_session) => axum::Json(SignedIn {
            admin_session,
            operator: operator.as_str().to_owned(),
            expires_at: session.exp,
        })
        .into_response(),
        Err(problem) => problem.into_response(),
    }
}

/// The administrator of the request's admin session, which must have
/// been opened through `key` and not have expired: `401
/// admin_session_required` without the header, `401
/// admin_session_invalid` for one tampered with, expired, or opened
/// through another key (or by another bank).
pub(crate) async fn check<S: Store + 'static>(
    parts: &Parts,
    state: &ApiState<S>,
    key: &AdminKey,
) -> Result<UserId, Problem> {
    let Some(value) = parts.headers.get(ADMIN_SESSION_HEADER) else {
        return Err(Problem::admin_session_required());
    };
    let text = value
        .to_str()
        .ok()
        .filter(|t| t.len() <= MAX_SESSION_LEN)
        .ok_or_else(Problem::admin_session_invalid)?;
    let json = state
        .bank
        .open_sealed(LABEL, text)
        .map_err(|_| Problem::admin_session_invalid())?;
    let body: Body = serde_json::from_slice(&json).map_err(|_| Problem::admin_session_invalid())?;
    let now = state.bank.now();
    if body.v != 1 || body.key != key_id(key) || now > body.exp || body.iat > now.saturating_add(60)
    {
        return Err(Problem::admin_session_invalid());
    }
    Ok(body.op)
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn debug_shows_no_admin_session() {
        let signed = SignedIn {
            admin_session: "s1.SECRET-SESSION".to_owned(),
            operator: "W0001".to_owned(),
            expires_at: 1_601_517_600,
        };
        let shown = format!("{signed:?}");
        assert!(!shown.contains("SECRET-SESSION"), "{shown}");
        assert!(shown.contains("W0001"), "{shown}");
    }
}
