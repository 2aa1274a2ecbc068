//! Screens 3–6: the exchange, one sealed ticket per step.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use otp_exchange::{Exchanged, Lang, Password, Pending, Refusal, Store, Ticket, UserId};
use zeroize::Zeroize as _;

use super::admin::info_of;
use super::{Fields, Params, blocking, error, language, page, post_session};
use crate::AppState;
use crate::pages;
use crate::session::{SessionData, SignedIn, same_secret};

/// `POST /admin/exchange`: screen 3's 新規登録・交換 → screen 4.
pub(crate) async fn begin<S: Store + 'static>(
    State(state): State<AppState<S>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
    Form(form): Form<Fields>,
) -> Response {
    start(&state, &params, &headers, &form, false).await
}

/// `POST /admin/register`: screen 3's 新規登録 for a user without a token
/// → screen 5 (the new token's serial, code, approval password), which
/// posts to `/admin/exchange/new` like the exchange's.
pub(crate) async fn register<S: Store + 'static>(
    State(state): State<AppState<S>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
    Form(form): Form<Fields>,
) -> Response {
    start(&state, &params, &headers, &form, true).await
}

/// Screen 3's button: the policy's selection (`Bank::begin_exchange` or
/// `Bank::begin_registration`), its state sealed in the session's one
/// ticket; a refusal on screen 3.
async fn start<S: Store + 'static>(
    state: &AppState<S>,
    params: &Params,
    headers: &HeaderMap,
    form: &Fields,
    registration: bool,
) -> Response {
    let (lang, _) = language(headers, params);
    let (mut session, user) = match post_session(state, headers, &form.csrf, lang).await {
        Err(r) => return r,
        Ok(v) => v,
    };
    let Ok(target) = UserId::parse(form.id.trim()) else {
        return error(
            lang,
            StatusCode::NOT_FOUND,
            &Refusal::UnknownUser.message(lang),
        );
    };
    let operator = user.id.clone();
    let result = blocking(state, lang, move |bank| {
        if registration {
            bank.begin_registration(&operator, &target)
                .and_then(|s| s.into_ticket(bank))
        } else {
            bank.begin_exchange(&operator, &target)
                .and_then(|s| s.into_ticket(bank))
        }
    })
    .await;
    match result {
        Err(r) => r,
        Ok(Ok(ticket)) => {
            session.ticket = Some(ticket.as_str().to_owned());
            let csrf = session.csrf.clone();
            let next = if registration {
                pages::new_token(lang, &user, &csrf, Some(ticket.as_str()), "", None)
            } else {
                pages::current_code(lang, &user, &csrf, Some(ticket.as_str()), None)
            };
            page(StatusCode::OK, next, &[])
        }
        Ok(Err(refusal)) => {
            tracing::info!(reason = refusal.reason_code(), "screen 3 refused");
            let csrf = session.csrf.clone();
            drop(session);
            match info_of(state, lang, form.id.trim()).await {
                Err(r) => r,
                Ok(info) => page(
                    StatusCode::OK,
                    pages::token_info(lang, &user, &csrf, &info, Some(&refusal.message(lang))),
                    &[],
                ),
            }
        }
    }
}

/// Which ticket a form brought.
enum Brought {
    /// The one this session holds: taken out of the session.
    Current(Ticket),
    /// The one that finished this session's last exchange (posted again).
    Finished(Exchanged),
    /// Not this session's.
    Foreign,
}

fn take_ticket(session: &mut SessionData, posted: &str) -> Brought {
    if let Some(held) = session.ticket.as_deref()
        && same_secret(held, posted)
    {
        session.ticket = None;
        return Brought::Current(Ticket::from_text(posted));
    }
    match &session.done {
        Some((ticket, exchanged)) if same_secret(ticket, posted) => {
            Brought::Finished(exchanged.clone())
        }
        _ => Brought::Foreign,
    }
}

/// The ticket a last step's form (screen 5, a software token's first
/// code) brought, taken out of the session; or the answer instead: screen 6
/// again for the form that already finished (posted twice), 403 for a
/// ticket this session did not issue.
#[allow(
    clippy::result_large_err,
    reason = "the answer is sent at once, as the async handlers' `Result<_, Response>` are"
)]
pub(super) fn last_step_ticket(
    session: &mut SessionData,
    posted: &str,
    lang: Lang,
    user: &SignedIn,
) -> Result<Ticket, Response> {
    match take_ticket(session, posted) {
        Brought::Current(t) => Ok(t),
        Brought::Finished(done) => Err(page(
            StatusCode::OK,
            pages::done(lang, user, &session.csrf, &done, true),
            &[],
        )),
        Brought::Foreign => Err(foreign_ticket(lang)),
    }
}

pub(super) fn foreign_ticket(lang: Lang) -> Response {
    tracing::warn!("a form brought a ticket this session did not issue");
    error(
        lang,
        StatusCode::FORBIDDEN,
        &Refusal::SessionInvalid.message(lang),
    )
}

/// `POST /admin/exchange/current`: screen 4's code → screen 5, or screen 4
/// again with the refusal.
pub(crate) async fn current<S: Store + 'static>(
    State(state): State<AppState<S>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
    Form(form): Form<Fields>,
) -> Response {
    let (lang, _) = language(&headers, &params);
    let (mut session, user) = match post_session(&state, &headers, &form.csrf, lang).await {
        Err(r) => return r,
        Ok(v) => v,
    };
    let csrf = session.csrf.clone();
    let ticket = match take_ticket(&mut session, &form.ticket) {
        Brought::Current(t) => t,
        Brought::Finished(_) | Brought::Foreign => return foreign_ticket(lang),
    };
    let operator = user.id.clone();
    let code = form.code.clone();
    let outcome = blocking(&state, lang, move |bank| {
        let mut code = code;
        let step = match bank.resume(&operator, &ticket) {
            Ok(Pending::ExpectCurrentCode(s)) => match s.submit_code(bank, &code) {
                Ok(next) => next.into_ticket(bank).map_err(|r| (r, None)),
                Err(retry) => Err((
                    retry.refusal,
                    retry.resume.and_then(|s| s.into_ticket(bank).ok()),
                )),
            },
            Ok(Pending::ExpectNewToken(_)) => Err((Refusal::SessionInvalid, None)),
            Err(r) => Err((r, None)),
        };
        code.zeroize();
        step
    })
    .await;
    match outcome {
        Err(r) => r,
        Ok(Ok(next)) => {
            session.ticket = Some(next.as_str().to_owned());
            page(
                StatusCode::OK,
                pages::new_token(lang, &user, &csrf, Some(next.as_str()), "", None),
                &[],
            )
        }
        Ok(Err((refusal, again))) => {
            tracing::info!(reason = refusal.reason_code(), "screen 4 refused");
            session.ticket = again.as_ref().map(|t| t.as_str().to_owned());
            let message = refusal.message(lang);
            page(
                StatusCode::OK,
                pages::current_code(
                    lang,
                    &user,
                    &csrf,
                    again.as_ref().map(Ticket::as_str),
                    Some(&message),
                ),
                &[],
            )
        }
    }
}

/// `POST /admin/exchange/no-token`: screen 4′, the branch instructions.
pub(crate) async fn no_token<S: Store + 'static>(
    State(state): State<AppState<S>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
    Form(form): Form<Fields>,
) -> Response {
    let (lang, _) = language(&headers, &params);
    let (mut session, user) = match post_session(&state, &headers, &form.csrf, lang).await {
        Err(r) => return r,
        Ok(v) => v,
    };
    let csrf = session.csrf.clone();
    let ticket = match take_ticket(&mut session, &form.ticket) {
        Brought::Current(t) => t,
        Brought::Finished(_) | Brought::Foreign => return foreign_ticket(lang),
    };
    let operator = user.id.clone();
    let refusal = blocking(&state, lang, move |bank| {
        match bank.resume(&operator, &ticket) {
            Ok(Pending::ExpectCurrentCode(s)) => s.no_current_token(bank),
            Ok(Pending::ExpectNewToken(_)) => Refusal::SessionInvalid,
            Err(r) => r,
        }
    })
    .await;
    match refusal {
        Err(r) => r,
        Ok(refusal) => page(
            StatusCode::OK,
            pages::branch_required(lang, &user, &csrf, &refusal.message(lang)),
            &[],
        ),
    }
}

/// `POST /admin/exchange/new`: screen 5's serial, code and approval
/// password → screen 6, or screen 5 again with the refusal (the serial kept,
/// never the code or the password). The same form posted again shows the
/// outcome.
pub(crate) async fn new_token<S: Store + 'static>(
    State(state): State<AppState<S>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
    Form(form): Form<Fields>,
) -> Response {
    let (lang, _) = language(&headers, &params);
    let (mut session, user) = match post_session(&state, &headers, &form.csrf, lang).await {
        Err(r) => return r,
        Ok(v) => v,
    };
    let csrf = session.csrf.clone();
    let ticket = match last_step_ticket(&mut session, &form.ticket, lang, &user) {
        Ok(t) => t,
        Err(answer) => return answer,
    };
    let posted = form.ticket.clone();
    let operator = user.id.clone();
    let serial = form.serial.clone();
    let code = form.code.clone();
    let password = Password::new(&form.password);
    let outcome = blocking(&state, lang, move |bank| {
        let mut code = code;
        let step = match bank.resume(&operator, &ticket) {
            Ok(Pending::ExpectNewToken(s)) => match s.confirm(bank, &serial, &code, &password) {
                Ok(done) => Ok(done),
                Err(retry) => Err((
                    retry.refusal,
                    retry.resume.and_then(|s| s.into_ticket(bank).ok()),
                )),
            },
            Ok(Pending::ExpectCurrentCode(_)) => Err((Refusal::SessionInvalid, None)),
            Err(r) => Err((r, None)),
        };
        code.zeroize();
        step
    })
    .await;
    match outcome {
        Err(r) => r,
        Ok(Ok(done)) => {
            tracing::info!("exchange committed");
            session.done = Some((posted, done.clone()));
            page(
                StatusCode::OK,
                pages::done(lang, &user, &csrf, &done, false),
                &[],
            )
        }
        Ok(Err((refusal, again))) => {
            tracing::info!(reason = refusal.reason_code(), "screen 5 refused");
            session.ticket = again.as_ref().map(|t| t.as_str().to_owned());
            let message = refusal.message(lang);
            page(
                StatusCode::OK,
                pages::new_token(
                    lang,
                    &user,
                    &csrf,
                    again.as_ref().map(Ticket::as_str),
                    form.serial.trim(),
                    Some(&message),
                ),
                &[],
            )
        }
    }
}
