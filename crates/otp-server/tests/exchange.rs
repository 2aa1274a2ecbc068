//! The manual's exchange through the HTTP screens, as a browser does it:
//! cookies followed, CSRF tokens and tickets read from the forms, codes
//! from the virtual tokens on the bank's simulated clock.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use otp_exchange::scenario::ADMIN_APPROVAL_PASSWORD;
use otp_exchange::{Lang, Refusal, TokenStatus, UserId, Which};
use tower::ServiceExt as _;

mod common;
use common::{Browser, Page, World, percent};

/// Signs W0001 in and opens screen 4 for W0002; returns the screen.
async fn to_screen_4(w: &mut World, b: &mut Browser) -> Page {
    let admin_serial = w.token_of(&w.admin).unwrap();
    let code = w.press(&admin_serial);
    let menu = b.sign_in("W0001", &code).await;
    assert_eq!(menu.status, StatusCode::OK);
    assert!(menu.has("管理機能"), "{}", menu.body);
    let user = b.get("/admin/user?id=W0002").await;
    let csrf = user.field("csrf");
    b.post("/admin/exchange", &[("csrf", &csrf), ("id", "W0002")])
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manuals_exchange_through_the_screens_then_both_sign_ins() {
    let mut w = World::new();
    let mut b = w.browser();
    let old = w.token_of(&w.general).unwrap();
    let new = w.stock()[0];
    let stock_before = w.stock().len();

    // Sign-in, screen 1.
    let admin_serial = w.token_of(&w.admin).unwrap();
    let code = w.press(&admin_serial);
    let menu = b.sign_in("W0001", &code).await;
    assert_eq!(menu.status, StatusCode::OK);
    assert!(menu.has("ようこそ しんきん太郎 様（W0001）"));
    assert!(menu.has("ワンタイムパスワード認証情報管理"));
    assert!(menu.has("IDロック解除"));
    assert!(menu.has("利用履歴照会"));

    // Screen 2: the list, masked serials, `-` for W0005, the count line.
    let list = b.get("/admin/select").await;
    assert!(list.has("1から3件/3件"), "{}", list.body);
    assert!(list.has(&format!("<td class=\"serial\">{}</td>", old.masked())));
    assert!(list.has("<td class=\"serial\">-</td>"));
    assert!(list.has("管理者") && list.has("一般者"));
    assert!(!list.has(old.as_str()), "the full serial is never shown");
    let en = b.get("/admin/select?lang=en").await;
    assert!(en.has("1 to 3 of 3"));
    assert!(en.has("general user"));
    let _ = b.get("/admin/select?lang=ja").await;

    // Screen 3: token info.
    let info = b.get("/admin/user?id=W0002").await;
    assert!(info.has("ワンタイムパスワード 情報変更"));
    assert!(info.has("登録完了"));
    assert!(info.has(&old.masked().to_string()));
    let csrf = info.field("csrf");

    // Screen 4: a wrong code, then the right one.
    let screen4 = b
        .post("/admin/exchange", &[("csrf", &csrf), ("id", "W0002")])
        .await;
    assert_eq!(screen4.status, StatusCode::OK);
    assert!(screen4.has("現在ご利用中のトークンのワンタイムパスワード"));
    let ticket = screen4.field("ticket");
    let wrong = b
        .post(
            "/admin/exchange/current",
            &[("csrf", &csrf), ("ticket", &ticket), ("code", "000000")],
        )
        .await;
    assert!(
        wrong.has(&Refusal::WrongCode(Which::Current).message(Lang::Ja)),
        "{}",
        wrong.body
    );
    assert!(
        wrong.has("name=\"code\" inputmode=\"numeric\" required"),
        "the code field is empty again"
    );
    assert!(!wrong.has("value=\"000000\""));
    let ticket = wrong.field("ticket");
    let code = w.press(&old);
    let screen5 = b
        .post(
            "/admin/exchange/current",
            &[("csrf", &csrf), ("ticket", &ticket), ("code", &code)],
        )
        .await;
    assert!(screen5.has("新しいトークン情報"), "{}", screen5.body);
    assert!(!screen5.has(&code));

    // Screen 5: a wrong password, someone else's serial, then all right.
    let ticket = screen5.field("ticket");
    let code = w.press(&new);
    let refused = b
        .post(
            "/admin/exchange/new",
            &[
                ("csrf", &csrf),
                ("ticket", &ticket),
                ("serial", new.as_str()),
                ("code", &code),
                ("password", "not-the-password"),
            ],
        )
        .await;
    assert!(
        refused.has(&Refusal::WrongPassword.message(Lang::Ja)),
        "{}",
        refused.body
    );
    assert_eq!(refused.field("serial"), new.as_str(), "the serial is kept");
    assert!(!refused.has("not-the-password") && !refused.has(&code));
    let ticket = refused.field("ticket");
    let code = w.press(&admin_serial);
    let theirs = b
        .post(
            "/admin/exchange/new",
            &[
                ("csrf", &csrf),
                ("ticket", &ticket),
                ("serial", admin_serial.as_str()),
                ("code", &code),
                ("password", ADMIN_APPROVAL_PASSWORD),
            ],
        )
        .await;
    assert!(
        theirs.has(&Refusal::SerialAssigned.message(Lang::Ja)),
        "{}",
        theirs.body
    );
    assert!(!theirs.has(ADMIN_APPROVAL_PASSWORD));
    assert_eq!(w.token_of(&w.general), Some(old), "nothing changed yet");
    let ticket = theirs.field("ticket");
    let code = w.press(&new);
    let done = b
        .post(
            "/admin/exchange/new",
            &[
                ("csrf", &csrf),
                ("ticket", &ticket),
                ("serial", new.as_str()),
                ("code", &code),
                ("password", ADMIN_APPROVAL_PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(
        done.has("登録したトークンは、ただいまから有効となります。"),
        "{}",
        done.body
    );
    assert_eq!(w.token_of(&w.general), Some(new));
    assert_eq!(
        w.bank.records().token_status(&old).unwrap(),
        Some(TokenStatus::Revoked)
    );
    assert_eq!(w.stock().len(), stock_before - 1);

    // Sign out; W0002 with the old token is refused, with the new one welcome.
    let logout = b.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(logout.status, StatusCode::SEE_OTHER);
    assert!(!b.cookies.contains_key(otp_server::SESSION_COOKIE));
    let mut user = w.browser();
    let code = w.press(&old);
    let refused = user.sign_in("W0002", &code).await;
    assert!(
        refused.has(&Refusal::LoginFailed.message(Lang::Ja)),
        "{}",
        refused.body
    );
    let code = w.press(&new);
    let welcome = user.sign_in("W0002", &code).await;
    assert_eq!(welcome.status, StatusCode::OK);
    assert!(
        welcome.has("トークンでログインしました。"),
        "{}",
        welcome.body
    );
    assert_eq!(
        user.get("/admin").await.status,
        StatusCode::FORBIDDEN,
        "a general user has no admin menu"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screen_4_prime_shows_the_branch_instructions() {
    let mut w = World::new();
    let mut b = w.browser();
    let screen4 = to_screen_4(&mut w, &mut b).await;
    let page = b
        .post(
            "/admin/exchange/no-token",
            &[
                ("csrf", &screen4.field("csrf")),
                ("ticket", &screen4.field("ticket")),
            ],
        )
        .await;
    assert!(
        page.has(&Refusal::BranchRequired.message(Lang::Ja)),
        "{}",
        page.body
    );
    assert!(page.has("お取引店舗へ書面でお届けください"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_without_or_with_a_wrong_csrf_token_is_403_and_changes_nothing() {
    let mut w = World::new();
    let mut b = w.browser();
    let screen4 = to_screen_4(&mut w, &mut b).await;
    let ticket = screen4.field("ticket");
    let old = w.token_of(&w.general).unwrap();
    let code = w.press(&old);
    let missing = b
        .post(
            "/admin/exchange/current",
            &[("ticket", &ticket), ("code", &code)],
        )
        .await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    let wrong = b
        .post(
            "/admin/exchange/current",
            &[
                ("csrf", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                ("ticket", &ticket),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(b.post("/logout", &[]).await.status, StatusCode::FORBIDDEN);
    // The ticket was not spent: the right form still goes on to screen 5.
    let ok = b
        .post(
            "/admin/exchange/current",
            &[
                ("csrf", &screen4.field("csrf")),
                ("ticket", &ticket),
                ("code", &code),
            ],
        )
        .await;
    assert!(ok.has("新しいトークン情報"), "{}", ok.body);
    // Sign-in's form is checked too.
    let mut anon = w.browser();
    let _ = anon.get("/login").await;
    let admin_serial = w.token_of(&w.admin).unwrap();
    let code = w.press(&admin_serial);
    let refused = anon
        .post("/login", &[("id", "W0001"), ("code", &code)])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(w.token_of(&w.general), Some(old));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_from_another_session_is_refused() {
    let mut w = World::new();
    let mut a = w.browser();
    let screen4 = to_screen_4(&mut w, &mut a).await;
    let ticket = screen4.field("ticket");
    // The same administrator in another browser.
    let mut b = w.browser();
    let admin_serial = w.token_of(&w.admin).unwrap();
    let code = w.press(&admin_serial);
    let menu = b.sign_in("W0001", &code).await;
    let csrf_b = menu.field("csrf");
    // B holds a ticket of its own (an exchange for the same user): a
    // session accepts only the ticket it was given, not any one this
    // administrator could resume.
    let own = b
        .post("/admin/exchange", &[("csrf", &csrf_b), ("id", "W0002")])
        .await;
    assert_ne!(own.field("ticket"), ticket);
    let old = w.token_of(&w.general).unwrap();
    let code = w.press(&old);
    let refused = b
        .post(
            "/admin/exchange/current",
            &[("csrf", &csrf_b), ("ticket", &ticket), ("code", &code)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.has(&Refusal::SessionInvalid.message(Lang::Ja)));
    // The owner's session goes on with it.
    let ok = a
        .post(
            "/admin/exchange/current",
            &[
                ("csrf", &screen4.field("csrf")),
                ("ticket", &ticket),
                ("code", &code),
            ],
        )
        .await;
    assert!(ok.has("新しいトークン情報"), "{}", ok.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_screen_5_form_posted_twice_commits_once() {
    let mut w = World::new();
    let mut b = w.browser();
    let screen4 = to_screen_4(&mut w, &mut b).await;
    let csrf = screen4.field("csrf");
    let old = w.token_of(&w.general).unwrap();
    let code = w.press(&old);
    let screen5 = b
        .post(
            "/admin/exchange/current",
            &[
                ("csrf", &csrf),
                ("ticket", &screen4.field("ticket")),
                ("code", &code),
            ],
        )
        .await;
    let new = w.stock()[0];
    let code = w.press(&new);
    let form = [
        ("csrf", csrf.as_str()),
        ("ticket", &screen5.field("ticket")),
        ("serial", new.as_str()),
        ("code", &code),
        ("password", ADMIN_APPROVAL_PASSWORD),
    ];
    let audit_before = w.bank.records().audit_chain().unwrap().len();
    let (first, second) = tokio::join!(
        async {
            b.app
                .clone()
                .oneshot(form_request(&b, &form))
                .await
                .unwrap()
        },
        async {
            b.app
                .clone()
                .oneshot(form_request(&b, &form))
                .await
                .unwrap()
        },
    );
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(second.status(), StatusCode::OK);
    let bodies = [body(first).await, body(second).await];
    for page in &bodies {
        assert!(
            page.contains("登録したトークンは、ただいまから有効となります。"),
            "{page}"
        );
    }
    assert_eq!(
        bodies
            .iter()
            .filter(|p| p.contains("この操作は既に完了しています"))
            .count(),
        1,
        "one of the two says it was already done"
    );
    assert_eq!(w.token_of(&w.general), Some(new));
    let added = w.bank.records().audit_chain().unwrap().len() - audit_before;
    // One resume, one new-token check and one switch: the second post added nothing.
    let third = b.post("/admin/exchange/new", &form).await;
    assert!(third.has("この操作は既に完了しています"));
    assert_eq!(
        w.bank.records().audit_chain().unwrap().len() - audit_before,
        added
    );
}

fn form_request(b: &Browser, fields: &[(&str, &str)]) -> Request<Body> {
    let body = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", percent(v)))
        .collect::<Vec<_>>()
        .join("&");
    Request::post("/admin/exchange/new")
        .header(header::COOKIE, b.cookie_header())
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap()
}

async fn body(r: axum::response::Response) -> String {
    String::from_utf8(r.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

const HEADERS: [(&str, &str); 5] = [
    (
        "content-security-policy",
        otp_server::CONTENT_SECURITY_POLICY,
    ),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
];

fn assert_security_headers(page: &Page) {
    for (name, value) in HEADERS {
        assert_eq!(
            page.headers[name], value,
            "{name} on a {} response",
            page.status
        );
    }
    assert!(page.headers.contains_key("x-request-id"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_has_the_security_headers_and_the_cookie_its_flags() {
    let mut w = World::new();
    let mut b = w.browser();
    let login = b.get("/login").await;
    assert_security_headers(&login);
    let set = login.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(set.starts_with("otp_session="));
    assert!(
        set.ends_with("; HttpOnly; SameSite=Strict; Path=/"),
        "{set}"
    );
    assert!(!login.has("<script"));
    let before = b.cookies[otp_server::SESSION_COOKIE].clone();
    assert_eq!(before.len(), 43, "32 random bytes, base64url");

    let admin_serial = w.token_of(&w.admin).unwrap();
    let code = w.press(&admin_serial);
    let csrf = login.field("csrf");
    let signed = b
        .post(
            "/login",
            &[
                ("csrf", &csrf),
                ("id", "W0001"),
                ("password", otp_exchange::scenario::LOGIN_PASSWORD),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER);
    assert_security_headers(&signed);
    let after = b.cookies[otp_server::SESSION_COOKIE].clone();
    assert_ne!(before, after, "a new session id at sign-in");
    let mut stale = w.browser();
    stale
        .cookies
        .insert(otp_server::SESSION_COOKIE.into(), before);
    let r = stale.get("/admin").await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "the pre-sign-in id is forgotten"
    );
    assert_eq!(r.headers[header::LOCATION], "/login");

    let menu = b.get("/admin").await;
    assert_security_headers(&menu);
    assert_ne!(
        menu.field("csrf"),
        csrf,
        "a new CSRF token with the new session"
    );
    let forbidden = b.post("/admin/exchange", &[("id", "W0002")]).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_security_headers(&forbidden);
    let health = b.get("/healthz").await;
    assert_eq!(health.status, StatusCode::OK);
    assert_security_headers(&health);
    let css = b.get("/static/style.css").await;
    assert_eq!(css.headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
    assert_security_headers(&css);
    assert_eq!(
        b.get("/demo/tokens").await.status,
        StatusCode::NOT_FOUND,
        "no demo page outside the demo"
    );

    let secure = World::with(|s| s.with_secure_cookies(true));
    let mut sb = secure.browser();
    let page = sb.get("/login").await;
    assert!(
        page.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .ends_with("; Path=/; Secure")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn english_by_query_then_by_cookie() {
    let w = World::new();
    let mut b = w.browser();
    let ja = b.get("/login").await;
    assert!(ja.has("<html lang=\"ja\">") && ja.has("お客様ID"));
    let en = b.get("/login?lang=en").await;
    assert!(en.has("<html lang=\"en\">") && en.has("Customer ID"));
    let again = b.get("/login").await;
    assert!(again.has("Customer ID"), "the choice is remembered");
    let refused = b
        .post(
            "/login",
            &[
                ("csrf", &again.field("csrf")),
                ("id", "W0001"),
                ("code", "123456"),
            ],
        )
        .await;
    assert!(
        refused.has(&Refusal::LoginFailed.message(Lang::En)),
        "{}",
        refused.body
    );
    assert_eq!(refused.field("id"), "W0001");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_refused() {
    let w = World::new();
    let mut b = w.browser();
    let login = b.get("/login").await;
    let big = "9".repeat(otp_server::BODY_LIMIT + 1);
    let r = b
        .post(
            "/login",
            &[
                ("csrf", &login.field("csrf")),
                ("id", "W0001"),
                ("code", &big),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_is_forgotten() {
    let mut w = World::with(|s| {
        s.with_session_limits(
            std::time::Duration::from_millis(300),
            otp_server::MAX_SESSIONS,
        )
    });
    let mut b = w.browser();
    let admin_serial = w.token_of(&w.admin).unwrap();
    let code = w.press(&admin_serial);
    assert_eq!(b.sign_in("W0001", &code).await.status, StatusCode::OK);
    assert_eq!(b.get("/admin").await.status, StatusCode::OK, "in use: kept");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let r = b.get("/admin").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers[header::LOCATION], "/login");
}

/// Signed-in sessions are bounded: beyond the limit, a new visitor is
/// answered 503 (with the headers), and so is one more sign-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_beyond_the_limit_are_refused_with_503() {
    let mut w = World::with(|s| s.with_session_limits(otp_server::IDLE_TIMEOUT, 2));
    let admin_serial = w.token_of(&w.admin).unwrap();
    for _ in 0..2 {
        let code = w.press(&admin_serial);
        let menu = w.browser().sign_in("W0001", &code).await;
        assert!(menu.has("管理機能"), "{}", menu.body);
    }
    let third = w.browser().get("/login").await;
    assert_eq!(third.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(third.has("ただいま混み合っています。"));
    assert_security_headers(&third);
}

/// Anyone can open the sign-in page, and each visit makes an anonymous
/// session (its CSRF token guards the form). A flood of visits must not
/// fill the table and lock the bank's users out: when the table is full,
/// the least recently used anonymous session makes room; signed-in
/// sessions are never pushed out by visitors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_visitors_neither_refuses_a_sign_in_nor_ends_one() {
    let mut w = World::with(|s| s.with_session_limits(otp_server::IDLE_TIMEOUT, 4));
    let admin_serial = w.token_of(&w.admin).unwrap();
    let code = w.press(&admin_serial);
    let mut admin = w.browser();
    assert!(admin.sign_in("W0001", &code).await.has("管理機能"));
    for _ in 0..200 {
        assert_eq!(w.browser().get("/login").await.status, StatusCode::OK);
    }
    // The administrator is still signed in.
    let menu = admin.get("/admin").await;
    assert_eq!(menu.status, StatusCode::OK);
    assert!(menu.has("管理機能"));
    // A user who opens the page now can still sign in.
    let general = w.token_of(&w.general).unwrap();
    let code = w.press(&general);
    let home = w.browser().sign_in("W0002", &code).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.has("お客様ページ"), "{}", home.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screen_3_shows_its_own_refusal_and_no_exchange_button_without_a_token() {
    let mut w = World::new();
    let mut b = w.browser();
    let admin_serial = w.token_of(&w.admin).unwrap();
    let code = w.press(&admin_serial);
    let menu = b.sign_in("W0001", &code).await;
    let csrf = menu.field("csrf");
    let own = b
        .post("/admin/exchange", &[("csrf", &csrf), ("id", "W0001")])
        .await;
    assert_eq!(own.status, StatusCode::OK);
    assert!(own.has("ワンタイムパスワード 情報変更"));
    assert!(own.has(&Refusal::OwnId.message(Lang::Ja)), "{}", own.body);
    let none = b.get("/admin/user?id=W0005").await;
    assert!(none.has("未登録") && none.has("<dd class=\"serial\">-</dd>"));
    assert!(!none.has("/admin/exchange"), "no exchange without a token");
    assert_eq!(
        b.get("/admin/user?id=W9999").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screen_2_pages_five_at_a_time() {
    let mut w = World::new();
    for n in 6..=9 {
        let id = UserId::parse(&format!("W000{n}")).unwrap();
        w.bank
            .enroll_user(
                &otp_exchange::scenario::branch(),
                &id,
                "しんきん花子",
                otp_exchange::Authority::General,
            )
            .unwrap();
    }
    let mut b = w.browser();
    let admin_serial = w.token_of(&w.admin).unwrap();
    let code = w.press(&admin_serial);
    b.sign_in("W0001", &code).await;
    let first = b.get("/admin/select").await;
    assert!(first.has("1から5件/7件"), "{}", first.body);
    assert!(first.has("href=\"/admin/select?page=1\""));
    assert!(!first.has("W0008"));
    let second = b.get("/admin/select?page=1").await;
    assert!(second.has("6から7件/7件"), "{}", second.body);
    assert!(second.has("W0009") && second.has("href=\"/admin/select?page=0\""));
    assert!(!second.has("href=\"/admin/select?page=2\""));
}

/// The manual: "an administrator who has not registered an approval
/// password types the per-transfer confirmation password instead". Screen
/// 5's label says which, from the records at the time of the request (the
/// branch removes W0001's approval password in the middle of the flow), and
/// the per-transfer password then confirms the exchange.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screen_5_asks_an_administrator_without_an_approval_password_for_the_per_transfer_one() {
    let mut w = World::new();
    let mut b = w.browser();
    let screen4 = to_screen_4(&mut w, &mut b).await;
    let old = w.token_of(&w.general).unwrap();
    let code = w.press(&old);
    let screen5 = b
        .post(
            "/admin/exchange/current",
            &[
                ("csrf", &screen4.field("csrf")),
                ("ticket", &screen4.field("ticket")),
                ("code", &code),
            ],
        )
        .await;
    assert!(screen5.has("承認用パスワード（必須）"), "{}", screen5.body);
    assert!(!screen5.has("都度振込送信確認用パスワード"));

    let branch = otp_exchange::BranchAuthorization::new("B-042", "REQ-2020-1002");
    let per_transfer = "transfer-2020-ok";
    w.bank
        .set_password(
            &branch,
            &w.admin,
            otp_exchange::PasswordKind::PerTransfer,
            &otp_exchange::Password::new(per_transfer),
        )
        .unwrap();
    w.bank
        .remove_password(&branch, &w.admin, otp_exchange::PasswordKind::Approval)
        .unwrap();

    // A wrong serial: screen 5 again, now asking for the per-transfer one.
    let new = w.stock()[0];
    let code = w.press(&new);
    let again = b
        .post(
            "/admin/exchange/new",
            &[
                ("csrf", &screen5.field("csrf")),
                ("ticket", &screen5.field("ticket")),
                ("serial", "VT0020209999"),
                ("code", &code),
                ("password", per_transfer),
            ],
        )
        .await;
    assert!(
        again.has("都度振込送信確認用パスワード（必須。承認用パスワード未登録のため）"),
        "{}",
        again.body
    );
    assert!(!again.has("承認用パスワード（必須）"));
    let code = w.press(&new);
    let done = b
        .post(
            "/admin/exchange/new",
            &[
                ("csrf", &again.field("csrf")),
                ("ticket", &again.field("ticket")),
                ("serial", new.as_str()),
                ("code", &code),
                ("password", per_transfer),
            ],
        )
        .await;
    assert!(done.has("ただいまから有効となります"), "{}", done.body);
    assert_eq!(w.token_of(&w.general), Some(new));
}

/// The manual's sign-in: customer ID, login password and a code from the
/// user's own token. A wrong login password with the right code is the one
/// sign-in refusal (neither field filled in again, nobody signed in); the
/// header then shows this login and the previous one in the bank's zone,
/// "2020/10/01 11:00 ログイン（前回 2020/09/30 11:00）".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_needs_the_login_password_and_the_header_shows_the_previous_login() {
    let mut w = World::new();
    let admin_serial = w.token_of(&w.admin).unwrap();
    let jst = |at: u64| {
        let local = at + 9 * 3600;
        let (d, s) = (local / 86_400, local % 86_400);
        // Days since 1970-01-01 to the civil date, for the two days used.
        let date = match d {
            18_535 => "2020/09/30",
            18_536 => "2020/10/01",
            _ => panic!("day {d}"),
        };
        format!("{date} {:02}:{:02}", s / 3600, s % 3600 / 60)
    };

    let code = w.press(&admin_serial);
    let mut b = w.browser();
    let refused = b
        .sign_in_with("W0001", "not-the-login-password", &code)
        .await;
    assert_eq!(refused.status, StatusCode::OK);
    assert!(refused.has(&Refusal::LoginFailed.message(Lang::Ja)));
    assert!(
        refused.has(r#"name="password" required"#),
        "{}",
        refused.body
    );
    assert!(!refused.has("not-the-login-password"));
    assert!(!refused.has(&code));
    assert_eq!(b.get("/admin").await.status, StatusCode::SEE_OTHER);

    let code = w.press(&admin_serial);
    let first_at = otp_provision::Clock::now(&w.clock);
    let menu = w.browser().sign_in("W0001", &code).await;
    assert!(menu.has("管理機能"), "{}", menu.body);
    let first = jst(first_at);
    assert!(
        menu.has(&format!("{first} ログイン（")),
        "{first}: {}",
        menu.body
    );

    w.clock.advance(86_400 - 30);
    let code = w.press(&admin_serial);
    let second_at = otp_provision::Clock::now(&w.clock);
    let mut b = w.browser();
    let menu = b.sign_in("W0001", &code).await;
    let expected = format!("{} ログイン（前回 {first}）", jst(second_at));
    assert!(menu.has(&expected), "{expected}: {}", menu.body);
    let english = b.get("/admin?lang=en").await;
    assert!(
        english.has(&format!("{} login (previous {first})", jst(second_at))),
        "{}",
        english.body
    );
}
