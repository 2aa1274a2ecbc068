//! [`Store`] for [`PgStore`]: the policy's reads and writes, token state
//! moved by compare-and-set `UPDATE`s, the switch over rows locked
//! `FOR UPDATE`.

use otp_exchange::{
    ApiKeyRecord, AuditEntry, AuditHead, AuditKey, AuditRecord, LockChange, PasswordHash,
    PasswordKind, StateSlot, Store, StoreError, Switch, SwitchError, TokenEntry, TokenStatus,
    UserId, UserPage, UserRecord, Verification,
};
use otp_provision::SerialNumber;
use postgres::IsolationLevel;

use super::rows::{
    AUDIT_COLS, TOKEN_BY_SERIAL, TOKEN_COLS, USER_AND_TOKEN_BY_ID, USER_BY_ID, USER_COL_COUNT,
    USER_COLS, audit_row, col, token_row, token_row_at, user_row, user_row_at,
};
use super::write::{append, apply_locks, lock_users, locks_match};
use super::{PgStore, to_store, to_switch};
use crate::codec::{
    API_KEY_COLS, ApiKeyRow, StateCols, TokenRow, authority_text, corrupt, encode_lock,
    password_column, time_key, to_db,
};

impl Store for PgStore {
    fn user(&self, id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        let mut c = self.conn()?;
        let s = c.prepared(USER_BY_ID).map_err(to_store)?;
        c.query_opt(&s, &[&id.as_str()])
            .map_err(to_store)?
            .as_ref()
            .map(user_row)
            .transpose()
    }

    fn users(&self, offset: usize, limit: usize) -> Result<UserPage, StoreError> {
        let mut c = self.conn()?;
        let mut tx = c
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(to_store)?;
        let total: i64 = tx
            .query_one("SELECT count(*) FROM otp_users", &[])
            .map_err(to_store)
            .and_then(|r| col(&r, 0))?;
        let rows = tx
            .query(
                &format!(
                    "SELECT {USER_COLS} FROM otp_users ORDER BY id COLLATE \"C\" LIMIT $1 OFFSET $2"
                ),
                &[
                    &i64::try_from(limit).unwrap_or(i64::MAX),
                    &i64::try_from(offset).unwrap_or(i64::MAX),
                ],
            )
            .map_err(to_store)?;
        tx.commit().map_err(to_store)?;
        Ok(UserPage {
            users: rows.iter().map(user_row).collect::<Result<_, _>>()?,
            total: usize::try_from(total).map_err(|_| corrupt("the user count is negative"))?,
        })
    }

    fn put_user(
        &self,
        user: &UserRecord,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError> {
        let mut c = self.conn()?;
        let mut tx = c.transaction().map_err(to_store)?;
        tx.execute(
            "INSERT INTO otp_users (id, name, authority, token, id_lock, approval_password, transfer_password, login_password, usage_mode)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, authority = excluded.authority",
            &[
                &user.id.as_str(),
                &user.name,
                &authority_text(user.authority),
                &user.token.as_ref().map(SerialNumber::as_str),
                &encode_lock(&user.lock),
                &user.approval_password.as_ref().map(otp_exchange::PasswordHash::as_phc),
                &user.transfer_password.as_ref().map(otp_exchange::PasswordHash::as_phc),
                &user.login_password.as_ref().map(otp_exchange::PasswordHash::as_phc),
                &user.usage_mode.as_str(),
            ],
        )
        .map_err(to_store)?;
        let record = append(&mut tx, audit, key)?;
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
        let mut c = self.conn()?;
        let mut tx = c.transaction().map_err(to_store)?;
        let column = password_column(kind);
        // The user's row locked until commit, then compared and set.
        let current = tx
            .query_opt(
                &format!("SELECT {column} FROM otp_users WHERE id = $1 FOR UPDATE"),
                &[&user.as_str()],
            )
            .map_err(to_store)?
            .ok_or_else(|| StoreError::NotFound(format!("user {user}")))?;
        let current: Option<String> = col(&current, 0)?;
        if current.as_deref() != expected.map(PasswordHash::as_phc) {
            return Ok(false);
        }
        tx.execute(
            &format!("UPDATE otp_users SET {column} = $1 WHERE id = $2"),
            &[&new.map(PasswordHash::as_phc), &user.as_str()],
        )
        .map_err(to_store)?;
        append(&mut tx, audit, key)?;
        tx.commit().map_err(to_store)?;
        Ok(true)
    }

    /// One statement, one round trip, one snapshot (the user, `LEFT JOIN
    /// LATERAL` their bound token) where `user` then `token` take two.
    fn user_and_token(
        &self,
        id: &UserId,
    ) -> Result<Option<(UserRecord, Option<TokenEntry>)>, StoreError> {
        let mut c = self.conn()?;
        let s = c.prepared(USER_AND_TOKEN_BY_ID).map_err(to_store)?;
        let Some(row) = c.query_opt(&s, &[&id.as_str()]).map_err(to_store)? else {
            return Ok(None);
        };
        let user = user_row_at(&row, 0)?;
        let serial: Option<String> = col(&row, USER_COL_COUNT)?;
        if serial.is_none() {
            return Ok(Some((user, None)));
        }
        let token = token_row_at(&row, USER_COL_COUNT)?;
        let secret = token.secret(&self.keys, || self.reload_keys(c.client()))?;
        Ok(Some((user, Some(token.decode(&secret)?))))
    }

    fn token(&self, serial: &SerialNumber) -> Result<Option<TokenEntry>, StoreError> {
        let mut c = self.conn()?;
        let s = c.prepared(TOKEN_BY_SERIAL).map_err(to_store)?;
        let Some(row) = c.query_opt(&s, &[&serial.as_str()]).map_err(to_store)? else {
            return Ok(None);
        };
        let row = token_row(&row)?;
        let secret = row.secret(&self.keys, || self.reload_keys(c.client()))?;
        row.decode(&secret).map(Some)
    }

    fn add_tokens(
        &self,
        tokens: Vec<TokenEntry>,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<AuditRecord, StoreError> {
        let mut c = self.conn()?;
        let mut tx = c.transaction().map_err(to_store)?;
        // Seal under the newest data key, even one another server made.
        let newest: i64 = tx
            .query_one("SELECT coalesce(max(id), 0) FROM otp_data_keys", &[])
            .map_err(to_store)
            .and_then(|r| col(&r, 0))?;
        if newest != self.keys.current()? {
            self.reload_keys(&mut tx)?;
        }
        let stmt = tx
            .prepare(&format!(
                "INSERT INTO otp_tokens ({TOKEN_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27)
                 ON CONFLICT (serial) DO NOTHING"
            ))
            .map_err(to_store)?;
        for t in &tokens {
            let row = TokenRow::encode(t, &self.keys)?;
            let inserted = tx
                .execute(
                    &stmt,
                    &[
                        &row.serial,
                        &row.seed_serial,
                        &row.manufacturer,
                        &row.model,
                        &row.issuer,
                        &row.key_id,
                        &row.kind,
                        &row.step_seconds,
                        &row.t0,
                        &row.algorithm,
                        &row.digits,
                        &row.counter,
                        &row.time_drift,
                        &row.sealed,
                        &row.status,
                        &row.assigned_to,
                        &row.state.floor,
                        &row.state.drift,
                        &row.state.failures,
                        &row.state.locked,
                        &row.data_key,
                        &row.reserved_for,
                        &row.suite,
                        &row.signing.floor,
                        &row.signing.drift,
                        &row.signing.failures,
                        &row.signing.locked,
                    ],
                )
                .map_err(to_store)?;
            if inserted == 0 {
                // Dropping the transaction rolls every insert back.
                return Err(StoreError::Duplicate(format!(
                    "token {}",
                    t.serial.masked()
                )));
            }
        }
        let record = append(&mut tx, audit, key)?;
        tx.commit().map_err(to_store)?;
        Ok(record)
    }

    fn record_verification(&self, v: &Verification, key: &AuditKey) -> Result<bool, StoreError> {
        // Through group commit, unless an operator's lock is checked too.
        if let Some(fast) = super::verify::FastCas::of(v) {
            return self.record_grouped(v, fast, key);
        }
        let mut c = self.conn()?;
        let mut tx = c.transaction().map_err(to_store)?;
        // The user's row first (locked until commit), then the token's:
        // the order every writer follows.
        let users = lock_users(
            &mut tx,
            std::iter::once(v.user()).chain(v.locks().iter().map(LockChange::user)),
        )?;
        let bound = users
            .get(v.user().as_str())
            .is_some_and(|u| u.token.as_deref() == Some(v.serial().as_str()));
        if !bound || !locks_match(v.locks(), &users) {
            // Nothing was written; dropping `tx` rolls it back.
            return Ok(false);
        }
        let (e, n) = (
            StateCols::encode(v.expected_state()),
            StateCols::encode(v.new_state()),
        );
        // The UPDATE locks the token's row: a concurrent writer waits, then
        // re-checks the WHERE on the row as it then is.
        let changed = tx
            .execute(
                match v.slot() {
                    StateSlot::Login => {
                        "UPDATE otp_tokens SET floor = $1, drift = $2, failures = $3, locked = $4
                         WHERE serial = $5 AND status = 'assigned' AND assigned_to = $6
                           AND floor = $7 AND drift = $8 AND failures = $9 AND locked = $10"
                    }
                    StateSlot::Signing => {
                        "UPDATE otp_tokens SET sign_floor = $1, sign_drift = $2, sign_failures = $3,
                             sign_locked = $4
                         WHERE serial = $5 AND status = 'assigned' AND assigned_to = $6
                           AND sign_floor = $7 AND sign_drift = $8 AND sign_failures = $9
                           AND sign_locked = $10"
                    }
                },
                &[
                    &n.floor,
                    &n.drift,
                    &n.failures,
                    &n.locked,
                    &v.serial().as_str(),
                    &v.user().as_str(),
                    &e.floor,
                    &e.drift,
                    &e.failures,
                    &e.locked,
                ],
            )
            .map_err(to_store)?;
        if changed != 1 {
            return Ok(false);
        }
        apply_locks(&mut tx, v.locks())?;
        if let Some(at) = v.login_at() {
            tx.execute(
                "UPDATE otp_users SET last_login = $1 WHERE id = $2",
                &[&to_db(at), &v.user().as_str()],
            )
            .map_err(to_store)?;
        }
        for entry in v.audit() {
            append(&mut tx, entry, key)?;
        }
        tx.commit().map_err(to_store)?;
        Ok(true)
    }

    fn update_locks(
        &self,
        changes: &[LockChange],
        audit: &[AuditEntry],
        key: &AuditKey,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn()?;
        let mut tx = c.transaction().map_err(to_store)?;
        let users = lock_users(&mut tx, changes.iter().map(LockChange::user))?;
        if let Some(c) = changes
            .iter()
            .find(|c| !users.contains_key(c.user().as_str()))
        {
            return Err(StoreError::NotFound(format!("user {}", c.user())));
        }
        if !locks_match(changes, &users) {
            return Ok(false);
        }
        apply_locks(&mut tx, changes)?;
        for entry in audit {
            append(&mut tx, entry, key)?;
        }
        tx.commit().map_err(to_store)?;
        Ok(true)
    }

    fn switch(&self, change: &Switch, key: &AuditKey) -> Result<AuditRecord, SwitchError> {
        let mut c = self.conn()?;
        let mut tx = c.transaction().map_err(to_switch)?;
        // Lock the users' rows (the user's and every checked lock's), then
        // the tokens' rows in serial order (fixed orders, so two writers
        // cannot deadlock), then check; an early return drops `tx`, which
        // rolls back.
        let users = lock_users(
            &mut tx,
            std::iter::once(change.user()).chain(change.locks().iter().map(LockChange::user)),
        )?;
        let current = users
            .get(change.user().as_str())
            .ok_or(SwitchError::Conflict)?;
        let current = current
            .token
            .as_deref()
            .map(crate::codec::serial)
            .transpose()?;
        if current.as_ref() != change.expect_current() {
            return Err(SwitchError::Conflict);
        }
        let mut serials: Vec<&str> = change
            .revoke()
            .into_iter()
            .chain(change.bind().map(|(s, _)| s))
            .map(SerialNumber::as_str)
            .collect();
        serials.sort_unstable();
        let rows = tx
            .query(
                "SELECT serial, status, assigned_to, reserved_for FROM otp_tokens
                 WHERE serial = ANY($1) ORDER BY serial COLLATE \"C\" FOR UPDATE",
                &[&serials],
            )
            .map_err(to_switch)?;
        let status_of = |s: &SerialNumber| -> Result<Option<TokenStatus>, StoreError> {
            for r in &rows {
                let serial: String = col(r, 0)?;
                if serial == s.as_str() {
                    let status: String = col(r, 1)?;
                    let owner: Option<String> = col(r, 2)?;
                    let reserved: Option<String> = col(r, 3)?;
                    return crate::codec::status(&status, owner.as_deref(), reserved.as_deref())
                        .map(Some);
                }
            }
            Ok(None)
        };
        if let Some(old) = change.revoke()
            && status_of(old)? != Some(TokenStatus::Assigned(change.user().clone()))
        {
            return Err(SwitchError::Conflict);
        }
        if let Some((new, _)) = change.bind()
            && status_of(new)? != Some(change.bind_from())
        {
            return Err(SwitchError::Conflict);
        }
        if !locks_match(change.locks(), &users) {
            return Err(SwitchError::LockChanged);
        }
        if let Some(old) = change.revoke() {
            tx.execute(
                "UPDATE otp_tokens SET status = 'revoked', assigned_to = NULL WHERE serial = $1",
                &[&old.as_str()],
            )
            .map_err(to_switch)?;
        }
        if let Some((new, state)) = change.bind() {
            let s = StateCols::encode(state);
            tx.execute(
                "UPDATE otp_tokens SET status = 'assigned', assigned_to = $1, reserved_for = NULL,
                     floor = $2, drift = $3, failures = $4, locked = $5
                 WHERE serial = $6",
                &[
                    &change.user().as_str(),
                    &s.floor,
                    &s.drift,
                    &s.failures,
                    &s.locked,
                    &new.as_str(),
                ],
            )
            .map_err(to_switch)?;
        }
        if change.changes_binding() {
            tx.execute(
                "UPDATE otp_users SET token = $1 WHERE id = $2",
                &[
                    &change.bind().map(|(s, _)| s.as_str()),
                    &change.user().as_str(),
                ],
            )
            .map_err(to_switch)?;
        }
        if let Some(mode) = change.usage_mode() {
            tx.execute(
                "UPDATE otp_users SET usage_mode = $1 WHERE id = $2",
                &[&mode.as_str(), &change.user().as_str()],
            )
            .map_err(to_switch)?;
        }
        apply_locks(&mut tx, change.locks())?;
        let record = append(&mut tx, change.audit(), key)?;
        tx.commit().map_err(to_switch)?;
        Ok(record)
    }

    fn append_audit(&self, entry: &AuditEntry, key: &AuditKey) -> Result<AuditRecord, StoreError> {
        let mut c = self.conn()?;
        let mut tx = c.transaction().map_err(to_store)?;
        let record = append(&mut tx, entry, key)?;
        tx.commit().map_err(to_store)?;
        Ok(record)
    }

    fn audit(
        &self,
        user: Option<&UserId>,
        from: u64,
        to: u64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let mut c = self.conn()?;
        // The indexed copies of `target` and `at` in SQL (clamped times: a
        // superset); each row read is checked against its record (a copy
        // that does not match is `Corrupt`), the exact filter after.
        let rows = match user {
            Some(u) => c.query(
                &format!(
                    "SELECT {AUDIT_COLS} FROM otp_audit
                     WHERE target = $1 AND at BETWEEN $2 AND $3 ORDER BY seq"
                ),
                &[&u.as_str(), &time_key(from), &time_key(to)],
            ),
            None => c.query(
                &format!(
                    "SELECT {AUDIT_COLS} FROM otp_audit WHERE at BETWEEN $1 AND $2 ORDER BY seq"
                ),
                &[&time_key(from), &time_key(to)],
            ),
        }
        .map_err(to_store)?;
        let records = rows.iter().map(audit_row).collect::<Result<Vec<_>, _>>()?;
        Ok(records
            .into_iter()
            .filter(|r| user.is_none_or(|u| r.entry.target.as_ref() == Some(u)))
            .filter(|r| (from..=to).contains(&r.entry.at))
            .collect())
    }

    fn audit_chain(&self) -> Result<Vec<AuditRecord>, StoreError> {
        let mut c = self.conn()?;
        c.query(
            &format!("SELECT {AUDIT_COLS} FROM otp_audit ORDER BY seq"),
            &[],
        )
        .map_err(to_store)?
        .iter()
        .map(audit_row)
        .collect()
    }

    fn audit_head(&self) -> Result<Option<AuditHead>, StoreError> {
        let mut c = self.conn()?;
        let head = c
            .query_opt("SELECT seq, hash FROM otp_audit_head WHERE id = 1", &[])
            .map_err(to_store)?
            .ok_or_else(|| corrupt("the audit chain's head row is missing"))?;
        let seq: i64 = col(&head, 0)?;
        let hash: Vec<u8> = col(&head, 1)?;
        crate::codec::audit_head(seq, &hash)
    }

    fn consume_nonce(
        &self,
        nonce: &[u8; 16],
        expires_at: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn()?;
        let mut tx = c.transaction().map_err(to_store)?;
        tx.execute(
            "DELETE FROM otp_nonces WHERE expires_at < $1",
            &[&time_key(now)],
        )
        .map_err(to_store)?;
        let inserted = tx
            .execute(
                "INSERT INTO otp_nonces (nonce, expires_at) VALUES ($1, $2) ON CONFLICT (nonce) DO NOTHING",
                &[&nonce.as_slice(), &time_key(expires_at)],
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
        let mut c = self.conn()?;
        let mut tx = c.transaction().map_err(to_store)?;
        tx.execute(
            &format!(
                "INSERT INTO otp_api_keys ({API_KEY_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ),
            &[
                &record.id,
                &record.name,
                &record.scope.as_str(),
                &record.secret_hash.as_slice(),
                &to_db(record.created_at),
                &record.created_by,
                &record.revoked_at.map(to_db),
                &record.last_used_at.map(to_db),
            ],
        )
        .map_err(to_store)?;
        let audit = append(&mut tx, audit, key)?;
        tx.commit().map_err(to_store)?;
        Ok(audit)
    }

    fn api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let mut c = self.conn()?;
        c.query_opt(
            &format!("SELECT {API_KEY_COLS} FROM otp_api_keys WHERE id = $1"),
            &[&id],
        )
        .map_err(to_store)?
        .as_ref()
        .map(api_key_row)
        .transpose()
    }

    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let mut c = self.conn()?;
        c.query(
            &format!("SELECT {API_KEY_COLS} FROM otp_api_keys ORDER BY id"),
            &[],
        )
        .map_err(to_store)?
        .iter()
        .map(api_key_row)
        .collect()
    }

    fn revoke_api_key(
        &self,
        id: &str,
        at: u64,
        audit: &AuditEntry,
        key: &AuditKey,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn()?;
        let mut tx = c.transaction().map_err(to_store)?;
        let changed = tx
            .execute(
                "UPDATE otp_api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                &[&id, &to_db(at)],
            )
            .map_err(to_store)?;
        if changed != 1 {
            return Ok(false);
        }
        append(&mut tx, audit, key)?;
        tx.commit().map_err(to_store)?;
        Ok(true)
    }

    fn touch_api_key(&self, id: &str, at: u64) -> Result<(), StoreError> {
        let mut c = self.conn()?;
        c.execute(
            "UPDATE otp_api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
            &[&id, &to_db(at)],
        )
        .map_err(to_store)?;
        Ok(())
    }
}

fn api_key_row(r: &postgres::Row) -> Result<ApiKeyRecord, StoreError> {
    ApiKeyRow {
        id: col(r, 0)?,
        name: col(r, 1)?,
        scope: col(r, 2)?,
        secret_hash: col(r, 3)?,
        created_at: col(r, 4)?,
        created_by: col(r, 5)?,
        revoked_at: col(r, 6)?,
        last_used_at: col(r, 7)?,
    }
    .decode()
}
