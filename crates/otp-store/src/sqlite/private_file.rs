//! A new database file created private (mode 0600, never through a
//! link, never over anything), and links beside a file refused.

use std::path::Path;

use super::inspect::beside;
use crate::OpenError;

/// Creates a new database file: mode 0600, never through a link, never
/// over anything already there (SQLite would create it with the umask's
/// mode, and its `-wal` and `-shm` take the file's mode).
pub(super) fn create_private(path: &Path) -> Result<(), OpenError> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    // In a folder others may write to, another user could remove the file
    // and put a link or a file of theirs in its place; the sticky bit
    // (as on /tmp) stops them.
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    if let Ok(meta) = std::fs::metadata(dir) {
        let mode = meta.permissions().mode();
        if mode & 0o022 != 0 && mode & 0o1000 == 0 {
            return Err(OpenError::Unavailable(format!(
                "{} is writable by group or others (mode {:04o}) and not sticky: refusing to create the database there",
                dir.display(),
                mode & 0o7777
            )));
        }
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits().cast_signed())
        .open(path)
        .map(drop)
        .map_err(|e| OpenError::Unavailable(format!("{}: {e}", path.display())))
}

/// Refuses a `-wal`, `-shm` or `-journal` beside the file that is a link:
/// SQLite would follow it and write the database's pages elsewhere.
pub(super) fn refuse_linked_companions(path: &Path) -> Result<(), OpenError> {
    for suffix in ["-wal", "-shm", "-journal"] {
        let p = beside(path, suffix);
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(OpenError::Unavailable(format!(
                "{} is a symbolic link: refused (SQLite would write the database through it)",
                p.display()
            )));
        }
    }
    Ok(())
}
