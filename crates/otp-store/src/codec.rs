//! Row encoding shared by the SQLite and PostgreSQL stores: how each field
//! of the policy's records becomes a column, and back. Every decoding
//! failure is a [`StoreError::Corrupt`] naming the column, never a panic.

use otp_core::{Algorithm, Digits, Mode, Secret, TimeStep, TokenState};
use otp_exchange::{
    Attempts, AuditEntry, AuditFormat, AuditRecord, Authority, IdLock, PasswordHash, StoreError,
    TokenEntry, TokenStatus, UserId, UserRecord,
};
use otp_provision::{Profile, SeedRecord, SerialNumber};
use zeroize::Zeroizing;

use crate::seal::DataKeys;

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

/// A stored serial as shown in messages: masked, or a placeholder.
pub(crate) fn masked(text: &str) -> String {
    SerialNumber::parse(text)
        .map_or_else(|_| "(not a serial)".to_owned(), |s| s.masked().to_string())
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
    pub(crate) id_lock: String,
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
            lock: decode_lock(&self.id_lock)?,
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
    /// The token's secret, sealed under data key `data_key`: the secret
    /// itself never leaves the process.
    pub(crate) sealed: Vec<u8>,
    pub(crate) data_key: i64,
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
    /// The row of `t`, its secret sealed under the current data key.
    pub(crate) fn encode(t: &TokenEntry, keys: &DataKeys) -> Result<Self, StoreError> {
        let seed = &t.seed;
        let (kind, step_seconds, t0) = match seed.profile.mode {
            Mode::Totp(ts) => ("totp", to_db(ts.seconds()), to_db(ts.t0())),
            Mode::Hotp => ("hotp", 0, 0),
        };
        let (status, assigned_to) = status_cols(&t.status);
        let data_key = keys.current()?;
        let sealed = keys.seal(data_key, t.serial.as_str(), seed.secret().expose_secret())?;
        Ok(Self {
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
            sealed,
            data_key,
            status,
            assigned_to,
            state: StateCols::encode(&t.state),
        })
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
    pub(crate) sealed: Vec<u8>,
    pub(crate) data_key: Option<i64>,
    pub(crate) status: String,
    pub(crate) assigned_to: Option<String>,
    pub(crate) state: StateCols,
}

impl TokenRead {
    /// The secret, opened (see [`DataKeys::open_reloading`]).
    pub(crate) fn secret(
        &self,
        keys: &DataKeys,
        reload: impl FnOnce() -> Result<(), StoreError>,
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        keys.open_reloading(self.data_key, &self.serial, &self.sealed, reload)
    }

    /// The token, with its opened `secret`.
    pub(crate) fn decode(self, secret: &[u8]) -> Result<TokenEntry, StoreError> {
        let kind = match self.kind.as_str() {
            "totp" => Mode::Totp(
                TimeStep::new(from_db(self.step_seconds), from_db(self.t0))
                    .map_err(|_| corrupt("a token's time step is 0"))?,
            ),
            "hotp" => Mode::Hotp,
            _ => return Err(corrupt("a token's kind is not totp or hotp")),
        };
        let algorithm = Algorithm::from_name(&self.algorithm)
            .map_err(|_| corrupt("a token's hash algorithm is unknown"))?;
        let digits = u8::try_from(self.digits)
            .ok()
            .and_then(|d| Digits::new(d).ok())
            .ok_or_else(|| corrupt("a token's digit count is not 6, 7 or 8"))?;
        let secret = Secret::from_bytes(secret)
            .map_err(|_| corrupt("a token's secret has an invalid length"))?;
        let mut seed = SeedRecord::new(
            self.seed_serial,
            secret,
            Profile {
                mode: kind,
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

/// The version tag of [`encode_lock`].
const LOCK_VERSION: &str = "v1";

/// An [`IdLock`] as stored in the `id_lock` column: one canonical,
/// deterministic text, so that a compare-and-set on the lock is a
/// comparison of texts. Version 1 is `v1` followed by the fields in this
/// order, in decimal without sign or leading zeros, separated by one
/// space: `codes.failures codes.pending codes.pending_since
/// passwords.failures passwords.pending passwords.pending_since locked
/// (0 or 1) unlock_day unlocks`.
pub(crate) fn encode_lock(lock: &IdLock) -> String {
    format!(
        "{LOCK_VERSION} {} {} {} {} {} {} {} {} {} {}",
        lock.codes.failures,
        lock.codes.pending,
        lock.codes.pending_since,
        lock.passwords.failures,
        lock.passwords.pending,
        lock.passwords.pending_since,
        u8::from(lock.locked),
        lock.unlock_day,
        lock.unlocks,
        lock.binding
    )
}

/// Reads the text made by [`encode_lock`], strictly: anything else (another
/// version, a missing or extra field, a sign, a leading zero, a number out
/// of range, two spaces) is [`StoreError::Corrupt`].
pub(crate) fn decode_lock(text: &str) -> Result<IdLock, StoreError> {
    let bad = || corrupt("a user's ID lock is not a valid version-1 lock");
    let mut fields = text.split(' ');
    if fields.next() != Some(LOCK_VERSION) {
        return Err(bad());
    }
    let mut next = || fields.next().ok_or_else(bad);
    let u32_field = |f: &str| f.parse::<u32>().map_err(|_| bad());
    let u64_field = |f: &str| f.parse::<u64>().map_err(|_| bad());
    let codes = Attempts {
        failures: u32_field(next()?)?,
        pending: u32_field(next()?)?,
        pending_since: u64_field(next()?)?,
    };
    let passwords = Attempts {
        failures: u32_field(next()?)?,
        pending: u32_field(next()?)?,
        pending_since: u64_field(next()?)?,
    };
    let locked = match next()? {
        "0" => false,
        "1" => true,
        _ => return Err(bad()),
    };
    let unlock_day = u64_field(next()?)?;
    let unlocks = u32_field(next()?)?;
    let binding = u64_field(next()?)?;
    if fields.next().is_some() {
        return Err(bad());
    }
    let lock = IdLock {
        codes,
        passwords,
        locked,
        unlock_day,
        unlocks,
        binding,
    };
    // Canonical: `parse` accepts `+1` and `01`, the encoding never writes
    // them.
    if encode_lock(&lock) != text {
        return Err(bad());
    }
    Ok(lock)
}

pub(crate) fn hash32(bytes: &[u8], what: &str) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(bytes)
        .map_err(|_| corrupt(&format!("an audit record's {what} is not 32 bytes")))
}

/// The columns of an audit record as written: version-2 records keep their
/// explicit bytes in `body` (and `''` in `entry`, the column that held
/// version 1's JSON); `at` and `target` are copies for the usage
/// history's index.
pub(crate) struct AuditCols<'a> {
    pub(crate) seq: i64,
    pub(crate) at: i64,
    pub(crate) target: Option<&'a str>,
    pub(crate) entry: &'static str,
    pub(crate) body: Vec<u8>,
    pub(crate) prev_hash: &'a [u8],
    pub(crate) hash: &'a [u8],
}

impl<'a> AuditCols<'a> {
    pub(crate) fn encode(record: &'a AuditRecord) -> Self {
        Self {
            seq: to_db(record.seq),
            at: time_key(record.entry.at),
            target: record.entry.target.as_ref().map(UserId::as_str),
            entry: "",
            body: record.entry.encode(),
            prev_hash: &record.prev_hash,
            hash: &record.hash,
        }
    }
}

/// An audit row as read.
pub(crate) struct AuditRow {
    pub(crate) seq: i64,
    pub(crate) at: i64,
    pub(crate) target: Option<String>,
    pub(crate) entry: String,
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) prev_hash: Vec<u8>,
    pub(crate) hash: Vec<u8>,
}

impl AuditRow {
    /// The record: from `body` (version 2) or, when `body` is NULL, from
    /// version 1's JSON in `entry`. The `at` and `target` columns must
    /// agree with the record: they select the usage history, so an edited
    /// copy would hide a record from it.
    pub(crate) fn decode(self) -> Result<AuditRecord, StoreError> {
        let (entry, format) = match &self.body {
            Some(bytes) => (
                AuditEntry::decode(bytes).map_err(|e| corrupt(&format!("an audit record: {e}")))?,
                AuditFormat::V2,
            ),
            None => (
                serde_json::from_str(&self.entry)
                    .map_err(|_| corrupt("a version-1 audit record's entry is not valid JSON"))?,
                AuditFormat::V1,
            ),
        };
        if self.at != time_key(entry.at) {
            return Err(corrupt(
                "an audit record's at column does not match the record",
            ));
        }
        if self.target.as_deref() != entry.target.as_ref().map(UserId::as_str) {
            return Err(corrupt(
                "an audit record's target column does not match the record",
            ));
        }
        Ok(AuditRecord {
            seq: u64::try_from(self.seq)
                .map_err(|_| corrupt("an audit record's number is negative"))?,
            entry,
            prev_hash: hash32(&self.prev_hash, "previous hash")?,
            hash: hash32(&self.hash, "hash")?,
            format,
        })
    }
}

/// The chain's head as stored (`seq` 0: no record yet).
pub(crate) fn audit_head(
    seq: i64,
    hash: &[u8],
) -> Result<Option<otp_exchange::AuditHead>, StoreError> {
    let seq = u64::try_from(seq).map_err(|_| corrupt("the audit head's number is negative"))?;
    let hash = hash32(hash, "head hash")?;
    Ok((seq != 0).then_some(otp_exchange::AuditHead { seq, hash }))
}

/// The number and previous MAC of the record to append after `head`.
pub(crate) fn next_after(seq: i64, hash: &[u8]) -> Result<(u64, [u8; 32]), StoreError> {
    let seq = u64::try_from(seq).map_err(|_| corrupt("the audit head's number is negative"))?;
    let next = seq
        .checked_add(1)
        .ok_or_else(|| corrupt("the audit head's number is at its maximum"))?;
    Ok((next, hash32(hash, "head hash")?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
mod tests {
    use super::*;

    fn sample() -> IdLock {
        IdLock {
            codes: Attempts {
                failures: 1,
                pending: 2,
                pending_since: 3,
            },
            passwords: Attempts {
                failures: 4,
                pending: 5,
                pending_since: 6,
            },
            locked: true,
            unlock_day: 7,
            unlocks: 8,
            binding: 9,
        }
    }

    #[test]
    fn locks_round_trip_and_the_text_is_fixed() {
        assert_eq!(encode_lock(&IdLock::default()), "v1 0 0 0 0 0 0 0 0 0 0");
        assert_eq!(encode_lock(&sample()), "v1 1 2 3 4 5 6 1 7 8 9");
        let max = IdLock {
            codes: Attempts {
                failures: u32::MAX,
                pending: u32::MAX,
                pending_since: u64::MAX,
            },
            passwords: Attempts {
                failures: u32::MAX,
                pending: u32::MAX,
                pending_since: u64::MAX,
            },
            locked: true,
            unlock_day: u64::MAX,
            unlocks: u32::MAX,
            binding: u64::MAX,
        };
        for lock in [IdLock::default(), sample(), max] {
            assert_eq!(decode_lock(&encode_lock(&lock)).unwrap(), lock);
        }
    }

    #[test]
    fn anything_but_the_canonical_text_is_corrupt() {
        for bad in [
            "",
            "v1",
            "v2 1 2 3 4 5 6 1 7 8 9",
            "V1 1 2 3 4 5 6 1 7 8 9",
            "v1 1 2 3 4 5 6 1 7 8",
            "v1 1 2 3 4 5 6 1 7 8 9 10",
            "v1 1 2 3 4 5 6 1 7 8 9 ",
            " v1 1 2 3 4 5 6 1 7 8 9",
            "v1  1 2 3 4 5 6 1 7 8 9",
            "v1 1 2 3 4 5 6 2 7 8 9",
            "v1 1 2 3 4 5 6 true 7 8 9",
            "v1 01 2 3 4 5 6 1 7 8 9",
            "v1 +1 2 3 4 5 6 1 7 8 9",
            "v1 -1 2 3 4 5 6 1 7 8 9",
            "v1 4294967296 2 3 4 5 6 1 7 8 9",
            "v1 1 2 18446744073709551616 4 5 6 1 7 8 9",
            "v1 1 2 3 4 5 6 1 7 8 18446744073709551616",
            "v1 1\t2 3 4 5 6 1 7 8 9",
            "v1 1 2 3 4 5 6 1 7 8 ９",
        ] {
            assert!(
                matches!(decode_lock(bad), Err(StoreError::Corrupt(_))),
                "{bad:?}"
            );
        }
    }
}
