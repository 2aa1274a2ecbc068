//! How to connect a PostgreSQL store: [`PgOptions`], and which schema
//! names are accepted.

use core::time::Duration;
use std::path::PathBuf;

#[cfg(doc)]
use super::PgStore;
use super::TlsMode;

/// How to connect a [`PgStore`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PgOptions {
    /// The PostgreSQL schema (namespace) holding the tables, created if
    /// missing; `None` uses the connection's `search_path` (normally
    /// `public`). Lower-case ASCII letters, digits and `_`, not starting
    /// with a digit.
    pub schema: Option<String>,
    /// The most connections the pool opens: default 8.
    pub pool_size: u32,
    /// How long to wait for a connection (to connect, or for a free one
    /// in the pool): default 10 s.
    pub connect_timeout: Duration,
    /// The TLS mode; `None` takes the URL's `sslmode`, else the default
    /// (see [`TlsMode`]: `VerifyFull` off loopback). A URL that says
    /// otherwise is refused.
    pub tls: Option<TlsMode>,
    /// The CA file (PEM) the server's certificate must chain to in the
    /// verifying modes; `None` takes the URL's `sslrootcert`, else the
    /// system's roots. A URL that names another file is refused.
    pub ca_file: Option<PathBuf>,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            schema: None,
            pool_size: 8,
            connect_timeout: Duration::from_secs(10),
            tls: None,
            ca_file: None,
        }
    }
}

impl PgOptions {
    /// The same options with the tables in `schema`.
    ///
    /// # Examples
    ///
    /// ```
    /// let o = otp_store::PgOptions::default().with_schema("bank1").with_pool_size(4);
    /// assert_eq!((o.schema.as_deref(), o.pool_size), (Some("bank1"), 4));
    /// ```
    #[must_use]
    pub fn with_schema(mut self, schema: &str) -> Self {
        self.schema = Some(schema.to_owned());
        self
    }

    /// The same options with another pool size.
    #[must_use]
    pub const fn with_pool_size(mut self, size: u32) -> Self {
        self.pool_size = size;
        self
    }

    /// The same options with another connection timeout.
    #[must_use]
    pub const fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The same options with a TLS mode and, for the verifying modes, the
    /// CA file the server's certificate must chain to (`None`: the URL's
    /// `sslrootcert`, else the system's roots).
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_store::{PgOptions, TlsMode};
    /// let o = PgOptions::default().with_tls(TlsMode::VerifyFull, Some("/etc/otp/pg-ca.pem".into()));
    /// assert_eq!(o.tls, Some(TlsMode::VerifyFull));
    /// ```
    #[must_use]
    pub fn with_tls(mut self, mode: TlsMode, ca_file: Option<PathBuf>) -> Self {
        self.tls = Some(mode);
        self.ca_file = ca_file;
        self
    }
}

/// Whether `name` is a schema name [`PgOptions::schema`] accepts.
pub(super) fn valid_schema(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= 63
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}
