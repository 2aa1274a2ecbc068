//! The route handlers. Each POST checks the session's CSRF token first;
//! each step of the exchange takes the sealed ticket from the session
//! (never one the session did not issue) and runs the bank's call on the
//! blocking pool (password hashing and the store are synchronous).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::Markup;
use otp_exchange::{Bank, Lang, Refusal, Store};
use serde::Deserialize;
use zeroize::Zeroize as _;

use crate::AppState;
use crate::pages::{self, t};
use crate::session::{CreateError, SESSION_COOKIE, SessionData, SignedIn, same_secret};

mod admin;
mod demo;
mod exchange;
mod history;
mod locks;
mod unregister;
mod usage;
mod user;

pub(crate) use admin::{admin_menu, select, token_info};
pub(crate) use demo::{demo_press, demo_tokens};
pub(crate) use exchange::{begin, current, new_token, no_token, register};
pub(crate) use history::history;
pub(crate) use locks::{lock_or_unlock, locks};
pub(crate) use unregister::{unregister_confirm, unregister_start};
pub(crate) use usage::{set_usage, software_confirm, usage};
pub(crate) use user::{home, login, login_page, logout};

type Shared = Arc<tokio::sync::Mutex<SessionData>>;

/// The query every page understands.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Params {
    lang: Option<String>,
    page: Option<usize>,
    id: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// Every form's fields (absent ones are empty, so a missing CSRF token is
/// a 403 like a wrong one).
#[derive(Default, Deserialize)]
pub(crate) struct Fields {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    ticket: String,
    #[serde(default)]
    serial: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    action: String,
}

impl Drop for Fields {
    fn drop(&mut self) {
        self.code.zeroize();
        self.password.zeroize();
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The language: `?lang=` first, then the `lang` cookie, Japanese by default.
/// Returns the cookie to set when the query chose one.
fn language(headers: &HeaderMap, params: &Params) -> (Lang, Option<String>) {
    let parse = |s: &str| match s {
        "en" => Some(Lang::En),
        "ja" => Some(Lang::Ja),
        _ => None,
    };
    if let Some(lang) = params.lang.as_deref().and_then(parse) {
        let code = if lang == Lang::En { "en" } else { "ja" };
        return (
            lang,
            Some(format!(
                "lang={code}; Path=/; HttpOnly; SameSite=Strict; Max-Age=31536000"
            )),
        );
    }
    (
        cookie(headers, "lang").and_then(parse).unwrap_or(Lang::Ja),
        None,
    )
}

fn session_cookie<S: Store>(state: &AppState<S>, id: &str) -> String {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/{secure}")
}

fn page(status: StatusCode, markup: Markup, cookies: &[String]) -> Response {
    let mut response = (status, markup).into_response();
    for c in cookies {
        if let Ok(v) = c.parse() {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

fn error(lang: Lang, status: StatusCode, message: &str) -> Response {
    let title = match status {
        StatusCode::FORBIDDEN => t(lang, "Refused", "お受けできません"),
        StatusCode::NOT_FOUND => t(lang, "Not found", "ページが見つかりません"),
        StatusCode::SERVICE_UNAVAILABLE => t(lang, "Busy", "混雑中"),
        _ => t(lang, "System error", "システムエラー"),
    };
    page(status, pages::error(lang, title, message), &[])
}

fn internal(lang: Lang) -> Response {
    error(
        lang,
        StatusCode::INTERNAL_SERVER_ERROR,
        t(
            lang,
            "The system could not complete the operation (nothing was changed). Please try again later.",
            "システムエラーのため処理できませんでした（変更は行われていません）。しばらくしてから再度お試しください。",
        ),
    )
}

/// 503: the store could not answer; nothing was done (fail closed).
fn unavailable(lang: Lang) -> Response {
    error(
        lang,
        StatusCode::SERVICE_UNAVAILABLE,
        t(
            lang,
            "The system could not complete the operation (nothing was changed). Please try again later.",
            "システムエラーのため処理できませんでした（変更は行われていません）。しばらくしてから再度お試しください。",
        ),
    )
}

fn no_session(lang: Lang, e: &CreateError) -> Response {
    tracing::error!(error = %e, "no new session");
    match e {
        CreateError::Full => error(
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            t(
                lang,
                "The service is busy. Please try again later.",
                "ただいま混み合っています。しばらくしてから再度お試しください。",
            ),
        ),
        CreateError::Random(_) => internal(lang),
    }
}

fn forbidden(lang: Lang) -> Response {
    error(
        lang,
        StatusCode::FORBIDDEN,
        t(
            lang,
            "This request could not be accepted. Please reload the page and try again.",
            "このリクエストはお受けできません。ページを再読み込みしてやり直してください。",
        ),
    )
}

/// Said after what a one-time form did, when the same form comes again.
pub(crate) const fn already_done(lang: Lang) -> &'static str {
    t(
        lang,
        " (This was already done; it was done once.)",
        "（この操作は既に完了しています。操作は一度だけ行われました）",
    )
}

/// Runs a bank call on the blocking pool.
async fn blocking<S: Store + 'static, T: Send + 'static>(
    state: &AppState<S>,
    lang: Lang,
    f: impl FnOnce(&Bank<S>) -> T + Send + 'static,
) -> Result<T, Response> {
    let bank = Arc::clone(&state.bank);
    tokio::task::spawn_blocking(move || f(&bank))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "a bank call did not finish");
            internal(lang)
        })
}

fn find_session<S: Store>(state: &AppState<S>, headers: &HeaderMap) -> Option<(String, Shared)> {
    let id = cookie(headers, SESSION_COOKIE)?;
    state.sessions.get(id).map(|s| (id.to_owned(), s))
}

/// This browser's session, or a new anonymous one (its CSRF token guards
/// the sign-in and demo forms) with the cookie to set.
fn session_or_new<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
) -> Result<(Shared, Option<String>), CreateError> {
    match find_session(state, headers) {
        Some((_, s)) => Ok((s, None)),
        None => state
            .sessions
            .create(None)
            .map(|(id, s)| (s, Some(session_cookie(state, &id)))),
    }
}

/// The signed-in session (and the user), or the response to send instead.
async fn signed_in<S: Store + 'static>(
    state: &AppState<S>,
    headers: &HeaderMap,
    admin: bool,
    lang: Lang,
) -> Result<(Shared, SignedIn), Response> {
    let Some((_, shared)) = find_session(state, headers) else {
        return Err(Redirect::to("/login").into_response());
    };
    let user = shared.lock().await.user.clone();
    match user {
        None => Err(Redirect::to("/login").into_response()),
        Some(u) if admin && !u.admin => Err(error(
            lang,
            StatusCode::FORBIDDEN,
            &Refusal::NotAdministrator.message(lang),
        )),
        Some(mut u) if u.admin => {
            // Which password the forms ask for follows the records now,
            // not as they were at sign-in.
            let id = u.id.clone();
            match blocking(state, lang, move |bank| bank.confirming_password(&id)).await? {
                Ok(kind) => {
                    u.approval = kind != Some(otp_exchange::PasswordKind::PerTransfer);
                    Ok((shared, u))
                }
                Err(e) => {
                    tracing::error!(error = %e, "the operator's record could not be read");
                    Err(internal(lang))
                }
            }
        }
        Some(u) => Ok((shared, u)),
    }
}

/// The session after the CSRF check, locked for the whole request (a
/// double click's second request waits for the first and sees its
/// outcome).
async fn post_session<S: Store + 'static>(
    state: &AppState<S>,
    headers: &HeaderMap,
    csrf: &str,
    lang: Lang,
) -> Result<(tokio::sync::OwnedMutexGuard<SessionData>, SignedIn), Response> {
    let (shared, user) = signed_in(state, headers, true, lang).await?;
    let guard = shared.lock_owned().await;
    if !same_secret(&guard.csrf, csrf) {
        tracing::warn!("form without the session's CSRF token");
        return Err(forbidden(lang));
    }
    Ok((guard, user))
}

/// `GET /`: the sign-in screen or the user's first page.
pub(crate) async fn index<S: Store + 'static>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
) -> Response {
    match find_session(&state, &headers) {
        Some((_, s)) => match &s.lock().await.user {
            Some(u) if u.admin => Redirect::to("/admin").into_response(),
            Some(_) => Redirect::to("/home").into_response(),
            None => Redirect::to("/login").into_response(),
        },
        None => Redirect::to("/login").into_response(),
    }
}

/// `GET /healthz`: 200 when the store answers, 503 otherwise.
pub(crate) async fn healthz<S: Store + 'static>(State(state): State<AppState<S>>) -> Response {
    let answered = blocking(&state, Lang::En, |bank| bank.records().audit_head().is_ok()).await;
    match answered {
        Ok(true) => (StatusCode::OK, "ok\n").into_response(),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response(),
    }
}

/// `GET /readyz`: 200 `{"ready":true}` when the store answers a cheap
/// read ([`Store::ping`]) within [`READY_TIMEOUT`](crate::READY_TIMEOUT),
/// 503 `{"ready":false}` otherwise (a load balancer then sends this
/// node's traffic elsewhere).
pub(crate) async fn readyz<S: Store + 'static>(State(state): State<AppState<S>>) -> Response {
    let bank = Arc::clone(&state.bank);
    let ping = tokio::task::spawn_blocking(move || bank.records().ping());
    let ready = match tokio::time::timeout(crate::READY_TIMEOUT, ping).await {
        Ok(Ok(Ok(()))) => true,
        Ok(Ok(Err(e))) => {
            tracing::warn!(error = %e, "not ready: the store did not answer");
            false
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "not ready: the readiness check did not finish");
            false
        }
        Err(_) => {
            tracing::warn!("not ready: the store did not answer in time");
            false
        }
    };
    let (status, body) = if ready {
        (StatusCode::OK, "{\"ready\":true}")
    } else {
        state.metrics.store_error();
        (StatusCode::SERVICE_UNAVAILABLE, "{\"ready\":false}")
    };
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `GET /static/style.css`: the one stylesheet (the CSP allows no inline style).
pub(crate) async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("style.css"),
    )
        .into_response()
}
