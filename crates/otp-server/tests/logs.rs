//! The server's logs hold no code, password, ticket, CSRF token or session
//! id: over a whole exchange with refusals, and over the other screens (ID
//! lock, unregistration, registration, usage history). In a test binary of
//! its own, with one global subscriber (`Capture::global`) so that events
//! of every thread are seen; each test checks its own lines are there and
//! none of its secrets anywhere in what the process logged.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use otp_exchange::scenario::ADMIN_APPROVAL_PASSWORD;
use otp_exchange::{Lang, Refusal};

mod common;
use common::{Capture, World};

#[tokio::test(flavor = "current_thread")]
async fn the_new_screens_log_no_code_password_ticket_or_csrf_token() {
    let logs = Capture::global();
    let mut w = World::new();
    let mut b = w.browser();
    let serial = w.token_of(&w.admin).unwrap();
    let code = w.press(&serial);
    let menu = b.sign_in("W0001", &code).await;
    let csrf = menu.field("csrf");
    let mut secrets = vec![
        code,
        csrf.clone(),
        ADMIN_APPROVAL_PASSWORD.to_owned(),
        "wrong-password-2".to_owned(),
        b.cookies[otp_server::SESSION_COOKIE].clone(),
    ];
    // ID lock screen: lock, a wrong unlock, an unlock.
    let mut form = b.get("/admin/locks").await.field("ticket");
    for (action, password) in [
        ("lock", ""),
        ("unlock", "wrong-password-2"),
        ("unlock", ADMIN_APPROVAL_PASSWORD),
    ] {
        secrets.push(form.clone());
        form = b
            .post(
                "/admin/locks",
                &[
                    ("csrf", &csrf),
                    ("ticket", &form),
                    ("id", "W0002"),
                    ("action", action),
                    ("password", password),
                ],
            )
            .await
            .field("ticket");
    }
    // Unregistration: a wrong password, then done.
    let general = w.token_of(&w.general).unwrap();
    let form = b
        .post("/admin/unregister", &[("csrf", &csrf), ("id", "W0002")])
        .await;
    let code = w.press(&general);
    let wrong = b
        .post(
            "/admin/unregister/confirm",
            &[
                ("csrf", &csrf),
                ("ticket", &form.field("ticket")),
                ("code", &code),
                ("password", "wrong-password-2"),
            ],
        )
        .await;
    secrets.extend([form.field("ticket"), code, wrong.field("ticket")]);
    let code = w.press(&general);
    let done = b
        .post(
            "/admin/unregister/confirm",
            &[
                ("csrf", &csrf),
                ("ticket", &wrong.field("ticket")),
                ("code", &code),
                ("password", ADMIN_APPROVAL_PASSWORD),
            ],
        )
        .await;
    assert!(done.has("トークンの登録を解除しました。"), "{}", done.body);
    secrets.push(code);
    // Registration of W0002 again, and the history.
    let screen5 = b
        .post("/admin/register", &[("csrf", &csrf), ("id", "W0002")])
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
    assert!(done.has("<h1>3 完了</h1>"), "{}", done.body);
    secrets.extend([screen5.field("ticket"), code]);
    b.get("/admin/history?id=W0002&from=2020-01-01").await;

    let text = logs.text();
    assert!(
        text.contains(r#"ID lock screen refused reason="wrong_password""#),
        "{text}"
    );
    assert!(
        text.contains("unregistration refused") && text.contains("token unregistered"),
        "{text}"
    );
    assert!(text.contains("path=/admin/history"));
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "a secret in the logs: {secret}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_logs_hold_no_code_password_ticket_csrf_token_or_session_id() {
    let logs = Capture::global();

    let mut w = World::new();
    let mut b = w.browser();
    let mut secrets: Vec<String> = vec![ADMIN_APPROVAL_PASSWORD.to_owned()];
    let admin_serial = w.token_of(&w.admin).unwrap();
    let code = w.press(&admin_serial);
    secrets.push(code.clone());
    let wrong_login = b.sign_in("W0001", "000000").await;
    assert!(wrong_login.has(&Refusal::LoginFailed.message(Lang::Ja)));
    secrets.push(b.cookies[otp_server::SESSION_COOKIE].clone());
    let menu = b.sign_in("W0001", &code).await;
    let csrf = menu.field("csrf");
    secrets.push(csrf.clone());
    secrets.push(b.cookies[otp_server::SESSION_COOKIE].clone());
    let screen4 = b
        .post("/admin/exchange", &[("csrf", &csrf), ("id", "W0002")])
        .await;
    let ticket = screen4.field("ticket");
    secrets.push(ticket.clone());
    let old = w.token_of(&w.general).unwrap();
    let code = w.press(&old);
    secrets.push(code.clone());
    let screen5 = b
        .post(
            "/admin/exchange/current",
            &[("csrf", &csrf), ("ticket", &ticket), ("code", &code)],
        )
        .await;
    let ticket = screen5.field("ticket");
    secrets.push(ticket.clone());
    let new = w.stock()[0];
    let code = w.press(&new);
    secrets.push(code.clone());
    let refused = b
        .post(
            "/admin/exchange/new",
            &[
                ("csrf", &csrf),
                ("ticket", &ticket),
                ("serial", new.as_str()),
                ("code", &code),
                ("password", "wrong-password-1"),
            ],
        )
        .await;
    secrets.push("wrong-password-1".into());
    let ticket = refused.field("ticket");
    secrets.push(ticket.clone());
    let code = w.press(&new);
    secrets.push(code.clone());
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
    assert!(done.has("ただいまから有効となります"));
    let _ = b.post("/admin/exchange/new", &[("ticket", &ticket)]).await;

    let text = logs.text();
    assert!(
        text.contains("sign-in refused") && text.contains("reason="),
        "{text}"
    );
    assert!(text.contains("screen 5 refused") && text.contains("exchange committed"));
    assert!(text.contains("form without the session's CSRF token"));
    assert!(text.contains("path=/admin/exchange/new"));
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "a secret in the logs: {secret}"
        );
    }
}
