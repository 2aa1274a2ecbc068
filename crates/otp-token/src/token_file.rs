//! The token file: one virtual hardware token, secret included, as TOML
//! (format `otp-token/1`, documented in `docs/cli.md`). Written and read
//! only through [`crate::safefs`]: created with mode 0600 and never
//! overwritten in place (updates, such as an event token's counter, go to
//! a temporary file with a random name renamed over the old one), never
//! through a symbolic link, never taken from another user.

use std::path::Path;

use anyhow::{Result, anyhow, bail};
use otp_core::{Algorithm, Digits, Secret, TimeStep};
use otp_provision::{Profile, SeedRecord, SerialNumber};
use otp_token::{Battery, Crystal, Token, TokenSpec};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::safefs::{self, FileError, Mode};

/// The format tag on the first line of every token file.
pub(crate) const FORMAT: &str = "otp-token/1";

/// Time-based or event-based, as written in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    /// RFC 6238 time-based (the seed's token).
    Totp,
    /// RFC 4226 event-based.
    Hotp,
}

/// One token file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenFile {
    /// Always [`FORMAT`].
    pub(crate) format: String,
    /// The 12-character serial printed on the back.
    pub(crate) serial: String,
    /// `totp` or `hotp`.
    pub(crate) kind: Kind,
    /// `SHA1`, `SHA256` or `SHA512`.
    pub(crate) algorithm: String,
    /// 6, 7 or 8.
    pub(crate) digits: u8,
    /// TOTP step in seconds.
    pub(crate) step: u64,
    /// TOTP epoch T0 (Unix seconds).
    pub(crate) t0: u64,
    /// The crystal's drift in parts per million (positive runs fast).
    pub(crate) drift_ppm: i32,
    /// The clock's offset at activation, seconds ahead of true time.
    pub(crate) offset: i64,
    /// When the battery was connected and the clock set (Unix seconds).
    pub(crate) activated_at: u64,
    /// HOTP: the counter of the next press (updated by `otp token press`).
    pub(crate) counter: u64,
    /// The manufacturer, if the token came from `otp factory`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) manufacturer: String,
    /// The shared secret, base32 without padding. Keep the file private.
    pub(crate) secret: String,
}

impl std::fmt::Debug for TokenFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenFile")
            .field("serial", &self.serial)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Drop for TokenFile {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret);
    }
}

impl TokenFile {
    /// A file for `token`, whose secret is `secret`.
    pub(crate) fn new(token: &Token, secret: &Secret, manufacturer: &str) -> Self {
        let spec = token.spec();
        let (kind, step, t0) = match spec.profile.mode {
            otp_core::Mode::Totp(s) => (Kind::Totp, s.seconds(), s.t0()),
            otp_core::Mode::Hotp => (Kind::Hotp, 30, 0),
        };
        Self {
            format: FORMAT.to_owned(),
            serial: token.serial().as_str().to_owned(),
            kind,
            algorithm: spec.profile.algorithm.name().to_owned(),
            digits: spec.profile.digits.get(),
            step,
            t0,
            drift_ppm: spec.crystal.drift_ppm(),
            offset: spec.crystal.offset(),
            activated_at: spec.activated_at,
            counter: token.counter(),
            manufacturer: manufacturer.to_owned(),
            secret: data_encoding::BASE32_NOPAD.encode(secret.expose_secret()),
        }
    }

    /// Reads and checks a token file: refused if it is a symbolic link,
    /// another user's, or writable by group or others.
    pub(crate) fn read(path: &Path) -> Result<Self> {
        let text = safefs::read_private(path).map_err(|e| match e {
            FileError::NotFound { .. } => anyhow!(
                "cannot read the token file `{}`: there is no such file (create one with `otp token create`)",
                path.display()
            ),
            e => anyhow::Error::new(e),
        })?;
        let file: Self = toml::from_str(&text).map_err(|e| {
            anyhow!(
                "`{}` is not a token file ({}): create one with `otp token create`",
                path.display(),
                e.message().trim_end_matches('\n')
            )
        })?;
        if file.format != FORMAT {
            bail!(
                "`{}` has format `{}`; this otp reads `{FORMAT}`",
                path.display(),
                file.format
            );
        }
        Ok(file)
    }

    /// The secret.
    pub(crate) fn secret(&self) -> Result<Secret> {
        let bytes = Zeroizing::new(
            data_encoding::BASE32_NOPAD
                .decode(self.secret.trim_end_matches('=').as_bytes())
                .map_err(|_| anyhow!("the token file's secret is not valid base32"))?,
        );
        Secret::from_bytes(&bytes)
            .map_err(|e| anyhow!("the token file's secret cannot be used: {e}"))
    }

    /// Kind, hash and digits.
    pub(crate) fn profile(&self) -> Result<Profile> {
        let kind = match self.kind {
            Kind::Totp => {
                otp_core::Mode::Totp(TimeStep::new(self.step, self.t0).map_err(|e| anyhow!("{e}"))?)
            }
            Kind::Hotp => otp_core::Mode::Hotp,
        };
        Ok(Profile {
            mode: kind,
            algorithm: Algorithm::from_name(&self.algorithm).map_err(|e| anyhow!("{e}"))?,
            digits: Digits::new(self.digits).map_err(|e| anyhow!("{e}"))?,
        })
    }

    /// The virtual token (battery unlimited: a file does not count presses).
    pub(crate) fn token(&self) -> Result<Token> {
        let serial = SerialNumber::parse(&self.serial)
            .map_err(|e| anyhow!("the token file's serial: {e}"))?;
        let spec = TokenSpec {
            profile: self.profile()?,
            crystal: Crystal::new(self.drift_ppm, self.offset).map_err(|e| anyhow!("{e}"))?,
            activated_at: self.activated_at,
            battery: Battery::unlimited(),
            display_seconds: 30,
            counter: self.counter,
        };
        Token::new(serial, &self.secret()?, spec).map_err(|e| anyhow!("{e}"))
    }

    /// The `otpauth://` URI of this token (holds the secret).
    pub(crate) fn otpauth_uri(&self) -> Result<String> {
        let mut record = SeedRecord::new(self.serial.clone(), self.secret()?, self.profile()?);
        record.counter = self.counter;
        Ok(record.to_otpauth_uri())
    }

    fn to_toml(&self) -> Result<Zeroizing<String>> {
        let body = Zeroizing::new(
            toml::to_string(self).map_err(|e| anyhow!("cannot encode the token file: {e}"))?,
        );
        Ok(Zeroizing::new(format!(
            "# A virtual OTP token ({FORMAT}). It holds the token's secret: keep it private.\n{}",
            body.as_str()
        )))
    }

    /// Writes a new file (mode 0600); refuses to replace one unless `force`.
    pub(crate) fn create(&self, path: &Path, force: bool) -> Result<()> {
        let text = self.to_toml()?;
        let mode = if force { Mode::Replace } else { Mode::Create };
        safefs::write(path, text.as_bytes(), mode).map_err(|e| match e {
            FileError::Exists { .. } => anyhow!(
                "`{}` exists already: choose another file name, or add --force to replace it",
                path.display()
            ),
            e => anyhow::Error::new(e),
        })
    }

    /// Writes a file in a fresh batch (mode 0600), replacing any file of
    /// the same name, without flushing each to the disk (the factory writes
    /// thousands, then calls [`safefs::sync_batch`] once).
    pub(crate) fn write_new(&self, path: &Path) -> Result<()> {
        let text = self.to_toml()?;
        Ok(safefs::write(path, text.as_bytes(), Mode::ReplaceInBatch)?)
    }

    /// Writes the file through a temporary file in the same folder (mode
    /// 0600, random name) renamed over `path`.
    pub(crate) fn replace(&self, path: &Path) -> Result<()> {
        let text = self.to_toml()?;
        Ok(safefs::write(path, text.as_bytes(), Mode::Replace)?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
mod tests {
    use std::os::unix::fs::{MetadataExt as _, symlink};

    use super::*;

    fn rfc_file() -> TokenFile {
        TokenFile {
            format: FORMAT.to_owned(),
            serial: "VT0000000042".to_owned(),
            kind: Kind::Hotp,
            algorithm: "SHA1".to_owned(),
            digits: 6,
            step: 30,
            t0: 0,
            drift_ppm: 0,
            offset: 0,
            activated_at: 0,
            counter: 7,
            manufacturer: String::new(),
            secret: "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ".to_owned(),
        }
    }

    /// The exact temporary name the old `replace` used, `.NAME.tmpPID`,
    /// planted as a link to an unrelated file (CVE-2024-47191's pattern):
    /// the token is written without following it.
    #[test]
    fn replace_ignores_a_link_at_the_old_temporary_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "unrelated\n").unwrap();
        let planted = dir
            .path()
            .join(format!(".t.toml.tmp{}", std::process::id()));
        symlink(&victim, &planted).unwrap();
        rfc_file().replace(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "unrelated\n");
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.is_file());
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert!(
            std::fs::symlink_metadata(&planted)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        let back = TokenFile::read(&path).unwrap();
        assert_eq!(back.counter, 7);
        assert_eq!(back.secret, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    /// `create` without `force` never replaces a file, and says so.
    #[test]
    fn create_refuses_an_existing_file_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(&path, "mine\n").unwrap();
        let e = rfc_file().create(&path, false).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "`{}` exists already: choose another file name, or add --force to replace it",
                path.display()
            )
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "mine\n");
        rfc_file().create(&path, true).unwrap();
        assert_eq!(TokenFile::read(&path).unwrap().counter, 7);
    }
}
