//! `otp oath`: a drop-in for `oathtool` (OATH Toolkit 2.6.7) for HOTP and
//! TOTP: the same options, output and exit statuses (0 success, 1 error,
//! 2 "password not found"), compared byte for byte with oathtool 2.6.7 by
//! `tests/oath.rs`. Codes are compared in constant time.
//!
//! Deliberate differences: keys under 128 bits are refused (otp-core
//! enforces RFC 4226 requirement R6), where oathtool accepts any length;
//! `-v` prints the secret only with `--show-secret`; `--totp=MODE` other
//! than SHA1, SHA256, SHA512 and a zero time step are refused.

use std::io::Read as _;

use anyhow::{Context as _, Result, anyhow, bail};
use otp_core::{Algorithm, Code, ConstantTimeEq as _, Digits, Key, MIN_SECRET_LEN, hotp};

use crate::Exit;
use crate::args::positive_step;
use crate::time::{oath_duration, oath_utc, parse_oath_time, system_now};

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
    /// HOTP counter value (read as C's strtoull: 0x hex, 0 octal, -1 wraps).
    #[arg(
        short = 'c',
        long,
        value_name = "COUNTER",
        default_value = "0",
        allow_hyphen_values = true
    )]
    counter: String,
    /// TOTP time-step duration (30, 30s, 1m, 2h30m, 1d, ...).
    #[arg(
        short = 's',
        long = "time-step-size",
        value_name = "DURATION",
        allow_hyphen_values = true,
        default_value = "30s"
    )]
    time_step_size: String,
    /// When to start counting time steps for TOTP.
    #[arg(
        short = 'S',
        long = "start-time",
        value_name = "TIME",
        allow_hyphen_values = true,
        default_value = "1970-01-01 00:00:00 UTC"
    )]
    start_time: String,
    /// Use this time as current time for TOTP (now, yesterday, "1 hour ago", @UNIX, "YYYY-MM-DD HH:MM:SS UTC", ISO 8601).
    #[arg(
        short = 'N',
        long,
        value_name = "TIME",
        default_value = "now",
        allow_hyphen_values = true
    )]
    now: String,
    /// Number of digits in one-time password (6, 7 or 8).
    #[arg(short = 'd', long, value_name = "DIGITS", allow_hyphen_values = true)]
    digits: Option<String>,
    /// Number of additional OTPs to generate or validate against.
    #[arg(
        short = 'w',
        long,
        value_name = "WIDTH",
        default_value = "0",
        allow_hyphen_values = true
    )]
    window: String,
    /// Explain what is being done (the secret itself only with --show-secret).
    #[arg(short = 'v', long)]
    verbose: bool,
    /// With -v, print the secret in hex and base32 as oathtool does.
    #[arg(long, requires = "verbose")]
    show_secret: bool,
    /// KEY, then optionally OTP: the secret key (`-` reads standard input, the safe way; `@FILE` a file), and a one-time password to validate.
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
/// case-insensitive, padding optional but checked when present).
fn decode_key(text: &str, base32: bool) -> Result<Vec<u8>> {
    if base32 {
        // As oathtool: white space ignored, case ignored, padding re-added
        // when there is none (and checked when there is).
        let mut clean: String = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if !clean.contains('=') {
            while !clean.len().is_multiple_of(8) {
                clean.push('=');
            }
        }
        data_encoding::BASE32.decode(clean.as_bytes()).map_err(|_| {
            anyhow!(
                "base32 decoding failed: the key is not valid base32 (letters A-Z and digits 2-7)"
            )
        })
    } else {
        // As oathtool: no white space inside a hex key.
        hex::decode(text).map_err(|_| anyhow!("hex decoding of secret key failed: use an even number of hex digits, or -b for base32"))
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

/// Reads a number as C's `strtoull(text, _, 0)` and gengetopt do, for
/// oathtool compatibility: leading white space, an optional sign (a minus
/// negates modulo 2^64), `0x` hex, `0` octal, else decimal; an empty text
/// is 0; overflow saturates at 2^64 - 1; anything after the digits is an
/// error.
fn strtoull(text: &str) -> Result<u64> {
    let bad = || anyhow!("invalid numeric value: {text}");
    let t = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if text.is_empty() {
        return Ok(0);
    }
    let (negative, t) = match t.as_bytes().first() {
        Some(b'-') => (true, t.get(1..).unwrap_or("")),
        Some(b'+') => (false, t.get(1..).unwrap_or("")),
        _ => (false, t),
    };
    let (radix, digits) = if let Some(hex) = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .filter(|h| h.starts_with(|c: char| c.is_ascii_hexdigit()))
    {
        (16, hex)
    } else if t.len() > 1 && t.starts_with('0') {
        (8, t.get(1..).unwrap_or(""))
    } else {
        (10, t)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(bad());
    }
    let value = u64::from_str_radix(digits, radix).unwrap_or(u64::MAX);
    let overflowed = value == u64::MAX
        && u128::from_str_radix(digits, radix).map_or(true, |v| v > u128::from(u64::MAX));
    Ok(match (negative, overflowed) {
        (_, true) => u64::MAX,
        (true, false) => value.wrapping_neg(),
        (false, false) => value,
    })
}

fn digits_of(count: i128) -> Result<Digits> {
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
    let (key_arg, otp_arg) = match args.inputs.as_slice() {
        [key] => (key, None),
        [key, otp] => (key, Some(otp)),
        _ => bail!("too many parameters: give KEY and at most one OTP"),
    };
    if key_arg == "-" && otp_arg.is_some_and(|o| o == "-") {
        bail!("only one of KEY and OTP can be read from standard input");
    }
    let counter = strtoull(&args.counter)?;
    let window = strtoull(&args.window)?;
    let asked_digits = args
        .digits
        .as_deref()
        .map(|d| strtoull(d).map(|n| i128::from(n.cast_signed())))
        .transpose()?;
    let key_text = resolve_input(key_arg, "key")?;
    let otp = otp_arg
        .map(|o| resolve_input(o, "one-time password"))
        .transpose()?;
    let mut secret = decode_key(&key_text, args.base32)?;

    // Digits: -d, else the length of the OTP being validated, else 6.
    let otp_len = otp
        .as_ref()
        .map(|o| i128::try_from(o.chars().count()).unwrap_or(i128::MAX));
    // As oathtool, a bad -d is refused at once, an OTP of a bad length
    // only after the verbose lines (`shown` is the number they print).
    let (shown, digits) = match (otp_len, asked_digits) {
        (Some(len), Some(d)) if d != len => {
            secret.fill(0);
            bail!("given one-time password has bad length {d} != {len}")
        }
        (_, Some(d)) => match digits_of(d) {
            Ok(digits) => (d, Some(digits)),
            Err(e) => {
                secret.fill(0);
                return Err(e);
            }
        },
        (Some(len), None) => (len, digits_of(len).ok()),
        (None, None) => (6, Some(Digits::Six)),
    };

    // TOTP wins over --hotp, as in oathtool 2.6.
    let algorithm = match &args.totp {
        Some(name) => match Algorithm::from_name(name) {
            Ok(a) => Some(a),
            Err(_) => {
                secret.fill(0);
                bail!("invalid TOTP mode `{name}`: use SHA1, SHA256 or SHA512");
            }
        },
        None => None,
    };
    let key = make_key(algorithm.unwrap_or(Algorithm::Sha1), &secret);
    let mut out = std::io::stdout().lock();
    let shown = if args.verbose {
        verbose_key(&mut out, args, &secret, otp.as_deref(), shown, window)
    } else {
        Ok(())
    };
    secret.fill(0);
    let key = key?;
    shown?;

    match algorithm {
        Some(a) => run_totp(&mut out, args, a, &key, otp.as_deref(), digits, window),
        None => run_hotp(
            &mut out,
            args.verbose,
            counter,
            &key,
            otp.as_deref(),
            digits,
            window,
        ),
    }
}

fn verbose_key(
    out: &mut impl std::io::Write,
    args: &OathArgs,
    secret: &[u8],
    otp: Option<&str>,
    digits: i128,
    window: u64,
) -> Result<()> {
    if args.show_secret {
        writeln!(out, "Hex secret: {}", hex::encode(secret))?;
        writeln!(
            out,
            "Base32 secret: {}",
            data_encoding::BASE32.encode(secret)
        )?;
    } else {
        writeln!(
            out,
            "Secret: {} bytes (shown only with --show-secret)",
            secret.len()
        )?;
    }
    if let Some(otp) = otp {
        writeln!(out, "OTP: {otp}")?;
    }
    writeln!(out, "Digits: {digits}")?;
    writeln!(out, "Window size: {window}")?;
    Ok(())
}

/// An OTP to validate whose length is not 6, 7 or 8.
fn bad_otp_length() -> anyhow::Error {
    anyhow!("validating one-time password failed: only 6, 7 and 8 digits are supported")
}

fn not_found(otp: &str, low: i64, high: i64) -> anyhow::Error {
    anyhow::Error::new(Exit {
        code: 2,
        message: format!("password \"{otp}\" not found in range {low} .. {high}"),
    })
}

/// Whether `typed` is the code at `counter`, compared in constant time.
fn matches(key: &Key, counter: u64, digits: Digits, typed: &Code) -> bool {
    bool::from(hotp(key, counter, digits).ct_eq(typed))
}

fn run_hotp(
    out: &mut impl std::io::Write,
    verbose: bool,
    counter: u64,
    key: &Key,
    otp: Option<&str>,
    digits: Option<Digits>,
    window: u64,
) -> Result<()> {
    if verbose {
        writeln!(out, "Start counter: 0x{counter:X} ({counter})\n")?;
    }
    let digits = digits.ok_or_else(bad_otp_length)?;
    match otp {
        None => {
            // The counter wraps at 2^64 as oathtool's does.
            let mut i: u64 = 0;
            loop {
                writeln!(out, "{}", hotp(key, counter.wrapping_add(i), digits))?;
                if i == window {
                    break;
                }
                i = i.wrapping_add(1);
            }
            out.flush()?;
            Ok(())
        }
        Some(typed) => {
            out.flush()?;
            // oathtool prints the range as signed 64-bit numbers.
            let range = || {
                not_found(
                    typed,
                    counter.cast_signed(),
                    counter.wrapping_add(window).cast_signed(),
                )
            };
            let Ok(code) = Code::parse(typed, digits) else {
                return Err(range());
            };
            let mut i: u64 = 0;
            loop {
                if matches(key, counter.wrapping_add(i), digits, &code) {
                    writeln!(out, "{i}")?;
                    out.flush()?;
                    return Ok(());
                }
                if i == window {
                    return Err(range());
                }
                i = i.wrapping_add(1);
            }
        }
    }
}

fn run_totp(
    out: &mut impl std::io::Write,
    args: &OathArgs,
    algorithm: Algorithm,
    key: &Key,
    otp: Option<&str>,
    digits: Option<Digits>,
    window: u64,
) -> Result<()> {
    let system = i64::try_from(system_now()).unwrap_or(i64::MAX);
    let when = parse_oath_time(&args.now, system)?;
    let t0 = parse_oath_time(&args.start_time, system)?;
    positive_step("-s", &args.time_step_size)?;
    let step = i64::try_from(oath_duration(&args.time_step_size)?)
        .map_err(|_| anyhow!("the time step is too large"))?;
    // As oathtool: (now - T0) / step, truncated toward zero, as a signed
    // 64-bit counter used modulo 2^64.
    let current = when
        .checked_sub(t0)
        .and_then(|d| d.checked_div(step))
        .ok_or_else(|| anyhow!("the time is out of range"))?;
    let base = current.cast_unsigned();
    if args.verbose {
        writeln!(out, "TOTP mode: {algorithm}")?;
        writeln!(out, "Step size (seconds): {step}")?;
        writeln!(out, "Start time: {} ({t0})", oath_utc(t0))?;
        writeln!(out, "Current time: {} ({when})", oath_utc(when))?;
        writeln!(out, "Counter: 0x{base:X} ({current})\n")?;
    }
    let digits = digits.ok_or_else(bad_otp_length)?;
    match otp {
        None => {
            let mut i: u64 = 0;
            loop {
                writeln!(out, "{}", hotp(key, base.wrapping_add(i), digits))?;
                if i == window {
                    break;
                }
                i = i.wrapping_add(1);
            }
            out.flush()?;
            Ok(())
        }
        Some(typed) => {
            out.flush()?;
            // oathtool prints half the window either side in its message,
            // although it searches the whole window either side.
            let half = (window / 2).cast_signed();
            let range = || {
                not_found(
                    typed,
                    current.wrapping_sub(half),
                    current.wrapping_add(half),
                )
            };
            let Ok(code) = Code::parse(typed, digits) else {
                return Err(range());
            };
            let mut i: u64 = 0;
            loop {
                if matches(key, base.wrapping_add(i), digits, &code)
                    || (i > 0 && matches(key, base.wrapping_sub(i), digits, &code))
                {
                    writeln!(out, "{i}")?;
                    out.flush()?;
                    return Ok(());
                }
                if i == window {
                    return Err(range());
                }
                i = i.wrapping_add(1);
            }
        }
    }
}
