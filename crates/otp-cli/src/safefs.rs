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
use std::fs::{File, Metadata, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

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

/// The folder of `path` (`.` for a bare file name).
fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."))
}

/// The destination as it is now, never following a link: `None` if
/// absent; a link or anything but a regular file is refused.
fn destination(path: &Path) -> Result<Option<Metadata>, FileError> {
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
fn check_folder(dir: &Path, path: &Path, existing: Option<&Metadata>) -> Result<(), FileError> {
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

/// Writes `bytes` to `path` as a private file (mode 0600): through a new
/// temporary file with a random name in the same folder (`O_EXCL`,
/// `O_NOFOLLOW`), flushed to the disk, renamed over `path`. Refused: a
/// link at `path`, anything but a regular file there, a folder others can
/// write to (unless sticky and `path` is new or ours), an existing `path`
/// under [`Mode::Create`]. The temporary file never outlives an error.
///
/// # Errors
/// A [`FileError`] naming the path.
pub(crate) fn write(path: &Path, bytes: &[u8], mode: Mode) -> Result<(), FileError> {
    stage(path, bytes, mode)?.commit()
}

/// A private file written (and, unless [`Mode::ReplaceInBatch`], flushed)
/// under a random temporary name beside its destination, not yet renamed
/// over it: [`Staged::commit`] does; dropping it removes the temporary
/// file. For all-or-nothing batches (`otp factory`).
#[derive(Debug)]
pub(crate) struct Staged {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
    mode: Mode,
}

/// The first half of [`write()`]: the checks, and `bytes` in a new
/// temporary file beside `path`.
///
/// # Errors
/// As [`write()`].
pub(crate) fn stage(path: &Path, bytes: &[u8], mode: Mode) -> Result<Staged, FileError> {
    let mut tmp = create_temp(path)?;
    let io = |source| FileError::Io {
        what: "write",
        path: path.to_owned(),
        source,
    };
    // Dropping `tmp` (on any `?` below) removes the temporary file.
    tmp.as_file_mut().write_all(bytes).map_err(io)?;
    if mode != Mode::ReplaceInBatch {
        tmp.as_file().sync_all().map_err(io)?;
    }
    Ok(Staged {
        tmp,
        path: path.to_owned(),
        mode,
    })
}

/// The checks of [`write()`], and a new private temporary file beside
/// `path` (random name, `O_EXCL`, `O_NOFOLLOW`, mode 0600), open for
/// reading and writing; dropping it removes it.
fn create_temp(path: &Path) -> Result<tempfile::NamedTempFile, FileError> {
    let dir = parent(path);
    let existing = destination(path)?;
    // Under `Mode::Create` an existing file is refused by the rename
    // itself (`RENAME_NOREPLACE`, or a hard link), atomically.
    check_folder(dir, path, existing.as_ref())?;
    tempfile::Builder::new()
        .prefix(".otp-")
        .suffix(".tmp")
        .rand_bytes(16)
        .make_in(dir, |name| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(name)
        })
        .map_err(|source| FileError::Io {
            what: "write",
            path: path.to_owned(),
            source,
        })
}

/// The buffer of a [`StagedWriter`] and of a [`StagedReader`]: 64 KiB.
const BUFFER: usize = 64 * 1024;

/// A private file written as a stream: [`stage()`] for contents too large
/// to hold (the factory's seed file). The bytes go through a buffer of
/// its own, zeroized when dropped (they may be secrets), into a new
/// temporary file beside the destination, with the same checks and
/// guarantees as [`stage()`]; [`StagedWriter::finish`] flushes it to the
/// disk and gives the [`Staged`] file. Dropped before, on any error, the
/// temporary file is removed.
pub(crate) struct StagedWriter {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
    mode: Mode,
    buf: Zeroizing<Vec<u8>>,
    /// Bytes written so far (buffered included).
    written: u64,
    /// The first write error, for its message (the PSKC writer keeps
    /// only that it failed).
    failure: Option<(std::io::ErrorKind, String)>,
}

impl fmt::Debug for StagedWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StagedWriter")
            .field("path", &self.path)
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

/// Starts a [`StagedWriter`] for `path`: the checks of [`write()`], and a
/// new temporary file beside it.
///
/// # Errors
/// As [`write()`].
pub(crate) fn stage_writer(path: &Path, mode: Mode) -> Result<StagedWriter, FileError> {
    Ok(StagedWriter {
        tmp: create_temp(path)?,
        path: path.to_owned(),
        mode,
        buf: Zeroizing::new(Vec::with_capacity(BUFFER)),
        written: 0,
        failure: None,
    })
}

impl StagedWriter {
    /// Writes out the buffer (and zeroes it).
    fn flush_buf(&mut self) -> std::io::Result<()> {
        let result = self.tmp.as_file_mut().write_all(&self.buf);
        // `Zeroizing` zeroes on drop only: the bytes written are cleared
        // here, the capacity kept.
        zeroize::Zeroize::zeroize(&mut *self.buf);
        self.buf.reserve(BUFFER);
        self.remember(result)
    }

    fn remember<T>(&mut self, result: std::io::Result<T>) -> std::io::Result<T> {
        if let (Err(e), None) = (&result, &self.failure) {
            self.failure = Some((e.kind(), e.to_string()));
        }
        result
    }

    /// How many bytes have been written.
    pub(crate) const fn written(&self) -> u64 {
        self.written
    }

    /// The first write error, as a [`FileError`] naming the destination.
    pub(crate) fn failure(&self) -> Option<FileError> {
        self.failure.as_ref().map(|(kind, message)| FileError::Io {
            what: "write",
            path: self.path.clone(),
            source: std::io::Error::new(*kind, message.clone()),
        })
    }

    /// Writes out what is buffered and flushes the file to the disk
    /// (unless [`Mode::ReplaceInBatch`]): the file, staged.
    ///
    /// # Errors
    /// [`FileError::Io`]; the temporary file is removed.
    pub(crate) fn finish(mut self) -> Result<Staged, FileError> {
        let flushed = self.flush_buf();
        let synced = flushed.and_then(|()| {
            if self.mode == Mode::ReplaceInBatch {
                Ok(())
            } else {
                self.tmp.as_file().sync_all()
            }
        });
        let Self {
            tmp, path, mode, ..
        } = self;
        synced.map_err(|source| FileError::Io {
            what: "write",
            path: path.clone(),
            source,
        })?;
        Ok(Staged { tmp, path, mode })
    }
}

impl std::io::Write for StagedWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len().saturating_add(data.len()) > BUFFER {
            self.flush_buf()?;
        }
        if data.len() >= BUFFER {
            let result = self.tmp.as_file_mut().write_all(data);
            self.remember(result)?;
        } else {
            // Within the capacity: the buffer never reallocates (a
            // reallocation would leave a copy behind, unzeroed).
            self.buf.extend_from_slice(data);
        }
        let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
        self.written = self.written.saturating_add(len);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.flush_buf()
    }
}

/// A staged file read back from its start, through the same open file
/// (never by its name again), with a buffer of its own zeroized when
/// dropped.
pub(crate) struct StagedReader<'a> {
    file: &'a File,
    buf: Zeroizing<Vec<u8>>,
    pos: usize,
}

impl std::io::Read for StagedReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = {
            let available = std::io::BufRead::fill_buf(self)?;
            let n = available.len().min(out.len());
            if let (Some(to), Some(from)) = (out.get_mut(..n), available.get(..n)) {
                to.copy_from_slice(from);
            }
            n
        };
        std::io::BufRead::consume(self, n);
        Ok(n)
    }
}

impl std::io::BufRead for StagedReader<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.pos >= self.buf.len() {
            self.pos = 0;
            self.buf.resize(BUFFER, 0);
            let n = (&*self.file).read(&mut self.buf)?;
            self.buf.truncate(n);
        }
        Ok(self.buf.get(self.pos..).unwrap_or_default())
    }

    fn consume(&mut self, amount: usize) {
        self.pos = self.pos.saturating_add(amount).min(self.buf.len());
    }
}

impl Staged {
    /// Reads the staged file back from its start, through the open file.
    ///
    /// # Errors
    /// [`FileError::Io`] if it cannot be rewound.
    pub(crate) fn read_back(&self) -> Result<StagedReader<'_>, FileError> {
        use std::io::Seek as _;
        let mut file = self.tmp.as_file();
        file.rewind().map_err(|source| FileError::Io {
            what: "read back",
            path: self.path.clone(),
            source,
        })?;
        Ok(StagedReader {
            file,
            buf: Zeroizing::new(Vec::with_capacity(BUFFER)),
            pos: 0,
        })
    }

    /// The second half of [`write()`]: renames the temporary file over
    /// the destination (never over a link; under [`Mode::Create`] never
    /// over any file) and flushes the folder.
    ///
    /// # Errors
    /// As [`write()`]; the temporary file is removed.
    pub(crate) fn commit(self) -> Result<(), FileError> {
        let Self { tmp, path, mode } = self;
        let io = |source| FileError::Io {
            what: "write",
            path: path.clone(),
            source,
        };
        // Looked at again just before the rename: a link planted meanwhile is
        // refused too (the rename would only replace the link itself).
        destination(&path)?;
        let persisted = if mode == Mode::Create {
            tmp.persist_noclobber(&path)
        } else {
            tmp.persist(&path)
        };
        if let Err(e) = persisted {
            // `e.file` is the temporary file; dropping it removes it.
            return Err(match e.error.kind() {
                std::io::ErrorKind::AlreadyExists if mode == Mode::Create => {
                    FileError::Exists { path: path.clone() }
                }
                _ => io(e.error),
            });
        }
        if mode != Mode::ReplaceInBatch {
            sync_dir(parent(&path))?;
        }
        Ok(())
    }
}

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

/// Checks a destination as [`write()`] would, without writing: `Ok(false)`
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

/// Flushes a batch of files written with [`Mode::ReplaceInBatch`] into
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
mod tests {
    use std::os::unix::fs::{PermissionsExt as _, symlink};

    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn mode_of(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn writes_a_private_file_and_leaves_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        write(&path, b"one", Mode::Create).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        assert_eq!(mode_of(&path), 0o600);
        write(&path, b"two", Mode::Replace).unwrap();
        write(&path, b"three", Mode::ReplaceInBatch).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"three");
        assert_eq!(mode_of(&path), 0o600);
        assert_eq!(names(dir.path()), ["f"]);
    }

    /// A file written as a stream, in pieces small and large across the
    /// buffer, is a private temporary file until committed, reads back
    /// exactly (twice: each read starts over), and is removed if dropped
    /// before; its destination is checked as `write`'s.
    #[test]
    fn a_streamed_file_is_staged_reads_back_and_is_removed_unless_committed() {
        use std::io::Write as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut w = stage_writer(&path, Mode::Create).unwrap();
        w.write_all(&data[..10]).unwrap();
        w.write_all(&data[10..100_000]).unwrap();
        for chunk in data[100_000..].chunks(999) {
            w.write_all(chunk).unwrap();
        }
        assert_eq!(w.written(), 200_000);
        assert!(w.failure().is_none());
        let temp = names(dir.path());
        assert_eq!(temp.len(), 1);
        assert!(temp[0].starts_with(".otp-") && temp[0].ends_with(".tmp"));
        assert_eq!(mode_of(&dir.path().join(&temp[0])), 0o600);
        let staged = w.finish().unwrap();
        for _ in 0..2 {
            let mut back = Vec::new();
            staged.read_back().unwrap().read_to_end(&mut back).unwrap();
            assert!(back == data, "read back {} bytes", back.len());
        }
        let mut small = [0u8; 7];
        std::io::Read::read_exact(&mut staged.read_back().unwrap(), &mut small).unwrap();
        assert_eq!(small, data[..7]);
        staged.commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), data);
        assert_eq!(mode_of(&path), 0o600);
        let mut w = stage_writer(&dir.path().join("g"), Mode::Create).unwrap();
        w.write_all(b"secret").unwrap();
        drop(w);
        let w = stage_writer(&dir.path().join("g"), Mode::Create).unwrap();
        drop(w.finish().unwrap());
        assert_eq!(names(dir.path()), ["f"]);
        symlink(&path, dir.path().join("link")).unwrap();
        let e = stage_writer(&dir.path().join("link"), Mode::Replace).unwrap_err();
        assert!(matches!(e, FileError::Symlink { .. }), "{e}");
        assert_eq!(names(dir.path()), ["f", "link"]);
    }

    #[test]
    fn create_refuses_an_existing_file_and_removes_its_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"theirs").unwrap();
        let e = write(&path, b"ours", Mode::Create).unwrap_err();
        assert!(matches!(e, FileError::Exists { .. }), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), b"theirs");
        assert_eq!(names(dir.path()), ["f"]);
    }

    #[test]
    fn a_folder_at_the_destination_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("x"), b"x").unwrap();
        let e = write(&path, b"ours", Mode::Replace).unwrap_err();
        assert!(matches!(e, FileError::NotRegular { .. }), "{e}");
        assert_eq!(names(dir.path()), ["f"]);
    }

    #[test]
    fn links_are_refused_at_the_destination_and_on_reading() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, b"unrelated").unwrap();
        let link = dir.path().join("link");
        symlink(&target, &link).unwrap();
        for mode in [Mode::Create, Mode::Replace, Mode::ReplaceInBatch] {
            let e = write(&link, b"secret", mode).unwrap_err();
            assert!(matches!(e, FileError::Symlink { .. }), "{e}");
        }
        let e = read_private(&link).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "`{}` is a symbolic link: refusing it; put the file itself there",
                link.display()
            )
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"unrelated");
        assert_eq!(names(dir.path()), ["link", "target"]);
    }

    #[test]
    fn folders_others_can_write_to_need_the_sticky_bit() {
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = write(&open.join("f"), b"s", Mode::Create).unwrap_err();
        assert!(
            matches!(e, FileError::UnsafeFolder { mode: 0o777, .. }),
            "{e}"
        );
        assert!(names(&open).is_empty());
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        write(&open.join("f"), b"s", Mode::Create).unwrap();
        assert_eq!(names(&open), ["f"]);
    }

    #[test]
    fn created_folders_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b/c");
        create_private_dir_all(&deep).unwrap();
        for p in ["a", "a/b", "a/b/c"] {
            assert_eq!(mode_of(&dir.path().join(p)), 0o700, "{p}");
        }
    }

    #[test]
    fn reading_refuses_files_open_to_writing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        write(&path, b"secret", Mode::Create).unwrap();
        assert_eq!(read_private(&path).unwrap().as_str(), "secret");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o602)).unwrap();
        let e = read_private(&path).unwrap_err();
        assert!(
            matches!(e, FileError::OpenToOthers { mode: 0o602, .. }),
            "{e}"
        );
        let e = read_private(&dir.path().join("none")).unwrap_err();
        assert!(matches!(e, FileError::NotFound { .. }), "{e}");
    }
}
