//! API keys on requests: `Authorization: Bearer otpk_<id>_<secret>`.
//! Every failure (no header, another scheme, a malformed key, an unknown
//! id, a wrong secret, a revoked key) is the same `401 unauthorized`; a
//! valid key whose scope is too small is `403 forbidden_scope`; a key over
//! its rate is `429 rate_limited`. All of it before the body is read.
//!
//! Records are cached per node for at most [`KEY_CACHE_TTL`] (a revoked
//! key is refused on every node within that time); the secret is compared
//! (SHA-256, constant time) on every request. A key's `last_used_at` is
//! written at most once per [`TOUCH_INTERVAL`] per node.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use otp_exchange::{ApiKeyRecord, ApiKeyRefused, ApiScope, Store, split_api_key};

use super::ApiState;
use super::problem::Problem;

/// How long a node trusts a key record it read (revocation takes effect
/// on every node within this time).
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(5);

/// How often at most a node writes a key's `last_used_at`.
pub const TOUCH_INTERVAL: Duration = Duration::from_secs(60);

/// How many keys a node caches (and remembers the last write of) at most.
const MAX_CACHED_KEYS: usize = 10_000;

/// The key records read recently, and when each key's use was last written.
#[derive(Debug, Default)]
pub(crate) struct KeyCache {
    records: Mutex<HashMap<String, (ApiKeyRecord, Instant)>>,
    touched: Mutex<HashMap<String, Instant>>,
}

impl KeyCache {
    fn get(&self, id: &str, now: Instant) -> Option<ApiKeyRecord> {
        let records = self.records.lock().ok()?;
        records
            .get(id)
            .filter(|(_, at)| now.saturating_duration_since(*at) < KEY_CACHE_TTL)
            .map(|(r, _)| r.clone())
    }

    fn put(&self, record: &ApiKeyRecord, now: Instant) {
        if let Ok(mut records) = self.records.lock() {
            if records.len() >= MAX_CACHED_KEYS {
                records.retain(|_, (_, at)| now.saturating_duration_since(*at) < KEY_CACHE_TTL);
            }
            if records.len() < MAX_CACHED_KEYS {
                records.insert(record.id.clone(), (record.clone(), now));
            }
        }
    }

    /// Whether this key's use should be written now (and notes it).
    fn should_touch(&self, id: &str, now: Instant) -> bool {
        let Ok(mut touched) = self.touched.lock() else {
            return false;
        };
        if touched
            .get(id)
            .is_some_and(|at| now.saturating_duration_since(*at) < TOUCH_INTERVAL)
        {
            return false;
        }
        if touched.len() >= MAX_CACHED_KEYS {
            touched.retain(|_, at| now.saturating_duration_since(*at) < TOUCH_INTERVAL);
            if touched.len() >= MAX_CACHED_KEYS {
                return false;
            }
        }
        touched.insert(id.to_owned(), now);
        true
    }
}

/// The presented key from `Authorization: Bearer <key>` (scheme matched
/// without case), or `None`.
fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| key.trim())
        .filter(|k| !k.is_empty())
}

/// The caller's valid key of at least `needed` scope, within its rate.
async fn authenticate<S: Store + 'static>(
    parts: &Parts,
    state: &ApiState<S>,
    needed: ApiScope,
) -> Result<ApiKeyRecord, Problem> {
    let presented = bearer(parts).ok_or_else(Problem::unauthorized)?;
    let (id, secret) = split_api_key(presented).ok_or_else(Problem::unauthorized)?;
    let now = Instant::now();
    let cached = state.keys.get(id, now);
    let record = match cached {
        Some(record) => Some(record),
        None => {
            let id = id.to_owned();
            let read = state
                .blocking(move |bank| bank.records().api_key(&id))
                .await?;
            match read {
                Ok(record) => {
                    if let Some(r) = &record {
                        state.keys.put(r, now);
                    }
                    record
                }
                Err(e) => {
                    tracing::error!(error = %e, "an API key could not be read");
                    state.metrics.store_error();
                    return Err(Problem::store_unavailable());
                }
            }
        }
    };
    let record = match state.bank.verify_api_key(record, secret) {
        Ok(record) => record,
        Err(ApiKeyRefused::Unauthorized) => {
            tracing::info!(key = %id, "an API key was refused");
            return Err(Problem::unauthorized());
        }
        Err(e) => {
            tracing::error!(error = %e, "an API key could not be checked");
            state.metrics.store_error();
            return Err(Problem::store_unavailable());
        }
    };
    if !record.scope.allows(needed) {
        return Err(Problem::forbidden_scope());
    }
    if let Err(seconds) = state.key_limit.check(&record.id, now) {
        state.metrics.rate_limited();
        return Err(Problem::rate_limited(seconds));
    }
    if state.keys.should_touch(&record.id, now) {
        let bank = std::sync::Arc::clone(&state.bank);
        let metrics = std::sync::Arc::clone(&state.metrics);
        let id = record.id.clone();
        // Not awaited: the answer does not wait for the bookkeeping.
        drop(tokio::task::spawn_blocking(move || {
            if let Err(e) = bank.record_api_key_use(&id) {
                metrics.store_error();
                tracing::warn!(error = %e, key = %id, "an API key's last use was not written");
            }
        }));
    }
    Ok(record)
}

/// A caller with a valid key of any scope (`validate` or `admin`).
#[derive(Debug, Clone)]
pub struct ValidateKey(pub ApiKeyRecord);

/// A caller with a valid `admin`-scope key (a `validate` key is `403
/// forbidden_scope`). An admin operation also needs the administrator's
/// own sign-in.
#[derive(Debug, Clone)]
pub struct AdminKey(pub ApiKeyRecord);

impl<S: Store + 'static> FromRequestParts<ApiState<S>> for ValidateKey {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState<S>,
    ) -> Result<Self, Self::Rejection> {
        authenticate(parts, state, ApiScope::Validate)
            .await
            .map(Self)
    }
}

impl<S: Store + 'static> FromRequestParts<ApiState<S>> for AdminKey {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState<S>,
    ) -> Result<Self, Self::Rejection> {
        authenticate(parts, state, ApiScope::Admin).await.map(Self)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::post;
    use otp_exchange::scenario::{Scenario, script};
    use otp_exchange::{ApiScope, HashCost, MemoryStore};
    use tower::ServiceExt as _;

    use super::*;

    async fn status(app: &Router, key: &str) -> (StatusCode, String) {
        let response = app
            .clone()
            .oneshot(
                Request::post("/admin-only")
                    .header(header::AUTHORIZATION, format!("Bearer {key}"))
                    .body(Body::from("not even JSON"))
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = response.status();
        let reason = response
            .extensions()
            .get::<Problem>()
            .map(|p| p.reason().to_owned())
            .unwrap_or_default();
        (status, reason)
    }

    #[tokio::test]
    async fn a_validate_key_is_403_forbidden_scope_on_an_admin_route_before_the_body() {
        let scenario =
            Scenario::setup(MemoryStore::new(), script::START, HashCost::TESTING).unwrap();
        let bank = Arc::new(scenario.bank);
        let validate = bank
            .create_api_key("ops", "web", ApiScope::Validate)
            .unwrap()
            .plaintext()
            .to_owned();
        let admin = bank
            .create_api_key("ops", "core", ApiScope::Admin)
            .unwrap()
            .plaintext()
            .to_owned();
        let state = ApiState::new(&crate::AppState::new(Arc::clone(&bank)));
        let app = Router::new()
            .route(
                "/admin-only",
                post(|_key: AdminKey, _body: String| async { StatusCode::NO_CONTENT }),
            )
            .with_state(state);
        assert_eq!(
            status(&app, &validate).await,
            (StatusCode::FORBIDDEN, "forbidden_scope".to_owned())
        );
        assert_eq!(
            status(&app, &admin).await,
            (StatusCode::NO_CONTENT, String::new())
        );
        let mut wrong = admin.clone();
        wrong.pop();
        wrong.push(if admin.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(
            status(&app, &wrong).await,
            (StatusCode::UNAUTHORIZED, "unauthorized".to_owned())
        );
    }
}
