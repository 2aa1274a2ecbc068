//! Rows read back as records: a typed column, the column lists, users,
//! tokens and audit records.

use otp_exchange::{AuditRecord, StoreError, UserRecord};
use postgres::Row;

use crate::codec::{AuditRow, StateCols, TokenRead, UserRow};

pub(super) fn col<'a, T: postgres::types::FromSql<'a>>(
    row: &'a Row,
    i: usize,
) -> Result<T, StoreError> {
    row.try_get(i)
        .map_err(|e| StoreError::Corrupt(format!("a stored value has the wrong type: {e}")))
}

macro_rules! user_cols {
    () => {
        "id, name, authority, token, id_lock, approval_password, transfer_password, login_password, last_login, usage_mode"
    };
}
macro_rules! token_cols {
    () => {
        "serial, seed_serial, manufacturer, model, issuer, key_id, kind, step_seconds, t0, algorithm, digits, counter, time_drift, secret, status, assigned_to, floor, drift, failures, locked, data_key, reserved_for"
    };
}
pub(super) const USER_COLS: &str = user_cols!();
/// One user by ID (a statement prepared once per connection).
pub(super) const USER_BY_ID: &str =
    concat!("SELECT ", user_cols!(), " FROM otp_users WHERE id = $1");
pub(super) const TOKEN_COLS: &str = token_cols!();
/// One token by serial (a statement prepared once per connection).
pub(super) const TOKEN_BY_SERIAL: &str = concat!(
    "SELECT ",
    token_cols!(),
    " FROM otp_tokens WHERE serial = $1"
);

pub(super) fn user_row(r: &Row) -> Result<UserRecord, StoreError> {
    UserRow {
        id: col(r, 0)?,
        name: col(r, 1)?,
        authority: col(r, 2)?,
        token: col(r, 3)?,
        id_lock: col(r, 4)?,
        approval_password: col(r, 5)?,
        transfer_password: col(r, 6)?,
        last_login: col(r, 8)?,
        login_password: col(r, 7)?,
        usage_mode: col(r, 9)?,
    }
    .decode()
}

pub(super) fn token_row(r: &Row) -> Result<TokenRead, StoreError> {
    Ok(TokenRead {
        serial: col(r, 0)?,
        seed_serial: col(r, 1)?,
        manufacturer: col(r, 2)?,
        model: col(r, 3)?,
        issuer: col(r, 4)?,
        key_id: col(r, 5)?,
        kind: col(r, 6)?,
        step_seconds: col(r, 7)?,
        t0: col(r, 8)?,
        algorithm: col(r, 9)?,
        digits: col(r, 10)?,
        counter: col(r, 11)?,
        time_drift: col(r, 12)?,
        sealed: col(r, 13)?,
        data_key: col(r, 20)?,
        status: col(r, 14)?,
        assigned_to: col(r, 15)?,
        reserved_for: col(r, 21)?,
        state: StateCols {
            floor: col(r, 16)?,
            drift: col(r, 17)?,
            failures: col(r, 18)?,
            locked: col(r, 19)?,
        },
    })
}

pub(super) fn audit_row(r: &Row) -> Result<AuditRecord, StoreError> {
    AuditRow {
        seq: col(r, 0)?,
        at: col(r, 1)?,
        target: col(r, 2)?,
        entry: col(r, 3)?,
        body: col(r, 4)?,
        prev_hash: col(r, 5)?,
        hash: col(r, 6)?,
    }
    .decode()
}

pub(super) const AUDIT_COLS: &str = "seq, at, target, entry, body, prev_hash, hash";
