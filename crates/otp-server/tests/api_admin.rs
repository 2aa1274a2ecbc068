//! The API's administrator operations: the admin session, the manual's
//! exchange through the API, registration, unregistration, lock and
//! unlock, usage mode, history, the seed file import, and who may call
//! them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::World;
use http_body_util::BodyExt as _;
use otp_exchange::scenario::{ADMIN_APPROVAL_PASSWORD, LOGIN_PASSWORD};
use otp_exchange::{Action, ApiScope, Authority, Password, PasswordKind, UserId};
use otp_provision::PreSharedKey;
use serde_json::{Value, json};
use tower::ServiceExt as _;

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

impl Answer {
    /// Checks a problem's status and reason; returns its body.
    fn problem(&self, status: u16, reason: &str) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(
            self.headers[header::CONTENT_TYPE],
            "application/problem+json"
        );
        assert_eq!(self.body["reason"], reason, "{}", self.body);
        assert_eq!(self.body["status"], status);
        assert_eq!(self.body["type"], format!("urn:otp:problem:{reason}"));
        &self.body
    }

    fn ok(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        assert_eq!(self.headers[header::CONTENT_TYPE], "application/json");
        &self.body
    }
}

/// One request to the API: `key` as the bearer key, `session` as the
/// admin session, `body` as JSON.
async fn call(
    app: &Router,
    method: Method,
    path: &str,
    key: Option<&str>,
    session: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(key) = key {
        req = req.header(header::AUTHORIZATION, format!("Bearer {key}"));
    }
    if let Some(session) = session {
        req = req.header("OTP-Admin-Session", session);
    }
    let req = match body {
        Some(body) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => req.body(Body::empty()).unwrap(),
    };
    let response = app.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
    };
    Answer {
        status,
        headers,
        body,
    }
}

/// The manual's bank with an admin-scope and a validate-scope key.
struct Api {
    world: World,
    admin_key: String,
    validate_key: String,
}

impl Api {
    fn new() -> Self {
        Self::with_policy(otp_exchange::Policy::default())
    }

    fn with_policy(policy: otp_exchange::Policy) -> Self {
        let world = World::with_policy(policy, |s| s);
        let admin_key = new_key(&world, ApiScope::Admin);
        let validate_key = new_key(&world, ApiScope::Validate);
        Self {
            world,
            admin_key,
            validate_key,
        }
    }

    fn app(&self) -> &Router {
        &self.world.app
    }

    /// `operator` signs in through `key`: the admin session.
    async fn sign_in_as(&mut self, operator: &UserId, key: &str) -> String {
        let serial = self.world.token_of(operator).unwrap();
        let code = self.world.press(&serial);
        let answer = call(
            self.app(),
            Method::POST,
            "/api/v1/admin/sign-in",
            Some(key),
            None,
            Some(json!({"operator": operator.as_str(), "password": LOGIN_PASSWORD, "code": code})),
        )
        .await;
        let body = answer.ok();
        assert_eq!(body["operator"], operator.as_str());
        assert_eq!(
            body["expires_at"],
            otp_provision::Clock::now(&self.world.clock) + 600
        );
        body["admin_session"].as_str().unwrap().to_owned()
    }

    async fn sign_in(&mut self) -> String {
        let admin = self.world.admin.clone();
        let key = self.admin_key.clone();
        self.sign_in_as(&admin, &key).await
    }

    /// An admin call with the admin key and `session`.
    async fn admin(
        &self,
        method: Method,
        path: &str,
        session: &str,
        body: Option<Value>,
    ) -> Answer {
        call(
            self.app(),
            method,
            path,
            Some(&self.admin_key),
            Some(session),
            body,
        )
        .await
    }

    async fn validate(&self, user: &str, code: &str) -> Value {
        call(
            self.app(),
            Method::POST,
            "/api/v1/validate",
            Some(&self.validate_key),
            None,
            Some(json!({"user": user, "code": code})),
        )
        .await
        .ok()
        .clone()
    }
}

fn new_key(world: &World, scope: ApiScope) -> String {
    world
        .bank
        .create_api_key("test", "test key", scope)
        .unwrap()
        .plaintext()
        .to_owned()
}

fn masked(serial: &otp_provision::SerialNumber) -> String {
    serial.masked().to_string()
}

/// The routes of the OpenAPI document that are not admin operations:
/// every other route is one, and must be refused to a validate key.
const NOT_ADMIN: [&str; 4] = [
    "/api/v1/openapi.json",
    "/api/v1/validate",
    "/api/v1/transactions/challenge",
    "/api/v1/transactions/sign",
];

/// Every admin route of the OpenAPI document: (method, path), `{id}` as
/// W0002. Each is tagged `admin`.
fn admin_routes() -> Vec<(Method, String)> {
    let doc: Value = serde_json::from_str(&otp_server::api::openapi().to_json().unwrap()).unwrap();
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if NOT_ADMIN.contains(&path.as_str()) {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            assert_eq!(op["tags"], json!(["admin"]), "{method} {path}");
            routes.push((
                method.to_uppercase().parse::<Method>().unwrap(),
                path.replace("{id}", "W0002"),
            ));
        }
    }
    routes.sort_by(|a, b| (a.1.as_str(), a.0.as_str()).cmp(&(b.1.as_str(), b.0.as_str())));
    routes
}

#[tokio::test]
async fn the_seed_exchange_through_the_api() {
    let mut api = Api::new();
    let session = api.sign_in().await;
    let general = api.world.general.clone();
    let old = api.world.token_of(&general).unwrap();

    let begun = api
        .admin(
            Method::POST,
            "/api/v1/exchanges",
            &session,
            Some(json!({"user": "W0002"})),
        )
        .await;
    let body = begun.ok();
    assert_eq!(body["next"], "current_code");
    assert_eq!(body["user"], "W0002");
    assert_eq!(body["serial"], masked(&old));
    let ticket = body["ticket"].as_str().unwrap().to_owned();

    let code = api.world.press(&old);
    let current = api
        .admin(
            Method::POST,
            "/api/v1/exchanges/current-code",
            &session,
            Some(json!({"ticket": ticket, "code": code})),
        )
        .await;
    let body = current.ok();
    assert_eq!(body["next"], "new_token");
    let ticket = body["ticket"].as_str().unwrap().to_owned();

    // The new token's step, refused: a wrong approval password...
    let new = api.world.stock()[0];
    let code = api.world.press(&new);
    let wrong = api
        .admin(
            Method::POST,
            "/api/v1/exchanges/new-token",
            &session,
            Some(json!({"ticket": ticket, "serial": new.as_str(), "code": code, "password": "not-the-password"})),
        )
        .await;
    let body = wrong.problem(422, "wrong_password");
    let ticket = body["ticket"].as_str().unwrap().to_owned();

    // ...someone else's serial (the administrator's own token)...
    let admins = api.world.token_of(&api.world.admin.clone()).unwrap();
    let code = api.world.press(&admins);
    let taken = api
        .admin(
            Method::POST,
            "/api/v1/exchanges/new-token",
            &session,
            Some(json!({"ticket": ticket, "serial": admins.as_str(), "code": code, "password": ADMIN_APPROVAL_PASSWORD})),
        )
        .await;
    let body = taken.problem(422, "serial_assigned");
    assert!(!body.to_string().contains(admins.as_str()));
    let ticket = body["ticket"].as_str().unwrap().to_owned();

    // ...then right.
    let code = api.world.press(&new);
    let done = api
        .admin(
            Method::POST,
            "/api/v1/exchanges/new-token",
            &session,
            Some(json!({"ticket": ticket, "serial": new.as_str(), "code": code, "password": ADMIN_APPROVAL_PASSWORD})),
        )
        .await;
    let body = done.ok();
    assert_eq!(body["result"], "switched");
    assert_eq!(body["flow"], "exchange");
    assert_eq!(body["user"], "W0002");
    assert_eq!(body["serial"], masked(&new));
    assert_eq!(body["old_serial"], masked(&old));
    assert_eq!(
        body["messages"]["en"],
        "The usage mode and token have been registered. The registered token is valid from now."
    );
    assert!(!body.to_string().contains(new.as_str()));
    assert_eq!(api.world.token_of(&general), Some(new));

    // The old token is refused from now, the new one accepted.
    let code = api.world.press(&old);
    let refused = api.validate("W0002", &code).await;
    assert_eq!(refused["result"], "rejected");
    let code = api.world.press(&new);
    let accepted = api.validate("W0002", &code).await;
    assert_eq!(accepted["result"], "accepted");
}

#[tokio::test]
async fn a_wrong_current_code_answers_a_ticket_to_try_again_from() {
    let mut api = Api::new();
    let session = api.sign_in().await;
    let old = api.world.token_of(&api.world.general.clone()).unwrap();
    let begun = api
        .admin(
            Method::POST,
            "/api/v1/exchanges",
            &session,
            Some(json!({"user": "W0002"})),
        )
        .await;
    let ticket = begun.ok()["ticket"].as_str().unwrap().to_owned();
    let code = api.world.press(&old);
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let refused = api
        .admin(
            Method::POST,
            "/api/v1/exchanges/current-code",
            &session,
            Some(json!({"ticket": ticket, "code": wrong})),
        )
        .await;
    let again = refused.problem(422, "wrong_code_current")["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    // The ticket sent is used up; the new one goes on.
    let used = api
        .admin(
            Method::POST,
            "/api/v1/exchanges/current-code",
            &session,
            Some(json!({"ticket": ticket, "code": code})),
        )
        .await;
    used.problem(409, "session_used");
    let ok = api
        .admin(
            Method::POST,
            "/api/v1/exchanges/current-code",
            &session,
            Some(json!({"ticket": again, "code": code})),
        )
        .await;
    assert_eq!(ok.ok()["next"], "new_token");
    // No current token: the branch is required.
    let begun = api
        .admin(
            Method::POST,
            "/api/v1/exchanges",
            &session,
            Some(json!({"user": "W0002"})),
        )
        .await;
    let ticket = begun.ok()["ticket"].as_str().unwrap().to_owned();
    let branch = api
        .admin(
            Method::POST,
            "/api/v1/exchanges/no-token",
            &session,
            Some(json!({"ticket": ticket})),
        )
        .await;
    branch.problem(409, "branch_required");
}

#[tokio::test]
async fn the_same_new_token_request_sent_twice_commits_once() {
    let mut api = Api::new();
    let session = api.sign_in().await;
    let general = api.world.general.clone();
    let old = api.world.token_of(&general).unwrap();
    let begun = api
        .admin(
            Method::POST,
            "/api/v1/exchanges",
            &session,
            Some(json!({"user": "W0002"})),
        )
        .await;
    let ticket = begun.ok()["ticket"].as_str().unwrap().to_owned();
    let code = api.world.press(&old);
    let current = api
        .admin(
            Method::POST,
            "/api/v1/exchanges/current-code",
            &session,
            Some(json!({"ticket": ticket, "code": code})),
        )
        .await;
    let ticket = current.ok()["ticket"].as_str().unwrap().to_owned();
    let new = api.world.stock()[0];
    let code = api.world.press(&new);
    let body = json!({"ticket": ticket, "serial": new.as_str(), "code": code, "password": ADMIN_APPROVAL_PASSWORD});
    // Both at once.
    let (a, b) = tokio::join!(
        api.admin(
            Method::POST,
            "/api/v1/exchanges/new-token",
            &session,
            Some(body.clone())
        ),
        api.admin(
            Method::POST,
            "/api/v1/exchanges/new-token",
            &session,
            Some(body.clone())
        ),
    );
    let (done, again) = if a.status == StatusCode::OK {
        (a, b)
    } else {
        (b, a)
    };
    assert_eq!(done.ok()["result"], "switched");
    again.problem(409, "session_used");
    // And once more after.
    let third = api
        .admin(
            Method::POST,
            "/api/v1/exchanges/new-token",
            &session,
            Some(body),
        )
        .await;
    third.problem(409, "session_used");
    let exchanges = api
        .world
        .bank
        .records()
        .audit_chain()
        .unwrap()
        .into_iter()
        .filter(|r| r.entry.action == Action::Exchange)
        .count();
    assert_eq!(exchanges, 1);
    assert_eq!(api.world.token_of(&general), Some(new));
}

#[tokio::test]
async fn registration_for_a_user_without_a_token() {
    let mut api = Api::new();
    let session = api.sign_in().await;
    let begun = api
        .admin(
            Method::POST,
            "/api/v1/registrations",
            &session,
            Some(json!({"user": "W0005"})),
        )
        .await;
    let body = begun.ok();
    assert_eq!(body["next"], "new_token");
    assert_eq!(body["serial"], Value::Null);
    let ticket = body["ticket"].as_str().unwrap().to_owned();
    let new = api.world.stock()[0];
    let code = api.world.press(&new);
    let done = api
        .admin(
            Method::POST,
            "/api/v1/exchanges/new-token",
            &session,
            Some(json!({"ticket": ticket, "serial": new.as_str(), "code": code, "password": ADMIN_APPROVAL_PASSWORD})),
        )
        .await;
    let body = done.ok();
    assert_eq!(body["flow"], "registration");
    assert_eq!(body["old_serial"], Value::Null);
    assert_eq!(body["serial"], masked(&new));
    // A user with a token cannot be registered again.
    let again = api
        .admin(
            Method::POST,
            "/api/v1/registrations",
            &session,
            Some(json!({"user": "W0005"})),
        )
        .await;
    again.problem(409, "already_registered");
}

#[tokio::test]
async fn users_list_and_info_show_masked_serials() {
    let mut api = Api::new();
    let session = api.sign_in().await;
    let general = api.world.token_of(&api.world.general.clone()).unwrap();
    let list = api
        .admin(
            Method::GET,
            "/api/v1/users?page=1&per_page=2",
            &session,
            None,
        )
        .await;
    let body = list.ok();
    assert_eq!(body["total"], 3);
    assert_eq!(body["first"], 1);
    assert_eq!(body["last"], 2);
    assert_eq!(body["users"][0]["id"], "W0001");
    assert_eq!(body["users"][0]["administrator"], true);
    assert_eq!(body["users"][1]["id"], "W0002");
    assert_eq!(body["users"][1]["serial"], masked(&general));
    assert_eq!(body["users"][1]["status"], "registered");
    assert_eq!(body["users"][1]["usage_mode"], "hardware_token");
    assert_eq!(body["users"][1]["locked"], false);
    assert!(!body.to_string().contains(general.as_str()));
    let info = api
        .admin(Method::GET, "/api/v1/users/W0005", &session, None)
        .await;
    let body = info.ok();
    assert_eq!(body["id"], "W0005");
    assert_eq!(body["serial"], Value::Null);
    assert_eq!(body["status"], "unregistered");
    api.admin(Method::GET, "/api/v1/users/W0009", &session, None)
        .await
        .problem(404, "unknown_user");
    api.admin(Method::GET, "/api/v1/users?page=0", &session, None)
        .await
        .problem(400, "malformed_request");
    // The document says how far pages go (schemathesis sent a page past
    // it as "valid" while the schema had no maximum).
    let doc = otp_server::api::openapi();
    let doc = serde_json::to_value(&doc).unwrap();
    let params = &doc["paths"]["/api/v1/users"]["get"]["parameters"];
    let page = params
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "page")
        .unwrap();
    assert_eq!(page["schema"]["maximum"], 1_000_000);
    api.admin(Method::GET, "/api/v1/users?page=1000000", &session, None)
        .await
        .ok();
    api.admin(Method::GET, "/api/v1/users?page=1000001", &session, None)
        .await
        .problem(400, "malformed_request");
}

#[tokio::test]
async fn unregister_lock_unlock_and_usage_mode() {
    let policy = otp_exchange::Policy {
        allow_not_used: true,
        ..otp_exchange::Policy::default()
    };
    let mut api = Api::with_policy(policy);
    let session = api.sign_in().await;
    let general = api.world.general.clone();
    let serial = api.world.token_of(&general).unwrap();

    // Lock, then unlock with the approval password (a wrong one first).
    let locked = api
        .admin(Method::POST, "/api/v1/users/W0002/lock", &session, None)
        .await;
    assert_eq!(locked.ok()["result"], "done");
    let info = api
        .admin(Method::GET, "/api/v1/users/W0002", &session, None)
        .await;
    assert_eq!(info.ok()["locked"], true);
    api.admin(
        Method::POST,
        "/api/v1/users/W0002/unlock",
        &session,
        Some(json!({"password": "wrong-password"})),
    )
    .await
    .problem(422, "wrong_password");
    let unlocked = api
        .admin(
            Method::POST,
            "/api/v1/users/W0002/unlock",
            &session,
            Some(json!({"password": ADMIN_APPROVAL_PASSWORD})),
        )
        .await;
    assert_eq!(unlocked.ok()["user"], "W0002");
    let info = api
        .admin(Method::GET, "/api/v1/users/W0002", &session, None)
        .await;
    assert_eq!(info.ok()["locked"], false);
    // No administrator unlocks their own ID.
    api.admin(
        Method::POST,
        "/api/v1/users/W0001/unlock",
        &session,
        Some(json!({"password": ADMIN_APPROVAL_PASSWORD})),
    )
    .await
    .problem(403, "own_id");

    // Usage mode: software_token is set by enrolment only (its own route).
    api.admin(
        Method::PUT,
        "/api/v1/users/W0002/usage-mode",
        &session,
        Some(json!({"mode": "software_token", "password": ADMIN_APPROVAL_PASSWORD})),
    )
    .await
    .problem(403, "software_token_enrollment_required");
    let set = api
        .admin(
            Method::PUT,
            "/api/v1/users/W0005/usage-mode",
            &session,
            Some(json!({"mode": "not_used", "password": ADMIN_APPROVAL_PASSWORD})),
        )
        .await;
    let body = set.ok();
    assert_eq!(body["previous"], "hardware_token");
    assert_eq!(body["mode"], "not_used");
    assert_eq!(body["revoked_serial"], Value::Null);
    let set = api
        .admin(
            Method::PUT,
            "/api/v1/users/W0005/usage-mode",
            &session,
            Some(json!({"mode": "hardware_token", "password": ADMIN_APPROVAL_PASSWORD})),
        )
        .await;
    assert_eq!(set.ok()["mode"], "hardware_token");

    // Unregister W0002's token: a code from it and the approval password.
    let code = api.world.press(&serial);
    let done = api
        .admin(
            Method::POST,
            "/api/v1/users/W0002/unregister",
            &session,
            Some(json!({"code": code, "password": ADMIN_APPROVAL_PASSWORD})),
        )
        .await;
    assert_eq!(done.ok()["result"], "done");
    assert_eq!(api.world.token_of(&general), None);
    let code = api.world.press(&serial);
    assert_eq!(api.validate("W0002", &code).await["result"], "rejected");
    api.admin(
        Method::POST,
        "/api/v1/users/W0002/unregister",
        &session,
        Some(json!({"code": code, "password": ADMIN_APPROVAL_PASSWORD})),
    )
    .await
    .problem(409, "no_token_registered");
}

#[tokio::test]
async fn the_history_shows_masked_serials_newest_first() {
    let mut api = Api::new();
    let session = api.sign_in().await;
    let serial = api.world.token_of(&api.world.general.clone()).unwrap();
    api.admin(Method::POST, "/api/v1/users/W0002/lock", &session, None)
        .await
        .ok();
    let history = api
        .admin(Method::GET, "/api/v1/history?user=W0002", &session, None)
        .await;
    let body = history.ok();
    assert_eq!(body["user"], "W0002");
    assert_eq!(body["page"], 1);
    assert_eq!(body["per_page"], 20);
    let records = body["records"].as_array().unwrap();
    assert_eq!(body["total"], records.len());
    assert_eq!(records[0]["action"], "Lock");
    assert_eq!(records[0]["action_ja"], "IDロック");
    assert_eq!(records[0]["operator"], "W0001");
    assert_eq!(records[0]["result"], "ok");
    // The registration by the scenario names the token, masked.
    let register = records.iter().find(|r| r["action"] == "Register").unwrap();
    assert_eq!(register["new_serial"], masked(&serial));
    assert!(!body.to_string().contains(serial.as_str()));
    api.admin(
        Method::GET,
        "/api/v1/history?user=W0002&from=2020-13-01",
        &session,
        None,
    )
    .await
    .problem(422, "malformed_request");
    // What schemathesis sent: any string as a date, a range ending
    // before it starts, a day before 1970: values the operation cannot
    // use, 422 (a 400 is for a query that cannot be read at all).
    for query in [
        "to=%F0%A2%92%88%3Cq",
        "from=2020-10-02&to=2020-10-01",
        "from=1969-12-31",
    ] {
        api.admin(
            Method::GET,
            &format!("/api/v1/history?user=W0002&{query}"),
            &session,
            None,
        )
        .await
        .problem(422, "malformed_request");
    }
    let empty = api
        .admin(
            Method::GET,
            "/api/v1/history?user=W0002&from=1999-01-01&to=1999-01-02",
            &session,
            None,
        )
        .await;
    assert_eq!(empty.ok()["total"], 0);
}

fn seed_file(psk: Option<&PreSharedKey>, prefix: &str, count: usize) -> String {
    let mut batch = otp_token::Factory::deterministic_for_tests([0x42; 32])
        .serials(prefix, 1)
        .unwrap()
        .manufacture(count, 1_600_000_000)
        .unwrap();
    batch.seed_file(psk).unwrap()
}

#[tokio::test]
async fn a_pskc_seed_file_is_imported_once_encrypted_only() {
    let mut api = Api::new();
    let session = api.sign_in().await;
    let key_hex = "000102030405060708090a0b0c0d0e0f";
    let psk = PreSharedKey::new([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    // Larger than the API's ordinary 16 KiB body limit.
    let file = seed_file(Some(&psk), "IM", 100);
    assert!(file.len() > 16 * 1024, "{}", file.len());
    let before = api.world.bank.records().audit_chain().unwrap().len();

    let import = |pskc: &str, key: &str, password: &str| json!({"pskc": pskc, "key": key, "approval_password": password});
    api.admin(
        Method::POST,
        "/api/v1/inventory/pskc",
        &session,
        Some(import(&file, key_hex, "wrong-password")),
    )
    .await
    .problem(422, "wrong_password");
    api.admin(
        Method::POST,
        "/api/v1/inventory/pskc",
        &session,
        Some(import(
            &file,
            "00112233445566778899aabbccddeeff",
            ADMIN_APPROVAL_PASSWORD,
        )),
    )
    .await
    .problem(422, "seed_key_wrong");
    api.admin(
        Method::POST,
        "/api/v1/inventory/pskc",
        &session,
        Some(import(&file, "xyz", ADMIN_APPROVAL_PASSWORD)),
    )
    .await
    .problem(422, "seed_key_malformed");
    api.admin(
        Method::POST,
        "/api/v1/inventory/pskc",
        &session,
        Some(import(
            &seed_file(None, "PL", 3),
            key_hex,
            ADMIN_APPROVAL_PASSWORD,
        )),
    )
    .await
    .problem(422, "seed_file_plain");
    api.admin(
        Method::POST,
        "/api/v1/inventory/pskc",
        &session,
        Some(import("<not-pskc/>", key_hex, ADMIN_APPROVAL_PASSWORD)),
    )
    .await
    .problem(422, "seed_file_invalid");

    let done = api
        .admin(
            Method::POST,
            "/api/v1/inventory/pskc",
            &session,
            Some(import(&file, key_hex, ADMIN_APPROVAL_PASSWORD)),
        )
        .await;
    let body = done.ok();
    assert_eq!(body["imported"], 100);
    assert_eq!(
        body["messages"]["en"],
        "Imported 100 tokens into the stock."
    );
    let serial = otp_provision::SerialNumber::parse("IM0000000001").unwrap();
    assert_eq!(
        api.world.bank.records().token_status(&serial).unwrap(),
        Some(otp_exchange::TokenStatus::Unassigned)
    );
    let chain = api.world.bank.records().audit_chain().unwrap();
    let imports: Vec<_> = chain[before..]
        .iter()
        .filter(|r| r.entry.action == Action::Import)
        .collect();
    assert_eq!(imports.last().unwrap().entry.operator, "W0001");
    assert_eq!(
        imports.last().unwrap().entry.reason.as_deref(),
        Some("100 tokens")
    );

    // The same file again: nothing imported.
    api.admin(
        Method::POST,
        "/api/v1/inventory/pskc",
        &session,
        Some(import(&file, key_hex, ADMIN_APPROVAL_PASSWORD)),
    )
    .await
    .problem(409, "serial_exists");
    // Over 4 MiB: refused before it is read.
    let huge = "x".repeat(4 * 1024 * 1024);
    api.admin(
        Method::POST,
        "/api/v1/inventory/pskc",
        &session,
        Some(import(&huge, key_hex, ADMIN_APPROVAL_PASSWORD)),
    )
    .await
    .problem(413, "malformed_request");
}

#[tokio::test]
async fn a_validate_key_is_refused_on_every_admin_route() {
    let mut api = Api::new();
    let session = api.sign_in().await;
    let routes = admin_routes();
    assert_eq!(routes.len(), 16, "{routes:?}");
    let chain = api.world.bank.records().audit_chain().unwrap().len();
    for (method, path) in &routes {
        // With a valid admin session, and a body that would do something.
        let body = json!({"user": "W0002", "ticket": "x", "code": "123456", "password": ADMIN_APPROVAL_PASSWORD, "mode": "not_used", "serial": "VT0000000001", "pskc": "<x/>", "key": "00", "approval_password": ADMIN_APPROVAL_PASSWORD, "operator": "W0001"});
        let path = if path.contains("/history") {
            format!("{path}?user=W0002")
        } else {
            path.clone()
        };
        let answer = call(
            api.app(),
            method.clone(),
            &path,
            Some(&api.validate_key),
            Some(&session),
            Some(body),
        )
        .await;
        answer.problem(403, "forbidden_scope");
        // Without a key at all: 401.
        let answer = call(api.app(), method.clone(), &path, None, Some(&session), None).await;
        answer.problem(401, "unauthorized");
    }
    // Nothing was done (not even a refusal audited).
    assert_eq!(api.world.bank.records().audit_chain().unwrap().len(), chain);
}

#[tokio::test]
async fn every_admin_route_but_the_sign_in_needs_an_admin_session() {
    let api = Api::new();
    for (method, path) in admin_routes() {
        if path == "/api/v1/admin/sign-in" {
            continue;
        }
        let path = if path.contains("/history") {
            format!("{path}?user=W0002")
        } else {
            path
        };
        let answer = call(api.app(), method, &path, Some(&api.admin_key), None, None).await;
        answer.problem(401, "admin_session_required");
    }
}

#[tokio::test]
async fn an_admin_session_is_bound_to_its_key_and_expires() {
    let mut api = Api::new();
    let session = api.sign_in().await;
    let other_key = new_key(&api.world, ApiScope::Admin);
    let list = "/api/v1/users";
    // Another admin key: refused.
    call(
        api.app(),
        Method::GET,
        list,
        Some(&other_key),
        Some(&session),
        None,
    )
    .await
    .problem(401, "admin_session_invalid");
    // Tampered: refused.
    let mut bytes = session.clone().into_bytes();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    api.admin(Method::GET, list, &tampered, None)
        .await
        .problem(401, "admin_session_invalid");
    api.admin(Method::GET, list, "not a session", None)
        .await
        .problem(401, "admin_session_invalid");
    // A ticket is no admin session.
    let begun = api
        .admin(
            Method::POST,
            "/api/v1/exchanges",
            &session,
            Some(json!({"user": "W0002"})),
        )
        .await;
    let ticket = begun.ok()["ticket"].as_str().unwrap().to_owned();
    api.admin(Method::GET, list, &ticket, None)
        .await
        .problem(401, "admin_session_invalid");
    // Valid until 10 minutes after the sign-in, not a second more.
    api.world.clock.advance(600);
    api.admin(Method::GET, list, &session, None).await.ok();
    api.world.clock.advance(1);
    api.admin(Method::GET, list, &session, None)
        .await
        .problem(401, "admin_session_invalid");
}

#[tokio::test]
async fn the_sign_in_is_the_administrators_own() {
    let mut api = Api::new();
    let admin_serial = api.world.token_of(&api.world.admin.clone()).unwrap();
    let code = api.world.press(&admin_serial);
    let sign_in = |password: &str, code: &str, operator: &str| json!({"operator": operator, "password": password, "code": code});
    // A validate key: 403 before anything is evaluated.
    call(
        api.app(),
        Method::POST,
        "/api/v1/admin/sign-in",
        Some(&api.validate_key),
        None,
        Some(sign_in(LOGIN_PASSWORD, &code, "W0001")),
    )
    .await
    .problem(403, "forbidden_scope");
    // A wrong password, an unknown ID: the one login_failed.
    for (password, operator) in [("wrong-password", "W0001"), (LOGIN_PASSWORD, "W0009")] {
        call(
            api.app(),
            Method::POST,
            "/api/v1/admin/sign-in",
            Some(&api.admin_key),
            None,
            Some(sign_in(password, &code, operator)),
        )
        .await
        .problem(422, "login_failed");
    }
    // A general user signs in right, and is no administrator.
    let general = api.world.token_of(&api.world.general.clone()).unwrap();
    let code = api.world.press(&general);
    call(
        api.app(),
        Method::POST,
        "/api/v1/admin/sign-in",
        Some(&api.admin_key),
        None,
        Some(sign_in(LOGIN_PASSWORD, &code, "W0002")),
    )
    .await
    .problem(403, "not_administrator");
}

#[tokio::test]
async fn a_ticket_from_another_administrators_session_is_refused() {
    let mut api = Api::new();
    // A second administrator, W0003, with a token and passwords.
    let second = UserId::parse("W0003").unwrap();
    let branch = otp_exchange::scenario::branch();
    let bank = std::sync::Arc::clone(&api.world.bank);
    bank.enroll_user(&branch, &second, "しんきん花子", Authority::Administrator)
        .unwrap();
    for (kind, password) in [
        (PasswordKind::Login, LOGIN_PASSWORD),
        (PasswordKind::Approval, ADMIN_APPROVAL_PASSWORD),
    ] {
        bank.set_password(&branch, &second, kind, &Password::new(password))
            .unwrap();
    }
    let serial = api.world.stock()[0];
    let code = api.world.press(&serial);
    bank.branch_register(&branch, &second, serial.as_str(), &code)
        .unwrap();

    let first_session = api.sign_in().await;
    let key = api.admin_key.clone();
    let second_session = api.sign_in_as(&second, &key).await;
    let begun = api
        .admin(
            Method::POST,
            "/api/v1/exchanges",
            &first_session,
            Some(json!({"user": "W0002"})),
        )
        .await;
    let ticket = begun.ok()["ticket"].as_str().unwrap().to_owned();
    let old = api.world.token_of(&api.world.general.clone()).unwrap();
    let code = api.world.press(&old);
    api.admin(
        Method::POST,
        "/api/v1/exchanges/current-code",
        &second_session,
        Some(json!({"ticket": ticket, "code": code})),
    )
    .await
    .problem(422, "session_invalid");
}

fn app_code(world: &World, app: &otp_provision::SeedRecord) -> String {
    let otp_core::Mode::Totp(step) = app.profile.mode else {
        panic!("not TOTP")
    };
    let now = otp_provision::Clock::now(&world.clock);
    otp_core::totp(&app.key(), &step, now, app.profile.digits)
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_software_token_is_enrolled_with_its_uri_shown_once() {
    let mut api = Api::new();
    let session = api.sign_in().await;
    let old = api.world.token_of(&api.world.general.clone()).unwrap();
    api.admin(
        Method::POST,
        "/api/v1/users/W0002/software-token",
        &session,
        Some(json!({"password": "wrong-password"})),
    )
    .await
    .problem(422, "wrong_password");
    let minted = api
        .admin(
            Method::POST,
            "/api/v1/users/W0002/software-token",
            &session,
            Some(json!({"password": ADMIN_APPROVAL_PASSWORD})),
        )
        .await;
    let body = minted.ok().clone();
    assert_eq!(body["next"], "first_code");
    let uri = body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    let app = otp_provision::SeedRecord::from_otpauth_uri(uri).unwrap();
    let serial = body["serial"].as_str().unwrap();
    assert!(serial.starts_with("●●●●●●●●"), "{serial}");
    assert_eq!(api.world.token_of(&api.world.general.clone()), Some(old));

    api.world.clock.advance(30);
    let right = app_code(&api.world, &app);
    let bad = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    let refused = api
        .admin(
            Method::POST,
            "/api/v1/users/W0002/software-token/confirm",
            &session,
            Some(json!({"ticket": body["ticket"], "code": bad})),
        )
        .await;
    let again = refused.problem(422, "wrong_code_new")["ticket"].clone();
    assert!(!refused.body.to_string().contains("otpauth"));
    let done = api
        .admin(
            Method::POST,
            "/api/v1/users/W0002/software-token/confirm",
            &session,
            Some(json!({"ticket": again, "code": right})),
        )
        .await;
    let done = done.ok();
    assert_eq!(done["result"], "switched");
    assert_eq!(done["flow"], "exchange");
    assert_eq!(done["serial"], serial);
    assert_eq!(done["old_serial"], masked(&old));
    let info = api
        .admin(Method::GET, "/api/v1/users/W0002", &session, None)
        .await;
    assert_eq!(info.ok()["usage_mode"], "software_token");
}

#[tokio::test]
async fn the_sign_in_counts_toward_the_operators_id_rate() {
    let world =
        World::with(|s| s.with_api_config(otp_server::api::ApiConfig::new().with_user_rate(1)));
    let admin_key = new_key(&world, ApiScope::Admin);
    let validate_key = new_key(&world, ApiScope::Validate);
    let mut api = Api {
        world,
        admin_key,
        validate_key,
    };
    api.sign_in().await;
    let admin = api.world.token_of(&api.world.admin.clone()).unwrap();
    let code = api.world.press(&admin);
    let limited = call(
        api.app(),
        Method::POST,
        "/api/v1/admin/sign-in",
        Some(&api.admin_key),
        None,
        Some(json!({"operator": "W0001", "password": LOGIN_PASSWORD, "code": code})),
    )
    .await;
    limited.problem(429, "rate_limited");
    assert_eq!(limited.headers[header::RETRY_AFTER], "10");
}

#[tokio::test]
async fn the_exchange_steps_count_toward_the_target_ids_rate() {
    let world =
        World::with(|s| s.with_api_config(otp_server::api::ApiConfig::new().with_user_rate(2)));
    let admin_key = new_key(&world, ApiScope::Admin);
    let validate_key = new_key(&world, ApiScope::Validate);
    let mut api = Api {
        world,
        admin_key,
        validate_key,
    };
    let session = api.sign_in().await;
    let old = api.world.token_of(&api.world.general.clone()).unwrap();
    let begun = api
        .admin(
            Method::POST,
            "/api/v1/exchanges",
            &session,
            Some(json!({"user": "W0002"})),
        )
        .await;
    let mut ticket = begun.ok()["ticket"].as_str().unwrap().to_owned();
    let code = api.world.press(&old);
    let wrong = if code == "000000" { "000001" } else { "000000" };
    // Two wrong codes for W0002: each evaluated, each counted.
    for _ in 0..2 {
        let refused = api
            .admin(
                Method::POST,
                "/api/v1/exchanges/current-code",
                &session,
                Some(json!({"ticket": ticket, "code": wrong})),
            )
            .await;
        ticket = refused.problem(422, "wrong_code_current")["ticket"]
            .as_str()
            .unwrap()
            .to_owned();
    }
    // The third, even the right code, is over W0002's rate: not evaluated
    // (nothing audited), answered 429 with a ticket to go on from later.
    let before = api.world.bank.records().audit_chain().unwrap().len();
    let limited = api
        .admin(
            Method::POST,
            "/api/v1/exchanges/current-code",
            &session,
            Some(json!({"ticket": ticket, "code": code})),
        )
        .await;
    assert_eq!(limited.headers[header::RETRY_AFTER], "5");
    let again = limited.problem(429, "rate_limited")["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(again, ticket);
    assert_eq!(
        api.world.bank.records().audit_chain().unwrap().len(),
        before
    );
    // The limit is the target ID's, shared with validate.
    let validate = call(
        api.app(),
        Method::POST,
        "/api/v1/validate",
        Some(&api.validate_key),
        None,
        Some(json!({"user": "W0002", "code": code})),
    )
    .await;
    validate.problem(429, "rate_limited");
}

#[tokio::test]
async fn a_ticket_that_does_not_open_is_422_session_invalid() {
    // What schemathesis sent: JSON of the right shape whose ticket is
    // empty or made up. The request is well formed; its ticket is not
    // one the bank sealed: 422, like any value the operation cannot use.
    let mut api = Api::new();
    let session = api.sign_in().await;
    for ticket in ["", "t3.made-up", "not a ticket"] {
        for (path, body) in [
            (
                "/api/v1/exchanges/current-code",
                json!({"ticket": ticket, "code": "123456"}),
            ),
            ("/api/v1/exchanges/no-token", json!({"ticket": ticket})),
            (
                "/api/v1/exchanges/new-token",
                json!({"ticket": ticket, "serial": "SH0000000003", "code": "123456", "password": "x"}),
            ),
            (
                "/api/v1/users/W0005/software-token/confirm",
                json!({"ticket": ticket, "code": "123456"}),
            ),
        ] {
            api.admin(Method::POST, path, &session, Some(body))
                .await
                .problem(422, "session_invalid");
        }
    }
}
