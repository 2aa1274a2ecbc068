//! TLS to PostgreSQL: the `sslmode` and `sslrootcert` parameters (libpq's
//! names and meanings), the rustls connector for each mode, and the
//! typed errors of a refused handshake.
//!
//! The parameters are taken out of a connection string in `url`; the
//! certificate verifiers of the modes that do not check everything are
//! in `verify`.

use core::fmt;
use core::str::FromStr;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use postgres::Config;
use postgres::config::{Host, SslMode};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{CertificateError, ClientConfig, RootCertStore};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::OpenError;

mod url;
mod verify;

use url::split_url;
use verify::{ChainOnly, NoVerify};

/// How a [`PgStore`](crate::PgStore) protects its connections: libpq's
/// `sslmode` values (all but `allow`), with the same meanings.
///
/// | mode | encrypted | server certificate checked |
/// |---|---|---|
/// | `Disable` | never | — |
/// | `Prefer` | if the server offers TLS, else in clear | no |
/// | `Require` | always (refused otherwise) | no (libpq: a CA file makes it `VerifyCa`) |
/// | `VerifyCa` | always | chains to the CA, any host name |
/// | `VerifyFull` | always | chains to the CA and names the host |
///
/// The default, when neither the URL nor [`PgOptions`](crate::PgOptions)
/// sets one, is `VerifyFull` for any host that is not loopback
/// (`localhost`, `127.0.0.0/8`, `::1`) or a Unix socket, or whenever a CA
/// file is given; `Prefer` (libpq's default) when every host is loopback.
/// Unix-socket connections are never encrypted (PostgreSQL offers no TLS
/// on them), whatever the mode.
///
/// # Examples
///
/// ```
/// use otp_store::TlsMode;
/// let mode: TlsMode = "verify-full".parse()?;
/// assert_eq!((mode, mode.as_str()), (TlsMode::VerifyFull, "verify-full"));
/// # Ok::<(), otp_store::OpenError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsMode {
    /// No TLS: everything, passwords and token secrets included, crosses
    /// the network in clear. For Unix sockets and tests only.
    Disable,
    /// TLS if the server offers it, without checking its certificate;
    /// in clear otherwise. Protects against a passive listener only.
    Prefer,
    /// TLS or no connection, without checking the server's certificate:
    /// protects against a passive listener, not against a man in the
    /// middle.
    Require,
    /// TLS, and the server's certificate must chain to a trusted CA (the
    /// CA file, else the system's roots); any host name is accepted.
    VerifyCa,
    /// TLS, the certificate must chain to a trusted CA and name the host
    /// connected to (a DNS name or an IP address in its subject
    /// alternative names). The only mode that stops a man in the middle
    /// holding another certificate of the same CA.
    VerifyFull,
}

impl TlsMode {
    /// libpq's name of the mode (`disable`, `prefer`, `require`,
    /// `verify-ca`, `verify-full`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }

    const fn verifies(self) -> bool {
        matches!(self, Self::VerifyCa | Self::VerifyFull)
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TlsMode {
    type Err = OpenError;

    /// Parses libpq's names. `allow` (plaintext first) is refused.
    fn from_str(s: &str) -> Result<Self, OpenError> {
        match s {
            "disable" => Ok(Self::Disable),
            "prefer" => Ok(Self::Prefer),
            "require" => Ok(Self::Require),
            "verify-ca" => Ok(Self::VerifyCa),
            "verify-full" => Ok(Self::VerifyFull),
            other => Err(OpenError::InvalidOption(format!(
                "sslmode {other:?}: use disable, prefer, require, verify-ca or verify-full"
            ))),
        }
    }
}

fn is_loopback(host: &Host) -> bool {
    match host {
        Host::Tcp(name) => {
            let bare = name.trim_start_matches('[').trim_end_matches(']');
            bare.eq_ignore_ascii_case("localhost")
                || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        #[cfg(unix)]
        Host::Unix(_) => true,
    }
}

/// The mode when none is given: `VerifyFull` if any host is not loopback
/// or a CA file was given, `Prefer` when every host is loopback.
pub(super) fn default_mode(hosts: &[Host], ca_given: bool) -> TlsMode {
    if ca_given || !hosts.iter().all(is_loopback) {
        TlsMode::VerifyFull
    } else {
        TlsMode::Prefer
    }
}

/// What [`configure`] settled on.
pub(super) struct Tls {
    pub(super) mode: TlsMode,
    pub(super) connector: MakeRustlsConnect,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// Parses `url`, merges its TLS parameters with the options' (a
/// disagreement is refused), picks the default, and builds the
/// connector.
pub(super) fn configure(
    url: &str,
    mode: Option<TlsMode>,
    ca_file: Option<&Path>,
) -> Result<(Config, Tls), OpenError> {
    let parts = split_url(url)?;
    let mut config: Config = parts
        .rest
        .parse()
        .map_err(|e| OpenError::InvalidOption(format!("the PostgreSQL URL: {e}")))?;
    let mode = match (parts.mode, mode) {
        (Some(a), Some(b)) if a != b => {
            return Err(OpenError::InvalidOption(format!(
                "the URL says sslmode={a} but the options say {b}"
            )));
        }
        (a, b) => a.or(b),
    };
    let ca = match (parts.root, ca_file) {
        (Some(Some(a)), Some(b)) if a != b => {
            return Err(OpenError::InvalidOption(format!(
                "the URL says sslrootcert={} but the options give the CA file {}",
                a.display(),
                b.display()
            )));
        }
        (Some(Some(a)), _) => Some(a),
        (_, b) => b.map(Path::to_path_buf),
    };
    let mode = match mode.unwrap_or_else(|| default_mode(config.get_hosts(), ca.is_some())) {
        // libpq: "if a root CA file exists, require behaves as verify-ca".
        TlsMode::Require if ca.is_some() => TlsMode::VerifyCa,
        m => m,
    };
    #[cfg(unix)]
    let all_unix = !config.get_hosts().is_empty()
        && config
            .get_hosts()
            .iter()
            .all(|h| matches!(h, Host::Unix(_)));
    #[cfg(not(unix))]
    let all_unix = false;
    config.ssl_mode(match mode {
        _ if all_unix => SslMode::Disable,
        TlsMode::Disable => SslMode::Disable,
        TlsMode::Prefer => SslMode::Prefer,
        TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => SslMode::Require,
    });
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = if mode.verifies() {
        let roots = Arc::new(roots(ca.as_deref())?);
        let webpki = WebPkiServerVerifier::builder_with_provider(roots, Arc::clone(&provider))
            .build()
            .map_err(|e| OpenError::Unavailable(format!("the TLS verifier: {e}")))?;
        if mode == TlsMode::VerifyFull {
            webpki
        } else {
            Arc::new(ChainOnly(webpki))
        }
    } else {
        Arc::new(NoVerify(Arc::clone(&provider)))
    };
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| OpenError::Unavailable(format!("the TLS configuration: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok((
        config,
        Tls {
            mode,
            connector: MakeRustlsConnect::new(client),
        },
    ))
}

/// The trusted roots: the certificates of the CA file (PEM, one or
/// more), or the system's when none is given.
fn roots(ca: Option<&Path>) -> Result<RootCertStore, OpenError> {
    let mut roots = RootCertStore::empty();
    let Some(path) = ca else {
        let found = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            return Err(OpenError::CaFile {
                path: "the system's certificate store".into(),
                reason: "no trusted root certificate found: give a CA file (sslrootcert)".into(),
            });
        }
        return Ok(roots);
    };
    let fail = |reason: String| OpenError::CaFile {
        path: path.display().to_string(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| fail(format!("not a PEM certificate file: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| fail(format!("a certificate is not usable as a root: {e}")))?;
    }
    if roots.is_empty() {
        return Err(fail("no PEM certificate in it".into()));
    }
    Ok(roots)
}

/// The typed [`OpenError`] of a failed connection: a refused TLS
/// request, an untrusted certificate, a host name mismatch, or
/// [`OpenError::Unavailable`] with the server's message (`db_text`) or,
/// for a client-side error, the error and its causes.
pub(super) fn connect_error(e: &postgres::Error, db_text: String) -> OpenError {
    let text = if e.as_db_error().is_some() {
        db_text
    } else {
        let mut text = e.to_string();
        let mut cause = core::error::Error::source(e);
        while let Some(c) = cause {
            text = format!("{text}: {c}");
            cause = c.source();
        }
        text
    };
    let mut source: Option<&(dyn core::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        let tls = err.downcast_ref::<rustls::Error>().or_else(|| {
            err.downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::get_ref)
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(tls) = tls {
            return match tls {
                rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. },
                ) => OpenError::HostNameMismatch(tls.to_string()),
                rustls::Error::InvalidCertificate(_) => {
                    OpenError::CertificateUntrusted(tls.to_string())
                }
                other => OpenError::Unavailable(format!("the TLS handshake failed: {other}")),
            };
        }
        if err.to_string() == "server does not support TLS" {
            return OpenError::TlsRefused(text);
        }
        source = err.source();
    }
    OpenError::Unavailable(text)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::url::UrlTls;
    use super::*;

    fn hosts(url: &str) -> Vec<Host> {
        url.parse::<Config>().unwrap().get_hosts().to_vec()
    }

    #[test]
    fn the_default_is_verify_full_off_loopback_and_prefer_on_it() {
        for url in [
            "postgresql://u@db.bank.example/otp",
            "postgresql://u@10.0.0.5/otp",
            "postgresql://u@127.0.0.1,db.bank.example/otp",
            "host=db.bank.example user=u",
            "postgresql://u@[2001:db8::1]/otp",
        ] {
            assert_eq!(
                default_mode(&hosts(url), false),
                TlsMode::VerifyFull,
                "{url}"
            );
        }
        for url in [
            "postgresql://u@127.0.0.1/otp",
            "postgresql://u@127.8.0.1/otp",
            "postgresql://u@localhost/otp",
            "postgresql://u@LOCALHOST/otp",
            "postgresql://u@[::1]/otp",
            "postgresql://u@%2Frun%2Fpostgresql/otp",
            "host=/run/postgresql user=u",
        ] {
            assert_eq!(default_mode(&hosts(url), false), TlsMode::Prefer, "{url}");
        }
        assert_eq!(
            default_mode(&hosts("postgresql://u@127.0.0.1/otp"), true),
            TlsMode::VerifyFull
        );
    }

    #[test]
    fn configure_picks_the_default_and_honours_require_with_a_ca_as_libpq() {
        let mode = |url: &str, m: Option<TlsMode>| configure(url, m, None).map(|(_, t)| t.mode);
        assert_eq!(
            mode("postgresql://u@127.0.0.1/otp", None),
            Ok(TlsMode::Prefer)
        );
        assert_eq!(
            mode("postgresql://u@127.0.0.1/otp?sslmode=require", None),
            Ok(TlsMode::Require)
        );
        assert_eq!(
            mode("postgresql://u@127.0.0.1/otp", Some(TlsMode::Disable)),
            Ok(TlsMode::Disable)
        );
        assert_eq!(
            mode(
                "postgresql://u@127.0.0.1/otp?sslmode=disable",
                Some(TlsMode::Require)
            ),
            Err(OpenError::InvalidOption(
                "the URL says sslmode=disable but the options say require".into()
            ))
        );
        assert_eq!(
            mode("postgresql://u@127.0.0.1/otp?sslmode=allow", None),
            Err(OpenError::InvalidOption(
                "sslmode \"allow\": use disable, prefer, require, verify-ca or verify-full".into()
            ))
        );
    }

    #[test]
    fn split_url_takes_the_tls_parameters_out_of_both_forms() {
        assert_eq!(
            split_url("postgresql://u@h:5/d?connect_timeout=3&sslmode=verify-ca&sslrootcert=%2Ftmp%2Fca%20x.pem&application_name=a").unwrap(),
            UrlTls {
                rest: "postgresql://u@h:5/d?connect_timeout=3&application_name=a".into(),
                mode: Some(TlsMode::VerifyCa),
                root: Some(Some(PathBuf::from("/tmp/ca x.pem"))),
            }
        );
        assert_eq!(
            split_url("postgresql://u@h/d?sslmode=verify-full&sslrootcert=system").unwrap(),
            UrlTls {
                rest: "postgresql://u@h/d".into(),
                mode: Some(TlsMode::VerifyFull),
                root: Some(None),
            }
        );
        assert_eq!(
            split_url(
                "host=h  sslmode = require user='o\\'k x' sslrootcert='/a b/ca.pem' dbname=d"
            )
            .unwrap(),
            UrlTls {
                rest: "host=h user='o\\'k x' dbname=d".into(),
                mode: Some(TlsMode::Require),
                root: Some(Some(PathBuf::from("/a b/ca.pem"))),
            }
        );
        assert_eq!(
            split_url("postgresql://u@h/d?sslmode=require&sslmode=disable"),
            Err(OpenError::InvalidOption("sslmode is given twice".into()))
        );
        assert_eq!(
            split_url("host=h password hunter2"),
            Err(OpenError::InvalidOption(
                "the PostgreSQL connection string: a parameter without =".into()
            ))
        );
        assert_eq!(
            split_url("host=h password='x"),
            Err(OpenError::InvalidOption(
                "the PostgreSQL connection string: an unterminated quoted value".into()
            ))
        );
    }
}
