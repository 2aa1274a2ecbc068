//! `otp serve`: refuses what it must (plain HTTP off loopback, a TLS key
//! file open to others or behind a link, a missing database), serves the
//! demo bank on loopback and over TLS, serves a bank's own database, and
//! stops cleanly on SIGTERM.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

use std::io::{BufRead as _, BufReader, Lines, Read as _, Write as _};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Child, ChildStdout, Command as Std, Stdio};
use std::sync::Arc;

use assert_cmd::Command;
use predicates::prelude::*;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, ServerName};

/// `otp` for a command that must be refused: should it start serving
/// instead, it is killed after 30 s and the test fails rather than hangs.
fn otp() -> Command {
    let mut cmd = Command::cargo_bin("otp").unwrap();
    cmd.timeout(std::time::Duration::from_secs(30))
        .env("LANG", "C")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("OTP_DB");
    cmd
}

#[test]
fn serve_refuses_a_non_loopback_address_without_the_flag() {
    otp()
        .args(["serve", "--demo", "--listen", "0.0.0.0:8080"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "refusing to serve plain HTTP on 0.0.0.0:8080 (not loopback): serve TLS with --tls-cert and --tls-key",
        ));
}

#[test]
fn serve_refuses_a_missing_database_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    otp()
        .current_dir(dir.path())
        .args(["serve", "--db", "bank.sqlite"])
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(
            "otp: there is no bank database at `bank.sqlite`: check --db (or OTP_DB); `otp bank init` creates a new bank (otp serve never does)",
        ));
    // OTP_DB names it as for `otp bank`.
    otp()
        .current_dir(dir.path())
        .env("OTP_DB", "other.sqlite")
        .arg("serve")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "there is no bank database at `other.sqlite`",
        ));
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn serve_db_and_demo_do_not_go_together() {
    otp()
        .args(["serve", "--demo", "--db", "bank.sqlite"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "the argument '--demo' cannot be used with '--db <FILE>'",
        ));
    otp()
        .args([
            "serve",
            "--demo",
            "--postgres",
            "--key-file",
            "k",
            "--kek-file",
            "x",
        ])
        .assert()
        .code(2)
        .stderr("otp: the argument '--demo' cannot be used with '--postgres' (see `otp --help`)\n");
    // --postgres needs both key files.
    otp()
        .args(["serve", "--postgres", "--key-file", "k"])
        .assert()
        .code(2)
        .stderr("otp: the following required arguments were not provided: (see `otp --help`)\n");
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

/// A running `otp serve`: its address (`host:port`), what it printed up
/// to "Ctrl-C stops the server.", the rest of its output.
struct Server {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    addr: String,
    printed: String,
}

impl Server {
    fn start(dir: &Path, args: &[&str]) -> Self {
        let mut child = Std::new(assert_cmd::cargo::cargo_bin("otp"))
            .current_dir(dir)
            .env("LANG", "C")
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .env_remove("OTP_DB")
            .arg("serve")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut printed = String::new();
        let mut addr = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            printed.push_str(&line);
            printed.push('\n');
            if addr.is_none()
                && let Some(rest) = line.split("://").nth(1)
            {
                addr = Some(rest.split('/').next().unwrap().to_owned());
            }
            if line.starts_with("Ctrl-C") {
                break;
            }
        }
        let addr = addr.unwrap_or_else(|| panic!("no address in {printed}"));
        Self {
            child,
            lines,
            addr,
            printed,
        }
    }

    /// SIGTERM, as a service manager stops it: the exit status and the
    /// last line printed.
    fn terminate(mut self) -> (std::process::ExitStatus, Option<String>) {
        let pid = self.child.id().to_string();
        let killed = Std::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
        let rest: Vec<String> = self.lines.map(Result::unwrap).collect();
        (self.child.wait().unwrap(), rest.last().cloned())
    }
}

#[test]
fn serve_demo_answers_on_loopback_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--demo", "--listen", "127.0.0.1:0"]);
    let printed = &server.printed;
    assert!(
        printed.contains("  open             http://127.0.0.1:"),
        "{printed}"
    );
    assert!(
        printed.contains("sign in as       W0001 (administrator), token VT0020200001"),
        "{printed}"
    );
    assert!(printed.contains("exchange for     W0002 (general user), token VT0020200002"));
    let addr = server.addr.clone();
    let health = get(&addr, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200 OK"), "{health}");
    let login = get(&addr, "/login");
    assert!(
        login.contains("ログイン") && login.contains("x-frame-options: DENY"),
        "{login}"
    );
    // Plain HTTP: the cookie without `Secure`, no HSTS.
    assert!(!login.contains("; Secure"), "{login}");
    assert!(!login.contains("strict-transport-security"), "{login}");
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
    let (status, last) = server.terminate();
    assert!(status.success(), "{status:?}");
    assert_eq!(
        last.as_deref(),
        Some("stopped; the demo's database was removed")
    );
}

/// `POST /api/v1/validate` with `key` as the bearer key: the whole
/// response.
fn validate(addr: &str, key: &str, body: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /api/v1/validate HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// The API key printed on the banner line that starts with `label`.
fn printed_key(printed: &str, label: &str) -> String {
    let key = printed
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .unwrap_or_else(|| panic!("no `{label}` line in {printed}"))
        .trim()
        .to_owned();
    // otpk_<16 lowercase hex>_<43 base64url>
    let (id, secret) = key
        .strip_prefix("otpk_")
        .and_then(|rest| rest.split_once('_'))
        .unwrap_or_else(|| panic!("not an API key: {key}"));
    assert!(
        id.len() == 16
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{key}"
    );
    assert!(
        secret.len() == 43
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{key}"
    );
    key
}

#[test]
fn serve_demo_prints_two_throwaway_api_keys_that_drive_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--demo", "--listen", "127.0.0.1:0"]);
    let printed = &server.printed;
    assert!(
        printed.contains(
            "\n  API keys (throwaway: this demo's only, gone when it stops):\n    validate scope   otpk_"
        ),
        "{printed}"
    );
    let validate_key = printed_key(printed, "    validate scope   ");
    let admin_key = printed_key(printed, "    admin scope      ");
    assert_ne!(validate_key, admin_key);
    // Both keys validate (a malformed code: the same answer whatever the
    // token shows now).
    for key in [&validate_key, &admin_key] {
        let answer = validate(&server.addr, key, r#"{"user":"W0002","code":"12"}"#);
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(
            answer.contains(r#"{"result":"rejected","reason":"malformed_code_current","#),
            "{answer}"
        );
    }
    // A key of another demo run (or a tampered one) is refused.
    let mut other = admin_key.clone();
    other.replace_range(
        other.len() - 1..,
        if other.ends_with('A') { "B" } else { "A" },
    );
    let answer = validate(&server.addr, &other, r#"{"user":"W0002","code":"12"}"#);
    assert!(
        answer.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
        "{answer}"
    );
    let (status, last) = server.terminate();
    assert!(status.success(), "{status:?}");
    assert_eq!(
        last.as_deref(),
        Some("stopped; the demo's database was removed")
    );
}

/// A throwaway CA and a `localhost` server certificate it signed, written
/// to `cert.pem` and `key.pem` (mode 0600) in `dir`.
fn pki(dir: &Path) -> CertificateDer<'static> {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "otp serve test CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    let key_path = dir.join("key.pem");
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    set_mode(&key_path, 0o600);
    ca.der().clone()
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// One `GET` over TLS 1.2+ with the test CA the only root: the whole
/// response.
fn get_tls(addr: &str, ca: &CertificateDer<'static>, path: &str) -> String {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let mut conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap())
            .unwrap();
    let mut sock = TcpStream::connect(addr).unwrap();
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    match tls.read_to_end(&mut out) {
        Ok(_) => {}
        // Closed without close_notify after the response: what was read is it.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
        Err(e) => panic!("{e}"),
    }
    assert_eq!(conn.alpn_protocol(), Some(&b"http/1.1"[..]));
    String::from_utf8(out).unwrap()
}

#[test]
fn serve_demo_over_tls_on_any_address_with_secure_cookies_and_hsts() {
    let dir = tempfile::tempdir().unwrap();
    let ca = pki(dir.path());
    // Not loopback: allowed under TLS without --allow-non-loopback.
    let server = Server::start(
        dir.path(),
        &[
            "--demo",
            "--listen",
            "0.0.0.0:0",
            "--tls-cert",
            "cert.pem",
            "--tls-key",
            "key.pem",
        ],
    );
    assert!(
        server
            .printed
            .contains("  open             https://0.0.0.0:"),
        "{}",
        server.printed
    );
    let port = server.addr.rsplit(':').next().unwrap();
    let addr = format!("127.0.0.1:{port}");
    let health = get_tls(&addr, &ca, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200 OK\r\n"), "{health}");
    assert!(
        health.contains("\r\nstrict-transport-security: max-age=31536000\r\n"),
        "{health}"
    );
    let login = get_tls(&addr, &ca, "/login");
    assert!(login.contains("ログイン"), "{login}");
    let cookie = login
        .lines()
        .find(|l| l.starts_with("set-cookie: otp_session="))
        .unwrap_or_else(|| panic!("{login}"));
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(
        login.contains("\r\nstrict-transport-security: max-age=31536000\r\n"),
        "{login}"
    );

    // Plain HTTP to the TLS port gets no HTTP answer, and the server goes on.
    let mut plain = TcpStream::connect(&addr).unwrap();
    write!(
        plain,
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(!answer.starts_with(b"HTTP/"), "{answer:?}");
    let again = get_tls(&addr, &ca, "/healthz");
    assert!(again.starts_with("HTTP/1.1 200 OK\r\n"), "{again}");

    let (status, last) = server.terminate();
    assert!(status.success(), "{status:?}");
    assert_eq!(
        last.as_deref(),
        Some("stopped; the demo's database was removed")
    );
}

#[test]
fn serve_refuses_a_tls_key_open_to_others_behind_a_link_or_missing() {
    let dir = tempfile::tempdir().unwrap();
    let _ca = pki(dir.path());
    let key = std::fs::read_to_string(dir.path().join("key.pem")).unwrap();
    let body: Vec<&str> = key.lines().filter(|l| !l.starts_with("-----")).collect();
    let tls = |key: &str| {
        let assert = otp()
            .current_dir(dir.path())
            .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
            .args(["--tls-cert", "cert.pem", "--tls-key", key])
            .assert()
            .code(2)
            .stdout("");
        let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
        assert!(!stderr.contains("-----BEGIN"), "{stderr}");
        for line in &body {
            assert!(!stderr.contains(line), "{stderr}");
        }
        stderr
    };
    for mode in [0o644, 0o640, 0o604, 0o620] {
        set_mode(&dir.path().join("key.pem"), mode);
        assert_eq!(
            tls("key.pem"),
            format!(
                "otp: the TLS key file `key.pem` is open to group or others (mode {mode:04o}): refusing it; \
                 make it private to the server's user (chmod 600 key.pem), and consider the key exposed\n"
            )
        );
    }
    // The key is checked first: its exposure is told even when the
    // certificate is missing.
    otp()
        .current_dir(dir.path())
        .args([
            "serve",
            "--demo",
            "--tls-cert",
            "missing-cert.pem",
            "--tls-key",
            "key.pem",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(
            "otp: the TLS key file `key.pem` is open to group or others (mode 0620)",
        ));
    set_mode(&dir.path().join("key.pem"), 0o600);
    otp()
        .current_dir(dir.path())
        .args([
            "serve",
            "--demo",
            "--tls-cert",
            "missing-cert.pem",
            "--tls-key",
            "key.pem",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(
            "otp: cannot read the TLS certificate file `missing-cert.pem`: ",
        ));
    std::os::unix::fs::symlink("key.pem", dir.path().join("link.pem")).unwrap();
    assert_eq!(
        tls("link.pem"),
        "otp: the TLS key file (--tls-key): `link.pem` is a symbolic link: refusing it; put the file itself there\n"
    );
    assert_eq!(
        tls("missing.pem"),
        "otp: the TLS key file (--tls-key): `missing.pem` does not exist\n"
    );
    // The certificate given as the key: no key in it.
    std::fs::copy(
        dir.path().join("cert.pem"),
        dir.path().join("cert-as-key.pem"),
    )
    .unwrap();
    set_mode(&dir.path().join("cert-as-key.pem"), 0o600);
    assert_eq!(
        tls("cert-as-key.pem"),
        "otp: --tls-cert and --tls-key: the key file holds no PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)\n"
    );
    // Another key than the certificate's.
    let other = dir.path().join("other.pem");
    std::fs::write(&other, KeyPair::generate().unwrap().serialize_pem()).unwrap();
    set_mode(&other, 0o600);
    assert!(
        tls("other.pem").starts_with(
            "otp: --tls-cert and --tls-key: the certificate and key cannot be served: "
        )
    );
    // One without the other: a usage error (clap's first line only, as
    // for every usage error of `otp`).
    otp()
        .args(["serve", "--demo", "--tls-cert", "cert.pem"])
        .assert()
        .code(2)
        .stderr("otp: the following required arguments were not provided: (see `otp --help`)\n");
}

#[test]
fn serve_db_serves_the_banks_own_database_without_the_demo_page() {
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
    let server = Server::start(
        dir.path(),
        &["--db", "bank.sqlite", "--listen", "127.0.0.1:0"],
    );
    assert!(
        server
            .printed
            .starts_with("otp serve: the bank `bank.sqlite`\n"),
        "{}",
        server.printed
    );
    assert!(!server.printed.contains("demo"), "{}", server.printed);
    let addr = server.addr.clone();
    let health = get(&addr, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200 OK"), "{health}");
    assert!(health.ends_with("\r\n\r\nok\n"), "{health}");
    let login = get(&addr, "/login");
    assert!(login.starts_with("HTTP/1.1 200 OK"), "{login}");
    assert!(login.contains("ログイン"), "{login}");
    let tokens = get(&addr, "/demo/tokens");
    assert!(tokens.starts_with("HTTP/1.1 404 Not Found"), "{tokens}");
    let (status, last) = server.terminate();
    assert!(status.success(), "{status:?}");
    assert_eq!(last.as_deref(), Some("stopped"));
    // The bank's files, and nothing else made.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.ends_with("-wal") && !n.ends_with("-shm"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["bank.sqlite", "bank.sqlite.kek", "bank.sqlite.keys"]
    );
}
