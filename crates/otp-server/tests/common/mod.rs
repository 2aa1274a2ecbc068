//! What the HTTP tests share: the manual's bank behind the router, its
//! virtual tokens on the simulated clock, and a browser that follows
//! cookies and reads forms.

#![allow(dead_code, reason = "each test file uses a part of the helpers")]

pub(crate) mod outage;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use otp_exchange::scenario::{ADMIN_APPROVAL_PASSWORD, Scenario, script};
use otp_exchange::{Bank, HashCost, MemoryStore, TokenStatus, UserId};
use otp_provision::SerialNumber;
use otp_token::{SimClock, Token};
use tower::ServiceExt as _;

pub(crate) struct World {
    pub(crate) app: Router,
    pub(crate) bank: Arc<Bank<MemoryStore>>,
    pub(crate) clock: SimClock,
    pub(crate) tokens: BTreeMap<SerialNumber, Token>,
    pub(crate) admin: UserId,
    pub(crate) general: UserId,
}

impl World {
    pub(crate) fn new() -> Self {
        Self::with(|s| s)
    }

    pub(crate) fn with(
        f: impl FnOnce(otp_server::AppState<MemoryStore>) -> otp_server::AppState<MemoryStore>,
    ) -> Self {
        Self::with_policy(otp_exchange::Policy::default(), f)
    }

    /// The manual's bank under `policy`.
    pub(crate) fn with_policy(
        policy: otp_exchange::Policy,
        f: impl FnOnce(otp_server::AppState<MemoryStore>) -> otp_server::AppState<MemoryStore>,
    ) -> Self {
        Self::with_scenario(policy, |_| {}, f)
    }

    /// The manual's bank under `policy`, `prepare`d (tokens added,
    /// registered) before it is served.
    pub(crate) fn with_scenario(
        policy: otp_exchange::Policy,
        prepare: impl FnOnce(&mut Scenario<MemoryStore>),
        f: impl FnOnce(otp_server::AppState<MemoryStore>) -> otp_server::AppState<MemoryStore>,
    ) -> Self {
        let mut s = Scenario::setup(MemoryStore::new(), script::START, HashCost::TESTING).unwrap();
        s.bank = s.bank.with_policy(policy);
        prepare(&mut s);
        let Scenario {
            bank,
            clock,
            tokens,
            admin,
            general,
            ..
        } = s;
        let bank = Arc::new(bank);
        let app = otp_server::router(f(otp_server::AppState::new(Arc::clone(&bank))));
        Self {
            app,
            bank,
            clock,
            tokens,
            admin,
            general,
        }
    }

    pub(crate) fn token_of(&self, user: &UserId) -> Option<SerialNumber> {
        self.bank.records().user(user).unwrap().unwrap().token
    }

    pub(crate) fn stock(&self) -> Vec<SerialNumber> {
        self.tokens
            .keys()
            .filter(|s| {
                self.bank.records().token_status(s).unwrap() == Some(TokenStatus::Unassigned)
            })
            .copied()
            .collect()
    }

    /// Half a minute later, "1" pressed on this token.
    pub(crate) fn press(&mut self, serial: &SerialNumber) -> String {
        self.clock.advance(30);
        let now = otp_provision::Clock::now(&self.clock);
        self.tokens
            .get_mut(serial)
            .unwrap()
            .press(now)
            .unwrap()
            .code()
            .unwrap()
            .to_string()
    }

    /// Half a minute later, `challenge` typed on this keypad token.
    pub(crate) fn press_challenge(&mut self, serial: &SerialNumber, challenge: &str) -> String {
        self.clock.advance(30);
        let now = otp_provision::Clock::now(&self.clock);
        self.tokens
            .get_mut(serial)
            .unwrap()
            .press_challenge(now, challenge)
            .unwrap()
            .response()
            .unwrap()
            .to_string()
    }

    pub(crate) fn browser(&self) -> Browser {
        Browser {
            app: self.app.clone(),
            cookies: HashMap::new(),
        }
    }
}

pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Page {
    pub(crate) fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} in {}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').unwrap();
        self.body[start..start + end].to_owned()
    }

    pub(crate) fn has(&self, text: &str) -> bool {
        self.body.contains(text)
    }
}

pub(crate) struct Browser {
    pub(crate) app: Router,
    pub(crate) cookies: HashMap<String, String>,
}

impl Browser {
    pub(crate) async fn send(&mut self, req: Request<Body>) -> Page {
        let response = self.app.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        for c in headers.get_all(header::SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (kv, _) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=').unwrap();
            if c.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Page {
            status,
            headers,
            body: String::from_utf8(body.to_vec()).unwrap(),
        }
    }

    /// Another handle on the same browser's cookies (two tabs posting at once).
    pub(crate) fn clone_view(&self) -> Self {
        Self {
            app: self.app.clone(),
            cookies: self.cookies.clone(),
        }
    }

    pub(crate) fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub(crate) async fn get(&mut self, path: &str) -> Page {
        let req = Request::get(path)
            .header(header::COOKIE, self.cookie_header())
            .body(Body::empty())
            .unwrap();
        self.send(req).await
    }

    pub(crate) async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", percent(v)))
            .collect::<Vec<_>>()
            .join("&");
        let req = Request::post(path)
            .header(header::COOKIE, self.cookie_header())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        self.send(req).await
    }

    /// Signs in; returns the page the redirect leads to.
    /// Signs in with the manual's login password (every user of the
    /// scenario has it) and `code`, following the redirect.
    pub(crate) async fn sign_in(&mut self, id: &str, code: &str) -> Page {
        self.sign_in_with(id, otp_exchange::scenario::LOGIN_PASSWORD, code)
            .await
    }

    /// Signs in with this login password and code, following the redirect.
    pub(crate) async fn sign_in_with(&mut self, id: &str, password: &str, code: &str) -> Page {
        let login = self.get("/login").await;
        let csrf = login.field("csrf");
        let answer = self
            .post(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("id", id),
                    ("password", password),
                    ("code", code),
                ],
            )
            .await;
        if answer.status == StatusCode::SEE_OTHER {
            let to = answer.headers[header::LOCATION]
                .to_str()
                .unwrap()
                .to_owned();
            self.get(&to).await
        } else {
            answer
        }
    }
}

pub(crate) fn percent(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Signs W0001 in with a fresh code; returns the menu.
pub(crate) async fn admin_in(w: &mut World, b: &mut Browser) -> Page {
    let serial = w.token_of(&w.admin).unwrap();
    let code = w.press(&serial);
    let menu = b.sign_in("W0001", &code).await;
    assert_eq!(menu.status, StatusCode::OK);
    menu
}

/// Signs W0002 in with a fresh code from their token; returns the answer.
pub(crate) async fn general_in(w: &mut World) -> Page {
    let serial = w.token_of(&w.general).unwrap();
    let code = w.press(&serial);
    w.browser().sign_in("W0002", &code).await
}

/// The manual's exchange for W0002 through the screens, signed in as
/// W0001 in `b`; returns the new token's serial and the codes typed.
pub(crate) async fn exchange_w0002(w: &mut World, b: &mut Browser) -> (SerialNumber, Vec<String>) {
    admin_in(w, b).await;
    let screen3 = b.get("/admin/user?id=W0002").await;
    let csrf = screen3.field("csrf");
    let screen4 = b
        .post("/admin/exchange", &[("csrf", &csrf), ("id", "W0002")])
        .await;
    let old = w.token_of(&w.general).unwrap();
    let current = w.press(&old);
    let screen5 = b
        .post(
            "/admin/exchange/current",
            &[
                ("csrf", &csrf),
                ("ticket", &screen4.field("ticket")),
                ("code", &current),
            ],
        )
        .await;
    let new = w.stock()[0];
    let code = w.press(&new);
    let done = b
        .post(
            "/admin/exchange/new",
            &[
                ("csrf", &csrf),
                ("ticket", &screen5.field("ticket")),
                ("serial", new.as_str()),
                ("code", &code),
                ("password", ADMIN_APPROVAL_PASSWORD),
            ],
        )
        .await;
    assert!(done.has("ただいまから有効となります"), "{}", done.body);
    (new, vec![current, code])
}

/// The body without the form's CSRF token (random text that may hold digits).
pub(crate) fn without_csrf(page: &Page) -> String {
    page.body.replace(&page.field("csrf"), "")
}

/// Everything the server logs, at every level.
#[derive(Clone, Default)]
pub(crate) struct Capture(pub(crate) Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    /// The process's one capture, installed once as the global subscriber:
    /// every thread's events reach it (a subscriber set for one thread can
    /// miss events of call sites other tests run at the same time). Only
    /// `tests/logs.rs` uses it.
    #[allow(dead_code)]
    pub(crate) fn global() -> Capture {
        static GLOBAL: std::sync::OnceLock<Capture> = std::sync::OnceLock::new();
        GLOBAL
            .get_or_init(|| {
                let logs = Capture::default();
                tracing::subscriber::set_global_default(logs.subscriber()).unwrap();
                logs
            })
            .clone()
    }

    /// A subscriber writing every level here (no timestamps: their
    /// microseconds could match a 6-digit code).
    pub(crate) fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + use<> {
        let writer = self.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .without_time()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish()
    }

    /// What was logged so far.
    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}
