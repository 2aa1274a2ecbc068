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
use otp_exchange::scenario::ADMIN_APPROVAL_PASSWORD;
use otp_exchange::{Lang, Refusal};

mod common;
use common::{Browser, Page, World};

/// Signs W0001 in with a fresh code; returns the menu.
async fn admin_in(w: &mut World, b: &mut Browser) -> Page {
    let serial = w.token_of(&w.admin).unwrap();
    let code = w.press(&serial);
    let menu = b.sign_in("W0001", &code).await;
    assert_eq!(menu.status, StatusCode::OK);
    menu
}

/// Signs W0002 in with a fresh code from their token; returns the answer.
async fn general_in(w: &mut World) -> Page {
    let serial = w.token_of(&w.general).unwrap();
    let code = w.press(&serial);
    w.browser().sign_in("W0002", &code).await
}

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

    // Lock W0002: done, shown as an administrator's lock; their sign-in refused.
    let after = b
        .post(
            "/admin/locks",
            &[("csrf", &csrf), ("id", "W0002"), ("action", "lock")],
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
