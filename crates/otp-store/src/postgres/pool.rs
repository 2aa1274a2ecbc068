//! The pool's connections: a [`postgres::Client`] with the statements
//! prepared on it, each parsed and planned once per connection (a cached
//! statement costs one round trip, Bind/Execute, where a query text costs
//! two, Parse/Describe then Bind/Execute).

use std::collections::HashMap;

use postgres::{Client, Statement};
use r2d2_postgres::PostgresConnectionManager;
use r2d2_postgres::r2d2::ManageConnection;
use tokio_postgres_rustls::MakeRustlsConnect;

/// A pooled connection and its prepared statements, keyed by their text.
pub(super) struct PgConn {
    client: Client,
    prepared: HashMap<&'static str, Statement>,
}

impl PgConn {
    /// The statement `sql` prepared on this connection: prepared the first
    /// time, then taken from the cache.
    pub(super) fn prepared(&mut self, sql: &'static str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.prepared.insert(sql, s.clone());
        Ok(s)
    }

    /// The connection itself.
    pub(super) const fn client(&mut self) -> &mut Client {
        &mut self.client
    }
}

impl core::ops::Deref for PgConn {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl core::ops::DerefMut for PgConn {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// r2d2's manager for [`PgConn`]: r2d2_postgres's, with an empty cache
/// per new connection (a broken connection is dropped with its cache).
pub(super) struct Manager(pub(super) PostgresConnectionManager<MakeRustlsConnect>);

impl core::fmt::Debug for Manager {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Manager").finish_non_exhaustive()
    }
}

impl ManageConnection for Manager {
    type Connection = PgConn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<PgConn, postgres::Error> {
        Ok(PgConn {
            client: self.0.connect()?,
            prepared: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<(), postgres::Error> {
        self.0.is_valid(&mut conn.client)
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        self.0.has_broken(&mut conn.client)
    }
}
