//! Staged writes: a new private file with a random name beside the
//! destination (`O_CREAT | O_EXCL | O_NOFOLLOW`, mode 0600), written (at
//! once, or streamed through a buffer), flushed, read back if asked, then
//! renamed over the destination, or removed when dropped.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::check::{check_folder, destination, parent};
use super::{FileError, Mode, sync_dir};

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
pub(super) fn create_temp(path: &Path) -> Result<tempfile::NamedTempFile, FileError> {
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
pub(super) const BUFFER: usize = 64 * 1024;

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
