//! Connecting a PostgreSQL store: the client configuration (TLS, schema,
//! timeout), the first connection that reports a refused handshake, and
//! the pool every call borrows from.

use std::sync::Arc;

use otp_exchange::StoreError;
use postgres::{Client, Config};
use r2d2_postgres::PostgresConnectionManager;
use r2d2_postgres::r2d2::{Pool, PooledConnection};

use super::options::valid_schema;
use super::pool::Manager;
use super::{PgOptions, PgStore, TlsMode, pg_text, tls};
use crate::OpenError;
use crate::seal::{DataKeys, SecretSealer};

impl PgStore {
    /// Connects to the database at `url` (a `postgresql://` URL or a
    /// `key=value` string), creates the schema in an empty database and
    /// upgrades an older one. Servers starting at once take an advisory
    /// lock, so only one migrates.
    ///
    /// Connections are encrypted and the server authenticated as the
    /// [`TlsMode`] says: the URL's `sslmode` and `sslrootcert` (libpq's
    /// names, all five modes but `allow`) or [`PgOptions::tls`] and
    /// [`PgOptions::ca_file`]; by default `verify-full` for any host
    /// that is not loopback. One connection is made before the pool is
    /// built, so that a refused handshake is reported at once and typed.
    ///
    /// # Errors
    ///
    /// [`OpenError::InvalidOption`] for a bad URL, schema name or TLS
    /// parameter (or a URL and options that disagree),
    /// [`OpenError::CaFile`] for an unreadable CA file,
    /// [`OpenError::TlsRefused`] when TLS is required but the server does
    /// not offer it, [`OpenError::CertificateUntrusted`] and
    /// [`OpenError::HostNameMismatch`] when its certificate does not
    /// verify, [`OpenError::Unavailable`] when the server cannot be
    /// reached or refuses the login, [`OpenError::Foreign`] when the
    /// schema holds otp tables not made by otp-store,
    /// [`OpenError::NewerSchema`] for a newer schema,
    /// [`OpenError::SealingKey`] when `sealer` does not open the store's
    /// data keys.
    pub fn connect(
        url: &str,
        options: PgOptions,
        sealer: Arc<dyn SecretSealer>,
    ) -> Result<Self, OpenError> {
        let (config, tls) = Self::client_config(url, &options)?;
        drop(
            config
                .connect(tls.connector.clone())
                .map_err(|e| tls::connect_error(&e, pg_text(&e)))?,
        );
        let pool = Pool::builder()
            .max_size(options.pool_size.max(1))
            .min_idle(Some(0))
            .connection_timeout(options.connect_timeout)
            .build(Manager(PostgresConnectionManager::new(
                config,
                tls.connector,
            )))
            .map_err(|e| OpenError::Unavailable(e.to_string()))?;
        let mut store = Self {
            pool,
            options,
            tls: tls.mode,
            sealer,
            keys: DataKeys::empty(),
            group: super::batch::Batcher::new(super::batch::BATCH_CAP),
        };
        store.keys = store.migrate()?;
        Ok(store)
    }

    /// One connection to `url` with the same options as
    /// [`PgStore::connect`] (TLS, schema, timeout), outside any pool and
    /// without creating or checking tables: for administration and tests.
    ///
    /// # Errors
    ///
    /// As [`PgStore::connect`], but for the schema checks.
    pub fn connect_client(url: &str, options: &PgOptions) -> Result<Client, OpenError> {
        let (config, tls) = Self::client_config(url, options)?;
        config
            .connect(tls.connector)
            .map_err(|e| tls::connect_error(&e, pg_text(&e)))
    }

    fn client_config(url: &str, options: &PgOptions) -> Result<(Config, tls::Tls), OpenError> {
        let (mut config, tls) = tls::configure(url, options.tls, options.ca_file.as_deref())?;
        if let Some(schema) = &options.schema {
            if !valid_schema(schema) {
                return Err(OpenError::InvalidOption(format!(
                    "schema name {schema:?}: use lower-case ASCII letters, digits and _"
                )));
            }
            config.options(&format!("-c search_path={schema}"));
        }
        config.connect_timeout(options.connect_timeout);
        Ok((config, tls))
    }

    /// The TLS mode the store's connections use: the one given, or the
    /// default picked for the URL's hosts (`Require` with a CA file
    /// becomes `VerifyCa`, as in libpq).
    #[must_use]
    pub const fn tls_mode(&self) -> TlsMode {
        self.tls
    }

    /// The options the store was connected with.
    #[must_use]
    pub const fn options(&self) -> &PgOptions {
        &self.options
    }

    pub(super) fn conn(&self) -> Result<PooledConnection<Manager>, StoreError> {
        self.pool
            .get()
            .map_err(|e| StoreError::Unavailable(format!("no PostgreSQL connection: {e}")))
    }
}
