//! The new screens' logs (ID lock, unregistration, registration, usage
//! history) hold no code, password, ticket or CSRF token. In a test binary
//! of its own: a subscriber set for one thread while other tests run the
//! same call sites in the same process may miss their events.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use otp_exchange::scenario::ADMIN_APPROVAL_PASSWORD;

mod common;
use common::{Capture, World};

// current_thread: every handler and middleware runs on this thread, under
// the test's subscriber.
#[tokio::test(flavor = "current_thread")]
async fn the_new_screens_log_no_code_password_ticket_or_csrf_token() {
    let logs = Capture::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
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
    for (action, password) in [
        ("lock", ""),
        ("unlock", "wrong-password-2"),
        ("unlock", ADMIN_APPROVAL_PASSWORD),
    ] {
        b.post(
            "/admin/locks",
            &[
                ("csrf", &csrf),
                ("id", "W0002"),
                ("action", action),
                ("password", password),
            ],
        )
        .await;
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
