//! Headless Chromium through a chromedriver started for the test, with
//! explicit waits (poll until the page shows what is expected, or fail
//! after [`WAIT`]) and screenshots under `target/screens/`.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

/// The longest wait for a page or an element.
pub(crate) const WAIT: Duration = Duration::from_secs(10);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(50);
/// The window, fixed so that the screenshots are stable.
pub(crate) const WIDTH: u32 = 1000;
/// See [`WIDTH`].
pub(crate) const HEIGHT: u32 = 800;

/// WebDriver key codes.
pub(crate) struct Key;

impl Key {
    /// Tab.
    pub(crate) const TAB: &'static str = "\u{e004}";
    /// Enter.
    pub(crate) const ENTER: &'static str = "\u{e007}";
    /// The down arrow (moves between the radios of one group).
    pub(crate) const DOWN: &'static str = "\u{e015}";
}

fn chromedriver_path() -> String {
    std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".to_owned())
}

fn chromium_path() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned())
}

/// `target/screens/` (the parent of `CARGO_TARGET_TMPDIR`, so it follows
/// `CARGO_TARGET_DIR`).
pub(crate) fn screens_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let target = tmp.parent().map_or_else(|| tmp.clone(), PathBuf::from);
    target.join("screens")
}

fn free_loopback_port() -> u16 {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    l.local_addr().unwrap().port()
}

/// A chromedriver child process on a loopback port; shut down (its browsers
/// with it) and killed on drop.
struct Driver {
    child: Child,
    addr: SocketAddr,
}

impl Driver {
    fn start() -> Self {
        let port = free_loopback_port();
        let child = Command::new(chromedriver_path())
            .arg(format!("--port={port}"))
            // No log file: chromedriver's log would hold every key typed,
            // the approval password included.
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} ({e}): install chromium, chromium-driver and fonts-noto-cjk \
                     (apt-get install chromium chromium-driver fonts-noto-cjk), or set CHROMEDRIVER",
                    chromedriver_path()
                )
            });
        let mut driver = Self {
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        };
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = driver.child.try_wait().unwrap() {
                panic!("chromedriver exited at start: {status}");
            }
            if driver.status_ready() {
                return driver;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on {} within {WAIT:?}",
                driver.addr
            );
            std::thread::sleep(POLL);
        }
    }

    /// One plain HTTP/1.1 request on loopback; the answer as text.
    fn request(&self, method: &str, path: &str) -> Option<String> {
        let mut s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .ok()?;
        // chromedriver may keep the connection open: read what comes until
        // the body's end (`}`), the end of the stream, or a second of silence.
        let mut answer = Vec::new();
        let mut chunk = [0_u8; 4096];
        while let Ok(n @ 1..) = s.read(&mut chunk) {
            answer.extend_from_slice(&chunk[..n]);
            if answer.ends_with(b"}") {
                break;
            }
        }
        (!answer.is_empty()).then(|| String::from_utf8_lossy(&answer).into_owned())
    }

    fn status_ready(&self) -> bool {
        self.request("GET", "/status")
            .is_some_and(|a| a.starts_with("HTTP/1.1 200") && a.contains("\"ready\":true"))
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // `/shutdown` quits the sessions' browsers too; then make sure.
        let _ = self.request("GET", "/shutdown");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(POLL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless Chromium session, its own fresh profile.
pub(crate) struct Browser {
    client: Client,
    // Dropped in this order: the driver (and its browser), then the profile.
    _driver: Driver,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium, 1000×800, offline.
    pub(crate) async fn start() -> Self {
        let driver = Driver::start();
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--no-default-browser-check".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--hide-scrollbars".to_owned(),
            "--force-device-scale-factor=1".to_owned(),
            format!("--window-size={WIDTH},{HEIGHT}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium_path(), "args": args },
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!()
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&driver.url())
            .await
            .unwrap_or_else(|e| panic!("no Chromium session ({e}); is {} there?", chromium_path()));
        // The viewport is the window less the browser's own frame: grow the
        // window by the difference, measured on a screenshot (no script).
        let png = client.screenshot().await.unwrap();
        let (_, viewport_height) = png_size(&png);
        let frame = HEIGHT.saturating_sub(viewport_height);
        client.set_window_size(WIDTH, HEIGHT + frame).await.unwrap();
        assert_eq!(
            png_size(&client.screenshot().await.unwrap()),
            (WIDTH, HEIGHT),
            "the viewport"
        );
        Self {
            client,
            _driver: driver,
            _profile: profile,
        }
    }

    /// Ends the session (the driver goes on drop).
    pub(crate) async fn quit(self) {
        self.client.clone().close().await.unwrap();
    }

    /// Opens a URL.
    pub(crate) async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// The current URL's path.
    pub(crate) async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_owned()
    }

    /// The current URL's path and query.
    pub(crate) async fn path_and_query(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// The document's title.
    pub(crate) async fn title(&self) -> String {
        self.client.title().await.unwrap()
    }

    /// `<html lang>`.
    pub(crate) async fn lang(&self) -> String {
        self.find("html")
            .await
            .attr("lang")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    async fn find(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .every(POLL)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => e,
            Err(e) => panic!("no {css} within {WAIT:?} ({e}) on {}", self.dump().await),
        }
    }

    /// What the page says, for a failure's message.
    async fn dump(&self) -> String {
        let url = self.client.current_url().await.map(|u| u.to_string());
        let body = match self.client.find(Locator::Css("body")).await {
            Ok(b) => b.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        format!("{url:?}:\n{body}")
    }

    /// An element's rendered text.
    pub(crate) async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    /// The rendered text of every element matching.
    pub(crate) async fn texts(&self, css: &str) -> Vec<String> {
        let mut out = Vec::new();
        for e in self.client.find_all(Locator::Css(css)).await.unwrap() {
            out.push(e.text().await.unwrap());
        }
        out
    }

    /// The whole page's rendered text.
    pub(crate) async fn body(&self) -> String {
        self.text("body").await
    }

    /// A form field's current value.
    pub(crate) async fn value(&self, css: &str) -> String {
        self.find(css)
            .await
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    /// A computed CSS length in pixels (`font-size`, `width`, ...).
    pub(crate) async fn css_px(&self, css: &str, property: &str) -> f64 {
        let value = self.find(css).await.css_value(property).await.unwrap();
        let number = value.strip_suffix("px").unwrap_or(&value);
        number
            .parse()
            .unwrap_or_else(|e| panic!("{css} {property}: {value} ({e})"))
    }

    /// Whether a radio or checkbox is checked.
    pub(crate) async fn selected(&self, css: &str) -> bool {
        self.find(css).await.is_selected().await.unwrap()
    }

    /// Waits until the page's `<h1>` reads exactly `title`.
    pub(crate) async fn wait_h1(&self, title: &str) {
        self.wait_text("main h1", title).await;
    }

    /// Waits until the page's refusal reads exactly `message` (each step
    /// of a flow expects another refusal than the page before showed).
    pub(crate) async fn wait_refusal(&self, message: &str) {
        self.wait_text("p.refusal[role=alert]", message).await;
    }

    /// Waits until an element reads exactly `text`.
    async fn wait_text(&self, css: &str, text: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let shown = match self.client.find(Locator::Css(css)).await {
                Ok(e) => e.text().await.ok(),
                Err(_) => None,
            };
            if shown.as_deref() == Some(text) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {css} reading {text} within {WAIT:?}: {}",
                self.dump().await
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Clicks an element; a button or a link loads a page, and the call
    /// returns only once the page it was on is gone (so that the next
    /// look is at the new page, even when it has the same heading).
    pub(crate) async fn click(&self, css: &str) {
        let element = self.find(css).await;
        let loads = matches!(element.tag_name().await.unwrap().as_str(), "button" | "a");
        let page = self.page().await;
        element.click().await.unwrap();
        if loads {
            self.left(page).await;
        }
    }

    /// The page's root element, to tell later whether the page has gone.
    async fn page(&self) -> Element {
        self.client.find(Locator::Css("html")).await.unwrap()
    }

    /// Waits until `page` (from [`Self::page`]) is no longer the page shown.
    async fn left(&self, page: Element) {
        let deadline = Instant::now() + WAIT;
        while page.tag_name().await.is_ok() {
            assert!(
                Instant::now() < deadline,
                "the page did not change within {WAIT:?}: {}",
                self.dump().await
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Clicks a link by its exact text.
    pub(crate) async fn click_link(&self, text: &str) {
        let link = self
            .client
            .wait()
            .at_most(WAIT)
            .every(POLL)
            .for_element(Locator::LinkText(text))
            .await
            .unwrap();
        let page = self.page().await;
        link.click().await.unwrap();
        self.left(page).await;
    }

    /// Types into a field (after what it holds).
    pub(crate) async fn type_into(&self, css: &str, text: &str) {
        self.find(css).await.send_keys(text).await.unwrap();
    }

    /// Empties a field.
    pub(crate) async fn clear(&self, css: &str) {
        self.find(css).await.clear().await.unwrap();
    }

    /// A cookie's value, if the browser holds it for the page.
    pub(crate) async fn cookie(&self, name: &str) -> Option<String> {
        self.client
            .get_all_cookies()
            .await
            .unwrap()
            .iter()
            .find(|c| c.name() == name)
            .map(|c| c.value().to_owned())
    }

    /// Keys (characters or [`Key`] codes) typed into whatever has the focus.
    pub(crate) async fn keys(&self, keys: &str) {
        let active = self.client.active_element().await.unwrap();
        active.send_keys(keys).await.unwrap();
    }

    /// Presses Enter on whatever has the focus, which submits its form or
    /// follows its link, and waits until the page it was on is gone.
    pub(crate) async fn enter(&self) {
        let page = self.page().await;
        self.keys(Key::ENTER).await;
        self.left(page).await;
    }

    /// Whether the focus is on the element.
    pub(crate) async fn is_active(&self, css: &str) -> bool {
        let target = self.find(css).await;
        let active = self.client.active_element().await.unwrap();
        active.element_id() == target.element_id()
    }

    /// Presses Tab until the focus is on the element (at most 40 times):
    /// the element is reachable by keyboard, and shows that it has the
    /// focus (an outline).
    pub(crate) async fn tab_to(&self, css: &str) {
        let target = self.find(css).await;
        for _ in 0..40 {
            self.keys(Key::TAB).await;
            let active = self.client.active_element().await.unwrap();
            if active.element_id() == target.element_id() {
                let outline = active.css_value("outline-style").await.unwrap();
                assert_ne!(outline, "none", "{css} shows no focus");
                return;
            }
        }
        panic!("Tab never reaches {css} on {}", self.dump().await);
    }

    /// Saves the viewport as `target/screens/NAME.png`.
    pub(crate) async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        assert_eq!(png_size(&png), (WIDTH, HEIGHT), "{name}");
        let dir = screens_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

/// A PNG's width and height (its IHDR chunk).
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}
