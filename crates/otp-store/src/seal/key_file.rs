//! Token secrets sealed at rest: envelope encryption with AES-256-GCM.
//!
//! Each store holds one or more *data keys* (random 256-bit AES-GCM keys).
//! A token's secret is stored only as `AES-256-GCM(data key, secret)`,
//! with the store's identity, the data key's id and the token's serial as
//! associated data, so a sealed secret moved to another row, another data
//! key or another database does not open. The data keys themselves are
//! stored only wrapped by a *key-encryption key* (KEK) that never enters
//! the database: a [`SecretSealer`] holds it. The shipped sealer,
//! [`KeyFileSealer`], reads KEKs from a private key file; a bank plugs an
//! HSM or a KMS in by implementing the trait.
//!
//! Opening a store unwraps its data keys once (a wrong or missing KEK is
//! [`OpenError::SealingKey`](crate::OpenError::SealingKey)); a
//! verification then costs one AES-GCM open of a few dozen bytes, and the
//! plaintext lives only in a zeroizing buffer for that verification.

use core::fmt;
use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use aes_gcm::aead::AeadInOut as _;
use aes_gcm::{Aes256Gcm, KeyInit as _};
use otp_exchange::StoreError;
use zeroize::Zeroizing;

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

/// The holder of the key-encryption keys (KEKs) that wrap a store's data
/// keys. Implement it to keep the KEK in an HSM or a KMS; the store never
/// sees a KEK, only wrapped and unwrapped data keys.
///
/// `context` is associated data that the wrap must authenticate (it names
/// the store and the data key): an unwrap with another context must fail.
pub trait SecretSealer: Send + Sync + fmt::Debug {
    /// The id of the KEK that new data keys are wrapped under.
    ///
    /// # Errors
    ///
    /// [`SealError::Unavailable`] when the key service cannot say.
    fn current_key(&self) -> Result<String, SealError>;

    /// Wraps `data_key` under the KEK `key_id`.
    ///
    /// # Errors
    ///
    /// [`SealError::UnknownKey`] or [`SealError::Unavailable`].
    fn wrap(&self, key_id: &str, data_key: &[u8; 32], context: &[u8])
    -> Result<Vec<u8>, SealError>;

    /// Unwraps a data key wrapped under the KEK `key_id`.
    ///
    /// # Errors
    ///
    /// [`SealError::UnknownKey`], [`SealError::Refused`] (wrong key or
    /// altered data) or [`SealError::Unavailable`].
    fn unwrap(
        &self,
        key_id: &str,
        wrapped: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>, SealError>;
}

/// The envelope's version byte, first in every sealed value.
const ENVELOPE_V1: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

fn random<const N: usize>() -> Result<[u8; N], String> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|e| format!("the operating system's RNG failed: {e}"))?;
    Ok(out)
}

/// `version ‖ nonce ‖ AES-256-GCM(key, plaintext, aad)`.
fn seal_with(cipher: &Aes256Gcm, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, String> {
    let nonce: [u8; NONCE_LEN] = random()?;
    // The plaintext is copied only into this zeroizing buffer, sized for
    // the tag so that encrypting never moves it.
    let mut body = Zeroizing::new(Vec::with_capacity(plaintext.len() + TAG_LEN));
    body.extend_from_slice(plaintext);
    cipher
        .encrypt_in_place(&nonce.into(), aad, &mut *body)
        .map_err(|_| "AES-GCM refused to seal".to_owned())?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + body.len());
    out.push(ENVELOPE_V1);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&body);
    Ok(out)
}

/// Opens what [`seal_with`] made; the plaintext only ever in a zeroizing
/// buffer. `None` for anything that does not open.
fn open_with(cipher: &Aes256Gcm, sealed: &[u8], aad: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let (&version, rest) = sealed.split_first()?;
    if version != ENVELOPE_V1 || rest.len() < NONCE_LEN + TAG_LEN {
        return None;
    }
    let (nonce, body) = rest.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
    let mut buf = Zeroizing::new(body.to_vec());
    cipher
        .decrypt_in_place(&nonce.into(), aad, &mut *buf)
        .ok()?;
    Some(buf)
}

fn cipher(key: &[u8; 32]) -> Aes256Gcm {
    // A 32-byte slice is always a valid AES-256 key.
    #[allow(clippy::expect_used)]
    Aes256Gcm::new_from_slice(key).expect("32 bytes is an AES-256 key")
}

// ---------------------------------------------------------------------
// The store's side: data keys, their cache, sealing and opening secrets.
// ---------------------------------------------------------------------

/// Associated data of a wrapped data key.
pub(crate) fn data_key_context(store_id: &[u8], id: i64) -> Vec<u8> {
    let mut c = b"otp-store/data-key/v1\0".to_vec();
    c.extend_from_slice(store_id);
    c.extend_from_slice(&id.to_be_bytes());
    c
}

/// Associated data of a sealed token secret.
fn secret_context(store_id: &[u8], key: i64, serial: &str) -> Vec<u8> {
    let mut c = b"otp-store/token-secret/v1\0".to_vec();
    c.extend_from_slice(store_id);
    c.extend_from_slice(&key.to_be_bytes());
    c.extend_from_slice(serial.as_bytes());
    c
}

/// A data key's row: `(id, kek id, wrapped key)`.
pub(crate) type DataKeyRow = (i64, String, Vec<u8>);

/// A new data key for a store: its row, to insert, and its cipher.
pub(crate) struct NewDataKey {
    pub(crate) kek_id: String,
    pub(crate) wrapped: Vec<u8>,
    key: Zeroizing<[u8; 32]>,
}

impl NewDataKey {
    /// A fresh random data key for row `id`, wrapped under the sealer's
    /// current KEK.
    pub(crate) fn generate(
        sealer: &dyn SecretSealer,
        store_id: &[u8],
        id: i64,
    ) -> Result<Self, StoreError> {
        let key = Zeroizing::new(random::<32>().map_err(StoreError::Unavailable)?);
        let kek_id = sealer.current_key().map_err(seal_store_err)?;
        let wrapped = sealer
            .wrap(&kek_id, &key, &data_key_context(store_id, id))
            .map_err(seal_store_err)?;
        Ok(Self {
            kek_id,
            wrapped,
            key,
        })
    }
}

pub(crate) fn seal_store_err(e: SealError) -> StoreError {
    StoreError::Unavailable(format!("sealing token secrets: {e}"))
}

/// The data keys of one store, unwrapped, as ciphers ready to use.
pub(crate) struct DataKeys {
    store_id: Vec<u8>,
    keys: RwLock<BTreeMap<i64, Aes256Gcm>>,
}

impl fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<i64> = self
            .keys
            .read()
            .map(|k| k.keys().copied().collect())
            .unwrap_or_default();
        f.debug_struct("DataKeys")
            .field("data_key_ids", &ids)
            .finish_non_exhaustive()
    }
}

impl DataKeys {
    /// No keys yet (a store being opened).
    pub(crate) fn empty() -> Self {
        Self {
            store_id: Vec::new(),
            keys: RwLock::new(BTreeMap::new()),
        }
    }

    /// Unwraps every row with `sealer`.
    pub(crate) fn unwrap_all(
        sealer: &dyn SecretSealer,
        store_id: Vec<u8>,
        rows: &[DataKeyRow],
    ) -> Result<Self, SealError> {
        let keys = Self::unwrap_rows(sealer, &store_id, rows)?;
        Ok(Self {
            store_id,
            keys: RwLock::new(keys),
        })
    }

    fn unwrap_rows(
        sealer: &dyn SecretSealer,
        store_id: &[u8],
        rows: &[DataKeyRow],
    ) -> Result<BTreeMap<i64, Aes256Gcm>, SealError> {
        let mut keys = BTreeMap::new();
        for (id, kek, wrapped) in rows {
            let key = sealer.unwrap(kek, wrapped, &data_key_context(store_id, *id))?;
            keys.insert(*id, cipher(&key));
        }
        Ok(keys)
    }

    /// Replaces the cache with `rows` (after another process added or
    /// retired a data key).
    pub(crate) fn reload(
        &self,
        sealer: &dyn SecretSealer,
        rows: &[DataKeyRow],
    ) -> Result<(), StoreError> {
        let keys = Self::unwrap_rows(sealer, &self.store_id, rows).map_err(seal_store_err)?;
        *self.keys.write().map_err(|_| poisoned())? = keys;
        Ok(())
    }

    /// Adds a key generated by this process.
    pub(crate) fn insert(&self, id: i64, key: &NewDataKey) -> Result<(), StoreError> {
        self.keys
            .write()
            .map_err(|_| poisoned())?
            .insert(id, cipher(&key.key));
        Ok(())
    }

    /// The store's identity (associated data of every sealed value).
    pub(crate) fn store_id(&self) -> &[u8] {
        &self.store_id
    }

    /// The newest data key's id: the one new secrets are sealed under.
    pub(crate) fn current(&self) -> Result<i64, StoreError> {
        self.keys
            .read()
            .map_err(|_| poisoned())?
            .keys()
            .next_back()
            .copied()
            .ok_or_else(|| StoreError::Corrupt("the store has no data key".into()))
    }

    /// Seals a token's secret under data key `key`.
    pub(crate) fn seal(
        &self,
        key: i64,
        serial: &str,
        secret: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let keys = self.keys.read().map_err(|_| poisoned())?;
        let cipher = keys
            .get(&key)
            .ok_or_else(|| StoreError::Corrupt(format!("data key {key} is not loaded")))?;
        seal_with(cipher, secret, &secret_context(&self.store_id, key, serial))
            .map_err(StoreError::Unavailable)
    }

    /// Opens a token's sealed secret: `Ok(None)` when data key `key` is not
    /// loaded (reload and try again), an error when it does not open.
    pub(crate) fn open(
        &self,
        key: i64,
        serial: &str,
        sealed: &[u8],
    ) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        let keys = self.keys.read().map_err(|_| poisoned())?;
        let Some(cipher) = keys.get(&key) else {
            return Ok(None);
        };
        open_with(cipher, sealed, &secret_context(&self.store_id, key, serial))
            .map(Some)
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "the sealed secret of token {} does not open (altered, or moved from another row or store)",
                    crate::codec::masked(serial)
                ))
            })
    }
}

impl DataKeys {
    /// Opens a token's sealed secret under data key `key`; when that key
    /// is not loaded (another process made it), `reload`s the keys and
    /// tries once more. A row without a data key (a plaintext secret
    /// written behind the store's back) or a key still unknown is
    /// [`StoreError::Corrupt`].
    pub(crate) fn open_reloading(
        &self,
        key: Option<i64>,
        serial: &str,
        sealed: &[u8],
        reload: impl FnOnce() -> Result<(), StoreError>,
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let key = key.ok_or_else(|| crate::codec::corrupt("a token's secret is not sealed"))?;
        if let Some(secret) = self.open(key, serial, sealed)? {
            return Ok(secret);
        }
        reload()?;
        self.open(key, serial, sealed)?
            .ok_or_else(|| crate::codec::corrupt("a token is sealed under an unknown data key"))
    }
}

fn poisoned() -> StoreError {
    StoreError::Unavailable("the data-key cache's lock is poisoned".into())
}

/// What [`SqliteStore::rekey`](crate::SqliteStore::rekey) and
/// [`PgStore::rekey`](crate::PgStore::rekey) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rekeyed {
    /// The new data key's id.
    pub data_key: i64,
    /// Token secrets re-sealed under it.
    pub resealed: u64,
    /// Old data keys removed (no row used them any more).
    pub retired: u64,
}

// ---------------------------------------------------------------------
// Sealers.
// ---------------------------------------------------------------------

/// One key-encryption key: its id and its 32 bytes.
type Kek = (String, Zeroizing<[u8; 32]>);

fn wrap_under(
    keys: &[Kek],
    key_id: &str,
    data_key: &[u8; 32],
    context: &[u8],
) -> Result<Vec<u8>, SealError> {
    let (_, kek) = keys
        .iter()
        .find(|(id, _)| id == key_id)
        .ok_or_else(|| SealError::UnknownKey(key_id.to_owned()))?;
    seal_with(&cipher(kek), data_key, context).map_err(SealError::Unavailable)
}

fn unwrap_under(
    keys: &[Kek],
    key_id: &str,
    wrapped: &[u8],
    context: &[u8],
) -> Result<Zeroizing<[u8; 32]>, SealError> {
    let (_, kek) = keys
        .iter()
        .find(|(id, _)| id == key_id)
        .ok_or_else(|| SealError::UnknownKey(key_id.to_owned()))?;
    let plain = open_with(&cipher(kek), wrapped, context).ok_or(SealError::Refused)?;
    let mut out = Zeroizing::new([0u8; 32]);
    if plain.len() != out.len() {
        return Err(SealError::Refused);
    }
    out.copy_from_slice(&plain);
    Ok(out)
}

/// A sealer over key-encryption keys held in memory: for tests, and for a
/// bank that fetches its KEK at start from somewhere this crate does not
/// know. The first key wraps new data keys.
pub struct StaticSealer {
    keys: Vec<Kek>,
}

impl fmt::Debug for StaticSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("StaticSealer")
            .field("key_ids", &ids)
            .finish_non_exhaustive()
    }
}

impl StaticSealer {
    /// A sealer with one KEK.
    ///
    /// # Examples
    ///
    /// ```
    /// use otp_store::{SecretSealer, StaticSealer};
    /// let sealer = StaticSealer::new("k1", [7; 32]);
    /// assert_eq!(sealer.current_key()?, "k1");
    /// # Ok::<(), otp_store::SealError>(())
    /// ```
    #[must_use]
    pub fn new(id: &str, key: [u8; 32]) -> Self {
        Self {
            keys: vec![(id.to_owned(), Zeroizing::new(key))],
        }
    }

    /// The same sealer that can also unwrap data keys wrapped under `key`
    /// (an older KEK during a rotation).
    #[must_use]
    pub fn with_old_key(mut self, id: &str, key: [u8; 32]) -> Self {
        self.keys.push((id.to_owned(), Zeroizing::new(key)));
        self
    }
}

impl SecretSealer for StaticSealer {
    fn current_key(&self) -> Result<String, SealError> {
        self.keys
            .first()
            .map(|(id, _)| id.clone())
            .ok_or_else(|| SealError::Unavailable("no key".into()))
    }

    fn wrap(
        &self,
        key_id: &str,
        data_key: &[u8; 32],
        context: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        wrap_under(&self.keys, key_id, data_key, context)
    }

    fn unwrap(
        &self,
        key_id: &str,
        wrapped: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>, SealError> {
        unwrap_under(&self.keys, key_id, wrapped, context)
    }
}

/// The first line of a key file.
const KEY_FILE_HEADER: &str = "otp-store key-encryption keys v1";
/// A key file is a few lines: refuse anything large before reading it.
const KEY_FILE_MAX: u64 = 64 * 1024;

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
    fn a_sealed_value_opens_only_with_its_key_and_context() {
        let a = cipher(&[1; 32]);
        let b = cipher(&[2; 32]);
        let sealed = seal_with(&a, b"secret", b"ctx").unwrap();
        assert_eq!(sealed.len(), 1 + 12 + 6 + 16);
        assert_eq!(&open_with(&a, &sealed, b"ctx").unwrap()[..], b"secret");
        assert!(open_with(&b, &sealed, b"ctx").is_none());
        assert!(open_with(&a, &sealed, b"other").is_none());
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(open_with(&a, &flipped, b"ctx").is_none());
        assert!(open_with(&a, &sealed[..20], b"ctx").is_none());
        assert!(open_with(&a, &[], b"ctx").is_none());
        // Two seals of one value differ (random nonces).
        assert_ne!(seal_with(&a, b"secret", b"ctx").unwrap(), sealed);
    }

    #[test]
    fn a_moved_secret_does_not_open() {
        let sealer = StaticSealer::new("k", [9; 32]);
        let key = NewDataKey::generate(&sealer, b"store-a", 1).unwrap();
        let keys = DataKeys::unwrap_all(
            &sealer,
            b"store-a".to_vec(),
            &[(1, key.kek_id.clone(), key.wrapped.clone())],
        )
        .unwrap();
        let sealed = keys
            .seal(1, "VT0000000001", b"12345678901234567890")
            .unwrap();
        assert_eq!(
            &keys.open(1, "VT0000000001", &sealed).unwrap().unwrap()[..],
            b"12345678901234567890"
        );
        assert!(keys.open(1, "VT0000000002", &sealed).is_err());
        assert!(keys.open(2, "VT0000000001", &sealed).unwrap().is_none());
        // The same wrapped key under another store's identity is refused.
        assert_eq!(
            DataKeys::unwrap_all(
                &sealer,
                b"store-b".to_vec(),
                &[(1, key.kek_id.clone(), key.wrapped.clone())]
            )
            .err(),
            Some(SealError::Refused)
        );
        let other = StaticSealer::new("k", [8; 32]);
        assert_eq!(
            DataKeys::unwrap_all(&other, b"store-a".to_vec(), &[(1, key.kek_id, key.wrapped)])
                .err(),
            Some(SealError::Refused)
        );
    }

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
