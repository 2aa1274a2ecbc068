//! Files that hold secrets (token files, the factory's seed file, the
//! bank's key file): every write and every read goes through here.
//!
//! A write goes to a new file with a random name in the destination's
//! folder, opened with `O_CREAT | O_EXCL | O_NOFOLLOW` and mode 0600, is
//! written and flushed to the disk (`fsync`), then renamed over the
//! destination, and the folder is flushed too. A link at the destination
//! is refused (a rename would replace the link itself, not its target,
//! but a link there is someone's plan), and so is a folder that group or
//! others can write to, unless it is sticky (like `/tmp`) and the
//! destination is new or ours. On any error the temporary file is removed.
//!
//! A read opens with `O_NOFOLLOW` and checks the open file: a regular
//! file, owned by the caller.
//!
//! This is the pattern of liboath's CVE-2024-47191, where a program run
//! as root wrote through links a user had planted in the folder.

use std::fmt;
use std::path::PathBuf;

mod check;
mod folder;
mod private;
mod staged;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
mod tests;

pub(crate) use check::check_destination;
pub(crate) use folder::{create_private_dir_all, rename_noreplace, sync_batch, sync_dir};
pub(crate) use private::{open_private, read_private};
pub(crate) use staged::{Staged, StagedWriter, stage_writer, write};

/// Why a private file was not written or read.
#[derive(Debug)]
pub(crate) enum FileError {
    /// The path is a symbolic link.
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// The path is something else than a regular file (a folder, a pipe…).
    NotRegular {
        /// The path.
        path: PathBuf,
    },
    /// The file belongs to another user.
    NotOwned {
        /// The file.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// The caller (effective user ID).
        me: u32,
    },
    /// Group or others can write to the file.
    OpenToOthers {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Group or others can write to the folder, and it is not sticky.
    UnsafeFolder {
        /// The folder.
        dir: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The destination exists and may not be replaced.
    Exists {
        /// The destination.
        path: PathBuf,
    },
    /// The file does not exist.
    NotFound {
        /// The path.
        path: PathBuf,
    },
    /// The operating system refused.
    Io {
        /// What was being done: "write", "read", "create the folder"…
        what: &'static str,
        /// On what.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Symlink { path } => write!(
                f,
                "`{}` is a symbolic link: refusing it; put the file itself there",
                path.display()
            ),
            Self::NotRegular { path } => write!(f, "`{}` is not a regular file", path.display()),
            Self::NotOwned { path, owner, me } => write!(
                f,
                "`{}` belongs to user {owner}, not to you (user {me}): refusing it",
                path.display()
            ),
            Self::OpenToOthers { path, mode } => write!(
                f,
                "`{p}` is writable by group or others (mode {mode:04o}): refusing it; \
                 make it private (chmod 600 {p})",
                p = path.display()
            ),
            Self::UnsafeFolder { dir, mode } => write!(
                f,
                "the folder `{d}` is writable by group or others (mode {mode:04o}) and not sticky: \
                 refusing to keep a secret in it (chmod go-w {d})",
                d = dir.display()
            ),
            Self::Exists { path } => write!(f, "`{}` exists already", path.display()),
            Self::NotFound { path } => write!(f, "`{}` does not exist", path.display()),
            Self::Io { what, path, source } => {
                write!(f, "cannot {what} `{}`: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The caller's effective user ID: the owner of the files it creates.
pub(crate) fn my_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Permission bits: group or others may write.
const GO_WRITE: u32 = 0o022;

/// The sticky bit: only a file's owner may rename or delete it.
const STICKY: u32 = 0o1000;

/// How [`write()`] treats an existing destination and the folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Only a new file: an existing one (or a link) is refused, atomically.
    Create,
    /// Replace any regular file of the same name; flush the folder too.
    Replace,
    /// As `Replace`, but neither the file nor the folder is flushed: one
    /// of many files written together (the factory's thousands, at one
    /// `fsync` each would take minutes); call [`sync_batch`] after the
    /// last, which flushes them all at once.
    ReplaceInBatch,
}
