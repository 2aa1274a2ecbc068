//! [`Store`] for [`SqliteStore`]: the policy's reads and writes, each
//! write one `BEGIN IMMEDIATE` transaction.

use otp_exchange::{
    ApiKeyRecord, AuditEntry, AuditHead, AuditKey, AuditRecord, LockChange, PasswordHash,
    PasswordKind, Store, StoreError, Switch, SwitchError, TokenEntry, TokenStatus, UserId,
    UserPage, UserRecord, Verification,
};
use otp_provision::SerialNumber;
use rusqlite::{Connection, OptionalExtension as _, params};

use super::batch::{Answer, Job};
use super::rows::{AUDIT_COLS, TOKEN_COLS, USER_COLS, read_audit, token_row, user_row};
use super::write::{append, apply_locks, current_locks, locks_match, token_status, write_tx};
use super::{SqliteStore, to_store, to_switch};
use crate::codec::{
    API_KEY_COLS, ApiKeyRow, StateCols, TokenRow, UserRow, authority_text, corrupt, encode_lock,
    password_column, time_key, to_db,
};

impl Store for SqliteStore {
    fn user(&self, id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        read_user(&*self.conn()?, id)
    }

    /// One read transaction (one snapshot, one look at the log) for both
    /// rows, where [`Store::user`] then [`Store::token`] would take two.
    fn user_and_token(
        &self,
        id: &UserId,
    ) -> Result<Option<(UserRecord, Option<TokenEntry>)>, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction().map_err(to_store)?;
        let Some(user) = read_user(&tx, id)? else {
            return Ok(None);
        };
        let token = match &user.token {
            Some(serial) => self.read_token(&tx, serial)?,
            None => None,
        };
        tx.commit().map_err(to_store)?;
        Ok(Some((user, token)))
    }

    fn users(&self, offset: usize, limit: usize) -> Result<UserPage, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction().map_err(to_store)?;
        let total: i64 = tx
            .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
            .map_err(to_store)?;
        let mut users = Vec::new();
        {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT {USER_COLS} FROM users ORDER BY id LIMIT ?1 OFFSET ?2"
                ))
                .map_err(to_store)?;
            let rows = stmt
                .query_map(
                    params![
                        i64::try_from(limit).unwrap_or(i64::MAX),
                        i64::try_from(offset).unwrap_or(i64::MAX)
                    ],
                    user_row,
                )
                .map_err(to_store)?;
            for row in rows {
                users.push(row.map_err(to_store)?.decode()?);
            }
        }
        tx.finish().map_err(to_store)?;
        Ok(UserPage {
            users,
            total: usize::try_from(total).map_err(|_| corrupt("the user count is negative"))?,
        })
    }

    fn put_user(
        &self,
        user: &UserRecord,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError> {
        let mut conn = self.conn()?;
        let tx = write_tx(&mut conn).map_err(to_store)?;
        tx.execute(
            "INSERT INTO users (id, name, authority, token, id_lock, approval_password, transfer_password, login_password, usage_mode)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, authority = excluded.authority",
            params![
                user.id.as_str(),
                user.name,
                authority_text(user.authority),
                user.token.as_ref().map(SerialNumber::as_str),
                encode_lock(&user.lock),
                user.approval_password.as_ref().map(otp_exchange::PasswordHash::as_phc),
                user.transfer_password.as_ref().map(otp_exchange::PasswordHash::as_phc),
                user.login_password.as_ref().map(otp_exchange::PasswordHash::as_phc),
                user.usage_mode.as_str(),
            ],
        )
        .map_err(to_store)?;
        let record = append(&tx, audit, key)?;
        tx.commit().map_err(to_store)?;
        Ok(record)
    }

    fn replace_password(
        &self,
        user: &UserId,
        kind: PasswordKind,
        expected: Option<&PasswordHash>,
        new: Option<&PasswordHash>,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn()?;
        let tx = write_tx(&mut conn).map_err(to_store)?;
        let column = password_column(kind);
        let exists: Option<i64> = tx
            .query_row("SELECT 1 FROM users WHERE id = ?1", [user.as_str()], |r| {
                r.get(0)
            })
            .optional()
            .map_err(to_store)?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!("user {user}")));
        }
        // `IS` compares NULL with NULL as equal: "no password" is a value.
        let changed = tx
            .execute(
                &format!("UPDATE users SET {column} = ?1 WHERE id = ?2 AND {column} IS ?3"),
                params![
                    new.map(PasswordHash::as_phc),
                    user.as_str(),
                    expected.map(PasswordHash::as_phc)
                ],
            )
            .map_err(to_store)?;
        if changed != 1 {
            return Ok(false);
        }
        append(&tx, audit, key)?;
        tx.commit().map_err(to_store)?;
        Ok(true)
    }

    fn token(&self, serial: &SerialNumber) -> Result<Option<TokenEntry>, StoreError> {
        self.read_token(&*self.conn()?, serial)
    }

    fn add_tokens(
        &self,
        tokens: Vec<TokenEntry>,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError> {
        let mut conn = self.conn()?;
        let tx = write_tx(&mut conn).map_err(to_store)?;
        // Seal under the newest data key, even one another process made.
        let newest: i64 = tx
            .query_row("SELECT coalesce(max(id), 0) FROM data_keys", [], |r| {
                r.get(0)
            })
            .map_err(to_store)?;
        if newest != self.keys.current()? {
            self.reload_keys(&tx)?;
        }
        {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "INSERT INTO tokens ({TOKEN_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)
                     ON CONFLICT (serial) DO NOTHING"
                ))
                .map_err(to_store)?;
            for t in &tokens {
                let row = TokenRow::encode(t, &self.keys)?;
                let inserted = stmt
                    .execute(params![
                        row.serial,
                        row.seed_serial,
                        row.manufacturer,
                        row.model,
                        row.issuer,
                        row.key_id,
                        row.kind,
                        row.step_seconds,
                        row.t0,
                        row.algorithm,
                        row.digits,
                        row.counter,
                        row.time_drift,
                        row.sealed,
                        row.status,
                        row.assigned_to,
                        row.state.floor,
                        row.state.drift,
                        row.state.failures,
                        row.state.locked,
                        row.data_key,
                        row.reserved_for,
                        row.suite,
                        row.signing.floor,
                        row.signing.drift,
                        row.signing.failures,
                        row.signing.locked,
                    ])
                    .map_err(to_store)?;
                if inserted == 0 {
                    // Dropping the transaction rolls every insert back.
                    return Err(StoreError::Duplicate(format!(
                        "token {}",
                        t.serial.masked()
                    )));
                }
            }
        }
        let record = append(&tx, audit, key)?;
        tx.commit().map_err(to_store)?;
        Ok(record)
    }

    fn record_verification(&self, v: &Verification, key: &AuditKey) -> Result<bool, StoreError> {
        match self.grouped(Job::Verify(v.clone(), key.clone()))? {
            Answer::Saved(saved) => Ok(saved),
            Answer::Record(_) => Err(mixed()),
        }
    }

    fn update_locks(
        &self,
        changes: &[LockChange],
        audit: &[AuditEntry],
        key: &AuditKey,
    ) -> Result<bool, StoreError> {
        match self.grouped(Job::Locks(changes.to_vec(), audit.to_vec(), key.clone()))? {
            Answer::Saved(saved) => Ok(saved),
            Answer::Record(_) => Err(mixed()),
        }
    }

    fn switch(&self, change: &Switch, key: &AuditKey) -> Result<AuditRecord, SwitchError> {
        let mut conn = self.conn()?;
        let tx = write_tx(&mut conn).map_err(to_switch)?;
        // Check everything first; change nothing unless all holds (an
        // early return drops `tx`, which rolls back).
        let current: Option<Option<String>> = tx
            .query_row(
                "SELECT token FROM users WHERE id = ?1",
                [change.user().as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(to_switch)?;
        let current = current.ok_or(SwitchError::Conflict)?;
        let current = current.as_deref().map(crate::codec::serial).transpose()?;
        if current.as_ref() != change.expect_current() {
            return Err(SwitchError::Conflict);
        }
        if let Some(old) = change.revoke()
            && token_status(&tx, old)? != Some(TokenStatus::Assigned(change.user().clone()))
        {
            return Err(SwitchError::Conflict);
        }
        if let Some((new, _)) = change.bind()
            && token_status(&tx, new)? != Some(change.bind_from())
        {
            return Err(SwitchError::Conflict);
        }
        let locks = current_locks(&tx, change.locks()).map_err(to_switch)?;
        if !locks_match(change.locks(), &locks) {
            return Err(SwitchError::LockChanged);
        }
        // Apply.
        if let Some(old) = change.revoke() {
            tx.execute(
                "UPDATE tokens SET status = 'revoked', assigned_to = NULL WHERE serial = ?1",
                [old.as_str()],
            )
            .map_err(to_switch)?;
        }
        if let Some((new, state)) = change.bind() {
            let s = StateCols::encode(state);
            tx.execute(
                "UPDATE tokens SET status = 'assigned', assigned_to = ?1, reserved_for = NULL,
                     floor = ?2, drift = ?3, failures = ?4, locked = ?5
                 WHERE serial = ?6",
                params![
                    change.user().as_str(),
                    s.floor,
                    s.drift,
                    s.failures,
                    s.locked,
                    new.as_str()
                ],
            )
            .map_err(to_switch)?;
        }
        if change.changes_binding() {
            tx.execute(
                "UPDATE users SET token = ?1 WHERE id = ?2",
                params![
                    change.bind().map(|(s, _)| s.as_str()),
                    change.user().as_str()
                ],
            )
            .map_err(to_switch)?;
        }
        if let Some(mode) = change.usage_mode() {
            tx.execute(
                "UPDATE users SET usage_mode = ?1 WHERE id = ?2",
                params![mode.as_str(), change.user().as_str()],
            )
            .map_err(to_switch)?;
        }
        apply_locks(&tx, change.locks()).map_err(to_switch)?;
        let record = append(&tx, change.audit(), key)?;
        tx.commit().map_err(to_switch)?;
        Ok(record)
    }

    fn append_audit(&self, entry: &AuditEntry, key: &AuditKey) -> Result<AuditRecord, StoreError> {
        match self.grouped(Job::Audit(entry.clone(), key.clone()))? {
            Answer::Record(record) => Ok(*record),
            Answer::Saved(_) => Err(mixed()),
        }
    }

    fn audit(
        &self,
        user: Option<&UserId>,
        from: u64,
        to: u64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let conn = self.conn()?;
        // The SQL filter is on the indexed copies of `target` and `at`
        // (clamped times: a superset); each row read is checked against
        // its record (a copy that does not match is `Corrupt`) and the
        // exact filter follows on the records themselves.
        let records = match user {
            Some(u) => read_audit(
                &conn,
                &format!(
                    "SELECT {AUDIT_COLS} FROM audit
                     WHERE target = ?1 AND at BETWEEN ?2 AND ?3 ORDER BY seq"
                ),
                params![u.as_str(), time_key(from), time_key(to)],
            )?,
            None => read_audit(
                &conn,
                &format!("SELECT {AUDIT_COLS} FROM audit WHERE at BETWEEN ?1 AND ?2 ORDER BY seq"),
                params![time_key(from), time_key(to)],
            )?,
        };
        Ok(records
            .into_iter()
            .filter(|r| user.is_none_or(|u| r.entry.target.as_ref() == Some(u)))
            .filter(|r| (from..=to).contains(&r.entry.at))
            .collect())
    }

    fn audit_chain(&self) -> Result<Vec<AuditRecord>, StoreError> {
        let conn = self.conn()?;
        read_audit(
            &conn,
            &format!("SELECT {AUDIT_COLS} FROM audit ORDER BY seq"),
            [],
        )
    }

    fn audit_head(&self) -> Result<Option<AuditHead>, StoreError> {
        let conn = self.conn()?;
        let (seq, hash): (i64, Vec<u8>) = conn
            .prepare_cached("SELECT seq, hash FROM audit_head WHERE id = 1")
            .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))).optional())
            .map_err(to_store)?
            .ok_or_else(|| corrupt("the audit chain's head row is missing"))?;
        crate::codec::audit_head(seq, &hash)
    }

    fn consume_nonce(
        &self,
        nonce: &[u8; 16],
        expires_at: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn()?;
        let tx = write_tx(&mut conn).map_err(to_store)?;
        tx.execute("DELETE FROM nonces WHERE expires_at < ?1", [time_key(now)])
            .map_err(to_store)?;
        let inserted = tx
            .execute(
                "INSERT INTO nonces (nonce, expires_at) VALUES (?1, ?2) ON CONFLICT (nonce) DO NOTHING",
                params![nonce.as_slice(), time_key(expires_at)],
            )
            .map_err(to_store)?;
        tx.commit().map_err(to_store)?;
        Ok(inserted == 1)
    }

    fn put_api_key(
        &self,
        record: &ApiKeyRecord,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError> {
        let mut conn = self.conn()?;
        let tx = write_tx(&mut conn).map_err(to_store)?;
        tx.execute(
            &format!(
                "INSERT INTO api_keys ({API_KEY_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            ),
            params![
                record.id,
                record.name,
                record.scope.as_str(),
                record.secret_hash.as_slice(),
                to_db(record.created_at),
                record.created_by,
                record.revoked_at.map(to_db),
                record.last_used_at.map(to_db),
            ],
        )
        .map_err(to_store)?;
        let audit = append(&tx, audit, key)?;
        tx.commit().map_err(to_store)?;
        Ok(audit)
    }

    fn api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {API_KEY_COLS} FROM api_keys WHERE id = ?1"
            ))
            .map_err(to_store)?;
        stmt.query_row([id], api_key_row)
            .optional()
            .map_err(to_store)?
            .map(ApiKeyRow::decode)
            .transpose()
    }

    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(&format!("SELECT {API_KEY_COLS} FROM api_keys ORDER BY id"))
            .map_err(to_store)?;
        let rows = stmt.query_map([], api_key_row).map_err(to_store)?;
        let mut keys = Vec::new();
        for row in rows {
            keys.push(row.map_err(to_store)?.decode()?);
        }
        Ok(keys)
    }

    fn revoke_api_key(
        &self,
        id: &str,
        at: u64,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn()?;
        let tx = write_tx(&mut conn).map_err(to_store)?;
        let changed = tx
            .execute(
                "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, to_db(at)],
            )
            .map_err(to_store)?;
        if changed != 1 {
            return Ok(false);
        }
        append(&tx, audit, key)?;
        tx.commit().map_err(to_store)?;
        Ok(true)
    }

    fn touch_api_key(&self, id: &str, at: u64) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let tx = write_tx(&mut conn).map_err(to_store)?;
        tx.execute(
            "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)",
            params![id, to_db(at)],
        )
        .map_err(to_store)?;
        tx.commit().map_err(to_store)?;
        Ok(())
    }
}

/// A job answered with another job's kind of answer (a bug, not data).
fn mixed() -> StoreError {
    StoreError::Unavailable("group commit answered a write with another kind of answer".into())
}

fn api_key_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApiKeyRow> {
    Ok(ApiKeyRow {
        id: r.get(0)?,
        name: r.get(1)?,
        scope: r.get(2)?,
        secret_hash: r.get(3)?,
        created_at: r.get(4)?,
        created_by: r.get(5)?,
        revoked_at: r.get(6)?,
        last_used_at: r.get(7)?,
    })
}

/// The user with this ID, on `conn` (in its transaction, if one is open).
fn read_user(conn: &Connection, id: &UserId) -> Result<Option<UserRecord>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {USER_COLS} FROM users WHERE id = ?1"))
        .map_err(to_store)?;
    stmt.query_row([id.as_str()], user_row)
        .optional()
        .map_err(to_store)?
        .map(UserRow::decode)
        .transpose()
}

impl SqliteStore {
    /// The inventory entry for `serial`, its secret unsealed, on `conn`
    /// (in its transaction, if one is open).
    fn read_token(
        &self,
        conn: &Connection,
        serial: &SerialNumber,
    ) -> Result<Option<TokenEntry>, StoreError> {
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {TOKEN_COLS} FROM tokens WHERE serial = ?1"
            ))
            .map_err(to_store)?;
        let Some(row) = stmt
            .query_row([serial.as_str()], token_row)
            .optional()
            .map_err(to_store)?
        else {
            return Ok(None);
        };
        let secret = row.secret(&self.keys, || self.reload_keys(conn))?;
        row.decode(&secret).map(Some)
    }
}
