//! `otp factory`: manufacture N tokens with secrets from the operating
//! system's random source (or, for tests only, from `--test-seed NAME`):
//! the PSKC seed file (plain, or encrypted under a pre-shared AES key) and
//! one token file per token, named after its serial.
//!
//! The pre-shared key never comes from the command line (every local user
//! sees it in `ps`): it comes from a key file, from `OTP_PSKC_KEY`, or is
//! typed on the terminal.

use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};
use otp_provision::{Profile, PskcLimits};
use otp_token::{Factory, TokenFile};
use sha2::Digest as _;

use crate::safefs::{self, Mode};
use crate::time::{parse_time, system_now};
use crate::tokenfile::{self, KindArg};

mod interrupt;
mod keys;
mod plan;
mod progress;
mod readback;
mod staging;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
mod tests;

use interrupt::{Phase, catch_ctrl_c, check_interrupt, enter_commit, set_phase};
pub(crate) use keys::{KEY_ENV, psk_from, psk_from_terminal};
use plan::plan;
use progress::Progress;
use readback::{Tally, prove};
use staging::Staging;

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
    /// Make keypad (signing) tokens answering typed challenges with this
    /// RFC 6287 OCRA suite (such as OCRA-1:HOTP-SHA1-6:QN08; no P or S):
    /// the seed file carries it (an OCRA key package) and so do the token
    /// files. The login code is still --kind, with the suite's hash.
    #[arg(long, value_name = "SUITE", value_parser = crate::args::keypad_suite)]
    suite: Option<otp_core::OcraSuite>,
}

/// The most tokens in one batch: the number of key packages a seed file
/// may hold for `otp bank import`
/// ([`PskcLimits::DEFAULT_MAX_KEY_PACKAGES`]), so that every batch can be
/// imported. Memory is not the limit: the batch is made, written and
/// read back one token at a time.
pub(crate) const MAX_COUNT: usize = PskcLimits::DEFAULT_MAX_KEY_PACKAGES;

pub(crate) fn run(args: &FactoryArgs) -> Result<()> {
    let spinner = Progress::new(None, "checking the destinations");
    let names = plan(args)?;
    drop(spinner);
    // Before the first file: Ctrl-C exits at once until then, and stops
    // the writing cleanly after.
    catch_ctrl_c()?;
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
    if let Some(suite) = args.suite {
        // `keypad_suite` refused P and S already.
        factory = factory
            .suite(suite)
            .map_err(|e| anyhow!("--suite {suite}: {e}"))?;
    }

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
        written.add(&record);
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
    enter_commit()?;
    staging.commit()?;
    if let Err(e) = pskc.commit() {
        staging.roll_back();
        return Err(e.into());
    }
    staging.finish()?;

    let Some((first, last)) = serials else {
        bail!("the factory made no token")
    };
    let keypad = args
        .suite
        .map(|s| format!(" (keypad, {s})"))
        .unwrap_or_default();
    println!(
        "Manufactured {} tokens{keypad} {}..{}: seed file {} ({}), token files in {}.",
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
