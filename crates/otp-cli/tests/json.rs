//! `--json` for a bank's scripts: `otp bank users`, `otp bank verify`,
//! `otp bank audit` and `otp token press` print one JSON object each, with
//! the schema of docs/cli.md (snake_case keys, times as unix seconds and
//! RFC 3339 UTC, serials masked as the screens mask them, no secret), and
//! keep their exit statuses; and `otp completions SHELL`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{Value, json};

const RFC_KEY: &str = "3132333435363738393031323334353637383930";

/// What a refused sign-in says, whatever the reason.
const LOGIN_FAILED: &str =
    "The customer ID or the one-time password is not correct, or this ID cannot be used now.";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn rfc3339(at: u64) -> Value {
    json!(
        jiff::Timestamp::from_second(i64::try_from(at).unwrap())
            .unwrap()
            .to_string()
    )
}

/// The one JSON object on standard output (and nothing else there).
fn parse(out: &std::process::Output) -> Value {
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(text.lines().count(), 1, "one line of JSON: {text}");
    let value: Value = serde_json::from_str(&text).unwrap();
    assert!(value.is_object(), "{text}");
    value
}

/// Checks that `value[key]` is a time between `from` and `to` with its
/// RFC 3339 twin in `value[key_utc]`, and replaces both with `null` so that
/// the rest can be compared exactly.
fn take_time(value: &mut Value, key: &str, from: u64, to: u64) {
    let at = value[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key}: {value}"));
    assert!((from..=to).contains(&at), "{key} {at} not in {from}..={to}");
    assert_eq!(value[format!("{key}_utc")], rfc3339(at));
    value[key] = Value::Null;
    value[format!("{key}_utc")] = Value::Null;
}

struct Bank {
    dir: tempfile::TempDir,
}

impl Bank {
    /// W0001 (administrator), W0002 and W0005, six tokens
    /// `VT0000000000..5` from the test seed `bank` in stock.
    fn new() -> Self {
        let bank = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        bank.otp(&[
            "bank",
            "init",
            "--admin",
            "W0001:しんきん太郎",
            "--user",
            "W0002:花子",
            "--user",
            "W0005:一郎",
        ])
        .write_stdin("approve-2020\n")
        .assert()
        .success();
        bank.otp(&[
            "factory",
            "--count",
            "6",
            "--test-seed",
            "bank",
            "--pskc",
            "v.pskc",
            "--tokens-dir",
            "t",
        ])
        .assert()
        .success();
        bank.otp(&["bank", "import", "v.pskc", "--allow-plain"])
            .assert()
            .success();
        bank
    }

    fn otp(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("otp").unwrap();
        cmd.current_dir(self.dir.path())
            .env("LANG", "C")
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .env_remove("OTP_DB")
            .env_remove("OTP_PSKC_KEY");
        let mut all: Vec<&str> = args.to_vec();
        if args.first() == Some(&"bank") {
            all.extend(["--db", "bank.sqlite"]);
        }
        cmd.args(all);
        cmd
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `otp token press --json` on token `serial`, `offset` seconds from now.
    fn press(&self, serial: &str, offset: i64) -> Value {
        let at = format!("@{}", now().saturating_add_signed(offset));
        let file = format!("t/{serial}.toml");
        let out = self
            .otp(&["token", "press", &file, "--at", &at, "--json"])
            .output()
            .unwrap();
        assert!(out.status.success());
        parse(&out)
    }

    /// The branch registers a first token for `user`, with the code it
    /// shows now (taken early enough in its 30-second step that the
    /// registration ends in the same step).
    fn branch_register(&self, user: &str, serial: &str) {
        let into_step = now() % 30;
        if into_step > 18 {
            std::thread::sleep(std::time::Duration::from_secs(31 - into_step));
        }
        let code = self.press(serial, 0)["code"].as_str().unwrap().to_owned();
        self.otp(&[
            "bank",
            "branch-register",
            user,
            "--officer",
            "B-042",
            "--request",
            "REQ-7",
        ])
        .write_stdin(format!("{serial}\n{code}\n"))
        .assert()
        .success();
    }

    fn run_json(&self, args: &[&str], code: i32) -> Value {
        let out = self.otp(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        parse(&out)
    }
}

fn user(id: &str, name: &str, authority: &str, serial: Option<&str>, status: &str) -> Value {
    json!({
        "id": id,
        "name": name,
        "authority": authority,
        "serial": serial,
        "status": status,
        "registered": serial.is_some(),
        "locked": status == "locked",
    })
}

#[test]
fn users_json_is_the_page_with_masked_serials_status_and_paging() {
    let bank = Bank::new();
    bank.branch_register("W0001", "VT0000000000");
    bank.branch_register("W0005", "VT0000000002");
    // Six wrong codes lock W0005's ID.
    for _ in 0..6 {
        bank.otp(&["bank", "verify", "W0005", "000000"])
            .assert()
            .code(2);
    }
    let out = bank.otp(&["bank", "users", "--json"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!text.contains("VT0000000000") && !text.contains("VT0000000002"));
    assert_eq!(
        parse(&out),
        json!({
            "operator": "W0001",
            "page": 1,
            "per_page": 20,
            "pages": 1,
            "next_page": null,
            "first": 1,
            "last": 3,
            "total": 3,
            "users": [
                user("W0001", "しんきん太郎", "administrator", Some("●●●●●●●●0000"), "registered"),
                user("W0002", "花子", "general", None, "none"),
                user("W0005", "一郎", "general", Some("●●●●●●●●0002"), "locked"),
            ],
        })
    );
    // 23 users: two pages.
    let mut args = vec!["bank", "branch-enroll"];
    let ids: Vec<String> = (10..30).map(|i| format!("--user=U00{i}:U{i}")).collect();
    args.extend(ids.iter().map(String::as_str));
    args.extend(["--officer", "B-042", "--request", "REQ-9"]);
    bank.otp(&args).write_stdin("").assert().success();
    let first = bank.run_json(&["bank", "users", "--json"], 0);
    assert_eq!(
        (
            &first["pages"],
            &first["next_page"],
            &first["first"],
            &first["last"],
            &first["total"]
        ),
        (&json!(2), &json!(2), &json!(1), &json!(20), &json!(23))
    );
    assert_eq!(first["users"].as_array().unwrap().len(), 20);
    let second = bank.run_json(&["bank", "users", "--page", "2", "--json"], 0);
    assert_eq!(
        second,
        json!({
            "operator": "W0001",
            "page": 2,
            "per_page": 20,
            "pages": 2,
            "next_page": null,
            "first": 21,
            "last": 23,
            "total": 23,
            "users": [
                user("W0001", "しんきん太郎", "administrator", Some("●●●●●●●●0000"), "registered"),
                user("W0002", "花子", "general", None, "none"),
                user("W0005", "一郎", "general", Some("●●●●●●●●0002"), "locked"),
            ],
        })
    );
    // A general user is refused as on the screen: exit 2, nothing on stdout.
    bank.otp(&["bank", "users", "--json", "--operator", "W0002"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("Only an administrator"));
}

#[test]
fn verify_json_says_accepted_or_the_refusals_reason_code_with_the_exit_status() {
    let bank = Bank::new();
    bank.branch_register("W0002", "VT0000000001");
    let pressed = bank.press("VT0000000001", 30);
    let code = pressed["code"].as_str().unwrap().to_owned();
    let before = now();
    let mut accepted = bank.run_json(&["bank", "verify", "W0002", &code, "--json"], 0);
    take_time(&mut accepted, "at", before, now());
    assert_eq!(
        accepted,
        json!({
            "user": "W0002",
            "accepted": true,
            "at": null,
            "at_utc": null,
            "serial": "●●●●●●●●0001",
            "position": pressed["counter"],
            "reason": null,
            "message": null,
        })
    );
    let refusal = |reason: &str, message: &str| {
        json!({
            "user": "W0002",
            "accepted": false,
            "at": null,
            "at_utc": null,
            "serial": null,
            "position": null,
            "reason": reason,
            "message": message,
        })
    };
    // The same code again: a replay, exit 2.
    let before = now();
    let mut replay = bank.run_json(&["bank", "verify", "W0002", &code, "--json"], 2);
    take_time(&mut replay, "at", before, now());
    assert_eq!(
        replay,
        refusal(
            "replayed_code_current",
            "The same password cannot be used twice in a row. Press \"1\" on the token in use now again after a while: a new password takes 15-30 seconds to appear."
        )
    );
    // A wrong code: the one sign-in refusal, in the chosen language.
    let mut wrong = bank.run_json(&["bank", "verify", "W0002", "000000", "--json"], 2);
    take_time(&mut wrong, "at", before, now());
    assert_eq!(wrong, refusal("login_failed", LOGIN_FAILED));
    let mut ja = bank.run_json(
        &[
            "bank", "verify", "W0002", "000000", "--json", "--lang", "ja",
        ],
        2,
    );
    take_time(&mut ja, "at", before, now());
    assert_eq!(
        ja,
        refusal(
            "login_failed",
            "お客様IDまたはワンタイムパスワードが正しくないか、このIDは現在ご利用いただけません。"
        )
    );
    // A code against the typing rules.
    let mut short = bank.run_json(&["bank", "verify", "W0002", "12345", "--json"], 2);
    take_time(&mut short, "at", before, now());
    assert_eq!(short["reason"], "malformed_code_current");
    assert!(
        short["message"]
            .as_str()
            .unwrap()
            .starts_with("One-time password of the token in use now: ")
    );
    // An unknown ID is told apart from nothing.
    let mut unknown = bank.run_json(&["bank", "verify", "W0099", "123456", "--json"], 2);
    take_time(&mut unknown, "at", before, now());
    let mut expected = refusal("login_failed", LOGIN_FAILED);
    expected["user"] = json!("W0099");
    assert_eq!(unknown, expected);
    // The sentence is still on stderr.
    bank.otp(&["bank", "verify", "W0002", "000000", "--json"])
        .assert()
        .code(2)
        .stderr(format!("otp: {LOGIN_FAILED}\n"));
}

#[test]
fn audit_json_lists_masked_records_and_whether_the_chain_verifies() {
    let bank = Bank::new();
    let start = now();
    bank.branch_register("W0002", "VT0000000001");
    bank.otp(&["bank", "verify", "W0002", "000000"])
        .assert()
        .code(2);
    let out = bank
        .otp(&["bank", "audit", "W0002", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!text.contains("VT0000000001"), "{text}");
    assert!(!text.contains("000000"), "{text}");
    let mut audit = parse(&out);
    let end = now();
    take_time(&mut audit, "since", 0, 0);
    for record in audit["records"].as_array_mut().unwrap() {
        take_time(record, "at", start.saturating_sub(60), end);
    }
    // The branch's registration: the new token's code checked, then the
    // switch to it (`new_token`, then `register`); the refused sign-in names the token.
    let register = |seq: u64, action: &str| {
        json!({
            "seq": seq,
            "at": null,
            "at_utc": null,
            "operator": "branch:B-042:REQ-7",
            "target": "W0002",
            "action": action,
            "old_serial": null,
            "new_serial": "●●●●●●●●0001",
            "result": "ok",
            "reason": null,
        })
    };
    assert_eq!(
        audit,
        json!({
            "user": "W0002",
            "operator": "W0001",
            "since": null,
            "since_utc": null,
            "count": 4,
            "records": [
                {
                    "seq": 3,
                    "at": null,
                    "at_utc": null,
                    "operator": "branch:installer:otp bank init",
                    "target": "W0002",
                    "action": "user_update",
                    "old_serial": null,
                    "new_serial": null,
                    "result": "ok",
                    "reason": "enrolled:general",
                },
                register(6, "new_token"),
                register(7, "register"),
                {
                    "seq": 8,
                    "at": null,
                    "at_utc": null,
                    "operator": "W0002",
                    "target": "W0002",
                    "action": "login",
                    "old_serial": "●●●●●●●●0001",
                    "new_serial": null,
                    "result": "refused",
                    "reason": "wrong_code_current",
                },
            ],
            "chain": { "verified": true, "records": 8, "error": null },
        })
    );
    // Only the chain.
    assert_eq!(
        bank.run_json(&["bank", "audit", "--verify", "--json"], 0),
        json!({ "verified": true, "records": 8, "error": null })
    );
    // `--since` after everything: no record, the chain still checked.
    let later = bank.run_json(
        &["bank", "audit", "W0002", "--since", "@4000000000", "--json"],
        0,
    );
    assert_eq!(
        (
            &later["since"],
            &later["since_utc"],
            &later["count"],
            &later["records"]
        ),
        (
            &json!(4_000_000_000u64),
            &json!("2096-10-02T07:06:40Z"),
            &json!(0),
            &json!([])
        )
    );
}

#[test]
fn audit_json_says_where_the_chain_breaks_and_exits_1() {
    let bank = Bank::new();
    let conn = rusqlite::Connection::open(bank.path().join("bank.sqlite")).unwrap();
    let last: i64 = conn
        .query_row("SELECT max(seq) FROM audit", [], |r| r.get(0))
        .unwrap();
    // The last record removed: the stored head tells.
    conn.execute("DELETE FROM audit WHERE seq = ?1", [last])
        .unwrap();
    drop(conn);
    let message = format!(
        "the audit chain's head is record {last} but the chain ends at record {}",
        last - 1
    );
    let broken = json!({
        "verified": false,
        "records": null,
        "error": {
            "kind": "truncated",
            "seq": null,
            "head": last,
            "last": last - 1,
            "message": message,
        },
    });
    bank.otp(&["bank", "audit", "--verify", "--json"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(&message));
    assert_eq!(
        bank.run_json(&["bank", "audit", "--verify", "--json"], 1),
        broken
    );
    // The history of a user shows nothing from a chain that does not verify.
    let mut audit = bank.run_json(&["bank", "audit", "W0002", "--json"], 1);
    take_time(&mut audit, "since", 0, 0);
    assert_eq!(
        audit,
        json!({
            "user": "W0002",
            "operator": "W0001",
            "since": null,
            "since_utc": null,
            "count": null,
            "records": null,
            "chain": broken,
        })
    );
    // Another bank's key: record 1 does not verify.
    let keys = bank.path().join("bank.sqlite.keys");
    let mut other = std::fs::read(&keys).unwrap();
    other[0] ^= 1;
    std::fs::write(&keys, &other).unwrap();
    assert_eq!(
        bank.run_json(&["bank", "audit", "--verify", "--json"], 1)["error"],
        json!({
            "kind": "altered",
            "seq": 1,
            "head": null,
            "last": null,
            "message": "audit record 1 was altered",
        })
    );
}

fn otp(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("otp").unwrap();
    cmd.current_dir(dir).env_remove("OTP_PSKC_KEY");
    cmd
}

fn create(dir: &Path, extra: &[&str]) {
    let mut args = vec![
        "token",
        "create",
        "t.toml",
        "--serial",
        "VT0000000042",
        "--secret",
        "-",
    ];
    args.extend(extra);
    otp(dir).args(&args).write_stdin(RFC_KEY).assert().success();
}

fn press_json(dir: &Path, at: &str) -> Value {
    let out = otp(dir)
        .args(["token", "press", "t.toml", "--at", at, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains(RFC_KEY) && !text.contains("GEZDGNBV"),
        "{text}"
    );
    parse(&out)
}

#[test]
fn token_press_json_gives_the_code_its_display_and_when_it_was_pressed() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), &[]);
    // RFC 6238's T = 59 s: step 1, 94287082 (8 digits), 287082 (6).
    assert_eq!(
        press_json(dir.path(), "@59"),
        json!({
            "serial": "VT0000000042",
            "kind": "totp",
            "code": "287082",
            "display": "287 082",
            "digits": 6,
            "at": 59,
            "at_utc": "1970-01-01T00:00:59Z",
            "token_time": 59,
            "token_time_utc": "1970-01-01T00:00:59Z",
            "counter": 1,
            "battery_low": false,
            "next_code_at": 60,
            "next_code_at_utc": "1970-01-01T00:01:00Z",
            "next_counter": null,
        })
    );
    // A token whose clock runs 42 s ahead shows the code of its own time.
    create(
        dir.path(),
        &[
            "--digits",
            "8",
            "--offset",
            "42",
            "--activated-at",
            "@0",
            "--force",
        ],
    );
    let ahead = press_json(dir.path(), "@59");
    assert_eq!(
        (
            &ahead["code"],
            &ahead["display"],
            &ahead["digits"],
            &ahead["token_time"],
            &ahead["counter"],
            &ahead["next_code_at"]
        ),
        (
            &json!("26969429"),
            &json!("2696 9429"),
            &json!(8),
            &json!(101),
            &json!(3),
            &json!(78)
        )
    );
}

#[test]
fn token_press_json_of_an_event_token_gives_the_counter_of_each_press() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), &["--kind", "hotp"]);
    // RFC 4226's HOTP values for counters 0 and 1.
    for (counter, code, display) in [(0, "755224", "755 224"), (1, "287082", "287 082")] {
        assert_eq!(
            press_json(dir.path(), "2020-10-01 02:00:00 UTC"),
            json!({
                "serial": "VT0000000042",
                "kind": "hotp",
                "code": code,
                "display": display,
                "digits": 6,
                "at": 1_601_517_600,
                "at_utc": "2020-10-01T02:00:00Z",
                "token_time": null,
                "token_time_utc": null,
                "counter": counter,
                "battery_low": false,
                "next_code_at": null,
                "next_code_at_utc": null,
                "next_counter": counter + 1,
            })
        );
    }
}

#[test]
fn completions_print_each_shells_script_and_refuse_an_unknown_shell() {
    let dir = tempfile::tempdir().unwrap();
    let script = |shell: &str| {
        let out = otp(dir.path())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}");
        assert!(out.stderr.is_empty(), "{shell}");
        String::from_utf8(out.stdout).unwrap()
    };
    let bash = script("bash");
    for word in ["bank", "branch-enroll", "oath", "completions", "--json"] {
        assert!(bash.contains(word), "bash script without {word}");
    }
    assert!(script("zsh").starts_with("#compdef otp"));
    assert!(script("fish").contains("complete -c otp"));
    assert!(script("elvish").contains("edit:completion:arg-completer[otp]"));
    assert!(script("powershell").contains("Register-ArgumentCompleter"));
    otp(dir.path())
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::starts_with("otp: "));
    otp(dir.path())
        .arg("completions")
        .assert()
        .code(2)
        .stdout("");
}
