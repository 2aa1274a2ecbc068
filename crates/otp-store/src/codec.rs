//! Row encoding shared by the SQLite and PostgreSQL stores: how each field
//! of the policy's records becomes a column, and back. Every decoding
//! failure is a [`StoreError::Corrupt`] naming the column, never a panic.

use otp_core::{Algorithm, Digits, Secret, TimeStep, TokenState};
use otp_exchange::{
    AuditEntry, AuditRecord, Authority, IdLock, PasswordHash, StoreError, TokenEntry, TokenStatus,
    UserId, UserRecord,
};
use otp_token::{Profile, SeedRecord, SerialNumber, TokenKind};
use zeroize::Zeroizing;

/// A u64 as the i64 with the same bits (exact for equality).
pub(crate) const fn to_db(v: u64) -> i64 {
    v.cast_signed()
}

/// The u64 stored by [`to_db`].
pub(crate) const fn from_db(v: i64) -> u64 {
    v.cast_unsigned()
}

/// A time for range filters: clamped to `i64::MAX`, so that the order is
/// kept (the exact time is in the record itself and filtered again).
pub(crate) fn time_key(at: u64) -> i64 {
    i64::try_from(at).unwrap_or(i64::MAX)
}

pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} (the store was changed outside otp-store?)"))
}

pub(crate) const fn authority_text(a: Authority) -> &'static str {
    match a {
        Authority::Administrator => "administrator",
        Authority::General => "general",
    }
}

pub(crate) fn authority(text: &str) -> Result<Authority, StoreError> {
    match text {
        "administrator" => Ok(Authority::Administrator),
        "general" => Ok(Authority::General),
        _ => Err(corrupt(
            "a user's authority is not administrator or general",
        )),
    }
}

pub(crate) fn user_id(text: &str) -> Result<UserId, StoreError> {
    UserId::parse(text).map_err(|_| corrupt("a stored customer ID is not valid"))
}

pub(crate) fn serial(text: &str) -> Result<SerialNumber, StoreError> {
    SerialNumber::parse(text).map_err(|_| corrupt("a stored token serial is not 12 characters"))
}

pub(crate) fn password(text: Option<String>) -> Result<Option<PasswordHash>, StoreError> {
    text.map(|t| PasswordHash::from_phc(&t)).transpose()
}

/// A user row as read.
pub(crate) struct UserRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) authority: String,
    pub(crate) token: Option<String>,
    pub(crate) lock_failures: i64,
    pub(crate) locked: bool,
    pub(crate) approval_password: Option<String>,
    pub(crate) transfer_password: Option<String>,
}

impl UserRow {
    pub(crate) fn decode(self) -> Result<UserRecord, StoreError> {
        Ok(UserRecord {
            id: user_id(&self.id)?,
            name: self.name,
            authority: authority(&self.authority)?,
            token: self.token.as_deref().map(serial).transpose()?,
            lock: IdLock {
                failures: u32::try_from(self.lock_failures)
                    .map_err(|_| corrupt("a user's failure count is out of range"))?,
                locked: self.locked,
            },
            approval_password: password(self.approval_password)?,
            transfer_password: password(self.transfer_password)?,
        })
    }
}

/// The columns of a token's state.
#[derive(Clone, Copy)]
pub(crate) struct StateCols {
    pub(crate) floor: i64,
    pub(crate) drift: i64,
    pub(crate) failures: i64,
    pub(crate) locked: bool,
}

impl StateCols {
    pub(crate) fn encode(s: &TokenState) -> Self {
        Self {
            floor: to_db(s.floor),
            drift: s.drift,
            failures: i64::from(s.failures),
            locked: s.locked,
        }
    }

    pub(crate) fn decode(self) -> Result<TokenState, StoreError> {
        Ok(TokenState {
            floor: from_db(self.floor),
            drift: self.drift,
            failures: u32::try_from(self.failures)
                .map_err(|_| corrupt("a token's failure count is out of range"))?,
            locked: self.locked,
        })
    }
}

/// A token row, as written and read.
pub(crate) struct TokenRow {
    pub(crate) serial: String,
    pub(crate) seed_serial: String,
    pub(crate) manufacturer: String,
    pub(crate) model: String,
    pub(crate) issuer: Option<String>,
    pub(crate) key_id: String,
    pub(crate) kind: &'static str,
    pub(crate) step_seconds: i64,
    pub(crate) t0: i64,
    pub(crate) algorithm: String,
    pub(crate) digits: i64,
    pub(crate) counter: i64,
    pub(crate) time_drift: i64,
    /// The token's secret: the one place it leaves the process.
    pub(crate) secret: Zeroizing<Vec<u8>>,
    pub(crate) status: &'static str,
    pub(crate) assigned_to: Option<String>,
    pub(crate) state: StateCols,
}

pub(crate) fn status_cols(status: &TokenStatus) -> (&'static str, Option<String>) {
    match status {
        TokenStatus::Unassigned => ("unassigned", None),
        TokenStatus::Assigned(u) => ("assigned", Some(u.as_str().to_owned())),
        TokenStatus::Revoked => ("revoked", None),
    }
}

pub(crate) fn status(text: &str, assigned_to: Option<&str>) -> Result<TokenStatus, StoreError> {
    match (text, assigned_to) {
        ("unassigned", None) => Ok(TokenStatus::Unassigned),
        ("assigned", Some(u)) => Ok(TokenStatus::Assigned(user_id(u)?)),
        ("revoked", None) => Ok(TokenStatus::Revoked),
        _ => Err(corrupt("a token's status is not valid")),
    }
}

impl TokenRow {
    pub(crate) fn encode(t: &TokenEntry) -> Self {
        let seed = &t.seed;
        let (kind, step_seconds, t0) = match seed.profile.kind {
            TokenKind::Totp(ts) => ("totp", to_db(ts.seconds()), to_db(ts.t0())),
            TokenKind::Hotp => ("hotp", 0, 0),
        };
        let (status, assigned_to) = status_cols(&t.status);
        Self {
            serial: t.serial.as_str().to_owned(),
            seed_serial: seed.serial.clone(),
            manufacturer: seed.manufacturer.clone(),
            model: seed.model.clone(),
            issuer: seed.issuer.clone(),
            key_id: seed.key_id.clone(),
            kind,
            step_seconds,
            t0,
            algorithm: seed.profile.algorithm.name().to_owned(),
            digits: i64::from(seed.profile.digits.get()),
            counter: to_db(seed.counter),
            time_drift: seed.time_drift,
            secret: Zeroizing::new(seed.secret().expose_secret().to_vec()),
            status,
            assigned_to,
            state: StateCols::encode(&t.state),
        }
    }
}

/// A token row as read (owned strings for kind and status).
pub(crate) struct TokenRead {
    pub(crate) serial: String,
    pub(crate) seed_serial: String,
    pub(crate) manufacturer: String,
    pub(crate) model: String,
    pub(crate) issuer: Option<String>,
    pub(crate) key_id: String,
    pub(crate) kind: String,
    pub(crate) step_seconds: i64,
    pub(crate) t0: i64,
    pub(crate) algorithm: String,
    pub(crate) digits: i64,
    pub(crate) counter: i64,
    pub(crate) time_drift: i64,
    pub(crate) secret: Zeroizing<Vec<u8>>,
    pub(crate) status: String,
    pub(crate) assigned_to: Option<String>,
    pub(crate) state: StateCols,
}

impl TokenRead {
    pub(crate) fn decode(self) -> Result<TokenEntry, StoreError> {
        let kind = match self.kind.as_str() {
            "totp" => TokenKind::Totp(
                TimeStep::new(from_db(self.step_seconds), from_db(self.t0))
                    .map_err(|_| corrupt("a token's time step is 0"))?,
            ),
            "hotp" => TokenKind::Hotp,
            _ => return Err(corrupt("a token's kind is not totp or hotp")),
        };
        let algorithm = Algorithm::from_name(&self.algorithm)
            .map_err(|_| corrupt("a token's hash algorithm is unknown"))?;
        let digits = u8::try_from(self.digits)
            .ok()
            .and_then(|d| Digits::new(d).ok())
            .ok_or_else(|| corrupt("a token's digit count is not 6, 7 or 8"))?;
        let secret = Secret::from_bytes(self.secret.as_slice())
            .map_err(|_| corrupt("a token's secret has an invalid length"))?;
        let mut seed = SeedRecord::new(
            self.seed_serial,
            secret,
            Profile {
                kind,
                algorithm,
                digits,
            },
        );
        seed.manufacturer = self.manufacturer;
        seed.model = self.model;
        seed.issuer = self.issuer;
        seed.key_id = self.key_id;
        seed.counter = from_db(self.counter);
        seed.time_drift = self.time_drift;
        Ok(TokenEntry {
            serial: serial(&self.serial)?,
            seed,
            status: status(&self.status, self.assigned_to.as_deref())?,
            state: self.state.decode()?,
        })
    }
}

/// The audit entry as stored: its canonical JSON.
pub(crate) fn entry_json(entry: &AuditEntry) -> Result<String, StoreError> {
    serde_json::to_string(entry)
        .map_err(|e| StoreError::Unavailable(format!("audit entry encoding failed: {e}")))
}

pub(crate) fn hash32(bytes: &[u8], what: &str) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(bytes)
        .map_err(|_| corrupt(&format!("an audit record's {what} is not 32 bytes")))
}

pub(crate) fn audit_record(
    seq: i64,
    entry: &str,
    prev_hash: &[u8],
    hash: &[u8],
) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        seq: u64::try_from(seq).map_err(|_| corrupt("an audit record's number is negative"))?,
        entry: serde_json::from_str(entry)
            .map_err(|_| corrupt("an audit record's entry is not valid JSON"))?,
        prev_hash: hash32(prev_hash, "previous hash")?,
        hash: hash32(hash, "hash")?,
    })
}
