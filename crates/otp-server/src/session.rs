//! Server-side sessions: a random 32-byte id from the operating system's
//! generator (the cookie holds only that id), the signed-in user, the CSRF
//! token, and the exchange's sealed ticket between requests. Idle sessions
//! expire after [`IDLE_TIMEOUT`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use otp_exchange::{Exchanged, UserId};
use subtle::ConstantTimeEq;

/// A session idle for this long is forgotten (the user signs in again).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "otp_session";

/// 32 random bytes from the operating system, base64url.
pub(crate) fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut bytes[..])?;
    Ok(URL_SAFE_NO_PAD.encode(&bytes[..]))
}

/// Constant-time comparison of two secrets as text.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The signed-in user.
#[derive(Clone, Debug)]
pub(crate) struct SignedIn {
    pub(crate) id: UserId,
    pub(crate) name: String,
    pub(crate) admin: bool,
}

/// One browser's state.
#[derive(Debug)]
pub(crate) struct SessionData {
    pub(crate) csrf: String,
    pub(crate) user: Option<SignedIn>,
    /// The exchange's pending state, sealed by the policy: the only ticket
    /// this session will accept on the next form.
    pub(crate) ticket: Option<String>,
    /// The last finished exchange and the ticket that finished it, so the
    /// same form posted again shows the outcome.
    pub(crate) done: Option<(String, Exchanged)>,
}

type Shared = Arc<tokio::sync::Mutex<SessionData>>;

/// All sessions of this server process.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<String, (Instant, Shared)>>,
}

impl Sessions {
    /// The live session with this id, touched (its idle time restarts).
    pub(crate) fn get(&self, id: &str) -> Option<Shared> {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        map.retain(|_, (seen, _)| now.duration_since(*seen) < IDLE_TIMEOUT);
        map.get_mut(id).map(|(seen, s)| {
            *seen = now;
            Arc::clone(s)
        })
    }

    /// A new session (a new id and a new CSRF token) for `user`.
    pub(crate) fn create(
        &self,
        user: Option<SignedIn>,
    ) -> Result<(String, Shared), getrandom::Error> {
        let id = random_token()?;
        let data = Arc::new(tokio::sync::Mutex::new(SessionData {
            csrf: random_token()?,
            user,
            ticket: None,
            done: None,
        }));
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.insert(id.clone(), (Instant::now(), Arc::clone(&data)));
        Ok((id, data))
    }

    /// Forgets a session (sign-out, or its id replaced at sign-in).
    pub(crate) fn remove(&self, id: &str) {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.remove(id);
    }
}
