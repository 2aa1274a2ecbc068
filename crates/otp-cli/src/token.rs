//! `otp token`: a virtual hardware token in a file. `create` one, `press`
//! its button (now or at a given time), `watch` its display live.

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use otp_core::{Algorithm, DEFAULT_SECRET_LEN, Digits, Mode, Secret, TimeStep};
use otp_provision::{Profile, SerialNumber};
use otp_token::{Battery, Crystal, FileKind, Screen, Token, TokenFile, TokenSpec};
use zeroize::Zeroizing;

use crate::args::positive_step;
use crate::time::{parse_duration, parse_time, system_now, utc};
use crate::tokenfile::{self, KindArg};

/// `otp token` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token file (secret inside, mode 0600). Prints no secret unless --show-secret.
    Create(CreateArgs),
    /// Press the button: prints the digits shown, alone on the first line.
    Press(PressArgs),
    /// Live display: the code and a bar counting down to the next one (Ctrl-C ends).
    Watch(WatchArgs),
}

/// `otp token create` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct CreateArgs {
    /// The token file to create.
    file: PathBuf,
    /// Time-based (totp, the default) or event-based (hotp).
    #[arg(long, value_enum, default_value = "totp")]
    kind: KindArg,
    /// HMAC hash: SHA1 (default), SHA256 or SHA512.
    #[arg(long, default_value = "SHA1")]
    algorithm: String,
    /// Digits on the display: 6, 7 or 8.
    #[arg(long, default_value_t = 6, allow_negative_numbers = true, value_parser = crate::args::whole::<u8>)]
    digits: u8,
    /// TOTP time step (30, 30s, 1m, ...).
    #[arg(long, default_value = "30s", allow_hyphen_values = true)]
    step: String,
    /// The crystal's drift in parts per million (within ±1000; real tokens ±20).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    drift_ppm: i32,
    /// The clock's offset at activation, seconds ahead of true time.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    offset: i64,
    /// The 12-character serial (default: generated, VT and 10 random digits).
    #[arg(long)]
    serial: Option<String>,
    /// When the token was activated (TIME as for `otp oath -N`). Default: now
    /// if the crystal drifts or is offset (the drift counts from activation),
    /// else 1970-01-01 so that `press --at` works at any time.
    #[arg(long, value_name = "TIME")]
    activated_at: Option<String>,
    /// HOTP: the counter of the first press.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true, value_parser = crate::args::whole::<u64>)]
    counter: u64,
    /// Use this secret instead of a random 160-bit one: '-' reads it from standard input, '@FILE' from a file (hex, or base32 with --base32); never the secret itself (any user sees a command line).
    #[arg(long, value_name = "KEY")]
    secret: Option<String>,
    /// The --secret is base32.
    #[arg(long, requires = "secret")]
    base32: bool,
    /// Print the secret (base32) and the otpauth:// URI.
    #[arg(long)]
    show_secret: bool,
    /// Make a keypad token answering typed challenges with this RFC 6287
    /// OCRA suite (such as OCRA-1:HOTP-SHA1-6:QN08; its hash replaces
    /// --algorithm; no P or S). Press it with `otp token press --challenge`.
    #[arg(long, value_name = "SUITE")]
    suite: Option<String>,
    /// Replace an existing file.
    #[arg(long)]
    force: bool,
}

/// `otp token press` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct PressArgs {
    /// The token file.
    file: PathBuf,
    /// Press at this time instead of now (@UNIX, "YYYY-MM-DD HH:MM:SS UTC", "YYYY/MM/DD HH:MM:SS JST", ISO 8601).
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// After the digits, say when the next code appears.
    #[arg(short, long)]
    verbose: bool,
    /// Print one JSON object: serial, code, display form, time and counter of the press, when the next code appears.
    #[arg(long, conflicts_with = "verbose")]
    json: bool,
    /// A keypad token: type this challenge ("press 2, type the digits on the screen") and print the response.
    #[arg(long, value_name = "Q", conflicts_with = "json")]
    challenge: Option<String>,
}

/// `otp token watch` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct WatchArgs {
    /// The token file (a time-based token).
    file: PathBuf,
    /// Stop after this many seconds (default: until Ctrl-C).
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true, value_parser = crate::args::whole::<u64>)]
    duration: Option<u64>,
}

pub(crate) fn run(command: TokenCommand) -> Result<()> {
    match command {
        TokenCommand::Create(args) => create(&args),
        TokenCommand::Press(args) => press(&args),
        TokenCommand::Watch(args) => watch(&args),
    }
}

fn random_bytes(buf: &mut [u8]) -> Result<()> {
    use rand::TryRng as _;
    rand::rngs::SysRng
        .try_fill_bytes(buf)
        .map_err(|_| anyhow!("the operating system's random number generator failed"))
}

fn read_secret(value: &str, base32: bool) -> Result<Secret> {
    let text = Zeroizing::new(if value == "-" {
        let mut t = String::new();
        std::io::stdin()
            .read_to_string(&mut t)
            .context("cannot read the secret from standard input")?;
        t
    } else if let Some(path) = value.strip_prefix('@') {
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the secret from `{path}`"))?
    } else {
        return Err(crate::Exit {
            code: 2,
            message: "a secret on the command line is seen by every user of this machine (ps) and kept in shell history: give --secret - (standard input) or --secret @FILE".to_owned(),
        }
        .into());
    });
    let clean: Zeroizing<String> = Zeroizing::new(
        text.chars()
            .filter(|c| !c.is_whitespace() && *c != '=')
            .collect(),
    );
    let bytes = Zeroizing::new(if base32 {
        data_encoding::BASE32_NOPAD
            .decode(clean.to_ascii_uppercase().as_bytes())
            .map_err(|_| anyhow!("the secret is not valid base32"))?
    } else {
        hex::decode(clean.as_bytes()).map_err(|_| {
            anyhow!("the secret is not valid hex: use an even number of hex digits, or --base32")
        })?
    });
    Secret::from_bytes(&bytes).map_err(|e| anyhow!("{e}"))
}

fn create(args: &CreateArgs) -> Result<()> {
    let now = system_now();
    let serial = match &args.serial {
        Some(s) => SerialNumber::parse(s).map_err(|e| anyhow!("serial number `{s}`: {e}"))?,
        None => {
            let mut b = [0u8; 8];
            random_bytes(&mut b)?;
            SerialNumber::numbered("VT", u64::from_le_bytes(b) % 10_000_000_000)
                .map_err(|e| anyhow!("{e}"))?
        }
    };
    let secret = match &args.secret {
        Some(value) => read_secret(value, args.base32)?,
        None => {
            let mut b = Zeroizing::new([0u8; DEFAULT_SECRET_LEN]);
            random_bytes(&mut b[..])?;
            Secret::from_bytes(&b[..]).map_err(|e| anyhow!("{e}"))?
        }
    };
    let algorithm = Algorithm::from_name(&args.algorithm)
        .map_err(|e| anyhow!("--algorithm {}: {e}", args.algorithm))?;
    let digits = Digits::new(args.digits).map_err(|e| anyhow!("--digits {}: {e}", args.digits))?;
    let kind = match args.kind {
        KindArg::Totp => Mode::Totp(
            TimeStep::new(
                positive_step("--step", &args.step).and_then(|()| parse_duration(&args.step))?,
                0,
            )
            .map_err(|e| anyhow!("{e}"))?,
        ),
        KindArg::Hotp => Mode::Hotp,
    };
    let default_activation = if args.drift_ppm != 0 || args.offset != 0 {
        now
    } else {
        0
    };
    let activated_at = args
        .activated_at
        .as_deref()
        .map(|t| parse_time(t, now))
        .transpose()?
        .unwrap_or(default_activation);
    let spec = TokenSpec {
        profile: Profile {
            mode: kind,
            algorithm,
            digits,
        },
        crystal: Crystal::new(args.drift_ppm, args.offset).map_err(|e| anyhow!("{e}"))?,
        activated_at,
        battery: Battery::unlimited(),
        display_seconds: 30,
        counter: args.counter,
    };
    let token = match &args.suite {
        None => Token::new(serial, &secret, spec),
        Some(text) => {
            let suite = otp_core::OcraSuite::parse(text).map_err(|e| {
                anyhow!(
                    "--suite `{text}` is not an OCRA suite: {e} (example: OCRA-1:HOTP-SHA1-6:QN08)"
                )
            })?;
            Token::keypad(serial, &secret, spec, suite)
        }
    }
    .map_err(|e| anyhow!("{e}"))?;
    let file = TokenFile::new(&token, &secret, "");
    tokenfile::create(&file, &args.file, args.force)?;
    let what = match (token.suite(), kind) {
        (Some(suite), _) => format!("keypad, {suite}"),
        (None, kind) => match kind {
            Mode::Totp(s) => format!(
                "TOTP, {algorithm}, {} digits, {} s steps",
                digits.get(),
                s.seconds()
            ),
            Mode::Hotp => format!(
                "HOTP, {algorithm}, {} digits, counter {}",
                digits.get(),
                args.counter
            ),
        },
    };
    println!(
        "Created token {} ({what}) in {} (mode 0600).",
        serial.as_str(),
        args.file.display()
    );
    if args.show_secret {
        println!("Secret (base32): {}", file.secret_base32());
        match file.otpauth_uri() {
            Ok(uri) => println!("URI: {}", uri.as_str()),
            // A keypad token: the URI cannot carry its suite.
            Err(otp_token::TokenFileError::Uri(e)) => println!("URI: none ({e})"),
            Err(e) => return Err(tokenfile::flat(e)),
        }
    }
    Ok(())
}

fn press(args: &PressArgs) -> Result<()> {
    let now = system_now();
    let at = args
        .at
        .as_deref()
        .map(|t| parse_time(t, now))
        .transpose()?
        .unwrap_or(now);
    let mut file = tokenfile::read(&args.file)?;
    let mut token = file.token().map_err(tokenfile::flat)?;
    if at < file.activated_at {
        bail!(
            "the token was activated at {}, after the time of the press ({}): press later, or create the token with an earlier --activated-at",
            utc(file.activated_at),
            utc(at)
        );
    }
    if let Some(challenge) = &args.challenge {
        return press_challenge(args, at, &mut file, &mut token, challenge);
    }
    let counter = token.counter();
    let screen = token.press(at).map_err(|e| anyhow!("{e}"))?;
    let Some(code) = screen.code() else {
        bail!("the token's display stays blank: its battery is exhausted");
    };
    if file.kind == FileKind::Hotp {
        // The counter advanced: persist it before showing the code.
        file.counter = token.counter();
        tokenfile::replace(&file, &args.file)?;
    }
    if args.json {
        let code = code.to_string();
        let totp = match token.profile().mode {
            Mode::Totp(step) => Some(step),
            Mode::Hotp => None,
        };
        let token_time = totp.map(|_| token.local_time(at));
        let counter = match (totp, token_time) {
            (Some(step), Some(local)) => step.step_at(local).map_err(|e| anyhow!("{e}"))?,
            _ => counter,
        };
        crate::json::press(&crate::json::Press {
            serial: file.serial.as_str(),
            kind: if totp.is_some() { "totp" } else { "hotp" },
            code: &code,
            at,
            token_time,
            counter,
            battery_low: screen.battery_low(),
            next_code_at: totp.and(token.next_code_at(at)),
            next_counter: totp.is_none().then(|| token.counter()),
        });
        return Ok(());
    }
    println!("{code}");
    if args.verbose {
        if screen.battery_low() {
            println!("bAtt: the battery is low");
        }
        match (file.kind, token.next_code_at(at)) {
            (FileKind::Totp, Some(next)) => println!(
                "next code at {} (in {} s)",
                utc(next),
                next.saturating_sub(at)
            ),
            (FileKind::Hotp, _) => println!("next counter {}", token.counter()),
            _ => {}
        }
    }
    Ok(())
}

/// `otp token press --challenge Q`: a keypad token's response, alone on
/// the first line; the counter of a suite with `C` is saved first.
fn press_challenge(
    args: &PressArgs,
    at: u64,
    file: &mut TokenFile,
    token: &mut Token,
    challenge: &str,
) -> Result<()> {
    let Some(suite) = token.suite() else {
        bail!(
            "`{}` is a button-only token: it takes no challenge (create a keypad token with `otp token create --suite`)",
            args.file.display()
        );
    };
    let screen = token
        .press_challenge(at, challenge)
        .map_err(|e| anyhow!("{e}"))?;
    let Some(response) = screen.response() else {
        bail!("the token's display stays blank: its battery is exhausted");
    };
    if suite.counter() {
        file.sign_counter = token.sign_counter();
        tokenfile::replace(file, &args.file)?;
    }
    println!("{response}");
    if args.verbose {
        if screen.battery_low() {
            println!("bAtt: the battery is low");
        }
        if suite.counter() {
            println!("next signing counter {}", token.sign_counter());
        }
    }
    Ok(())
}

/// Six digits as the token shows them: `123 456`.
pub(crate) fn spaced(code: &str) -> String {
    let mid = code.len() / 2;
    match (code.get(..mid), code.get(mid..)) {
        (Some(a), Some(b)) => format!("{a} {b}"),
        _ => code.to_owned(),
    }
}

fn watch(args: &WatchArgs) -> Result<()> {
    let file = tokenfile::read(&args.file)?;
    if file.kind == FileKind::Hotp {
        bail!("an event token (HOTP) changes only when pressed: use `otp token press`");
    }
    let mut token = file.token().map_err(tokenfile::flat)?;
    let step = file.step;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .map_err(|e| anyhow!("cannot catch Ctrl-C: {e}"))?;
    let tty = std::io::stdout().is_terminal();
    let mut out = std::io::stdout().lock();
    let started = std::time::Instant::now();
    let mut last = String::new();
    if tty {
        write!(out, "\x1b[?25l")?; // hide the cursor
    }
    let result = (|| -> Result<()> {
        while !stop.load(Ordering::SeqCst) {
            if args
                .duration
                .is_some_and(|d| started.elapsed() >= Duration::from_secs(d))
            {
                break;
            }
            let now_ms = jiff::Timestamp::now().as_millisecond();
            let now = u64::try_from(now_ms / 1000).unwrap_or(0);
            let screen = token.press(now).map_err(|e| anyhow!("{e}"))?;
            let code = match screen {
                Screen::Code(c) | Screen::LowBattery(c) => c.to_string(),
                _ => bail!("the token's display stays blank: its battery is exhausted"),
            };
            let next = token.next_code_at(now).unwrap_or(now);
            let left_ms = i64::try_from(next)
                .unwrap_or(i64::MAX)
                .saturating_mul(1000)
                .saturating_sub(now_ms)
                .max(0);
            let width = 30u64;
            let total_ms = step.saturating_mul(1000).max(1);
            let filled = u64::try_from(left_ms).unwrap_or(0).saturating_mul(width) / total_ms;
            let filled = usize::try_from(filled.min(width)).unwrap_or(0);
            let bar = format!(
                "{}{}",
                "█".repeat(filled),
                "░".repeat(usize::try_from(width).unwrap_or(30).saturating_sub(filled))
            );
            let secs = (left_ms + 999) / 1000;
            if tty {
                write!(
                    out,
                    "\r\x1b[2K  {}  {}  {bar} {secs:>2}s",
                    file.serial,
                    spaced(&code)
                )?;
                out.flush()?;
            } else if code != last {
                writeln!(out, "{} {code} (next in {secs} s)", utc(now))?;
                out.flush()?;
            }
            last = code;
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(())
    })();
    if tty {
        writeln!(out, "\x1b[?25h")?; // show the cursor again, end the line
    }
    result
}
