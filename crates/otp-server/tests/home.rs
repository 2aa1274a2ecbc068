//! The general user's own page (`GET /home`) through HTTP.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use axum::http::StatusCode;
use otp_exchange::scenario::script;

mod common;
use common::{World, exchange_w0002, without_csrf};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn w0002_sees_their_new_token_and_the_exchange_on_their_page() {
    let mut w = World::new();
    w.clock.set(script::EXCHANGE_DAY);
    let mut b = w.browser();
    let (new, typed) = exchange_w0002(&mut w, &mut b).await;
    let code = w.press(&new);
    let home = w.browser().sign_in("W0002", &code).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.has("<h1>お客様ページ</h1>"), "{}", home.body);
    assert!(home.has("<dt>お客様ID</dt><dd>W0002</dd>"), "{}", home.body);
    let me = w.bank.records().user(&w.general).unwrap().unwrap();
    assert!(home.has(&format!("<dt>利用者名</dt><dd>{}</dd>", me.name)));
    assert!(home.has("<dt>権限</dt><dd>一般者</dd>"), "{}", home.body);
    assert!(home.has(&format!(r#"<dd class="serial">{}</dd>"#, new.masked())));
    assert!(home.has("<dd>登録完了</dd>"));
    // Their own usage, newest first: this sign-in, then the exchange.
    let login =
        "<tbody><tr><td>2020-10-01 11:02:00</td><td>ログイン</td><td>W0002</td><td>W0002</td>";
    let exchange = "<td>2020-10-01 11:01:30</td><td>トークン交換</td><td>W0001</td><td>W0002</td>";
    assert!(home.has(login), "{}", home.body);
    assert!(home.has(exchange), "{}", home.body);
    // All 8 records about W0002 so far (the branch's enrolment, its login
    // password set, the set-up's registration, the exchange's steps, this
    // sign-in), never a code or password.
    assert_eq!(home.body.matches("<tr><td>20").count(), 8);
    let shown = without_csrf(&home);
    for secret in typed.iter().chain([&code]) {
        assert!(!shown.contains(secret.as_str()), "{secret} shown");
    }
    // Five sign-ins later: the last 10 only, the oldest gone.
    let mut last = home;
    for _ in 0..5 {
        let code = w.press(&new);
        last = w.browser().sign_in("W0002", &code).await;
    }
    assert_eq!(last.body.matches("<tr><td>20").count(), 10);
    assert_eq!(last.body.matches("<td>ログイン</td>").count(), 6);
    assert!(!last.has("利用者登録・変更"));
    assert!(!last.has("2020-09-30 10:59:30</td><td>新しいトークン確定"));
    assert!(last.has("2020-09-30 10:59:30</td><td>トークン新規登録"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_needs_a_signed_in_user() {
    let w = World::new();
    let page = w.browser().get("/home").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.headers["location"], "/login");
}
