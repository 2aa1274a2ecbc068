//! Serving the router on a listener: plain HTTP, or TLS on the server's
//! own port (rustls with the `ring` provider, TLS 1.2 and 1.3 only, ALPN
//! `http/1.1`), with a graceful shutdown in both cases.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;

/// The `Strict-Transport-Security` of every response served over TLS
/// (one year; never sent over plain HTTP, where it would mean nothing).
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";

/// How long a client may take over its TLS handshake before the
/// connection is closed (a client that never finishes holds nothing).
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The server's certificate chain and private key, ready to serve: TLS
/// 1.2 and 1.3 only, ALPN `http/1.1`, no client certificates.
#[derive(Clone)]
pub struct TlsConfig {
    config: Arc<rustls::ServerConfig>,
}

impl core::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never the key: only what the server offers.
        f.debug_struct("TlsConfig")
            .field("alpn", &"http/1.1")
            .finish_non_exhaustive()
    }
}

/// Why a certificate chain and key cannot be served. No variant holds or
/// shows any of the key's bytes.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate file holds no PEM `CERTIFICATE` block.
    NoCertificate,
    /// A `CERTIFICATE` block of the certificate file is not valid PEM.
    BadCertificate,
    /// The key file holds no PEM private key (`PRIVATE KEY`, `RSA PRIVATE
    /// KEY` or `EC PRIVATE KEY`), or it is not valid PEM.
    NoPrivateKey,
    /// rustls refused the chain or the key: the key is not the
    /// certificate's, or of a kind it does not support.
    Rejected(rustls::Error),
}

impl core::fmt::Display for TlsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoCertificate => f.write_str("the certificate file holds no PEM certificate"),
            Self::BadCertificate => {
                f.write_str("the certificate file holds a certificate that is not valid PEM")
            }
            Self::NoPrivateKey => f.write_str(
                "the key file holds no PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)",
            ),
            Self::Rejected(e) => write!(f, "the certificate and key cannot be served: {e}"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Rejected(e) => Some(e),
            _ => None,
        }
    }
}

impl TlsConfig {
    /// The configuration for the PEM certificate chain `cert_chain_pem`
    /// (the server's certificate first, then its intermediates) and the
    /// PEM private key `key_pem` (PKCS#8, PKCS#1 or SEC1; the first key
    /// in it). The caller reads the key file (private to the server's
    /// user) and should zeroize its bytes afterwards.
    ///
    /// # Errors
    /// [`TlsError`]: no certificate, no key, or a key that is not the
    /// certificate's.
    pub fn from_pem(cert_chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, TlsError> {
        let chain = CertificateDer::pem_slice_iter(cert_chain_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| TlsError::BadCertificate)?;
        if chain.is_empty() {
            return Err(TlsError::NoCertificate);
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| TlsError::NoPrivateKey)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(TlsError::Rejected)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(TlsError::Rejected)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            config: Arc::new(config),
        })
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then stops
/// accepting and lets the connections in flight finish their requests.
///
/// With `tls`, every connection is TLS (a client speaking plain HTTP, or
/// failing its handshake, or taking longer than [`TLS_HANDSHAKE_TIMEOUT`]
/// over it, is closed and logged at debug level; the server goes on) and
/// every response carries `Strict-Transport-Security:`
/// [`STRICT_TRANSPORT_SECURITY`]. Build the router's state with
/// [`AppState::with_secure_cookies`](crate::AppState::with_secure_cookies)`(true)`
/// then, so that the session cookie is `Secure`. Without `tls`, it is
/// plain HTTP: only on loopback, or behind a TLS proxy.
///
/// # Errors
/// Only the plain server's fatal I/O errors; a connection's error never
/// stops the server.
///
/// # Example
///
/// ```no_run
/// use std::sync::Arc;
/// use otp_exchange::scenario::{Scenario, script};
/// use otp_exchange::{HashCost, MemoryStore};
/// use zeroize::Zeroizing;
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let bank = Scenario::setup(MemoryStore::new(), script::START, HashCost::TESTING)?.bank;
/// // The bank's own `Bank` here; the key file read as a private file.
/// let state = otp_server::AppState::new(Arc::new(bank)).with_secure_cookies(true);
/// let key = Zeroizing::new(std::fs::read("/etc/otp/tls/key.pem")?);
/// let tls = otp_server::TlsConfig::from_pem(&std::fs::read("/etc/otp/tls/cert.pem")?, &key)?;
/// let listener = tokio::net::TcpListener::bind("0.0.0.0:8443").await?;
/// let stop = async {
///     let _ = tokio::signal::ctrl_c().await;
/// };
/// otp_server::serve(listener, otp_server::router(state), Some(tls), stop).await?;
/// # Ok(())
/// # }
/// ```
pub async fn serve<F>(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsConfig>,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    match tls {
        None => {
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
        }
        Some(tls) => {
            let router = router.layer(SetResponseHeaderLayer::overriding(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static(STRICT_TRANSPORT_SECURITY),
            ));
            serve_tls(listener, router, &tls, shutdown).await;
            Ok(())
        }
    }
}

async fn serve_tls<F>(listener: TcpListener, router: Router, tls: &TlsConfig, shutdown: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(&tls.config));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little
                    // rather than spin, as axum's own loop does.
                    tracing::debug!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        // Taken before the handshake: the shutdown waits for it too.
        let watcher = graceful.watcher();
        let service = TowerToHyperService::new(router.clone());
        let http = http.clone();
        tokio::spawn(async move {
            let stream =
                match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                };
            let connection = http.serve_connection(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::debug!("no longer accepting; waiting for the connections in flight");
    graceful.shutdown().await;
}
