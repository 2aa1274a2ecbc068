//! The demo's virtual tokens page: devices with blank displays and a "1"
//! button; pressing one shows a code the bank accepts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use otp_exchange::scenario::{Scenario, script};
use otp_exchange::{HashCost, MemoryStore};
use otp_provision::{Clock as _, SerialNumber};
use otp_token::{SimClock, Token};

mod common;
use common::Browser;

struct Devices {
    tokens: Mutex<BTreeMap<SerialNumber, Token>>,
    clock: SimClock,
}

impl otp_server::DemoTokens for Devices {
    fn serials(&self) -> Vec<String> {
        let tokens = self.tokens.lock().unwrap();
        tokens.keys().map(|s| s.as_str().to_owned()).collect()
    }

    fn press(&self, serial: &str) -> Option<String> {
        let serial = SerialNumber::parse(serial).ok()?;
        let mut tokens = self.tokens.lock().unwrap();
        let screen = tokens.get_mut(&serial)?.press(self.clock.now()).ok()?;
        screen.code().map(|c| c.to_string())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_page_draws_devices_and_a_pressed_one_shows_a_code_the_bank_accepts() {
    let s = Scenario::setup(MemoryStore::new(), script::START, HashCost::TESTING).unwrap();
    let serials: Vec<String> = s.tokens.keys().map(|k| k.as_str().to_owned()).collect();
    let general_serial = s
        .bank
        .records()
        .user(&s.general)
        .unwrap()
        .unwrap()
        .token
        .unwrap();
    let clock = s.clock.clone();
    let bank = Arc::new(s.bank);
    let devices = Arc::new(Devices {
        tokens: Mutex::new(s.tokens),
        clock: clock.clone(),
    });
    let app =
        otp_server::router(otp_server::AppState::new(Arc::clone(&bank)).with_demo_tokens(devices));
    let mut b = Browser {
        app,
        cookies: HashMap::new(),
    };

    // Every token as a device, every display blank, a "1" button each.
    let page = b.get("/demo/tokens").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(serials.len(), 8, "{serials:?}");
    for serial in &serials {
        assert!(
            page.has(&format!(
                r#"<div class="device"><p class="serial">{serial}</p><p class="display"></p><form method="post" action="/demo/tokens"><input type="hidden" name="csrf" value="{}"><input type="hidden" name="serial" value="{serial}">"#,
                page.field("csrf")
            )),
            "{serial}: {}",
            page.body
        );
    }
    assert_eq!(
        page.body.matches(r#"<p class="display"></p>"#).count(),
        serials.len()
    );
    assert_eq!(page.body.matches(">1</button>").count(), serials.len());
    assert!(!page.has("<script") && !page.has("style="));
    let csrf = page.field("csrf");

    // Without the CSRF token: 403, nothing pressed.
    let forged = b
        .post("/demo/tokens", &[("serial", general_serial.as_str())])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    // "1" on W0002's token half a minute later: its display shows 6
    // digits, the others stay blank, and the bank accepts the code.
    clock.advance(30);
    let pressed = b
        .post(
            "/demo/tokens",
            &[("csrf", &csrf), ("serial", general_serial.as_str())],
        )
        .await;
    assert_eq!(pressed.status, StatusCode::OK);
    let marker = format!(
        r#"<p class="serial">{}</p><p class="display">"#,
        general_serial.as_str()
    );
    let start = pressed.body.find(&marker).unwrap() + marker.len();
    let code = &pressed.body[start..start + 6];
    assert!(code.bytes().all(|c| c.is_ascii_digit()), "{}", pressed.body);
    assert_eq!(&pressed.body[start + 6..start + 10], "</p>");
    assert_eq!(
        pressed.body.matches(r#"<p class="display"></p>"#).count(),
        serials.len() - 1
    );
    bank.login(&otp_exchange::UserId::parse("W0002").unwrap(), code)
        .unwrap();

    // An unknown serial: said on the page, nothing shown.
    let unknown = b
        .post(
            "/demo/tokens",
            &[("csrf", &csrf), ("serial", "XX0000000000")],
        )
        .await;
    assert!(unknown.has("該当するトークンがありません。"));
    assert_eq!(
        unknown.body.matches(r#"<p class="display"></p>"#).count(),
        serials.len()
    );
}
