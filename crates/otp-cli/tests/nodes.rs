//! One bank in PostgreSQL, several `otp serve` processes on it (issue 14,
//! "many nodes"): `otp bank --postgres` sets the bank up, two real
//! `otp serve --postgres` processes share its tickets and audit chain
//! through the same key files.
//!
//! Every test here needs a PostgreSQL server: they are `#[ignore]`d and
//! run by `.ci/run`'s PostgreSQL step, with the URL that
//! `scripts/pg-test-server.sh start` prints (`OTP_TEST_PG_URL`, TLS with
//! `sslmode=verify-full`). Each test works in its own PostgreSQL schema.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// The administrator's approval password in these banks.
const APPROVAL: &str = "approve-2020";
/// Every user's login password in these banks.
const LOGIN: &str = "login-2020-pw";

/// The test server's URL (`scripts/pg-test-server.sh start`).
fn pg_url() -> String {
    std::env::var("OTP_TEST_PG_URL")
        .expect("OTP_TEST_PG_URL: run `eval \"$(bash scripts/pg-test-server.sh start)\"` first")
}

/// A bank in its own PostgreSQL schema, its key files in a temporary
/// folder, the factory's tokens beside them.
struct PgBank {
    dir: tempfile::TempDir,
    schema: String,
    url: String,
}

impl PgBank {
    /// `otp bank init` with W0001 (administrator) and W0002, six tokens
    /// imported from a plain seed file; W0001 and W0002 get a token from
    /// the branch and a login password.
    fn new(name: &str) -> Self {
        Self::with_users(name, 0)
    }

    /// As [`PgBank::new`], with `extra` more general users `U0000`,
    /// `U0001`, ... each registered with its own token (serials
    /// `VT0000000006` on), without a login password.
    fn with_users(name: &str, extra: usize) -> Self {
        let bank = Self {
            dir: tempfile::tempdir().unwrap(),
            schema: format!("nodes_{name}_{}", std::process::id()),
            url: pg_url(),
        };
        let mut init_args = vec![
            "init".to_owned(),
            "--admin".to_owned(),
            "W0001:しんきん太郎".to_owned(),
            "--user".to_owned(),
            "W0002:しんきん花子".to_owned(),
        ];
        for i in 0..extra {
            init_args.push("--user".to_owned());
            init_args.push(format!("{}:利用者", extra_user(i)));
        }
        let init_args: Vec<&str> = init_args.iter().map(String::as_str).collect();
        let init = bank.bank(&init_args, &format!("{APPROVAL}\n"));
        assert!(init.status.success(), "{init:?}");
        let stderr = String::from_utf8_lossy(&init.stderr);
        // The URL (and any password in it) is never printed.
        assert!(!stderr.contains("postgresql://"), "{stderr}");
        assert!(
            stderr.contains("created the bank's key file bank.keys")
                && stderr.contains("created the token secrets' key file bank.kek"),
            "{stderr}"
        );
        let factory = bank.otp(&[
            "factory",
            "--count",
            &(6 + extra).to_string(),
            "--test-seed",
            "nodes",
            "--pskc",
            "v.pskc",
            "--tokens-dir",
            "t",
        ]);
        assert!(factory.status.success(), "{factory:?}");
        let import = bank.bank(&["import", "v.pskc", "--allow-plain"], "");
        assert_eq!(
            stdout(&import),
            format!("Imported {} tokens into the stock.\n", 6 + extra)
        );
        for (user, serial) in [("W0001", "VT0000000000"), ("W0002", "VT0000000001")] {
            let code = bank.first_code(serial);
            let branch = ["--officer", "B-042", "--request", "REQ-1"];
            let mut args = vec!["branch-register", user];
            args.extend(branch);
            let registered = bank.bank(&args, &format!("{serial}\n{code}\n"));
            assert!(
                stdout(&registered).contains("The registered token is valid from now."),
                "{registered:?}"
            );
            let mut args = vec!["branch-password", user, "--kind", "login"];
            args.extend(branch);
            let set = bank.bank(&args, &format!("{LOGIN}\n"));
            assert_eq!(stdout(&set), format!("The password of {user} was set.\n"));
        }
        // The extra users, four registrations at a time.
        let users: Vec<usize> = (0..extra).collect();
        std::thread::scope(|scope| {
            for chunk in users.chunks(extra.div_ceil(4).max(1)) {
                let bank = &bank;
                scope.spawn(move || {
                    for &i in chunk {
                        let serial = extra_serial(i);
                        // The current step's code (the first use teaches
                        // the bank the token's drift: none), not within
                        // 4 s of the step's end.
                        if unix_now() % 30 > 25 {
                            std::thread::sleep(Duration::from_secs(31 - unix_now() % 30));
                        }
                        let code = bank.token(&serial).code_at(unix_now());
                        let registered = bank.bank(
                            &[
                                "branch-register",
                                &extra_user(i),
                                "--officer",
                                "B-042",
                                "--request",
                                "REQ-2",
                            ],
                            &format!("{serial}\n{code}\n"),
                        );
                        assert!(
                            stdout(&registered).contains("The registered token is valid from now."),
                            "{registered:?}"
                        );
                    }
                });
            }
        });
        bank
    }

    /// The virtual token `serial` (its file under t/), to compute its codes
    /// in the test.
    fn token(&self, serial: &str) -> Totp {
        let text = std::fs::read_to_string(self.path().join(format!("t/{serial}.toml"))).unwrap();
        let secret = text
            .lines()
            .find_map(|l| l.strip_prefix("secret = \""))
            .and_then(|v| v.strip_suffix('"'))
            .unwrap();
        let secret = data_encoding::BASE32_NOPAD
            .decode(secret.trim_end_matches('=').as_bytes())
            .unwrap();
        Totp(otp_core::Key::new(otp_core::Algorithm::Sha1, &secret).unwrap())
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `otp bank --postgres ... api-key create --scope validate`: the key.
    fn api_key(&self) -> String {
        self.api_key_of("validate")
    }

    /// `otp bank --postgres ... api-key create --scope SCOPE`: the key.
    fn api_key_of(&self, scope: &str) -> String {
        let out = self.bank(
            &["api-key", "create", "--scope", scope, "--name", "nodes"],
            "",
        );
        assert!(out.status.success(), "{out:?}");
        let key = stdout(&out);
        assert!(key.starts_with("otpk_") && key.ends_with('\n'), "{key}");
        key.trim_end().to_owned()
    }

    /// `otp ARGS` in the bank's folder, English, the URL in the
    /// environment only.
    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_otp"));
        cmd.current_dir(self.path())
            .env("LANG", "C")
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .env_remove("OTP_DB")
            .env_remove("OTP_PSKC_KEY")
            .env("OTP_POSTGRES_URL", &self.url);
        cmd
    }

    fn otp(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    /// The options that name this bank: `--postgres`, its schema, its
    /// key files.
    fn pg_args(&self) -> Vec<String> {
        [
            "--postgres",
            "--postgres-schema",
            &self.schema,
            "--key-file",
            "bank.keys",
            "--kek-file",
            "bank.kek",
        ]
        .map(str::to_owned)
        .to_vec()
    }

    /// `otp bank --postgres ... ARGS` with `input` on standard input.
    fn bank(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .command()
            .arg("bank")
            .args(self.pg_args())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// The code token `serial` shows `offset` seconds from now.
    fn press(&self, serial: &str, offset: i64) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let at = format!("@{}", now.saturating_add_signed(offset));
        let out = self.otp(&["token", "press", &format!("t/{serial}.toml"), "--at", &at]);
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// The code a new token shows now, taken at least 12 s before the end
    /// of its 30-second step (as in tests/bank.rs), so that the
    /// registration ends in the same step.
    fn first_code(&self, serial: &str) -> String {
        let into_step = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            % 30;
        if into_step > 18 {
            std::thread::sleep(Duration::from_secs(31 - into_step));
        }
        self.press(serial, 0)
    }

    /// Starts `otp serve --postgres ...` on a free loopback port.
    fn serve(&self) -> Node {
        self.serve_with(&[])
    }

    fn serve_with(&self, extra: &[&str]) -> Node {
        let mut child = self
            .command()
            .arg("serve")
            .args(self.pg_args())
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
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
        // Keep reading (and dropping) what it prints, so it never blocks.
        std::thread::spawn(move || lines.for_each(drop));
        let addr = addr.unwrap_or_else(|| panic!("no address in {printed}"));
        Node {
            child,
            addr,
            printed,
        }
    }
}

/// The extra user number `i` of [`PgBank::with_users`].
fn extra_user(i: usize) -> String {
    format!("U{i:04}")
}

/// The serial of extra user `i`'s token.
fn extra_serial(i: usize) -> String {
    format!("VT{:010}", i + 6)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A factory token's TOTP (SHA-1, 6 digits, 30-second steps from 0, as
/// `otp factory` makes them), computed in the test.
struct Totp(otp_core::Key);

impl Totp {
    /// The code of 30-second step `step`.
    fn code_of_step(&self, step: u64) -> String {
        otp_core::hotp(&self.0, step, otp_core::Digits::Six).to_string()
    }

    /// The code shown at Unix time `at`.
    fn code_at(&self, at: u64) -> String {
        self.code_of_step(at / 30)
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A running `otp serve` process.
struct Node {
    child: Child,
    addr: String,
    printed: String,
}

impl Node {
    /// `GET path`: the whole response (status line, headers, body).
    fn get(&self, path: &str) -> String {
        request(
            &self.addr,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        )
    }

    /// The status code of `GET path`.
    fn status(&self, path: &str) -> u16 {
        status_of(&self.get(path))
    }

    /// The web sign-in (the login form with its session cookie and CSRF
    /// token, then `POST /login`): where it sends the browser, or the
    /// page it shows again (a refusal).
    fn sign_in(&self, user: &str, code: &str) -> SignIn {
        let page = self.get("/login");
        let cookie = page
            .lines()
            .find_map(|l| l.strip_prefix("set-cookie: otp_session="))
            .and_then(|v| v.split(';').next())
            .unwrap_or_else(|| panic!("no session cookie: {page}"))
            .to_owned();
        let csrf = page
            .split(r#"name="csrf" value=""#)
            .nth(1)
            .and_then(|v| v.split('"').next())
            .unwrap()
            .to_owned();
        let body = format!("csrf={csrf}&id={user}&password={LOGIN}&code={code}");
        let answer = request(
            &self.addr,
            &format!(
                "POST /login?lang=en HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: otp_session={cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        );
        match status_of(&answer) {
            303 => SignIn::To(
                answer
                    .lines()
                    .find_map(|l| l.strip_prefix("location: "))
                    .unwrap()
                    .to_owned(),
            ),
            200 => SignIn::Refused,
            other => SignIn::Status(other),
        }
    }

    /// `POST /api/v1/validate` with `key`: the whole response.
    fn validate(&self, key: &str, user: &str, code: &str) -> String {
        request(&self.addr, &validate_request(key, user, code))
    }

    /// SIGKILL: no shutdown at all.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a web sign-in did.
#[derive(Debug, PartialEq, Eq)]
enum SignIn {
    /// Signed in: redirected here.
    To(String),
    /// Refused: the form again, with the refusal.
    Refused,
    /// Another status (a server error, 503).
    Status(u16),
}

fn request(addr: &str, text: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(text.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// The HTTP request of `POST /api/v1/validate`.
fn validate_request(key: &str, user: &str, code: &str) -> String {
    let body = format!(r#"{{"user":"{user}","code":"{code}"}}"#);
    format!(
        "POST /api/v1/validate HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// The same request sent to every node at once (connected first, then
/// written behind a barrier): each node's whole response, or what was
/// read before the connection broke ("" if it could not connect).
fn at_once(nodes: &[&Node], text: &str) -> Vec<String> {
    let addrs: Vec<&str> = nodes.iter().map(|n| n.addr.as_str()).collect();
    at_once_then(&addrs, text, || {})
}

/// As [`at_once`], to addresses, running `meanwhile` once every request
/// is written (while the nodes work on them).
fn at_once_then(addrs: &[&str], text: &str, meanwhile: impl FnOnce()) -> Vec<String> {
    let barrier = std::sync::Barrier::new(addrs.len());
    let (written, all_written) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        let handles: Vec<_> = addrs
            .iter()
            .map(|addr| {
                let (barrier, written) = (&barrier, written.clone());
                scope.spawn(move || {
                    let conn = TcpStream::connect(addr).ok();
                    barrier.wait();
                    let mut out = Vec::new();
                    if let Some(mut s) = conn {
                        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
                        let sent = s.write_all(text.as_bytes()).is_ok();
                        written.send(()).unwrap();
                        if sent {
                            let _ = s.read_to_end(&mut out);
                        }
                    } else {
                        written.send(()).unwrap();
                    }
                    String::from_utf8_lossy(&out).into_owned()
                })
            })
            .collect();
        for _ in addrs {
            all_written.recv().unwrap();
        }
        meanwhile();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// The JSON body of a response.
fn body_of(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

/// The `reason` of a validate answer (200), or `status <code>`.
fn verdict(response: &str) -> String {
    if status_of(response) != 200 {
        return format!("status {}", status_of(response));
    }
    body_of(response)
        .split(r#""reason":""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no reason: {response}"))
        .to_owned()
}

fn status_of(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {response}"))
}

#[test]
#[ignore = "needs PostgreSQL: OTP_TEST_PG_URL from scripts/pg-test-server.sh"]
fn otp_bank_works_on_postgres_with_named_key_files() {
    let bank = PgBank::new("bank");
    let users = bank.bank(&["users", "--operator", "W0001"], "");
    assert_eq!(
        stdout(&users),
        "Customer ID  Token serial   Status      Authority      User name\n\
         W0001        ●●●●●●●●0000   registered  administrator  しんきん太郎\n\
         W0002        ●●●●●●●●0001   registered  general user   しんきん花子\n\
         1 to 2 of 2\n"
    );
    let code = bank.press("VT0000000001", 30);
    let verify = bank.bank(&["verify", "W0002", &code], "");
    assert_eq!(stdout(&verify), "accepted\n");
    let again = bank.bank(&["verify", "W0002", &code], "");
    assert_eq!(again.status.code(), Some(2));
    let chain = bank.bank(&["audit", "--verify"], "");
    assert!(
        stdout(&chain).starts_with("The audit chain verifies"),
        "{chain:?}"
    );
    // A second init on the same schema is refused; the key files stay.
    let keys = std::fs::read(bank.path().join("bank.keys")).unwrap();
    let init = bank.bank(&["init", "--user", "W0003"], "");
    assert_eq!(init.status.code(), Some(1));
    assert_eq!(std::fs::read(bank.path().join("bank.keys")).unwrap(), keys);
    // Another key file: refused, never made (only init makes one).
    let mut args = bank.pg_args();
    args[4] = "other.keys".into();
    let other = bank
        .command()
        .arg("bank")
        .args(&args)
        .args(["users", "--operator", "W0001"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&other.stderr),
        "otp: the bank's key file `other.keys` is missing (--key-file): give the file `otp bank init` made (every server of the bank reads the same one)\n"
    );
    assert!(!bank.path().join("other.keys").exists());
    // No URL: refused, saying where to give it.
    let none = bank
        .command()
        .env_remove("OTP_POSTGRES_URL")
        .arg("bank")
        .args(bank.pg_args())
        .arg("users")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&none.stderr),
        "otp: --postgres: give the database's URL in OTP_POSTGRES_URL or in a file named by --postgres-url-file (never on the command line: it may hold a password)\n"
    );
    // A database that cannot be reached: the error never quotes the URL
    // or its password.
    for url in [
        "postgresql://otp:hunter2-secret@127.0.0.1:1/otp?sslmode=verify-full",
        "postgresql://otp:hunter2-secret@127.0.0.1:1/otp?sslmode=bogus",
        "postgresql://otp:hunter2-secret@[bad/otp",
    ] {
        let refused = bank
            .command()
            .env("OTP_POSTGRES_URL", url)
            .arg("bank")
            .args(bank.pg_args())
            .args(["users", "--operator", "W0001"])
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&refused.stderr);
        assert!(
            said.starts_with("otp: cannot open the bank's PostgreSQL database: ")
                && !said.contains("hunter2")
                && !said.contains("postgresql://"),
            "{said}"
        );
        assert_eq!(refused.status.code(), Some(1));
    }
    // The URL from a private file; a file open to others is refused.
    std::fs::write(bank.path().join("pg.url"), format!("{}\n", bank.url)).unwrap();
    set_mode(&bank.path().join("pg.url"), 0o600);
    let from_file = bank
        .command()
        .env_remove("OTP_POSTGRES_URL")
        .arg("bank")
        .args(bank.pg_args())
        .args([
            "--postgres-url-file",
            "pg.url",
            "users",
            "--operator",
            "W0001",
        ])
        .output()
        .unwrap();
    assert!(
        stdout(&from_file).ends_with("1 to 2 of 2\n"),
        "{from_file:?}"
    );
    set_mode(&bank.path().join("pg.url"), 0o644);
    let open = bank
        .command()
        .env_remove("OTP_POSTGRES_URL")
        .arg("bank")
        .args(bank.pg_args())
        .args([
            "--postgres-url-file",
            "pg.url",
            "users",
            "--operator",
            "W0001",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&open.stderr),
        "otp: the PostgreSQL URL file `pg.url` is open to group or others (mode 0644): it may hold a password; make it private (chmod 600 pg.url)\n"
    );
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
#[ignore = "needs PostgreSQL: OTP_TEST_PG_URL from scripts/pg-test-server.sh"]
fn two_nodes_share_one_bank_its_replay_rule_and_audit_chain() {
    let bank = PgBank::new("two");
    let (a, b) = (bank.serve(), bank.serve());
    assert!(
        a.printed
            .starts_with("otp serve: the bank in PostgreSQL (--postgres)\n"),
        "{}",
        a.printed
    );
    // The URL (and any password in it) is never printed.
    assert!(!a.printed.contains("postgresql://"), "{}", a.printed);
    for node in [&a, &b] {
        assert_eq!(node.status("/healthz"), 200);
        assert_eq!(node.status("/readyz"), 200);
    }
    // W0001 signs in on A; the same code on B is a replay: refused there.
    let admin = bank.press("VT0000000000", 30);
    assert_eq!(a.sign_in("W0001", &admin), SignIn::To("/admin".into()));
    assert_eq!(b.sign_in("W0001", &admin), SignIn::Refused);
    // W0002 signs in on B; the same code on A is refused.
    let general = bank.press("VT0000000001", 30);
    assert_eq!(b.sign_in("W0002", &general), SignIn::To("/home".into()));
    assert_eq!(a.sign_in("W0002", &general), SignIn::Refused);
    // One audit chain, written by both, verifies under the shared key.
    let chain = bank.bank(&["audit", "--verify"], "");
    assert!(
        stdout(&chain).starts_with("The audit chain verifies"),
        "{chain:?}"
    );
}

#[test]
#[ignore = "needs PostgreSQL: OTP_TEST_PG_URL from scripts/pg-test-server.sh"]
fn a_node_killed_with_sigkill_leaves_the_other_serving() {
    let bank = PgBank::new("kill");
    let (a, b) = (bank.serve_with(&[]), bank.serve());
    let admin = bank.press("VT0000000000", 30);
    assert_eq!(a.sign_in("W0001", &admin), SignIn::To("/admin".into()));
    a.kill();
    assert_eq!(b.status("/healthz"), 200);
    assert_eq!(b.status("/readyz"), 200);
    let general = bank.press("VT0000000001", 30);
    assert_eq!(b.sign_in("W0002", &general), SignIn::To("/home".into()));
    let chain = bank.bank(&["audit", "--verify"], "");
    assert!(
        stdout(&chain).starts_with("The audit chain verifies"),
        "{chain:?}"
    );
}

/// A TCP relay on loopback in front of the PostgreSQL server, that the
/// test can cut: the node behind it then finds its database unreachable
/// (its connections reset, new ones refused) while other nodes go on.
/// TLS passes through untouched (the certificate names 127.0.0.1).
struct Relay {
    port: u16,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    open: std::sync::Arc<std::sync::Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn new(upstream: std::net::SocketAddr) -> Self {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let open = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (cut2, open2) = (cut.clone(), open.clone());
        std::thread::spawn(move || {
            while !cut2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let Ok(server) = TcpStream::connect(upstream) else {
                            continue;
                        };
                        let mut held = open2.lock().unwrap();
                        held.push(client.try_clone().unwrap());
                        held.push(server.try_clone().unwrap());
                        for (mut from, mut to) in [
                            (client.try_clone().unwrap(), server.try_clone().unwrap()),
                            (server, client),
                        ] {
                            std::thread::spawn(move || {
                                let _ = std::io::copy(&mut from, &mut to);
                                let _ = to.shutdown(std::net::Shutdown::Both);
                            });
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
            // The listener is dropped here: new connections are refused.
        });
        Self { port, cut, open }
    }

    /// The database becomes unreachable through the relay.
    fn cut(&self) {
        self.cut.store(true, std::sync::atomic::Ordering::SeqCst);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        // The accept loop sees the flag within its 20 ms nap.
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The test server's URL with its port replaced by `port`.
fn url_via(url: &str, port: u16) -> String {
    let (head, rest) = url.split_once("@127.0.0.1:").unwrap();
    let tail = &rest[rest.find('/').unwrap()..];
    format!("{head}@127.0.0.1:{port}{tail}")
}

fn upstream_of(url: &str) -> std::net::SocketAddr {
    let rest = url.split_once("@127.0.0.1:").unwrap().1;
    let port: u16 = rest[..rest.find('/').unwrap()].parse().unwrap();
    std::net::SocketAddr::from(([127, 0, 0, 1], port))
}

#[test]
#[ignore = "needs PostgreSQL: OTP_TEST_PG_URL from scripts/pg-test-server.sh"]
fn a_node_whose_database_is_unreachable_is_not_ready_and_fails_closed() {
    let bank = PgBank::new("unreachable");
    let key = bank.api_key();
    let relay = Relay::new(upstream_of(&bank.url));
    let a = bank.serve();
    let b = {
        let via = PgBank {
            dir: tempfile::tempdir().unwrap(),
            schema: bank.schema.clone(),
            url: url_via(&bank.url, relay.port),
        };
        // B reads the same key files, reaching the database through the
        // relay.
        for file in ["bank.keys", "bank.kek"] {
            std::fs::copy(bank.path().join(file), via.path().join(file)).unwrap();
        }
        via.serve()
    };
    for node in [&a, &b] {
        assert_eq!(node.status("/healthz"), 200);
        let ready = node.get("/readyz");
        assert!(ready.ends_with("\r\n\r\n{\"ready\":true}"), "{ready}");
    }
    relay.cut();
    let started = std::time::Instant::now();
    let ready = b.get("/readyz");
    assert!(
        ready.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{ready}"
    );
    assert!(ready.ends_with("\r\n\r\n{\"ready\":false}"), "{ready}");
    // Answered within the readiness timeout (2 s), not the pool's.
    assert!(started.elapsed() < Duration::from_secs(10));
    // A right code on B, whose database is gone: an error, never a
    // sign-in (fail closed: nothing could be recorded).
    let code = bank.press("VT0000000001", 30);
    assert_eq!(b.sign_in("W0002", &code), SignIn::Status(503));
    // A still serves, and the same code is still fresh there: B recorded
    // nothing.
    assert_eq!(a.status("/readyz"), 200);
    assert_eq!(a.sign_in("W0002", &code), SignIn::To("/home".into()));
    // The JSON API likewise: a right code posted to B is 503
    // store_unavailable, never accepted; A accepts the same code after.
    let admin_code = bank.token("VT0000000000").code_at(unix_now() + 30);
    let answer = b.validate(&key, "W0001", &admin_code);
    assert!(
        answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{answer}"
    );
    assert!(
        answer.contains("content-type: application/problem+json\r\n")
            && body_of(&answer).contains(r#""reason":"store_unavailable""#),
        "{answer}"
    );
    assert!(!answer.contains("accepted"), "{answer}");
    let answer = a.validate(&key, "W0001", &admin_code);
    assert_eq!(verdict(&answer), "accepted", "{answer}");
    assert!(
        body_of(&answer).starts_with(r#"{"result":"accepted","reason":"accepted","#),
        "{answer}"
    );
    // B's metrics say why.
    let metrics = b.get("/metrics");
    assert!(
        metrics.contains("\notp_sign_ins_total{outcome=\"store_error\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "otp_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"503\"} 1\n"
        ),
        "{metrics}"
    );
}

/// The number of rounds of
/// `the_same_code_posted_to_both_nodes_at_once_is_accepted_once_in_1000_rounds`.
const ROUNDS: usize = 1_000;

/// Its users. The window is one step either side of now and the replay
/// rule wants each code later than the token's last: a user registered at
/// the current step has the next step's code free, and one more each time
/// the clock moves on a step. 340 users: 1,000 rounds within three steps.
const ROUND_USERS: usize = 340;

#[test]
#[ignore = "needs PostgreSQL: OTP_TEST_PG_URL from scripts/pg-test-server.sh"]
fn the_same_code_posted_to_both_nodes_at_once_is_accepted_once_in_1000_rounds() {
    let bank = PgBank::with_users("rounds", ROUND_USERS);
    let key = bank.api_key();
    let (a, b) = (bank.serve(), bank.serve());
    let tokens: Vec<Totp> = (0..ROUND_USERS)
        .map(|i| bank.token(&extra_serial(i)))
        .collect();
    // Each user's last used step: its registration's, at most now.
    let mut last: Vec<u64> = vec![0; ROUND_USERS];
    let mut fresh = true;
    let mut verdicts = std::collections::BTreeMap::<String, usize>::new();
    let mut rounds = 0;
    let mut next = 0;
    while rounds < ROUNDS {
        let now = unix_now();
        let current = now / 30;
        if fresh {
            last.fill(current);
            fresh = false;
        }
        // A step behind is still in the window, unless the step ends
        // within 2 s (the servers' clocks read later than ours).
        let earliest = if now % 30 >= 28 { current } else { current - 1 };
        let Some(i) = (0..ROUND_USERS)
            .map(|k| (next + k) % ROUND_USERS)
            .find(|&i| last[i] < current + 1)
        else {
            std::thread::sleep(Duration::from_millis(500));
            continue;
        };
        next = (i + 1) % ROUND_USERS;
        let step = (last[i] + 1).max(earliest);
        last[i] = step;
        let text = validate_request(&key, &extra_user(i), &tokens[i].code_of_step(step));
        let answers = at_once(&[&a, &b], &text);
        let got: Vec<String> = answers.iter().map(|r| verdict(r)).collect();
        assert_eq!(
            got.iter().filter(|v| *v == "accepted").count(),
            1,
            "round {rounds} (user {i}, step {step}): {answers:?}"
        );
        for v in got {
            *verdicts.entry(v).or_default() += 1;
        }
        rounds += 1;
    }
    // Exactly one acceptance a round; the other node saw the code as the
    // token's last one (the replay rule, shared through the database).
    assert_eq!(
        verdicts,
        [
            ("accepted".to_owned(), ROUNDS),
            ("replayed_code_current".to_owned(), ROUNDS)
        ]
        .into_iter()
        .collect(),
    );
    let chain = bank.bank(&["audit", "--verify"], "");
    assert!(
        stdout(&chain).starts_with("The audit chain verifies"),
        "{chain:?}"
    );
}

#[test]
#[ignore = "needs PostgreSQL: OTP_TEST_PG_URL from scripts/pg-test-server.sh"]
fn a_validate_in_flight_when_its_node_is_killed_leaves_no_half_done_state() {
    const KILLS: usize = 8;
    let bank = PgBank::with_users("inflight", KILLS);
    let key = bank.api_key();
    let b = bank.serve();
    let mut killed_in_flight = 0;
    for round in 0..KILLS {
        let a = bank.serve();
        let user = extra_user(round);
        let code = bank.token(&extra_serial(round)).code_at(unix_now() + 30);
        let text = validate_request(&key, &user, &code);
        // The same code to A and B at once; A is killed with SIGKILL
        // once both requests are written, a little later each round (at
        // once, then 1, 4, 9, ... 49 ms after).
        let mut a = a;
        let addrs = [a.addr.clone(), b.addr.clone()];
        let answers = at_once_then(&[&addrs[0], &addrs[1]], &text, || {
            std::thread::sleep(Duration::from_millis((round * round) as u64));
            a.child.kill().unwrap();
        });
        a.child.wait().unwrap();
        drop(a);
        let (from_a, from_b) = (&answers[0], &answers[1]);
        // B answered, never with an error; A either answered in full or
        // not at all.
        let b_verdict = verdict(from_b);
        assert!(
            ["accepted", "replayed_code_current"].contains(&b_verdict.as_str()),
            "round {round}: {from_b}"
        );
        let a_accepted = from_a.starts_with("HTTP/1.1 200 ") && verdict(from_a) == "accepted";
        if from_a.is_empty() {
            killed_in_flight += 1;
        }
        assert!(
            !(a_accepted && b_verdict == "accepted"),
            "round {round}: accepted twice: {answers:?}"
        );
        // B refused it only because A had recorded it: either way the
        // code is now the token's last one, recorded exactly once, and
        // B says so.
        let again = b.validate(&key, &user, &code);
        assert_eq!(
            verdict(&again),
            "replayed_code_current",
            "round {round}: {again}"
        );
    }
    // At least the first rounds killed A before it answered.
    assert!(
        killed_in_flight >= 1,
        "A answered every round before it was killed"
    );
    eprintln!("A killed before it answered in {killed_in_flight} of {KILLS} rounds");
    assert_eq!(b.status("/readyz"), 200);
    let chain = bank.bank(&["audit", "--verify"], "");
    assert!(
        stdout(&chain).starts_with("The audit chain verifies"),
        "{chain:?}"
    );
}

/// An admin API call: `METHOD path` with the key, the admin session (if
/// any) and a JSON body (if any): the whole response.
fn admin_request(method: &str, path: &str, key: &str, session: &str, body: Option<&str>) -> String {
    let body = body.unwrap_or("");
    let session = if session.is_empty() {
        String::new()
    } else {
        format!("OTP-Admin-Session: {session}\r\n")
    };
    format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {key}\r\n{session}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// The JSON body of a response, parsed.
fn json_of(response: &str) -> serde_json::Value {
    serde_json::from_str(body_of(response)).unwrap_or_else(|e| panic!("{e}: {response}"))
}

impl Node {
    /// An admin API call on this node: the whole response.
    fn admin(
        &self,
        method: &str,
        path: &str,
        key: &str,
        session: &str,
        body: Option<&str>,
    ) -> String {
        request(&self.addr, &admin_request(method, path, key, session, body))
    }

    /// W0001 signs in through the API (login password, a code from
    /// their token shown `offset` seconds from now): the admin session.
    fn admin_sign_in(&self, bank: &PgBank, key: &str, offset: u64) -> String {
        let code = bank.token("VT0000000000").code_at(unix_now() + offset);
        let body = format!(r#"{{"operator":"W0001","password":"{LOGIN}","code":"{code}"}}"#);
        let answer = self.admin("POST", "/api/v1/admin/sign-in", key, "", Some(&body));
        assert_eq!(status_of(&answer), 200, "{answer}");
        json_of(&answer)["admin_session"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// Waits until the next 30-second step begins: every code used before
/// is then in the past.
fn next_step() {
    let step = unix_now() / 30;
    while unix_now() / 30 == step {
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The masked serial the API shows for `serial`.
fn masked(serial: &str) -> String {
    format!("●●●●●●●●{}", &serial[serial.len() - 4..])
}

#[test]
#[ignore = "needs PostgreSQL: OTP_TEST_PG_URL from scripts/pg-test-server.sh"]
fn an_exchange_started_on_one_node_continues_on_the_other() {
    let bank = PgBank::new("flow");
    let key = bank.api_key_of("admin");
    let validate_key = bank.api_key();
    let (a, b) = (bank.serve(), bank.serve());
    // The set-up registered the tokens with this step's codes.
    next_step();
    // Signed in on A; every step alternates nodes: the admin session and
    // the tickets are sealed under the shared key file.
    let session = a.admin_sign_in(&bank, &key, 0);
    let begun = b.admin(
        "POST",
        "/api/v1/exchanges",
        &key,
        &session,
        Some(r#"{"user":"W0002"}"#),
    );
    assert_eq!(status_of(&begun), 200, "{begun}");
    let begun = json_of(&begun);
    assert_eq!(begun["next"], "current_code");
    assert_eq!(begun["serial"], masked("VT0000000001"));
    let code = bank.token("VT0000000001").code_at(unix_now());
    let body = format!(
        r#"{{"ticket":"{}","code":"{code}"}}"#,
        begun["ticket"].as_str().unwrap()
    );
    let current = a.admin(
        "POST",
        "/api/v1/exchanges/current-code",
        &key,
        &session,
        Some(&body),
    );
    assert_eq!(status_of(&current), 200, "{current}");
    let current = json_of(&current);
    assert_eq!(current["next"], "new_token");
    let new_code = bank.token("VT0000000002").code_at(unix_now());
    let body = format!(
        r#"{{"ticket":"{}","serial":"VT0000000002","code":"{new_code}","password":"{APPROVAL}"}}"#,
        current["ticket"].as_str().unwrap()
    );
    let done = b.admin(
        "POST",
        "/api/v1/exchanges/new-token",
        &key,
        &session,
        Some(&body),
    );
    assert_eq!(status_of(&done), 200, "{done}");
    assert_eq!(json_of(&done)["result"], "switched");
    // The same last step again, on the other node: used once.
    let again = a.admin(
        "POST",
        "/api/v1/exchanges/new-token",
        &key,
        &session,
        Some(&body),
    );
    assert_eq!(status_of(&again), 409, "{again}");
    assert_eq!(json_of(&again)["reason"], "session_used");
    // Both nodes: the old token refused, the new one accepted once.
    let old = bank.token("VT0000000001").code_at(unix_now() + 30);
    assert_eq!(
        verdict(&a.validate(&validate_key, "W0002", &old)),
        "login_failed"
    );
    let next = bank.token("VT0000000002").code_at(unix_now() + 30);
    let answers = at_once(&[&a, &b], &validate_request(&validate_key, "W0002", &next));
    let mut verdicts: Vec<String> = answers.iter().map(|r| verdict(r)).collect();
    verdicts.sort();
    assert_eq!(
        verdicts,
        ["accepted", "replayed_code_current"],
        "{answers:?}"
    );
    let chain = bank.bank(&["audit", "--verify"], "");
    assert!(
        stdout(&chain).starts_with("The audit chain verifies"),
        "{chain:?}"
    );
}

#[test]
#[ignore = "needs PostgreSQL: OTP_TEST_PG_URL from scripts/pg-test-server.sh"]
fn an_exchange_whose_node_is_killed_at_its_last_step_is_all_or_nothing() {
    // Four rounds (the stock holds four tokens, VT0000000002 to 5): user
    // U000i's last step (new serial, code, approval password) is sent to
    // a node A killed with SIGKILL 0, 20, 150 and 3,000 ms after (the
    // last lets it finish: both outcomes are met); B then finds the
    // exchange either done whole (new token valid, old refused) or not at
    // all (old token still theirs, the new one still in stock: B does the
    // exchange from the start with it).
    const ROUNDS: usize = 4;
    let bank = PgBank::with_users("killx", ROUNDS);
    let key = bank.api_key_of("admin");
    let validate_key = bank.api_key();
    let b = bank.serve();
    next_step();
    let session = b.admin_sign_in(&bank, &key, 0);
    let (mut done_by_a, mut redone_by_b) = (0, 0);
    for round in 0..ROUNDS {
        let user = extra_user(round);
        let old_serial = extra_serial(round);
        let new_serial = format!("VT{:010}", round + 2);
        let old = bank.token(&old_serial);
        let new = bank.token(&new_serial);
        // Up to the last step on B.
        let walk = |offset: u64| -> String {
            let begun = b.admin(
                "POST",
                "/api/v1/exchanges",
                &key,
                &session,
                Some(&format!(r#"{{"user":"{user}"}}"#)),
            );
            assert_eq!(status_of(&begun), 200, "{begun}");
            let body = format!(
                r#"{{"ticket":"{}","code":"{}"}}"#,
                json_of(&begun)["ticket"].as_str().unwrap(),
                old.code_at(unix_now() + offset)
            );
            let current = b.admin(
                "POST",
                "/api/v1/exchanges/current-code",
                &key,
                &session,
                Some(&body),
            );
            assert_eq!(status_of(&current), 200, "round {round}: {current}");
            json_of(&current)["ticket"].as_str().unwrap().to_owned()
        };
        let ticket = walk(0);
        let body = format!(
            r#"{{"ticket":"{ticket}","serial":"{new_serial}","code":"{}","password":"{APPROVAL}"}}"#,
            new.code_at(unix_now())
        );
        let mut a = bank.serve();
        let text = admin_request(
            "POST",
            "/api/v1/exchanges/new-token",
            &key,
            &session,
            Some(&body),
        );
        let answer = at_once_then(&[&a.addr.clone()], &text, || {
            std::thread::sleep(Duration::from_millis([0, 20, 150, 3_000][round]));
            a.child.kill().unwrap();
        });
        a.child.wait().unwrap();
        drop(a);
        let from_a = &answer[0];
        // A answered in full (the switch) or not at all.
        assert!(
            from_a.is_empty() || status_of(from_a) == 200,
            "round {round}: {from_a}"
        );
        let info = b.admin(
            "GET",
            &format!("/api/v1/users/{user}"),
            &key,
            &session,
            None,
        );
        let serial = json_of(&info)["serial"].as_str().unwrap().to_owned();
        if serial == masked(&new_serial) {
            done_by_a += 1;
        } else {
            // Not switched: the old token is still the user's, A's answer
            // was lost with it, and the new token is still in stock: the
            // whole exchange again on B, from the start, with next codes.
            assert_eq!(serial, masked(&old_serial), "round {round}: {info}");
            assert!(from_a.is_empty(), "round {round}: A said {from_a}");
            let ticket = walk(30);
            let body = format!(
                r#"{{"ticket":"{ticket}","serial":"{new_serial}","code":"{}","password":"{APPROVAL}"}}"#,
                new.code_at(unix_now() + 30)
            );
            let done = b.admin(
                "POST",
                "/api/v1/exchanges/new-token",
                &key,
                &session,
                Some(&body),
            );
            assert_eq!(status_of(&done), 200, "round {round}: {done}");
            redone_by_b += 1;
            // The new token's code of the next step registered it: the one
            // after is in the window once that step has begun.
            next_step();
        }
        // Either way, now: the old token refused, the new one accepted.
        let old_code = old.code_at(unix_now() + 30);
        assert_eq!(
            verdict(&b.validate(&validate_key, &user, &old_code)),
            "login_failed",
            "round {round}"
        );
        let new_code = new.code_at(unix_now() + 30);
        assert_eq!(
            verdict(&b.validate(&validate_key, &user, &new_code)),
            "accepted",
            "round {round}"
        );
    }
    eprintln!(
        "the switch was done by A before it was killed in {done_by_a} of {ROUNDS} rounds, redone by B in {redone_by_b}"
    );
    let chain = bank.bank(&["audit", "--verify"], "");
    assert!(
        stdout(&chain).starts_with("The audit chain verifies"),
        "{chain:?}"
    );
}
