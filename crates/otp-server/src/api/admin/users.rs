//! The users: the selection list, one user's token info, unregistration,
//! ID lock and unlock, and the usage mode (利用形態設定).

use axum::Json;
use axum::extract::State;
use otp_exchange::{Authority, Password, Refusal, Store, UsageMode, UserRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use zeroize::Zeroizing;

use super::super::{ApiJson, ApiPath, ApiQuery, ApiState, Messages, Problem, ProblemBody};
use super::{Admin, Outcome, messages, user_id};

/// Rows per page of `GET /api/v1/users` unless `per_page` says otherwise.
const DEFAULT_PER_PAGE: usize = 20;
/// The most rows a page holds.
const MAX_PER_PAGE: usize = 100;

/// A user's OTP usage mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Mode {
    /// A hardware token (ハードウェアトークン).
    HardwareToken,
    /// An authenticator app (ソフトウェアトークン).
    SoftwareToken,
    /// No one-time password (利用しない).
    NotUsed,
}

impl From<UsageMode> for Mode {
    fn from(mode: UsageMode) -> Self {
        match mode {
            UsageMode::SoftwareToken => Self::SoftwareToken,
            UsageMode::NotUsed => Self::NotUsed,
            _ => Self::HardwareToken,
        }
    }
}

impl From<Mode> for UsageMode {
    fn from(mode: Mode) -> Self {
        match mode {
            Mode::HardwareToken => Self::HardwareToken,
            Mode::SoftwareToken => Self::SoftwareToken,
            Mode::NotUsed => Self::NotUsed,
        }
    }
}

/// A token's registration status.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    /// 登録完了: a token is registered.
    Registered,
    /// 未登録: none.
    Unregistered,
}

/// One user as the selection screen shows them.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserSummary {
    /// Customer ID.
    #[schema(example = "W0002")]
    id: String,
    /// Name.
    name: String,
    /// Whether the user is an administrator.
    administrator: bool,
    /// The registered token's serial, masked (`null` without one).
    #[schema(example = "●●●●●●●●0002")]
    serial: Option<String>,
    /// Registration status.
    status: Status,
    /// The OTP usage mode.
    usage_mode: Mode,
    /// Whether the ID is locked.
    locked: bool,
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserPage {
    /// The users of this page, in ID order.
    users: Vec<UserSummary>,
    /// This page (from 1).
    page: usize,
    /// Rows per page.
    per_page: usize,
    /// 1-based position of the first row (0 when the page is empty).
    first: usize,
    /// 1-based position of the last row (0 when the page is empty).
    last: usize,
    /// All users.
    total: usize,
}

/// `page` and `per_page`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    /// The page, from 1 (default 1).
    #[param(minimum = 1, maximum = 1_000_000)]
    page: Option<usize>,
    /// Rows per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<usize>,
}

/// The selection list (選択): every user, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "admin",
    operation_id = "list_users",
    security(("api_key" = [])),
    params(PageQuery, ("OTP-Admin-Session" = String, Header, description = "The admin session from `POST /api/v1/admin/sign-in`.")),
    responses(
        (status = 200, description = "A page of users.", body = UserPage),
        (status = 400, description = "`malformed_request`: a query it cannot read or a page out of range.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`, `admin_session_required`, `admin_session_invalid`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden_scope`, `not_administrator`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`unknown_user`: the administrator is gone.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 423, description = "`operator_locked`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "`store_unavailable`.", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list<S: Store + 'static>(
    admin: Admin,
    State(state): State<ApiState<S>>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<UserPage>, Problem> {
    let page = query.page.unwrap_or(1);
    let per_page = query.per_page.unwrap_or(DEFAULT_PER_PAGE);
    if page == 0 || page > 1_000_000 || per_page == 0 || per_page > MAX_PER_PAGE {
        return Err(Problem::malformed(
            axum::http::StatusCode::BAD_REQUEST,
            "`page` must be at least 1 and `per_page` between 1 and 100.",
        ));
    }
    let list = state
        .blocking(move |bank| bank.user_list(&admin.operator, page - 1, per_page))
        .await?
        .map_err(|r| Problem::from_refusal(&r))?;
    Ok(Json(UserPage {
        users: list
            .rows
            .into_iter()
            .map(|row| UserSummary {
                id: row.id.as_str().to_owned(),
                name: row.name,
                administrator: row.authority == Authority::Administrator,
                serial: row.serial.map(|s| s.to_string()),
                status: if row.registered {
                    Status::Registered
                } else {
                    Status::Unregistered
                },
                usage_mode: row.usage_mode.into(),
                locked: row.locked,
            })
            .collect(),
        page,
        per_page,
        first: list.first,
        last: list.last,
        total: list.total,
    }))
}

/// One user's token info (screen 3).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserInfo {
    /// Customer ID.
    #[schema(example = "W0002")]
    id: String,
    /// Name.
    name: String,
    /// Whether the user is an administrator.
    administrator: bool,
    /// The registered token's serial, masked (`null` without one).
    #[schema(example = "●●●●●●●●0002")]
    serial: Option<String>,
    /// Registration status.
    status: Status,
    /// The OTP usage mode.
    usage_mode: Mode,
    /// Whether the ID is locked.
    locked: bool,
    /// The user's last sign-in or validated login (Unix seconds), if any.
    last_login: Option<u64>,
}

fn info_of(u: UserRecord) -> UserInfo {
    UserInfo {
        id: u.id.as_str().to_owned(),
        name: u.name,
        administrator: u.authority == Authority::Administrator,
        serial: u.token.map(|s| s.masked().to_string()),
        status: if u.token.is_some() {
            Status::Registered
        } else {
            Status::Unregistered
        },
        usage_mode: u.usage_mode.into(),
        locked: u.lock.locked,
        last_login: u.last_login,
    }
}

/// One user's token info.
#[utoipa::path(
    get,
    path = "/api/v1/users/{id}",
    tag = "admin",
    operation_id = "get_user",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "Customer ID."), ("OTP-Admin-Session" = String, Header, description = "The admin session.")),
    responses(
        (status = 200, description = "The user's token info (serial masked).", body = UserInfo),
        (status = 400, description = "`malformed_request`: a path it cannot read.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`, `admin_session_required`, `admin_session_invalid`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden_scope`, `not_administrator`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`unknown_user`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`malformed_user_id`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 423, description = "`operator_locked`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "`store_unavailable`.", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn info<S: Store + 'static>(
    admin: Admin,
    State(state): State<ApiState<S>>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<UserInfo>, Problem> {
    let target = user_id(&id)?;
    let user = state
        .blocking(move |bank| {
            bank.check_administrator(&admin.operator)?;
            bank.records().user(&target)?.ok_or(Refusal::UnknownUser)
        })
        .await?
        .map_err(|r| Problem::from_refusal(&r))?;
    Ok(Json(info_of(user)))
}

/// The approval password alone.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordOnly {
    /// The administrator's approval password (or per-transfer
    /// confirmation password when they have no approval password).
    password: String,
}

impl PasswordOnly {
    /// The password typed.
    pub(super) fn password(&self) -> &str {
        &self.password
    }
}

/// A code from the user's current token and the approval password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CodeAndPassword {
    /// A code from the user's registered token.
    #[schema(example = "123456")]
    code: String,
    /// The administrator's approval password.
    password: String,
}

/// A usage mode and the approval password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ModeRequest {
    /// The mode to set (`software_token` is set by enrolment, never here:
    /// refused `software_token_enrollment_required`).
    mode: Mode,
    /// The administrator's approval password.
    password: String,
}

macro_rules! secret_fields {
    ($t:ty, $($f:ident),+) => {
        impl core::fmt::Debug for $t {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct(stringify!($t)).finish_non_exhaustive()
            }
        }
        impl Drop for $t {
            fn drop(&mut self) {
                $(zeroize::Zeroize::zeroize(&mut self.$f);)+
            }
        }
    };
}
pub(super) use secret_fields;

secret_fields!(PasswordOnly, password);
secret_fields!(CodeAndPassword, code, password);
secret_fields!(ModeRequest, password);

/// An operation done.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Done {
    /// `done`.
    result: Outcome,
    /// Whose ID it was.
    #[schema(example = "W0002")]
    user: String,
    /// What was done, in Japanese and English.
    messages: Messages,
}

/// Unregisters a user's token (登録解除).
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/unregister",
    tag = "admin",
    operation_id = "unregister_token",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "Customer ID."), ("OTP-Admin-Session" = String, Header, description = "The admin session.")),
    request_body = CodeAndPassword,
    responses(
        (status = 200, description = "Unregistered: the token is refused from now.", body = Done),
        (status = 400, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`, `admin_session_required`, `admin_session_invalid`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden_scope`, `not_administrator`, `own_id`, `unregister_forbidden`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`unknown_user`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "`no_token_registered`, `conflict`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`wrong_code_current`, `replayed_code_current`, `malformed_code_current`, `wrong_password`, `no_password_registered`, `malformed_user_id`, `malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 423, description = "`operator_locked`, `user_locked`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "`store_unavailable`.", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn unregister<S: Store + 'static>(
    admin: Admin,
    State(state): State<ApiState<S>>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<CodeAndPassword>,
) -> Result<Json<Done>, Problem> {
    let target = user_id(&id)?;
    super::limit_user(&state, &target)?;
    let password = Password::new(&body.password);
    let code = Zeroizing::new(body.code.clone());
    drop(body);
    let who = target.clone();
    state
        .blocking(move |bank| bank.unregister(&admin.operator, &who, &code, &password))
        .await?
        .map_err(|r| Problem::from_refusal(&r))?;
    Ok(Json(Done {
        result: Outcome::Done,
        user: target.as_str().to_owned(),
        messages: messages(
            "トークンの登録を解除しました。",
            "The token was unregistered; it is refused from now.",
        ),
    }))
}

/// Locks a user's ID (IDロック).
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/lock",
    tag = "admin",
    operation_id = "lock_user",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "Customer ID."), ("OTP-Admin-Session" = String, Header, description = "The admin session.")),
    responses(
        (status = 200, description = "Locked.", body = Done),
        (status = 400, description = "`malformed_request`: a path it cannot read.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`, `admin_session_required`, `admin_session_invalid`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden_scope`, `not_administrator`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`unknown_user`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`malformed_user_id`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 423, description = "`operator_locked`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "`store_unavailable`.", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn lock<S: Store + 'static>(
    admin: Admin,
    State(state): State<ApiState<S>>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Done>, Problem> {
    let target = user_id(&id)?;
    let who = target.clone();
    state
        .blocking(move |bank| bank.lock(&admin.operator, &who))
        .await?
        .map_err(|r| Problem::from_refusal(&r))?;
    Ok(Json(Done {
        result: Outcome::Done,
        user: target.as_str().to_owned(),
        messages: messages("IDをロックしました。", "The ID was locked."),
    }))
}

/// Unlocks a general user's ID (IDロック解除).
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/unlock",
    tag = "admin",
    operation_id = "unlock_user",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "Customer ID."), ("OTP-Admin-Session" = String, Header, description = "The admin session.")),
    request_body = PasswordOnly,
    responses(
        (status = 200, description = "Unlocked.", body = Done),
        (status = 400, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`, `admin_session_required`, `admin_session_invalid`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden_scope`, `not_administrator`, `own_id`, `branch_unlock_required`, `unlock_limit`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`unknown_user`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`wrong_password`, `no_password_registered`, `malformed_user_id`, `malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 423, description = "`operator_locked`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "`store_unavailable`.", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn unlock<S: Store + 'static>(
    admin: Admin,
    State(state): State<ApiState<S>>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<PasswordOnly>,
) -> Result<Json<Done>, Problem> {
    let target = user_id(&id)?;
    let password = Password::new(&body.password);
    drop(body);
    let who = target.clone();
    state
        .blocking(move |bank| bank.unlock(&admin.operator, &who, &password))
        .await?
        .map_err(|r| Problem::from_refusal(&r))?;
    Ok(Json(Done {
        result: Outcome::Done,
        user: target.as_str().to_owned(),
        messages: messages("IDロックを解除しました。", "The ID was unlocked."),
    }))
}

/// A usage mode set.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ModeSet {
    /// Whose mode changed.
    #[schema(example = "W0002")]
    user: String,
    /// The mode before.
    previous: Mode,
    /// The mode from now.
    mode: Mode,
    /// The token revoked with the change (setting `not_used` for a user
    /// who had one), masked; `null` otherwise.
    revoked_serial: Option<String>,
    /// When the change took effect (Unix seconds).
    at: u64,
    /// What was done, in Japanese and English.
    messages: Messages,
}

/// Sets a user's OTP usage mode (利用形態設定).
#[utoipa::path(
    put,
    path = "/api/v1/users/{id}/usage-mode",
    tag = "admin",
    operation_id = "set_usage_mode",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "Customer ID."), ("OTP-Admin-Session" = String, Header, description = "The admin session.")),
    request_body = ModeRequest,
    responses(
        (status = 200, description = "The mode is set.", body = ModeSet),
        (status = 400, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`, `admin_session_required`, `admin_session_invalid`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden_scope`, `not_administrator`, `own_id`, `software_token_enrollment_required`, `not_used_forbidden`, `not_used_administrator`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`unknown_user`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 415, description = "`malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`wrong_password`, `no_password_registered`, `malformed_user_id`, `malformed_request`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 423, description = "`operator_locked`, `user_locked`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "`store_unavailable`.", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn usage_mode<S: Store + 'static>(
    admin: Admin,
    State(state): State<ApiState<S>>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ModeRequest>,
) -> Result<Json<ModeSet>, Problem> {
    let target = user_id(&id)?;
    let password = Password::new(&body.password);
    let mode = body.mode;
    drop(body);
    let set = state
        .blocking(move |bank| bank.set_usage_mode(&admin.operator, &target, mode.into(), &password))
        .await?
        .map_err(|r| Problem::from_refusal(&r))?;
    Ok(Json(ModeSet {
        user: set.user.as_str().to_owned(),
        previous: set.previous.into(),
        mode: set.mode.into(),
        revoked_serial: set.revoked.map(|s| s.masked().to_string()),
        at: set.at,
        messages: messages("利用形態を設定しました。", "The usage mode was set."),
    }))
}
