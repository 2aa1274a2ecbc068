//! The store's small pool of connections: one borrowed per call, given
//! back on drop, at most [`SqliteOptions::max_idle_connections`] kept.
//!
//! [`SqliteOptions::max_idle_connections`]: super::SqliteOptions::max_idle_connections

use std::sync::MutexGuard;

use otp_exchange::StoreError;
use rusqlite::Connection;

use super::SqliteStore;

impl SqliteStore {
    pub(super) fn conn(&self) -> Result<Pooled<'_>, StoreError> {
        let reused = self.lock_idle()?.pop();
        let conn = match reused {
            Some(c) => c,
            None => self.connect(false).map_err(StoreError::from)?,
        };
        Ok(Pooled {
            store: self,
            conn: Some(conn),
        })
    }

    fn lock_idle(&self) -> Result<MutexGuard<'_, Vec<Connection>>, StoreError> {
        self.idle.lock().map_err(|_| {
            StoreError::Unavailable("the SQLite connection pool's lock is poisoned".into())
        })
    }

    pub(super) fn give_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < self.options.max_idle_connections
        {
            idle.push(conn);
        }
    }
}

/// A connection borrowed from the pool, given back on drop.
pub(super) struct Pooled<'a> {
    store: &'a SqliteStore,
    conn: Option<Connection>,
}

impl core::ops::Deref for Pooled<'_> {
    type Target = Connection;
    #[allow(
        clippy::unwrap_used,
        clippy::expect_used,
        reason = "the connection is taken only in Drop"
    )]
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("connection present until drop")
    }
}

impl core::ops::DerefMut for Pooled<'_> {
    #[allow(
        clippy::unwrap_used,
        clippy::expect_used,
        reason = "the connection is taken only in Drop"
    )]
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("connection present until drop")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            self.store.give_back(c);
        }
    }
}
