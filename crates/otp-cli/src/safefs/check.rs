//! Checks before a write: the destination (absent, or a regular file,
//! never a link) and its folder (not writable by group or others unless
//! sticky and the file is new or ours).

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

use super::{FileError, GO_WRITE, STICKY, my_uid};

/// The folder of `path` (`.` for a bare file name).
pub(super) fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."))
}

/// The destination as it is now, never following a link: `None` if
/// absent; a link or anything but a regular file is refused.
pub(super) fn destination(path: &Path) -> Result<Option<Metadata>, FileError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(FileError::Symlink {
            path: path.to_owned(),
        }),
        Ok(m) if !m.is_file() => Err(FileError::NotRegular {
            path: path.to_owned(),
        }),
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(FileError::Io {
            what: "write",
            path: path.to_owned(),
            source,
        }),
    }
}

/// Refuses a folder that group or others can write to, unless it is
/// sticky and the destination (`existing`) is absent or ours.
pub(super) fn check_folder(
    dir: &Path,
    path: &Path,
    existing: Option<&Metadata>,
) -> Result<(), FileError> {
    let meta = std::fs::metadata(dir).map_err(|source| FileError::Io {
        what: "write into the folder",
        path: dir.to_owned(),
        source,
    })?;
    let mode = meta.mode() & 0o7777;
    if mode & GO_WRITE == 0 {
        return Ok(());
    }
    if mode & STICKY == 0 {
        return Err(FileError::UnsafeFolder {
            dir: dir.to_owned(),
            mode,
        });
    }
    let me = my_uid();
    match existing {
        Some(m) if m.uid() != me => Err(FileError::NotOwned {
            path: path.to_owned(),
            owner: m.uid(),
            me,
        }),
        _ => Ok(()),
    }
}

/// Checks a destination as [`write()`](super::staged::write) would, without writing: `Ok(false)`
/// if nothing is there, `Ok(true)` for a regular file that may be
/// replaced; a link, anything but a regular file, or a folder others can
/// write to (unless sticky and the file is new or ours) is refused.
///
/// # Errors
/// [`FileError::Symlink`], [`FileError::NotRegular`],
/// [`FileError::UnsafeFolder`], [`FileError::NotOwned`], [`FileError::Io`].
pub(crate) fn check_destination(path: &Path) -> Result<bool, FileError> {
    let existing = destination(path)?;
    check_folder(parent(path), path, existing.as_ref())?;
    Ok(existing.is_some())
}
