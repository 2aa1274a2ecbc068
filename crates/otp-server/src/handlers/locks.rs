//! IDロック解除: the users and their lock state; an administrator locks
//! one (`Bank::lock`) or unlocks one with their approval password
//! (`Bank::unlock`). Refusals are shown on the same screen.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use otp_exchange::{Lang, Password, Refusal, Store, UserId};

use super::already_done;
use super::exchange::foreign_ticket;
use super::{
    Fields, Params, blocking, error, forbidden, internal, language, page, post_session, signed_in,
};
use crate::pages::{self, LockRow, t};
use crate::session::{Posted, SignedIn};
use crate::{AppState, PER_PAGE};

/// Why an ID is locked, from its record: too many wrong codes, too many
/// wrong approval passwords, or an administrator's lock.
fn why_locked(lang: Lang, lock: &otp_exchange::IdLock, max: u32) -> Option<&'static str> {
    if !lock.locked {
        None
    } else if lock.codes.failures >= max {
        Some(t(
            lang,
            "too many wrong one-time passwords",
            "ワンタイムパスワード誤入力回数超過",
        ))
    } else if lock.passwords.failures >= max {
        Some(t(
            lang,
            "too many wrong approval passwords",
            "承認用パスワード誤入力回数超過",
        ))
    } else {
        Some(t(lang, "locked by an administrator", "管理者によるロック"))
    }
}

/// One page of users with their lock state, read for `user` (the
/// policy's `Bank::user_list` decides who may see it).
async fn rows<S: Store + 'static>(
    state: &AppState<S>,
    lang: Lang,
    user: &SignedIn,
    page_no: usize,
) -> Result<(Vec<LockRow>, String, usize), Response> {
    let operator = user.id.clone();
    let read = blocking(state, lang, move |bank| {
        let list = bank.user_list(&operator, page_no, PER_PAGE)?;
        let max = bank.policy().max_wrong_entries;
        let mut rows = Vec::with_capacity(list.rows.len());
        for row in &list.rows {
            let lock = bank
                .records()
                .user(&row.id)
                .map_err(Refusal::from)?
                .map(|u| u.lock)
                .unwrap_or_default();
            rows.push(LockRow {
                id: row.id.as_str().to_owned(),
                name: row.name.clone(),
                authority: row.authority.label(lang),
                locked: why_locked(lang, &lock, max),
            });
        }
        Ok::<_, Refusal>((rows, list.first, list.last, list.total))
    })
    .await?;
    match read {
        Err(refusal @ Refusal::Internal(_)) => {
            tracing::error!(reason = refusal.reason_code(), "the lock list was not read");
            Err(internal(lang))
        }
        Err(refusal) => Err(error(lang, StatusCode::FORBIDDEN, &refusal.message(lang))),
        Ok((rows, first, last, total)) => {
            let count = match lang {
                Lang::Ja => format!("{first}から{last}件/{total}件"),
                Lang::En => format!("{first} to {last} of {total}"),
            };
            Ok((rows, count, total.div_ceil(PER_PAGE).max(1)))
        }
    }
}

fn screen(
    lang: Lang,
    user: &SignedIn,
    (csrf, form): (&str, &str),
    read: (Vec<LockRow>, String, usize),
    page_no: usize,
    (message, notice): (Option<&str>, Option<&str>),
    cookies: &[String],
) -> Response {
    let (rows, count, pages) = read;
    let view = pages::Locks {
        rows: &rows,
        count,
        page: page_no,
        pages,
        message,
        notice,
        form,
    };
    page(
        StatusCode::OK,
        pages::locks(lang, user, csrf, &view),
        cookies,
    )
}

/// `GET /admin/locks?page=N`: the ID lock screen.
pub(crate) async fn locks<S: Store + 'static>(
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
    let read = match rows(&state, lang, &user, page_no).await {
        Err(r) => return r,
        Ok(v) => v,
    };
    let (csrf, form) = {
        let mut session = shared.lock().await;
        let Ok(form) = session.locks.issue() else {
            return internal(lang);
        };
        (session.csrf.clone(), form)
    };
    screen(
        lang,
        &user,
        (&csrf, &form),
        read,
        page_no,
        (None, None),
        &Vec::from_iter(cookies),
    )
}

/// `POST /admin/locks`: lock (`action=lock`) or unlock (`action=unlock`,
/// with the operator's approval password) the chosen ID; the screen again
/// with what was done or the refusal.
pub(crate) async fn lock_or_unlock<S: Store + 'static>(
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
    let page_no = params.page.unwrap_or(0);
    // The one form this session issued, taken before anything is done; the
    // form that already did its work shows what it did again.
    match session.locks.take(&form.ticket) {
        Posted::Fresh => {}
        Posted::Foreign => return foreign_ticket(lang),
        Posted::Again(said) => {
            let again = format!("{said}{}", already_done(lang));
            let Ok(next) = session.locks.issue() else {
                return internal(lang);
            };
            drop(session);
            return match rows(&state, lang, &user, page_no).await {
                Err(r) => r,
                Ok(read) => screen(
                    lang,
                    &user,
                    (&csrf, &next),
                    read,
                    page_no,
                    (None, Some(&again)),
                    &[],
                ),
            };
        }
    }
    let unlock = match form.action.as_str() {
        "lock" => false,
        "unlock" => true,
        _ => return forbidden(lang),
    };
    let shown = form.id.trim().to_owned();
    let operator = user.id.clone();
    let password = Password::new(&form.password);
    let outcome = match UserId::parse(&shown) {
        Err(_) => Ok(Err(Refusal::UnknownUser)),
        Ok(target) => {
            blocking(&state, lang, move |bank| {
                if unlock {
                    bank.unlock(&operator, &target, &password)
                } else {
                    bank.lock(&operator, &target)
                }
            })
            .await
        }
    };
    let (message, notice) = match outcome {
        Err(r) => return r,
        Ok(Err(Refusal::NotAdministrator)) => {
            return error(
                lang,
                StatusCode::FORBIDDEN,
                &Refusal::NotAdministrator.message(lang),
            );
        }
        Ok(Err(refusal)) => {
            tracing::info!(reason = refusal.reason_code(), "ID lock screen refused");
            (Some(refusal.message(lang)), None)
        }
        Ok(Ok(())) => {
            tracing::info!(unlock, "ID lock changed");
            if !unlock {
                state.metrics.lock();
            }
            let notice = match (lang, unlock) {
                (Lang::Ja, false) => format!("{shown} のIDをロックしました。"),
                (Lang::Ja, true) => format!("{shown} のIDロックを解除しました。"),
                (Lang::En, false) => format!("ID {shown} was locked."),
                (Lang::En, true) => format!("ID {shown} was unlocked."),
            };
            session.locks.finished(&form.ticket, notice.clone());
            (None, Some(notice))
        }
    };
    let Ok(next) = session.locks.issue() else {
        return internal(lang);
    };
    drop(session);
    match rows(&state, lang, &user, page_no).await {
        Err(r) => r,
        Ok(read) => screen(
            lang,
            &user,
            (&csrf, &next),
            read,
            page_no,
            (message.as_deref(), notice.as_deref()),
            &[],
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn why_an_id_is_locked() {
        let mut lock = otp_exchange::IdLock::default();
        assert_eq!(why_locked(Lang::Ja, &lock, 5), None);
        lock.locked = true;
        assert_eq!(why_locked(Lang::Ja, &lock, 5), Some("管理者によるロック"));
        lock.passwords.failures = 5;
        assert_eq!(
            why_locked(Lang::Ja, &lock, 5),
            Some("承認用パスワード誤入力回数超過")
        );
        lock.codes.failures = 5;
        assert_eq!(
            why_locked(Lang::En, &lock, 5),
            Some("too many wrong one-time passwords")
        );
    }
}
