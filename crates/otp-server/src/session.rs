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

/// At most this many sessions live at once (signed in or not): beyond it,
/// after forgetting the idle ones, a new one is refused (503) rather than
/// letting anonymous requests fill the memory.
pub const MAX_SESSIONS: usize = 100_000;

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
    /// Whether this administrator has an approval password (承認用パスワード);
    /// without one, the forms ask for the per-transfer confirmation
    /// password (都度振込送信確認用パスワード), as the manual says. Read
    /// again from the records on every administrator's request.
    pub(crate) approval: bool,
    /// This sign-in's time as the header shows it (`2020/10/01 11:00`, the
    /// bank's zone).
    pub(crate) login_at: String,
    /// The user's login before this one, as the header shows it; `None`
    /// for a first login.
    pub(crate) previous_login: Option<String>,
}

/// One browser's state. `Debug` shows who is signed in and whether a
/// flow is pending, never the CSRF token or a ticket.
pub(crate) struct SessionData {
    pub(crate) csrf: String,
    pub(crate) user: Option<SignedIn>,
    /// The exchange's pending state, sealed by the policy: the only ticket
    /// this session will accept on the next form.
    pub(crate) ticket: Option<String>,
    /// The last finished exchange and the ticket that finished it, so the
    /// same form posted again shows the outcome.
    pub(crate) done: Option<(String, Exchanged)>,
    /// The unregistration (登録解除) form this session issued: its random
    /// one-time form ticket and whose token it is about. The policy's
    /// `Bank::unregister` is one call, so the server keeps this itself.
    pub(crate) unregister: Option<(String, UserId)>,
    /// The last unregistration done and the form ticket that did it, so
    /// the same form posted again shows the outcome.
    pub(crate) unregistered: Option<(String, UserId)>,
    /// The ID lock screen's form: each lock or unlock is posted once (an
    /// unlock counts toward the ID's daily limit, so a double click must
    /// not spend two).
    pub(crate) locks: OneTimeForm,
    /// The usage mode screen's form (利用形態設定), posted once.
    pub(crate) usage: OneTimeForm,
}

/// A screen whose form does one thing once: the random one-time ticket the
/// session issued with the form, and the ticket that did the last thing
/// with what the screen said then, so the same form posted again (a
/// double click, the back button) shows that instead of doing it again.
#[derive(Default)]
pub(crate) struct OneTimeForm {
    held: Option<String>,
    done: Option<(String, String)>,
}

/// What a posted one-time form ticket is.
pub(crate) enum Posted {
    /// The one this session issued: taken; go on.
    Fresh,
    /// The one that did the last thing: what the screen said then.
    Again(String),
    /// Not this session's.
    Foreign,
}

impl OneTimeForm {
    /// A new ticket for the form about to be shown (the one before it is
    /// no longer accepted).
    pub(crate) fn issue(&mut self) -> Result<String, getrandom::Error> {
        let ticket = random_token()?;
        self.held = Some(ticket.clone());
        Ok(ticket)
    }

    /// The posted ticket, compared in constant time; a fresh one is taken
    /// out before anything is done.
    pub(crate) fn take(&mut self, posted: &str) -> Posted {
        match self.held.take() {
            Some(held) if same_secret(&held, posted) => Posted::Fresh,
            held => {
                self.held = held;
                match &self.done {
                    Some((done, said)) if same_secret(done, posted) => Posted::Again(said.clone()),
                    _ => Posted::Foreign,
                }
            }
        }
    }

    /// The thing `posted` did, and what the screen said.
    pub(crate) fn finished(&mut self, posted: &str, said: String) {
        self.done = Some((posted.to_owned(), said));
    }
}

impl core::fmt::Debug for SessionData {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SessionData")
            .field("user", &self.user)
            .field("ticket", &self.ticket.is_some())
            .field("done", &self.done.is_some())
            .field("unregister", &self.unregister.is_some())
            .field("unregistered", &self.unregistered.is_some())
            .finish_non_exhaustive()
    }
}

type Shared = Arc<tokio::sync::Mutex<SessionData>>;

/// Why no session could be created.
#[derive(Debug)]
pub(crate) enum CreateError {
    /// The operating system's random number generator failed.
    Random(getrandom::Error),
    /// [`MAX_SESSIONS`] (or the configured limit) live sessions already.
    Full,
}

impl core::fmt::Display for CreateError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Random(e) => write!(f, "no random session id: {e}"),
            Self::Full => f.write_str("too many live sessions"),
        }
    }
}

/// One session in the table: last used, signed in, its data.
type Entry = (Instant, bool, Shared);

/// All sessions of this server process. `Debug` shows how many there
/// are, never their ids (each is a bearer secret).
pub(crate) struct Sessions {
    /// Each session: when it was last used, whether a user is signed in
    /// to it (fixed at creation: sign-in makes a new session), its data.
    map: Mutex<HashMap<String, Entry>>,
    idle: Duration,
    max: usize,
}

impl core::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let live = self.map.lock().map_or(0, |m| m.len());
        f.debug_struct("Sessions")
            .field("live", &live)
            .field("idle", &self.idle)
            .field("max", &self.max)
            .finish()
    }
}

impl Sessions {
    /// No session yet; each forgotten after `idle`, at most `max` at once.
    pub(crate) fn new(idle: Duration, max: usize) -> Self {
        Self {
            map: Mutex::default(),
            idle,
            max,
        }
    }

    /// The live session with this id, touched (its idle time restarts).
    pub(crate) fn get(&self, id: &str) -> Option<Shared> {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        match map.get_mut(id) {
            Some((seen, _, _)) if now.duration_since(*seen) >= self.idle => {
                map.remove(id);
                None
            }
            Some((seen, _, s)) => {
                *seen = now;
                Some(Arc::clone(s))
            }
            None => None,
        }
    }

    /// A new session (a new id and a new CSRF token) for `user`.
    ///
    /// At the limit, after the idle sessions are forgotten, the least
    /// recently used anonymous session (a visitor of the sign-in or demo
    /// page) makes room, so a flood of visitors can neither fill the table
    /// nor push out a signed-in session; [`CreateError::Full`] only when
    /// every live session is signed in.
    pub(crate) fn create(&self, user: Option<SignedIn>) -> Result<(String, Shared), CreateError> {
        let signed_in = user.is_some();
        let id = random_token().map_err(CreateError::Random)?;
        let data = Arc::new(tokio::sync::Mutex::new(SessionData {
            csrf: random_token().map_err(CreateError::Random)?,
            user,
            ticket: None,
            done: None,
            unregister: None,
            unregistered: None,
            locks: OneTimeForm::default(),
            usage: OneTimeForm::default(),
        }));
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // The idle ones are forgotten now and then (every 256 new
        // sessions), and always before refusing one.
        if map.len() >= self.max || map.len() % 256 == 255 {
            let now = Instant::now();
            let idle = self.idle;
            map.retain(|_, (seen, _, _)| now.duration_since(*seen) < idle);
            if map.len() >= self.max {
                let oldest_visitor = map
                    .iter()
                    .filter(|(_, (_, signed, _))| !signed)
                    .min_by_key(|(_, (seen, _, _))| *seen)
                    .map(|(id, _)| id.clone());
                match oldest_visitor {
                    Some(old) => {
                        map.remove(&old);
                    }
                    None => return Err(CreateError::Full),
                }
            }
        }
        map.insert(id.clone(), (Instant::now(), signed_in, Arc::clone(&data)));
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

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    /// Session ids, CSRF tokens and tickets are bearer secrets: a `{:?}` of
    /// the sessions (a log line, a panic message) must show none of them.
    #[test]
    fn debug_shows_no_session_id_csrf_token_or_ticket() {
        let sessions = Sessions::new(Duration::from_secs(600), 10);
        let (id, shared) = sessions.create(None).unwrap();
        let (csrf, ticket) = {
            let mut data = shared.try_lock().unwrap();
            data.ticket = Some("sealed-ticket-text".to_owned());
            (data.csrf.clone(), "sealed-ticket-text")
        };
        let shown = format!("{sessions:?} {:?}", shared.try_lock().unwrap());
        for secret in [id.as_str(), csrf.as_str(), ticket] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("Sessions"), "{shown}");
    }
}
