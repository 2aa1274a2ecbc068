//! The administrator's other screens through HTTP, as a browser does it:
//! ID lock/unlock (IDロック解除), usage history (利用履歴照会), and
//! registration / unregistration from screen 3.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use axum::http::StatusCode;
use otp_exchange::scenario::{ADMIN_APPROVAL_PASSWORD, script};
use otp_exchange::{Lang, Refusal};

mod common;
use common::{World, admin_in, exchange_w0002, general_in, without_csrf};

fn locked(w: &World, id: &str) -> bool {
    let id = otp_exchange::UserId::parse(id).unwrap();
    w.bank.records().user(&id).unwrap().unwrap().lock.locked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_then_unlock_w0002_from_the_id_lock_screen() {
    let mut w = World::new();
    let mut b = w.browser();
    let menu = admin_in(&mut w, &mut b).await;
    assert!(
        menu.has(r#"<a href="/admin/locks">IDロック解除</a>"#),
        "{}",
        menu.body
    );

    let screen = b.get("/admin/locks").await;
    assert_eq!(screen.status, StatusCode::OK);
    assert!(screen.has("<h1>IDロック解除</h1>"), "{}", screen.body);
    assert!(screen.has("1から3件/3件"), "{}", screen.body);
    assert!(screen.has("<td>W0002</td>"));
    assert_eq!(screen.body.matches("ロックなし").count(), 3);
    let csrf = screen.field("csrf");
    let form = screen.field("ticket");

    // Lock W0002: done, shown as an administrator's lock; their sign-in refused.
    let after = b
        .post(
            "/admin/locks",
            &[
                ("csrf", &csrf),
                ("ticket", &form),
                ("id", "W0002"),
                ("action", "lock"),
            ],
        )
        .await;
    assert_eq!(after.status, StatusCode::OK);
    assert!(after.has("W0002 のIDをロックしました。"), "{}", after.body);
    assert!(after.has("<strong>ロック中</strong>（管理者によるロック）"));
    assert!(locked(&w, "W0002"));
    let refused = general_in(&mut w).await;
    assert_eq!(refused.status, StatusCode::OK);
    assert!(refused.has(&Refusal::LoginFailed.message(Lang::Ja)));

    // Unlock with a wrong approval password: refused on the same screen,
    // the password field empty, still locked.
    let wrong = b
        .post(
            "/admin/locks",
            &[
                ("csrf", &csrf),
                ("ticket", &after.field("ticket")),
                ("id", "W0002"),
                ("action", "unlock"),
                ("password", "not-the-password"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::OK);
    assert!(wrong.has("<h1>IDロック解除</h1>"));
    assert!(
        wrong.has(&Refusal::WrongPassword.message(Lang::Ja)),
        "{}",
        wrong.body
    );
    assert!(!wrong.has("not-the-password"));
    assert!(locked(&w, "W0002"));

    // An administrator's own ID: the manual's refusal on the screen.
    let own = b
        .post(
            "/admin/locks",
            &[
                ("csrf", &csrf),
                ("ticket", &wrong.field("ticket")),
                ("id", "W0001"),
                ("action", "unlock"),
                ("password", ADMIN_APPROVAL_PASSWORD),
            ],
        )
        .await;
    assert!(own.has(&Refusal::OwnId.message(Lang::Ja)), "{}", own.body);

    // Unlock with the approval password: W0002 signs in again.
    let unlocked = b
        .post(
            "/admin/locks",
            &[
                ("csrf", &csrf),
                ("ticket", &own.field("ticket")),
                ("id", "W0002"),
                ("action", "unlock"),
                ("password", ADMIN_APPROVAL_PASSWORD),
            ],
        )
        .await;
    assert!(
        unlocked.has("W0002 のIDロックを解除しました。"),
        "{}",
        unlocked.body
    );
    assert_eq!(unlocked.body.matches("ロックなし").count(), 3);
    assert!(!locked(&w, "W0002"));
    let home = general_in(&mut w).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.has("（W0002）"), "{}", home.body);
    assert!(!home.has(&Refusal::LoginFailed.message(Lang::Ja)));

    // Audited by the policy: the lock, the refused and the right unlock.
    let actions: Vec<_> = w
        .bank
        .records()
        .audit_chain()
        .unwrap()
        .into_iter()
        .filter(|r| {
            matches!(
                r.entry.action,
                otp_exchange::Action::Lock | otp_exchange::Action::Unlock
            )
        })
        .map(|r| (r.entry.action, r.entry.reason))
        .collect();
    assert_eq!(
        actions,
        vec![
            (otp_exchange::Action::Lock, None),
            (
                otp_exchange::Action::Unlock,
                Some("wrong_password".to_owned())
            ),
            (otp_exchange::Action::Unlock, Some("own_id".to_owned())),
            (otp_exchange::Action::Unlock, None),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_general_user_cannot_reach_the_id_lock_screen() {
    let mut w = World::new();
    let serial = w.token_of(&w.general).unwrap();
    let code = w.press(&serial);
    let mut b = w.browser();
    let home = b.sign_in("W0002", &code).await;
    assert_eq!(home.status, StatusCode::OK);
    let csrf = home.field("csrf");
    let get = b.get("/admin/locks").await;
    assert_eq!(get.status, StatusCode::FORBIDDEN);
    assert!(get.has(&Refusal::NotAdministrator.message(Lang::Ja)));
    let post = b
        .post(
            "/admin/locks",
            &[("csrf", &csrf), ("id", "W0005"), ("action", "lock")],
        )
        .await;
    assert_eq!(post.status, StatusCode::FORBIDDEN);
    assert!(post.has(&Refusal::NotAdministrator.message(Lang::Ja)));
    assert!(!locked(&w, "W0005"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_id_lock_screen_checks_the_csrf_token() {
    let mut w = World::new();
    let mut b = w.browser();
    admin_in(&mut w, &mut b).await;
    let audit_before = w.bank.records().audit_chain().unwrap().len();
    for csrf in [None, Some("forged")] {
        let mut fields = vec![("id", "W0002"), ("action", "lock")];
        if let Some(c) = csrf {
            fields.push(("csrf", c));
        }
        let answer = b.post("/admin/locks", &fields).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        assert!(answer.has("このリクエストはお受けできません。"));
    }
    assert!(!locked(&w, "W0002"));
    assert_eq!(w.bank.records().audit_chain().unwrap().len(), audit_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_history_shows_the_exchange_and_the_logins_newest_first() {
    let mut w = World::new();
    w.clock.set(script::EXCHANGE_DAY);
    let mut b = w.browser();
    let (new, mut typed) = exchange_w0002(&mut w, &mut b).await;
    let code = w.press(&new);
    let home = w.browser().sign_in("W0002", &code).await;
    assert_eq!(home.status, StatusCode::OK);
    typed.push(code);

    let menu = b.get("/admin").await;
    assert!(menu.has(r#"<a href="/admin/history">利用履歴照会</a>"#));
    let day = b
        .get("/admin/history?id=W0002&from=2020-10-01&to=2020-10-01")
        .await;
    assert_eq!(day.status, StatusCode::OK);
    assert!(day.has("<h1>利用履歴照会</h1>"));
    // Newest first: W0002's sign-in with the new token (the fourth press
    // after 11:00:00), then the exchange W0001 committed.
    let login =
        "<tbody><tr><td>2020-10-01 11:02:00</td><td>ログイン</td><td>W0002</td><td>W0002</td>";
    assert!(day.has(login), "{}", day.body);
    let exchange = "<td>2020-10-01 11:01:30</td><td>トークン交換</td><td>W0001</td><td>W0002</td>";
    assert!(day.has(exchange), "{}", day.body);
    assert!(day.body.find(login) < day.body.find(exchange));
    assert!(day.has("<td>正常終了</td>"));
    // Never a code or a password: the audit holds none.
    let shown = without_csrf(&day);
    for secret in typed
        .iter()
        .map(String::as_str)
        .chain([ADMIN_APPROVAL_PASSWORD])
    {
        assert!(!shown.contains(secret), "{secret} shown");
    }
    // The day before: the set-up's registration only, no exchange.
    let before = b
        .get("/admin/history?id=W0002&from=2020-09-30&to=2020-09-30")
        .await;
    assert!(before.has("<td>トークン新規登録</td>"), "{}", before.body);
    assert!(!before.has("トークン交換"));
    assert!(!before.has("2020-10-01"));
    // The day after: nothing.
    let after = b.get("/admin/history?id=W0002&from=2020-10-02").await;
    assert!(after.has("該当する履歴はありません。"), "{}", after.body);
    // A refused sign-in shows the reason in the bank's words.
    let refused = w.browser().sign_in("W0002", "000000").await;
    assert!(refused.has(&Refusal::LoginFailed.message(Lang::Ja)));
    let again = b.get("/admin/history?id=W0002").await;
    assert!(again.has("<td>お受けできません（"), "{}", again.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_history_shows_typed_date_errors_on_the_screen() {
    let mut w = World::new();
    let mut b = w.browser();
    admin_in(&mut w, &mut b).await;
    for (query, message) in [
        (
            "id=W0002&from=2020-13-01",
            "開始日は YYYY-MM-DD の形式で正しい日付を入力してください（例：2020-10-01）。",
        ),
        (
            "id=W0002&from=2020-10-01&to=2020%2F10%2F02",
            "終了日は YYYY-MM-DD の形式で正しい日付を入力してください（例：2020-10-01）。",
        ),
        (
            "id=W0002&from=2020-10-02&to=2020-10-01",
            "終了日は開始日以降の日付を入力してください。",
        ),
        ("id=..%2F&from=2020-10-01", "該当するお客様IDがありません。"),
    ] {
        let page = b.get(&format!("/admin/history?{query}")).await;
        assert_eq!(page.status, StatusCode::OK, "{query}");
        assert!(page.has(message), "{query}: {}", page.body);
        assert!(!page.has("<table"), "{query}");
    }
    // The typed values are kept (escaped) for correction.
    let page = b.get("/admin/history?id=W0002&from=2020-13-01").await;
    assert!(page.has(r#"name="from" value="2020-13-01""#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_history_pages_twenty_at_a_time() {
    let mut w = World::new();
    let serial = w.token_of(&w.general).unwrap();
    for _ in 0..25 {
        let code = w.press(&serial);
        assert_eq!(
            w.browser().sign_in("W0002", &code).await.status,
            StatusCode::OK
        );
    }
    let mut b = w.browser();
    admin_in(&mut w, &mut b).await;
    let total = w
        .bank
        .records()
        .audit_chain()
        .unwrap()
        .iter()
        .filter(|r| r.entry.target.as_ref() == Some(&w.general))
        .count();
    let first = b.get("/admin/history?id=W0002").await;
    assert!(first.has(&format!("1から20件/{total}件")), "{}", first.body);
    assert_eq!(first.body.matches("<td>ログイン</td>").count(), 20);
    assert!(
        first.has(r#"<a href="/admin/history?id=W0002&amp;from=&amp;to=&amp;page=1">次へ&gt;</a>"#),
        "{}",
        first.body
    );
    let second = b.get("/admin/history?id=W0002&from=&to=&page=1").await;
    assert!(
        second.has(&format!("21から{total}件/{total}件")),
        "{}",
        second.body
    );
    assert!(second.has("前へ"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_general_user_cannot_read_the_usage_history() {
    let mut w = World::new();
    let home = general_in(&mut w).await;
    assert_eq!(home.status, StatusCode::OK);
    let serial = w.token_of(&w.general).unwrap();
    let code = w.press(&serial);
    let mut b = w.browser();
    b.sign_in("W0002", &code).await;
    let page = b.get("/admin/history?id=W0002").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.has(&Refusal::NotAdministrator.message(Lang::Ja)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn w0005_registered_from_screen_3_then_signs_in_with_the_new_token() {
    let mut w = World::new();
    let mut b = w.browser();
    admin_in(&mut w, &mut b).await;
    let w0005 = otp_exchange::UserId::parse("W0005").unwrap();
    assert_eq!(w.token_of(&w0005), None);

    // A user with a token: 新規登録 is refused on screen 3.
    let screen3 = b.get("/admin/user?id=W0002").await;
    let csrf = screen3.field("csrf");
    let refused = b
        .post("/admin/register", &[("csrf", &csrf), ("id", "W0002")])
        .await;
    assert!(refused.has("ワンタイムパスワード 情報変更"));
    assert!(
        refused.has(&Refusal::AlreadyRegistered.message(Lang::Ja)),
        "{}",
        refused.body
    );

    // W0005 has none: screen 3 offers 新規登録, which goes to screen 5.
    let screen3 = b.get("/admin/user?id=W0005").await;
    assert!(
        screen3.has(r#"action="/admin/register""#),
        "{}",
        screen3.body
    );
    assert!(screen3.has("新規登録</button>"));
    assert!(!screen3.has("/admin/unregister"));
    let screen5 = b
        .post("/admin/register", &[("csrf", &csrf), ("id", "W0005")])
        .await;
    assert!(screen5.has("新しいトークン情報"), "{}", screen5.body);
    let new = w.stock()[0];
    let code = w.press(&new);
    let fields = [
        ("csrf", csrf.as_str()),
        ("ticket", &screen5.field("ticket")),
        ("serial", new.as_str()),
        ("code", &code),
        ("password", ADMIN_APPROVAL_PASSWORD),
    ];
    let done = b.post("/admin/exchange/new", &fields).await;
    assert!(done.has("<h1>3 完了</h1>"), "{}", done.body);
    assert!(done.has("登録したトークンは、ただいまから有効となります。"));
    assert_eq!(w.token_of(&w0005), Some(new));
    let audit = w.bank.records().audit_chain().unwrap().len();

    // The same form again: the outcome, nothing committed twice.
    let again = b.post("/admin/exchange/new", &fields).await;
    assert!(again.has("この操作は既に完了しています"), "{}", again.body);
    assert_eq!(w.bank.records().audit_chain().unwrap().len(), audit);

    // W0005 signs in with the new token.
    let code = w.press(&new);
    let home = w.browser().sign_in("W0005", &code).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.has("（W0005）"), "{}", home.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn w0002_unregistered_from_screen_3_then_their_sign_in_refused() {
    let mut w = World::new();
    let mut b = w.browser();
    admin_in(&mut w, &mut b).await;
    let serial = w.token_of(&w.general).unwrap();
    let screen3 = b.get("/admin/user?id=W0002").await;
    assert!(
        screen3.has("トークンの登録解除</button>"),
        "{}",
        screen3.body
    );
    let csrf = screen3.field("csrf");
    let form = b
        .post("/admin/unregister", &[("csrf", &csrf), ("id", "W0002")])
        .await;
    assert!(form.has("<h1>トークンの登録解除</h1>"), "{}", form.body);
    let first = form.field("ticket");

    // A wrong approval password: refused on the form, nothing re-filled,
    // a new ticket; the first one is spent.
    let code = w.press(&serial);
    let wrong = b
        .post(
            "/admin/unregister/confirm",
            &[
                ("csrf", &csrf),
                ("ticket", &first),
                ("code", &code),
                ("password", "not-the-password"),
            ],
        )
        .await;
    assert!(
        wrong.has(&Refusal::WrongPassword.message(Lang::Ja)),
        "{}",
        wrong.body
    );
    assert!(!wrong.has(&code) && !wrong.has("not-the-password"));
    let second = wrong.field("ticket");
    assert_ne!(second, first);
    let code = w.press(&serial);
    let spent = b
        .post(
            "/admin/unregister/confirm",
            &[
                ("csrf", &csrf),
                ("ticket", &first),
                ("code", &code),
                ("password", ADMIN_APPROVAL_PASSWORD),
            ],
        )
        .await;
    assert_eq!(spent.status, StatusCode::FORBIDDEN);
    assert_eq!(w.token_of(&w.general), Some(serial));

    // The code and the approval password: unregistered.
    let done = b
        .post(
            "/admin/unregister/confirm",
            &[
                ("csrf", &csrf),
                ("ticket", &second),
                ("code", &code),
                ("password", ADMIN_APPROVAL_PASSWORD),
            ],
        )
        .await;
    assert!(done.has("トークンの登録を解除しました。"), "{}", done.body);
    assert_eq!(w.token_of(&w.general), None);
    let after = b.get("/admin/user?id=W0002").await;
    assert!(after.has("未登録"));

    // W0002's sign-in with the old token is refused.
    let code = w.press(&serial);
    let refused = w.browser().sign_in("W0002", &code).await;
    assert!(refused.has(&Refusal::LoginFailed.message(Lang::Ja)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_unregister_form_posted_twice_commits_once() {
    let mut w = World::new();
    let mut b = w.browser();
    admin_in(&mut w, &mut b).await;
    let serial = w.token_of(&w.general).unwrap();
    let screen3 = b.get("/admin/user?id=W0002").await;
    let csrf = screen3.field("csrf");
    let form = b
        .post("/admin/unregister", &[("csrf", &csrf), ("id", "W0002")])
        .await;
    let code = w.press(&serial);
    let fields = [
        ("csrf", csrf.as_str()),
        ("ticket", &form.field("ticket")),
        ("code", &code),
        ("password", ADMIN_APPROVAL_PASSWORD),
    ];
    let unregistered = |w: &World| {
        w.bank
            .records()
            .audit_chain()
            .unwrap()
            .iter()
            .filter(|r| {
                r.entry.action == otp_exchange::Action::Unregister
                    && r.entry.result == otp_exchange::AuditResult::Ok
            })
            .count()
    };
    let (mut tab1, mut tab2) = (b.clone_view(), b.clone_view());
    let (one, two) = tokio::join!(
        tab1.post("/admin/unregister/confirm", &fields),
        tab2.post("/admin/unregister/confirm", &fields)
    );
    for page in [&one, &two] {
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.has("トークンの登録を解除しました。"), "{}", page.body);
    }
    assert_eq!(
        [&one, &two]
            .iter()
            .filter(|p| p.has("この操作は既に完了しています"))
            .count(),
        1
    );
    assert_eq!(unregistered(&w), 1);
    let audit = w.bank.records().audit_chain().unwrap().len();
    let third = b.post("/admin/unregister/confirm", &fields).await;
    assert!(third.has("この操作は既に完了しています"));
    assert_eq!(w.bank.records().audit_chain().unwrap().len(), audit);
    assert_eq!(w.token_of(&w.general), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_new_screens_speak_english_with_lang_en() {
    let mut w = World::new();
    w.clock.set(script::EXCHANGE_DAY);
    let mut b = w.browser();
    admin_in(&mut w, &mut b).await;
    let locks = b.get("/admin/locks?lang=en").await;
    assert!(locks.has("<h1>ID lock/unlock</h1>"), "{}", locks.body);
    assert!(locks.has("1 to 3 of 3") && locks.has("Not locked"));
    let history = b.get("/admin/history?id=W0002&to=2020-09-30").await;
    assert!(history.has("<h1>Usage history</h1>"), "{}", history.body);
    assert!(
        history.has("<td>2020-09-30 10:59:30</td><td>Register</td><td>W0001</td><td>W0002</td>")
    );
    assert!(history.has("<td>done</td>"));
    let wrong = b.get("/admin/history?id=W0002&from=2020-10-32").await;
    assert!(wrong.has("Type the start date as YYYY-MM-DD (for example 2020-10-01)."));
    let screen3 = b.get("/admin/user?id=W0005").await;
    assert!(screen3.has("New registration</button>"));
}

/// An unlock counts toward the ID's daily limit (3 a day), so the same
/// unlock form posted twice (a double click, the back button) must unlock
/// once: the second post shows what was done and calls nothing; a form
/// ticket this session did not issue is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_unlock_form_posted_twice_unlocks_once() {
    let mut w = World::new();
    let mut b = w.browser();
    admin_in(&mut w, &mut b).await;
    let screen = b.get("/admin/locks").await;
    let csrf = screen.field("csrf");
    let locking = b
        .post(
            "/admin/locks",
            &[
                ("csrf", &csrf),
                ("ticket", &screen.field("ticket")),
                ("id", "W0002"),
                ("action", "lock"),
            ],
        )
        .await;
    assert!(locked(&w, "W0002"));
    let unlock = [
        ("csrf", csrf.as_str()),
        ("ticket", &locking.field("ticket")),
        ("id", "W0002"),
        ("action", "unlock"),
        ("password", ADMIN_APPROVAL_PASSWORD),
    ];
    let (mut first, mut second) = (b.clone_view(), b.clone_view());
    let (one, two) = tokio::join!(
        first.post("/admin/locks", &unlock),
        second.post("/admin/locks", &unlock)
    );
    let third = b.post("/admin/locks", &unlock).await;
    for answer in [&one, &two, &third] {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert!(
            answer.has("W0002 のIDロックを解除しました。"),
            "{}",
            answer.body
        );
    }
    let already = [&one, &two, &third]
        .iter()
        .filter(|a| a.has("この操作は既に完了しています"))
        .count();
    assert_eq!(already, 2);
    let unlocks = w
        .bank
        .records()
        .audit_chain()
        .unwrap()
        .into_iter()
        .filter(|r| r.entry.action == otp_exchange::Action::Unlock)
        .count();
    assert_eq!(unlocks, 1);
    assert!(!locked(&w, "W0002"));

    // A ticket this session never issued: 403, nothing done.
    let forged = b
        .post(
            "/admin/locks",
            &[
                ("csrf", &csrf),
                ("ticket", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                ("id", "W0002"),
                ("action", "lock"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(!locked(&w, "W0002"));
}

/// A page number typed into the address bar, however large, is answered
/// (the list's last page or an empty one), never a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_page_number_is_answered() {
    let mut w = World::new();
    let mut b = w.browser();
    admin_in(&mut w, &mut b).await;
    for page in ["18446744073709551615", "18446744073709551614", "99999"] {
        for path in ["/admin/select", "/admin/locks", "/admin/history"] {
            let url = format!("{path}?page={page}&id=W0002");
            let answer = b.get(&url).await;
            assert_eq!(answer.status, StatusCode::OK, "{url}: {}", answer.body);
        }
    }
}

/// Dates and IDs typed into the usage history, however odd, are answered
/// on the screen, never a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_dates_and_ids_are_answered() {
    let mut w = World::new();
    let mut b = w.browser();
    admin_in(&mut w, &mut b).await;
    for (from, to) in [
        ("9999-12-31", "9999-12-31"),
        ("0000-01-01", "0001-01-01"),
        ("2020-02-30", ""),
        ("999999999-01-01", ""),
        ("-2020-01-01", ""),
        ("2020-1-1", "2020-13-01"),
        ("２０２０-１０-０１", ""),
        ("18446744073709551615-01-01", "18446744073709551615-12-31"),
    ] {
        for id in [
            "W0002",
            "",
            "%00",
            "ＷＯＯＯ２",
            "W0002%0d%0aSet-Cookie:x=1",
        ] {
            let url = format!("/admin/history?id={id}&from={from}&to={to}");
            let answer = b.get(&url).await;
            assert_eq!(answer.status, StatusCode::OK, "{url}: {}", answer.body);
            assert!(!answer.headers.contains_key("x"), "{url}");
        }
    }
    for id in ["", "%00", "W0002%0d%0a", "ＷＯＯＯ２", &"W".repeat(5000)] {
        for path in ["/admin/user", "/admin/usage"] {
            let url = format!("{path}?id={id}");
            let answer = b.get(&url).await;
            assert!(
                matches!(answer.status, StatusCode::OK | StatusCode::NOT_FOUND),
                "{url}: {}",
                answer.status
            );
        }
    }
}
