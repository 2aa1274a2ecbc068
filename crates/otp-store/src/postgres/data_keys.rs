//! The store's data keys in the database: made or unwrapped when the
//! store connects, read again when another server rotated them,
//! plaintext secrets sealed on upgrade, and [`PgStore::rekey`].

use otp_exchange::StoreError;
use postgres::GenericClient;
use zeroize::Zeroizing;

use super::rows::col;
use super::{PgStore, open_err, to_store};
use crate::OpenError;
use crate::seal::{DataKeyRow, DataKeys, NewDataKey, Rekeyed};

impl PgStore {
    /// The store's identity and data keys, unwrapped; new ones in a store
    /// without them (inside the migration's transaction and its lock).
    pub(super) fn data_keys(
        &self,
        tx: &mut postgres::Transaction<'_>,
    ) -> Result<DataKeys, OpenError> {
        let store_id: Option<Vec<u8>> = tx
            .query_opt("SELECT id FROM otp_store_identity", &[])
            .map_err(|e| open_err(&e))?
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(|e| open_err(&e))?;
        let store_id = match store_id {
            Some(id) => id,
            None => {
                let mut id = vec![0u8; 16];
                getrandom::fill(&mut id).map_err(|e| OpenError::Unavailable(e.to_string()))?;
                tx.execute("INSERT INTO otp_store_identity (id) VALUES ($1)", &[&id])
                    .map_err(|e| open_err(&e))?;
                id
            }
        };
        let mut rows = read_data_keys(tx).map_err(OpenError::from_store)?;
        if rows.is_empty() {
            let new = NewDataKey::generate(&*self.sealer, &store_id, 1)
                .map_err(|e| OpenError::Unavailable(e.to_string()))?;
            insert_data_key(tx, 1, &new).map_err(|e| open_err(&e))?;
            rows.push((1, new.kek_id.clone(), new.wrapped.clone()));
        }
        DataKeys::unwrap_all(&*self.sealer, store_id, &rows).map_err(OpenError::SealingKey)
    }

    /// Reads the data keys again (another server rotated them).
    pub(super) fn reload_keys(&self, c: &mut impl GenericClient) -> Result<(), StoreError> {
        let rows = read_data_keys(c)?;
        self.keys.reload(&*self.sealer, &rows)
    }

    /// Re-seals every token secret under a new data key wrapped under the
    /// sealer's current key-encryption key, in batches of `batch` rows,
    /// then removes the data keys no row uses: as
    /// [`SqliteStore::rekey`](crate::SqliteStore::rekey).
    ///
    /// # Errors
    ///
    /// [`StoreError`] from the database or the sealer; what was committed
    /// before stays.
    pub fn rekey(&self, batch: usize) -> Result<Rekeyed, StoreError> {
        let batch = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
        let mut c = self.conn()?;
        let new_id = {
            let mut tx = c.transaction().map_err(to_store)?;
            tx.batch_execute("LOCK TABLE otp_data_keys IN EXCLUSIVE MODE")
                .map_err(to_store)?;
            let id: i64 = tx
                .query_one("SELECT coalesce(max(id), 0) + 1 FROM otp_data_keys", &[])
                .map_err(to_store)
                .and_then(|r| col(&r, 0))?;
            let new = NewDataKey::generate(&*self.sealer, self.keys.store_id(), id)?;
            insert_data_key(&mut tx, id, &new).map_err(to_store)?;
            tx.commit().map_err(to_store)?;
            self.keys.insert(id, &new)?;
            id
        };
        let mut resealed = 0u64;
        loop {
            let mut tx = c.transaction().map_err(to_store)?;
            let rows = tx
                .query(
                    "SELECT serial, secret, data_key FROM otp_tokens
                     WHERE data_key IS DISTINCT FROM $1 LIMIT $2 FOR UPDATE",
                    &[&new_id, &batch],
                )
                .map_err(to_store)?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                let serial: String = col(r, 0)?;
                let sealed: Vec<u8> = col(r, 1)?;
                let old: Option<i64> = col(r, 2)?;
                let secret = self
                    .keys
                    .open_reloading(old, &serial, &sealed, || self.reload_keys(&mut tx))?;
                let again = self.keys.seal(new_id, &serial, &secret)?;
                tx.execute(
                    "UPDATE otp_tokens SET secret = $1, data_key = $2 WHERE serial = $3 AND data_key = $4",
                    &[&again, &new_id, &serial, &old],
                )
                .map_err(to_store)?;
                resealed += 1;
            }
            tx.commit().map_err(to_store)?;
        }
        // SHARE mode waits for every transaction writing tokens (an import
        // sealing under an old data key it still had cached) and holds new
        // ones off for this one statement, whose snapshot then sees them
        // all: a data key is never deleted under a row that uses it.
        let mut tx = c.transaction().map_err(to_store)?;
        tx.batch_execute("LOCK TABLE otp_tokens IN SHARE MODE")
            .map_err(to_store)?;
        let retired = tx
            .execute(
                "DELETE FROM otp_data_keys WHERE id <> $1
                 AND NOT EXISTS (SELECT 1 FROM otp_tokens WHERE otp_tokens.data_key = otp_data_keys.id)",
                &[&new_id],
            )
            .map_err(to_store)?;
        tx.commit().map_err(to_store)?;
        self.reload_keys(c.client())?;
        Ok(Rekeyed {
            data_key: new_id,
            resealed,
            retired,
        })
    }

    /// The ids of the key-encryption keys that wrap this store's data
    /// keys: a KEK not listed may be retired.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the database cannot be read.
    pub fn kek_ids(&self) -> Result<Vec<String>, StoreError> {
        let mut c = self.conn()?;
        Ok(read_data_keys(c.client())?
            .into_iter()
            .map(|(_, kek, _)| kek)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect())
    }
}

fn read_data_keys(c: &mut impl GenericClient) -> Result<Vec<DataKeyRow>, StoreError> {
    c.query(
        "SELECT id, kek_id, wrapped FROM otp_data_keys ORDER BY id",
        &[],
    )
    .map_err(to_store)?
    .iter()
    .map(|r| Ok((col(r, 0)?, col(r, 1)?, col(r, 2)?)))
    .collect()
}

fn insert_data_key(
    tx: &mut postgres::Transaction<'_>,
    id: i64,
    key: &NewDataKey,
) -> Result<(), postgres::Error> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    tx.execute(
        "INSERT INTO otp_data_keys (id, kek_id, wrapped, created) VALUES ($1, $2, $3, $4)",
        &[&id, &key.kek_id, &key.wrapped, &now],
    )?;
    Ok(())
}

/// Seals every plaintext secret (a database upgraded from version 3).
pub(super) fn seal_plaintext(
    tx: &mut postgres::Transaction<'_>,
    keys: &DataKeys,
) -> Result<u64, OpenError> {
    let key = keys.current().map_err(OpenError::from_store)?;
    let rows = tx
        .query(
            "SELECT serial, secret FROM otp_tokens WHERE data_key IS NULL",
            &[],
        )
        .map_err(|e| open_err(&e))?;
    let mut sealed = 0u64;
    for r in &rows {
        let serial: String = r.try_get(0).map_err(|e| open_err(&e))?;
        let secret: Zeroizing<Vec<u8>> = Zeroizing::new(r.try_get(1).map_err(|e| open_err(&e))?);
        let s = keys
            .seal(key, &serial, &secret)
            .map_err(OpenError::from_store)?;
        tx.execute(
            "UPDATE otp_tokens SET secret = $1, data_key = $2 WHERE serial = $3",
            &[&s, &key, &serial],
        )
        .map_err(|e| open_err(&e))?;
        sealed += 1;
    }
    Ok(sealed)
}
