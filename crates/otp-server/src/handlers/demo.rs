//! The demo's virtual tokens page: each token drawn as a small device with
//! its serial, a blank display and a "1" button. The button is a POST form
//! carrying the CSRF token of the browser's session (an anonymous one is
//! created for the page, as for the sign-in form); pressing shows the code
//! that token displays at the bank's clock, the others stay blank.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use otp_exchange::Store;

use super::{
    Fields, Params, error, find_session, forbidden, internal, language, no_session, page,
    session_or_new,
};
use crate::pages::{self, t};
use crate::session::same_secret;
use crate::{AppState, DemoTokens};

fn not_demo(lang: otp_exchange::Lang) -> Response {
    error(
        lang,
        StatusCode::NOT_FOUND,
        t(lang, "No such page.", "このページはありません。"),
    )
}

/// The devices, the one with `pressed`'s serial showing its code.
async fn devices(
    source: std::sync::Arc<dyn DemoTokens>,
    pressed: Option<String>,
) -> Option<(Vec<(String, Option<String>)>, bool)> {
    tokio::task::spawn_blocking(move || {
        let code = pressed.as_deref().and_then(|s| source.press(s));
        let known = pressed.is_none() || code.is_some();
        let devices = source
            .serials()
            .into_iter()
            .map(|serial| {
                let shown = (pressed.as_deref() == Some(serial.as_str()))
                    .then(|| code.clone())
                    .flatten();
                (serial, shown)
            })
            .collect();
        (devices, known)
    })
    .await
    .ok()
}

/// `GET /demo/tokens`: the demo's virtual tokens, every display blank
/// (404 outside the demo).
pub(crate) async fn demo_tokens<S: Store + 'static>(
    State(state): State<AppState<S>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let (lang, lang_cookie) = language(&headers, &params);
    let Some(source) = state.demo.clone() else {
        return not_demo(lang);
    };
    let mut cookies: Vec<String> = lang_cookie.into_iter().collect();
    let shared = match session_or_new(&state, &headers) {
        Ok((s, new)) => {
            cookies.extend(new);
            s
        }
        Err(e) => return no_session(lang, &e),
    };
    let csrf = shared.lock().await.csrf.clone();
    match devices(source, None).await {
        Some((devices, _)) => page(
            StatusCode::OK,
            pages::demo_tokens(lang, &csrf, &devices, None),
            &cookies,
        ),
        None => internal(lang),
    }
}

/// `POST /demo/tokens`: "1" pressed on the token `serial` (CSRF checked).
pub(crate) async fn demo_press<S: Store + 'static>(
    State(state): State<AppState<S>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
    Form(form): Form<Fields>,
) -> Response {
    let (lang, _) = language(&headers, &params);
    let Some(source) = state.demo.clone() else {
        return not_demo(lang);
    };
    let Some((_, shared)) = find_session(&state, &headers) else {
        return forbidden(lang);
    };
    let csrf = shared.lock().await.csrf.clone();
    if !same_secret(&csrf, &form.csrf) {
        tracing::warn!("demo form without the session's CSRF token");
        return forbidden(lang);
    }
    match devices(source, Some(form.serial.trim().to_owned())).await {
        Some((devices, known)) => {
            let message =
                (!known).then(|| t(lang, "No such token.", "該当するトークンがありません。"));
            page(
                StatusCode::OK,
                pages::demo_tokens(lang, &csrf, &devices, message),
                &[],
            )
        }
        None => internal(lang),
    }
}
