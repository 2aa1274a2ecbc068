//! The manual's exchange in a real browser: headless Chromium driven through
//! WebDriver (chromedriver, `fantoccini`), against the server started in
//! this process on 127.0.0.1 over the manual's bank (`Scenario::setup`).
//! Codes come from the scenario's virtual tokens on the scenario's clock,
//! which is also the bank's: each press moves it 30 s on, so a code is never
//! the one used just before.
//!
//! The tests need `chromium`, `chromium-driver` and `fonts-noto-cjk`
//! (`.ci/run` installs them), so they are ignored by a plain `cargo test`:
//!
//! ```text
//! cargo test -p otp-server --test browser -- --ignored
//! ```
//!
//! Run with `--ignored`, a missing chromedriver or Chromium is a failure,
//! not a skip. `CHROMEDRIVER` and `CHROMIUM` override the two paths.
//! Every screen is saved as a PNG under `target/screens/`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod chrome;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrome::{Browser, Key};
use otp_exchange::scenario::{ADMIN_APPROVAL_PASSWORD, LOGIN_PASSWORD, Scenario, script};
use otp_exchange::{Bank, HashCost, Lang, MemoryStore, Refusal, TokenStatus, UserId, Which};
use otp_provision::SerialNumber;
use otp_token::{SimClock, Token};

/// The manual's bank served on a loopback port by this process.
struct World {
    bank: Arc<Bank<MemoryStore>>,
    clock: SimClock,
    tokens: Arc<Mutex<BTreeMap<SerialNumber, Token>>>,
    admin: UserId,
    general: UserId,
    base: String,
    server: tokio::task::JoinHandle<()>,
}

impl World {
    async fn serve() -> Self {
        let s = Scenario::setup(MemoryStore::new(), script::START, HashCost::TESTING).unwrap();
        let Scenario {
            bank,
            clock,
            tokens,
            admin,
            general,
            ..
        } = s;
        let bank = Arc::new(bank);
        let tokens = Arc::new(Mutex::new(tokens));
        let app = otp_server::router(
            otp_server::AppState::new(Arc::clone(&bank))
                .with_demo_tokens(demo_page(Arc::clone(&tokens), clock.clone())),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        assert!(addr.ip().is_loopback());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            bank,
            clock,
            tokens,
            admin,
            general,
            base: format!("http://{addr}"),
            server,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn token_of(&self, user: &UserId) -> Option<SerialNumber> {
        self.bank.records().user(user).unwrap().unwrap().token
    }

    fn stock(&self) -> Vec<SerialNumber> {
        self.tokens
            .lock()
            .unwrap()
            .keys()
            .filter(|s| {
                self.bank.records().token_status(s).unwrap() == Some(TokenStatus::Unassigned)
            })
            .copied()
            .collect()
    }

    /// Half a minute later, "1" pressed on this token: its display.
    fn press(&mut self, serial: &SerialNumber) -> String {
        self.clock.advance(30);
        self.display(serial)
    }

    /// "1" pressed on this token now: its display.
    fn display(&self, serial: &SerialNumber) -> String {
        let now = otp_provision::Clock::now(&self.clock);
        self.tokens
            .lock()
            .unwrap()
            .get_mut(serial)
            .unwrap()
            .press(now)
            .unwrap()
            .code()
            .unwrap()
            .to_string()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// `/demo/tokens` as `otp serve --demo` has it: each token's "1" pressed
/// on the scenario's clock.
struct Devices {
    tokens: Arc<Mutex<BTreeMap<SerialNumber, Token>>>,
    clock: SimClock,
}

impl otp_server::DemoTokens for Devices {
    fn serials(&self) -> Vec<String> {
        let tokens = self.tokens.lock().unwrap();
        tokens.keys().map(|s| s.as_str().to_owned()).collect()
    }

    fn press(&self, serial: &str) -> Option<String> {
        let serial = SerialNumber::parse(serial).ok()?;
        let now = otp_provision::Clock::now(&self.clock);
        let mut tokens = self.tokens.lock().unwrap();
        let screen = tokens.get_mut(&serial)?.press(now).ok()?;
        screen.code().map(|c| c.to_string())
    }
}

fn demo_page(
    tokens: Arc<Mutex<BTreeMap<SerialNumber, Token>>>,
    clock: SimClock,
) -> Arc<dyn otp_server::DemoTokens> {
    Arc::new(Devices { tokens, clock })
}

/// Each test is done within a minute, or fails (a hung browser or driver
/// included: dropping the walk shuts the driver and its browser down).
async fn within_a_minute(walk: impl Future<Output = ()>) {
    let limit = Duration::from_secs(60);
    tokio::time::timeout(limit, walk)
        .await
        .unwrap_or_else(|_| panic!("not done within {limit:?}"));
}

/// Types the sign-in fields on the sign-in page and clicks the button.
async fn sign_in_by_clicks(b: &Browser, id: &str, code: &str) {
    b.clear("input[name=id]").await;
    b.type_into("input[name=id]", id).await;
    b.type_into("input[name=password]", LOGIN_PASSWORD).await;
    b.type_into("input[name=code]", code).await;
    b.click("form[action='/login'] button").await;
}

/// Tabs to each sign-in field, types, Tabs to the button, Enter.
async fn sign_in_by_keys(b: &Browser, id: &str, code: &str) {
    b.tab_to("input[name=id]").await;
    b.keys(id).await;
    b.tab_to("input[name=password]").await;
    b.keys(LOGIN_PASSWORD).await;
    b.tab_to("input[name=code]").await;
    b.keys(code).await;
    b.tab_to("form[action='/login'] button").await;
    b.enter().await;
}

fn ja(refusal: &Refusal) -> String {
    refusal.message(Lang::Ja)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver: .ci/run installs them"]
async fn the_manuals_exchange_in_chromium_with_a_screenshot_of_every_screen() {
    within_a_minute(clicked_walk()).await;
}

async fn clicked_walk() {
    let mut w = World::serve().await;
    let b = Browser::start().await;
    let old = w.token_of(&w.general).unwrap();
    let new = w.stock()[0];
    let admin_serial = w.token_of(&w.admin).unwrap();

    // The demo's virtual tokens: a device per token, its display blank
    // until "1" is pressed; pressed, it shows the code of the bank's clock.
    b.goto(&w.url("/demo/tokens")).await;
    b.wait_h1("デモ：仮想トークン").await;
    let serials = b.texts("div.device p.serial").await;
    let expected: Vec<String> = w
        .tokens
        .lock()
        .unwrap()
        .keys()
        .map(|s| s.as_str().to_owned())
        .collect();
    assert_eq!(serials, expected);
    let displays = b.texts("div.device p.display").await;
    assert!(displays.iter().all(String::is_empty), "{displays:?}");
    w.clock.advance(30);
    let admin_display = format!(
        "div.device:has(input[value='{}']) p.display",
        admin_serial.as_str()
    );
    b.click(&format!(
        "button[aria-label='「1」を押す: {}']",
        admin_serial.as_str()
    ))
    .await;
    b.wait_h1("デモ：仮想トークン").await;
    let shown = b.text(&admin_display).await;
    assert_eq!(shown, w.display(&admin_serial));
    assert_eq!(shown.len(), 6, "{shown:?}");
    b.screenshot("9-demo-tokens").await;

    // Sign-in as W0001 with a code of W0001's token.
    b.goto(&w.url("/login")).await;
    b.wait_h1("ログイン").await;
    assert_eq!(b.title().await, "ログイン");
    assert_eq!(b.lang().await, "ja");
    b.screenshot("0-login").await;
    // The code read off the device in the browser.
    sign_in_by_clicks(&b, "W0001", &shown).await;

    // Screen 1: 管理機能.
    b.wait_h1("管理機能").await;
    assert_eq!(b.path().await, "/admin");
    assert_eq!(
        b.text("p.welcome").await,
        "ようこそ しんきん太郎 様（W0001）"
    );
    let menu = b.text("ul.menu").await;
    for item in [
        "ワンタイムパスワード認証情報管理",
        "ID管理",
        "IDロック解除",
        "カレンダー",
        "利用履歴照会",
        "取引停止",
    ] {
        assert!(menu.contains(item), "{item} in {menu}");
    }
    b.screenshot("1-admin-menu").await;
    b.click_link("ワンタイムパスワード認証情報管理").await;

    // Screen 2: 1 選択.
    b.wait_h1("1 選択").await;
    assert_eq!(b.path().await, "/admin/select");
    assert_eq!(b.text("p.count").await, "1から3件/3件");
    let rows = b.texts("tbody tr").await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows[1].contains("W0002"), "{rows:?}");
    assert!(rows[1].contains(&old.masked().to_string()), "{rows:?}");
    assert!(rows[1].contains("一般者"), "{rows:?}");
    assert!(
        !b.body().await.contains(old.as_str()),
        "never the full serial"
    );
    b.click("input[type=radio][value=W0002]").await;
    assert!(b.selected("input[type=radio][value=W0002]").await);
    b.screenshot("2-select").await;
    b.click("form[action='/admin/user'] button").await;

    // Screen 3: 2 登録 (token info).
    b.wait_h1("ワンタイムパスワード 情報変更").await;
    assert_eq!(b.path_and_query().await, "/admin/user?id=W0002");
    let info = b.text("main").await;
    assert!(info.contains("W0002"), "{info}");
    assert!(info.contains("登録完了"), "{info}");
    assert!(info.contains(&old.masked().to_string()), "{info}");
    // The sections' headings under the page's title, not above it (the
    // browser's default h2 was larger than the stylesheet's h1).
    let (h1, h2) = (
        b.css_px("main h1", "font-size").await,
        b.css_px("main h2", "font-size").await,
    );
    assert!(h2 < h1, "h2 {h2}px is not smaller than h1 {h1}px");
    b.screenshot("3-token-info").await;
    b.click("form[action='/admin/exchange'] button").await;

    // Screen 4: a wrong code, then the old token's.
    b.wait_h1("現在ご利用中のトークンのワンタイムパスワード")
        .await;
    assert_eq!(b.path().await, "/admin/exchange");
    b.screenshot("4-current-code").await;
    b.type_into("input[name=code]", "000000").await;
    b.click("form[action='/admin/exchange/current'] button")
        .await;
    b.wait_refusal(&ja(&Refusal::WrongCode(Which::Current)))
        .await;
    assert_eq!(b.path().await, "/admin/exchange/current");
    assert_eq!(b.value("input[name=code]").await, "", "never re-filled");
    b.screenshot("4-current-code-refused").await;
    let code = w.press(&old);
    b.type_into("input[name=code]", &code).await;
    b.click("form[action='/admin/exchange/current'] button")
        .await;

    // Screen 5: a wrong approval password, someone else's serial, then right.
    b.wait_h1("新しいトークン情報").await;
    assert_eq!(b.path().await, "/admin/exchange/current");
    assert!(!b.body().await.contains(&code));
    b.screenshot("5-new-token").await;
    b.type_into("input[name=serial]", new.as_str()).await;
    let code = w.press(&new);
    b.type_into("input[name=code]", &code).await;
    b.type_into("input[name=password]", "not-the-password")
        .await;
    b.click("form[action='/admin/exchange/new'] button").await;
    b.wait_refusal(&ja(&Refusal::WrongPassword)).await;
    assert_eq!(b.path().await, "/admin/exchange/new");
    assert_eq!(b.value("input[name=serial]").await, new.as_str(), "kept");
    assert_eq!(b.value("input[name=code]").await, "", "never re-filled");
    assert_eq!(b.value("input[name=password]").await, "", "never re-filled");
    b.screenshot("5-new-token-wrong-password").await;

    b.clear("input[name=serial]").await;
    b.type_into("input[name=serial]", admin_serial.as_str())
        .await;
    let code = w.press(&admin_serial);
    b.type_into("input[name=code]", &code).await;
    b.type_into("input[name=password]", ADMIN_APPROVAL_PASSWORD)
        .await;
    b.click("form[action='/admin/exchange/new'] button").await;
    b.wait_refusal(&ja(&Refusal::SerialAssigned)).await;
    assert_eq!(b.value("input[name=password]").await, "");
    assert!(!b.body().await.contains(ADMIN_APPROVAL_PASSWORD));
    b.screenshot("5-new-token-serial-assigned").await;
    assert_eq!(w.token_of(&w.general), Some(old), "nothing changed yet");

    b.clear("input[name=serial]").await;
    b.type_into("input[name=serial]", new.as_str()).await;
    let code = w.press(&new);
    b.type_into("input[name=code]", &code).await;
    b.type_into("input[name=password]", ADMIN_APPROVAL_PASSWORD)
        .await;
    b.click("form[action='/admin/exchange/new'] button").await;

    // Screen 6: 3 完了.
    b.wait_h1("3 完了").await;
    assert_eq!(b.path().await, "/admin/exchange/new");
    assert_eq!(
        b.text("p.done").await,
        "利用形態とトークンを登録しました。登録したトークンは、ただいまから有効となります。"
    );
    let done = b.text("main").await;
    assert!(done.contains(&new.masked().to_string()), "{done}");
    b.screenshot("6-done").await;
    assert_eq!(w.token_of(&w.general), Some(new));
    assert_eq!(
        w.bank.records().token_status(&old).unwrap(),
        Some(TokenStatus::Revoked)
    );

    // Screen 4′: back to the menu, the same user again, no token at hand.
    b.click_link("管理機能へ戻る").await;
    b.wait_h1("管理機能").await;
    b.click_link("ワンタイムパスワード認証情報管理").await;
    b.wait_h1("1 選択").await;
    b.click("input[type=radio][value=W0002]").await;
    b.click("form[action='/admin/user'] button").await;
    b.wait_h1("ワンタイムパスワード 情報変更").await;
    assert!(b.text("main").await.contains(&new.masked().to_string()));
    b.click("form[action='/admin/exchange'] button").await;
    b.wait_h1("現在ご利用中のトークンのワンタイムパスワード")
        .await;
    b.click("form[action='/admin/exchange/no-token'] button")
        .await;
    b.wait_h1("現在ご利用中のトークンがない場合").await;
    assert_eq!(b.path().await, "/admin/exchange/no-token");
    b.wait_refusal(&ja(&Refusal::BranchRequired)).await;
    assert!(
        b.text("main")
            .await
            .contains("オンラインでの交換はできません。お取引店舗へ書面でお届けください。")
    );
    b.screenshot("4-no-token").await;
    assert_eq!(w.token_of(&w.general), Some(new), "nothing changed");

    // IDロック解除 and 利用履歴照会 from the menu.
    b.goto(&w.url("/admin")).await;
    b.wait_h1("管理機能").await;
    b.click_link("IDロック解除").await;
    b.wait_h1("IDロック解除").await;
    let locks = b.text("main").await;
    assert!(
        locks.contains("W0002") && locks.contains("ロックなし"),
        "{locks}"
    );
    b.screenshot("10-id-lock").await;
    b.goto(&w.url("/admin")).await;
    b.wait_h1("管理機能").await;
    b.click_link("利用履歴照会").await;
    b.wait_h1("利用履歴照会").await;
    b.type_into("input[name=id]", "W0002").await;
    b.click("form[action='/admin/history'] button").await;
    b.wait_h1("利用履歴照会").await;
    let history = b.text("main").await;
    assert!(
        history.contains("トークン交換") && history.contains("現在のトークンなし"),
        "{history}"
    );
    assert!(!history.contains(old.as_str()) && !history.contains(new.as_str()));
    b.screenshot("11-usage-history").await;

    // 利用形態設定 for W0005 from screen 2's button: a software token's QR
    // code (drawn inline, shown once).
    b.goto(&w.url("/admin/select")).await;
    b.wait_h1("1 選択").await;
    b.click("input[type=radio][value=W0005]").await;
    b.click("button[formaction='/admin/usage']").await;
    b.wait_h1("利用形態設定").await;
    assert!(b.text("main").await.contains("ハードウェアトークン"));
    b.screenshot("12-usage-mode").await;
    b.click("input[type=radio][value=software_token]").await;
    b.type_into(
        "form[action='/admin/usage'] input[name=password]",
        ADMIN_APPROVAL_PASSWORD,
    )
    .await;
    b.click("form[action='/admin/usage'] button").await;
    b.wait_h1("ソフトウェアトークン登録").await;
    assert_eq!(b.texts("div.qr svg").await.len(), 1);
    b.screenshot("13-software-token-qr").await;

    // Sign out: the signed-in session is forgotten (the sign-in page
    // starts a new one).
    let signed_in = b.cookie(otp_server::SESSION_COOKIE).await.unwrap();
    b.click("form[action='/logout'] button").await;
    b.wait_h1("ログイン").await;
    assert_eq!(b.path().await, "/login");
    assert_ne!(
        b.cookie(otp_server::SESSION_COOKIE).await.as_deref(),
        Some(signed_in.as_str())
    );

    // W0002 with the old token: refused; with the new one: welcome.
    let code = w.press(&old);
    sign_in_by_clicks(&b, "W0002", &code).await;
    b.wait_refusal(&ja(&Refusal::LoginFailed)).await;
    assert_eq!(b.path().await, "/login");
    assert_eq!(b.value("input[name=id]").await, "W0002", "the ID is kept");
    assert_eq!(b.value("input[name=code]").await, "", "never re-filled");
    b.screenshot("7-login-refused-old-token").await;
    let code = w.press(&new);
    sign_in_by_clicks(&b, "W0002", &code).await;
    b.wait_h1("お客様ページ").await;
    assert_eq!(b.path().await, "/home");
    assert_eq!(
        b.text("p.welcome").await,
        "ようこそ しんきん太郎 様（W0002）"
    );
    assert!(
        b.text("main")
            .await
            .contains("トークンでログインしました。")
    );
    b.screenshot("8-home").await;

    // English, same page.
    b.click_link("English").await;
    b.wait_h1("Your page").await;
    assert_eq!(b.lang().await, "en");
    b.screenshot("8-home-en").await;

    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver: .ci/run installs them"]
async fn the_exchange_by_keyboard_only() {
    within_a_minute(keyboard_walk()).await;
}

async fn keyboard_walk() {
    let mut w = World::serve().await;
    let b = Browser::start().await;
    let new = w.stock()[0];
    let old = w.token_of(&w.general).unwrap();
    let admin_serial = w.token_of(&w.admin).unwrap();

    // Sign-in: Tab to each field, type, Enter on the button.
    b.goto(&w.url("/login")).await;
    b.wait_h1("ログイン").await;
    let code = w.press(&admin_serial);
    sign_in_by_keys(&b, "W0001", &code).await;

    // Screen 1: Enter on the menu's link.
    b.wait_h1("管理機能").await;
    assert_eq!(b.path().await, "/admin");
    b.tab_to("ul.menu a").await;
    b.screenshot("kbd-1-admin-menu-focus").await;
    b.enter().await;

    // Screen 2: Tab into the radio group (W0001 checked), the arrow key to
    // W0002 (the one keyboard way between radios), Tab to the button.
    b.wait_h1("1 選択").await;
    assert_eq!(b.path().await, "/admin/select");
    b.tab_to("input[type=radio][value=W0001]").await;
    b.keys(Key::DOWN).await;
    assert!(b.selected("input[type=radio][value=W0002]").await);
    assert!(b.is_active("input[type=radio][value=W0002]").await);
    b.tab_to("form[action='/admin/user'] button").await;
    b.screenshot("kbd-2-select-focus").await;
    b.enter().await;

    // Screen 3.
    b.wait_h1("ワンタイムパスワード 情報変更").await;
    assert_eq!(b.path_and_query().await, "/admin/user?id=W0002");
    b.tab_to("form[action='/admin/exchange'] button").await;
    b.enter().await;

    // Screen 4: the old token's code, Enter in the field (implicit submission).
    b.wait_h1("現在ご利用中のトークンのワンタイムパスワード")
        .await;
    b.tab_to("input[name=code]").await;
    let code = w.press(&old);
    b.keys(&code).await;
    b.enter().await;

    // Screen 5: a wrong password (refused, the serial kept), then right.
    b.wait_h1("新しいトークン情報").await;
    assert_eq!(b.path().await, "/admin/exchange/current");
    b.tab_to("input[name=serial]").await;
    b.keys(new.as_str()).await;
    b.tab_to("input[name=code]").await;
    let code = w.press(&new);
    b.keys(&code).await;
    b.tab_to("input[name=password]").await;
    b.keys("wrong-password").await;
    b.tab_to("form[action='/admin/exchange/new'] button").await;
    b.enter().await;
    b.wait_refusal(&ja(&Refusal::WrongPassword)).await;
    assert_eq!(b.path().await, "/admin/exchange/new");
    assert_eq!(b.value("input[name=serial]").await, new.as_str());
    assert_eq!(b.value("input[name=password]").await, "");
    b.tab_to("input[name=code]").await;
    let code = w.press(&new);
    b.keys(&code).await;
    b.tab_to("input[name=password]").await;
    b.keys(ADMIN_APPROVAL_PASSWORD).await;
    b.tab_to("form[action='/admin/exchange/new'] button").await;
    b.enter().await;

    // Screen 6.
    b.wait_h1("3 完了").await;
    assert_eq!(b.path().await, "/admin/exchange/new");
    assert!(
        b.text("p.done")
            .await
            .contains("登録したトークンは、ただいまから有効となります。")
    );
    assert_eq!(w.token_of(&w.general), Some(new));

    // Sign out by keyboard, W0002 signs in with the new token.
    b.tab_to("form[action='/logout'] button").await;
    b.enter().await;
    b.wait_h1("ログイン").await;
    assert_eq!(b.path().await, "/login");
    let code = w.press(&new);
    sign_in_by_keys(&b, "W0002", &code).await;
    b.wait_h1("お客様ページ").await;
    assert_eq!(b.path().await, "/home");
    assert_eq!(
        b.text("p.welcome").await,
        "ようこそ しんきん太郎 様（W0002）"
    );

    b.quit().await;
}
