//! `otp factory`: manufacture N tokens with secrets from the operating
//! system's random source (or, for tests only, from `--test-seed NAME`):
//! the PSKC seed file (plain, or encrypted under a pre-shared AES key) and
//! one token file per token, named after its serial.
//!
//! The pre-shared key never comes from the command line (every local user
//! sees it in `ps`): it comes from a key file, from `OTP_PSKC_KEY`, or is
//! typed on the terminal.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use otp_provision::{PreSharedKey, Profile, PskcLimits, SERIAL_LEN, SerialNumber};
use otp_token::{Factory, TokenFile};
use sha2::Digest as _;
use zeroize::Zeroizing;

use crate::safefs::{self, Mode};
use crate::time::{parse_time, system_now};
use crate::tokenfile::{self, KindArg};

/// `otp factory` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct FactoryArgs {
    /// How many tokens to make: 1 to 1000000 (and within the serial
    /// numbers: the prefix and the running number make 12 characters).
    #[arg(long, allow_negative_numbers = true, value_parser = crate::args::whole::<usize>)]
    count: usize,
    /// Replace an existing seed file and existing token files of the same
    /// serials. Without it they are refused, before any work.
    #[arg(long)]
    force: bool,
    /// FOR TESTS ONLY: derive every secret from SHA-256(NAME), so that the
    /// same NAME makes the same fleet (secrets, serials, crystals); anyone
    /// who knows or guesses NAME has every secret. Without it the secrets
    /// come from the operating system's random source.
    #[arg(long, value_name = "NAME")]
    test_seed: Option<String>,
    /// The PSKC (RFC 6030) seed file to write.
    #[arg(long, value_name = "FILE")]
    pskc: PathBuf,
    /// The folder for the token files (created if missing).
    #[arg(long, value_name = "DIR")]
    tokens_dir: PathBuf,
    /// Encrypt the seed file's secrets (AES-128-CBC + HMAC-SHA1) with the
    /// 128-bit key (32 hex digits) read from this file. Without it, the key
    /// in OTP_PSKC_KEY (32 hex digits) encrypts, if set.
    #[arg(long, value_name = "FILE")]
    encrypt_key_file: Option<PathBuf>,
    /// Encrypt the seed file: with the key of --encrypt-key-file or
    /// OTP_PSKC_KEY, else the key typed on the terminal.
    #[arg(long)]
    encrypt: bool,
    /// Time-based (totp, the default) or event-based (hotp) tokens.
    #[arg(long, value_enum, default_value = "totp")]
    kind: KindArg,
    /// Serial prefix (up to 4 letters or digits); serials are the prefix and a running number.
    #[arg(long, default_value = "VT")]
    prefix: String,
    /// The running number of the first token.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true, value_parser = crate::args::whole::<u64>)]
    first: u64,
    /// Crystal errors: each token drifts by up to ± this many ppm (real tokens: 20). Default 0.
    #[arg(long, default_value_t = 0, value_name = "PPM", allow_negative_numbers = true, value_parser = crate::args::whole::<u16>)]
    max_drift_ppm: u16,
    /// Clock offsets at activation: up to ± this many seconds. Default 0.
    #[arg(long, default_value_t = 0, value_name = "SECONDS", allow_negative_numbers = true, value_parser = crate::args::whole::<u16>)]
    max_offset: u16,
    /// Activation time of the batch (TIME as for `otp oath -N`). Default: now
    /// if the crystals drift, else 1970-01-01 so that `otp token press --at`
    /// works at any time.
    #[arg(long, value_name = "TIME")]
    activated_at: Option<String>,
    /// Manufacturer written into the seed file and the token files.
    #[arg(long, default_value = "otp-token")]
    manufacturer: String,
}

/// A pre-shared key from 32 hex digits.
pub(crate) fn parse_psk(hex_text: &str) -> Result<PreSharedKey> {
    let bytes =
        Zeroizing::new(hex::decode(hex_text.trim()).map_err(|_| {
            anyhow!("the encryption key is not hex: give 32 hex digits (128 bits)")
        })?);
    let key: [u8; 16] = bytes.as_slice().try_into().map_err(|_| {
        anyhow!(
            "the encryption key is {} bits: give 32 hex digits (128 bits)",
            bytes.len().saturating_mul(8)
        )
    })?;
    Ok(PreSharedKey::new(key))
}

/// The environment variable that may hold the pre-shared key, in hex.
pub(crate) const KEY_ENV: &str = "OTP_PSKC_KEY";

/// The pre-shared key from the key file `file` if given, else from
/// [`KEY_ENV`] if set; `None` if neither.
pub(crate) fn psk_from(file: Option<&Path>) -> Result<Option<PreSharedKey>> {
    if let Some(path) = file {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the key file `{}`", path.display()))?,
        );
        return parse_psk(&text)
            .with_context(|| format!("the key file `{}`", path.display()))
            .map(Some);
    }
    match std::env::var_os(KEY_ENV) {
        None => Ok(None),
        Some(value) => {
            let value = Zeroizing::new(value.into_string().map_err(|_| {
                anyhow!("{KEY_ENV}: the encryption key is not hex: give 32 hex digits (128 bits)")
            })?);
            parse_psk(&value).context(KEY_ENV).map(Some)
        }
    }
}

/// The pre-shared key typed on the terminal (not echoed), if standard
/// input is one; `None` otherwise.
pub(crate) fn psk_from_terminal(prompt: &str) -> Result<Option<PreSharedKey>> {
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let typed = Zeroizing::new(
        rpassword::prompt_password(prompt).context("cannot read the key from the terminal")?,
    );
    parse_psk(&typed).map(Some)
}

/// The most tokens in one batch: the number of key packages a seed file
/// may hold for `otp bank import`
/// ([`PskcLimits::DEFAULT_MAX_KEY_PACKAGES`]), so that every batch can be
/// imported. Memory is not the limit: the batch is made, written and
/// read back one token at a time.
pub(crate) const MAX_COUNT: usize = PskcLimits::DEFAULT_MAX_KEY_PACKAGES;

/// Where the batch is, for the Ctrl-C handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Nothing on the disk yet: Ctrl-C exits at once.
    Preparing,
    /// Files are being written under temporary names: Ctrl-C asks the
    /// writer to stop, remove them and exit with 130.
    Writing,
    /// The final renames: Ctrl-C waits for them (the batch is then complete).
    Committing,
}

static PHASE: Mutex<Phase> = Mutex::new(Phase::Preparing);
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn set_phase(phase: Phase) {
    *PHASE.lock().unwrap_or_else(PoisonError::into_inner) = phase;
}

/// The error of a Ctrl-C while writing: exit status 130.
fn interrupted() -> anyhow::Error {
    anyhow::Error::new(crate::Exit {
        code: 130,
        message: "interrupted: no file was written, the old ones are as they were".to_owned(),
    })
}

/// Stops with [`interrupted`] if Ctrl-C was pressed.
fn check_interrupt() -> Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        return Err(interrupted());
    }
    Ok(())
}

/// The most characters of a serial prefix (the running number fills the
/// rest of the serial).
const MAX_PREFIX_LEN: usize = 4;

/// `--prefix` as the user gave it: up to [`MAX_PREFIX_LEN`] half-width
/// letters or digits, or an error that says what a prefix is and what is
/// wrong with this one (a serial's own messages speak of the 12
/// characters on the back of a token, which a prefix is not).
fn check_prefix(prefix: &str) -> Result<()> {
    let problem = if let Some(c) = prefix.chars().find(|c| !c.is_ascii_alphanumeric()) {
        format!("`{prefix}` has `{c}`")
    } else if prefix.len() > MAX_PREFIX_LEN {
        format!("`{prefix}` has {} characters", prefix.len())
    } else {
        return Ok(());
    };
    bail!(
        "--prefix {prefix}: a serial prefix is what every serial number of the batch starts with, \
         before the running number that fills the rest of the {SERIAL_LEN} characters: up to \
         {MAX_PREFIX_LEN} half-width letters or digits (A-Z, 0-9), such as VT; {problem}"
    )
}

/// The token files' names, in order: made on demand, never all held (a
/// batch may have a million).
#[derive(Clone, Debug)]
enum Names {
    /// `{serial}.toml` for the serials `prefix` + `first`, `first + 1`…,
    /// `count` of them (checked by [`plan`]).
    Serials {
        prefix: String,
        first: u64,
        count: u64,
    },
    /// These names (the tests' batches).
    #[cfg(test)]
    List(Vec<String>),
}

impl Names {
    fn iter(&self) -> Box<dyn Iterator<Item = Result<String>> + '_> {
        match self {
            Self::Serials {
                prefix,
                first,
                count,
            } => Box::new((0..*count).map(move |n| {
                let serial = first
                    .checked_add(n)
                    .and_then(|n| SerialNumber::numbered(prefix, n).ok())
                    .ok_or_else(|| anyhow!("--prefix {prefix}: the serials run out"))?;
                Ok(format!("{}.toml", serial.as_str()))
            })),
            #[cfg(test)]
            Self::List(names) => Box::new(names.iter().cloned().map(Ok)),
        }
    }
}

/// The serials' file names, checked: the count against [`MAX_COUNT`] and
/// the serial space, and every destination against `--force`.
fn plan(args: &FactoryArgs) -> Result<Names> {
    if args.count == 0 {
        bail!("--count must be at least 1");
    }
    if args.count > MAX_COUNT {
        bail!(
            "--count {}: at most {MAX_COUNT} tokens per batch (make several batches with --first)",
            args.count
        );
    }
    check_prefix(&args.prefix)?;
    SerialNumber::numbered(&args.prefix, args.first)
        .map_err(|e| anyhow!("--prefix {}: {e}", args.prefix))?;
    let count = u64::try_from(args.count).unwrap_or(u64::MAX);
    let last = args.first.checked_add(count.saturating_sub(1));
    if last.is_none_or(|last| SerialNumber::numbered(&args.prefix, last).is_err()) {
        bail!(
            "--count {} from --first {}: the serials would run past {}{} (12 characters: the prefix, then the running number)",
            args.count,
            args.first,
            args.prefix.to_ascii_uppercase(),
            "9".repeat(SERIAL_LEN.saturating_sub(args.prefix.len()))
        );
    }
    let names = Names::Serials {
        prefix: args.prefix.clone(),
        first: args.first,
        count,
    };
    if safefs::check_destination(&args.pskc)? && !args.force {
        bail!(
            "`{}` exists already: choose another file name, or add --force to replace it",
            args.pskc.display()
        );
    }
    match std::fs::metadata(&args.tokens_dir) {
        Ok(m) if m.is_dir() => {
            for name in names.iter() {
                let path = args.tokens_dir.join(name?);
                if safefs::check_destination(&path)? && !args.force {
                    bail!(
                        "`{}` exists already: choose another folder, or add --force to replace the token files",
                        path.display()
                    );
                }
            }
        }
        Ok(_) => bail!("`{}` is not a folder", args.tokens_dir.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => bail!(
            "cannot open the folder `{}`: {e}",
            args.tokens_dir.display()
        ),
    }
    Ok(names)
}

/// A running SHA-256 over the serials and secrets of a batch, each with
/// its length: what was written into the seed file, and what reads back
/// from it, compared without holding either.
struct Tally {
    hash: sha2::Sha256,
    count: usize,
}

impl Tally {
    fn new() -> Self {
        Self {
            hash: sha2::Sha256::new(),
            count: 0,
        }
    }

    fn add(&mut self, serial: &str, secret: &[u8]) {
        for part in [serial.as_bytes(), secret] {
            let len = u64::try_from(part.len()).unwrap_or(u64::MAX);
            self.hash.update(len.to_be_bytes());
            self.hash.update(part);
        }
        self.count = self.count.saturating_add(1);
    }

    /// The digest and the count.
    fn finish(self) -> ([u8; 32], usize) {
        (self.hash.finalize().into(), self.count)
    }
}

/// A spinner (or bar) on stderr from the first second; hidden when stderr
/// is not a terminal; cleared when dropped (on an error too).
struct Progress(indicatif::ProgressBar);

impl Progress {
    fn new(len: Option<usize>, message: &'static str) -> Self {
        let bar = match len {
            Some(n) => {
                let bar = indicatif::ProgressBar::new(u64::try_from(n).unwrap_or(u64::MAX));
                bar.set_style(
                    indicatif::ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} ({eta})")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                bar
            }
            None => indicatif::ProgressBar::new_spinner(),
        };
        bar.set_message(message);
        bar.enable_steady_tick(Duration::from_millis(100));
        Self(bar)
    }
}

impl std::ops::Deref for Progress {
    type Target = indicatif::ProgressBar;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

pub(crate) fn run(args: &FactoryArgs) -> Result<()> {
    let spinner = Progress::new(None, "checking the destinations");
    let names = plan(args)?;
    drop(spinner);
    // Before the first file: Ctrl-C exits at once until then, and stops
    // the writing cleanly after.
    ctrlc::set_handler(|| {
        let phase = *PHASE.lock().unwrap_or_else(PoisonError::into_inner);
        if phase == Phase::Preparing {
            std::process::exit(130);
        }
        INTERRUPTED.store(true, Ordering::SeqCst);
    })
    .map_err(|e| anyhow!("cannot catch Ctrl-C: {e}"))?;
    let psk = match psk_from(args.encrypt_key_file.as_deref())? {
        Some(psk) => Some(psk),
        None if args.encrypt => Some(
            psk_from_terminal("Pre-shared key for the seed file (32 hex digits): ")?.ok_or_else(
                || {
                    anyhow!(
                        "--encrypt needs the pre-shared key: give it with --encrypt-key-file FILE or {KEY_ENV}, or run on a terminal to type it"
                    )
                },
            )?,
        ),
        None => None,
    };
    let default_activation = if args.max_drift_ppm != 0 || args.max_offset != 0 {
        system_now()
    } else {
        0
    };
    let at = args
        .activated_at
        .as_deref()
        .map(|t| parse_time(t, system_now()))
        .transpose()?
        .unwrap_or(default_activation);
    let factory = match &args.test_seed {
        Some(name) => {
            eprintln!(
                "otp: --test-seed: every secret of this batch is derived from the seed's name, so anyone who knows it has them all: for tests only, never give these tokens to customers"
            );
            Factory::deterministic_for_tests(sha2::Sha256::digest(name.as_bytes()).into())
        }
        None => Factory::from_os_rng().map_err(|e| anyhow!("{e}"))?,
    };
    let profile = match args.kind {
        KindArg::Totp => Profile::default(),
        KindArg::Hotp => Profile::hotp(),
    };
    let mut factory = factory
        .named(&args.manufacturer, "VT-1")
        .serials(&args.prefix, args.first)
        .map_err(|e| anyhow!("--prefix {}: {e}", args.prefix))?
        .profile(profile)
        .crystals(args.max_drift_ppm, args.max_offset)
        .map_err(|e| anyhow!("--max-drift-ppm {}: {e}", args.max_drift_ppm))?;

    set_phase(Phase::Writing);
    check_interrupt()?;
    // Each token is made, written into its token file and into the seed
    // file, and dropped before the next: memory does not grow with the
    // batch. Everything goes under temporary names first (dropped on any
    // error or Ctrl-C).
    let mut staging = Staging::new(&args.tokens_dir, args.force, names)?;
    let out = safefs::stage_writer(
        &args.pskc,
        if args.force {
            Mode::Replace
        } else {
            Mode::Create
        },
    )?;
    let mut seed = factory
        .seed_file_writer(out, psk.as_ref())
        .map_err(|e| anyhow!("{e}"))?;
    let seed_error = |e: otp_provision::PskcError, out: &safefs::StagedWriter| match out.failure() {
        Some(failure) => anyhow::Error::new(failure),
        None => anyhow!("{e}"),
    };
    let mut written = Tally::new();
    let mut serials = None;
    let bar = Progress::new(Some(args.count), "token files");
    for made in factory
        .manufacture_iter(args.count, at)
        .map_err(|e| anyhow!("{e}"))?
    {
        let (token, record) = made.map_err(|e| anyhow!("{e}"))?;
        let serial = token.serial();
        let file = TokenFile::new(&token, record.secret(), &args.manufacturer);
        tokenfile::write_new(
            &file,
            &staging.dir.join(format!("{}.toml", serial.as_str())),
        )?;
        seed.write(&record)
            .map_err(|e| seed_error(e, seed.get_ref()))?;
        written.add(serial.as_str(), record.secret().expose_secret());
        serials = Some((serials.map_or(serial, |(first, _)| first), serial));
        bar.inc(1);
        check_interrupt()?;
    }
    bar.set_message("seed file");
    let out = seed.finish().map_err(|e| anyhow!("{e}"))?;
    let size = out.written();
    let pskc = out.finish()?;
    drop(bar);

    let spinner = Progress::new(None, "reading the seed file back");
    prove(&pskc, psk.as_ref(), size, written)?;
    spinner.set_message("flushing");
    safefs::sync_batch(&staging.dir)?;
    drop(spinner);
    {
        let mut phase = PHASE.lock().unwrap_or_else(PoisonError::into_inner);
        check_interrupt()?;
        *phase = Phase::Committing;
    }
    staging.commit()?;
    if let Err(e) = pskc.commit() {
        staging.roll_back();
        return Err(e.into());
    }
    staging.finish()?;

    let Some((first, last)) = serials else {
        bail!("the factory made no token")
    };
    println!(
        "Manufactured {} tokens {}..{}: seed file {} ({}), token files in {}.",
        args.count,
        first.as_str(),
        last.as_str(),
        args.pskc.display(),
        if psk.is_some() {
            "secrets encrypted with AES-128-CBC"
        } else {
            "plain: keep it private"
        },
        args.tokens_dir.display()
    );
    Ok(())
}

/// Reads the staged seed file back, one key package at a time: it must
/// decrypt and hold exactly the serials and secrets `written` tallied, in
/// order (those of the token files). It was just written here, so the
/// import caps are its own `size` and the tokens made. Ctrl-C stops it.
fn prove(
    pskc: &safefs::Staged,
    psk: Option<&PreSharedKey>,
    size: u64,
    written: Tally,
) -> Result<()> {
    let (written, made) = written.finish();
    let own = PskcLimits::default()
        .with_max_bytes(usize::try_from(size).unwrap_or(usize::MAX))
        .with_max_key_packages(made);
    let mut read = Tally::new();
    let mut stopped = false;
    let back = otp_provision::read_pskc_records(pskc.read_back()?, psk, &own, |record| {
        read.add(&record.serial, record.secret().expose_secret());
        if INTERRUPTED.load(Ordering::SeqCst) {
            stopped = true;
            return Err(otp_provision::PskcError::Write);
        }
        Ok(())
    });
    if stopped {
        return Err(interrupted());
    }
    back.map_err(|e| anyhow!("the seed file just written does not read back: {e}"))?;
    let (read, found) = read.finish();
    if found != made || read != written {
        bail!(
            "the seed file just written does not read back: it holds {found} tokens, {} the {made} made",
            if found == made {
                "not exactly those of"
            } else {
                "not"
            }
        );
    }
    Ok(())
}

/// The token files of a batch under a temporary folder until
/// [`Staging::commit`]; whatever is not committed is removed on drop.
///
/// Into a new `--tokens-dir`, the temporary folder is beside it and is
/// renamed to it: all at once. Into an existing one, the temporary folder
/// is inside it and each file is renamed into place, one by one; a file it
/// replaces (`--force`) is first moved aside into the temporary folder, so
/// that an error puts everything back. Only a crash (power loss, `kill
/// -9`) during these renames, a fraction of a second at the very end,
/// leaves part of the batch: some new token files in place, the
/// temporary folder `.otp-factory-*` with the rest (and the replaced
/// ones, under `replaced/`), and the old seed file.
struct Staging {
    /// The temporary folder.
    dir: PathBuf,
    /// The destination folder.
    tokens_dir: PathBuf,
    /// The temporary folder becomes `tokens_dir` (which did not exist).
    whole: bool,
    /// Replace existing token files.
    force: bool,
    /// The token files' names, in order.
    names: Names,
    /// How many of `names` the commit has renamed into place (into a new
    /// folder: 1 once the folder is).
    placed: usize,
    /// How many of `names` the commit has looked at: the old files among
    /// them (`--force`) are under [`REPLACED`].
    seen: usize,
    /// Committed and finished: nothing to remove.
    done: bool,
}

/// The replaced token files, inside the temporary folder.
const REPLACED: &str = "replaced";

impl Staging {
    fn new(tokens_dir: &Path, force: bool, names: Names) -> Result<Self> {
        use std::os::unix::fs::PermissionsExt as _;
        let whole = !tokens_dir.is_dir();
        let home = if whole {
            let parent = tokens_dir
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or_else(|| Path::new("."));
            safefs::create_private_dir_all(parent)?;
            parent.to_owned()
        } else {
            tokens_dir.to_owned()
        };
        let dir = tempfile::Builder::new()
            .prefix(".otp-factory-")
            .rand_bytes(16)
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(&home)
            .map_err(|e| {
                anyhow!(
                    "cannot create a temporary folder in `{}`: {e}",
                    home.display()
                )
            })?
            .keep();
        Ok(Self {
            dir,
            tokens_dir: tokens_dir.to_owned(),
            whole,
            force,
            names,
            placed: 0,
            seen: 0,
            done: false,
        })
    }

    /// Puts the token files in place; on an error, puts everything back.
    fn commit(&mut self) -> Result<()> {
        let result = self.try_commit();
        if result.is_err() {
            self.roll_back();
        }
        result
    }

    fn try_commit(&mut self) -> Result<()> {
        if self.whole {
            safefs::rename_noreplace(&self.dir, &self.tokens_dir)?;
            self.placed = 1;
            return Ok(());
        }
        let aside = self.dir.join(REPLACED);
        if self.force {
            safefs::create_private_dir_all(&aside)?;
        }
        let names = self.names.clone();
        for name in names.iter() {
            let name = name?;
            let dest = self.tokens_dir.join(&name);
            self.seen = self.seen.saturating_add(1);
            if safefs::check_destination(&dest)? {
                if !self.force {
                    bail!(
                        "`{}` exists already: choose another folder, or add --force to replace the token files",
                        dest.display()
                    );
                }
                safefs::rename_noreplace(&dest, &aside.join(&name))?;
            }
            safefs::rename_noreplace(&self.dir.join(&name), &dest)?;
            self.placed = self.placed.saturating_add(1);
        }
        Ok(())
    }

    /// Undoes [`Staging::commit`] (best effort: an error here is ignored).
    fn roll_back(&mut self) {
        if self.whole {
            if std::mem::take(&mut self.placed) > 0 {
                let _ = std::fs::rename(&self.tokens_dir, &self.dir);
            }
            return;
        }
        let placed = std::mem::take(&mut self.placed);
        for name in self.names.iter().take(placed).flatten() {
            let _ = std::fs::rename(self.tokens_dir.join(&name), self.dir.join(&name));
        }
        let aside = self.dir.join(REPLACED);
        let seen = std::mem::take(&mut self.seen);
        for name in self.names.iter().take(seen).flatten() {
            let old = aside.join(&name);
            if std::fs::symlink_metadata(&old).is_ok() {
                let _ = std::fs::rename(old, self.tokens_dir.join(&name));
            }
        }
    }

    /// After the commit: removes the temporary folder (and the replaced
    /// files in it) and flushes the folders.
    fn finish(mut self) -> Result<()> {
        self.done = true;
        if !self.whole {
            std::fs::remove_dir_all(&self.dir).map_err(|e| {
                anyhow!(
                    "cannot remove the temporary folder `{}`: {e}",
                    self.dir.display()
                )
            })?;
        }
        safefs::sync_dir(&self.tokens_dir)?;
        if let Some(parent) = self
            .tokens_dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            safefs::sync_dir(parent)?;
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done {
            self.roll_back();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn record(serial: &str, byte: u8) -> otp_provision::SeedRecord {
        let secret = otp_core::Secret::from_bytes(&[byte; 20]).unwrap();
        otp_provision::SeedRecord::new(serial, secret, Profile::default())
    }

    /// Stages a seed file of `records`, and tallies `tallied`.
    fn staged(
        dir: &Path,
        psk: Option<&PreSharedKey>,
        records: &[otp_provision::SeedRecord],
        tallied: &[otp_provision::SeedRecord],
    ) -> (safefs::Staged, u64, Tally) {
        let out = safefs::stage_writer(&dir.join("batch.pskc"), Mode::Create).unwrap();
        let mut factory = Factory::deterministic_for_tests([1; 32]);
        let mut seed = factory.seed_file_writer(out, psk).unwrap();
        for r in records {
            seed.write(r).unwrap();
        }
        let out = seed.finish().unwrap();
        let size = out.written();
        let mut tally = Tally::new();
        for r in tallied {
            tally.add(&r.serial, r.secret().expose_secret());
        }
        (out.finish().unwrap(), size, tally)
    }

    /// The seed file read back must hold exactly the serials and secrets
    /// written, in order, under the key: another secret, another order,
    /// one token more or less, or another key is refused.
    #[test]
    fn the_seed_file_must_read_back_exactly_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let psk = PreSharedKey::new([3; 16]);
        let a = || [record("VT0000000000", 1), record("VT0000000001", 2)];
        let (pskc, size, tally) = staged(dir.path(), Some(&psk), &a(), &a());
        prove(&pskc, Some(&psk), size, tally).unwrap();
        let (pskc, size, tally) = staged(dir.path(), Some(&psk), &a(), &a());
        let e = prove(&pskc, Some(&PreSharedKey::new([4; 16])), size, tally).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the seed file just written does not read back: the seed file does not decrypt under this key, or key package 1 was altered or damaged: do not import it"
        );
        let other = [record("VT0000000000", 1), record("VT0000000001", 9)];
        let (pskc, size, tally) = staged(dir.path(), None, &a(), &other);
        let e = prove(&pskc, None, size, tally).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the seed file just written does not read back: it holds 2 tokens, not exactly those of the 2 made"
        );
        let swapped = [record("VT0000000001", 2), record("VT0000000000", 1)];
        let (pskc, size, tally) = staged(dir.path(), None, &a(), &swapped);
        assert!(prove(&pskc, None, size, tally).is_err());
        let (pskc, size, tally) = staged(dir.path(), None, &a()[..1], &a());
        let e = prove(&pskc, None, size, tally).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the seed file just written does not read back: it holds 1 tokens, not the 2 made"
        );
        let (pskc, size, tally) = staged(dir.path(), None, &a(), &a()[..1]);
        let e = prove(&pskc, None, size, tally).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the seed file just written does not read back: the seed file has more than 1 key packages: split it, or raise the limit with PskcLimits::max_key_packages"
        );
        // (Shadowed, the staged files live to the end of the test.)
        assert_eq!(names(dir.path()).len(), 6);
        drop(pskc);
        assert_eq!(names(dir.path()).len(), 5);
        assert!(names(dir.path()).iter().all(|n| n.starts_with(".otp-")));
    }

    /// A rename that fails half-way through the final step puts back the
    /// token files it had replaced and removes the new ones.
    #[test]
    fn a_failure_during_the_final_renames_puts_the_old_files_back() {
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        std::fs::write(tokens.join("A.toml"), "old A").unwrap();
        std::fs::write(tokens.join("B.toml"), "old B").unwrap();
        let batch = Names::List(["A.toml", "B.toml", "C.toml"].map(String::from).to_vec());
        let mut staging = Staging::new(&tokens, true, batch).unwrap();
        for name in ["A.toml", "B.toml", "C.toml"] {
            std::fs::write(staging.dir.join(name), format!("new {name}")).unwrap();
        }
        // After the checks, something that cannot be replaced appears.
        std::fs::create_dir(tokens.join("C.toml")).unwrap();
        let e = staging.commit().unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "`{}` is not a regular file",
                tokens.join("C.toml").display()
            )
        );
        drop(staging);
        assert_eq!(
            std::fs::read_to_string(tokens.join("A.toml")).unwrap(),
            "old A"
        );
        assert_eq!(
            std::fs::read_to_string(tokens.join("B.toml")).unwrap(),
            "old B"
        );
        assert_eq!(names(&tokens), ["A.toml", "B.toml", "C.toml"]);
        assert!(names(&tokens.join("C.toml")).is_empty());
    }

    /// Into a new folder the batch arrives whole, and an error after it
    /// (the seed file's rename) takes it away again.
    #[test]
    fn a_new_folder_arrives_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        let mut staging =
            Staging::new(&tokens, false, Names::List(vec!["A.toml".to_owned()])).unwrap();
        std::fs::write(staging.dir.join("A.toml"), "new A").unwrap();
        assert!(!tokens.exists());
        staging.commit().unwrap();
        assert_eq!(names(&tokens), ["A.toml"]);
        staging.roll_back();
        drop(staging);
        assert!(names(dir.path()).is_empty());
    }
}
