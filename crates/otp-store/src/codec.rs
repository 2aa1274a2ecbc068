//! Row encoding shared by the SQLite and PostgreSQL stores.

mod token;

pub(crate) use token::{
    AuditCols, AuditRow, StateCols, TokenRead, TokenRow, UserRow, audit_head, authority_text,
    corrupt, encode_lock, masked, next_after, serial, status, time_key,
};
