//! Why sealing failed: [`SealError`] (a sealer could not wrap or unwrap
//! a data key) and [`KeyFileError`] (a key file was refused).

use core::fmt;
use std::path::PathBuf;

/// Why a sealer could not wrap or unwrap a data key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealError {
    /// The sealer has no key-encryption key with this id (the key file is
    /// not the one this store was sealed with, or the key was retired
    /// before every data key was moved off it).
    UnknownKey(String),
    /// The wrapped key does not open under the named key: a different key
    /// with the same id, or the stored data key was altered.
    Refused,
    /// The key service could not be reached or the key file read.
    Unavailable(String),
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownKey(id) => write!(f, "no key-encryption key with id {id}"),
            Self::Refused => f.write_str(
                "a stored data key does not open under its key-encryption key (wrong key file, or the database was altered)",
            ),
            Self::Unavailable(m) => write!(f, "the key-encryption key is unavailable: {m}"),
        }
    }
}

impl core::error::Error for SealError {}

/// Why a key file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The file could not be read or written.
    Io(String),
    /// The path is a symbolic link (never followed).
    Symlink(PathBuf),
    /// The file is readable or writable by group or others.
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its mode bits.
        mode: u32,
    },
    /// The file belongs to another user.
    Owner {
        /// The file.
        path: PathBuf,
        /// Its owner's uid.
        owner: u32,
    },
    /// The file exists already (when creating one).
    Exists(PathBuf),
    /// The file is not a key file (header, a line, a key's length).
    Malformed(String),
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(m) => write!(f, "key file: {m}"),
            Self::Symlink(p) => write!(
                f,
                "key file {} is a symbolic link: refused (point at the file itself)",
                p.display()
            ),
            Self::Permissions { path, mode } => write!(
                f,
                "key file {} has mode {:04o}: it must be readable by its owner only (chmod 600)",
                path.display(),
                mode & 0o7777
            ),
            Self::Owner { path, owner } => write!(
                f,
                "key file {} belongs to uid {owner}, not to the user running this program",
                path.display()
            ),
            Self::Exists(p) => write!(
                f,
                "key file {} exists already: not overwritten",
                p.display()
            ),
            Self::Malformed(m) => write!(f, "not a key file: {m}"),
        }
    }
}

impl core::error::Error for KeyFileError {}
