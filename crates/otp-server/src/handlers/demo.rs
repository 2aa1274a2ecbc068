//! The demo's virtual tokens page.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use otp_exchange::Store;

use super::{Params, error, internal, language, page};
use crate::AppState;
use crate::pages::{self, t};

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
