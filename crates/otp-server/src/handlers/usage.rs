//! 利用形態設定: an administrator sets another user's usage mode
//! (`Bank::set_usage_mode`), or enrols a software token for them
//! (`Bank::begin_software_token`: the `otpauth://` URI shown once as a QR
//! code, then the app's first code confirms it).

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use otp_exchange::{Lang, Password, Refusal, Store, Ticket, UsageMode};
use zeroize::Zeroize as _;

use super::admin::info_of;
use super::exchange::{foreign_ticket, last_step_ticket};
use super::{
    Fields, Params, already_done, blocking, error, internal, language, page, post_session,
    signed_in,
};
use crate::pages::{self, TokenInfo, t};
use crate::session::{Posted, SignedIn};
use crate::{AppState, qr};

/// The usage screen for `who`, with a fresh one-time form ticket kept in
/// the session.
fn screen<S: Store>(
    state: &AppState<S>,
    lang: Lang,
    user: &SignedIn,
    (csrf, form): (&str, &str),
    who: &TokenInfo,
    (message, notice): (Option<&str>, Option<&str>),
) -> Response {
    let view = pages::Usage {
        info: who,
        not_used_offered: state.bank.policy().allow_not_used && !who.administrator,
        form,
        message,
        notice,
    };
    page(StatusCode::OK, pages::usage(lang, user, csrf, &view), &[])
}

/// `GET /admin/usage?id=W0002`: 利用形態設定 for the user chosen on screen 2.
pub(crate) async fn usage<S: Store + 'static>(
    State(state): State<AppState<S>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let (lang, cookies) = language(&headers, &params);
    let (shared, user) = match signed_in(&state, &headers, true, lang).await {
        Err(r) => return r,
        Ok(v) => v,
    };
    let who = match info_of(
        &state,
        lang,
        params.id.as_deref().unwrap_or_default().trim(),
    )
    .await
    {
        Err(r) => return r,
        Ok(w) => w,
    };
    let (csrf, form) = {
        let mut session = shared.lock().await;
        let Ok(form) = session.usage.issue() else {
            return internal(lang);
        };
        (session.csrf.clone(), form)
    };
    let mut answer = screen(&state, lang, &user, (&csrf, &form), &who, (None, None));
    if let Some(v) = cookies.and_then(|c| c.parse().ok()) {
        answer
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, v);
    }
    answer
}

/// `POST /admin/usage`: the chosen mode with the operator's approval
/// password. A software token goes on to its QR code and first code; the
/// other modes are set at once (`Bank::set_usage_mode`). The form is
/// posted once: the same form again shows what it did.
pub(crate) async fn set_usage<S: Store + 'static>(
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
    let again = match session.usage.take(&form.ticket) {
        Posted::Fresh => None,
        Posted::Again(said) => Some(format!("{said}{}", already_done(lang))),
        Posted::Foreign => return foreign_ticket(lang),
    };
    let who = match info_of(&state, lang, form.id.trim()).await {
        Err(r) => return r,
        Ok(w) => w,
    };
    if let Some(notice) = again {
        let Ok(next) = session.usage.issue() else {
            return internal(lang);
        };
        return screen(
            &state,
            lang,
            &user,
            (&csrf, &next),
            &who,
            (None, Some(&notice)),
        );
    }
    let Some(mode) = UsageMode::parse(&form.action) else {
        return error(
            lang,
            StatusCode::BAD_REQUEST,
            t(lang, "Choose a usage mode.", "利用形態を選択してください。"),
        );
    };
    let operator = user.id.clone();
    let target_id = who.id.clone();
    let password = Password::new(&form.password);
    if mode == UsageMode::SoftwareToken {
        let minted = blocking(&state, lang, move |bank| {
            let mut state = bank.begin_software_token(&operator, &target_id, &password)?;
            let uri = state.take_otpauth_uri();
            let serial = state.serial();
            let ticket = state.into_ticket(bank)?;
            Ok::<_, Refusal>((ticket, serial, uri))
        })
        .await;
        return match minted {
            Err(r) => r,
            Ok(Err(refusal)) => {
                tracing::info!(reason = refusal.reason_code(), "software token refused");
                let Ok(next) = session.usage.issue() else {
                    return internal(lang);
                };
                let message = refusal.message(lang);
                screen(
                    &state,
                    lang,
                    &user,
                    (&csrf, &next),
                    &who,
                    (Some(&message), None),
                )
            }
            Ok(Ok((ticket, serial, uri))) => {
                let Some(uri) = uri else {
                    return internal(lang);
                };
                let Ok(svg) = qr::svg(&uri) else {
                    tracing::error!("the otpauth URI does not fit a QR code");
                    return internal(lang);
                };
                tracing::info!("software token minted");
                session.ticket = Some(ticket.as_str().to_owned());
                // The same form again (a double click) must neither mint a
                // second token nor show the QR code twice: it shows this.
                session.usage.finished(
                    &form.ticket,
                    t(
                        lang,
                        "A software token was issued and its QR code shown once. If it could not be scanned, set the usage mode again.",
                        "ソフトウェアトークンを発行し、QRコードを一度だけ表示しました。読み取れなかった場合は、もう一度利用形態を設定してください。",
                    )
                    .to_owned(),
                );
                page(
                    StatusCode::OK,
                    pages::software(
                        lang,
                        &user,
                        &csrf,
                        (who.id.as_str(), &serial.masked().to_string()),
                        Some(ticket.as_str()),
                        Some(&svg),
                        None,
                    ),
                    &[],
                )
            }
        };
    }
    let outcome = blocking(&state, lang, move |bank| {
        bank.set_usage_mode(&operator, &target_id, mode, &password)
    })
    .await;
    let (message, notice) = match outcome {
        Err(r) => return r,
        Ok(Err(refusal)) => {
            tracing::info!(reason = refusal.reason_code(), "usage mode refused");
            (Some(refusal.message(lang)), None)
        }
        Ok(Ok(set)) => {
            tracing::info!(mode = set.mode.as_str(), "usage mode set");
            let notice = match lang {
                Lang::Ja => format!(
                    "{} の利用形態を「{}」に設定しました。",
                    set.user.as_str(),
                    set.mode.label(lang)
                ),
                Lang::En => format!(
                    "The usage mode of {} is now \"{}\".",
                    set.user.as_str(),
                    set.mode.label(lang)
                ),
            };
            let notice = match set.revoked {
                Some(old) => format!(
                    "{notice}{}{}",
                    t(lang, " Token revoked: ", "無効にしたトークン："),
                    old.masked()
                ),
                None => notice,
            };
            session.usage.finished(&form.ticket, notice.clone());
            (None, Some(notice))
        }
    };
    let who = match info_of(&state, lang, who.id.as_str()).await {
        Err(r) => return r,
        Ok(w) => w,
    };
    let Ok(next) = session.usage.issue() else {
        return internal(lang);
    };
    screen(
        &state,
        lang,
        &user,
        (&csrf, &next),
        &who,
        (message.as_deref(), notice.as_deref()),
    )
}

/// `POST /admin/usage/software`: the app's first code → screen 6 (the
/// token registered, the mode software token), or the form again with the
/// refusal (the QR code is not shown again).
pub(crate) async fn software_confirm<S: Store + 'static>(
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
    let operator = user.id.clone();
    let code = form.code.clone();
    let outcome = blocking(&state, lang, move |bank| {
        let mut code = code;
        let result = match bank.resume_software_token(&operator, &ticket) {
            Err(r) => Err((r, None)),
            Ok(step) => {
                let (_, target) = step.parties();
                let shown = (target.clone(), step.serial());
                match step.confirm(bank, &code) {
                    Ok(done) => Ok(done),
                    Err(retry) => Err((
                        retry.refusal,
                        retry
                            .resume
                            .and_then(|s| s.into_ticket(bank).ok())
                            .map(|t| (t, shown)),
                    )),
                }
            }
        };
        code.zeroize();
        result
    })
    .await;
    match outcome {
        Err(r) => r,
        Ok(Ok(exchanged)) => {
            tracing::info!("software token registered");
            session.done = Some((form.ticket.clone(), exchanged.clone()));
            page(
                StatusCode::OK,
                pages::done(lang, &user, &csrf, &exchanged, false),
                &[],
            )
        }
        Ok(Err((refusal, again))) => {
            tracing::info!(
                reason = refusal.reason_code(),
                "software token's first code refused"
            );
            let message = refusal.message(lang);
            match again {
                Some((next, (target, serial))) => {
                    session.ticket = Some(next.as_str().to_owned());
                    page(
                        StatusCode::OK,
                        pages::software(
                            lang,
                            &user,
                            &csrf,
                            (target.as_str(), &serial.masked().to_string()),
                            Some(Ticket::as_str(&next)),
                            None,
                            Some(&message),
                        ),
                        &[],
                    )
                }
                None => page(
                    StatusCode::OK,
                    pages::software(lang, &user, &csrf, ("-", "-"), None, None, Some(&message)),
                    &[],
                ),
            }
        }
    }
}
