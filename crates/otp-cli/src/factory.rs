//! `otp factory`: manufacture N tokens from a seed: the PSKC seed file
//! (plain, or encrypted under a pre-shared AES key) and one token file
//! per token, named after its serial.

use std::path::PathBuf;

use anyhow::{Context as _, Result, anyhow, bail};
use otp_token::{Factory, Inventory, PreSharedKey, Profile, PskcLimits};
use sha2::Digest as _;
use zeroize::Zeroizing;

use crate::time::{parse_time, system_now};
use crate::tokenfile::{Kind, TokenFile, write_private};

/// `otp factory` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct FactoryArgs {
    /// How many tokens to make.
    #[arg(long)]
    count: usize,
    /// Any text: the same seed makes the same fleet (secrets, serials, crystals).
    #[arg(long)]
    seed: String,
    /// The PSKC (RFC 6030) seed file to write.
    #[arg(long, value_name = "FILE")]
    pskc: PathBuf,
    /// The folder for the token files (created if missing).
    #[arg(long, value_name = "DIR")]
    tokens_dir: PathBuf,
    /// Encrypt the seed file's secrets (AES-128-CBC + HMAC-SHA1) with this 128-bit key, in hex.
    #[arg(long, value_name = "HEX", conflicts_with = "encrypt_key_file")]
    encrypt_key: Option<String>,
    /// The same, with the hex key read from a file.
    #[arg(long, value_name = "FILE")]
    encrypt_key_file: Option<PathBuf>,
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

/// The key from `--x-key HEX` or `--x-key-file FILE`, if either is given.
pub(crate) fn psk_from(
    hex_arg: Option<&str>,
    file: Option<&std::path::Path>,
) -> Result<Option<PreSharedKey>> {
    match (hex_arg, file) {
        (Some(h), _) => parse_psk(h).map(Some),
        (None, Some(path)) => {
            let text = Zeroizing::new(
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the key file `{}`", path.display()))?,
            );
            parse_psk(&text).map(Some)
        }
        (None, None) => Ok(None),
    }
}

pub(crate) fn run(args: &FactoryArgs) -> Result<()> {
    if args.count == 0 {
        bail!("--count must be at least 1");
    }
    let psk = psk_from(
        args.encrypt_key.as_deref(),
        args.encrypt_key_file.as_deref(),
    )?;
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
    let seed: [u8; 32] = sha2::Sha256::digest(args.seed.as_bytes()).into();
    let profile = match args.kind {
        Kind::Totp => Profile::default(),
        Kind::Hotp => Profile::hotp(),
    };
    let mut batch = Factory::from_seed(seed)
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
    std::fs::create_dir_all(&args.tokens_dir)
        .with_context(|| format!("cannot create the folder `{}`", args.tokens_dir.display()))?;
    write_private(&args.pskc, xml.as_bytes(), true)
        .with_context(|| format!("cannot write the seed file `{}`", args.pskc.display()))?;

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
