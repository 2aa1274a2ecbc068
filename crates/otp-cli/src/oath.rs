//! `otp oath`: a drop-in for `oathtool` (OATH Toolkit 2.6) for HOTP and
//! TOTP: the same options, output and exit statuses (0 success, 1 error,
//! 2 "password not found"), on otp-core's constant-time verifier.
//!
//! One deliberate difference: keys under 128 bits are refused (otp-core
//! enforces RFC 4226 requirement R6), where oathtool accepts any length.

use std::io::Read as _;

use anyhow::{Context as _, Result, anyhow, bail};
use otp_core::{
    Algorithm, Code, Digits, Key, MIN_SECRET_LEN, Mode, Params, TimeStep, TokenState, Window, hotp,
    totp, verify,
};

use crate::Exit;
use crate::time::{parse_duration, parse_time, system_now, utc};

/// `otp oath` arguments, as oathtool's.
#[derive(Debug, clap::Args)]
pub(crate) struct OathArgs {
    /// Use event-based HOTP mode (the default).
    #[arg(long)]
    hotp: bool,
    /// Use time-variant TOTP mode, with HMAC SHA1 (default), SHA256 or SHA512.
    #[arg(long, value_name = "MODE", num_args = 0..=1, require_equals = true, default_missing_value = "SHA1")]
    totp: Option<String>,
    /// Use base32 encoding of KEY instead of hex.
    #[arg(short = 'b', long)]
    base32: bool,
    /// HOTP counter value.
    #[arg(short = 'c', long, value_name = "COUNTER", default_value_t = 0)]
    counter: u64,
    /// TOTP time-step duration (30, 30s, 1m, ...).
    #[arg(
        short = 's',
        long = "time-step-size",
        value_name = "DURATION",
        default_value = "30s"
    )]
    time_step_size: String,
    /// When to start counting time steps for TOTP.
    #[arg(
        short = 'S',
        long = "start-time",
        value_name = "TIME",
        default_value = "1970-01-01 00:00:00 UTC"
    )]
    start_time: String,
    /// Use this time as current time for TOTP (@UNIX, "YYYY-MM-DD HH:MM:SS UTC", ISO 8601).
    #[arg(short = 'N', long, value_name = "TIME", default_value = "now")]
    now: String,
    /// Number of digits in one-time password (6, 7 or 8).
    #[arg(short = 'd', long, value_name = "DIGITS")]
    digits: Option<u8>,
    /// Number of additional OTPs to generate or validate against.
    #[arg(short = 'w', long, value_name = "WIDTH", default_value_t = 0)]
    window: u64,
    /// Explain what is being done (the secret itself only with --show-secret).
    #[arg(short = 'v', long)]
    verbose: bool,
    /// With -v, print the secret in hex and base32 as oathtool does.
    #[arg(long, requires = "verbose")]
    show_secret: bool,
    /// KEY, then optionally OTP: the secret key, and a one-time password to validate.
    #[arg(value_name = "KEY [OTP]")]
    inputs: Vec<String>,
}

/// Reads `-` (standard input) or `@FILE`, or returns the value itself.
fn resolve_input(value: &str, what: &str) -> Result<String> {
    if value == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .with_context(|| format!("cannot read the {what} from standard input"))?;
        Ok(text.trim().to_owned())
    } else if let Some(path) = value.strip_prefix('@') {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the {what} from file `{path}`"))?;
        Ok(text.trim().to_owned())
    } else {
        Ok(value.to_owned())
    }
}

/// Decodes the key: hex by default, base32 with `-b` (spaces ignored,
/// case-insensitive, padding optional).
fn decode_key(text: &str, base32: bool) -> Result<Vec<u8>> {
    if base32 {
        let mut clean: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '=')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        while !clean.len().is_multiple_of(8) {
            clean.push('=');
        }
        data_encoding::BASE32.decode(clean.as_bytes()).map_err(|_| {
            anyhow!(
                "base32 decoding failed: the key is not valid base32 (letters A-Z and digits 2-7)"
            )
        })
    } else {
        let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        hex::decode(clean).map_err(|_| anyhow!("hex decoding of secret key failed: use an even number of hex digits, or -b for base32"))
    }
}

/// The key, refused under 128 bits.
fn make_key(algorithm: Algorithm, secret: &[u8]) -> Result<Key> {
    if secret.len() < MIN_SECRET_LEN {
        bail!(
            "the key is {} bits; otp oath refuses keys under 128 bits (16 bytes), as RFC 4226 requires (R6)",
            secret.len().saturating_mul(8)
        );
    }
    Key::new(algorithm, secret).map_err(|e| anyhow!("{e}"))
}

fn digits_of(count: usize) -> Result<Digits> {
    u8::try_from(count)
        .ok()
        .and_then(|n| Digits::new(n).ok())
        .ok_or_else(|| anyhow!("only digits 6, 7 and 8 are supported"))
}

pub(crate) fn run(args: &OathArgs) -> Result<()> {
    if args.inputs.is_empty() {
        use clap::CommandFactory as _;
        let mut cmd = crate::Cli::command();
        if let Some(oath) = cmd.find_subcommand_mut("oath") {
            oath.print_long_help()?;
        }
        return Ok(());
    }
    if args.inputs.len() > 2 {
        bail!("too many parameters: give KEY and at most one OTP");
    }
    let (key_arg, otp_arg) = match args.inputs.as_slice() {
        [key] => (key, None),
        [key, otp] => (key, Some(otp)),
        _ => bail!("too many parameters: give KEY and at most one OTP"),
    };
    if key_arg == "-" && otp_arg.is_some_and(|o| o == "-") {
        bail!("only one of KEY and OTP can be read from standard input");
    }
    let key_text = resolve_input(key_arg, "key")?;
    let otp = otp_arg
        .map(|o| resolve_input(o, "one-time password"))
        .transpose()?;
    let mut secret = decode_key(&key_text, args.base32)?;

    // Digits: -d, else the length of the OTP being validated, else 6.
    let digits = match (&otp, args.digits) {
        (Some(otp), Some(d)) if usize::from(d) != otp.chars().count() => {
            bail!(
                "given one-time password has bad length {d} != {}",
                otp.chars().count()
            )
        }
        (_, Some(d)) => digits_of(usize::from(d))?,
        (Some(otp), None) => digits_of(otp.chars().count())?,
        (None, None) => Digits::Six,
    };

    // TOTP wins over --hotp, as in oathtool 2.6.
    let algorithm = match &args.totp {
        Some(name) => Some(
            Algorithm::from_name(name)
                .map_err(|_| anyhow!("invalid TOTP mode `{name}`: use SHA1, SHA256 or SHA512"))?,
        ),
        None => None,
    };
    let key = make_key(algorithm.unwrap_or(Algorithm::Sha1), &secret);
    if args.verbose {
        verbose_key(args, &secret, otp.as_deref(), digits);
    }
    secret.fill(0);
    let key = key?;

    match algorithm {
        Some(_) => run_totp(args, &key, otp.as_deref(), digits),
        None => run_hotp(args, &key, otp.as_deref(), digits),
    }
}

fn verbose_key(args: &OathArgs, secret: &[u8], otp: Option<&str>, digits: Digits) {
    if args.show_secret {
        println!("Hex secret: {}", hex::encode(secret));
        println!("Base32 secret: {}", data_encoding::BASE32.encode(secret));
    } else {
        println!(
            "Secret: {} bytes (shown only with --show-secret)",
            secret.len()
        );
    }
    if let Some(otp) = otp {
        println!("OTP: {otp}");
    }
    println!("Digits: {digits}");
    println!("Window size: {}", args.window);
}

fn window_u16(window: u64) -> Result<u16> {
    u16::try_from(window)
        .map_err(|_| anyhow!("the window {window} is too large: use at most 65535"))
}

fn not_found(otp: &str, low: i128, high: i128) -> anyhow::Error {
    anyhow::Error::new(Exit {
        code: 2,
        message: format!("password \"{otp}\" not found in range {low} .. {high}"),
    })
}

fn run_hotp(args: &OathArgs, key: &Key, otp: Option<&str>, digits: Digits) -> Result<()> {
    if args.verbose {
        println!("Start counter: 0x{:X} ({})\n", args.counter, args.counter);
    }
    match otp {
        None => {
            for i in 0..=args.window {
                let counter = args
                    .counter
                    .checked_add(i)
                    .ok_or_else(|| anyhow!("the counter overflows 64 bits"))?;
                println!("{}", hotp(key, counter, digits));
            }
            Ok(())
        }
        Some(typed) => {
            let range = || {
                not_found(
                    typed,
                    i128::from(args.counter),
                    i128::from(args.counter).saturating_add(i128::from(args.window)),
                )
            };
            let Ok(code) = Code::parse(typed, digits) else {
                return Err(range());
            };
            let params = Params {
                mode: Mode::Hotp,
                digits,
                window: Window::new(0, window_u16(args.window)?),
                resync_window: 0,
                max_failures: 0,
            };
            let v = verify(
                key,
                &params,
                &TokenState::starting_at(args.counter),
                &code,
                0,
            );
            match v.outcome {
                Ok(accepted) => {
                    println!("{}", accepted.offset());
                    Ok(())
                }
                Err(_) => Err(range()),
            }
        }
    }
}

fn run_totp(args: &OathArgs, key: &Key, otp: Option<&str>, digits: Digits) -> Result<()> {
    let system = system_now();
    let when = parse_time(&args.now, system)?;
    let t0 = parse_time(&args.start_time, system)?;
    let step = parse_duration(&args.time_step_size)?;
    let base = TimeStep::new(step, t0)?;
    let current = base.step_at(when).map_err(|_| {
        anyhow!(
            "the current time {} is before the start time {}",
            utc(when),
            utc(t0)
        )
    })?;
    if args.verbose {
        println!("Step size (seconds): {step}");
        println!("Start time: {} ({t0})", utc(t0));
        println!("Current time: {} ({when})", utc(when));
        println!("Counter: 0x{current:X} ({current})\n");
    }
    match otp {
        None => {
            for i in 0..=args.window {
                let at = i
                    .checked_mul(step)
                    .and_then(|d| when.checked_add(d))
                    .ok_or_else(|| anyhow!("the time overflows 64 bits"))?;
                println!("{}", totp(key, &base, at, digits)?);
            }
            Ok(())
        }
        Some(typed) => {
            // oathtool prints half the window either side in its message,
            // although it searches the whole window either side.
            let half = i128::from(args.window / 2);
            let range = || {
                not_found(
                    typed,
                    i128::from(current).saturating_sub(half),
                    i128::from(current).saturating_add(half),
                )
            };
            let Ok(code) = Code::parse(typed, digits) else {
                return Err(range());
            };
            let w = window_u16(args.window)?;
            let params = Params {
                mode: Mode::Totp(base),
                digits,
                window: Window::new(w, w),
                resync_window: 0,
                max_failures: 0,
            };
            let v = verify(key, &params, &TokenState::new(), &code, when);
            match v.outcome {
                Ok(accepted) => {
                    println!("{}", accepted.offset().unsigned_abs());
                    Ok(())
                }
                Err(_) => Err(range()),
            }
        }
    }
}
