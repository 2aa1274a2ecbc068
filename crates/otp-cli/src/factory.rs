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

use anyhow::{Context as _, Result, anyhow, bail};
use otp_token::{Factory, Inventory, PreSharedKey, Profile, PskcLimits};
use sha2::Digest as _;
use zeroize::Zeroizing;

use crate::safefs::{self, Mode};
use crate::time::{parse_time, system_now};
use crate::tokenfile::{Kind, TokenFile};

/// `otp factory` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct FactoryArgs {
    /// How many tokens to make.
    #[arg(long)]
    count: usize,
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
    kind: Kind,
    /// Serial prefix (up to 4 letters or digits); serials are the prefix and a running number.
    #[arg(long, default_value = "VT")]
    prefix: String,
    /// The running number of the first token.
    #[arg(long, default_value_t = 0)]
    first: u64,
    /// Crystal errors: each token drifts by up to ± this many ppm (real tokens: 20). Default 0.
    #[arg(long, default_value_t = 0, value_name = "PPM")]
    max_drift_ppm: u16,
    /// Clock offsets at activation: up to ± this many seconds. Default 0.
    #[arg(long, default_value_t = 0, value_name = "SECONDS")]
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

pub(crate) fn run(args: &FactoryArgs) -> Result<()> {
    if args.count == 0 {
        bail!("--count must be at least 1");
    }
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
        Kind::Totp => Profile::default(),
        Kind::Hotp => Profile::hotp(),
    };
    let mut batch = factory
        .named(&args.manufacturer, "VT-1")
        .serials(&args.prefix, args.first)
        .map_err(|e| anyhow!("--prefix {}: {e}", args.prefix))?
        .profile(profile)
        .crystals(args.max_drift_ppm, args.max_offset)
        .map_err(|e| anyhow!("--max-drift-ppm {}: {e}", args.max_drift_ppm))?
        .manufacture(args.count, at)
        .map_err(|e| anyhow!("{e}"))?;
    let xml = Zeroizing::new(batch.seed_file(psk.as_ref()).map_err(|e| anyhow!("{e}"))?);
    // Read the file back: it proves the file and gives each token's secret.
    // It was just written here, so the import caps are its own size.
    let own = PskcLimits::default()
        .with_max_bytes(xml.len())
        .with_max_key_packages(args.count);
    let inventory = Inventory::from_pskc_with_limits(&xml, psk.as_ref(), &own)
        .map_err(|e| anyhow!("the seed file just written does not read back: {e}"))?;
    safefs::create_private_dir_all(&args.tokens_dir)?;
    safefs::write(&args.pskc, xml.as_bytes(), Mode::Replace)?;

    let bar = if args.count >= 1_000 {
        indicatif::ProgressBar::new(u64::try_from(args.count).unwrap_or(u64::MAX))
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message("token files");
    for token in batch.tokens() {
        let serial = token.serial();
        let record = inventory.get(serial.as_str()).ok_or_else(|| {
            anyhow!(
                "token {} is missing from its own seed file",
                serial.masked()
            )
        })?;
        let file = TokenFile::new(token, record.secret(), &args.manufacturer);
        file.write_new(&args.tokens_dir.join(format!("{}.toml", serial.as_str())))?;
        bar.inc(1);
    }
    safefs::sync_batch(&args.tokens_dir)?;
    bar.finish_and_clear();
    let tokens = batch.tokens();
    let (first, last) = match (tokens.first(), tokens.last()) {
        (Some(a), Some(b)) => (a.serial(), b.serial()),
        _ => bail!("the factory made no token"),
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
