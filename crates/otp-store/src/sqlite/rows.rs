//! Rows read back as the codec's rows: the column lists, users, tokens
//! and audit records.

use otp_exchange::{AuditRecord, StoreError};
use rusqlite::Connection;

use super::to_store;
use crate::codec::{AuditRow, StateCols, TokenRead, UserRow};

pub(super) const USER_COLS: &str = "id, name, authority, token, id_lock, approval_password, transfer_password, login_password, last_login, usage_mode";
pub(super) const TOKEN_COLS: &str = "serial, seed_serial, manufacturer, model, issuer, key_id, kind, step_seconds, t0, algorithm, digits, counter, time_drift, secret, status, assigned_to, floor, drift, failures, locked, data_key, reserved_for, suite, sign_floor, sign_drift, sign_failures, sign_locked";

pub(super) fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        id: r.get(0)?,
        name: r.get(1)?,
        authority: r.get(2)?,
        token: r.get(3)?,
        id_lock: r.get(4)?,
        approval_password: r.get(5)?,
        transfer_password: r.get(6)?,
        last_login: r.get(8)?,
        login_password: r.get(7)?,
        usage_mode: r.get(9)?,
    })
}

pub(super) fn token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRead> {
    Ok(TokenRead {
        serial: r.get(0)?,
        seed_serial: r.get(1)?,
        manufacturer: r.get(2)?,
        model: r.get(3)?,
        issuer: r.get(4)?,
        key_id: r.get(5)?,
        kind: r.get(6)?,
        step_seconds: r.get(7)?,
        t0: r.get(8)?,
        algorithm: r.get(9)?,
        digits: r.get(10)?,
        counter: r.get(11)?,
        time_drift: r.get(12)?,
        sealed: r.get(13)?,
        data_key: r.get(20)?,
        status: r.get(14)?,
        assigned_to: r.get(15)?,
        reserved_for: r.get(21)?,
        state: StateCols {
            floor: r.get(16)?,
            drift: r.get(17)?,
            failures: r.get(18)?,
            locked: r.get(19)?,
        },
        suite: r.get(22)?,
        signing: StateCols {
            floor: r.get(23)?,
            drift: r.get(24)?,
            failures: r.get(25)?,
            locked: r.get(26)?,
        },
    })
}

pub(super) const AUDIT_COLS: &str = "seq, at, target, entry, body, prev_hash, hash";

pub(super) fn read_audit(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<AuditRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(to_store)?;
    let rows = stmt
        .query_map(params, |r| {
            Ok(AuditRow {
                seq: r.get(0)?,
                at: r.get(1)?,
                target: r.get(2)?,
                entry: r.get(3)?,
                body: r.get(4)?,
                prev_hash: r.get(5)?,
                hash: r.get(6)?,
            })
        })
        .map_err(to_store)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row.map_err(to_store)?.decode()?);
    }
    Ok(out)
}
