//! Why a store could not be opened.

use core::fmt;

use otp_exchange::StoreError;

use crate::seal::SealError;

/// Why a store could not be opened. Nothing was changed on disk or in the
/// database in any of these cases: a file that is not what the store
/// expects is refused, never reset.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenError {
    /// The file does not exist and [`SqliteOptions::create_if_missing`] is
    /// off: check the path.
    ///
    /// [`SqliteOptions::create_if_missing`]: crate::SqliteOptions::create_if_missing
    Missing(String),
    /// The file exists but is empty (0 bytes): truncated, or made by
    /// something else. Restore it from a backup; it is not re-initialised.
    EmptyFile(String),
    /// The file is not an SQLite database (or its header is destroyed).
    NotADatabase(String),
    /// The database is damaged (a failed integrity check, a truncated
    /// file). Restore it from a backup.
    Corrupt(String),
    /// The SQLite file's length does not agree with its header: it is
    /// not a whole number of pages, or (with no write-ahead log holding
    /// commits or hot rollback journal beside it to account for the
    /// difference) not the number of pages the header records. The file
    /// was cut short (a copy or restore that stopped early, a full disk)
    /// or, rarer, extended or its tail overwritten. SQLite would open
    /// some of these files, and the damage would show only later as a
    /// lost or altered record. Restore it from a backup.
    Truncated {
        /// The file.
        path: String,
        /// Its length in bytes.
        len: u64,
        /// The page size its header gives, in bytes.
        page_size: u32,
        /// The length the header records (page count × page size), when
        /// that count is valid (see the SQLite file format, offset 28).
        expected: Option<u64>,
    },
    /// The write-ahead log beside the SQLite file (`<file>-wal`) is not a
    /// log of this database: its header is cut short, has a bad magic
    /// number or version, a page size other than the database's, or a
    /// checksum that does not verify. SQLite would silently ignore such a
    /// log, losing the commits it holds, and overwrite it at the next
    /// write. Restore the file and its log from a backup (or, once sure
    /// the log holds nothing, move it aside).
    BadWal {
        /// The log file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A database of another application (its tables or application ID
    /// are not otp-store's). Point the store at its own file or schema.
    Foreign(String),
    /// The database was written by a newer otp-store whose schema this
    /// version does not know: upgrade the application.
    NewerSchema {
        /// The schema version found.
        found: u32,
        /// The newest version this build knows.
        supported: u32,
    },
    /// The database could not be reached (I/O, permissions, a lock held
    /// past the busy timeout, the network, authentication).
    Unavailable(String),
    /// An option is not valid (for example a PostgreSQL schema name).
    InvalidOption(String),
    /// The TLS mode requires encryption (`require`, `verify-ca`,
    /// `verify-full`) but the PostgreSQL server does not offer TLS: turn
    /// on `ssl` in the server's configuration. Nothing was sent in clear.
    TlsRefused(String),
    /// The PostgreSQL server's certificate is not trusted: it does not
    /// chain to the CA file (or the system's roots), has expired, or is
    /// not a server certificate. Check the CA file; a certificate that
    /// should verify but does not may mean a man in the middle.
    CertificateUntrusted(String),
    /// The PostgreSQL server's certificate chains to a trusted CA but
    /// does not name the host connected to (`verify-full`): connect by a
    /// name (or IP address) the certificate holds, or re-issue it.
    HostNameMismatch(String),
    /// The CA file given for TLS (`sslrootcert`) cannot be read or holds
    /// no usable PEM certificate (or, without one, the system has no
    /// trusted roots).
    CaFile {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The store's data keys do not open with the sealer given: the key
    /// file (or KMS key) is not this store's, a key it needs was retired,
    /// or the stored keys were altered. Nothing was read or changed.
    SealingKey(SealError),
}

impl OpenError {
    /// A store error met while opening.
    pub(crate) fn from_store(e: StoreError) -> Self {
        match e {
            StoreError::Corrupt(m) => Self::Corrupt(m),
            other => Self::Unavailable(other.to_string()),
        }
    }
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(p) => write!(f, "{p} does not exist (and creating it was not allowed)"),
            Self::EmptyFile(p) => write!(
                f,
                "{p} is empty (0 bytes): it was truncated or not made by otp-store; restore it from a backup"
            ),
            Self::NotADatabase(m) => write!(f, "not an SQLite database: {m}"),
            Self::Corrupt(m) => write!(f, "the database is damaged: {m}; restore it from a backup"),
            Self::Truncated {
                path,
                len,
                page_size,
                expected,
            } => {
                write!(f, "{path} is damaged: {len} bytes")?;
                if *page_size == 0 || len % u64::from(*page_size) != 0 {
                    write!(f, ", not a whole number of {page_size}-byte pages")?;
                }
                if let Some(e) = expected
                    && e != len
                {
                    write!(f, ", where its header records {e}")?;
                }
                write!(f, " (cut short); restore it from a backup")
            }
            Self::BadWal { path, reason } => write!(
                f,
                "the write-ahead log {path} does not belong to its database ({reason}); its commits would be lost: restore the database and its log from a backup"
            ),
            Self::Foreign(m) => write!(f, "not an otp-store database: {m}"),
            Self::NewerSchema { found, supported } => write!(
                f,
                "the database has schema version {found}, newer than the {supported} this build of otp-store knows: upgrade the application"
            ),
            Self::Unavailable(m) => write!(f, "the database could not be opened: {m}"),
            Self::InvalidOption(m) => write!(f, "invalid store option: {m}"),
            Self::SealingKey(e) => write!(
                f,
                "the token secrets' keys do not open with the key given ({e}): use this store's own key file"
            ),
            Self::TlsRefused(m) => write!(
                f,
                "the PostgreSQL server does not offer TLS, which the TLS mode requires: {m}"
            ),
            Self::CertificateUntrusted(m) => {
                write!(f, "the PostgreSQL server's certificate is not trusted: {m}")
            }
            Self::HostNameMismatch(m) => write!(
                f,
                "the PostgreSQL server's certificate does not name the host connected to: {m}"
            ),
            Self::CaFile { path, reason } => write!(f, "the CA file {path}: {reason}"),
        }
    }
}

impl core::error::Error for OpenError {}

impl From<OpenError> for StoreError {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::Unavailable(_)
            | OpenError::Missing(_)
            | OpenError::InvalidOption(_)
            | OpenError::SealingKey(_)
            | OpenError::TlsRefused(_)
            | OpenError::CertificateUntrusted(_)
            | OpenError::HostNameMismatch(_)
            | OpenError::CaFile { .. } => Self::Unavailable(e.to_string()),
            OpenError::EmptyFile(_)
            | OpenError::NotADatabase(_)
            | OpenError::Corrupt(_)
            | OpenError::Truncated { .. }
            | OpenError::BadWal { .. }
            | OpenError::Foreign(_)
            | OpenError::NewerSchema { .. } => Self::Corrupt(e.to_string()),
        }
    }
}
