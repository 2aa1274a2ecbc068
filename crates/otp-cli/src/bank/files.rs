//! The bank's files: the database (only `init` creates it), its audit and
//! session key file (`FILE.keys`), the token secrets' key file
//! (`FILE.kek`) and its rotation (`rekey`), and bounded reads of seed files.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, anyhow, bail};
use otp_exchange::{AuditFormat, AuditKey, Bank, Lang, Store};
use otp_provision::SystemClock;
use otp_store::SqliteStore;
use zeroize::Zeroizing;

use crate::safefs::{self, FileError, Mode};

use super::{BankArgs, BankCommand, refused, say};

pub(crate) fn default_db() -> Result<PathBuf> {
    let base = dirs::data_dir()
        .ok_or_else(|| anyhow!("no data directory is known for this user: give --db FILE"))?;
    Ok(base.join("otp").join("bank.sqlite"))
}

/// The key file's length: the audit key, then the session key.
pub(super) const KEY_FILE_LEN: u64 = 64;

/// The bank's keys, as kept in the key file: the audit key's 32 bytes,
/// then the session key's.
pub(super) struct BankKeys {
    audit: Zeroizing<[u8; 32]>,
    session: Zeroizing<[u8; 32]>,
}

impl BankKeys {
    fn zero() -> Self {
        Self {
            audit: Zeroizing::new([0; 32]),
            session: Zeroizing::new([0; 32]),
        }
    }
}

/// The key file of the database at `db`: `FILE.keys` beside it.
pub(super) fn key_file_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".keys");
    PathBuf::from(name)
}

/// Reads the key file at `path`; `None` if there is none. Refused: a
/// symbolic link (the file is opened with `O_NOFOLLOW`), anything but a
/// regular file, a file of another user, a file readable or writable by
/// group or others, a file of another length.
pub(super) fn read_keys(path: &Path) -> Result<Option<BankKeys>> {
    let shown = path.display();
    let (mut file, meta) = match safefs::open_private(path) {
        Ok(opened) => opened,
        Err(FileError::NotFound { .. }) => return Ok(None),
        Err(
            e @ (FileError::Symlink { .. }
            | FileError::NotRegular { .. }
            | FileError::NotOwned { .. }),
        ) => {
            bail!("the bank's key file {e}")
        }
        Err(e) => bail!("cannot read the bank's key file: {e}"),
    };
    {
        use std::os::unix::fs::MetadataExt as _;
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "the bank's key file `{shown}` is open to group or others (mode {mode:04o}): \
                 it must be private to its owner (chmod 600 {shown}), and its keys may have to be \
                 considered exposed"
            );
        }
    }
    if meta.len() != KEY_FILE_LEN {
        bail!(
            "the bank's key file `{shown}` has {} bytes, not {KEY_FILE_LEN}: it is not this program's key file, or it is damaged",
            meta.len()
        );
    }
    let mut keys = BankKeys::zero();
    file.read_exact(&mut keys.audit[..])
        .and_then(|()| file.read_exact(&mut keys.session[..]))
        .with_context(|| format!("cannot read the bank's key file `{shown}`"))?;
    Ok(Some(keys))
}

/// Makes a new key file at `path`: 64 random bytes, mode 0600, never over
/// an existing file or link (written as [`safefs::write`] writes, with
/// [`Mode::Create`]); on the disk before the database uses it.
pub(super) fn create_keys(path: &Path) -> Result<BankKeys> {
    let shown = path.display();
    let mut keys = BankKeys::zero();
    {
        use rand::TryRng as _;
        rand::rngs::SysRng
            .try_fill_bytes(&mut keys.audit[..])
            .and_then(|()| rand::rngs::SysRng.try_fill_bytes(&mut keys.session[..]))
            .map_err(|_| anyhow!("the operating system's random number generator failed"))?;
    }
    let mut bytes = Zeroizing::new([0u8; 64]);
    let (audit, session) = bytes.split_at_mut(32);
    audit.copy_from_slice(&keys.audit[..]);
    session.copy_from_slice(&keys.session[..]);
    safefs::write(path, &bytes[..], Mode::Create)
        .map_err(|e| anyhow!("cannot create the bank's key file: {e}"))?;
    eprintln!(
        "otp: created the bank's key file {shown} (mode 0600): keep it private and back it up; \
         without it the audit trail cannot be verified"
    );
    Ok(keys)
}

/// The store behind `otp bank` and `otp serve`: an SQLite file or a
/// PostgreSQL database, one bank logic for both.
pub(crate) type BankStore = Arc<dyn Store>;

/// Where the bank is: an SQLite file (its key files beside it) or a
/// PostgreSQL database (its key files named, so that several servers
/// share them).
pub(crate) enum Location {
    /// The SQLite file; `FILE.keys` and `FILE.kek` beside it.
    Sqlite(PathBuf),
    /// A PostgreSQL database.
    Postgres {
        /// The connection URL: it may hold a password, so it is never
        /// shown (not in `Debug`, not in a message).
        url: Zeroizing<String>,
        /// The schema holding the tables (`None`: the search path).
        schema: Option<String>,
        /// The audit and session key file (64 bytes).
        keys: PathBuf,
        /// The token secrets' key-encryption key file.
        kek: PathBuf,
    },
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Self::Postgres {
                schema, keys, kek, ..
            } => f
                .debug_struct("Postgres")
                .field("url", &"<redacted>")
                .field("schema", schema)
                .field("keys", keys)
                .field("kek", kek)
                .finish(),
        }
    }
}

/// The environment variable holding the PostgreSQL URL (`--postgres`).
pub(crate) const POSTGRES_URL_ENV: &str = "OTP_POSTGRES_URL";

/// The largest `--postgres-url-file` read.
const MAX_URL_BYTES: u64 = 64 * 1024;

/// How long a PostgreSQL connection may take (to connect, or to get one
/// from the pool): a server whose database is gone answers 503 within it.
pub(crate) const PG_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// `--postgres` and its files: for `otp bank` and `otp serve` alike.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct PgArgs {
    /// The bank is in PostgreSQL (shared by several `otp serve`), not an
    /// SQLite file: the URL is read from $OTP_POSTGRES_URL or
    /// --postgres-url-file, never from the command line (it may hold a
    /// password); --db and OTP_DB are then not used. Needs --key-file and
    /// --kek-file.
    #[arg(long, requires_all = ["key_file", "kek_file"])]
    pub(crate) postgres: bool,
    /// A file (private to its owner) holding the PostgreSQL URL, such as
    /// postgresql://otp@db.example:5432/otp?sslmode=verify-full.
    #[arg(long, value_name = "FILE", requires = "postgres")]
    pub(crate) postgres_url_file: Option<PathBuf>,
    /// With --postgres: the PostgreSQL schema holding the bank's tables
    /// (created if missing; default: the connection's search_path), so
    /// that several banks share one database.
    #[arg(long, value_name = "NAME", requires = "postgres")]
    pub(crate) postgres_schema: Option<String>,
    /// With --postgres: the bank's audit and session key file (64 bytes,
    /// mode 0600), the same file on every server; `otp bank init` makes it.
    #[arg(long, value_name = "FILE", requires = "postgres")]
    pub(crate) key_file: Option<PathBuf>,
    /// With --postgres: the token secrets' key-encryption key file (mode
    /// 0600), the same file on every server; `otp bank init` makes it.
    #[arg(long, value_name = "FILE", requires = "postgres")]
    pub(crate) kek_file: Option<PathBuf>,
}

impl PgArgs {
    /// The PostgreSQL location, when `--postgres` is given: the URL from
    /// `--postgres-url-file`, else from [`POSTGRES_URL_ENV`].
    pub(crate) fn location(&self) -> Result<Option<Location>> {
        if !self.postgres {
            return Ok(None);
        }
        let (Some(keys), Some(kek)) = (&self.key_file, &self.kek_file) else {
            bail!("--postgres needs --key-file FILE and --kek-file FILE");
        };
        let url = match &self.postgres_url_file {
            Some(file) => read_url_file(file)?,
            None => match std::env::var(POSTGRES_URL_ENV) {
                Ok(url) if !url.trim().is_empty() => Zeroizing::new(url.trim().to_owned()),
                _ => bail!(
                    "--postgres: give the database's URL in {POSTGRES_URL_ENV} or in a file named by --postgres-url-file (never on the command line: it may hold a password)"
                ),
            },
        };
        Ok(Some(Location::Postgres {
            url,
            schema: self.postgres_schema.clone(),
            keys: keys.clone(),
            kek: kek.clone(),
        }))
    }
}

/// Reads `--postgres-url-file`: a private file of the caller's, not a
/// link, at most [`MAX_URL_BYTES`]; surrounding white space removed.
fn read_url_file(path: &Path) -> Result<Zeroizing<String>> {
    let shown = path.display();
    let (file, meta) = safefs::open_private(path)
        .map_err(|e| anyhow!("the PostgreSQL URL file (--postgres-url-file): {e}"))?;
    {
        use std::os::unix::fs::MetadataExt as _;
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "the PostgreSQL URL file `{shown}` is open to group or others (mode {mode:04o}): it may hold a password; make it private (chmod 600 {shown})"
            );
        }
    }
    let mut text = Zeroizing::new(String::with_capacity(
        usize::try_from(meta.len().min(MAX_URL_BYTES)).unwrap_or(0),
    ));
    file.take(MAX_URL_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|_| anyhow!("cannot read the PostgreSQL URL file `{shown}` (is it text?)"))?;
    if text.len() as u64 > MAX_URL_BYTES {
        bail!("the PostgreSQL URL file `{shown}` is larger than {MAX_URL_BYTES} bytes");
    }
    let url = Zeroizing::new(text.trim().to_owned());
    if url.is_empty() {
        bail!("the PostgreSQL URL file `{shown}` is empty");
    }
    Ok(url)
}

pub(super) fn open(args: &BankArgs) -> Result<Bank<BankStore>> {
    open_location(
        &args.location()?,
        matches!(args.command, BankCommand::Init { .. }),
    )
}

/// Opens the bank at `location` with its key files, on the system clock:
/// `otp bank`'s opener, and `otp serve`'s. Only with `create` is a
/// missing SQLite database made (with its key files), or missing key
/// files made for a PostgreSQL bank.
pub(crate) fn open_location(location: &Location, create: bool) -> Result<Bank<BankStore>> {
    match location {
        Location::Sqlite(path) => open_at(path, create),
        Location::Postgres {
            url,
            schema,
            keys,
            kek,
        } => open_postgres(url, schema.as_deref(), keys, kek, create),
    }
}

/// The bank in PostgreSQL at `url`, its keys in `key_path` and its
/// token secrets' key in `kek_path`. Key files are made only with
/// `create` (`otp bank init`), and only for a bank whose audit chain is
/// not keyed yet: every server of one bank must read the same files.
fn open_postgres(
    url: &str,
    schema: Option<&str>,
    key_path: &Path,
    kek_path: &Path,
    create: bool,
) -> Result<Bank<BankStore>> {
    let keys = read_keys(key_path)?;
    if keys.is_none() && !create {
        bail!(
            "the bank's key file `{}` is missing (--key-file): give the file `otp bank init` made (every server of the bank reads the same one)",
            key_path.display()
        );
    }
    let (sealer, new_kek): (Arc<dyn otp_store::SecretSealer>, bool) =
        match otp_store::KeyFileSealer::open(kek_path) {
            Ok(sealer) => (Arc::new(sealer), false),
            Err(otp_store::KeyFileError::Io(_))
                if create && std::fs::symlink_metadata(kek_path).is_err() =>
            {
                let sealer = otp_store::KeyFileSealer::create(kek_path)
                    .map_err(|e| anyhow!("cannot create the token secrets' key file: {e}"))?;
                (Arc::new(sealer), true)
            }
            Err(otp_store::KeyFileError::Io(_)) if std::fs::symlink_metadata(kek_path).is_err() => {
                bail!(
                    "the token secrets' key file `{}` is missing (--kek-file): give the file `otp bank init` made",
                    kek_path.display()
                )
            }
            Err(e) => bail!("{e}"),
        };
    let mut options = otp_store::PgOptions::default().with_connect_timeout(PG_CONNECT_TIMEOUT);
    if let Some(schema) = schema {
        options = options.with_schema(schema);
    }
    let store = match otp_store::PgStore::connect(url, options, sealer) {
        Ok(store) => store,
        Err(otp_store::OpenError::SealingKey(_)) if new_kek => {
            let _ = std::fs::remove_file(kek_path);
            bail!(
                "the token secrets' key file `{}` is missing: restore it from your backup (the secrets in the database open only under it)",
                kek_path.display()
            );
        }
        // The URL is never part of the message: it may hold a password.
        Err(e) => bail!("cannot open the bank's PostgreSQL database: {e}"),
    };
    if new_kek {
        eprintln!(
            "otp: created the token secrets' key file {} (mode 0600): copy it to every server of the bank, keep it private and back it up apart from the database",
            kek_path.display()
        );
    }
    let store: BankStore = Arc::new(store);
    let keys = match keys {
        Some(keys) => keys,
        None => {
            let chain = store
                .audit_chain()
                .map_err(|e| anyhow!("cannot read the bank's PostgreSQL database: {e}"))?;
            if chain.iter().any(|r| r.format == AuditFormat::V2) {
                bail!(
                    "the bank's key file `{}` is missing: restore it from your backup (the audit trail verifies only under its key)",
                    key_path.display()
                );
            }
            create_keys(key_path)?
        }
    };
    Ok(Bank::new(store, Arc::new(SystemClock))?
        .with_audit_key(AuditKey::new(*keys.audit))
        .with_session_key(*keys.session))
}

/// Opens the bank database at `path` with its key files, on the system
/// clock. Only with `create` is a missing database made (with its key
/// files).
pub(crate) fn open_at(path: &Path, create: bool) -> Result<Bank<BankStore>> {
    let path = path.to_owned();
    let existed = path.exists();
    if !existed && !create {
        bail!(
            "there is no bank database at `{}`: check --db (or OTP_DB); `otp bank init` creates a new bank",
            path.display()
        );
    }
    if !existed && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        safefs::create_private_dir_all(dir)?;
    }
    let key_path = key_file_path(&path);
    let keys = read_keys(&key_path)?;
    if !existed {
        eprintln!("otp: creating the bank database {}", path.display());
    }
    let (sealer, new_kek) = sealer(&path)?;
    let kek_path = kek_file_path(&path);
    let store = match SqliteStore::open(&path, sealer) {
        Ok(store) => store,
        Err(otp_store::OpenError::SealingKey(_)) if new_kek => {
            let _ = std::fs::remove_file(&kek_path);
            bail!(
                "the token secrets' key file `{}` is missing: restore it from your backup (the secrets in `{}` open only under it)",
                kek_path.display(),
                path.display()
            );
        }
        Err(e) => bail!("cannot open the bank database `{}`: {e}", path.display()),
    };
    if new_kek {
        eprintln!(
            "otp: created the token secrets' key file {} (mode 0600): keep it private and back it \
             up apart from the database; without it no token can be verified",
            kek_path.display()
        );
    }
    let keys = match keys {
        Some(keys) => keys,
        None => {
            // A database whose chain is keyed needs the key it was written
            // with; only a new database (or one from before keyed chains)
            // gets a new key file.
            let chain = store
                .audit_chain()
                .map_err(|e| anyhow!("cannot read the bank database `{}`: {e}", path.display()))?;
            if chain.iter().any(|r| r.format == AuditFormat::V2) {
                bail!(
                    "the bank's key file `{}` is missing: restore it from your backup (the audit trail of `{}` verifies only under its key)",
                    key_path.display(),
                    path.display()
                );
            }
            create_keys(&key_path)?
        }
    };
    let store: BankStore = Arc::new(store);
    Ok(Bank::new(store, Arc::new(SystemClock))?
        .with_audit_key(AuditKey::new(*keys.audit))
        .with_session_key(*keys.session))
}

/// `otp bank rekey`: a new key-encryption key first in `FILE.kek` (unless
/// an interrupted run left one there), every secret re-sealed under a new
/// data key wrapped by it, the audit record, then the old keys removed
/// from the file once no data key needs them.
pub(super) fn rekey(args: &BankArgs, lang: Lang) -> Result<()> {
    let Location::Sqlite(path) = args.location()? else {
        bail!(
            "`otp bank rekey` re-seals an SQLite bank only for now; on PostgreSQL, rotate with otp_store::PgStore::rekey"
        );
    };
    if !path.exists() {
        bail!("there is no bank database at `{}`", path.display());
    }
    // One rekey at a time: a second one could wrap its new data key under
    // a key the first retires. (`flock`, independent of SQLite's own
    // `fcntl` locks, so servers keep reading and writing meanwhile.)
    let guard =
        std::fs::File::open(&path).with_context(|| format!("cannot open `{}`", path.display()))?;
    rustix::fs::flock(&guard, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
        |_| {
            anyhow!(
                "another `otp bank rekey` is running on `{}`: wait for it",
                path.display()
            )
        },
    )?;
    let kek_path = kek_file_path(&path);
    let held = otp_store::KeyFileSealer::open(&kek_path).map_err(|e| anyhow!("{e}"))?;
    let keys = held.key_ids().map_err(|e| anyhow!("{e}"))?;
    drop(held);
    if keys.len() < 2 {
        otp_store::KeyFileSealer::rotate(&kek_path).map_err(|e| anyhow!("{e}"))?;
    }
    // The bank (and its sealer) opened after the rotation: new data keys
    // are wrapped under the new key-encryption key.
    let bank = open(args)?;
    let sealer = otp_store::KeyFileSealer::open(&kek_path).map_err(|e| anyhow!("{e}"))?;
    let current = otp_store::SecretSealer::current_key(&sealer).map_err(|e| anyhow!("{e}"))?;
    let store = SqliteStore::open(&path, Arc::new(sealer))
        .map_err(|e| anyhow!("cannot open the bank database `{}`: {e}", path.display()))?;
    let done = store.rekey(REKEY_BATCH).map_err(|e| {
        anyhow!("the re-sealing stopped (run `otp bank rekey` again to go on): {e}")
    })?;
    let detail = format!(
        "{} token secrets re-sealed under data key {} (key-encryption key {current}); {} old data keys removed",
        done.resealed, done.data_key, done.retired
    );
    bank.record_rekey("otp bank rekey", &detail)
        .map_err(|r| refused(&r, lang))?;
    let in_use = store.kek_ids().map_err(|e| anyhow!("{e}"))?;
    let retired = if in_use == [current.clone()] {
        otp_store::KeyFileSealer::retire(&kek_path).map_err(|e| anyhow!("{e}"))?
    } else {
        0
    };
    say(
        lang,
        &format!(
            "Re-sealed {} token secrets under a new key ({current}); {retired} old key(s) removed from {}.",
            done.resealed,
            kek_path.display()
        ),
        &format!(
            "{} 件のトークン秘密鍵を新しい鍵 ({current}) で封緘し直しました。{} から古い鍵を {retired} 件削除しました。",
            done.resealed,
            kek_path.display()
        ),
    );
    drop(guard);
    Ok(())
}

/// Reads the seed file, refusing one over `max` bytes before reading it
/// (and stopping at `max + 1` bytes if it grows meanwhile).
pub(super) fn read_bounded(file: &Path, max: usize) -> Result<String> {
    let shown = file.display();
    let f = std::fs::File::open(file)
        .with_context(|| format!("cannot read the seed file `{shown}`"))?;
    let len = f
        .metadata()
        .with_context(|| format!("cannot read the seed file `{shown}`"))?
        .len();
    let cap = u64::try_from(max).unwrap_or(u64::MAX);
    if len > cap {
        bail!(
            "the seed file `{shown}` is {len} bytes, more than the {} MiB allowed: not imported (raise --max-size-mib if it is genuine)",
            max / (1024 * 1024)
        );
    }
    // Room for the whole file at once: no reallocation leaves a copy of a
    // plain file's secrets behind.
    let mut text = String::with_capacity(usize::try_from(len).unwrap_or(max).saturating_add(1));
    f.take(cap.saturating_add(1))
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read the seed file `{shown}`"))?;
    if text.len() > max {
        bail!("the seed file `{shown}` grew past the size allowed while it was read: not imported");
    }
    Ok(text)
}

/// Rows re-sealed per transaction by `otp bank rekey`.
pub(super) const REKEY_BATCH: usize = 500;

/// The key-encryption key file of the database at `db`: `FILE.kek`.
pub(super) fn kek_file_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".kek");
    PathBuf::from(name)
}

/// The sealer of the token secrets in `db`, from its key-encryption key
/// file (`FILE.kek`), and whether the file was made just now. A new
/// database gets a new key file; so does an existing one from before
/// sealed secrets (it is sealed in place as it opens). An existing
/// database sealed under a key file that is now missing is refused when
/// it opens (`SealingKey`), and the new file removed.
pub(super) fn sealer(db: &Path) -> Result<(Arc<dyn otp_store::SecretSealer>, bool)> {
    let path = kek_file_path(db);
    match otp_store::KeyFileSealer::open(&path) {
        Ok(sealer) => Ok((Arc::new(sealer), false)),
        Err(otp_store::KeyFileError::Io(_)) if std::fs::symlink_metadata(&path).is_err() => {
            let sealer = otp_store::KeyFileSealer::create(&path)
                .map_err(|e| anyhow!("cannot create the token secrets' key file: {e}"))?;
            Ok((Arc::new(sealer), true))
        }
        Err(e) => bail!("{e}"),
    }
}
