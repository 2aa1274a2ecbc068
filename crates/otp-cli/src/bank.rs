//! `otp bank`: the bank side on the embedded SQLite store (`otp_store`):
//! users, the vendor's seed files, sign-in, and the seed's flows
//! (exchange, registration, unregistration, unlock, usage history), the
//! branch's procedures, with the seed's messages in English or Japanese.
//!
//! The bank's audit key and session key live in a key file beside the
//! database (`FILE.keys`, 64 random bytes, mode 0600), made with a new
//! database and read back on every later run: the audit chain verifies
//! only under the key it was written with.

use std::io::{BufRead as _, IsTerminal as _, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, anyhow, bail};
use otp_exchange::{
    AuditCheckError, AuditFormat, AuditKey, AuditRecord, AuditResult, Authority, Bank,
    BranchAuthorization, Lang, Password, PasswordKind, Refusal, Store, UserId,
};
use otp_provision::{Inventory, PskcError, SystemClock};
use otp_store::SqliteStore;
use zeroize::Zeroizing;

use crate::Exit;
use crate::factory::{KEY_ENV, psk_from, psk_from_terminal};
use crate::lang::{LangArg, pad, resolve, tr};
use crate::safefs::{self, FileError, Mode};
use crate::time::{jst_stamp, parse_time, system_now, utc};

/// `otp bank` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct BankArgs {
    /// The bank's SQLite file (default: $OTP_DB, else otp/bank.sqlite under your data directory); its keys are in FILE.keys and FILE.kek beside it. Only `init` creates it.
    #[arg(long, value_name = "FILE", global = true, env = "OTP_DB")]
    db: Option<PathBuf>,
    /// Language of prompts and messages (default: from the locale).
    #[arg(long, value_enum, global = true)]
    lang: Option<LangArg>,
    #[command(subcommand)]
    command: BankCommand,
}

#[derive(Debug, clap::Subcommand)]
enum BankCommand {
    /// Create a new bank with its first users (`--admin ID:NAME`, `--user ID:NAME`, repeatable); asks each administrator's approval password. An existing bank is refused: the branch adds users (`branch-enroll`).
    Init {
        /// An administrator (管理者), such as W0001:しんきん太郎.
        #[arg(long = "admin", value_name = "ID[:NAME]")]
        admins: Vec<String>,
        /// A general user (一般者), such as W0002:しんきん太郎.
        #[arg(long = "user", value_name = "ID[:NAME]")]
        users: Vec<String>,
    },
    /// The branch adds users or administrators to an existing bank on a written request (audited as the branch's act); asks each new administrator's approval password.
    BranchEnroll {
        /// An administrator (管理者), such as W0009:しんきん次郎.
        #[arg(long = "admin", value_name = "ID[:NAME]")]
        admins: Vec<String>,
        /// A general user (一般者).
        #[arg(long = "user", value_name = "ID[:NAME]")]
        users: Vec<String>,
        #[command(flatten)]
        branch: Branch,
    },
    /// The branch sets USER's approval (or per-transfer) password on a written request: for an administrator who forgot it or is locked out; asked twice on a terminal.
    BranchPassword {
        /// The customer ID.
        user: String,
        /// Which password: the approval password (default) or the per-transfer confirmation password.
        #[arg(long, value_enum, default_value = "approval")]
        kind: KindArg,
        #[command(flatten)]
        branch: Branch,
    },
    /// Change your own approval (or per-transfer) password: asks the current one (a wrong one counts toward the lock, as anywhere), then the new one, twice on a terminal.
    Password {
        /// Your customer ID.
        user: String,
        /// Which password: the approval password (default) or the per-transfer confirmation password.
        #[arg(long, value_enum, default_value = "approval")]
        kind: KindArg,
    },
    /// Add every token of a vendor's PSKC seed file to the stock (all or nothing); a file that is not encrypted is refused unless `--allow-plain`.
    Import {
        /// The PSKC file.
        file: PathBuf,
        /// The pre-shared AES key of an encrypted file (32 hex digits), read
        /// from this file. Without it: the key in OTP_PSKC_KEY if set, else
        /// typed on the terminal when the file is encrypted.
        #[arg(long, value_name = "FILE")]
        key_file: Option<PathBuf>,
        /// The largest seed file read, in MiB: a larger one is refused
        /// before it is read.
        #[arg(long, value_name = "MIB", default_value_t = 64, allow_negative_numbers = true, value_parser = crate::args::whole::<usize>)]
        max_size_mib: usize,
        /// Import a seed file that is not encrypted (its secrets were
        /// readable by anyone who handled it): refused without this, and
        /// recorded as such in the audit trail.
        #[arg(long)]
        allow_plain: bool,
    },
    /// The selection screen: customer IDs, masked serials, authority.
    Users {
        /// Page (from 1), 20 users a page.
        #[arg(long, default_value_t = 1, allow_negative_numbers = true, value_parser = crate::args::whole::<usize>)]
        page: usize,
        #[command(flatten)]
        operator: Operator,
        /// Print one JSON object (the page, its paging, masked serials) instead of the screen.
        #[arg(long)]
        json: bool,
    },
    /// Sign-in check: verify a code from USER's token (exit 0 accepted, 2 refused).
    Verify {
        /// The customer ID.
        user: String,
        /// The code shown on the token (`123456`, or as displayed: `123 456`).
        #[arg(allow_negative_numbers = true)]
        code: String,
        /// Print one JSON object, accepted or refused (with the refusal's reason code).
        #[arg(long)]
        json: bool,
    },
    /// Exchange USER's token, prompting in the manual's order: current code, new serial, new code, approval password.
    Exchange {
        /// The customer ID whose token is exchanged.
        user: String,
        #[command(flatten)]
        operator: Operator,
    },
    /// Register a first token for USER: new serial, new code, approval password.
    Register {
        /// The customer ID.
        user: String,
        #[command(flatten)]
        operator: Operator,
    },
    /// Unregister USER's token (it is revoked at once); asks a code from that token and the approval password.
    Unregister {
        /// The customer ID.
        user: String,
        #[command(flatten)]
        operator: Operator,
    },
    /// Unlock a general user's ID after too many wrong entries; asks the operator's approval password.
    Unlock {
        /// The customer ID.
        user: String,
        #[command(flatten)]
        operator: Operator,
    },
    /// The branch unlocks USER's ID on a written request (the only way for an administrator's ID).
    BranchUnlock {
        /// The customer ID.
        user: String,
        #[command(flatten)]
        branch: Branch,
    },
    /// The branch revokes USER's lost, broken or dead token on a written request.
    BranchRevoke {
        /// The customer ID.
        user: String,
        #[command(flatten)]
        branch: Branch,
    },
    /// The branch registers a token for USER, who has none, on a written request (how an administrator gets their own): new serial, new code.
    BranchRegister {
        /// The customer ID.
        user: String,
        #[command(flatten)]
        branch: Branch,
    },
    /// Rotate the key that seals the token secrets: a new key in FILE.kek, every secret re-sealed in batches while servers keep running, then the old key removed from the file.
    Rekey,
    /// The usage history (利用履歴照会) of USER, and the check of the whole audit chain (exit 1 if it does not verify).
    Audit {
        /// The customer ID (not with --verify).
        #[arg(required_unless_present = "verify", conflicts_with = "verify")]
        user: Option<String>,
        /// Only check the whole chain and its stored head under the bank's audit key (exit 0 if it verifies, 1 saying where it does not); no records shown, no operator needed.
        #[arg(long)]
        verify: bool,
        /// Only records at or after this time (TIME as for `otp oath -N`).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        #[command(flatten)]
        operator: Operator,
        /// Print one JSON object (the records, masked serials, and whether the chain verifies) instead of the lines.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
struct Operator {
    /// The administrator performing the operation (default: $OTP_OPERATOR, the administrator signed in for this session; else the only administrator whose ID is not locked; else asked on a terminal).
    #[arg(long = "operator", value_name = "ID", env = "OTP_OPERATOR")]
    id: Option<String>,
}

/// Which password `branch-password` sets.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum KindArg {
    /// 承認用パスワード.
    Approval,
    /// 都度振込送信確認用パスワード.
    PerTransfer,
}

/// A branch officer's authority on a written request (お取引店舗への届出).
#[derive(Debug, clap::Args)]
struct Branch {
    /// The branch officer's staff ID.
    #[arg(long, value_name = "STAFF-ID")]
    officer: String,
    /// The written request's reference number.
    #[arg(long, value_name = "REFERENCE")]
    request: String,
}

impl Branch {
    /// The authorization, if both names are usable in the audit trail
    /// (`branch:OFFICER:REQUEST`): not empty, no control characters, no
    /// `:` in the officer's ID.
    fn authorization(&self) -> Result<BranchAuthorization> {
        let bad = |t: &str| t.trim().is_empty() || t.chars().any(char::is_control);
        if bad(&self.officer) || self.officer.contains(':') {
            bail!("--officer must be a staff ID: not empty, without `:` or control characters");
        }
        if bad(&self.request) {
            bail!(
                "--request must be the written request's reference: not empty, without control characters"
            );
        }
        Ok(BranchAuthorization::new(
            self.officer.trim(),
            self.request.trim(),
        ))
    }
}

/// Lines typed by a person (or piped by a script): passwords without echo
/// on a terminal.
struct Prompter {
    tty: bool,
    lines: std::io::Lines<std::io::StdinLock<'static>>,
}

impl Prompter {
    fn new() -> Self {
        Self {
            tty: std::io::stdin().is_terminal(),
            lines: std::io::stdin().lock().lines(),
        }
    }

    fn ask(&mut self, prompt: &str) -> Result<String> {
        eprint!("{prompt}");
        std::io::stderr().flush()?;
        match self.lines.next() {
            Some(line) => {
                let line = line.context("cannot read the answer")?;
                if !self.tty {
                    eprintln!();
                }
                Ok(line.trim_end_matches(['\r', '\n']).to_owned())
            }
            None => bail!("no more input: the operation was abandoned, nothing was changed"),
        }
    }

    fn password(&mut self, prompt: &str) -> Result<Password> {
        if self.tty {
            let typed = Zeroizing::new(
                rpassword::prompt_password(prompt).context("cannot read the password")?,
            );
            Ok(Password::new(&typed))
        } else {
            let typed = Zeroizing::new(self.ask(prompt)?);
            Ok(Password::new(&typed))
        }
    }

    /// A new password: 8 characters or more; on a terminal typed twice
    /// (without echo) and refused unless both agree.
    fn new_password(&mut self, prompt: &str, lang: Lang) -> Result<Password> {
        let password = self.password(prompt)?;
        if password.expose_secret().len() < 8 {
            bail!(
                "{}",
                tr(
                    lang,
                    "the password must have at least 8 characters: nothing was changed",
                    "パスワードは8文字以上にしてください（変更していません）"
                )
            );
        }
        if self.tty {
            let again = self.password(tr(lang, "Again: ", "もう一度："))?;
            if again.expose_secret() != password.expose_secret() {
                bail!(
                    "{}",
                    tr(
                        lang,
                        "the two passwords differ: nothing was changed",
                        "2回の入力が一致しません（変更していません）"
                    )
                );
            }
        }
        Ok(password)
    }

    fn approval_password(&mut self, lang: Lang) -> Result<Password> {
        self.password(tr(lang, "Approval password: ", "承認用パスワード："))
    }

    fn current_code(&mut self, lang: Lang) -> Result<String> {
        self.ask(tr(
            lang,
            "One-time password of the token in use now (press \"1\"): ",
            "現在ご利用中のトークンのワンタイムパスワード（「1」ボタンを押して表示）：",
        ))
    }

    fn new_serial(&mut self, lang: Lang) -> Result<String> {
        self.ask(tr(
            lang,
            "New token serial (12 half-width alphanumerics): ",
            "新しいトークンのシリアル番号（半角英数字12桁）：",
        ))
    }

    fn new_code(&mut self, lang: Lang) -> Result<String> {
        self.ask(tr(
            lang,
            "One-time password of the new token: ",
            "新しいトークンのワンタイムパスワード：",
        ))
    }
}

fn default_db() -> Result<PathBuf> {
    let base = dirs::data_dir()
        .ok_or_else(|| anyhow!("no data directory is known for this user: give --db FILE"))?;
    Ok(base.join("otp").join("bank.sqlite"))
}

/// The key file's length: the audit key, then the session key.
const KEY_FILE_LEN: u64 = 64;

/// The bank's keys, as kept in the key file: the audit key's 32 bytes,
/// then the session key's.
struct BankKeys {
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
fn key_file_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".keys");
    PathBuf::from(name)
}

/// Reads the key file at `path`; `None` if there is none. Refused: a
/// symbolic link (the file is opened with `O_NOFOLLOW`), anything but a
/// regular file, a file of another user, a file readable or writable by
/// group or others, a file of another length.
fn read_keys(path: &Path) -> Result<Option<BankKeys>> {
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
fn create_keys(path: &Path) -> Result<BankKeys> {
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

fn open(args: &BankArgs) -> Result<Bank<SqliteStore>> {
    let path = match &args.db {
        Some(p) => p.clone(),
        None => default_db()?,
    };
    let existed = path.exists();
    if !existed && !matches!(args.command, BankCommand::Init { .. }) {
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
    Ok(Bank::new(store, Arc::new(SystemClock))?
        .with_audit_key(AuditKey::new(*keys.audit))
        .with_session_key(*keys.session))
}

/// `otp bank rekey`: a new key-encryption key first in `FILE.kek` (unless
/// an interrupted run left one there), every secret re-sealed under a new
/// data key wrapped by it, the audit record, then the old keys removed
/// from the file once no data key needs them.
fn rekey(args: &BankArgs, lang: Lang) -> Result<()> {
    let path = match &args.db {
        Some(p) => p.clone(),
        None => default_db()?,
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
fn read_bounded(file: &Path, max: usize) -> Result<String> {
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
const REKEY_BATCH: usize = 500;

/// The key-encryption key file of the database at `db`: `FILE.kek`.
fn kek_file_path(db: &Path) -> PathBuf {
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
fn sealer(db: &Path) -> Result<(Arc<dyn otp_store::SecretSealer>, bool)> {
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

const fn password_kind(kind: KindArg) -> PasswordKind {
    match kind {
        KindArg::Approval => PasswordKind::Approval,
        KindArg::PerTransfer => PasswordKind::PerTransfer,
    }
}

fn user_id(text: &str) -> Result<UserId> {
    UserId::parse(text).map_err(|e| anyhow!("customer ID `{text}`: {e}"))
}

/// A refusal as an error: its sentence in the chosen language, exit 2.
pub(crate) fn refused(r: &Refusal, lang: Lang) -> anyhow::Error {
    match r {
        Refusal::Internal(e) => anyhow!("{} ({e})", r.message(lang)),
        _ => anyhow::Error::new(Exit {
            code: 2,
            message: r.message(lang),
        }),
    }
}

/// Who operates: `--operator` or `OTP_OPERATOR` if given; else the only
/// administrator whose ID is not locked (a locked one cannot operate);
/// else, on a terminal, asked among them; else a usage error naming them.
fn operator<S: Store>(bank: &Bank<S>, op: &Operator) -> Result<UserId> {
    if let Some(id) = &op.id {
        return user_id(id);
    }
    let mut admins = Vec::new();
    let mut offset = 0;
    loop {
        let page = bank.records().users(offset, 1_000)?;
        let read = page.users.len();
        admins.extend(
            page.users
                .into_iter()
                .filter(|u| u.authority == Authority::Administrator && !u.lock.locked)
                .map(|u| u.id),
        );
        offset += read;
        if read == 0 || offset >= page.total {
            break;
        }
    }
    match admins.as_slice() {
        [one] => return Ok(one.clone()),
        [] => bail!(
            "the bank has no administrator who can operate (none, or every one locked): the branch enrolls or unlocks one (`otp bank branch-enroll`, `otp bank branch-unlock`)"
        ),
        _ => {}
    }
    let names = admins
        .iter()
        .map(UserId::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        let typed = Prompter::new().ask(&format!("Operator (administrator ID: {names}): "))?;
        let typed = typed.trim();
        if let Some(id) = admins.iter().find(|id| id.as_str() == typed) {
            return Ok(id.clone());
        }
        return Err(Exit {
            code: 2,
            message: format!(
                "`{typed}` is not one of the administrators who can operate ({names})"
            ),
        }
        .into());
    }
    Err(Exit {
        code: 2,
        message: format!(
            "the bank has several administrators ({names}): say which operates with --operator ID, or sign in for the session with OTP_OPERATOR=ID"
        ),
    }
    .into())
}

fn say(lang: Lang, en: &str, ja: &str) {
    println!("{}", tr(lang, en, ja));
}

#[allow(clippy::too_many_lines, reason = "one arm per subcommand")]
pub(crate) fn run(args: &BankArgs) -> Result<()> {
    let lang = resolve(args.lang);
    if matches!(args.command, BankCommand::Rekey) {
        return rekey(args, lang);
    }
    let bank = open(args)?;
    match &args.command {
        BankCommand::Rekey => Ok(()),
        BankCommand::Init { admins, users } => init(&bank, admins, users, lang),
        BankCommand::BranchPassword { user, kind, branch } => {
            let auth = branch.authorization()?;
            let id = user_id(user)?;
            let kind = password_kind(*kind);
            let prompt = match lang {
                Lang::Ja => format!("{} の新しいパスワード：", id.as_str()),
                Lang::En => format!("New password for {}: ", id.as_str()),
            };
            let password = Prompter::new().new_password(&prompt, lang)?;
            bank.set_password(&auth, &id, kind, &password)
                .map_err(|r| refused(&r, lang))?;
            say(
                lang,
                &format!("The password of {} was set.", id.as_str()),
                &format!("{} のパスワードを設定しました。", id.as_str()),
            );
            Ok(())
        }
        BankCommand::Password { user, kind } => {
            let id = user_id(user)?;
            let kind = password_kind(*kind);
            let mut prompter = Prompter::new();
            let current =
                prompter.password(tr(lang, "Current password: ", "現在のパスワード："))?;
            let new =
                prompter.new_password(tr(lang, "New password: ", "新しいパスワード："), lang)?;
            bank.change_password(&id, kind, &current, &new)
                .map_err(|r| refused(&r, lang))?;
            say(
                lang,
                &format!("The password of {} was changed.", id.as_str()),
                &format!("{} のパスワードを変更しました。", id.as_str()),
            );
            Ok(())
        }
        BankCommand::BranchEnroll {
            admins,
            users,
            branch,
        } => enroll(&bank, &branch.authorization()?, admins, users, lang),
        BankCommand::Import {
            file,
            key_file,
            max_size_mib,
            allow_plain,
        } => {
            let max = max_size_mib.saturating_mul(1024 * 1024);
            let limits = otp_provision::PskcLimits::new().with_max_bytes(max);
            let xml = Zeroizing::new(read_bounded(file, max)?);
            let not_imported =
                |e: PskcError| anyhow!("the seed file `{}` was not imported: {e}", file.display());
            // Read first without a key: a file that needs none is plain.
            let (inventory, plain) = match Inventory::from_pskc_with_limits(&xml, None, &limits) {
                Ok(inventory) => (inventory, true),
                Err(PskcError::KeyRequired) => {
                    let psk = match psk_from(key_file.as_deref())? {
                        Some(psk) => Some(psk),
                        None => {
                            psk_from_terminal("Pre-shared key of the seed file (32 hex digits): ")?
                        }
                    };
                    let Some(psk) = psk else {
                        bail!(
                            "the seed file `{}` was not imported: {} (--key-file FILE, or {KEY_ENV} in the environment, or type it on a terminal)",
                            file.display(),
                            PskcError::KeyRequired
                        );
                    };
                    let read = Inventory::from_pskc_with_limits(&xml, Some(&psk), &limits)
                        .map_err(not_imported)?;
                    (read, false)
                }
                Err(e) => return Err(not_imported(e)),
            };
            if plain && !allow_plain {
                bail!(
                    "the seed file `{}` was not imported: it is not encrypted, so its secrets were readable by anyone who handled it on the way; ask the vendor for a file encrypted under a pre-shared key, or import it anyway with --allow-plain (recorded in the audit trail)",
                    file.display()
                );
            }
            let operator = if plain {
                "otp bank import --allow-plain"
            } else {
                "otp bank import"
            };
            let count = bank
                .import_inventory(operator, &inventory)
                .map_err(|e| anyhow!("the seed file was not imported: {e}"))?;
            if plain {
                eprintln!(
                    "otp: warning: the seed file `{}` is not encrypted: treat every secret in it as exposed to whoever handled the file",
                    file.display()
                );
            }
            say(
                lang,
                &format!("Imported {count} tokens into the stock."),
                &format!("{count} 件のトークンを在庫に登録しました。"),
            );
            Ok(())
        }
        BankCommand::Users {
            page,
            operator: op,
            json,
        } => {
            let op = operator(&bank, op)?;
            if *json {
                crate::json::users(&bank, &op, *page, lang)
            } else {
                users(&bank, &op, *page, lang)
            }
        }
        BankCommand::Verify { user, code, json } => {
            let user = user_id(user)?;
            if *json {
                return crate::json::verify(&bank, &user, code, lang);
            }
            bank.login(&user, code).map_err(|r| refused(&r, lang))?;
            say(lang, "accepted", "認証しました");
            Ok(())
        }
        BankCommand::Exchange { user, operator: op } => {
            exchange(&bank, &operator(&bank, op)?, &user_id(user)?, lang)
        }
        BankCommand::Register { user, operator: op } => {
            let op = operator(&bank, op)?;
            let target = user_id(user)?;
            let step5 = bank
                .begin_registration(&op, &target)
                .map_err(|r| refused(&r, lang))?;
            let mut prompter = Prompter::new();
            new_token(&bank, step5, &mut prompter, lang)
        }
        BankCommand::Unregister { user, operator: op } => {
            let op = operator(&bank, op)?;
            let target = user_id(user)?;
            let mut prompter = Prompter::new();
            let code = prompter.current_code(lang)?;
            let password = prompter.approval_password(lang)?;
            bank.unregister(&op, &target, &code, &password)
                .map_err(|r| refused(&r, lang))?;
            say(
                lang,
                "The token has been unregistered; it is no longer valid.",
                "トークンの登録を解除しました。このトークンは使用できません。",
            );
            Ok(())
        }
        BankCommand::Unlock { user, operator: op } => {
            let op = operator(&bank, op)?;
            let target = user_id(user)?;
            let password = Prompter::new().approval_password(lang)?;
            bank.unlock(&op, &target, &password)
                .map_err(|r| refused(&r, lang))?;
            say(
                lang,
                "The ID has been unlocked.",
                "IDロックを解除しました。",
            );
            Ok(())
        }
        BankCommand::BranchUnlock { user, branch } => {
            let auth = branch.authorization()?;
            bank.branch_unlock(&auth, &user_id(user)?)
                .map_err(|r| refused(&r, lang))?;
            say(
                lang,
                "The ID has been unlocked at the branch.",
                "お取引店舗へのお届けによりIDロックを解除しました。",
            );
            Ok(())
        }
        BankCommand::BranchRevoke { user, branch } => {
            let auth = branch.authorization()?;
            bank.branch_revoke(&auth, &user_id(user)?)
                .map_err(|r| refused(&r, lang))?;
            say(
                lang,
                "The token has been revoked at the branch; it is no longer valid. Register a new one.",
                "お取引店舗へのお届けによりトークンを無効にしました。新しいトークンを登録してください。",
            );
            Ok(())
        }
        BankCommand::BranchRegister { user, branch } => {
            let auth = branch.authorization()?;
            branch_register(&bank, &auth, &user_id(user)?, lang)
        }
        BankCommand::Audit {
            verify: true,
            json: true,
            ..
        } => crate::json::verify_chain(&bank, lang),
        BankCommand::Audit { verify: true, .. } => verify_chain(&bank, lang),
        BankCommand::Audit {
            user,
            since,
            operator: op,
            json,
            ..
        } => {
            let user = user.as_deref().ok_or_else(|| {
                anyhow!("give the customer ID whose history to show, or --verify")
            })?;
            let (op, user) = (operator(&bank, op)?, user_id(user)?);
            if *json {
                crate::json::audit(&bank, &op, &user, since.as_deref(), lang)
            } else {
                audit(&bank, &op, &user, since.as_deref(), lang)
            }
        }
    }
}

fn audit<S: Store>(
    bank: &Bank<S>,
    op: &UserId,
    user: &UserId,
    since: Option<&str>,
    lang: Lang,
) -> Result<()> {
    let from = since
        .map(|t| parse_time(t, system_now()))
        .transpose()?
        .unwrap_or(0);
    let records = bank
        .audit_trail(op, user, from, u64::MAX)
        .map_err(|r| refused(&r, lang))?;
    for r in &records {
        println!("{}", audit_line(r, lang));
    }
    say(
        lang,
        &format!("{} records.", records.len()),
        &format!("{} 件", records.len()),
    );
    // The whole chain, not only this user's records: an edit, removal or
    // reordering anywhere, or a key that is not this bank's, shows here.
    verify_chain(bank, lang)
}

/// One record of the usage history: number, time, operator, action,
/// masked serials, result. In English the time in UTC (RFC 3339), the
/// action's stable name and the reason code; in Japanese the time in JST
/// as the bank's screens print it, and the bank's words.
fn audit_line(r: &AuditRecord, lang: Lang) -> String {
    let e = &r.entry;
    let serials = match (&e.old_serial, &e.new_serial) {
        (Some(o), Some(n)) => format!(" {o} -> {n}"),
        (Some(o), None) => format!(" {o}"),
        (None, Some(n)) => format!(" -> {n}"),
        (None, None) => String::new(),
    };
    let reason = e.reason.as_deref().unwrap_or("-");
    let reason = Refusal::reason_label(reason, lang).unwrap_or(reason);
    let (time, result) = match (lang, e.result) {
        (Lang::En, AuditResult::Ok) => (utc(e.at), "ok".to_owned()),
        (Lang::En, AuditResult::Refused) => (utc(e.at), format!("refused ({reason})")),
        (Lang::Ja, AuditResult::Ok) => (jst_stamp(e.at), "正常".to_owned()),
        (Lang::Ja, AuditResult::Refused) => (jst_stamp(e.at), format!("拒否（{reason}）")),
    };
    format!(
        "{:>5}  {time}  {:<10} {}{serials}  {result}",
        r.seq,
        e.operator,
        e.action.label(lang)
    )
}

/// Checks the whole audit chain and its stored head: exit 0 and the count,
/// or an error saying which record breaks it.
fn verify_chain<S: Store>(bank: &Bank<S>, lang: Lang) -> Result<()> {
    match bank.verify_audit() {
        Ok(head) => {
            say(
                lang,
                &format!("The audit chain verifies ({head} records in all)."),
                &format!("利用履歴の改ざん検知チェーンを検証しました（全 {head} 件）。"),
            );
            Ok(())
        }
        Err(AuditCheckError::Chain(e)) => bail!(
            "{}: {e}",
            tr(
                lang,
                "the audit trail does not verify (tampered with, or the key file is not this bank's)",
                "利用履歴の検証に失敗しました（改ざん、または鍵ファイルがこの銀行のものではありません）"
            )
        ),
        Err(e) => bail!("the audit trail could not be checked: {e}"),
    }
}

fn split_user(spec: &str) -> Result<(UserId, String)> {
    let (id, name) = spec.split_once(':').unwrap_or((spec, ""));
    Ok((user_id(id)?, name.to_owned()))
}

/// `init`: a new bank only. Adding an administrator to a bank that has
/// users is the branch's act (`branch-enroll`), never a command anyone
/// with the files can run unaudited.
fn init<S: Store>(bank: &Bank<S>, admins: &[String], users: &[String], lang: Lang) -> Result<()> {
    let existing = bank.records().users(0, 1)?.total;
    if existing > 0 {
        bail!(
            "this bank exists already ({existing} users): `otp bank init` only creates a new bank; \
             the branch adds users with `otp bank branch-enroll --user ID:NAME --officer STAFF-ID --request REFERENCE`"
        );
    }
    let installer = BranchAuthorization::new("installer", "otp bank init");
    enroll(bank, &installer, admins, users, lang)
}

/// Creates (or renames) users as `auth`'s act, asking each new
/// administrator's approval password before anything is written for them.
fn enroll<S: Store>(
    bank: &Bank<S>,
    auth: &BranchAuthorization,
    admins: &[String],
    users: &[String],
    lang: Lang,
) -> Result<()> {
    if admins.is_empty() && users.is_empty() {
        bail!("give at least one --admin ID[:NAME] or --user ID[:NAME]");
    }
    let mut prompter = Prompter::new();
    for (spec, authority) in admins
        .iter()
        .map(|s| (s, Authority::Administrator))
        .chain(users.iter().map(|s| (s, Authority::General)))
    {
        let (id, name) = split_user(spec)?;
        let existing = bank.records().user(&id)?;
        let name = match (&existing, name.is_empty()) {
            (Some(user), true) => user.name.clone(),
            _ => name,
        };
        // A new administrator (or a user made one) gets an approval
        // password, asked before anything is written.
        let new_admin = authority == Authority::Administrator
            && existing
                .as_ref()
                .is_none_or(|u| u.authority != Authority::Administrator);
        let password = if new_admin {
            let prompt = match lang {
                Lang::Ja => format!("{} の承認用パスワード：", id.as_str()),
                Lang::En => format!("Approval password for {}: ", id.as_str()),
            };
            Some(prompter.new_password(&prompt, lang)?)
        } else {
            None
        };
        bank.enroll_user(auth, &id, &name, authority)
            .map_err(|r| refused(&r, lang))?;
        if let Some(password) = &password {
            bank.set_password(auth, &id, PasswordKind::Approval, password)
                .map_err(|r| refused(&r, lang))?;
        }
        println!(
            "{} {} ({})",
            if existing.is_some() {
                tr(lang, "Updated", "更新")
            } else {
                tr(lang, "Created", "作成")
            },
            id.as_str(),
            authority.label(lang)
        );
    }
    Ok(())
}

/// Users on a page of the selection screen.
pub(crate) const USERS_PER_PAGE: usize = 20;

fn users<S: Store>(bank: &Bank<S>, op: &UserId, page: usize, lang: Lang) -> Result<()> {
    let list = bank
        .user_list(op, page.saturating_sub(1), USERS_PER_PAGE)
        .map_err(|r| refused(&r, lang))?;
    println!(
        "{}{}{}{}{}",
        pad(tr(lang, "Customer ID", "お客様ID"), 13),
        pad(tr(lang, "Token serial", "シリアル番号"), 15),
        pad(tr(lang, "Status", "登録状況"), 12),
        pad(tr(lang, "Authority", "権限"), 15),
        tr(lang, "User name", "利用者名")
    );
    for row in &list.rows {
        let serial = row.serial.map_or_else(|| "-".to_owned(), |m| m.to_string());
        let status = match (row.locked, row.registered) {
            (true, _) => tr(lang, "locked", "ロック中"),
            (false, true) => tr(lang, "registered", "登録完了"),
            (false, false) => "-",
        };
        println!(
            "{}{}{}{}{}",
            pad(row.id.as_str(), 13),
            pad(&serial, 15),
            pad(status, 12),
            pad(row.authority.label(lang), 15),
            row.name
        );
    }
    match lang {
        Lang::Ja => println!("全{}件中 {}～{}件を表示", list.total, list.first, list.last),
        Lang::En => println!("{} to {} of {}", list.first, list.last, list.total),
    }
    Ok(())
}

fn exchange<S: Store>(bank: &Bank<S>, op: &UserId, target: &UserId, lang: Lang) -> Result<()> {
    let mut step4 = bank
        .begin_exchange(op, target)
        .map_err(|r| refused(&r, lang))?;
    let mut prompter = Prompter::new();
    let step5 = loop {
        let code = prompter.current_code(lang)?;
        match step4.submit_code(bank, &code) {
            Ok(next) => break next,
            Err(retry) => {
                eprintln!("{}", retry.refusal.message(lang));
                step4 = retry.resume.ok_or_else(|| refused(&retry.refusal, lang))?;
            }
        }
    };
    new_token(bank, step5, &mut prompter, lang)
}

fn registered(lang: Lang) {
    say(
        lang,
        "The usage mode and token have been registered. The registered token is valid from now.",
        "利用形態・トークンを登録しました。登録したトークンは今から有効となります。",
    );
}

fn new_token<S: Store>(
    bank: &Bank<S>,
    mut step5: otp_exchange::ExpectNewToken,
    prompter: &mut Prompter,
    lang: Lang,
) -> Result<()> {
    loop {
        let serial = prompter.new_serial(lang)?;
        let code = prompter.new_code(lang)?;
        let password = prompter.approval_password(lang)?;
        match step5.confirm(bank, &serial, &code, &password) {
            Ok(done) => {
                registered(lang);
                println!("{} {}", done.user.as_str(), done.new_serial.masked());
                return Ok(());
            }
            Err(retry) => {
                eprintln!("{}", retry.refusal.message(lang));
                step5 = retry.resume.ok_or_else(|| refused(&retry.refusal, lang))?;
            }
        }
    }
}

/// The branch registers a token for a user with none: the new serial and a
/// code from it, asked again after a refusal the user can correct.
fn branch_register<S: Store>(
    bank: &Bank<S>,
    auth: &BranchAuthorization,
    target: &UserId,
    lang: Lang,
) -> Result<()> {
    let mut prompter = Prompter::new();
    loop {
        let serial = prompter.new_serial(lang)?;
        let code = prompter.new_code(lang)?;
        match bank.branch_register(auth, target, &serial, &code) {
            Ok(serial) => {
                registered(lang);
                println!("{} {}", target.as_str(), serial.masked());
                return Ok(());
            }
            Err(
                r @ (Refusal::Code(..)
                | Refusal::WrongCode(_)
                | Refusal::Replayed(_)
                | Refusal::Serial(_)
                | Refusal::UnknownSerial
                | Refusal::SerialAssigned
                | Refusal::SerialRevoked),
            ) => eprintln!("{}", r.message(lang)),
            Err(r) => return Err(refused(&r, lang)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use otp_exchange::{Action, AuditEntry, AuditKey, Lang, UserId};
    use otp_provision::SerialNumber;

    use super::audit_line;

    /// Regression: under `--lang ja` the usage history kept English
    /// action names, reason codes and UTC times.
    #[test]
    fn usage_history_lines_in_english_and_in_japanese() {
        let key = AuditKey::new([7; 32]);
        let user = UserId::parse("W0002").unwrap();
        let old = SerialNumber::parse("VT0000000001").unwrap();
        let new = SerialNumber::parse("VT0000000002").unwrap();
        // 2020-10-01 02:00:05 UTC, 11:00:05 JST.
        let exchanged = AuditEntry::new(1_601_517_605, "W0001", Some(&user), Action::Exchange)
            .with_old(Some(&old))
            .with_new(Some(&new))
            .seal(12, [0; 32], &key);
        let refused = AuditEntry::new(1_601_517_575, "W0001", Some(&user), Action::NewToken)
            .with_new(Some(&new))
            .refused("wrong_password")
            .seal(11, [0; 32], &key);
        let unlocked = AuditEntry::new(1_601_517_700, "W0001", Some(&user), Action::Unlock)
            .refused("from_a_later_version")
            .seal(13, [0; 32], &key);
        assert_eq!(
            audit_line(&exchanged, Lang::En),
            "   12  2020-10-01T02:00:05Z  W0001      Exchange ●●●●●●●●0001 -> ●●●●●●●●0002  ok"
        );
        assert_eq!(
            audit_line(&exchanged, Lang::Ja),
            "   12  2020/10/01 11:00:05 JST  W0001      トークン交換 ●●●●●●●●0001 -> ●●●●●●●●0002  正常"
        );
        assert_eq!(
            audit_line(&refused, Lang::En),
            "   11  2020-10-01T01:59:35Z  W0001      NewToken -> ●●●●●●●●0002  refused (wrong_password)"
        );
        assert_eq!(
            audit_line(&refused, Lang::Ja),
            "   11  2020/10/01 10:59:35 JST  W0001      新しいトークン確定 -> ●●●●●●●●0002  拒否（承認用パスワード誤り）"
        );
        assert_eq!(
            audit_line(&unlocked, Lang::Ja),
            "   13  2020/10/01 11:01:40 JST  W0001      IDロック解除  拒否（from_a_later_version）"
        );
    }
}
