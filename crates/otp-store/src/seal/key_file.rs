//! [`KeyFileSealer`]: key-encryption keys in a private file (never a
//! link, owned by the user, mode 0600), created, rotated and retired
//! under a lock on its folder and replaced atomically.

use core::fmt;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use zeroize::Zeroizing;

use super::envelope::random;
use super::sealer::{Kek, unwrap_under, wrap_under};
use super::{KeyFileError, SealError, SecretSealer};

/// The first line of a key file.
const KEY_FILE_HEADER: &str = "otp-store key-encryption keys v1";
/// A key file is a few lines: refuse anything large before reading it.
const KEY_FILE_MAX: u64 = 64 * 1024;

fn io_err(path: &Path, e: &std::io::Error) -> KeyFileError {
    KeyFileError::Io(format!("{}: {e}", path.display()))
}

/// A sealer whose key-encryption keys live in a private file, one
/// `ID HEX` line per key under a header line, the current key first.
///
/// The file is refused if it is a symbolic link, not owned by the user
/// running the program, or readable or writable by anyone else. An unwrap
/// under a key id the sealer does not know reads the file again, so a
/// server keeps serving while another process rotates keys
/// ([`KeyFileSealer::rotate`]).
///
/// # Examples
///
/// ```
/// use otp_store::{KeyFileSealer, SecretSealer};
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("bank.kek");
/// let sealer = KeyFileSealer::create(&path)?;
/// let first = sealer.current_key()?;
/// KeyFileSealer::rotate(&path)?;
/// let sealer = KeyFileSealer::open(&path)?;
/// assert_ne!(sealer.current_key()?, first);
/// assert_eq!(sealer.key_ids()?.len(), 2);
/// KeyFileSealer::retire(&path)?;
/// assert_eq!(KeyFileSealer::open(&path)?.key_ids()?.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct KeyFileSealer {
    path: PathBuf,
    keys: RwLock<Vec<Kek>>,
}

impl fmt::Debug for KeyFileSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyFileSealer")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl KeyFileSealer {
    /// Reads the key file at `path`.
    ///
    /// # Errors
    ///
    /// [`KeyFileError`]: a link, a file others can read or write, a file of
    /// another user, or not a key file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, KeyFileError> {
        let path = path.as_ref().to_path_buf();
        let keys = read_key_file(&path)?;
        Ok(Self {
            path,
            keys: RwLock::new(keys),
        })
    }

    /// Creates a key file with one new random key (mode 0600, never
    /// through a link, never over an existing file) and returns its sealer.
    ///
    /// # Errors
    ///
    /// [`KeyFileError::Exists`] if anything is at `path`; I/O errors.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, KeyFileError> {
        let path = path.as_ref().to_path_buf();
        let keys = vec![new_kek()?];
        let mut file = create_private(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                KeyFileError::Exists(path.clone())
            } else {
                io_err(&path, &e)
            }
        })?;
        let text = render(&keys);
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| io_err(&path, &e))?;
        sync_dir(&path);
        Ok(Self {
            path,
            keys: RwLock::new(keys),
        })
    }

    /// Adds a new random key to the file as the current one, keeping the
    /// old ones (so data keys wrapped under them still open): the first
    /// step of a rotation. Then re-seal the store (`rekey`) and
    /// [`KeyFileSealer::retire`] the old keys. Returns the new key's id.
    ///
    /// # Errors
    ///
    /// As [`KeyFileSealer::open`], and I/O errors writing the file.
    pub fn rotate(path: impl AsRef<Path>) -> Result<String, KeyFileError> {
        let path = path.as_ref();
        let _lock = lock_folder(path)?;
        let mut keys = read_key_file(path)?;
        let new = new_kek()?;
        let id = new.0.clone();
        keys.insert(0, new);
        replace_key_file(path, &keys)?;
        Ok(id)
    }

    /// Keeps only the current key in the file: the last step of a
    /// rotation, once no data key is wrapped under the old ones. Returns
    /// how many keys were removed.
    ///
    /// # Errors
    ///
    /// As [`KeyFileSealer::rotate`].
    pub fn retire(path: impl AsRef<Path>) -> Result<usize, KeyFileError> {
        let path = path.as_ref();
        let _lock = lock_folder(path)?;
        let mut keys = read_key_file(path)?;
        let removed = keys.len().saturating_sub(1);
        keys.truncate(1);
        if removed > 0 {
            replace_key_file(path, &keys)?;
        }
        Ok(removed)
    }

    /// The ids of the keys in the file, current first.
    ///
    /// # Errors
    ///
    /// [`SealError::Unavailable`] if the lock is poisoned.
    pub fn key_ids(&self) -> Result<Vec<String>, SealError> {
        Ok(self
            .keys
            .read()
            .map_err(|_| SealError::Unavailable("lock poisoned".into()))?
            .iter()
            .map(|(id, _)| id.clone())
            .collect())
    }

    /// Runs `f` over the keys, reading the file again first if `key_id`
    /// is not among them.
    fn with_keys<T>(
        &self,
        key_id: &str,
        f: impl FnOnce(&[Kek]) -> Result<T, SealError>,
    ) -> Result<T, SealError> {
        let known = self
            .keys
            .read()
            .map_err(|_| SealError::Unavailable("lock poisoned".into()))?
            .iter()
            .any(|(id, _)| id == key_id);
        if !known {
            let fresh =
                read_key_file(&self.path).map_err(|e| SealError::Unavailable(e.to_string()))?;
            *self
                .keys
                .write()
                .map_err(|_| SealError::Unavailable("lock poisoned".into()))? = fresh;
        }
        let keys = self
            .keys
            .read()
            .map_err(|_| SealError::Unavailable("lock poisoned".into()))?;
        f(&keys)
    }
}

impl SecretSealer for KeyFileSealer {
    fn current_key(&self) -> Result<String, SealError> {
        self.keys
            .read()
            .map_err(|_| SealError::Unavailable("lock poisoned".into()))?
            .first()
            .map(|(id, _)| id.clone())
            .ok_or_else(|| SealError::Unavailable("the key file holds no key".into()))
    }

    fn wrap(
        &self,
        key_id: &str,
        data_key: &[u8; 32],
        context: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        self.with_keys(key_id, |keys| wrap_under(keys, key_id, data_key, context))
    }

    fn unwrap(
        &self,
        key_id: &str,
        wrapped: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>, SealError> {
        self.with_keys(key_id, |keys| unwrap_under(keys, key_id, wrapped, context))
    }
}

const fn libc_nofollow() -> i32 {
    rustix::fs::OFlags::NOFOLLOW.bits().cast_signed()
}

/// An exclusive `flock` on the key file's folder, held while the file is
/// read, changed and renamed over: two rotations at once would otherwise
/// each write their own new key over the other's, and a data key wrapped
/// under the lost one would never open again. (The folder, not the file:
/// the rename replaces the file's inode.)
fn lock_folder(path: &Path) -> Result<std::fs::File, KeyFileError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let folder = std::fs::File::open(dir).map_err(|e| io_err(dir, &e))?;
    rustix::fs::flock(&folder, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| KeyFileError::Io(format!("{}: cannot lock: {e}", dir.display())))?;
    Ok(folder)
}

/// A new file, mode 0600, never over anything at `path` (a link included).
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc_nofollow())
        .open(path)
}

fn new_kek() -> Result<Kek, KeyFileError> {
    let key = Zeroizing::new(random::<32>().map_err(KeyFileError::Io)?);
    let tag: [u8; 6] = random().map_err(KeyFileError::Io)?;
    let id = format!("k{}", hex(&tag));
    Ok((id, key))
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn render(keys: &[Kek]) -> Zeroizing<String> {
    // Sized once: a growing string would leave copies of the keys behind.
    let mut text = Zeroizing::new(String::with_capacity(
        KEY_FILE_HEADER.len() + 1 + keys.iter().map(|(id, _)| id.len() + 66).sum::<usize>(),
    ));
    text.push_str(KEY_FILE_HEADER);
    text.push('\n');
    for (id, key) in keys {
        text.push_str(id);
        text.push(' ');
        text.push_str(&Zeroizing::new(hex(&key[..])));
        text.push('\n');
    }
    text
}

/// Checks and reads a key file: no link, ours, private, small, well formed.
fn read_key_file(path: &Path) -> Result<Vec<Kek>, KeyFileError> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc_nofollow())
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
                KeyFileError::Symlink(path.to_path_buf())
            } else {
                io_err(path, &e)
            }
        })?;
    let meta = file.metadata().map_err(|e| io_err(path, &e))?;
    if !meta.is_file() {
        return Err(KeyFileError::Io(format!(
            "{} is not a file",
            path.display()
        )));
    }
    let owner = meta.uid();
    if owner != rustix::process::geteuid().as_raw() {
        return Err(KeyFileError::Owner {
            path: path.to_path_buf(),
            owner,
        });
    }
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(KeyFileError::Permissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    if meta.len() > KEY_FILE_MAX {
        return Err(KeyFileError::Malformed(format!(
            "{} is {} bytes, more than a key file holds",
            path.display(),
            meta.len()
        )));
    }
    // Sized to the file (at most KEY_FILE_MAX): no reallocation leaves a
    // copy of the keys behind.
    let mut text = Zeroizing::new(String::with_capacity(
        usize::try_from(meta.len()).unwrap_or(0).saturating_add(1),
    ));
    file.read_to_string(&mut text)
        .map_err(|e| io_err(path, &e))?;
    parse(&text)
}

fn parse(text: &str) -> Result<Vec<Kek>, KeyFileError> {
    let mut lines = text.lines();
    if lines.next() != Some(KEY_FILE_HEADER) {
        return Err(KeyFileError::Malformed(format!(
            "the first line is not \"{KEY_FILE_HEADER}\""
        )));
    }
    let mut keys: Vec<Kek> = Vec::new();
    for (n, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = || KeyFileError::Malformed(format!("line {} is not \"ID 64-HEX-DIGITS\"", n + 2));
        let (id, hex) = line.split_once(' ').ok_or_else(bad)?;
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            || keys.iter().any(|(k, _)| k == id)
        {
            return Err(bad());
        }
        let mut key = Zeroizing::new([0u8; 32]);
        let digits = hex.trim().as_bytes();
        if digits.len() != 64 {
            return Err(bad());
        }
        for (out, pair) in key.iter_mut().zip(digits.chunks_exact(2)) {
            let hi = hex_digit(pair.first().copied()).ok_or_else(bad)?;
            let lo = hex_digit(pair.get(1).copied()).ok_or_else(bad)?;
            *out = (hi << 4) | lo;
        }
        keys.push((id.to_owned(), key));
    }
    if keys.is_empty() {
        return Err(KeyFileError::Malformed("the file holds no key".into()));
    }
    Ok(keys)
}

const fn hex_digit(b: Option<u8>) -> Option<u8> {
    match b {
        Some(b @ b'0'..=b'9') => Some(b - b'0'),
        Some(b @ b'a'..=b'f') => Some(b - b'a' + 10),
        Some(b @ b'A'..=b'F') => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Writes `keys` to a new, randomly named private file beside `path` and
/// renames it over `path` (atomic; a link at `path` is replaced, never
/// followed).
fn replace_key_file(path: &Path, keys: &[Kek]) -> Result<(), KeyFileError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| KeyFileError::Io(format!("{} names no file", path.display())))?;
    let tag: [u8; 8] = random().map_err(KeyFileError::Io)?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", hex(&tag)));
    let tmp = dir.join(tmp_name);
    let mut file = create_private(&tmp).map_err(|e| io_err(&tmp, &e))?;
    let written = file
        .write_all(render(keys).as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(path, &e));
    }
    sync_dir(path);
    Ok(())
}

fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_parse_strictly() {
        let good = format!("{KEY_FILE_HEADER}\nk1 {}\n", "ab".repeat(32));
        assert_eq!(parse(&good).unwrap().len(), 1);
        for bad in [
            String::new(),
            "otp-store key-encryption keys v2\n".to_owned(),
            format!("{KEY_FILE_HEADER}\n"),
            format!("{KEY_FILE_HEADER}\nk1 {}\n", "ab".repeat(31)),
            format!("{KEY_FILE_HEADER}\nk1 {}\n", "zz".repeat(32)),
            format!("{KEY_FILE_HEADER}\nk1 {0}\nk1 {0}\n", "ab".repeat(32)),
            format!("{KEY_FILE_HEADER}\nk/1 {}\n", "ab".repeat(32)),
        ] {
            assert!(
                matches!(parse(&bad), Err(KeyFileError::Malformed(_))),
                "{bad:?}"
            );
        }
    }
}
