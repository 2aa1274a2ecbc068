//! Token files on disk: the format is `otp_token::TokenFile` (rendered and
//! parsed by the library); this module writes and reads the files, only
//! through [`crate::safefs`]: created with mode 0600 and never overwritten
//! in place (updates, such as an event token's counter, go to a temporary
//! file with a random name renamed over the old one), never through a
//! symbolic link, never taken from another user.

use std::path::Path;

use anyhow::{Result, anyhow};
use otp_token::{TokenFile, TokenFileError};

use crate::safefs::{self, FileError, Mode};

/// `--kind`: time-based or event-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum KindArg {
    /// RFC 6238 time-based (the seed's token).
    Totp,
    /// RFC 4226 event-based.
    Hotp,
}

/// A library error as the command line has always printed it: its message
/// alone (the chain printer would repeat the cause the message quotes).
pub(crate) fn flat(e: TokenFileError) -> anyhow::Error {
    anyhow!("{e}")
}

/// Reads and checks a token file: refused if it is a symbolic link,
/// another user's, or writable by group or others.
pub(crate) fn read(path: &Path) -> Result<TokenFile> {
    let text = safefs::read_private(path).map_err(|e| match e {
        FileError::NotFound { .. } => anyhow!(
            "cannot read the token file `{}`: there is no such file (create one with `otp token create`)",
            path.display()
        ),
        e => anyhow::Error::new(e),
    })?;
    TokenFile::parse(&text).map_err(|e| match e {
        TokenFileError::Syntax { message } => anyhow!(
            "`{}` is not a token file ({message}): create one with `otp token create`",
            path.display(),
        ),
        TokenFileError::Format { found } => anyhow!(
            "`{}` has format `{found}`; this otp reads `{}`",
            path.display(),
            TokenFile::FORMAT
        ),
        e => flat(e),
    })
}

/// Writes a new file (mode 0600); refuses to replace one unless `force`.
pub(crate) fn create(file: &TokenFile, path: &Path, force: bool) -> Result<()> {
    let text = file.render().map_err(flat)?;
    let mode = if force { Mode::Replace } else { Mode::Create };
    safefs::write(path, text.as_bytes(), mode).map_err(|e| match e {
        FileError::Exists { .. } => anyhow!(
            "`{}` exists already: choose another file name, or add --force to replace it",
            path.display()
        ),
        e => anyhow::Error::new(e),
    })
}

/// Writes a file in a fresh batch (mode 0600), replacing any file of the
/// same name, without flushing each to the disk (the factory writes
/// thousands, then calls [`safefs::sync_batch`] once).
pub(crate) fn write_new(file: &TokenFile, path: &Path) -> Result<()> {
    let text = file.render().map_err(flat)?;
    Ok(safefs::write(path, text.as_bytes(), Mode::ReplaceInBatch)?)
}

/// Writes the file through a temporary file in the same folder (mode 0600,
/// random name) renamed over `path`.
pub(crate) fn replace(file: &TokenFile, path: &Path) -> Result<()> {
    let text = file.render().map_err(flat)?;
    Ok(safefs::write(path, text.as_bytes(), Mode::Replace)?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
mod tests {
    use std::os::unix::fs::{MetadataExt as _, symlink};

    use super::*;

    fn rfc_file() -> TokenFile {
        TokenFile::parse(
            "format = \"otp-token/1\"\nserial = \"VT0000000042\"\nkind = \"hotp\"\n\
             algorithm = \"SHA1\"\ndigits = 6\nstep = 30\nt0 = 0\ndrift_ppm = 0\n\
             offset = 0\nactivated_at = 0\ncounter = 7\n\
             secret = \"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\"\n",
        )
        .unwrap()
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
        replace(&rfc_file(), &path).unwrap();
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
        let back = read(&path).unwrap();
        assert_eq!(back.counter, 7);
        assert_eq!(back.secret_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    /// `create` without `force` never replaces a file, and says so.
    #[test]
    fn create_refuses_an_existing_file_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(&path, "mine\n").unwrap();
        let e = create(&rfc_file(), &path, false).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "`{}` exists already: choose another file name, or add --force to replace it",
                path.display()
            )
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "mine\n");
        create(&rfc_file(), &path, true).unwrap();
        assert_eq!(read(&path).unwrap().counter, 7);
    }
}
