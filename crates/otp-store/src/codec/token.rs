//! A token row: its state's columns, its status, its secret sealed under
//! a data key on the way in and opened on the way out.

use otp_core::{Algorithm, Digits, Mode, OcraSuite, Secret, TimeStep, TokenState};
use otp_exchange::{StoreError, TokenEntry, TokenStatus};
use otp_provision::{Profile, SeedRecord};
use zeroize::Zeroizing;

use super::{corrupt, from_db, serial, to_db, user_id};
use crate::seal::DataKeys;

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
    pub(crate) reserved_for: Option<String>,
    pub(crate) state: StateCols,
    /// A keypad token's OCRA suite (NULL: a button-only token).
    pub(crate) suite: Option<String>,
    /// The signing state's columns.
    pub(crate) signing: StateCols,
}

/// A status as its columns: `status`, `assigned_to`, `reserved_for` (a
/// reserved token is `unassigned` with the user it was minted for).
pub(crate) fn status_cols(status: &TokenStatus) -> (&'static str, Option<String>, Option<String>) {
    match status {
        TokenStatus::Unassigned => ("unassigned", None, None),
        TokenStatus::Assigned(u) => ("assigned", Some(u.as_str().to_owned()), None),
        TokenStatus::Reserved(u) => ("unassigned", None, Some(u.as_str().to_owned())),
        TokenStatus::Revoked => ("revoked", None, None),
    }
}

/// The status stored in the columns of [`status_cols`].
pub(crate) fn status(
    text: &str,
    assigned_to: Option<&str>,
    reserved_for: Option<&str>,
) -> Result<TokenStatus, StoreError> {
    match (text, assigned_to, reserved_for) {
        ("unassigned", None, None) => Ok(TokenStatus::Unassigned),
        ("unassigned", None, Some(u)) => Ok(TokenStatus::Reserved(user_id(u)?)),
        ("assigned", Some(u), None) => Ok(TokenStatus::Assigned(user_id(u)?)),
        ("revoked", None, None) => Ok(TokenStatus::Revoked),
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
        let (status, assigned_to, reserved_for) = status_cols(&t.status);
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
            reserved_for,
            state: StateCols::encode(&t.state),
            suite: seed.suite.map(|s| s.as_str().to_owned()),
            signing: StateCols::encode(&t.signing),
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
    pub(crate) reserved_for: Option<String>,
    pub(crate) state: StateCols,
    pub(crate) suite: Option<String>,
    pub(crate) signing: StateCols,
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
        seed.suite = self
            .suite
            .as_deref()
            .map(OcraSuite::parse)
            .transpose()
            .map_err(|_| corrupt("a token's OCRA suite does not parse"))?;
        Ok(TokenEntry {
            serial: serial(&self.serial)?,
            seed,
            status: status(
                &self.status,
                self.assigned_to.as_deref(),
                self.reserved_for.as_deref(),
            )?,
            state: self.state.decode()?,
            signing: self.signing.decode()?,
        })
    }
}
