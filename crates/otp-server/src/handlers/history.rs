//! 利用履歴照会: one user ID's audit trail in a JST date range, newest
//! first, [`HISTORY_PER_PAGE`] a page, through `Bank::audit_trail` (an
//! administrator's call; it verifies the whole chain first).

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use otp_exchange::{AuditRecord, AuditResult, Lang, Refusal, Store, UserId};

use super::{Params, blocking, error, internal, language, page, signed_in};
use crate::dates::{self, DateError};
use crate::pages::{self, HistoryRow, t};
use crate::{AppState, HISTORY_PER_PAGE};

/// A record as a row of the history: time in the bank's zone, the
/// action and the refusal's reason in the bank's words.
pub(super) fn row(lang: Lang, record: &AuditRecord, offset: i64) -> HistoryRow {
    let e = &record.entry;
    let outcome = match (e.result, e.reason.as_deref()) {
        (AuditResult::Ok, _) => t(lang, "done", "正常終了").to_owned(),
        (AuditResult::Refused, reason) => {
            let reason = reason.unwrap_or("-");
            let why = Refusal::reason_label(reason, lang).unwrap_or(reason);
            match lang {
                Lang::Ja => format!("お受けできません（{why}）"),
                Lang::En => format!("refused ({why})"),
            }
        }
    };
    let serials = match (&e.old_serial, &e.new_serial) {
        (None, None) => String::new(),
        (Some(o), None) => o.clone(),
        (o, Some(n)) => format!("{} → {n}", o.as_deref().unwrap_or("-")),
    };
    HistoryRow {
        at: dates::show(e.at, offset),
        action: e.action.label(lang),
        operator: e.operator.clone(),
        target: e.target.as_ref().map_or("-", UserId::as_str).to_owned(),
        outcome,
        serials,
    }
}

fn date_message(lang: Lang, e: DateError) -> &'static str {
    match e {
        DateError::MalformedFrom => t(
            lang,
            "Type the start date as YYYY-MM-DD (for example 2020-10-01).",
            "開始日は YYYY-MM-DD の形式で正しい日付を入力してください（例：2020-10-01）。",
        ),
        DateError::MalformedTo => t(
            lang,
            "Type the end date as YYYY-MM-DD (for example 2020-10-01).",
            "終了日は YYYY-MM-DD の形式で正しい日付を入力してください（例：2020-10-01）。",
        ),
        DateError::EndBeforeStart => t(
            lang,
            "The end date is before the start date.",
            "終了日は開始日以降の日付を入力してください。",
        ),
    }
}

/// `GET /admin/history?id=W0002&from=YYYY-MM-DD&to=YYYY-MM-DD&page=N`.
pub(crate) async fn history<S: Store + 'static>(
    State(state): State<AppState<S>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let (lang, cookies) = language(&headers, &params);
    let cookies = Vec::from_iter(cookies);
    let (shared, user) = match signed_in(&state, &headers, true, lang).await {
        Err(r) => return r,
        Ok(v) => v,
    };
    let csrf = shared.lock().await.csrf.clone();
    let id = params.id.as_deref().unwrap_or("").trim();
    let from = params.from.as_deref().unwrap_or("").trim();
    let to = params.to.as_deref().unwrap_or("").trim();
    let mut view = pages::History {
        id,
        from,
        to,
        rows: None,
        count: String::new(),
        previous: None,
        next: None,
        message: None,
    };
    let show = |view: &pages::History<'_>| {
        page(
            StatusCode::OK,
            pages::history(lang, Some(&user), &csrf, view),
            &cookies,
        )
    };
    if params.id.is_none() {
        return show(&view);
    }
    let Ok(target) = UserId::parse(id) else {
        let message = Refusal::UnknownUser.message(lang);
        view.message = Some(&message);
        return show(&view);
    };
    let offset = state.bank.policy().utc_offset_seconds;
    let (start, end) = match dates::range(from, to, offset) {
        Ok(r) => r,
        Err(e) => {
            view.message = Some(date_message(lang, e));
            return show(&view);
        }
    };
    let operator = user.id.clone();
    let trail = match blocking(&state, lang, move |bank| {
        bank.audit_trail(&operator, &target, start, end)
    })
    .await
    {
        Err(r) => return r,
        Ok(Ok(trail)) => trail,
        Ok(Err(refusal @ Refusal::Internal(_))) => {
            tracing::error!(reason = refusal.reason_code(), "no usage history");
            return internal(lang);
        }
        Ok(Err(refusal)) => {
            return error(lang, StatusCode::FORBIDDEN, &refusal.message(lang));
        }
    };
    let total = trail.len();
    let pages_n = total.div_ceil(HISTORY_PER_PAGE).max(1);
    let page_no = params.page.unwrap_or(0).min(pages_n - 1);
    let rows: Vec<HistoryRow> = trail
        .iter()
        .rev()
        .skip(page_no * HISTORY_PER_PAGE)
        .take(HISTORY_PER_PAGE)
        .map(|r| row(lang, r, offset))
        .collect();
    let first = page_no * HISTORY_PER_PAGE + 1;
    let last = page_no * HISTORY_PER_PAGE + rows.len();
    view.count = match lang {
        Lang::Ja => format!("{first}から{last}件/{total}件"),
        Lang::En => format!("{first} to {last} of {total}"),
    };
    // The ID and the dates were validated: nothing to escape in the link.
    let link = |p: usize| format!("/admin/history?id={id}&from={from}&to={to}&page={p}");
    view.previous = (page_no > 0).then(|| link(page_no - 1));
    view.next = (page_no + 1 < pages_n).then(|| link(page_no + 1));
    view.rows = Some(&rows);
    show(&view)
}
