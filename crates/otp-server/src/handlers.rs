//! The route handlers. Each POST checks the session's CSRF token first;
//! each step of the exchange takes the sealed ticket from the session
//! (never one the session did not issue) and runs the bank's call on the
//! blocking pool (password hashing and the store are synchronous).

use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::Markup;
use otp_exchange::{Bank, Exchanged, Lang, Password, Pending, Refusal, Store, Ticket, UserId};
use serde::Deserialize;
use zeroize::Zeroize as _;

use crate::pages::{self, t};
use crate::session::{CreateError, SESSION_COOKIE, SessionData, SignedIn, same_secret};
use crate::{AppState, PER_PAGE};

type Shared = Arc<tokio::sync::Mutex<SessionData>>;

/// The query every page understands.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Params {
    lang: Option<String>,
    page: Option<usize>,
    id: Option<String>,
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

/// The signed-in session (and the user), or the response to send instead.
async fn signed_in<S: Store>(
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
        Some(u) => Ok((shared, u)),
    }
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

/// `GET /login`: the sign-in form (an anonymous session holds its CSRF token).
pub(crate) async fn login_page<S: Store + 'static>(
    State(state): State<AppState<S>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let (lang, lang_cookie) = language(&headers, &params);
    let mut cookies: Vec<String> = lang_cookie.into_iter().collect();
    let shared = match find_session(&state, &headers) {
        Some((_, s)) => s,
        None => match state.sessions.create(None) {
            Ok((id, s)) => {
                cookies.push(session_cookie(&state, &id));
                s
            }
            Err(e) => return no_session(lang, &e),
        },
    };
    let csrf = shared.lock().await.csrf.clone();
    page(
        StatusCode::OK,
        pages::login(lang, &csrf, "", None),
        &cookies,
    )
}

/// `POST /login`: customer ID and a code from the user's own token
/// (`Bank::login`: counted toward the lock, the replay rule applies). A
/// new session id is issued on success.
pub(crate) async fn login<S: Store + 'static>(
    State(state): State<AppState<S>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
    Form(form): Form<Fields>,
) -> Response {
    let (lang, _) = language(&headers, &params);
    let Some((old_id, shared)) = find_session(&state, &headers) else {
        return forbidden(lang);
    };
    let csrf = shared.lock().await.csrf.clone();
    if !same_secret(&csrf, &form.csrf) {
        tracing::warn!("sign-in form without the session's CSRF token");
        return forbidden(lang);
    }
    let shown_id = form.id.trim().to_owned();
    let user = match UserId::parse(&shown_id) {
        Ok(u) => u,
        Err(_) => {
            let message = Refusal::LoginFailed.message(lang);
            return page(
                StatusCode::OK,
                pages::login(lang, &csrf, &shown_id, Some(&message)),
                &[],
            );
        }
    };
    let code = form.code.clone();
    let result = blocking(&state, lang, move |bank| {
        let mut code = code;
        let verdict = bank.login(&user, &code);
        code.zeroize();
        verdict.and_then(|_| {
            bank.records()
                .user(&user)
                .map_err(Refusal::from)
                .map(|u| u.map(|u| (user, u.name, u.authority)))
        })
    })
    .await;
    match result {
        Err(response) => response,
        Ok(Err(refusal)) => {
            tracing::info!(reason = refusal.reason_code(), "sign-in refused");
            let message = refusal.message(lang);
            page(
                StatusCode::OK,
                pages::login(lang, &csrf, &shown_id, Some(&message)),
                &[],
            )
        }
        Ok(Ok(None)) => internal(lang),
        Ok(Ok(Some((id, name, authority)))) => {
            let admin = authority == otp_exchange::Authority::Administrator;
            state.sessions.remove(&old_id);
            match state.sessions.create(Some(SignedIn { id, name, admin })) {
                Ok((new_id, _)) => {
                    let to = if admin { "/admin" } else { "/home" };
                    let mut r = Redirect::to(to).into_response();
                    if let Ok(v) = session_cookie(&state, &new_id).parse() {
                        r.headers_mut().append(header::SET_COOKIE, v);
                    }
                    r
                }
                Err(e) => no_session(lang, &e),
            }
        }
    }
}

/// `POST /logout`.
pub(crate) async fn logout<S: Store + 'static>(
    State(state): State<AppState<S>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
    Form(form): Form<Fields>,
) -> Response {
    let (lang, _) = language(&headers, &params);
    let Some((id, shared)) = find_session(&state, &headers) else {
        return Redirect::to("/login").into_response();
    };
    if !same_secret(&shared.lock().await.csrf, &form.csrf) {
        return forbidden(lang);
    }
    state.sessions.remove(&id);
    let mut r = Redirect::to("/login").into_response();
    let clear = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    if let Ok(v) = clear.parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// `GET /home`: a general user's page.
pub(crate) async fn home<S: Store + 'static>(
    State(state): State<AppState<S>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let (lang, cookies) = language(&headers, &params);
    match signed_in(&state, &headers, false, lang).await {
        Err(r) => r,
        Ok((shared, user)) => {
            let csrf = shared.lock().await.csrf.clone();
            page(
                StatusCode::OK,
                pages::home(lang, &user, &csrf),
                &Vec::from_iter(cookies),
            )
        }
    }
}

/// `GET /admin`: screen 1, 管理機能.
pub(crate) async fn admin_menu<S: Store + 'static>(
    State(state): State<AppState<S>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let (lang, cookies) = language(&headers, &params);
    match signed_in(&state, &headers, true, lang).await {
        Err(r) => r,
        Ok((shared, user)) => {
            let csrf = shared.lock().await.csrf.clone();
            page(
                StatusCode::OK,
                pages::admin_menu(lang, &user, &csrf),
                &Vec::from_iter(cookies),
            )
        }
    }
}

/// `GET /admin/select?page=N`: screen 2, the customer list.
pub(crate) async fn select<S: Store + 'static>(
    State(state): State<AppState<S>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let (lang, cookies) = language(&headers, &params);
    let (shared, user) = match signed_in(&state, &headers, true, lang).await {
        Err(r) => return r,
        Ok(v) => v,
    };
    let page_no = params.page.unwrap_or(0);
    let operator = user.id.clone();
    let list = match blocking(&state, lang, move |bank| {
        bank.user_list(&operator, page_no, PER_PAGE)
    })
    .await
    {
        Err(r) => return r,
        Ok(Err(refusal)) => return error(lang, StatusCode::FORBIDDEN, &refusal.message(lang)),
        Ok(Ok(list)) => list,
    };
    let pages = list.total.div_ceil(PER_PAGE).max(1);
    let csrf = shared.lock().await.csrf.clone();
    page(
        StatusCode::OK,
        pages::select(lang, &user, &csrf, &list, page_no, pages),
        &Vec::from_iter(cookies),
    )
}

async fn info_of<S: Store + 'static>(
    state: &AppState<S>,
    lang: Lang,
    id: &str,
) -> Result<pages::TokenInfo, Response> {
    let not_found = || {
        error(
            lang,
            StatusCode::NOT_FOUND,
            &Refusal::UnknownUser.message(lang),
        )
    };
    let id = UserId::parse(id).map_err(|_| not_found())?;
    let record = blocking(state, lang, move |bank| bank.records().user(&id)).await?;
    match record {
        Err(e) => {
            tracing::error!(error = %e, "the store did not answer");
            Err(internal(lang))
        }
        Ok(None) => Err(not_found()),
        Ok(Some(u)) => Ok(pages::TokenInfo {
            id: u.id.as_str().to_owned(),
            name: u.name,
            authority: u.authority.label(lang),
            serial: u.token.map(|s| s.masked().to_string()),
        }),
    }
}

/// `GET /admin/user?id=W0002`: screen 3, the selected user's token info.
pub(crate) async fn token_info<S: Store + 'static>(
    State(state): State<AppState<S>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let (lang, cookies) = language(&headers, &params);
    let (shared, user) = match signed_in(&state, &headers, true, lang).await {
        Err(r) => return r,
        Ok(v) => v,
    };
    let info = match info_of(&state, lang, params.id.as_deref().unwrap_or("")).await {
        Err(r) => return r,
        Ok(i) => i,
    };
    let csrf = shared.lock().await.csrf.clone();
    page(
        StatusCode::OK,
        pages::token_info(lang, &user, &csrf, &info, None),
        &Vec::from_iter(cookies),
    )
}

/// The session after the CSRF check, locked for the whole request (a
/// double click's second request waits for the first and sees its
/// outcome).
async fn post_session<S: Store>(
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

/// `POST /admin/exchange`: screen 3's 新規登録・交換 → screen 4.
pub(crate) async fn begin<S: Store + 'static>(
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
    let operator = user.id.clone();
    let result = blocking(&state, lang, move |bank| {
        bank.begin_exchange(&operator, &target)
            .and_then(|s| s.into_ticket(bank))
    })
    .await;
    match result {
        Err(r) => r,
        Ok(Ok(ticket)) => {
            session.ticket = Some(ticket.as_str().to_owned());
            let csrf = session.csrf.clone();
            page(
                StatusCode::OK,
                pages::current_code(lang, &user, &csrf, Some(ticket.as_str()), None),
                &[],
            )
        }
        Ok(Err(refusal)) => {
            let csrf = session.csrf.clone();
            drop(session);
            match info_of(&state, lang, form.id.trim()).await {
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

fn foreign_ticket(lang: Lang) -> Response {
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
    let ticket = match take_ticket(&mut session, &form.ticket) {
        Brought::Current(t) => t,
        Brought::Finished(done) => {
            return page(
                StatusCode::OK,
                pages::done(lang, &user, &csrf, &done, true),
                &[],
            );
        }
        Brought::Foreign => return foreign_ticket(lang),
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

/// `GET /healthz`: 200 when the store answers, 503 otherwise.
pub(crate) async fn healthz<S: Store + 'static>(State(state): State<AppState<S>>) -> Response {
    let answered = blocking(&state, Lang::En, |bank| bank.records().audit_head().is_ok()).await;
    match answered {
        Ok(true) => (StatusCode::OK, "ok\n").into_response(),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response(),
    }
}

/// `GET /demo/tokens`: the demo's virtual tokens (404 outside the demo).
pub(crate) async fn demo_tokens<S: Store + 'static>(
    State(state): State<AppState<S>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let (lang, cookies) = language(&headers, &params);
    let Some(source) = state.demo.clone() else {
        return error(
            lang,
            StatusCode::NOT_FOUND,
            t(lang, "No such page.", "このページはありません。"),
        );
    };
    match tokio::task::spawn_blocking(move || source()).await {
        Ok(tokens) => page(
            StatusCode::OK,
            pages::demo_tokens(lang, &tokens),
            &Vec::from_iter(cookies),
        ),
        Err(_) => internal(lang),
    }
}

/// `GET /static/style.css`: the one stylesheet (the CSP allows no inline style).
pub(crate) async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("style.css"),
    )
        .into_response()
}
