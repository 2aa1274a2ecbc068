//! `otp_server::serve`: TLS with a throwaway CA (rcgen), the HSTS header
//! only under TLS, a client speaking plain HTTP to the TLS port does not
//! stop the server, and a shutdown lets the request in flight finish.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use otp_exchange::scenario::{Scenario, script};
use otp_exchange::{HashCost, MemoryStore};
use otp_server::{AppState, TlsConfig, TlsError, router, serve};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// A throwaway CA and a `localhost` server certificate it signed.
struct Pki {
    ca: CertificateDer<'static>,
    chain_pem: String,
    key_pem: String,
}

fn pki() -> Pki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "otp-server test CA");
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
    Pki {
        ca: ca.der().clone(),
        chain_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

fn connector(ca: &CertificateDer<'static>) -> tokio_rustls::TlsConnector {
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
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// One `GET` over TLS (the test CA the only root), the whole response.
async fn get_tls(addr: SocketAddr, ca: &CertificateDer<'static>, path: &str) -> String {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut tls = connector(ca)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    tls.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    tls.read_to_end(&mut out).await.unwrap();
    String::from_utf8(out).unwrap()
}

async fn get_plain(addr: SocketAddr, path: &str) -> Vec<u8> {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    // The TLS server may reset the connection: what was read is enough.
    let _ = tcp.read_to_end(&mut out).await;
    out
}

fn app() -> Router {
    let scenario = Scenario::setup(MemoryStore::new(), script::START, HashCost::TESTING).unwrap();
    router(AppState::new(Arc::new(scenario.bank)).with_secure_cookies(true))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_with_hsts_and_goes_on_after_plain_http() {
    let pki = pki();
    let tls = TlsConfig::from_pem(pki.chain_pem.as_bytes(), pki.key_pem.as_bytes()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, app(), Some(tls), async {
        let _ = stopped.await;
    }));

    let health = get_tls(addr, &pki.ca, "/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200 OK\r\n"), "{health}");
    assert!(
        health.contains("\r\nstrict-transport-security: max-age=31536000\r\n"),
        "{health}"
    );
    assert!(health.ends_with("\r\n\r\nok\n"), "{health}");
    let login = get_tls(addr, &pki.ca, "/login").await;
    let cookie = login
        .lines()
        .find(|l| l.starts_with("set-cookie: otp_session="))
        .unwrap_or_else(|| panic!("{login}"));
    assert!(cookie.contains("; Secure"), "{cookie}");

    // Plain HTTP to the TLS port: no HTTP answer, and the server goes on.
    let plain = get_plain(addr, "/healthz").await;
    assert!(!plain.starts_with(b"HTTP/"), "{plain:?}");
    let again = get_tls(addr, &pki.ca, "/healthz").await;
    assert!(again.starts_with("HTTP/1.1 200 OK\r\n"), "{again}");

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_carries_no_hsts() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, app(), None, async {
        let _ = stopped.await;
    }));
    let health = String::from_utf8(get_plain(addr, "/healthz").await).unwrap();
    assert!(health.starts_with("HTTP/1.1 200 OK\r\n"), "{health}");
    assert!(!health.contains("strict-transport-security"), "{health}");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_shutdown_lets_the_request_in_flight_finish() {
    let pki = pki();
    let tls = TlsConfig::from_pem(pki.chain_pem.as_bytes(), pki.key_pem.as_bytes()).unwrap();
    let slow = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            "done\n"
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, slow, Some(tls), async {
        let _ = stopped.await;
    }));
    let ca = pki.ca.clone();
    let request = tokio::spawn(async move { get_tls(addr, &ca, "/slow").await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Stopped accepting, but still waiting for the request in flight.
    assert!(!server.is_finished());
    let answer = request.await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.ends_with("\r\n\r\ndone\n"), "{answer}");
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    // No longer accepting.
    assert!(TcpStream::connect(addr).await.is_err());
}

#[test]
fn tls_config_refuses_what_it_cannot_serve() {
    let pki = pki();
    let other = KeyPair::generate().unwrap().serialize_pem();
    assert!(matches!(
        TlsConfig::from_pem(pki.chain_pem.as_bytes(), other.as_bytes()),
        Err(TlsError::Rejected(_))
    ));
    let none = TlsConfig::from_pem(b"", pki.key_pem.as_bytes()).unwrap_err();
    assert!(matches!(none, TlsError::NoCertificate));
    assert_eq!(
        none.to_string(),
        "the certificate file holds no PEM certificate"
    );
    // The key where the certificate belongs, and the certificate where
    // the key belongs: neither is taken for the other.
    assert!(matches!(
        TlsConfig::from_pem(pki.key_pem.as_bytes(), pki.key_pem.as_bytes()),
        Err(TlsError::NoCertificate)
    ));
    let nokey =
        TlsConfig::from_pem(pki.chain_pem.as_bytes(), pki.chain_pem.as_bytes()).unwrap_err();
    assert!(matches!(nokey, TlsError::NoPrivateKey));
    assert_eq!(
        nokey.to_string(),
        "the key file holds no PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)"
    );
    // Debug shows nothing of the key.
    let config = TlsConfig::from_pem(pki.chain_pem.as_bytes(), pki.key_pem.as_bytes()).unwrap();
    assert_eq!(
        format!("{config:?}"),
        "TlsConfig { alpn: \"http/1.1\", .. }"
    );
}
