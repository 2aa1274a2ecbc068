//! `otp serve`'s JSON API end to end: a key made by `otp bank api-key
//! create` validates on the running server, no key is a 401 problem, and
//! `--api-user-rate` limits one user ID (429 with `Retry-After`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command as Std, Stdio};

use assert_cmd::Command;
use predicates::prelude::*;

fn otp() -> Command {
    let mut cmd = Command::cargo_bin("otp").unwrap();
    cmd.timeout(std::time::Duration::from_secs(30))
        .env("LANG", "C")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("OTP_DB");
    cmd
}

fn validate(addr: &str, key: Option<&str>, body: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    let auth = key.map_or_else(String::new, |k| format!("Authorization: Bearer {k}\r\n"));
    write!(
        s,
        "POST /api/v1/validate HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn serve_validates_with_a_created_key_and_limits_a_user_id() {
    let dir = tempfile::tempdir().unwrap();
    otp()
        .current_dir(dir.path())
        .args([
            "bank",
            "init",
            "--db",
            "bank.sqlite",
            "--admin",
            "W0001:しんきん太郎",
            "--user",
            "W0002:しんきん太郎",
        ])
        .write_stdin("approve-2020\n")
        .assert()
        .success();
    let out = otp()
        .current_dir(dir.path())
        .args([
            "bank",
            "--db",
            "bank.sqlite",
            "api-key",
            "create",
            "--scope",
            "validate",
            "--name",
            "web",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let key = String::from_utf8(out).unwrap().trim_end().to_owned();
    otp()
        .args(["serve", "--api-user-rate", "0"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--api-user-rate"));

    let mut child = Std::new(assert_cmd::cargo::cargo_bin("otp"))
        .current_dir(dir.path())
        .env("LANG", "C")
        .env_remove("OTP_DB")
        .args([
            "serve",
            "--db",
            "bank.sqlite",
            "--listen",
            "127.0.0.1:0",
            "--api-user-rate",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut addr = None;
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if addr.is_none()
            && let Some(rest) = line.split("://").nth(1)
        {
            addr = Some(rest.split('/').next().unwrap().to_owned());
        }
        if line.starts_with("Ctrl-C") {
            break;
        }
    }
    let addr = addr.unwrap();
    let body = r#"{"user":"W0002","code":"000000"}"#;
    let no_key = validate(&addr, None, body);
    assert!(no_key.starts_with("HTTP/1.1 401 Unauthorized"), "{no_key}");
    assert!(
        no_key.contains("content-type: application/problem+json"),
        "{no_key}"
    );
    let first = validate(&addr, Some(&key), body);
    assert!(first.starts_with("HTTP/1.1 200 OK"), "{first}");
    assert!(first.contains(r#""reason":"login_failed""#), "{first}");
    let second = validate(&addr, Some(&key), body);
    assert!(
        second.starts_with("HTTP/1.1 429 Too Many Requests"),
        "{second}"
    );
    assert!(second.contains("retry-after: 10\r\n"), "{second}");
    let pid = child.id().to_string();
    assert!(
        Std::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    // Read to the end: the server says "stopped" on its way out.
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert_eq!(rest.last().map(String::as_str), Some("stopped"));
    assert!(child.wait().unwrap().success());
    // The key's use was recorded (within the minute, once).
    let list = otp()
        .current_dir(dir.path())
        .args(["bank", "--db", "bank.sqlite", "api-key", "list", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&list).unwrap();
    assert!(
        json["api_keys"][0]["last_used_at"].as_u64().is_some(),
        "{json}"
    );
}
