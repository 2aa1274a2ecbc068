//! 利用形態設定 through the screens: screen 2's button, the usage mode
//! screen, a software token enrolled by scanning its QR code (read back by
//! an independent QR reader, as the customer's app would) and confirmed by
//! its first code; the old hardware token refused afterwards.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use axum::http::StatusCode;
use otp_core::Mode;
use otp_exchange::scenario::ADMIN_APPROVAL_PASSWORD;
use otp_exchange::{Lang, Refusal, TokenStatus, UsageMode};
use otp_provision::SeedRecord;

mod common;
use common::{Page, World, admin_in};

/// The page's QR code read as a camera would: each dark module of the
/// SVG path (`M x y h s v s H x V y`) painted on a grey-scale grid, then
/// decoded by rqrr, a QR reader independent of the encoder.
fn scan(page: &Page) -> String {
    let start = page.body.find("<svg").expect("a QR code on the page");
    let end = page.body[start..].find("</svg>").unwrap() + start;
    let svg = &page.body[start..end];
    let size: usize = svg
        .split("width=\"")
        .nth(1)
        .and_then(|v| v.split('"').next())
        .unwrap()
        .parse()
        .unwrap();
    let path = svg.split("fill=\"#000\" d=\"").nth(1).unwrap();
    let path = path.split('"').next().unwrap();
    let mut dark = vec![false; size * size];
    for module in path.split('M').filter(|m| !m.is_empty()) {
        let (xy, rest) = module.split_once('h').unwrap();
        let (x, y) = xy.split_once(' ').unwrap();
        let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
        let side: usize = rest.split('v').next().unwrap().parse().unwrap();
        for dy in 0..side {
            for dx in 0..side {
                dark[(y + dy) * size + x + dx] = true;
            }
        }
    }
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(size, size, |x, y| {
        if dark[y * size + x] { 0 } else { 255 }
    });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    grids[0].decode().unwrap().1
}

/// The code the customer's app shows now.
fn app_code(w: &World, app: &SeedRecord) -> String {
    let Mode::Totp(step) = app.profile.mode else {
        panic!("not TOTP")
    };
    let now = otp_provision::Clock::now(&w.clock);
    otp_core::totp(&app.key(), &step, now, app.profile.digits)
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_software_token_enrolled_on_the_screens_signs_w0002_in_and_the_old_token_no_more() {
    let mut w = World::new();
    let mut b = w.browser();
    admin_in(&mut w, &mut b).await;
    let old = w.token_of(&w.general).unwrap();

    // Screen 2: the mode column and the 利用形態設定 button.
    let list = b.get("/admin/select").await;
    assert!(list.has(r#"formaction="/admin/usage""#), "{}", list.body);
    assert!(list.has(r#"<td class="mode">ハードウェアトークン</td>"#));
    let screen = b.get("/admin/usage?id=W0002").await;
    assert_eq!(screen.status, StatusCode::OK);
    assert!(screen.has("<h1>利用形態設定</h1>"), "{}", screen.body);
    assert!(screen.has(r#"<dd class="mode">ハードウェアトークン</dd>"#));
    // The bank's default policy does not offer 利用しない.
    assert!(!screen.has("not_used"));
    let csrf = screen.field("csrf");

    // A wrong approval password: refused on the same screen, no token minted.
    let wrong = b
        .post(
            "/admin/usage",
            &[
                ("csrf", &csrf),
                ("ticket", &screen.field("ticket")),
                ("id", "W0002"),
                ("action", "software_token"),
                ("password", "not-the-password"),
            ],
        )
        .await;
    assert!(
        wrong.has(&Refusal::WrongPassword.message(Lang::Ja)),
        "{}",
        wrong.body
    );
    assert!(!wrong.has("<svg"));
    assert!(!wrong.has("not-the-password"));

    // The QR code, once.
    let minted = b
        .post(
            "/admin/usage",
            &[
                ("csrf", &csrf),
                ("ticket", &wrong.field("ticket")),
                ("id", "W0002"),
                ("action", "software_token"),
                ("password", ADMIN_APPROVAL_PASSWORD),
            ],
        )
        .await;
    assert!(
        minted.has("<h1>ソフトウェアトークン登録</h1>"),
        "{}",
        minted.body
    );
    let uri = scan(&minted);
    let app = SeedRecord::from_otpauth_uri(&uri).unwrap();
    // The app's account is the customer ID, under the bank's name.
    assert_eq!(app.serial, "W0002", "{uri}");
    assert!(app.issuer.is_some(), "{uri}");
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    // The page holds the secret only inside the drawn code.
    let secret = uri
        .split("secret=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    assert!(!minted.has(secret) && !minted.has("otpauth"));
    assert_eq!(w.token_of(&w.general), Some(old), "nothing switched yet");

    // A wrong first code: refused, the form again, the QR code not again.
    w.clock.advance(30);
    let right = app_code(&w, &app);
    let bad = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    let refused = b
        .post(
            "/admin/usage/software",
            &[
                ("csrf", &csrf),
                ("ticket", &minted.field("ticket")),
                ("code", &bad),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::OK);
    assert!(!refused.has("<svg"));
    assert!(
        refused.has(&Refusal::WrongCode(otp_exchange::Which::New).message(Lang::Ja)),
        "{}",
        refused.body
    );
    let ticket = refused.field("ticket");

    // The app's code: screen 6, the token registered and the mode set.
    let done = b
        .post(
            "/admin/usage/software",
            &[("csrf", &csrf), ("ticket", &ticket), ("code", &right)],
        )
        .await;
    assert!(
        done.has("利用形態とトークンを登録しました。"),
        "{}",
        done.body
    );
    let serial = w.token_of(&w.general).unwrap();
    assert!(serial.as_str().starts_with("SW"), "{serial:?}");
    // The minted page showed its serial masked only.
    assert!(minted.has(&serial.masked().to_string()));
    assert!(!minted.has(serial.as_str()));
    let me = w.bank.records().user(&w.general).unwrap().unwrap();
    assert_eq!(me.usage_mode, UsageMode::SoftwareToken);
    assert_eq!(
        w.bank.records().token_status(&old).unwrap(),
        Some(TokenStatus::Revoked)
    );
    // The same form posted again: the outcome, nothing more.
    let again = b
        .post(
            "/admin/usage/software",
            &[("csrf", &csrf), ("ticket", &ticket), ("code", &right)],
        )
        .await;
    assert!(again.has("この操作は既に完了しています"), "{}", again.body);

    // W0002: the old hardware token refused, the app's code signs in.
    let code = w.press(&old);
    let refused = w.browser().sign_in("W0002", &code).await;
    assert!(refused.has(&Refusal::LoginFailed.message(Lang::Ja)));
    w.clock.advance(30);
    let code = app_code(&w, &app);
    let home = w.browser().sign_in("W0002", &code).await;
    assert!(home.has("お客様ページ"), "{}", home.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_usage_mode_form_is_posted_once_and_only_by_an_administrator() {
    let mut w = World::new();
    let mut b = w.browser();
    admin_in(&mut w, &mut b).await;
    let screen = b.get("/admin/usage?id=W0005").await;
    let form = [
        ("csrf", screen.field("csrf")),
        ("ticket", screen.field("ticket")),
        ("id", "W0005".to_owned()),
        ("action", "hardware_token".to_owned()),
        ("password", ADMIN_APPROVAL_PASSWORD.to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let before = w.bank.records().audit_chain().unwrap().len();
    let one = b.post("/admin/usage", &form).await;
    assert!(
        one.has("W0005 の利用形態を「ハードウェアトークン」に設定しました。"),
        "{}",
        one.body
    );
    let two = b.post("/admin/usage", &form).await;
    assert!(two.has("この操作は既に完了しています"), "{}", two.body);
    let records = w.bank.records().audit_chain().unwrap();
    let set: Vec<_> = records[before..]
        .iter()
        .filter(|r| r.entry.action == otp_exchange::Action::UsageMode)
        .collect();
    assert_eq!(set.len(), 1, "set once");

    // A forged form ticket: 403; a general user: 403.
    let mut forged = form.clone();
    forged[1] = ("ticket", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_eq!(
        b.post("/admin/usage", &forged).await.status,
        StatusCode::FORBIDDEN
    );
    let general = w.token_of(&w.general).unwrap();
    let code = w.press(&general);
    let mut user = w.browser();
    user.sign_in("W0002", &code).await;
    let page = user.get("/admin/usage?id=W0005").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
}

/// Where the bank's policy allows it, 利用しない is offered for a general
/// user (never for an administrator), and setting it revokes the user's
/// token at once: W0002's token is refused at sign-in from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_used_where_the_policy_allows_it_revokes_the_token_at_once() {
    let policy = otp_exchange::Policy {
        allow_not_used: true,
        ..otp_exchange::Policy::default()
    };
    let mut w = World::with_policy(policy, |s| s);
    let mut b = w.browser();
    admin_in(&mut w, &mut b).await;
    let own = b.get("/admin/usage?id=W0001").await;
    assert!(
        !own.has(r#"value="not_used""#),
        "never for an administrator"
    );
    let screen = b.get("/admin/usage?id=W0002").await;
    assert!(screen.has(r#"value="not_used""#), "{}", screen.body);
    let old = w.token_of(&w.general).unwrap();
    let set = b
        .post(
            "/admin/usage",
            &[
                ("csrf", &screen.field("csrf")),
                ("ticket", &screen.field("ticket")),
                ("id", "W0002"),
                ("action", "not_used"),
                ("password", ADMIN_APPROVAL_PASSWORD),
            ],
        )
        .await;
    assert!(
        set.has("W0002 の利用形態を「利用しない」に設定しました。無効にしたトークン："),
        "{}",
        set.body
    );
    assert!(set.has(r#"<dd class="mode">利用しない</dd>"#));
    assert_eq!(w.token_of(&w.general), None);
    assert_eq!(
        w.bank.records().token_status(&old).unwrap(),
        Some(TokenStatus::Revoked)
    );
    let code = w.press(&old);
    let refused = w.browser().sign_in("W0002", &code).await;
    assert!(refused.has(&Refusal::LoginFailed.message(Lang::Ja)));
    // Without a code (the sign-in form's code field may be left empty):
    // the user's page.
    let home = w.browser().sign_in("W0002", "").await;
    assert!(home.has("お客様ページ"), "{}", home.body);
    // A token user's empty code is the sign-in refusal.
    assert!(
        w.browser()
            .sign_in("W0001", "")
            .await
            .has(&Refusal::LoginFailed.message(Lang::Ja))
    );
}

/// The software token's form posted twice (a double click): one token
/// minted, its QR code shown once; the second answer is the usage screen
/// saying so, not a second QR code and not an error page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_double_clicked_software_token_form_mints_once_and_shows_the_qr_code_once() {
    let mut w = World::new();
    let mut b = w.browser();
    admin_in(&mut w, &mut b).await;
    let screen = b.get("/admin/usage?id=W0005").await;
    let form = [
        ("csrf", screen.field("csrf")),
        ("ticket", screen.field("ticket")),
        ("id", "W0005".to_owned()),
        ("action", "software_token".to_owned()),
        ("password", ADMIN_APPROVAL_PASSWORD.to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (mut first, mut second) = (b.clone_view(), b.clone_view());
    let (one, two) = tokio::join!(
        first.post("/admin/usage", &form),
        second.post("/admin/usage", &form)
    );
    let shown: Vec<&Page> = [&one, &two].into_iter().filter(|p| p.has("<svg")).collect();
    assert_eq!(shown.len(), 1, "the QR code shown once");
    let other = if one.has("<svg") { &two } else { &one };
    assert_eq!(other.status, StatusCode::OK, "{}", other.body);
    assert!(
        other.has("QRコードを一度だけ表示しました") && other.has("この操作は既に完了しています"),
        "{}",
        other.body
    );
    let minted = w
        .bank
        .records()
        .audit_chain()
        .unwrap()
        .into_iter()
        .filter(|r| r.entry.action == otp_exchange::Action::SoftwareToken)
        .count();
    assert_eq!(minted, 1);
}
