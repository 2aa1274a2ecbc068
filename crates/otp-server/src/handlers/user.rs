//! Sign-in, sign-out and the general user's page.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use otp_exchange::{Password, Refusal, Store, UserId};
use zeroize::Zeroize as _;

use super::admin::info_of;
use super::history;
use super::{
    Fields, Params, blocking, find_session, forbidden, internal, language, no_session, page,
    session_cookie, session_or_new, signed_in, unavailable,
};
use crate::AppState;
use crate::session::{SESSION_COOKIE, SignedIn, same_secret};
use crate::{dates, pages};

/// `GET /login`: the sign-in form (an anonymous session holds its CSRF token).
pub(crate) async fn login_page<S: Store + 'static>(
    State(state): State<AppState<S>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let (lang, lang_cookie) = language(&headers, &params);
    let mut cookies: Vec<String> = lang_cookie.into_iter().collect();
    let shared = match session_or_new(&state, &headers) {
        Ok((s, new)) => {
            cookies.extend(new);
            s
        }
        Err(e) => return no_session(lang, &e),
    };
    let csrf = shared.lock().await.csrf.clone();
    page(
        StatusCode::OK,
        pages::login(lang, &csrf, "", None),
        &cookies,
    )
}

/// `POST /login`: customer ID, login password and a code from the user's
/// own token (`Bank::sign_in`: one refusal for every failure, counted
/// toward the lock, the replay rule applies). A new session id is issued
/// on success; the header shows this login and the previous one.
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
    let password = Password::new(&form.password);
    let result = blocking(&state, lang, move |bank| {
        let mut code = code;
        let verdict = bank.sign_in(&user, &password, &code);
        code.zeroize();
        verdict.and_then(|signed| {
            bank.records()
                .user(&user)
                .map_err(Refusal::from)
                .map(|u| u.map(|u| (user, u.name, u.authority, signed)))
        })
    })
    .await;
    match result {
        Err(response) => {
            state.metrics.sign_in("store_error");
            response
        }
        // Fail closed: a store that could not answer (or record) is an
        // error page, 503, never a sign-in.
        Ok(Err(Refusal::Internal(e))) => {
            tracing::error!(error = %e, "sign-in: the store failed");
            state.metrics.sign_in("store_error");
            state.metrics.store_error();
            unavailable(lang)
        }
        Ok(Err(refusal)) => {
            state.metrics.sign_in("refused");
            tracing::info!(reason = refusal.reason_code(), "sign-in refused");
            let message = refusal.message(lang);
            page(
                StatusCode::OK,
                pages::login(lang, &csrf, &shown_id, Some(&message)),
                &[],
            )
        }
        Ok(Ok(None)) => internal(lang),
        Ok(Ok(Some((id, name, authority, signed)))) => {
            state.metrics.sign_in("accepted");
            let admin = authority == otp_exchange::Authority::Administrator;
            let offset = state.bank.policy().utc_offset_seconds;
            state.sessions.remove(&old_id);
            match state.sessions.create(Some(SignedIn {
                id,
                name,
                admin,
                approval: false,
                login_at: dates::show_minute(signed.this_login(), offset),
                previous_login: signed
                    .previous_login()
                    .map(|at| dates::show_minute(at, offset)),
            })) {
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

/// How many of their own records the user's page shows.
const HOME_RECORDS: usize = 10;

/// `GET /home`: the user's own page: their customer ID, name, authority,
/// their token (masked serial, registration status) and their own last
/// [`HOME_RECORDS`] usage records, newest first. `Bank::audit_trail` is an
/// administrator's call; a user reads only the records about their own ID,
/// after `Bank::verify_audit` checked the whole chain (a chain that does
/// not verify is a system error, as on the administrator's screen).
pub(crate) async fn home<S: Store + 'static>(
    State(state): State<AppState<S>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let (lang, cookies) = language(&headers, &params);
    let (shared, user) = match signed_in(&state, &headers, false, lang).await {
        Err(r) => return r,
        Ok(v) => v,
    };
    let info = match info_of(&state, lang, user.id.as_str()).await {
        Err(r) => return r,
        Ok(i) => i,
    };
    let me = user.id.clone();
    let offset = state.bank.policy().utc_offset_seconds;
    let trail = blocking(&state, lang, move |bank| {
        bank.verify_audit().map_err(|e| e.to_string())?;
        let chain = bank.records().audit_chain().map_err(|e| e.to_string())?;
        let mine: Vec<_> = chain
            .iter()
            .rev()
            .filter(|r| r.entry.target.as_ref() == Some(&me))
            .take(HOME_RECORDS)
            .map(|r| history::row(lang, r, offset))
            .collect();
        Ok::<_, String>(mine)
    })
    .await;
    let rows = match trail {
        Err(r) => return r,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "the user's history was not read");
            return internal(lang);
        }
        Ok(Ok(rows)) => rows,
    };
    let csrf = shared.lock().await.csrf.clone();
    page(
        StatusCode::OK,
        pages::home(lang, &user, &csrf, &info, &rows),
        &Vec::from_iter(cookies),
    )
}
