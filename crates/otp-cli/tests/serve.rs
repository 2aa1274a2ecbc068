//! `otp serve`: refuses what it must, serves the demo bank on loopback,
//! and stops cleanly on SIGTERM.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command as Std, Stdio};

use assert_cmd::Command;
use predicates::prelude::*;

fn otp() -> Command {
    Command::cargo_bin("otp").unwrap()
}

#[test]
fn serve_refuses_a_non_loopback_address_without_the_flag() {
    otp()
        .args(["serve", "--demo", "--listen", "0.0.0.0:8080"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "refusing to serve plain HTTP on 0.0.0.0:8080 (not loopback)",
        ));
}

#[test]
fn serve_without_demo_says_what_is_built() {
    otp()
        .arg("serve")
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "only `otp serve --demo` is built so far",
        ));
}

fn get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn post(addr: &str, path: &str, cookie: &str, body: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn serve_demo_answers_on_loopback_and_stops_on_sigterm() {
    let mut child = Std::new(assert_cmd::cargo::cargo_bin("otp"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    let addr = loop {
        let line = lines.next().unwrap().unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if let Some(rest) = line.split("http://").nth(1) {
            break rest.split('/').next().unwrap().to_owned();
        }
    };
    for line in lines.by_ref() {
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if line.starts_with("Ctrl-C") {
            break;
        }
    }
    assert!(
        printed.contains("sign in as       W0001 (administrator), token VT0020200001"),
        "{printed}"
    );
    assert!(printed.contains("exchange for     W0002 (general user), token VT0020200002"));
    let health = get(&addr, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200 OK"), "{health}");
    let login = get(&addr, "/login");
    assert!(
        login.contains("ログイン") && login.contains("x-frame-options: DENY"),
        "{login}"
    );
    let tokens = get(&addr, "/demo/tokens");
    let device = r#"<p class="serial">VT0020200002</p><p class="display">"#;
    assert!(tokens.contains(&format!("{device}</p>")), "{tokens}");
    // "1" pressed on W0002's token: a POST with the page's session cookie
    // and CSRF token; the display shows 6 digits.
    let cookie = tokens
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: otp_session="))
        .and_then(|v| v.split(';').next())
        .unwrap();
    let csrf = tokens
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|v| v.split('"').next())
        .unwrap();
    let pressed = post(
        &addr,
        "/demo/tokens",
        &format!("otp_session={cookie}"),
        &format!("csrf={csrf}&serial=VT0020200002"),
    );
    let shown = pressed.split(device).nth(1).unwrap();
    assert!(
        shown.len() > 10
            && shown.bytes().take(6).all(|c| c.is_ascii_digit())
            && shown[6..].starts_with("</p>"),
        "{pressed}"
    );

    let pid = i32::try_from(child.id()).unwrap();
    // SIGTERM, as a service manager stops it.
    let killed = Std::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(
        rest.last().map(String::as_str),
        Some("stopped; the demo's database was removed")
    );
}
