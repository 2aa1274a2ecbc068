//! TLS to PostgreSQL: every `sslmode` against the throwaway server of
//! `scripts/pg-test-server.sh` (TLS only, its certificate for `localhost`
//! and 127.0.0.1 signed by a throwaway CA), and the typed errors of a
//! refused handshake. The tests that need the server are `#[ignore]`d
//! like the rest of the PostgreSQL suite; the others (an unreadable CA
//! file, a server that refuses TLS, played by a socket) run everywhere.
#![cfg(feature = "postgres")]
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    unreachable_pub,
    missing_docs,
    reason = "tests"
)]

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;

use otp_store::{OpenError, PgOptions, PgStore, TlsMode};

use crate::support::{TempDir, pg, pg_url};

/// A CA that signed nothing the test server holds (P-256, valid to 2126).
const OTHER_CA: &str = "-----BEGIN CERTIFICATE-----
MIIBsjCCAVegAwIBAgIUeF9yKggdQ6eOi4kLH0tzccMgWlswCgYIKoZIzj0EAwIw
JTEjMCEGA1UEAwwab3RwLXN0b3JlIHRlc3Q6IGFub3RoZXIgQ0EwIBcNMjYxMjAx
MjMzNzUwWhgPMjEyNjExMDcyMzM3NTBaMCUxIzAhBgNVBAMMGm90cC1zdG9yZSB0
ZXN0OiBhbm90aGVyIENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEuBO3Ca6d
4zh4Oa+0S/XvnhPa75zrwzZFXJeT8oORCQQOGYv+35sQTp23qdlbDjO/zupse1s9
vr93e0NPPlYGuKNjMGEwHQYDVR0OBBYEFAHLgb++Cf1w/7Pvzhs6Eiu9+ImrMB8G
A1UdIwQYMBaAFAHLgb++Cf1w/7Pvzhs6Eiu9+ImrMA8GA1UdEwEB/wQFMAMBAf8w
DgYDVR0PAQH/BAQDAgEGMAoGCCqGSM49BAMCA0kAMEYCIQD2q2S6KXp7UOxHHiYh
Pz7Df/KzpR5uKGsKXyUl6ItTFQIhANKfjl13zySYFr9Qw1w2rViiBQTcdgyzcvf8
hX6jM49f
-----END CERTIFICATE-----
";

/// The test server's URL without its parameters, its port, and its CA
/// file (the `sslrootcert` the script puts in the URL).
struct Server {
    user: String,
    port: String,
    db: String,
    ca: String,
}

fn server() -> Server {
    let url = pg_url();
    let (base, query) = url.split_once('?').unwrap_or((&url, ""));
    let ca = query
        .split('&')
        .find_map(|p| p.strip_prefix("sslrootcert="))
        .unwrap() // the test server's URL names its CA
        .to_owned();
    let rest = base.strip_prefix("postgresql://").unwrap();
    let (user, rest) = rest.split_once('@').unwrap();
    let (host_port, db) = rest.split_once('/').unwrap();
    let port = host_port.rsplit_once(':').unwrap().1.to_owned();
    Server {
        user: user.to_owned(),
        port,
        db: db.to_owned(),
        ca,
    }
}

impl Server {
    /// A URL to `host` with `params` after the `?`.
    fn url(&self, host: &str, params: &str) -> String {
        let Self { user, port, db, .. } = self;
        format!("postgresql://{user}@{host}:{port}/{db}?{params}")
    }
}

/// Whether the connection is encrypted, as the server sees it.
fn encrypted(c: &mut postgres::Client) -> bool {
    c.query_one(
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        &[],
    )
    .unwrap()
    .get(0)
}

/// The error of a connection that must fail.
fn refused(url: &str, options: &PgOptions) -> OpenError {
    match PgStore::connect_client(url, options) {
        Ok(_) => panic!("{url} connected"),
        Err(e) => e,
    }
}

fn other_ca(dir: &TempDir) -> PathBuf {
    let path = dir.path().join("other-ca.pem");
    std::fs::write(&path, OTHER_CA).unwrap();
    path
}

const UNKNOWN_ISSUER: &str = "invalid peer certificate: UnknownIssuer";

#[test]
#[ignore = "needs PostgreSQL: scripts/pg-test-server.sh, then cargo test -p otp-store -- --ignored"]
fn verify_full_with_the_servers_ca_connects_to_127_0_0_1_and_localhost() {
    let s = server();
    for host in ["127.0.0.1", "localhost"] {
        let url = s.url(host, &format!("sslmode=verify-full&sslrootcert={}", s.ca));
        let mut c = PgStore::connect_client(&url, &PgOptions::default()).unwrap();
        assert!(encrypted(&mut c), "{host}");
        // The same from the options instead of the URL.
        let options = PgOptions::default().with_tls(TlsMode::VerifyFull, Some(s.ca.clone().into()));
        let mut c = PgStore::connect_client(&s.url(host, ""), &options).unwrap();
        assert!(encrypted(&mut c), "{host}");
    }
    // A whole store (its pool and migrations) over verify-full.
    let schema = pg::schema();
    let _drop = pg::drop_later(&schema);
    let store = PgStore::connect(
        &pg_url(),
        PgOptions::default().with_schema(&schema),
        support::sealer(),
    )
    .unwrap();
    assert_eq!(store.tls_mode(), TlsMode::VerifyFull);
    assert_eq!(store.schema_version(), Ok(otp_store::PG_SCHEMA_VERSION));
}

#[test]
#[ignore = "needs PostgreSQL: scripts/pg-test-server.sh, then cargo test -p otp-store -- --ignored"]
fn a_certificate_of_another_ca_is_untrusted() {
    let s = server();
    let dir = TempDir::new();
    let other = other_ca(&dir);
    for mode in ["verify-full", "verify-ca"] {
        let url = s.url(
            "127.0.0.1",
            &format!("sslmode={mode}&sslrootcert={}", other.display()),
        );
        assert_eq!(
            refused(&url, &PgOptions::default()),
            OpenError::CertificateUntrusted(UNKNOWN_ISSUER.into()),
            "{mode}"
        );
        assert_eq!(
            PgStore::connect(&url, PgOptions::default(), support::sealer()).unwrap_err(),
            OpenError::CertificateUntrusted(UNKNOWN_ISSUER.into()),
            "{mode}"
        );
    }
    // libpq's rule: `require` with a CA file verifies the chain.
    let options = PgOptions::default().with_tls(TlsMode::Require, Some(other));
    assert_eq!(
        refused(&s.url("127.0.0.1", ""), &options),
        OpenError::CertificateUntrusted(UNKNOWN_ISSUER.into())
    );
}

/// The certificate names `localhost` and 127.0.0.1: connecting to
/// 127.0.0.1 under another name (`hostaddr` gives the address, `host`
/// the name the certificate must hold) is what a man in the middle with a
/// certificate of the same CA for another host looks like.
#[test]
#[ignore = "needs PostgreSQL: scripts/pg-test-server.sh, then cargo test -p otp-store -- --ignored"]
fn a_host_name_the_certificate_does_not_hold_is_refused_by_verify_full_only() {
    let s = server();
    let url = |mode: &str| {
        s.url(
            "otp-wrong-name.invalid",
            &format!("hostaddr=127.0.0.1&sslmode={mode}&sslrootcert={}", s.ca),
        )
    };
    let mismatch = OpenError::HostNameMismatch(
        "invalid peer certificate: certificate not valid for name \"otp-wrong-name.invalid\"; \
         certificate is only valid for DnsName(\"localhost\") or IpAddress(127.0.0.1)"
            .into(),
    );
    assert_eq!(
        refused(&url("verify-full"), &PgOptions::default()),
        mismatch
    );
    // No sslmode: a host that is not loopback gets verify-full.
    let default = s.url(
        "otp-wrong-name.invalid",
        &format!("hostaddr=127.0.0.1&sslrootcert={}", s.ca),
    );
    assert_eq!(refused(&default, &PgOptions::default()), mismatch);
    // verify-ca checks the chain only.
    let mut c = PgStore::connect_client(&url("verify-ca"), &PgOptions::default()).unwrap();
    assert!(encrypted(&mut c));
}

/// The reproduced defect: `sslmode=require` in the URL failed (the store
/// had no TLS at all).
#[test]
#[ignore = "needs PostgreSQL: scripts/pg-test-server.sh, then cargo test -p otp-store -- --ignored"]
fn sslmode_require_in_the_url_connects_encrypted() {
    let s = server();
    let url = s.url("127.0.0.1", "sslmode=require");
    let mut c = PgStore::connect_client(&url, &PgOptions::default()).unwrap();
    assert!(encrypted(&mut c));
    let schema = pg::schema();
    let _drop = pg::drop_later(&schema);
    let store = PgStore::connect(
        &url,
        PgOptions::default().with_schema(&schema),
        support::sealer(),
    )
    .unwrap();
    assert_eq!(store.tls_mode(), TlsMode::Require);
    assert_eq!(store.schema_version(), Ok(otp_store::PG_SCHEMA_VERSION));
}

#[test]
#[ignore = "needs PostgreSQL: scripts/pg-test-server.sh, then cargo test -p otp-store -- --ignored"]
fn prefer_the_loopback_default_is_encrypted_when_the_server_offers_tls() {
    let s = server();
    let schema = pg::schema();
    let _drop = pg::drop_later(&schema);
    let store = PgStore::connect(
        &s.url("127.0.0.1", ""),
        PgOptions::default().with_schema(&schema),
        support::sealer(),
    )
    .unwrap();
    assert_eq!(store.tls_mode(), TlsMode::Prefer);
    let mut c = PgStore::connect_client(&s.url("127.0.0.1", ""), &PgOptions::default()).unwrap();
    assert!(encrypted(&mut c));
}

#[test]
#[ignore = "needs PostgreSQL: scripts/pg-test-server.sh, then cargo test -p otp-store -- --ignored"]
fn sslmode_disable_is_refused_by_the_tls_only_test_server() {
    let s = server();
    let expected = OpenError::Unavailable(format!(
        "no pg_hba.conf entry for host \"127.0.0.1\", user \"{}\", database \"{}\", no encryption (SQLSTATE 28000)",
        s.user, s.db
    ));
    assert_eq!(
        refused(
            &s.url("127.0.0.1", "sslmode=disable"),
            &PgOptions::default()
        ),
        expected
    );
    let options = PgOptions::default().with_tls(TlsMode::Disable, None);
    assert_eq!(
        PgStore::connect(&s.url("127.0.0.1", ""), options, support::sealer()).unwrap_err(),
        expected
    );
}

/// A server that answers PostgreSQL's SSLRequest with `N` (no TLS), once.
fn server_without_tls() -> (u16, std::thread::JoinHandle<[u8; 8]>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        let mut request = [0u8; 8];
        socket.read_exact(&mut request).unwrap();
        socket.write_all(b"N").unwrap();
        // Whatever comes next (nothing, for a client that requires TLS).
        let mut rest = Vec::new();
        let _ = socket.read_to_end(&mut rest);
        assert_eq!(rest, b"", "the client sent something in clear");
        request
    });
    (port, handle)
}

#[test]
fn tls_required_but_refused_by_the_server_is_a_typed_error_and_sends_nothing_in_clear() {
    for mode in ["require", "verify-full"] {
        let (port, server) = server_without_tls();
        let url = format!("postgresql://bank:secret@127.0.0.1:{port}/otp?sslmode={mode}");
        assert_eq!(
            PgStore::connect(&url, PgOptions::default(), support::sealer()).unwrap_err(),
            OpenError::TlsRefused(
                "error performing TLS handshake: server does not support TLS".into()
            ),
            "{mode}"
        );
        // The SSLRequest: length 8, code 80877103.
        assert_eq!(
            server.join().unwrap(),
            [0, 0, 0, 8, 4, 210, 22, 47],
            "{mode}"
        );
    }
}

#[test]
fn an_unreadable_or_empty_ca_file_is_a_typed_error() {
    let dir = TempDir::new();
    let missing = dir.path().join("missing.pem");
    let url = |ca: &std::path::Path| {
        format!(
            "postgresql://bank@db.bank.invalid/otp?sslmode=verify-full&sslrootcert={}",
            ca.display()
        )
    };
    assert_eq!(
        PgStore::connect(&url(&missing), PgOptions::default(), support::sealer()).unwrap_err(),
        OpenError::CaFile {
            path: missing.display().to_string(),
            reason: "No such file or directory (os error 2)".into(),
        }
    );
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    assert_eq!(
        PgStore::connect(&url(&garbage), PgOptions::default(), support::sealer()).unwrap_err(),
        OpenError::CaFile {
            path: garbage.display().to_string(),
            reason: "no PEM certificate in it".into(),
        }
    );
    let options = PgOptions::default().with_tls(TlsMode::VerifyCa, Some(dir.path().to_path_buf()));
    assert_eq!(
        PgStore::connect(
            "postgresql://bank@db.bank.invalid/otp",
            options,
            support::sealer()
        )
        .unwrap_err(),
        OpenError::CaFile {
            path: dir.path().display().to_string(),
            reason: "Is a directory (os error 21)".into(),
        }
    );
}

#[test]
fn a_url_and_options_that_disagree_are_refused() {
    let options = PgOptions::default().with_tls(TlsMode::Require, None);
    assert_eq!(
        PgStore::connect(
            "postgresql://bank@db.bank.invalid/otp?sslmode=verify-full",
            options,
            support::sealer()
        )
        .unwrap_err(),
        OpenError::InvalidOption(
            "the URL says sslmode=verify-full but the options say require".into()
        )
    );
}
