//! The usage history (利用履歴照会): one user ID's audit records in a
//! date range of the bank's zone, newest first, through
//! `Bank::audit_trail` (which verifies the whole chain first). Serials are
//! masked in the records themselves.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use otp_exchange::{AuditResult, Lang, Store};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::super::{ApiQuery, ApiState, Problem, ProblemBody};
use super::{Admin, user_id};
use crate::HISTORY_PER_PAGE;
use crate::dates::{self, DateError};

/// `user`, `from`, `to`, `page`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct HistoryQuery {
    /// Whose history (customer ID).
    #[param(example = "W0002")]
    user: String,
    /// The first day, `YYYY-MM-DD` in the bank's zone (open when absent).
    #[param(example = "2020-10-01", format = Date)]
    from: Option<String>,
    /// The last day, `YYYY-MM-DD` (open when absent).
    #[param(example = "2020-10-31", format = Date)]
    to: Option<String>,
    /// The page, from 1 (default 1), 20 records a page.
    #[param(minimum = 1, maximum = 1_000_000)]
    page: Option<usize>,
}

/// One record of the history.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HistoryRow {
    /// When (Unix seconds).
    at: u64,
    /// When, `YYYY-MM-DD hh:mm:ss` in the bank's zone.
    #[schema(example = "2020-10-01 11:00:00")]
    time: String,
    /// What was attempted: the stable name (`Exchange`, `Login`, ...).
    #[schema(example = "Exchange")]
    action: String,
    /// The action in the bank's Japanese words.
    #[schema(example = "トークン交換")]
    action_ja: String,
    /// Who did it.
    #[schema(example = "W0001")]
    operator: String,
    /// `ok` or `refused`.
    #[schema(example = "ok")]
    result: String,
    /// The refusal's reason code (`null` when done).
    reason: Option<String>,
    /// The old token's serial, masked.
    old_serial: Option<String>,
    /// The new token's serial, masked.
    new_serial: Option<String>,
}

/// A page of the history.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HistoryPage {
    /// Whose history.
    #[schema(example = "W0002")]
    user: String,
    /// The records of this page, newest first.
    records: Vec<HistoryRow>,
    /// This page (from 1).
    page: usize,
    /// Records per page.
    per_page: usize,
    /// All records in the range.
    total: usize,
}

/// A user ID's usage history.
#[utoipa::path(
    get,
    path = "/api/v1/history",
    tag = "admin",
    operation_id = "usage_history",
    security(("api_key" = [])),
    params(HistoryQuery, ("OTP-Admin-Session" = String, Header, description = "The admin session.")),
    responses(
        (status = 200, description = "A page of the user's history (serials masked).", body = HistoryPage),
        (status = 400, description = "`malformed_request`: a query it cannot read, a page out of range.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`, `admin_session_required`, `admin_session_invalid`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden_scope`, `not_administrator`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "`unknown_user`: the administrator is gone.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`malformed_user_id`; `malformed_request`: a date that is not a real day (`YYYY-MM-DD`, 1970 or later), an end before the start.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 423, description = "`operator_locked`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`.", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "`store_unavailable` (also when the audit chain does not verify).", body = ProblemBody, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn history<S: Store + 'static>(
    admin: Admin,
    State(state): State<ApiState<S>>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<HistoryPage>, Problem> {
    let target = user_id(&query.user)?;
    let page = query.page.unwrap_or(1);
    if page == 0 || page > 1_000_000 {
        return Err(Problem::malformed(
            StatusCode::BAD_REQUEST,
            "`page` must be at least 1.",
        ));
    }
    let offset = state.bank.policy().utc_offset_seconds;
    let (start, end) = dates::range(
        query.from.as_deref().unwrap_or(""),
        query.to.as_deref().unwrap_or(""),
        offset,
    )
    // A date is read by its value, not its syntax alone (a real day, 1970
    // or later; the end not before the start): 422 like any value the
    // operation cannot use.
    .map_err(|e| {
        Problem::malformed(
            StatusCode::UNPROCESSABLE_ENTITY,
            match e {
                DateError::MalformedFrom => "`from` must be a date, YYYY-MM-DD.",
                DateError::MalformedTo => "`to` must be a date, YYYY-MM-DD.",
                DateError::EndBeforeStart => "`to` is before `from`.",
            },
        )
    })?;
    let who = target.clone();
    let trail = state
        .blocking(move |bank| bank.audit_trail(&admin.operator, &who, start, end))
        .await?
        .map_err(|r| Problem::from_refusal(&r))?;
    let total = trail.len();
    let skip = (page - 1).saturating_mul(HISTORY_PER_PAGE);
    let records = trail
        .into_iter()
        .rev()
        .skip(skip)
        .take(HISTORY_PER_PAGE)
        .map(|r| {
            let e = r.entry;
            HistoryRow {
                at: e.at,
                time: dates::show(e.at, offset),
                action: e.action.label(Lang::En).to_owned(),
                action_ja: e.action.label(Lang::Ja).to_owned(),
                operator: e.operator,
                result: match e.result {
                    AuditResult::Ok => "ok",
                    AuditResult::Refused => "refused",
                }
                .to_owned(),
                reason: e.reason,
                old_serial: e.old_serial,
                new_serial: e.new_serial,
            }
        })
        .collect();
    Ok(Json(HistoryPage {
        user: target.as_str().to_owned(),
        records,
        page,
        per_page: HISTORY_PER_PAGE,
        total,
    }))
}
