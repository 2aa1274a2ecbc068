//! The store's data keys in the file: made or unwrapped when the store
//! opens, read again when another process rotated them, plaintext secrets
//! sealed on upgrade, and [`SqliteStore::rekey`].

use otp_exchange::StoreError;
use rusqlite::{Connection, OptionalExtension as _, Transaction, params};
use zeroize::Zeroizing;

use super::write::write_tx;
use super::{SqliteStore, open_err, to_store};
use crate::OpenError;
use crate::seal::{DataKeyRow, DataKeys, NewDataKey, Rekeyed};

impl SqliteStore {
    /// The store's identity and data keys, unwrapped; in a store without
    /// either, new ones (inside `tx`, which holds the write lock).
    pub(super) fn data_keys(&self, tx: &Transaction<'_>) -> Result<DataKeys, OpenError> {
        let store_id: Option<Vec<u8>> = tx
            .query_row("SELECT id FROM store_identity", [], |r| r.get(0))
            .optional()
            .map_err(|e| open_err(&e))?;
        let store_id = match store_id {
            Some(id) => id,
            None => {
                let mut id = vec![0u8; 16];
                getrandom::fill(&mut id).map_err(|e| OpenError::Unavailable(e.to_string()))?;
                tx.execute("INSERT INTO store_identity (id) VALUES (?1)", [&id])
                    .map_err(|e| open_err(&e))?;
                id
            }
        };
        let mut rows = read_data_keys(tx).map_err(|e| open_err(&e))?;
        if rows.is_empty() {
            let new = NewDataKey::generate(&*self.sealer, &store_id, 1)
                .map_err(|e| OpenError::Unavailable(e.to_string()))?;
            insert_data_key(tx, 1, &new).map_err(|e| open_err(&e))?;
            rows.push((1, new.kek_id.clone(), new.wrapped.clone()));
        }
        DataKeys::unwrap_all(&*self.sealer, store_id, &rows).map_err(OpenError::SealingKey)
    }

    /// Reads the data keys again (another process rotated them).
    pub(super) fn reload_keys(&self, conn: &Connection) -> Result<(), StoreError> {
        let rows = read_data_keys(conn).map_err(to_store)?;
        self.keys.reload(&*self.sealer, &rows)
    }

    /// Re-seals every token secret under a new data key, wrapped under the
    /// sealer's current key-encryption key, then removes the data keys no
    /// row uses any more. Runs in batches of `batch` rows, each its own
    /// short transaction, so verifications go on meanwhile (every row
    /// opens under its old or its new key throughout); safe to run again
    /// after an interruption.
    ///
    /// After a key-encryption key rotation ([`KeyFileSealer::rotate`]),
    /// this moves every data key off the old KEK; then the old KEK can be
    /// retired ([`SqliteStore::kek_ids`] shows which are still in use).
    ///
    /// [`KeyFileSealer::rotate`]: crate::KeyFileSealer::rotate
    ///
    /// # Errors
    ///
    /// [`StoreError`] from the database or the sealer; what was committed
    /// before stays (a later run goes on from there).
    pub fn rekey(&self, batch: usize) -> Result<Rekeyed, StoreError> {
        let batch = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
        let mut conn = self.conn()?;
        let new_id = {
            let tx = write_tx(&mut conn).map_err(to_store)?;
            let id: i64 = tx
                .query_row("SELECT coalesce(max(id), 0) + 1 FROM data_keys", [], |r| {
                    r.get(0)
                })
                .map_err(to_store)?;
            let new = NewDataKey::generate(&*self.sealer, self.keys.store_id(), id)?;
            insert_data_key(&tx, id, &new).map_err(to_store)?;
            tx.commit().map_err(to_store)?;
            self.keys.insert(id, &new)?;
            id
        };
        let mut resealed = 0u64;
        loop {
            let tx = write_tx(&mut conn).map_err(to_store)?;
            let rows: Vec<(String, Vec<u8>, Option<i64>)> = {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT serial, secret, data_key FROM tokens WHERE data_key IS NOT ?1 LIMIT ?2",
                    )
                    .map_err(to_store)?;
                stmt.query_map(params![new_id, batch], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .map_err(to_store)?
                .collect::<Result<_, _>>()
                .map_err(to_store)?
            };
            if rows.is_empty() {
                break;
            }
            for (serial, sealed, old) in rows {
                let secret = self
                    .keys
                    .open_reloading(old, &serial, &sealed, || self.reload_keys(&tx))?;
                let again = self.keys.seal(new_id, &serial, &secret)?;
                tx.execute(
                    "UPDATE tokens SET secret = ?1, data_key = ?2 WHERE serial = ?3 AND data_key = ?4",
                    params![again, new_id, serial, old],
                )
                .map_err(to_store)?;
                resealed += 1;
            }
            tx.commit().map_err(to_store)?;
        }
        let tx = write_tx(&mut conn).map_err(to_store)?;
        let retired = tx
            .execute(
                "DELETE FROM data_keys WHERE id <> ?1
                 AND NOT EXISTS (SELECT 1 FROM tokens WHERE tokens.data_key = data_keys.id)",
                [new_id],
            )
            .map_err(to_store)?;
        tx.commit().map_err(to_store)?;
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(to_store)?;
        self.reload_keys(&conn)?;
        Ok(Rekeyed {
            data_key: new_id,
            resealed,
            retired: u64::try_from(retired).unwrap_or(u64::MAX),
        })
    }

    /// The ids of the key-encryption keys that wrap this store's data
    /// keys: a KEK not listed may be retired.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the database cannot be read.
    pub fn kek_ids(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.conn()?;
        Ok(read_data_keys(&conn)
            .map_err(to_store)?
            .into_iter()
            .map(|(_, kek, _)| kek)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect())
    }
}

fn read_data_keys(conn: &Connection) -> rusqlite::Result<Vec<DataKeyRow>> {
    let mut stmt = conn.prepare_cached("SELECT id, kek_id, wrapped FROM data_keys ORDER BY id")?;
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect()
}

fn insert_data_key(tx: &Transaction<'_>, id: i64, key: &NewDataKey) -> rusqlite::Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    tx.execute(
        "INSERT INTO data_keys (id, kek_id, wrapped, created) VALUES (?1, ?2, ?3, ?4)",
        params![id, key.kek_id, key.wrapped, now],
    )?;
    Ok(())
}

/// Seals every plaintext secret (a file upgraded from version 3) under
/// the newest data key. Returns how many.
pub(super) fn seal_plaintext(tx: &Transaction<'_>, keys: &DataKeys) -> Result<u64, OpenError> {
    let key = keys.current().map_err(OpenError::from_store)?;
    let rows: Vec<(String, Zeroizing<Vec<u8>>)> = {
        let mut stmt = tx
            .prepare("SELECT serial, secret FROM tokens WHERE data_key IS NULL")
            .map_err(|e| open_err(&e))?;
        stmt.query_map([], |r| Ok((r.get(0)?, Zeroizing::new(r.get(1)?))))
            .map_err(|e| open_err(&e))?
            .collect::<Result<_, _>>()
            .map_err(|e| open_err(&e))?
    };
    let mut sealed = 0u64;
    for (serial, secret) in rows {
        let s = keys
            .seal(key, &serial, &secret)
            .map_err(OpenError::from_store)?;
        tx.execute(
            "UPDATE tokens SET secret = ?1, data_key = ?2 WHERE serial = ?3",
            params![s, key, serial],
        )
        .map_err(|e| open_err(&e))?;
        sealed += 1;
    }
    Ok(sealed)
}
