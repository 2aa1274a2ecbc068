//! Folders: renames that never replace, flushing a folder (or a whole
//! batch of files) to the disk, and creating private folders.

use std::fs::File;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::Path;

use super::FileError;

/// Renames `from` to `to` in the same file system, never replacing
/// anything at `to` (`RENAME_NOREPLACE` on Linux; elsewhere a hard link
/// then the removal of `from`, for files only).
///
/// # Errors
/// [`FileError::Exists`] if `to` exists, [`FileError::Io`] otherwise.
pub(crate) fn rename_noreplace(from: &Path, to: &Path) -> Result<(), FileError> {
    #[cfg(target_os = "linux")]
    let done = rustix::fs::renameat_with(
        rustix::fs::CWD,
        from,
        rustix::fs::CWD,
        to,
        rustix::fs::RenameFlags::NOREPLACE,
    )
    .map_err(std::io::Error::from);
    #[cfg(not(target_os = "linux"))]
    let done = std::fs::hard_link(from, to).and_then(|()| std::fs::remove_file(from));
    done.map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            FileError::Exists {
                path: to.to_owned(),
            }
        } else {
            FileError::Io {
                what: "rename into",
                path: to.to_owned(),
                source,
            }
        }
    })
}

/// Flushes a folder's entries (new names, renames) to the disk.
///
/// # Errors
/// [`FileError::Io`] if the folder cannot be opened or flushed.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), FileError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| FileError::Io {
            what: "flush the folder",
            path: dir.to_owned(),
            source,
        })
}

/// Flushes a batch of files written with [`Mode::ReplaceInBatch`](super::Mode::ReplaceInBatch) into
/// `dir`: on Linux the whole file system of `dir` at once (`syncfs`),
/// elsewhere the folder.
///
/// # Errors
/// [`FileError::Io`] if the folder cannot be opened or flushed.
pub(crate) fn sync_batch(dir: &Path) -> Result<(), FileError> {
    let io = |source| FileError::Io {
        what: "flush the folder",
        path: dir.to_owned(),
        source,
    };
    let folder = File::open(dir).map_err(io)?;
    #[cfg(target_os = "linux")]
    rustix::fs::syncfs(&folder).map_err(|e| io(e.into()))?;
    folder.sync_all().map_err(io)
}

/// Creates `dir` and its missing parents with mode 0700 (an existing
/// folder is left as it is).
///
/// # Errors
/// [`FileError::Io`] if a folder cannot be created.
pub(crate) fn create_private_dir_all(dir: &Path) -> Result<(), FileError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| FileError::Io {
            what: "create the folder",
            path: dir.to_owned(),
            source,
        })
}
