//! Screens 1–3: the admin menu, the customer list, the token info.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use otp_exchange::{Lang, Refusal, Store, UserId};

use super::{Params, blocking, error, internal, language, page, signed_in};
use crate::pages;
use crate::{AppState, PER_PAGE};

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

pub(super) async fn info_of<S: Store + 'static>(
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
            id: u.id,
            name: u.name,
            authority: u.authority.label(lang),
            administrator: u.authority == otp_exchange::Authority::Administrator,
            serial: u.token.map(|s| s.masked().to_string()),
            mode: u.usage_mode,
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
