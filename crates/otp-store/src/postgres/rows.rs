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
        "serial, seed_serial, manufacturer, model, issuer, key_id, kind, step_seconds, t0, algorithm, digits, counter, time_drift, secret, status, assigned_to, floor, drift, failures, locked, data_key, reserved_for, suite, sign_floor, sign_drift, sign_failures, sign_locked"
    };
}
pub(super) const USER_COLS: &str = user_cols!();
/// One user by ID (a statement prepared once per connection).
pub(super) const USER_BY_ID: &str =
    concat!("SELECT ", user_cols!(), " FROM otp_users WHERE id = $1");
pub(super) const TOKEN_COLS: &str = token_cols!();
/// How many columns [`USER_COLS`] names.
pub(super) const USER_COL_COUNT: usize = 10;
/// One user by ID and their bound token, in one statement (one snapshot,
/// one round trip): the user's columns, then the token's (all NULL for a
/// user without one). Prepared once per connection.
pub(super) const USER_AND_TOKEN_BY_ID: &str = concat!(
    "SELECT u.*, t.* FROM (SELECT ",
    user_cols!(),
    " FROM otp_users WHERE id = $1) u LEFT JOIN LATERAL (SELECT ",
    token_cols!(),
    " FROM otp_tokens WHERE serial = u.token) t ON true"
);
/// One token by serial (a statement prepared once per connection).
pub(super) const TOKEN_BY_SERIAL: &str = concat!(
    "SELECT ",
    token_cols!(),
    " FROM otp_tokens WHERE serial = $1"
);

pub(super) fn user_row(r: &Row) -> Result<UserRecord, StoreError> {
    user_row_at(r, 0)
}

/// A user from [`USER_COLS`] starting at column `base`.
pub(super) fn user_row_at(r: &Row, base: usize) -> Result<UserRecord, StoreError> {
    UserRow {
        id: col(r, base)?,
        name: col(r, base + 1)?,
        authority: col(r, base + 2)?,
        token: col(r, base + 3)?,
        id_lock: col(r, base + 4)?,
        approval_password: col(r, base + 5)?,
        transfer_password: col(r, base + 6)?,
        last_login: col(r, base + 8)?,
        login_password: col(r, base + 7)?,
        usage_mode: col(r, base + 9)?,
    }
    .decode()
}

pub(super) fn token_row(r: &Row) -> Result<TokenRead, StoreError> {
    token_row_at(r, 0)
}

/// A token from [`TOKEN_COLS`] starting at column `base`.
pub(super) fn token_row_at(r: &Row, base: usize) -> Result<TokenRead, StoreError> {
    Ok(TokenRead {
        serial: col(r, base)?,
        seed_serial: col(r, base + 1)?,
        manufacturer: col(r, base + 2)?,
        model: col(r, base + 3)?,
        issuer: col(r, base + 4)?,
        key_id: col(r, base + 5)?,
        kind: col(r, base + 6)?,
        step_seconds: col(r, base + 7)?,
        t0: col(r, base + 8)?,
        algorithm: col(r, base + 9)?,
        digits: col(r, base + 10)?,
        counter: col(r, base + 11)?,
        time_drift: col(r, base + 12)?,
        sealed: col(r, base + 13)?,
        data_key: col(r, base + 20)?,
        status: col(r, base + 14)?,
        assigned_to: col(r, base + 15)?,
        reserved_for: col(r, base + 21)?,
        state: StateCols {
            floor: col(r, base + 16)?,
            drift: col(r, base + 17)?,
            failures: col(r, base + 18)?,
            locked: col(r, base + 19)?,
        },
        suite: col(r, base + 22)?,
        signing: StateCols {
            floor: col(r, base + 23)?,
            drift: col(r, base + 24)?,
            failures: col(r, base + 25)?,
            locked: col(r, base + 26)?,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The joined read finds the token's columns where `USER_COL_COUNT`
    /// says the user's end.
    #[test]
    fn the_user_column_count_is_the_lists_length() {
        assert_eq!(USER_COLS.split(", ").count(), USER_COL_COUNT);
        assert!(USER_AND_TOKEN_BY_ID.contains(USER_COLS));
        assert!(USER_AND_TOKEN_BY_ID.contains(TOKEN_COLS));
    }
}
