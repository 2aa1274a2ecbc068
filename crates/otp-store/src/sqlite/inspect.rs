//! An existing file checked from its bytes before SQLite reads it: its
//! header and length (a file that is not a database, or is cut short, is
//! refused), its write-ahead log (a log that is not its own is refused)
//! and its hot rollback journal.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::OpenError;

/// The first 16 bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// The length of the SQLite database header.
const DB_HEADER: u64 = 100;
/// The write-ahead log's magic numbers: checksums over little-endian
/// words (the low bit clear) or big-endian words (set).
const WAL_MAGIC: [u32; 2] = [0x377f_0682, 0x377f_0683];
/// The only write-ahead log format version.
const WAL_VERSION: u32 = 3_007_000;
/// The lengths of the log's header and of each frame's header.
const WAL_HEADER: usize = 32;
const WAL_FRAME_HEADER: usize = 24;
/// How many times the files are read again when they changed while being
/// checked (another process writing to them).
const INSPECT_ATTEMPTS: usize = 3;

/// `path` with `suffix` appended: `bank.db` → `bank.db-wal`.
pub(super) fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn be_u16(bytes: &[u8], at: usize) -> Option<u16> {
    let b: [u8; 2] = bytes.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(u16::from_be_bytes(b))
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

/// What may change while the files are checked: lengths and modification
/// times of the file, its log and its rollback journal.
type Stamp = [Option<(u64, Option<std::time::SystemTime>)>; 3];

fn stamp(path: &Path) -> Stamp {
    let of = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| (m.len(), m.modified().ok()))
    };
    [
        of(path),
        of(&beside(path, "-wal")),
        of(&beside(path, "-journal")),
    ]
}

/// Checks an existing file, its log and its journal from their bytes,
/// without SQLite. Returns whether a log exists beside the file.
///
/// Another process may be writing to the files meanwhile: a check during
/// which they changed is done again, so that a live file is judged on
/// one state of it.
pub(super) fn inspect_files(path: &Path) -> Result<bool, OpenError> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let before = stamp(path);
        let result = inspect_once(path);
        if attempts >= INSPECT_ATTEMPTS || stamp(path) == before {
            return result;
        }
    }
}

fn inspect_once(path: &Path) -> Result<bool, OpenError> {
    let shown = path.display().to_string();
    let unavailable = |e: std::io::Error| OpenError::Unavailable(format!("{shown}: {e}"));
    let file = std::fs::File::open(path).map_err(unavailable)?;
    let len = file.metadata().map_err(unavailable)?.len();
    let mut head = Vec::new();
    file.take(DB_HEADER)
        .read_to_end(&mut head)
        .map_err(unavailable)?;
    if head.get(..SQLITE_MAGIC.len()) != Some(SQLITE_MAGIC.as_slice()) {
        return Err(OpenError::NotADatabase(format!(
            "{shown} does not begin with the SQLite header string"
        )));
    }
    let page_size = match be_u16(&head, 16) {
        Some(1) => 65_536,
        Some(n) if n >= 512 && n.is_power_of_two() => u32::from(n),
        _ => {
            return Err(OpenError::NotADatabase(format!(
                "{shown} has no valid page size in its header"
            )));
        }
    };
    // The in-header page count is valid only when the change counter
    // (offset 24) equals the version-valid-for number (offset 92), and
    // when it is not 0 (files written before SQLite 3.7.0).
    let counted = match (be_u32(&head, 24), be_u32(&head, 28), be_u32(&head, 92)) {
        (Some(change), Some(pages), Some(valid_for)) if change == valid_for && pages != 0 => {
            u64::from(pages).checked_mul(u64::from(page_size))
        }
        _ => None,
    };
    let truncated = || OpenError::Truncated {
        path: shown.clone(),
        len,
        page_size,
        expected: counted,
    };
    if len % u64::from(page_size) != 0 {
        return Err(truncated());
    }
    let wal_path = beside(path, "-wal");
    let log = inspect_wal(&wal_path, page_size)?;
    // A log with commits holds the file's newest pages (and its true
    // length) until a checkpoint; a hot rollback journal holds the pages
    // to put back. Either may account for a file whose length is not yet
    // (or no longer) what its header records.
    let journal = std::fs::metadata(beside(path, "-journal")).is_ok_and(|m| m.len() > 0);
    if let Some(expected) = counted
        && expected != len
        && log != Log::Commits
        && !journal
    {
        return Err(truncated());
    }
    Ok(log != Log::Absent)
}

/// What the write-ahead log beside a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Log {
    /// No log.
    Absent,
    /// A log with no committed transaction that SQLite would replay
    /// (empty, or only frames of an earlier generation or of a
    /// transaction that never committed).
    NoCommits,
    /// At least one committed transaction.
    Commits,
}

/// SQLite's log checksum over `data` (a whole number of 8-byte words),
/// continuing from `(s0, s1)`.
fn wal_checksum(big_endian: bool, data: &[u8], (mut s0, mut s1): (u32, u32)) -> (u32, u32) {
    let word = |w: &[u8]| {
        let b: [u8; 4] = w.try_into().unwrap_or_default();
        if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    for pair in data.chunks_exact(8) {
        let (a, b) = pair.split_at(4);
        s0 = s0.wrapping_add(word(a)).wrapping_add(s1);
        s1 = s1.wrapping_add(word(b)).wrapping_add(s0);
    }
    (s0, s1)
}

/// Checks the log's header against the database's page size, then reads
/// its frames up to the first commit that SQLite would replay.
fn inspect_wal(wal_path: &Path, page_size: u32) -> Result<Log, OpenError> {
    let shown = wal_path.display().to_string();
    let unavailable = |e: std::io::Error| OpenError::Unavailable(format!("{shown}: {e}"));
    let bad = |reason: String| OpenError::BadWal {
        path: shown.clone(),
        reason,
    };
    let file = match std::fs::File::open(wal_path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Log::Absent),
        Err(e) => return Err(unavailable(e)),
    };
    let len = file.metadata().map_err(unavailable)?.len();
    if len == 0 {
        // SQLite leaves a 0-byte log after a checkpoint that truncates it.
        return Ok(Log::NoCommits);
    }
    let mut reader = std::io::BufReader::new(file);
    let mut header = [0u8; WAL_HEADER];
    reader.read_exact(&mut header).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            bad(format!(
                "{len} bytes, shorter than the {WAL_HEADER}-byte log header"
            ))
        } else {
            unavailable(e)
        }
    })?;
    let field = |at| be_u32(&header, at).unwrap_or_default();
    let magic = field(0);
    if !WAL_MAGIC.contains(&magic) {
        return Err(bad(format!("bad magic number {magic:#010x}")));
    }
    let version = field(4);
    if version != WAL_VERSION {
        return Err(bad(format!("unknown log format version {version}")));
    }
    let wal_page_size = field(8);
    if wal_page_size != page_size {
        return Err(bad(format!(
            "its page size is {wal_page_size} bytes, the database's {page_size}"
        )));
    }
    let big_endian = magic & 1 == 1;
    let mut sum = wal_checksum(big_endian, header.get(..24).unwrap_or_default(), (0, 0));
    if sum != (field(24), field(28)) {
        return Err(bad("its header checksum does not verify".into()));
    }
    let salts = (field(16), field(20));
    // Frames: SQLite replays them up to the last valid commit frame; one
    // is enough to know the log holds commits.
    let page = usize::try_from(page_size).map_err(|_| bad("page size too large".into()))?;
    let mut frame = vec![0u8; WAL_FRAME_HEADER.saturating_add(page)];
    loop {
        match reader.read_exact(&mut frame) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Ok(Log::NoCommits);
            }
            Err(e) => return Err(unavailable(e)),
        }
        let at = |i| be_u32(&frame, i).unwrap_or_default();
        let (page_no, commit) = (at(0), at(4));
        if page_no == 0 || (at(8), at(12)) != salts {
            return Ok(Log::NoCommits);
        }
        sum = wal_checksum(big_endian, frame.get(..8).unwrap_or_default(), sum);
        sum = wal_checksum(
            big_endian,
            frame.get(WAL_FRAME_HEADER..).unwrap_or_default(),
            sum,
        );
        if sum != (at(16), at(20)) {
            return Ok(Log::NoCommits);
        }
        if commit != 0 {
            return Ok(Log::Commits);
        }
    }
}
