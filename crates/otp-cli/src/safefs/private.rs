//! Reading a private file: opened with `O_NOFOLLOW` (and `O_NONBLOCK`),
//! then checked through the open file: a regular file, the caller's, not
//! open to writing by group or others.

use std::fs::{File, Metadata, OpenOptions};
use std::io::Read as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::Path;

use zeroize::Zeroizing;

use super::{FileError, GO_WRITE, my_uid};

/// Opens a private file for reading, never through a link (`O_NOFOLLOW`;
/// `O_NONBLOCK` so that a pipe planted there cannot hang the caller), and
/// checks the open file: a regular file owned by the caller. The
/// permission bits are the caller's to check (they differ per file).
///
/// # Errors
/// [`FileError::NotFound`], [`FileError::Symlink`],
/// [`FileError::NotRegular`], [`FileError::NotOwned`], [`FileError::Io`].
pub(crate) fn open_private(path: &Path) -> Result<(File, Metadata), FileError> {
    let io = |source| FileError::Io {
        what: "read",
        path: path.to_owned(),
        source,
    };
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                FileError::NotFound {
                    path: path.to_owned(),
                }
            } else if e.raw_os_error() == Some(libc::ELOOP) {
                FileError::Symlink {
                    path: path.to_owned(),
                }
            } else {
                io(e)
            }
        })?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(FileError::NotRegular {
            path: path.to_owned(),
        });
    }
    let me = my_uid();
    if meta.uid() != me {
        return Err(FileError::NotOwned {
            path: path.to_owned(),
            owner: meta.uid(),
            me,
        });
    }
    Ok((file, meta))
}

/// Reads a private text file as [`open_private`] opens it, also refusing
/// one that group or others can write to.
///
/// # Errors
/// As [`open_private`], and [`FileError::OpenToOthers`]; [`FileError::Io`]
/// if it is not UTF-8.
pub(crate) fn read_private(path: &Path) -> Result<Zeroizing<String>, FileError> {
    let (mut file, meta) = open_private(path)?;
    let mode = meta.mode() & 0o7777;
    if mode & GO_WRITE != 0 {
        return Err(FileError::OpenToOthers {
            path: path.to_owned(),
            mode,
        });
    }
    let mut text = Zeroizing::new(String::new());
    file.read_to_string(&mut text)
        .map_err(|source| FileError::Io {
            what: "read",
            path: path.to_owned(),
            source,
        })?;
    Ok(text)
}
