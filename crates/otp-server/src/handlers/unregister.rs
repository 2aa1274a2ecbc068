//! 登録解除 from screen 3: `Bank::unregister` (a code from the user's
//! token and the operator's approval password) is one call, so the server
//! issues its own one-time form ticket (32 random bytes, kept in the
//! session with the target) and follows the exchange's rules: only the
//! ticket this session issued is accepted and taken out before the call,
//! a retry gets a new one, and the ticket that finished it shows the
//! outcome again without a second call.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use otp_exchange::{Password, Refusal, Store, UserId};
use zeroize::Zeroize as _;

use super::exchange::foreign_ticket;
use super::{Fields, Params, blocking, error, internal, language, page, post_session};
use crate::AppState;
use crate::pages;
use crate::session::{random_token, same_secret};

/// `POST /admin/unregister`: screen 3's トークンの登録解除 → the form.
pub(crate) async fn unregister_start<S: Store + 'static>(
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
    let Ok(target) = UserId::parse(form.id.trim()) else {
        return error(
            lang,
            StatusCode::NOT_FOUND,
            &Refusal::UnknownUser.message(lang),
        );
    };
    let Ok(ticket) = random_token() else {
        return internal(lang);
    };
    session.unregister = Some((ticket.clone(), target.clone()));
    let csrf = session.csrf.clone();
    page(
        StatusCode::OK,
        pages::unregister(lang, &user, &csrf, target.as_str(), Some(&ticket), None),
        &[],
    )
}

/// Whether the user can correct what they typed and post again.
const fn retryable(refusal: &Refusal) -> bool {
    matches!(
        refusal,
        Refusal::Code(..) | Refusal::WrongCode(_) | Refusal::Replayed(_) | Refusal::WrongPassword
    )
}

/// `POST /admin/unregister/confirm`: the code and the approval password →
/// done, or the form again with the refusal (never re-filled).
pub(crate) async fn unregister_confirm<S: Store + 'static>(
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
    let target = match session.unregister.take() {
        Some((held, target)) if same_secret(&held, &form.ticket) => target,
        held => {
            session.unregister = held;
            return match &session.unregistered {
                Some((done, target)) if same_secret(done, &form.ticket) => page(
                    StatusCode::OK,
                    pages::unregistered(lang, &user, &csrf, target.as_str(), true),
                    &[],
                ),
                _ => foreign_ticket(lang),
            };
        }
    };
    let operator = user.id.clone();
    let who = target.clone();
    let code = form.code.clone();
    let password = Password::new(&form.password);
    let outcome = blocking(&state, lang, move |bank| {
        let mut code = code;
        let result = bank.unregister(&operator, &who, &code, &password);
        code.zeroize();
        result
    })
    .await;
    match outcome {
        Err(r) => r,
        Ok(Ok(())) => {
            tracing::info!("token unregistered");
            session.unregistered = Some((form.ticket.clone(), target.clone()));
            page(
                StatusCode::OK,
                pages::unregistered(lang, &user, &csrf, target.as_str(), false),
                &[],
            )
        }
        Ok(Err(refusal)) => {
            tracing::info!(reason = refusal.reason_code(), "unregistration refused");
            let again = if retryable(&refusal) {
                let Ok(ticket) = random_token() else {
                    return internal(lang);
                };
                session.unregister = Some((ticket.clone(), target.clone()));
                Some(ticket)
            } else {
                None
            };
            page(
                StatusCode::OK,
                pages::unregister(
                    lang,
                    &user,
                    &csrf,
                    target.as_str(),
                    again.as_deref(),
                    Some(&refusal.message(lang)),
                ),
                &[],
            )
        }
    }
}
